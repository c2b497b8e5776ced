//! Behaviour of the matching engine: scoring, the index, siblings.

use crate::{
    AgeEstimate, Band, Candidate, Day, Evidence, Field, Index, MatchContext, PartialDate, Person,
    Reason, Relation, Sex, Sought, Strength, Thresholds, assign_siblings, compare,
};

const TODAY: Day = Day::new(2026, 6, 1);

fn person(given: &str, family: &str) -> Person {
    Person {
        given_name: given.to_owned(),
        family_name: family.to_owned(),
        ..Person::default()
    }
}

fn aged(mut p: Person, min: u32, max: u32, assessed_on: Day) -> Person {
    p.age = Some(AgeEstimate {
        min_years: min,
        max_years: max,
        assessed_on,
    });
    p
}

fn sought(p: Person) -> Sought {
    Sought::new(p, TODAY)
}

fn band(score: f64) -> Option<Band> {
    Thresholds::default().band(score)
}

fn find_reason(evidence: &[Evidence], field: Field) -> Option<Reason> {
    evidence.iter().find(|e| e.field == field).map(|e| e.reason)
}

/// The issue's motivating example: registered as "Mohamed Abdullahi, about
/// 9" (8–10, assessed six months ago), sought by his mother as "Maxamed
/// Cabdullahi, 11", born in the year she remembers, separated 8 months ago.
fn motivating() -> (Sought, Person) {
    let registered = Person {
        sex: Sex::Male,
        ..aged(person("Mohamed", "Abdullahi"), 8, 10, Day::new(2025, 12, 1))
    };
    let mut asked = Person {
        sex: Sex::Male,
        birth_date: Some(PartialDate {
            year: 2016,
            month: None,
            day: None,
            estimated: true,
        }),
        ..aged(person("Maxamed", "Cabdullahi"), 11, 11, TODAY)
    };
    asked.mother_name = None;
    let mut request = sought(asked);
    request.separated_on = Some(PartialDate {
        year: 2025,
        month: Some(10),
        day: None,
        estimated: false,
    });
    request.relation = Relation::Mother;
    request.inquirer_name = Some("Hodan Ali".to_owned());
    (request, registered)
}

#[test]
fn motivating_example_is_likely_with_explained_evidence() {
    let (request, registered) = motivating();
    let (score, evidence) = compare(&request, &registered, None);
    assert_eq!(band(score), Some(Band::Likely), "{score} {evidence:#?}");
    assert_eq!(
        find_reason(&evidence, Field::GivenName),
        Some(Reason::TransliterationVariant)
    );
    assert_eq!(
        find_reason(&evidence, Field::FamilyName),
        Some(Reason::TransliterationVariant)
    );
    let age = evidence
        .iter()
        .find(|e| e.field == Field::Age)
        .expect("age evidence");
    assert_eq!(age.reason, Reason::AgeWithinEstimate);
    assert!(age.weight > 0.0);
    assert_eq!(age.reason.describe(), "age within estimate range");
}

#[test]
fn motivating_example_ranks_first_among_distractors() {
    let (request, registered) = motivating();
    let mut index = Index::new();
    let target: u128 = 42;
    index.upsert(target, &registered);
    let distractors = [
        ("Mohamed", "Hassan", 9),
        ("Ahmed", "Abdullahi", 10),
        ("Mohamed", "Abdullahi", 3),
        ("Mahmoud", "Abdallah", 9),
        ("Tesfay", "Gebre", 9),
        ("Fadumo", "Abdullahi", 9),
    ];
    for (i, (g, f, age)) in distractors.into_iter().enumerate() {
        let p = aged(person(g, f), age, age + 1, Day::new(2025, 12, 1));
        index.upsert(i as u128 + 1, &p);
    }
    let found = index.find(&request, &MatchContext::default(), 10);
    assert_eq!(found[0].id, target);
    assert_eq!(band(found[0].score), Some(Band::Likely));
    // the three-year-old with the same names is not likely
    for c in &found[1..] {
        assert_ne!(band(c.score), Some(Band::Likely), "{c:?}");
    }
}

#[test]
fn ukrainian_and_russian_romanisations_agree() {
    let registered = person("Serhiy", "Kovalenko");
    for spelling in ["Сергій", "Sergiy", "Serhii", "Сергей"] {
        let (score, evidence) = compare(&sought(person(spelling, "Коваленко")), &registered, None);
        let given = evidence
            .iter()
            .find(|e| e.field == Field::GivenName)
            .expect("given");
        assert!(
            matches!(given.strength, Strength::Exact | Strength::Strong),
            "{spelling}: {given:?}"
        );
        assert!(score > 0.5, "{spelling}: {score}");
    }
    let (_, evidence) = compare(&sought(person("Сергій", "")), &person("Serhiy", ""), None);
    assert_eq!(
        find_reason(&evidence, Field::GivenName),
        Some(Reason::TransliterationVariant)
    );
}

