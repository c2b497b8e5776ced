//! Evaluation on the seeded multi-script synthetic population
//! (`haven-population`): tracing requests against consenting registrations,
//! and registration dedup, overall, by community and by noise type.
//!
//! ```text
//! cargo run --release -p haven-matching --example population -- [HOUSEHOLDS] [SEED] [--no-dedup] [--sweep] [--requests N] [--lists FILE] [--dump FILE]
//! ```
//!
//! 4,750 households give about 10,000 registrations, 47,500 about 100,000.
//! Seed 1 is the tuning seed; seed 7 is held out (see SCORING.md).
//!
//! What is measured, per sought child:
//! * "shown": candidates whose band is `possible` or better (what an
//!   officer sees); "all": the ten best whatever their score;
//! * recall@1 / recall@10 over sought children with a consenting
//!   registration;
//! * `likely` precision over the `likely` candidates, recall over the true
//!   (sought child, record) pairs;
//! * false `likely`: sought children with no consenting registration that
//!   got a `likely` candidate.
//!
//! Dedup: every registration against all others (`Index::find_duplicates`),
//! a pair flagged when `Thresholds::duplicate` says so; precision, recall,
//! F1 and the share of false pairs that are siblings (same household).
//! A sought child's (or pair's) noise labels are its own plus those of its
//! true registrations.

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use haven_matching::{
    AgeEstimate, Band, Candidate, Day, Field, Index, MatchContext, PartialDate, Person, Relation,
    Sex, Sought, Thresholds, assign_siblings,
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
        ..Person::default()
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

fn f1(p: f64, r: f64) -> f64 {
    if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    }
}

/// Tracing counts for one slice.
#[derive(Debug, Default, Clone)]
struct Tracing {
    matchable: usize,
    at1_shown: usize,
    at1_all: usize,
    at10_shown: usize,
    at10_all: usize,
    /// Shown including the `weak` band (top candidates under `possible`).
    at1_weak: usize,
    at10_weak: usize,
    /// Top candidate is a true match but scored under `possible`.
    hidden_top: usize,
    likely_predicted: usize,
    likely_true: usize,
    true_pairs: usize,
    unmatchable: usize,
    false_likely: usize,
    /// True record not among the candidates scored, though it would rank.
    not_generated: usize,
    /// `likely` as `Thresholds::bands_for` decides it on the ranked list.
    ranked_predicted: usize,
    ranked_true: usize,
    ranked_false_likely: usize,
}

impl Tracing {
    fn add(&mut self, o: &Tracing) {
        self.matchable += o.matchable;
        self.at1_shown += o.at1_shown;
        self.at1_all += o.at1_all;
        self.at10_shown += o.at10_shown;
        self.at10_all += o.at10_all;
        self.at1_weak += o.at1_weak;
        self.at10_weak += o.at10_weak;
        self.hidden_top += o.hidden_top;
        self.likely_predicted += o.likely_predicted;
        self.likely_true += o.likely_true;
        self.true_pairs += o.true_pairs;
        self.unmatchable += o.unmatchable;
        self.false_likely += o.false_likely;
        self.not_generated += o.not_generated;
        self.ranked_predicted += o.ranked_predicted;
        self.ranked_true += o.ranked_true;
        self.ranked_false_likely += o.ranked_false_likely;
    }

    fn row(&self, name: &str) -> String {
        format!(
            "| {name} | {} | {:.3} / {:.3} / {:.3} | {:.3} / {:.3} / {:.3} | {:.3} / {:.3} | {} | {:.3} ({}/{}) | {:.3} / {:.3} | {:.3} ({}) | {} |",
            self.matchable,
            ratio(self.at1_shown, self.matchable),
            ratio(self.at1_weak, self.matchable),
            ratio(self.at1_all, self.matchable),
            ratio(self.at10_shown, self.matchable),
            ratio(self.at10_weak, self.matchable),
            ratio(self.at10_all, self.matchable),
            ratio(self.likely_true, self.likely_predicted),
            ratio(self.likely_true, self.true_pairs),
            self.hidden_top,
            ratio(self.false_likely, self.unmatchable),
            self.false_likely,
            self.unmatchable,
            ratio(self.ranked_true, self.ranked_predicted),
            ratio(self.ranked_true, self.true_pairs),
            ratio(self.ranked_false_likely, self.unmatchable),
            self.ranked_false_likely,
            self.not_generated,
        )
    }
}

