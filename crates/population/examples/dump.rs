//! Prints a small readable sample of a generated population: a few
//! registrations and a few tracing requests with their true matches.
//!
//! `cargo run -p haven-population --example dump -- [seed] [households]`

use haven_population::{Birth, Config, generate};

fn main() {
    let mut args = std::env::args().skip(1);
    let seed = args.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    let households = args.next().and_then(|s| s.parse().ok()).unwrap_or(200);
    let pop = generate(&Config {
        seed,
        households,
        ..Config::default()
    });
    println!(
        "seed {seed}: {} households, {} registrations, {} requests, {} duplicate pairs\n",
        households,
        pop.children.len(),
        pop.requests.len(),
        pop.duplicate_pairs().len()
    );
    println!("== registrations ==");
    for (i, c) in pop.children.iter().take(12).enumerate() {
        let birth = match c.birth {
            Some(Birth::Date(d)) => format!("born {d}"),
            Some(Birth::AgeEstimate {
                min_years,
                max_years,
                assessed_on,
            }) => format!("age {min_years}-{max_years} on {assessed_on}"),
            None => "birth unknown".to_string(),
        };
        let truth = &pop.people[c.person];
        println!(
            "#{i} [{:?}] {} / {} ({:?}) {birth}; other names {:?}\n    father {:?}, mother {:?}; born in {:?}; registered {}; consent {}\n    truth: person {} {} {} born {}",
            c.culture,
            c.given_name,
            c.family_name,
            c.sex,
            c.other_names,
            c.father_name,
            c.mother_name,
            c.place_of_birth,
            c.registered_on,
            c.consent_for_tracing,
            c.person,
            truth.given_name,
            truth.family_name,
            truth.born,
        );
    }
    println!("\n== tracing requests ==");
    for (r, req) in pop.requests.iter().take(8).enumerate() {
        let q = &req.inquirer;
        println!(
            "request {r}: {} / {} ({:?}) in {:?}, filed {}",
            q.given_name, q.family_name, q.relation, q.place, req.filed_on
        );
        for (s, child) in req.sought.iter().enumerate() {
            let sep = child
                .separated_on
                .map(|d| d.to_string())
                .unwrap_or_default();
            let born = child.birth_date.map(|d| d.to_string()).unwrap_or_default();
            println!(
                "  seeks {} / {} ({:?}) other {:?}, age {:?}, born {born}, last seen {:?}, separated {sep}: {}",
                child.given_name,
                child.family_name,
                child.sex,
                child.other_names,
                child.age_estimate,
                child.last_seen_place,
                child.circumstances,
            );
            let matches = pop.true_matches(r, s);
            if matches.is_empty() {
                println!("    -> not registered");
            }
            for i in matches {
                let c = &pop.children[i];
                println!(
                    "    -> #{i}: {} / {} (consent {})",
                    c.given_name, c.family_name, c.consent_for_tracing
                );
            }
        }
    }
}
