//! FEBRL4 (linkage) and FEBRL3 (dedup) evaluation and weight fitting, on
//! names and date of birth only.
//!
//! Export the data first (outside the repository), then:
//!
//! ```text
//! cargo run --release -p haven-matching --example febrl -- DIR        # evaluate
//! cargo run --release -p haven-matching --example febrl -- fit DIR    # fit m/u on FEBRL3
//! ```

use std::collections::{HashMap, HashSet};
use std::error::Error;
use std::fs;
use std::path::Path;

use haven_matching::{
    Band, Candidate, Day, Evidence, Field, Index, MatchContext, PartialDate, Person, Reason,
    RecordId, Sought, Strength, Thresholds, compare,
};

/// The day every FEBRL query is "asked" (no ages in FEBRL, so it is unused).
const ASKED: Day = Day::new(2020, 1, 1);

#[derive(Debug, Clone)]
struct Record {
    rec_id: String,
    person: Person,
}

/// Reads `rec_id,given_name,surname,date_of_birth` (no quoting in FEBRL).
fn read_records(path: &Path) -> Result<Vec<Record>, Box<dyn Error>> {
    let text = fs::read_to_string(path)?;
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let [rec_id, given, surname, dob] = fields.as_slice() else {
            return Err(format!("{}: bad line {line:?}", path.display()).into());
        };
        out.push(Record {
            rec_id: (*rec_id).to_owned(),
            person: Person {
                given_name: (*given).to_owned(),
                family_name: (*surname).to_owned(),
                birth_date: parse_dob(dob),
                ..Person::default()
            },
        });
    }
    Ok(out)
}

/// `YYYYMMDD`, kept even when FEBRL's corruption made it an impossible date
/// (digit comparison still works on it).
fn parse_dob(text: &str) -> Option<PartialDate> {
    if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year = text[..4].parse().ok()?;
    let month = text[4..6].parse().ok()?;
    let day = text[6..8].parse().ok()?;
    Some(PartialDate::full(year, month, day))
}

fn read_links(path: &Path) -> Result<Vec<(String, String)>, Box<dyn Error>> {
    let text = fs::read_to_string(path)?;
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let (a, b) = line.split_once(',').ok_or("bad link line")?;
        out.push((a.to_owned(), b.to_owned()));
    }
    Ok(out)
}

fn sought(person: &Person) -> Sought {
    Sought::new(person.clone(), ASKED)
}

fn f1(tp: usize, predicted: usize, truth: usize) -> (f64, f64, f64) {
    let precision = if predicted == 0 {
        0.0
    } else {
        tp as f64 / predicted as f64
    };
    let recall = tp as f64 / truth.max(1) as f64;
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    (precision, recall, f1)
}

fn febrl4(dir: &Path, thresholds: Thresholds) -> Result<(), Box<dyn Error>> {
    let a = read_records(&dir.join("febrl4_a.csv"))?;
    let b = read_records(&dir.join("febrl4_b.csv"))?;
    let links = read_links(&dir.join("febrl4_links.csv"))?;
    let truth: HashMap<&str, &str> = links
        .iter()
        .map(|(x, y)| (y.as_str(), x.as_str()))
        .collect();
    let mut index = Index::new();
    for (i, record) in a.iter().enumerate() {
        index.upsert(i as RecordId, &record.person);
    }
    let (mut at1, mut at10, mut predicted, mut tp, mut queries) = (0, 0, 0, 0, 0);
    // `likely` as `Thresholds::bands_for` decides it on the ranked list.
    let (mut ranked_predicted, mut ranked_tp) = (0, 0);
    let mut missed: Vec<String> = Vec::new();
    for record in &b {
        let Some(&want) = truth.get(record.rec_id.as_str()) else {
            continue;
        };
        queries += 1;
        let found = index.find(&sought(&record.person), &MatchContext::default(), 10);
        let ids: Vec<&str> = found
            .iter()
            .map(|c| a[c.id as usize].rec_id.as_str())
            .collect();
        if ids.first() == Some(&want) {
            at1 += 1;
        }
        if ids.contains(&want) {
            at10 += 1;
        } else if missed.len() < 8 {
            let target = a.iter().find(|r| r.rec_id == want).map(|r| &r.person);
            missed.push(format!(
                "  missed {:?} -> {:?}",
                brief(&record.person),
                target.map(brief)
            ));
        }
        for (band, id) in thresholds.bands_for(&found).iter().zip(&ids) {
            if *band == Some(Band::Likely) {
                ranked_predicted += 1;
                ranked_tp += usize::from(*id == want);
            }
        }
        for (candidate, id) in found.iter().zip(&ids) {
            if thresholds.band(candidate.score) == Some(Band::Likely) {
                predicted += 1;
                if *id == want {
                    tp += 1;
                }
            }
        }
    }
    let (p, r, f) = f1(tp, predicted, links.len());
    println!(
        "FEBRL4 link: {} + {} records, {} true pairs",
        a.len(),
        b.len(),
        links.len()
    );
    println!(
        "  recall@1 {:.4}  recall@10 {:.4}",
        at1 as f64 / queries as f64,
        at10 as f64 / queries as f64
    );
    println!(
        "  likely (>= {:.2}): precision {p:.4} recall {r:.4} F1 {f:.4} ({predicted} predicted)",
        thresholds.likely
    );
    let (p, r, f) = f1(ranked_tp, ranked_predicted, links.len());
    println!(
        "  likely (Thresholds::bands_for): precision {p:.4} recall {r:.4} F1 {f:.4} ({ranked_predicted} predicted)"
    );
    for line in missed {
        println!("{line}");
    }
    Ok(())
}