const TRACING_HEADER: &str = "| slice | sought with a match | recall@1 shown / with weak / all | recall@10 shown / with weak / all | likely precision / recall | true top-1 hidden | false likely (no match) | ranked likely precision / recall | ranked false likely | true record not generated |\n|---|---|---|---|---|---|---|---|---|---|";

/// Dedup counts for one slice.
#[derive(Debug, Default, Clone)]
struct Dedup {
    true_pairs: usize,
    found_true: usize,
    found_false: usize,
    false_siblings: usize,
}

impl Dedup {
    fn row(&self, name: &str) -> String {
        let p = ratio(self.found_true, self.found_true + self.found_false);
        let r = ratio(self.found_true, self.true_pairs);
        format!(
            "| {name} | {} | {p:.3} | {r:.3} | {:.3} | {} | {:.2} |",
            self.true_pairs,
            f1(p, r),
            self.found_false,
            ratio(self.false_siblings, self.found_false),
        )
    }
}

const DEDUP_HEADER: &str = "| slice | true pairs | precision | recall | F1 | false pairs | sibling share of false pairs |\n|---|---|---|---|---|---|---|";

const FIELDS: [Field; 10] = [
    Field::GivenName,
    Field::FamilyName,
    Field::NameChain,
    Field::OtherNames,
    Field::Sex,
    Field::Birth,
    Field::Age,
    Field::Place,
    Field::Parent,
    Field::Sibling,
];

