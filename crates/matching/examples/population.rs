//! Evaluation on the seeded multi-script synthetic population
//! (`haven-population`): tracing requests against consenting registrations,
//! and registration dedup.
//!
//! ```text
//! cargo run --release -p haven-matching --example population -- [HOUSEHOLDS] [SEED]
//! ```

use std::collections::HashSet;

use haven_matching::{
    AgeEstimate, Band, Candidate, Day, Index, MatchContext, PartialDate, Person, Relation, Sex,
    Sought, Thresholds, assign_siblings,
};
use haven_population as pop;

fn day(d: pop::Day) -> Day {
    Day::new(d.year, d.month, d.day)
}

fn partial(d: pop::PartialDay) -> PartialDate {
    PartialDate {
        year: d.year,
        month: d.month,
        day: d.day,
        estimated: d.estimated,
    }
}

fn sex(s: pop::Sex) -> Sex {
    match s {
        pop::Sex::Female => Sex::Female,
        pop::Sex::Male => Sex::Male,
        pop::Sex::Unknown => Sex::Unknown,
    }
}

fn registered(c: &pop::RegisteredChild) -> Person {
    let (birth_date, age) = match c.birth {
        Some(pop::Birth::Date(d)) => (Some(partial(d)), None),
        Some(pop::Birth::AgeEstimate {
            min_years,
            max_years,
            assessed_on,
        }) => (
            None,
            Some(AgeEstimate {
                min_years,
                max_years,
                assessed_on: day(assessed_on),
            }),
        ),
        None => (None, None),
    };
    Person {
        given_name: c.given_name.clone(),
        family_name: c.family_name.clone(),
        other_names: c.other_names.clone(),
        sex: sex(c.sex),
        birth_date,
        age,
        father_name: c.father_name.clone(),
        mother_name: c.mother_name.clone(),
        place: c.place_of_birth.clone(),
    }
}