#[test]
fn geez_and_arabic_script_agree_with_latin() {
    let (score, evidence) = compare(
        &sought(person("ተስፋይ", "ገብረ")),
        &person("Tesfay", "Gebre"),
        None,
    );
    assert_eq!(band(score), Some(Band::Likely), "{evidence:#?}");
    let given = evidence
        .iter()
        .find(|e| e.field == Field::GivenName)
        .expect("given");
    assert_eq!(given.strength, Strength::Exact);
    assert_eq!(given.reason, Reason::TransliterationVariant);

    // Names alone, however well they agree, are only "possible" for a
    // common name; with sex and a consistent age they become likely.
    let (names_only, evidence) = compare(
        &sought(person("محمد", "عبدالله")),
        &person("Mohamed", "Abdullahi"),
        None,
    );
    assert_eq!(band(names_only), Some(Band::Possible), "{evidence:#?}");
    assert_eq!(
        find_reason(&evidence, Field::GivenName),
        Some(Reason::TransliterationVariant)
    );
    let with_age = |p: Person| Person {
        sex: Sex::Male,
        ..aged(p, 9, 10, TODAY)
    };
    let (score, evidence) = compare(
        &sought(with_age(person("محمد", "عبدالله"))),
        &with_age(person("Mohamed", "Abdullahi")),
        None,
    );
    assert_eq!(band(score), Some(Band::Likely), "{evidence:#?}");
}

#[test]
fn somali_forms_agree() {
    for (a, b) in [
        ("Faadumo", "Fatima"),
        ("Cabdullahi", "Abdullahi"),
        ("Maxamed", "Mohamed"),
    ] {
        let (_, evidence) = compare(&sought(person(a, "Xasan")), &person(b, "Hassan"), None);
        for e in &evidence[..2] {
            assert_eq!(e.strength, Strength::Strong, "{a}/{b}: {e:?}");
        }
    }
}

#[test]
fn a_clearly_different_child_stays_below_possible() {
    let (request, _) = motivating();
    let other = aged(person("Tesfay", "Gebremedhin"), 4, 5, Day::new(2025, 12, 1));
    let (score, evidence) = compare(&request, &other, None);
    assert_eq!(band(score), None, "{score} {evidence:#?}");
    assert!(score < 0.01);
}

#[test]
fn same_names_but_impossible_age_is_not_likely() {
    let (request, _) = motivating();
    let toddler = aged(person("Mohamed", "Abdullahi"), 2, 3, Day::new(2025, 12, 1));
    let (score, evidence) = compare(&request, &toddler, None);
    assert_ne!(band(score), Some(Band::Likely), "{score}");
    assert!(
        evidence
            .iter()
            .any(|e| e.reason == Reason::AgeOutsideTolerance)
    );
}

#[test]
fn age_tolerance_grows_with_time_since_separation() {
    let registered = aged(person("Amina", "Yusuf"), 7, 7, TODAY);
    let mut request = sought(aged(person("Amina", "Yusuf"), 9, 9, TODAY));
    let (recent, _) = compare(&request, &registered, None);
    request.separated_on = Some(PartialDate::year(2020));
    let (long_ago, evidence) = compare(&request, &registered, None);
    assert!(long_ago > recent, "{recent} {long_ago}");
    assert!(
        evidence
            .iter()
            .any(|e| e.reason == Reason::AgeWithinTolerance),
        "{evidence:#?}"
    );
}

#[test]
fn reordered_name_chain_still_matches() {
    let (score, evidence) = compare(
        &sought(person("Ahmed", "Hassan Ali")),
        &person("Ahmed", "Ali Hassan"),
        None,
    );
    assert!(score > 0.5, "{score} {evidence:#?}");
    assert!(
        evidence.iter().any(|e| e.reason == Reason::ReorderedTokens),
        "{evidence:#?}"
    );
}

#[test]
fn dropped_grandfather_name_still_likely() {
    let full = person("Ahmed", "Hassan Ali");
    let short = person("Ahmed", "Hassan");
    let (score, evidence) = compare(&sought(short), &full, None);
    assert_eq!(band(score), Some(Band::Likely), "{score} {evidence:#?}");
    let chain = evidence
        .iter()
        .find(|e| e.field == Field::NameChain)
        .expect("chain evidence");
    assert_eq!(chain.reason, Reason::DroppedTokens);
    assert!(chain.weight > -1.0);
    // a whole chain typed into the given-name field compares the same way
    let (typed_whole, _) = compare(&sought(person("Ahmed Hassan Ali", "")), &full, None);
    assert!(typed_whole > 0.9);
}

#[test]
fn disagreeing_grandfather_lowers_the_score() {
    let (agree, _) = compare(
        &sought(person("Ahmed", "Hassan Ali")),
        &person("Ahmed", "Hassan Ali"),
        None,
    );
    let (differ, evidence) = compare(
        &sought(person("Ahmed", "Hassan Omar")),
        &person("Ahmed", "Hassan Ali"),
        None,
    );
    assert!(differ < agree);
    let chain = evidence
        .iter()
        .find(|e| e.field == Field::NameChain)
        .expect("chain");
    assert_eq!(chain.strength, Strength::Disagrees);
}

