//! Behavioural specification of the public API, written as tests.
//!
//! "A meets B" means: searching for A finds a child named B, i.e. every token
//! group of `query_keys(A)` shares at least one key with `name_keys(B)`.
//! Single-name pairs are checked in both directions.

use crate::{MAX_QUERY_TOKENS, fold_tokens, name_keys, query_keys, token_keys};

/// Does a search for `query` find a child named `name`?
fn finds(query: &str, name: &str) -> bool {
    let stored = name_keys(name);
    let groups = query_keys(query);
    !groups.is_empty()
        && groups
            .iter()
            .all(|group| group.iter().any(|key| stored.contains(key)))
}

/// Each name finds the other.
fn meet(a: &str, b: &str) -> bool {
    finds(a, b) && finds(b, a)
}

/// Neither name finds the other.
fn apart(a: &str, b: &str) -> bool {
    !finds(a, b) && !finds(b, a)
}

fn assert_meet(a: &str, others: &[&str]) {
    for b in others {
        assert!(
            meet(a, b),
            "{a} should meet {b}:\n{:?}\n{:?}",
            name_keys(a),
            name_keys(b)
        );
    }
}

fn assert_apart(a: &str, b: &str) {
    assert!(
        apart(a, b),
        "{a} must not meet {b}:\n{:?}\n{:?}",
        name_keys(a),
        name_keys(b)
    );
}

/// The keys two names have in common.
fn shared(a: &str, b: &str) -> Vec<String> {
    let b = name_keys(b);
    name_keys(a)
        .into_iter()
        .filter(|key| b.contains(key))
        .collect()
}

// --- names that must meet ---

#[test]
fn cyrillic_oleksandr_meets_latin_oleksandr() {
    assert_meet("Олександр", &["Oleksandr", "OLEKSANDR"]);
}

#[test]
fn mohammed_meets_common_latin_spellings() {
    assert_meet("Mohammed", &["Muhammad", "Mohamed", "Muhamad", "Mohammad"]);
}

#[test]
fn mohammed_meets_somali_maxamed() {
    assert_meet("Mohammed", &["Maxamed"]);
}

#[test]
fn mohammed_meets_arabic_script_through_the_skeleton() {
    assert_meet("Mohammed", &["محمد", "مُحَمَّد"]);
    assert!(shared("Mohammed", "محمد").contains(&"s:mhmd".to_owned()));
}

#[test]
fn abdullahi_meets_somali_cabdullahi_and_abdulahi() {
    assert_meet("Abdullahi", &["Cabdullahi", "Abdulahi"]);
}

#[test]
fn abdullah_meets_arabic_script() {
    assert_meet("Abdullah", &["عبدالله", "Abdallah"]);
}

#[test]
fn fatima_meets_somali_faadumo_through_the_equivalence_group() {
    assert_meet("Fatima", &["Faadumo"]);
    assert_eq!(shared("Fatima", "Faadumo"), ["e:fatima"]);
}

#[test]
fn fatima_meets_fatuma_fatimah_and_arabic_script() {
    assert_meet("Fatima", &["Fatuma", "Fatimah", "فاطمة", "فاطمه"]);
}

#[test]
fn jose_meets_unaccented_and_uppercase_jose() {
    assert_meet("José", &["jose", "JOSE"]);
}

#[test]
fn muller_with_umlaut_meets_muller() {
    assert_meet("Müller", &["Muller"]);
}

#[test]
fn ukrainian_serhiy_meets_latin_spellings_and_russian_sergey() {
    assert_meet(
        "Сергій",
        &["Serhiy", "Serhii", "Sergiy", "Sergei", "Сергей"],
    );
}

#[test]
fn ukrainian_and_russian_spellings_meet_without_the_group() {
    // the skeleton alone (h/g in one class) joins them
    assert!(shared("Сергій", "Sergei").contains(&"s:srhy".to_owned()));
    assert_meet("Oleh", &["Oleg", "Олег"]);
}

#[test]
fn geez_tesfay_meets_tesfay_and_tesfaye() {
    assert_meet("ተስፋይ", &["Tesfay", "Tesfaye", "ተስፋዬ"]);
}