fn brief(p: &Person) -> String {
    let dob = p
        .birth_date
        .map(|d| format!("{}-{:?}-{:?}", d.year, d.month, d.day))
        .unwrap_or_default();
    format!("{} | {} | {dob}", p.given_name, p.family_name)
}

fn febrl3(dir: &Path, thresholds: Thresholds) -> Result<(), Box<dyn Error>> {
    let records = read_records(&dir.join("febrl3.csv"))?;
    let links = read_links(&dir.join("febrl3_links.csv"))?;
    let position: HashMap<&str, usize> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.rec_id.as_str(), i))
        .collect();
    let truth: HashSet<(usize, usize)> = links
        .iter()
        .filter_map(|(x, y)| {
            Some(ordered(
                *position.get(x.as_str())?,
                *position.get(y.as_str())?,
            ))
        })
        .collect();
    let mut index = Index::new();
    for (i, record) in records.iter().enumerate() {
        index.upsert(i as RecordId, &record.person);
    }
    let mut predicted: HashSet<(usize, usize)> = HashSet::new();
    let mut proposed: HashSet<(usize, usize)> = HashSet::new();
    // Pairs `Thresholds::duplicate_bands` reports (with `Thresholds::duplicate()`).
    let mut reported: HashSet<(usize, usize)> = HashSet::new();
    let duplicate = Thresholds::duplicate();
    for (i, record) in records.iter().enumerate() {
        let candidates = index.find_duplicates(&record.person, ASKED, 20);
        for (candidate, band) in candidates
            .iter()
            .zip(duplicate.duplicate_bands(&candidates))
        {
            if band == Some(Band::Likely) && candidate.id as usize != i {
                reported.insert(ordered(i, candidate.id as usize));
            }
        }
        for candidate in candidates {
            let j = candidate.id as usize;
            if j == i {
                continue;
            }
            proposed.insert(ordered(i, j));
            if thresholds.band(candidate.score) == Some(Band::Likely) {
                predicted.insert(ordered(i, j));
            }
        }
    }
    let tp = predicted.intersection(&truth).count();
    let found = proposed.intersection(&truth).count();
    let (p, r, f) = f1(tp, predicted.len(), truth.len());
    println!(
        "FEBRL3 dedup: {} records, {} true pairs",
        records.len(),
        truth.len()
    );
    println!(
        "  candidate recall (top 20) {:.4}",
        found as f64 / truth.len() as f64
    );
    println!(
        "  likely (>= {:.2}): precision {p:.4} recall {r:.4} F1 {f:.4} ({} predicted)",
        thresholds.likely,
        predicted.len()
    );
    let tp = reported.intersection(&truth).count();
    let (p, r, f) = f1(tp, reported.len(), truth.len());
    println!(
        "  Thresholds::duplicate_bands (likely {:.2}): precision {p:.4} recall {r:.4} F1 {f:.4} ({} predicted)",
        duplicate.likely,
        reported.len()
    );
    Ok(())
}

fn ordered(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}

/// The comparison level an evidence item stands for, as fitted.
fn level(e: &Evidence) -> &'static str {
    match (e.strength, e.reason) {
        (_, Reason::ReorderedTokens) => "swapped",
        (Strength::Missing, _) => "missing",
        (Strength::Exact, _) => "exact",
        (Strength::Strong, Reason::SpellingVariant | Reason::BirthDateTypo) => "typo",
        (Strength::Strong, _) => "variant",
        (Strength::Weak, _) => "weak",
        (Strength::Disagrees, _) => "disagree",
    }
}