#[test]
fn inquirer_compared_with_recorded_mother() {
    let mut registered = person("Amina", "Yusuf");
    registered.mother_name = Some("Halima Osman".to_owned());
    let mut request = sought(person("Amina", "Yuusuf"));
    request.relation = Relation::Mother;
    request.inquirer_name = Some("Xaliimo Cismaan".to_owned());
    let (with_mother, evidence) = compare(&request, &registered, None);
    let parent = evidence
        .iter()
        .find(|e| e.field == Field::Parent)
        .expect("parent");
    assert_eq!(parent.reason, Reason::InquirerIsRecordedParent);
    assert_eq!(parent.reason.describe(), "inquirer is the recorded parent");
    // the same inquirer asking as "other relative" is not compared with the mother
    request.relation = Relation::OtherRelative;
    let (as_relative, _) = compare(&request, &registered, None);
    assert!(with_mother > as_relative);
}

#[test]
fn rejected_pairs_and_confirmed_siblings_are_never_returned() {
    let mut index = Index::new();
    index.upsert(1, &person("Fatima", "Hassan"));
    index.upsert(2, &person("Fatuma", "Hassan"));
    index.upsert(3, &person("Faadumo", "Xasan"));
    let ctx = MatchContext {
        exclude: vec![1],
        confirmed_siblings: vec![3],
    };
    let found = index.find(&sought(person("Fatima", "Hassan")), &ctx, 10);
    let ids: Vec<u128> = found.iter().map(|c| c.id).collect();
    assert_eq!(ids, [2]);
}

#[test]
fn sibling_of_a_confirmed_match_is_evidence() {
    let mut index = Index::new();
    let mut sister = person("Amina", "Abdullahi Hassan");
    sister.father_name = Some("Abdullahi Hassan".to_owned());
    sister.mother_name = Some("Hodan Ali".to_owned());
    let mut brother = person("Mohamed", "Abdullahi Hassan");
    brother.father_name = Some("Abdullahi Hassan".to_owned());
    index.upsert(10, &sister);
    index.upsert(11, &brother);
    let request = sought(person("Maxamed", "Cabdullahi"));
    let without = index.find(&request, &MatchContext::default(), 5);
    let ctx = MatchContext {
        exclude: vec![],
        confirmed_siblings: vec![10],
    };
    let with = index.find(&request, &ctx, 5);
    assert_eq!(with[0].id, 11);
    let before = without
        .iter()
        .find(|c| c.id == 11)
        .expect("brother found")
        .score;
    assert!(with[0].score > before);
    let sibling = with[0]
        .evidence
        .iter()
        .find(|e| e.field == Field::Sibling)
        .expect("sibling evidence");
    assert_eq!(sibling.reason.describe(), "sibling of a confirmed match");
}

#[test]
fn sibling_disambiguation_keeps_a_record_with_the_better_fit() {
    let record = |id: u128, score: f64| Candidate {
        id,
        score,
        evidence: vec![],
    };
    let mut lists = vec![
        vec![record(7, 0.95), record(8, 0.40)],
        vec![record(7, 0.60), record(9, 0.50)],
    ];
    assign_siblings(&mut lists);
    assert_eq!(lists[0][0].id, 7);
    assert!((lists[0][0].score - 0.95).abs() < 1e-12);
    // for the second child, record 7 drops to 0.60 * (1 - 0.95) = 0.03
    let seven = lists[1].iter().find(|c| c.id == 7).expect("still listed");
    assert!((seven.score - 0.03).abs() < 1e-9, "{}", seven.score);
    assert_eq!(lists[1][0].id, 9);
    let e = &seven.evidence[0];
    assert_eq!(
        (e.field, e.reason),
        (Field::Sibling, Reason::BetterFitForSibling)
    );
    assert!(e.weight < 0.0);
}

#[test]
fn index_upsert_replaces_and_remove_forgets() {
    let mut index = Index::new();
    assert!(index.is_empty());
    index.upsert(1, &person("Olena", "Shevchenko"));
    index.upsert(1, &person("Iryna", "Shevchenko"));
    assert_eq!(index.len(), 1);
    assert_eq!(index.get(1).map(|p| p.given_name.as_str()), Some("Iryna"));
    let found = index.find(&sought(person("Olena", "")), &MatchContext::default(), 5);
    assert!(found.is_empty(), "old version still indexed: {found:?}");
    assert!(index.remove(1));
    assert!(!index.remove(1));
    assert!(
        index
            .find(
                &sought(person("Iryna", "Shevchenko")),
                &MatchContext::default(),
                5
            )
            .is_empty()
    );
    index.upsert(2, &person("Iryna", "Shevchenko"));
    assert_eq!(
        index.find(
            &sought(person("Ірина", "Шевченко")),
            &MatchContext::default(),
            5
        )[0]
        .id,
        2
    );
}