#[test]
fn persian_hossein_meets_hussein_hossein_husayn() {
    assert_meet("حسین", &["Hussein", "Hossein", "Husayn", "Hussain", "حسين"]);
}

#[test]
fn aleksandr_and_sasha_meet_oleksandr_through_the_equivalence_group() {
    assert_meet(
        "Oleksandr",
        &["Aleksandr", "Sasha", "Саша", "Alexander", "Александр"],
    );
    assert!(shared("Sasha", "Oleksandr").contains(&"e:oleksandr".to_owned()));
}

#[test]
fn arabic_script_names_starting_with_a_vowel_meet_latin() {
    assert_meet("Ahmed", &["أحمد", "Ahmad", "Axmed"]);
    assert_meet("Ali", &["علي", "Cali"]);
    assert_meet("Aisha", &["عائشة", "Ayesha"]);
}

#[test]
fn somali_x_for_h_meets_h() {
    assert_meet("Hassan", &["Xasan", "Hasan", "حسن"]);
}

#[test]
fn russian_spellings_of_arabic_names_meet() {
    assert_meet("Muhammad", &["Мухаммад", "Магомед"]);
    assert_meet("Hussein", &["Хусейн"]);
}

// --- multi-token names and queries ---

#[test]
fn full_name_query_meets_full_name_in_another_script_and_spelling() {
    assert!(finds("Maxamed Cabdullahi", "Mohammed Abdullahi"));
    assert!(finds("Mohammed Abdullahi", "محمد Abdulahi"));
}

#[test]
fn query_token_order_does_not_matter() {
    assert!(finds("Abdullahi Mohammed", "Mohammed Abdullahi"));
}

#[test]
fn partial_query_meets_longer_name() {
    assert!(finds("Abdullahi", "Mohammed Abdullahi Hassan"));
}

#[test]
fn every_query_token_must_match() {
    assert!(!finds("Mohammed Tesfay", "Mohammed Abdullahi"));
}

#[test]
fn hyphenated_and_prefixed_names_are_found_by_their_parts() {
    assert!(finds("Hassan", "Al-Hassan"));
    assert!(finds("Rahman", "Abdul-Rahman"));
}

// --- query shape ---

#[test]
fn query_of_two_names_has_two_token_groups() {
    assert_eq!(query_keys("Mohammed Abdullahi").len(), 2);
}

#[test]
fn empty_or_punctuation_only_query_has_no_token_groups() {
    assert!(query_keys("").is_empty());
    assert!(query_keys("   ").is_empty());
    assert!(query_keys(" - , . ' ").is_empty());
    assert!(!finds("", "Mohammed"));
}

#[test]
fn query_is_capped_at_eight_tokens() {
    let query = "a1 b2 c3 d4 e5 f6 g7 h8 i9 j10";
    let groups = query_keys(query);
    assert_eq!(groups.len(), MAX_QUERY_TOKENS);
    assert_eq!(MAX_QUERY_TOKENS, 8);
    assert_eq!(groups[7], token_keys("h8"));
}

#[test]
fn empty_name_has_no_keys() {
    assert!(name_keys("").is_empty());
    assert!(name_keys("--").is_empty());
}

// --- key shape ---

const SAMPLE_NAMES: &[&str] = &[
    "Олександр Петренко",
    "Mohammed Abdullahi",
    "محمد عبدالله",
    "حسین رضایی",
    "ተስፋይ ገብረ",
    "José Müller-Lüdenscheidt",
    "Сергій Сергей",
    "Maxamed Cabdullahi Xasan",
    "Ольга O'Brien",
    "ǅemal Straße ﬁona",
];

#[test]
fn keys_are_sorted_and_deduplicated() {
    for name in SAMPLE_NAMES {
        let keys = name_keys(name);
        assert!(
            keys.windows(2).all(|pair| pair[0] < pair[1]),
            "{name}: {keys:?}"
        );
        for group in query_keys(name) {
            assert!(
                group.windows(2).all(|pair| pair[0] < pair[1]),
                "{name}: {group:?}"
            );
        }
    }
}