fn culture(c: pop::Culture) -> &'static str {
    match c {
        pop::Culture::Arabic => "arabic",
        pop::Culture::DariPashto => "dari_pashto",
        pop::Culture::Tigrinya => "tigrinya",
        pop::Culture::Somali => "somali",
        pop::Culture::UkrainianRussian => "ukrainian_russian",
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Positional numbers (households, seed): not the value of a flag.
    let numbers: Vec<u64> = args
        .iter()
        .enumerate()
        .filter(|(i, _)| *i == 0 || !args[i - 1].starts_with("--"))
        .filter_map(|(_, a)| a.parse().ok())
        .collect();
    let dedup = !args.iter().any(|a| a == "--no-dedup");
    // `--dump FILE`: one line per top-ten candidate (evidence sum without
    // the prior, log2 of the registry size, true match 0/1, rank), the
    // input of the calibration fit (tests/eval/fit_calibration.py).
    let mut dump = args
        .iter()
        .position(|a| a == "--dump")
        .and_then(|i| args.get(i + 1))
        .map(|path| std::io::BufWriter::new(std::fs::File::create(path).expect("dump file")));
    // `--lists FILE`: one line per sought child (`T true_records s:label …`,
    // best first, after sibling assignment) and one per duplicate-check
    // candidate (`D i j score label sibling`), the input of the band-rule
    // fit (tests/eval/fit_bands.py).
    let mut lists_out = args
        .iter()
        .position(|a| a == "--lists")
        .and_then(|i| args.get(i + 1))
        .map(|path| std::io::BufWriter::new(std::fs::File::create(path).expect("lists file")));
    // `--requests N`: trace only the first N requests (a sample, for
    // registries too large to trace every request of, e.g. 1M records).
    let request_limit = args
        .iter()
        .position(|a| a == "--requests")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(usize::MAX);
    let config = pop::Config {
        households: numbers.first().copied().unwrap_or(4_750) as usize,
        seed: numbers.get(1).copied().unwrap_or(1),
        ..pop::Config::default()
    };
    let started = Instant::now();
    let population = pop::generate(&config);
    let generated = started.elapsed();
    let thresholds = Thresholds::default();

    let started = Instant::now();
    let mut index = Index::new();
    for (i, c) in population.children.iter().enumerate() {
        if c.consent_for_tracing {
            index.upsert(i as u128, &registered(c));
        }
    }
    let built = started.elapsed();

    let started = Instant::now();
    let mut overall = Tracing::default();
    let mut by_culture: BTreeMap<&str, Tracing> = BTreeMap::new();
    let mut by_noise: BTreeMap<&str, Tracing> = BTreeMap::new();
    let mut clean = Tracing::default();
    let debug = std::env::var("POP_DEBUG").ok();
    let mut debug_shown = 0;
    let mut sought_count = 0usize;
    for (r, request) in population.requests.iter().enumerate().take(request_limit) {
        let queries: Vec<Sought> = request.sought.iter().map(|s| sought(request, s)).collect();
        let mut lists: Vec<Vec<Candidate>> = queries
            .iter()
            .map(|q| index.find(q, &MatchContext::default(), 10))
            .collect();
        assign_siblings(&mut lists);
        for (k, found) in lists.iter().enumerate() {
            sought_count += 1;
            let child = &request.sought[k];
            let records = population.true_matches_with_consent(r, k);
            let truth: HashSet<u128> = records.iter().map(|&i| i as u128).collect();
            let mut noise: Vec<pop::Noise> = child.noise.clone();
            for &i in &records {
                noise.extend(population.children[i].noise.iter().copied());
            }
            noise.sort_unstable();
            noise.dedup();
            let mut t = Tracing::default();
            let likely: Vec<&Candidate> = found
                .iter()
                .filter(|c| thresholds.band(c.score) == Some(Band::Likely))
                .collect();
            if truth.is_empty() {
                t.unmatchable = 1;
                t.false_likely = usize::from(!likely.is_empty());
            } else {
                t.matchable = 1;
                t.true_pairs = truth.len();
                let shown = |c: &&Candidate| thresholds.band(c.score).is_some();
                let top_true = found.first().is_some_and(|c| truth.contains(&c.id));
                t.at1_all = usize::from(top_true);
                t.at1_shown = usize::from(top_true && found.first().is_some_and(|c| shown(&c)));
                t.hidden_top = t.at1_all - t.at1_shown;
                t.at10_all = usize::from(found.iter().any(|c| truth.contains(&c.id)));
                let weak =
                    |rank: usize, c: &Candidate| thresholds.band_ranked(c.score, rank).is_some();
                t.at1_weak = usize::from(top_true && found.first().is_some_and(|c| weak(0, c)));
                t.at10_weak = usize::from(
                    found
                        .iter()
                        .enumerate()
                        .any(|(rank, c)| weak(rank, c) && truth.contains(&c.id)),
                );
                t.at10_shown =
                    usize::from(found.iter().filter(shown).any(|c| truth.contains(&c.id)));
                // A true record that would have ranked in the ten had it
                // been generated as a candidate: lost by candidate generation.
                if t.at10_all == 0 {
                    let last = found.last().map_or(0.0, |c| c.score);
                    t.not_generated = usize::from(truth.iter().any(|&id| {
                        index
                            .score(&queries[k], &MatchContext::default(), id)
                            .is_some_and(|c| found.len() < 10 || c.score > last)
                    }));
                }
            }
            if let Some(out) = dump.as_mut() {
                use std::io::Write as _;
                let size = (index.len() as f64).log2();
                for (rank, c) in found.iter().enumerate() {
                    let sum: f64 = c.evidence.iter().map(|e| e.weight).sum();
                    let label = u8::from(truth.contains(&c.id));
                    writeln!(out, "{sum:.4}\t{size:.4}\t{label}\t{rank}").expect("dump");
                }
            }
            if let Some(out) = lists_out.as_mut() {
                use std::io::Write as _;
                write!(out, "T {}", truth.len()).expect("lists");
                for c in found {
                    write!(out, " {:.6}:{}:", c.score, u8::from(truth.contains(&c.id)))
                        .expect("lists");
                    for field in FIELDS {
                        let w: f64 = c
                            .evidence
                            .iter()
                            .filter(|e| e.field == field)
                            .map(|e| e.weight)
                            .sum();
                        write!(out, "{w:.3},").expect("lists");
                    }
                }
                writeln!(out).expect("lists");
                // `G p1 p2 …`: for each later candidate, the probability
                // that it is the same child as the first (a
                // re-registration), for the ranked `likely` fit.
                write!(out, "G").expect("lists");
                if let Some(first) = found.first() {
                    for c in found.iter().skip(1) {
                        let p = index
                            .same_child(first.id, c.id, queries[k].asked_on)
                            .unwrap_or(0.0);
                        write!(out, " {p:.4}").expect("lists");
                    }
                }
                writeln!(out).expect("lists");
            }
            let bands = index.bands_for(&thresholds, &queries[k], found);
            let ranked: Vec<&Candidate> = found
                .iter()
                .zip(&bands)
                .filter(|(_, b)| **b == Some(Band::Likely))
                .map(|(c, _)| c)
                .collect();
            t.ranked_predicted = ranked.len();
            t.ranked_true = ranked.iter().filter(|c| truth.contains(&c.id)).count();
            if truth.is_empty() {
                t.ranked_false_likely = usize::from(!ranked.is_empty());
            }
            t.likely_predicted = likely.len();
            t.likely_true = likely.iter().filter(|c| truth.contains(&c.id)).count();
            let interesting = match debug.as_deref() {
                Some("missed") => t.matchable == 1 && t.at1_shown == 0,
                Some("false") => t.likely_predicted > t.likely_true,
                Some(label) => noise.iter().any(|n| n.as_str() == label) && t.at1_shown == 0,
                None => false,
            };
            if interesting && debug_shown < 15 {
                debug_shown += 1;
                println!(
                    "sought {:?} / {:?} {:?} age {:?} born {:?} | {:?} {:?} {:?} {:?}",
                    child.given_name,
                    child.family_name,
                    child.other_names,
                    child.age_estimate,
                    child.birth_date,
                    request.inquirer.given_name,
                    request.inquirer.family_name,
                    request.inquirer.relation,
                    noise.iter().map(|n| n.as_str()).collect::<Vec<_>>()
                );
                for &i in &records {
                    let c = &population.children[i];
                    let scored = index.score(&queries[k], &MatchContext::default(), i as u128);
                    println!(
                        "   truth {:?} / {:?} {:?} {:?} f {:?} score {:?}",
                        c.given_name,
                        c.family_name,
                        c.other_names,
                        c.birth,
                        c.father_name,
                        scored.as_ref().map(|s| s.score)
                    );
                    if let Some(s) = scored {
                        for e in &s.evidence {
                            println!(
                                "      {:?} {:?} {:.2} {}",
                                e.field,
                                e.strength,
                                e.weight,
                                e.reason.describe()
                            );
                        }
                    }
                }
                for c in found.iter().take(3) {
                    let p = index.get(c.id).expect("indexed");
                    println!(
                        "   cand {:.3} {} {:?} / {:?} {:?} {:?}",
                        c.score,
                        truth.contains(&c.id),
                        p.given_name,
                        p.family_name,
                        p.age,
                        p.birth_date
                    );
                }
            }
            overall.add(&t);
            by_culture
                .entry(culture(population.people[child.individual].culture))
                .or_default()
                .add(&t);
            if noise.is_empty() {
                clean.add(&t);
            }
            for n in &noise {
                by_noise.entry(n.as_str()).or_default().add(&t);
            }
        }
    }
    let traced = started.elapsed();

    println!(
        "population: {} households (seed {}), {} registrations ({} with tracing consent), {} requests, {} sought children",
        config.households,
        config.seed,
        population.children.len(),
        index.len(),
        population.requests.len(),
        sought_count,
    );
    println!(
        "time: generate {:.1} s, index {:.1} s, tracing {:.1} s ({:.2} ms per sought child)",
        generated.as_secs_f64(),
        built.as_secs_f64(),
        traced.as_secs_f64(),
        traced.as_secs_f64() * 1000.0 / sought_count.max(1) as f64
    );
    println!(
        "\n### Tracing (thresholds: likely {:.2}, possible {:.2})\n",
        thresholds.likely, thresholds.possible
    );
    println!("{TRACING_HEADER}");
    println!("{}", overall.row("**all**"));
    for (name, t) in &by_culture {
        println!("{}", t.row(name));
    }
    println!("{}", clean.row("no noise label"));
    for (name, t) in &by_noise {
        println!("{}", t.row(name));
    }

    if !dedup {
        return;
    }
    // Registration dedup over all registrations (consent does not apply).
    let started = Instant::now();
    let mut all = Index::new();
    let people: Vec<Person> = population.children.iter().map(registered).collect();
    for (i, p) in people.iter().enumerate() {
        all.upsert(i as u128, p);
    }
    let duplicate = Thresholds::duplicate();
    let truth: HashSet<(usize, usize)> = population.duplicate_pairs().into_iter().collect();
    let mut found: HashSet<(usize, usize)> = HashSet::new();
    // The score threshold alone (round 1's rule), for comparison.
    let mut found_by_score: HashSet<(usize, usize)> = HashSet::new();
    let mut best: BTreeMap<(usize, usize), f64> = BTreeMap::new();
    for (i, (p, c)) in people.iter().zip(&population.children).enumerate() {
        let candidates = all.find_duplicates(p, day(c.registered_on), 10);
        let bands = duplicate.duplicate_bands(&candidates);
        for (candidate, band) in candidates.iter().zip(bands) {
            let j = candidate.id as usize;
            if j == i {
                continue;
            }
            let pair = (i.min(j), i.max(j));
            if let Some(out) = lists_out.as_mut() {
                use std::io::Write as _;
                let sibling = population.children[i].household == population.children[j].household;
                write!(
                    out,
                    "D {i} {j} {:.6} {} {} ",
                    candidate.score,
                    u8::from(truth.contains(&pair)),
                    u8::from(sibling)
                )
                .expect("lists");
                for field in FIELDS {
                    let w: f64 = candidate
                        .evidence
                        .iter()
                        .filter(|e| e.field == field)
                        .map(|e| e.weight)
                        .sum();
                    write!(out, "{w:.3},").expect("lists");
                }
                writeln!(out).expect("lists");
            }
            let entry = best.entry(pair).or_insert(0.0);
            *entry = entry.max(candidate.score);
            if candidate.score >= duplicate.likely {
                found_by_score.insert(pair);
            }
            if band == Some(Band::Likely) {
                found.insert(pair);
            }
        }
    }
    if args.iter().any(|a| a == "--sweep") {
        for t in [0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999] {
            let flagged: Vec<_> = best.iter().filter(|(_, s)| **s >= t).collect();
            let tp = flagged.iter().filter(|(p, _)| truth.contains(p)).count();
            let p = ratio(tp, flagged.len());
            let r = ratio(tp, truth.len());
            println!(
                "dedup sweep {t}: precision {p:.3} recall {r:.3} F1 {:.3}",
                f1(p, r)
            );
        }
    }
    let deduped = started.elapsed();
    let children = &population.children;
    let pair_labels = |(i, j): (usize, usize)| -> (&'static str, Vec<pop::Noise>) {
        let mut noise: Vec<pop::Noise> = children[i]
            .noise
            .iter()
            .chain(&children[j].noise)
            .copied()
            .filter(|n| *n != pop::Noise::ReRegistration)
            .collect();
        noise.sort_unstable();
        noise.dedup();
        (culture(children[i].culture), noise)
    };
    let mut overall = Dedup::default();
    let mut by_culture: BTreeMap<&str, Dedup> = BTreeMap::new();
    let mut by_noise: BTreeMap<&str, Dedup> = BTreeMap::new();
    let mut tally = |pair: (usize, usize), f: &dyn Fn(&mut Dedup)| {
        let (c, noise) = pair_labels(pair);
        f(&mut overall);
        f(by_culture.entry(c).or_default());
        for n in noise {
            f(by_noise.entry(n.as_str()).or_default());
        }
    };
    for &pair in &truth {
        tally(pair, &|d| d.true_pairs += 1);
        if found.contains(&pair) {
            tally(pair, &|d| d.found_true += 1);
        }
    }
    let mut shown = 0;
    for &pair in found.difference(&truth) {
        let sibling = children[pair.0].household == children[pair.1].household;
        if std::env::var("POP_DEBUG").as_deref() == Ok("dedup") && shown < 12 {
            shown += 1;
            for k in [pair.0, pair.1] {
                let c = &children[k];
                println!(
                    "  {k} h{} p{} {:?} / {:?} {:?} {:?} f {:?} m {:?} {:?} {:?}",
                    c.household,
                    c.person,
                    c.given_name,
                    c.family_name,
                    c.other_names,
                    c.birth,
                    c.father_name,
                    c.mother_name,
                    c.place_of_birth,
                    c.sex
                );
            }
            println!("  score {:.3}", best.get(&pair).copied().unwrap_or(0.0));
        }
        tally(pair, &|d| {
            d.found_false += 1;
            d.false_siblings += usize::from(sibling);
        });
    }
    println!(
        "\n### Dedup (`Thresholds::duplicate_bands`, likely {:.2}; {:.1} s for {} registrations)\n",
        duplicate.likely,
        deduped.as_secs_f64(),
        people.len()
    );
    let by_score = {
        let tp = found_by_score.intersection(&truth).count();
        let p = ratio(tp, found_by_score.len());
        let r = ratio(tp, truth.len());
        let siblings = found_by_score
            .difference(&truth)
            .filter(|(i, j)| children[*i].household == children[*j].household)
            .count();
        format!(
            "score alone at {:.2} (round 1): precision {p:.3} recall {r:.3} F1 {:.3}, {} false pairs, sibling share {:.2}",
            duplicate.likely,
            f1(p, r),
            found_by_score.len() - tp,
            ratio(siblings, found_by_score.len() - tp)
        )
    };
    println!("{DEDUP_HEADER}");
    println!("{}", overall.row("**all**"));
    for (name, d) in &by_culture {
        println!("{}", d.row(name));
    }
    for (name, d) in &by_noise {
        println!("{}", d.row(name));
    }
    println!("\n{by_score}");
}