#[test]
fn typo_in_names_is_found_through_the_deletion_neighbourhood() {
    let mut index = Index::new();
    index.upsert(1, &person("Michaela", "Neumann"));
    index.upsert(2, &person("Courtney", "Painter"));
    let found = index.find(
        &sought(person("Micheala", "Nuemann")),
        &MatchContext::default(),
        5,
    );
    assert_eq!(found.first().map(|c| c.id), Some(1));
}

#[test]
fn duplicates_are_found_at_registration() {
    let mut index = Index::new();
    let mut p = person("Yohannes", "Tesfay");
    p.birth_date = Some(PartialDate::full(2014, 3, 2));
    index.upsert(5, &p);
    let mut again = person("ዮሃንስ", "ተስፋዬ");
    again.birth_date = Some(PartialDate::full(2014, 3, 2));
    let found = index.find_duplicates(&again, TODAY, 5);
    assert_eq!(found[0].id, 5);
    assert_eq!(band(found[0].score), Some(Band::Likely));
}

#[test]
fn empty_and_odd_input_does_not_panic() {
    let mut index = Index::new();
    index.upsert(1, &Person::default());
    let odd = Person {
        given_name: "'' -- ".to_owned(),
        birth_date: Some(PartialDate {
            year: -5,
            month: Some(13),
            day: Some(40),
            estimated: true,
        }),
        age: Some(AgeEstimate {
            min_years: 12,
            max_years: 3,
            assessed_on: Day::new(2020, 0, 0),
        }),
        ..Person::default()
    };
    index.upsert(2, &odd);
    let _ = index.find(&sought(odd.clone()), &MatchContext::default(), 10);
    let (score, _) = compare(&sought(Person::default()), &odd, None);
    assert!((0.0..=1.0).contains(&score));
    assert!(
        index
            .find(&sought(person("A", "B")), &MatchContext::default(), 0)
            .is_empty()
    );
}

#[test]
fn thresholds_band_scores() {
    let t = Thresholds {
        likely: 0.8,
        possible: 0.3,
    };
    assert_eq!(t.band(0.9), Some(Band::Likely));
    assert_eq!(t.band(0.5), Some(Band::Possible));
    assert_eq!(t.band(0.1), None);
    assert_eq!(Field::NameChain.as_str(), "name_chain");
    assert_eq!(
        Reason::TransliterationVariant.describe(),
        "transliteration variant"
    );
}

#[test]
fn index_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync + std::fmt::Debug + Clone>() {}
    assert_send_sync::<Index>();
}

// --- Field data (issue 16): chains, romanisations, ages, registry size ---

fn weight_of(evidence: &[Evidence], field: Field) -> f64 {
    evidence
        .iter()
        .filter(|e| e.field == field)
        .map(|e| e.weight)
        .sum()
}

fn score(a: &Sought, b: &Person) -> f64 {
    compare(a, b, None).0
}

#[test]
fn nour_and_nur_align() {
    for (a, b) in [("Nour", "Nur"), ("Noor", "Nuur"), ("Youssouf", "Yusuf")] {
        let (_, evidence) = compare(&sought(person(a, "Ahmed")), &person(b, "Ahmed"), None);
        let given = evidence
            .iter()
            .find(|e| e.field == Field::GivenName)
            .expect("given name compared");
        assert_eq!(given.strength, Strength::Strong, "{a} / {b}: {given:?}");
    }
}

#[test]
fn scholarly_abd_compounds_match_the_one_word_spelling() {
    let request = sought(person("'Abd al-'Azīz", "Muhammad 'Alī"));
    let record = person("Abdulaziz", "Mohammed Ali");
    let (_, evidence) = compare(&request, &record, None);
    let given = evidence
        .iter()
        .find(|e| e.field == Field::GivenName)
        .expect("given name compared");
    assert_eq!(given.strength, Strength::Strong, "{given:?}");
    assert!(
        weight_of(&evidence, Field::FamilyName) > 3.0,
        "{evidence:?}"
    );
}

#[test]
fn a_chain_with_a_dropped_fathers_name_still_scores_as_the_same_person() {
    let registered = aged(person("Khalid", "Omar Hassan"), 9, 10, TODAY);
    // The inquirer leaves out the father: the grandfather stands as family name.
    let dropped = sought(aged(person("Khalid", "Hassan"), 9, 10, TODAY));
    let other = sought(aged(person("Khalid", "Yusuf Ibrahim"), 9, 10, TODAY));
    let same = compare(&dropped, &registered, None);
    assert!(
        weight_of(&same.1, Field::FamilyName) > 0.0,
        "dropped father still agrees: {:?}",
        same.1
    );
    assert_eq!(
        find_reason(&same.1, Field::FamilyName),
        Some(Reason::DroppedTokens)
    );
    assert!(same.0 > score(&other, &registered) * 10.0);
    // And the other way round: the record dropped the father.
    let registered_short = aged(person("Khalid", "Hassan"), 9, 10, TODAY);
    let full = sought(aged(person("Khalid", "Omar Hassan"), 9, 10, TODAY));
    assert!(
        weight_of(
            &compare(&full, &registered_short, None).1,
            Field::FamilyName
        ) > 0.0
    );
}