#[test]
fn keys_are_lowercase_ascii_with_a_family_prefix() {
    for name in SAMPLE_NAMES {
        for key in name_keys(name) {
            let (family, body) = key.split_at(2);
            assert!(["f:", "s:", "e:"].contains(&family), "{key}");
            assert!(!body.is_empty(), "{key}");
            assert!(
                body.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
                "{key}"
            );
        }
    }
}

#[test]
fn keys_are_stable_across_calls_and_input_forms() {
    assert_eq!(name_keys("Сергій"), name_keys("Сергій"));
    // decomposed and precomposed input give the same keys
    assert_eq!(
        name_keys("Jose\u{301} Mu\u{308}ller"),
        name_keys("José Müller")
    );
}

#[test]
fn every_name_has_its_fold_as_a_key() {
    for name in SAMPLE_NAMES {
        let keys = name_keys(name);
        for token in fold_tokens(name) {
            assert!(keys.contains(&format!("f:{token}")), "{name}: {token}");
        }
    }
}

// --- names that must not meet ---

#[test]
fn mohammed_does_not_meet_mahmoud() {
    assert_apart("Mohammed", "Mahmoud");
    assert_apart("محمد", "محمود");
}

#[test]
fn ali_does_not_meet_ola() {
    assert_apart("Ali", "Ola");
}

#[test]
fn fatima_does_not_meet_hatim() {
    assert_apart("Fatima", "Hatim");
}

#[test]
fn amina_does_not_meet_amin() {
    assert_apart("Amina", "Amin");
    assert_apart("Aminah", "Ameen");
}

#[test]
fn hassan_does_not_meet_hussein() {
    assert_apart("Hassan", "Hussein");
    assert_apart("حسن", "حسين");
}

#[test]
fn ghassan_does_not_meet_hassan() {
    assert_apart("Ghassan", "Hassan");
}

#[test]
fn ahmed_does_not_meet_hamid_or_mohammed() {
    assert_apart("Ahmed", "Hamid");
    assert_apart("Ahmed", "Mohammed");
    assert_apart("أحمد", "حامد");
}

#[test]
fn masculine_and_feminine_forms_do_not_meet() {
    assert_apart("Karim", "Karima");
    assert_apart("Oleksandr", "Oleksandra");
    assert_apart("Maria", "Mario");
}

#[test]
fn sergei_does_not_meet_sergio() {
    assert_apart("Sergei", "Sergio");
}

#[test]
fn omar_does_not_meet_amr() {
    assert_apart("Omar", "Amr");
}

#[test]
fn yusuf_does_not_meet_yasin() {
    assert_apart("Yusuf", "Yasin");
}

// --- known limitations, kept visible: these assert the desired behaviour ---

#[test]
#[ignore = "known limitation: the short spelling Mahmud has Muhammad's skeleton (mhmd)"]
fn mahmud_short_spelling_does_not_meet_muhammad() {
    assert_apart("Mahmud", "Muhammad");
}

#[test]
#[ignore = "known limitation: Hammad and Hamid share the skeleton hmd"]
fn hammad_does_not_meet_hamid() {
    assert_apart("Hammad", "Hamid");
}

#[test]
#[ignore = "known limitation: Ola and Olga/Olha share the skeleton ulh (g and h are one class)"]
fn ola_does_not_meet_olga() {
    assert_apart("Ola", "Olga");
}

#[test]
fn typo_keys_join_spellings_one_edit_apart_and_never_search_keys() {
    use crate::typo_keys;
    let shared = |a: &str, b: &str| {
        let b = typo_keys(b);
        typo_keys(a).into_iter().any(|k| b.contains(&k))
    };
    assert!(shared("Smith", "Smyth"), "substitution");
    assert!(shared("Smith", "Smiht"), "transposition");
    assert!(shared("Christopher", "Christoper"), "deletion");
    assert!(!shared("Smith", "Jones"));
    assert!(typo_keys("Smith").iter().all(|k| k.starts_with("d:")));
    assert!(
        query_keys("Smith")
            .iter()
            .flatten()
            .all(|k| !k.starts_with("d:")),
        "search never asks for typo keys"
    );
}