/// Fits m and u per field level on FEBRL3: m from the true duplicate pairs,
/// u from random pairs that are not duplicates. Weights are log2(m/u); the
/// prior is then fitted (log loss) on the pairs the index proposes.
fn fit(dir: &Path, file: &str, links_file: &str) -> Result<(), Box<dyn Error>> {
    let records = read_records(&dir.join(file))?;
    let links = read_links(&dir.join(links_file))?;
    let position: HashMap<&str, usize> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.rec_id.as_str(), i))
        .collect();
    let truth: HashSet<(usize, usize)> = links
        .iter()
        .filter_map(|(x, y)| {
            Some(ordered(
                *position.get(x.as_str())?,
                *position.get(y.as_str())?,
            ))
        })
        .collect();
    let tally = |pairs: &mut dyn Iterator<Item = (usize, usize)>| {
        let mut counts: HashMap<(Field, &'static str), f64> = HashMap::new();
        let mut n = 0.0;
        for (i, j) in pairs {
            n += 1.0;
            let (_, evidence) = compare(&sought(&records[i].person), &records[j].person, None);
            for e in &evidence {
                *counts.entry((e.field, level(e))).or_default() += 1.0;
            }
        }
        (counts, n)
    };
    let (m, nm) = tally(&mut truth.iter().copied());
    // A fixed linear congruential sequence: reproducible, no rand dependency.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |bound: usize| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 33) as usize) % bound
    };
    let mut random = Vec::new();
    while random.len() < 200_000 {
        let (i, j) = (next(records.len()), next(records.len()));
        if i != j && !truth.contains(&ordered(i, j)) {
            random.push((i, j));
        }
    }
    let (u, nu) = tally(&mut random.into_iter());
    let mut keys: Vec<(Field, &'static str)> = m.keys().chain(u.keys()).copied().collect();
    keys.sort_by_key(|(f, l)| (f.as_str(), *l));
    keys.dedup();
    println!(
        "fitted on {file}: {} true pairs, {} random non-pairs",
        nm, nu
    );
    println!(
        "{:<12} {:<9} {:>8} {:>10} {:>8}",
        "field", "level", "m", "u", "log2(m/u)"
    );
    for k in keys {
        let mk = (m.get(&k).copied().unwrap_or(0.0) + 0.5) / (nm + 1.0);
        let uk = (u.get(&k).copied().unwrap_or(0.0) + 0.5) / (nu + 1.0);
        println!(
            "{:<12} {:<9} {:>8.4} {:>10.6} {:>8.2}",
            k.0.as_str(),
            k.1,
            mk,
            uk,
            (mk / uk).log2()
        );
    }

    // Prior: minimise log loss of the index's proposals over a grid.
    let mut index = Index::new();
    for (i, record) in records.iter().enumerate() {
        index.upsert(i as RecordId, &record.person);
    }
    let mut scored: Vec<(f64, bool)> = Vec::new();
    for (i, record) in records.iter().enumerate() {
        for candidate in index.find_duplicates(&record.person, ASKED, 10) {
            let j = candidate.id as usize;
            if j != i {
                scored.push((
                    log_odds_without_prior(&candidate),
                    truth.contains(&ordered(i, j)),
                ));
            }
        }
    }
    let mut best = (f64::INFINITY, 0.0);
    for step in 0..=400 {
        let prior = -30.0 + step as f64 * 0.1;
        let loss: f64 = scored
            .iter()
            .map(|(w, y)| {
                let p = (1.0 / (1.0 + (-(w + prior)).exp2())).clamp(1e-12, 1.0 - 1e-12);
                if *y { -p.ln() } else { -(1.0 - p).ln() }
            })
            .sum();
        if loss < best.0 {
            best = (loss, prior);
        }
    }
    println!(
        "prior (log2 odds) minimising log loss over {} proposed pairs: {:.1}",
        scored.len(),
        best.1
    );
    Ok(())
}

/// The evidence sum of a candidate (its log2 odds minus the prior).
fn log_odds_without_prior(candidate: &Candidate) -> f64 {
    candidate.evidence.iter().map(|e| e.weight).sum()
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [cmd, dir] if cmd == "fit" => fit(Path::new(dir), "febrl3.csv", "febrl3_links.csv"),
        [cmd, dir] if cmd == "fit4" => {
            // FEBRL4 as one file of 10,000 records for fitting on the other set.
            let dir = Path::new(dir);
            let a = fs::read_to_string(dir.join("febrl4_a.csv"))?;
            let b = fs::read_to_string(dir.join("febrl4_b.csv"))?;
            let tmp = std::env::temp_dir().join("haven-febrl4-merged");
            fs::create_dir_all(&tmp)?;
            let merged: String = a
                .lines()
                .chain(b.lines().skip(1))
                .map(|l| format!("{l}\n"))
                .collect();
            fs::write(tmp.join("merged.csv"), merged)?;
            fs::copy(dir.join("febrl4_links.csv"), tmp.join("links.csv"))?;
            fit(&tmp, "merged.csv", "links.csv")
        }
        [dir] => {
            let thresholds = Thresholds::default();
            febrl4(Path::new(dir), thresholds)?;
            febrl3(Path::new(dir), thresholds)
        }
        _ => Err("usage: febrl [fit|fit4] DIR".into()),
    }
}