#[test]
fn a_full_name_in_the_given_name_field_is_read_as_a_chain() {
    let registered = person("Amanuel Tesfay Gebre", "");
    let request = sought(person("Amanuel", "Tesfay Gebre"));
    assert!(score(&request, &registered) > 0.5);
}

#[test]
fn patronymics_compare_by_the_name_they_carry() {
    // Russian-form and Polish-style spellings of one Ukrainian patronymic.
    for (a, b) in [
        ("Oleksandrovych", "Aleksandrovich"),
        ("Wołodymyrowycz", "Volodymyrovych"),
    ] {
        let request = sought(person("Ivan", &format!("{a} Shevchenko")));
        let record = person("Ivan", &format!("{b} Shevchenko"));
        let (_, evidence) = compare(&request, &record, None);
        let parent = evidence
            .iter()
            .find(|e| e.field == Field::Parent)
            .expect("patronymics compared");
        assert!(parent.weight > 0.0, "{a} / {b}: {parent:?}");
    }
}

#[test]
fn polish_style_cyrillic_spellings_agree() {
    let request = sought(person("Jurij", "Szewczenko"));
    let record = person("Yurii", "Shevchenko");
    let (_, evidence) = compare(&request, &record, None);
    assert!(weight_of(&evidence, Field::GivenName) > 3.0, "{evidence:?}");
    assert!(
        weight_of(&evidence, Field::FamilyName) > 3.0,
        "{evidence:?}"
    );
}

#[test]
fn an_age_off_by_two_years_costs_less_than_a_conflicting_date() {
    let record = aged(person("Amina", "Ali Hassan"), 10, 10, TODAY);
    let off = sought(aged(person("Amina", "Ali Hassan"), 12, 12, TODAY));
    let (_, evidence) = compare(&off, &record, None);
    let age = evidence
        .iter()
        .find(|e| e.field == Field::Age)
        .expect("age compared");
    assert!(age.weight < 0.0 && age.weight > -5.0, "{age:?}");
}

#[test]
fn the_age_at_separation_given_as_todays_age_still_fits() {
    // Separated three years ago at 7; the mother says "7".
    let record = aged(person("Amina", "Ali Hassan"), 10, 10, TODAY);
    let mut request = sought(aged(person("Amina", "Ali Hassan"), 7, 7, TODAY));
    request.separated_on = Some(PartialDate::full(2023, 5, 1));
    let (_, evidence) = compare(&request, &record, None);
    assert_eq!(
        find_reason(&evidence, Field::Age),
        Some(Reason::AgeAtSeparation)
    );
    let without = {
        let mut r = request.clone();
        r.separated_on = None;
        compare(&r, &record, None).0
    };
    assert!(compare(&request, &record, None).0 > without);
}

#[test]
fn the_score_of_a_strong_pair_does_not_collapse_in_a_large_registry() {
    // A pair with exact names and birth date, alone and among 100,000
    // unrelated records: the registry lowers it, but it stays likely.
    let mut record = person("Samira", "Yonas Tekle");
    record.birth_date = Some(PartialDate::full(2015, 3, 14));
    record.sex = Sex::Female;
    let request = sought(record.clone());
    let alone = score(&request, &record);
    let mut index = Index::new();
    index.upsert(1, &record);
    for i in 0..100_000u32 {
        let filler = Person {
            given_name: format!("G{}x{}", i % 997, i / 997),
            family_name: format!("F{}y{}", i % 991, i / 991),
            ..Person::default()
        };
        index.upsert(u128::from(i) + 2, &filler);
    }
    let found = index.find(&request, &MatchContext::default(), 5);
    assert_eq!(found.first().map(|c| c.id), Some(1));
    assert!(alone > 0.95);
    assert_eq!(
        band(found[0].score),
        Some(Band::Likely),
        "{}",
        found[0].score
    );
}

#[test]
fn top_candidates_under_possible_are_shown_as_weak() {
    let t = Thresholds::default();
    assert_eq!(t.band_ranked(0.05, 0), Some(Band::Weak));
    assert_eq!(t.band_ranked(0.05, crate::WEAK_RANKS), None);
    assert_eq!(t.band_ranked(crate::WEAK_FLOOR / 2.0, 0), None);
    assert_eq!(t.band_ranked(0.9, 7), Some(Band::Likely));
}

#[test]
fn siblings_are_not_flagged_as_duplicates() {
    // Same father, grandfather, mother and place; other given name, two
    // years apart: a sibling, not a re-registration.
    let mut elder = aged(person("Hodan", "Cabdi Warsame"), 11, 11, TODAY);
    elder.sex = Sex::Female;
    elder.father_name = Some("Cabdi Warsame Cali".into());
    elder.mother_name = Some("Faadumo Xasan".into());
    elder.place = vec!["SO".into(), "Banadir".into()];
    let mut younger = elder.clone();
    younger.given_name = "Ayaan".into();
    younger.age = elder.age.map(|a| AgeEstimate {
        min_years: 9,
        max_years: 9,
        ..a
    });
    let (s, _) = compare(&sought(younger.clone()), &elder, None);
    assert!(s < Thresholds::duplicate().likely, "sibling scored {s}");
    // The same child registered again, in English-style spelling.
    let mut again = elder.clone();
    again.given_name = "Hodan".into();
    again.family_name = "Abdi Warsame".into();
    again.father_name = Some("Abdi Warsame Ali".into());
    let (s, _) = compare(&sought(again), &elder, None);
    assert!(
        s >= Thresholds::duplicate().likely,
        "re-registration scored {s}"
    );
}