fn sought(r: &pop::TracingRequest, s: &pop::SoughtChild) -> Sought {
    let relation = match r.inquirer.relation {
        pop::Relation::Mother => Relation::Mother,
        pop::Relation::Father => Relation::Father,
        pop::Relation::Sibling => Relation::Sibling,
        _ => Relation::OtherRelative,
    };
    let person = Person {
        given_name: s.given_name.clone(),
        family_name: s.family_name.clone(),
        other_names: s.other_names.clone(),
        sex: sex(s.sex),
        birth_date: s.birth_date.map(partial),
        age: s.age_estimate.map(|(min_years, max_years)| AgeEstimate {
            min_years,
            max_years,
            assessed_on: day(r.filed_on),
        }),
        ..Person::default()
    };
    Sought {
        person,
        separated_on: s.separated_on.map(partial),
        inquirer_name: Some(format!(
            "{} {}",
            r.inquirer.given_name, r.inquirer.family_name
        )),
        relation,
        last_seen: s.last_seen_place.clone(),
        asked_on: day(r.filed_on),
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let config = pop::Config {
        households: args.first().copied().unwrap_or(5_000) as usize,
        seed: args.get(1).copied().unwrap_or(1),
        ..pop::Config::default()
    };
    let population = pop::generate(&config);
    let thresholds = Thresholds::default();

    let mut index = Index::new();
    for (i, c) in population.children.iter().enumerate() {
        if c.consent_for_tracing {
            index.upsert(i as u128, &registered(c));
        }
    }

    let (mut matchable, mut at1, mut at10) = (0usize, 0usize, 0usize);
    let (mut predicted, mut tp, mut true_pairs) = (0usize, 0usize, 0usize);
    let (mut unmatchable, mut false_likely) = (0usize, 0usize);
    let (mut no_match_requests, mut no_match_requests_likely) = (0usize, 0usize);
    let mut debug_shown = 0;
    for (r, request) in population.requests.iter().enumerate() {
        let mut lists: Vec<Vec<Candidate>> = request
            .sought
            .iter()
            .map(|s| index.find(&sought(request, s), &MatchContext::default(), 10))
            .collect();
        assign_siblings(&mut lists);
        let mut request_has_match = false;
        let mut request_likely = false;
        for (k, found) in lists.iter().enumerate() {
            let truth: HashSet<u128> = population
                .true_matches_with_consent(r, k)
                .into_iter()
                .map(|i| i as u128)
                .collect();
            let likely: Vec<&Candidate> = found
                .iter()
                .filter(|c| thresholds.band(c.score) == Some(Band::Likely))
                .collect();
            request_likely |= !likely.is_empty();
            predicted += likely.len();
            tp += likely.iter().filter(|c| truth.contains(&c.id)).count();
            if std::env::var_os("POP_DEBUG").is_some()
                && debug_shown < 12
                && let Some(c) = likely.iter().find(|c| !truth.contains(&c.id))
            {
                debug_shown += 1;
                let s = &request.sought[k];
                let p = index.get(c.id).expect("indexed");
                println!(
                    "false likely {:.3}: sought {:?} {:?} {:?} age {:?} | inquirer {:?} {:?}",
                    c.score,
                    s.given_name,
                    s.family_name,
                    s.other_names,
                    s.age_estimate,
                    request.inquirer.given_name,
                    request.inquirer.relation
                );
                println!(
                    "   record {:?} {:?} {:?} {:?} {:?} f {:?} m {:?}",
                    p.given_name,
                    p.family_name,
                    p.other_names,
                    p.age,
                    p.birth_date,
                    p.father_name,
                    p.mother_name
                );
                for e in &c.evidence {
                    println!(
                        "      {:?} {:?} {:.2} {}",
                        e.field,
                        e.strength,
                        e.weight,
                        e.reason.describe()
                    );
                }
            }
            if truth.is_empty() {
                unmatchable += 1;
                false_likely += usize::from(!likely.is_empty());
                continue;
            }
            request_has_match = true;
            matchable += 1;
            true_pairs += truth.len();
            at1 += usize::from(found.first().is_some_and(|c| truth.contains(&c.id)));
            at10 += usize::from(found.iter().any(|c| truth.contains(&c.id)));
        }
        if !request_has_match {
            no_match_requests += 1;
            no_match_requests_likely += usize::from(request_likely);
        }
    }
    let precision = ratio(tp, predicted);
    let recall = ratio(tp, true_pairs);
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    println!(
        "population: {} households (seed {}), {} registrations ({} with tracing consent), {} requests",
        config.households,
        config.seed,
        population.children.len(),
        index.len(),
        population.requests.len()
    );
    println!(
        "  tracing: {matchable} sought children with a consenting registration: recall@1 {:.4} recall@10 {:.4}",
        ratio(at1, matchable),
        ratio(at10, matchable)
    );
    println!(
        "  likely (>= {:.2}): precision {precision:.4} recall {recall:.4} F1 {f1:.4} ({predicted} predicted)",
        thresholds.likely
    );
    println!(
        "  false likely: {} of {} requests with no match ({:.4}); {} of {} unmatchable sought children ({:.4})",
        no_match_requests_likely,
        no_match_requests,
        ratio(no_match_requests_likely, no_match_requests),
        false_likely,
        unmatchable,
        ratio(false_likely, unmatchable)
    );

    // Registration dedup over all registrations (consent does not apply).
    let mut all = Index::new();
    let people: Vec<Person> = population.children.iter().map(registered).collect();
    for (i, p) in people.iter().enumerate() {
        all.upsert(i as u128, p);
    }
    let truth: HashSet<(usize, usize)> = population.duplicate_pairs().into_iter().collect();
    let mut found: HashSet<(usize, usize)> = HashSet::new();
    for (i, (p, c)) in people.iter().zip(&population.children).enumerate() {
        for candidate in all.find_duplicates(p, day(c.registered_on), 10) {
            let j = candidate.id as usize;
            if j != i && thresholds.band(candidate.score) == Some(Band::Likely) {
                found.insert((i.min(j), i.max(j)));
            }
        }
    }
    let tp = found.intersection(&truth).count();
    let precision = ratio(tp, found.len());
    let recall = ratio(tp, truth.len());
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    println!(
        "  dedup: {} true pairs: precision {precision:.4} recall {recall:.4} F1 {f1:.4} ({} predicted)",
        truth.len(),
        found.len()
    );
}