fn candidate(id: u128, score: f64) -> Candidate {
    Candidate {
        id,
        score,
        evidence: Vec::new(),
    }
}

#[test]
fn a_first_candidate_far_ahead_of_the_rest_is_committed_to_below_likely() {
    let t = Thresholds::default();
    // 0.70 alone is `possible`; far ahead of the next (0.001) it is `likely`.
    let ranked = [candidate(1, 0.70), candidate(2, 0.001)];
    assert_eq!(t.band(0.70), Some(Band::Possible));
    assert_eq!(t.bands_for(&ranked)[0], Some(Band::Likely));
    // The same score beside a close second is not committed to.
    let close = [candidate(1, 0.70), candidate(2, 0.50)];
    assert_eq!(t.bands_for(&close)[0], Some(Band::Possible));
}

#[test]
fn two_near_equal_high_candidates_are_not_committed_to() {
    let t = Thresholds::default();
    let ranked = [candidate(1, 0.85), candidate(2, 0.84), candidate(3, 0.01)];
    let bands = t.bands_for(&ranked);
    assert_eq!(bands[0], Some(Band::Possible));
    assert_eq!(bands[1], Some(Band::Possible));
    // A clear first with a very high score stays `likely`, and so does a
    // second at 0.80 or more beside it (the same child registered twice).
    let twice = [candidate(1, 0.9999), candidate(2, 0.95)];
    assert_eq!(
        t.bands_for(&twice),
        vec![Some(Band::Likely), Some(Band::Likely)]
    );
}

#[test]
fn bands_for_keeps_possible_and_weak_and_handles_short_lists() {
    let t = Thresholds::default();
    assert!(t.bands_for(&[]).is_empty());
    let ranked = [candidate(1, 0.30), candidate(2, 0.25), candidate(3, 0.05)];
    assert_eq!(
        t.bands_for(&ranked),
        vec![Some(Band::Possible), Some(Band::Possible), Some(Band::Weak)]
    );
    // A single candidate leads by its whole score.
    assert_eq!(t.bands_for(&[candidate(1, 0.75)])[0], Some(Band::Likely));
    assert_eq!(t.bands_for(&[candidate(1, 0.10)])[0], Some(Band::Weak));
    // A stricter `likely` moves the rule with it.
    let strict = Thresholds {
        likely: 0.99,
        possible: 0.20,
    };
    let ahead = [candidate(1, 0.75), candidate(2, 0.01)];
    assert_eq!(t.bands_for(&ahead)[0], Some(Band::Likely));
    assert_eq!(strict.bands_for(&ahead)[0], Some(Band::Possible));
    // A first candidate under `possible` is never committed to, however far
    // it leads.
    assert_eq!(
        t.bands_for(&[candidate(1, 0.15), candidate(2, 0.000_001)])[0],
        Some(Band::Weak)
    );
}

#[test]
fn the_duplicate_check_reports_a_re_registration_and_not_a_sibling() {
    let mut elder = aged(person("Hodan", "Cabdi Warsame"), 11, 11, TODAY);
    elder.sex = Sex::Female;
    elder.father_name = Some("Cabdi Warsame Cali".into());
    elder.mother_name = Some("Faadumo Xasan".into());
    elder.place = vec!["SO".into(), "Banadir".into()];
    let mut index = Index::new();
    index.upsert(1, &elder);
    let mut younger = elder.clone();
    younger.given_name = "Ayaan".into();
    younger.age = elder.age.map(|a| AgeEstimate {
        min_years: 9,
        max_years: 9,
        ..a
    });
    let mut again = elder.clone();
    again.family_name = "Abdi Warsame".into();
    again.father_name = Some("Abdi Warsame Ali".into());
    let t = Thresholds::duplicate();
    let sibling = index.find_duplicates(&younger, TODAY, 5);
    assert!(
        t.duplicate_bands(&sibling)
            .iter()
            .all(|b| *b != Some(Band::Likely)),
        "{sibling:?}"
    );
    let found = index.find_duplicates(&again, TODAY, 5);
    assert_eq!(t.duplicate_bands(&found).first(), Some(&Some(Band::Likely)));
    assert!(crate::duplicate_probability(&found[0]) > 0.5);
}

#[test]
fn a_different_place_of_birth_counts_against_a_duplicate() {
    let mut child = aged(person("Selam", "Tesfay"), 10, 12, TODAY);
    child.sex = Sex::Female;
    child.place = vec!["ER".into(), "Maekel".into(), "Asmara".into()];
    let mut same = child.clone();
    same.given_name = "Selam".into();
    let mut elsewhere = child.clone();
    elsewhere.place = vec!["ER".into(), "Gash Barka".into(), "Barentu".into()];
    let mut index = Index::new();
    index.upsert(1, &same);
    index.upsert(2, &elsewhere);
    let found = index.find_duplicates(&child, TODAY, 5);
    let p = |id: u128| {
        found
            .iter()
            .find(|c| c.id == id)
            .map(crate::duplicate_probability)
            .expect("candidate")
    };
    assert!(p(1) > p(2), "{} vs {}", p(1), p(2));
    // The re-weighting never reports what scores under its floor.
    assert_eq!(crate::duplicate_probability(&candidate(3, 0.001)), 0.0);
}

#[test]
fn a_name_chain_written_as_the_given_name_is_read_as_swapped_fields() {
    // The sought child's chain (father's, grandfather's names) in the given
    // field, the child's own name in the family field; the father's name
    // misspelled.
    let mut registered = aged(person("Yohannes", "Tesfai Nathnael"), 14, 16, TODAY);
    registered.sex = Sex::Male;
    let mut asked = aged(person("Teafaye Natneal", "Yohannes"), 14, 16, TODAY);
    asked.sex = Sex::Male;
    let (swapped, evidence) = compare(&sought(asked), &registered, None);
    let given = evidence
        .iter()
        .find(|e| e.field == Field::GivenName)
        .expect("given name evidence");
    assert_eq!(given.strength, Strength::Exact, "{evidence:?}");
    assert_eq!(given.reason, Reason::ReorderedTokens);
    // Another child with the same chain and another given name scores lower.
    let mut other = registered.clone();
    other.given_name = "Mehari".into();
    let asked = aged(person("Teafaye Natneal", "Yohannes"), 14, 16, TODAY);
    let (sibling, _) = compare(&sought(asked), &other, None);
    assert!(swapped > sibling, "{swapped} vs {sibling}");
}

#[test]
fn a_pair_that_scores_very_high_alone_is_a_duplicate_whatever_the_reweighting() {
    // No evidence to re-weight, but a score of 0.97: reported.
    let t = Thresholds::duplicate();
    let bands = t.duplicate_bands(&[candidate(1, 0.97), candidate(2, 0.30)]);
    assert_eq!(bands[0], Some(Band::Likely));
    assert_ne!(bands[1], Some(Band::Likely));
}

#[test]
fn a_child_registered_twice_is_committed_to_with_both_records() {
    // One girl registered by two agencies (Somali and English-style
    // spellings of the same chain), and a look-alike from another family.
    let mut first = aged(person("Hodan", "Cabdi Warsame"), 11, 11, TODAY);
    first.sex = Sex::Female;
    first.father_name = Some("Cabdi Warsame Cali".into());
    first.mother_name = Some("Faadumo Xasan".into());
    first.place = vec!["SO".into(), "Banadir".into()];
    let mut again = first.clone();
    again.family_name = "Abdi Warsame".into();
    again.father_name = Some("Abdi Warsame Ali".into());
    let mut index = Index::new();
    index.upsert(1, &first);
    index.upsert(2, &again);
    assert!(index.same_child(1, 2, TODAY).expect("indexed") >= 0.7);
    // Asked with the given and father's name only, so that neither record
    // reaches 0.80 alone.
    let query = sought(person("Hodan", "Cabdi"));
    let found = index.find(&query, &MatchContext::default(), 5);
    assert_eq!(found.len(), 2);
    assert!(found.iter().all(|c| c.score < 0.80), "{found:?}");
    let t = Thresholds::default();
    // By the list alone the second record is a rival, not the same child.
    assert_ne!(t.bands_for(&found)[1], Some(Band::Likely), "{found:?}");
    // Knowing they are one child, the index commits to both.
    assert_eq!(
        index.bands_for(&t, &query, &found),
        vec![Some(Band::Likely), Some(Band::Likely)]
    );
}

#[test]
fn a_sibling_in_the_list_is_still_a_rival() {
    // Two sisters of one household: the same chain, parents and place,
    // other given names and ages. A search that fits both is not committed
    // to either, with or without the index.
    let mut elder = aged(person("Hodan", "Cabdi Warsame"), 11, 11, TODAY);
    elder.sex = Sex::Female;
    elder.father_name = Some("Cabdi Warsame Cali".into());
    elder.place = vec!["SO".into(), "Banadir".into()];
    let mut younger = elder.clone();
    younger.given_name = "Hodo".into();
    younger.age = elder.age.map(|a| AgeEstimate {
        min_years: 9,
        max_years: 9,
        ..a
    });
    let mut index = Index::new();
    index.upsert(1, &elder);
    index.upsert(2, &younger);
    assert!(index.same_child(1, 2, TODAY).expect("indexed") < 0.7);
    let mut asked = aged(person("Hodan", "Cabdi Warsame"), 10, 10, TODAY);
    asked.sex = Sex::Female;
    let query = sought(asked);
    let found = index.find(&query, &MatchContext::default(), 5);
    let t = Thresholds::default();
    let bands = index.bands_for(&t, &query, &found);
    assert!(
        bands.iter().skip(1).all(|b| *b != Some(Band::Likely)),
        "{found:?}"
    );
}

#[test]
fn a_high_score_with_disagreeing_parents_is_left_to_the_reweighting() {
    // A look-alike household: the names and age agree, so the score is
    // high, but the recorded fathers' chains disagree. Where parents were
    // compared the re-weighting decides, not the score alone.
    let evidence = |field, weight| Evidence {
        field,
        strength: Strength::Exact,
        weight,
        reason: Reason::Identical,
    };
    let look_alike = Candidate {
        id: 1,
        score: 0.97,
        evidence: vec![
            evidence(Field::GivenName, 5.2),
            evidence(Field::FamilyName, 4.8),
            evidence(Field::Age, 2.2),
            evidence(Field::Parent, -2.5),
        ],
    };
    let t = Thresholds::duplicate();
    assert!(crate::duplicate_probability(&look_alike) < 0.5);
    assert_ne!(t.duplicate_bands(&[look_alike])[0], Some(Band::Likely));
}

#[test]
fn brothers_named_mohamed_and_mohamud_are_not_one_child() {
    let mut elder = aged(person("Mohamed", "Abdullahi Sharif"), 12, 12, TODAY);
    elder.sex = Sex::Male;
    elder.father_name = Some("Abdullahi Sharif Liban".into());
    elder.mother_name = Some("Fadumo Abdullahi".into());
    elder.place = vec!["SO".into(), "Gedo".into(), "Garbahaarey".into()];
    let mut younger = aged(elder.clone(), 11, 11, TODAY);
    younger.given_name = "Mohamud".into();
    let mut index = Index::new();
    index.upsert(1, &elder);
    let found = index.find_duplicates(&younger, TODAY, 5);
    let t = Thresholds::duplicate();
    assert!(
        t.duplicate_bands(&found)
            .iter()
            .all(|b| *b != Some(Band::Likely)),
        "{found:?}"
    );
}

// --- fields recorded apart (issue 16, round 4) ---

#[test]
fn a_chain_recorded_field_by_field_compares_as_the_packed_chain() {
    let packed = person("Xaliimo", "Cabdullahi Xasan Cali");
    let mut recorded = person("Xaliimo", "Cali");
    recorded.father_name = Some("Cabdullahi".into());
    recorded.grandfather_name = Some("Xasan".into());
    assert_eq!(recorded.chain(), "Cabdullahi Xasan Cali");
    let (packed_score, _) = compare(&sought(packed.clone()), &packed, None);
    let (recorded_score, evidence) = compare(&sought(recorded), &packed, None);
    assert!(
        (recorded_score - packed_score).abs() < 0.15,
        "{recorded_score} vs {packed_score}: {evidence:?}"
    );
}

#[test]
fn the_fathers_name_is_not_repeated_when_the_family_name_already_starts_with_it() {
    let mut recorded = person("Xaliimo", "Cabdullahi Xasan");
    recorded.father_name = Some("Cabdullahi".into());
    recorded.grandfather_name = Some("Cali".into());
    assert_eq!(recorded.chain(), "Cali Cabdullahi Xasan");
    recorded.grandfather_name = None;
    assert_eq!(
        recorded.chain(),
        "Cabdullahi Xasan",
        "without a grandfather's field the family name is taken as entered"
    );
}

#[test]
fn a_nickname_recorded_apart_matches_the_name_used_as_given_name() {
    let mut registered = person("Abdirahman", "Cabdullahi Xasan");
    registered.nickname = Some("Dheere".into());
    let (with_nickname, evidence) = compare(
        &sought(person("Dheere", "Cabdullahi Xasan")),
        &registered,
        None,
    );
    registered.nickname = None;
    let (without, _) = compare(
        &sought(person("Dheere", "Cabdullahi Xasan")),
        &registered,
        None,
    );
    assert!(with_nickname > without, "{with_nickname} vs {without}");
    assert!(
        find_reason(&evidence, Field::OtherNames).is_some(),
        "the nickname is the evidence: {evidence:?}"
    );
}

#[test]
fn a_patronymic_recorded_apart_meets_the_fathers_name() {
    let mut registered = person("Olena", "Kovalenko");
    registered.patronymic = Some("Oleksandrivna".into());
    let mut sought_child = person("Olena", "Kovalenko");
    sought_child.father_name = Some("Oleksandr".into());
    let (_, evidence) = compare(&sought(sought_child), &registered, None);
    assert!(
        evidence
            .iter()
            .any(|e| e.field == Field::Parent && e.reason == Reason::ParentNameAgrees),
        "{evidence:?}"
    );
}

#[test]
fn an_old_shaped_record_scores_exactly_as_before() {
    // Nothing recorded apart: the chain is the family name as entered.
    let old = Person {
        father_name: Some("Cabdullahi".into()),
        other_names: vec!["Xalimo".into()],
        ..person("Xaliimo", "Cabdullahi Xasan")
    };
    assert_eq!(old.chain(), old.family_name);
}
