//! The embedded name and place tables (`data/*.txt`), parsed once, and
//! popularity-weighted (Zipf) sampling from them.

use std::sync::OnceLock;

use rand::Rng as _;

use crate::Culture;
use crate::rng::Rng;

/// Which list of a culture's table a name comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Pool {
    Male,
    Female,
    /// Family names: surnames for Ukrainian/Russian, family or tribal names
    /// for Afghan households.
    Surname,
}

/// One name with all the ways it is written.
#[derive(Debug)]
pub(crate) struct Entry {
    /// Spelling groups (see data/README.md); `groups[0][0]` is canonical.
    pub(crate) groups: Vec<Vec<String>>,
    /// Forms in the culture's own script (Arabic, Persian, Ge'ez).
    pub(crate) native: Vec<String>,
    /// Nicknames and diminutives, grouped like `groups`.
    pub(crate) short: Vec<Vec<String>>,
}

impl Entry {
    /// The canonical form: first spelling of the first group.
    pub(crate) fn canonical(&self) -> &str {
        &self.groups[0][0]
    }

    /// Spellings of group `g`, falling back to the first group.
    pub(crate) fn group(&self, g: usize) -> &[String] {
        self.groups.get(g).unwrap_or(&self.groups[0])
    }

    /// Short forms of group `g`, falling back to the first group; may be empty.
    pub(crate) fn short_group(&self, g: usize) -> &[String] {
        match self.short.get(g).or_else(|| self.short.first()) {
            Some(s) => s,
            None => &[],
        }
    }
}

/// A first-level administrative area and its districts.
#[derive(Debug)]
pub(crate) struct Region {
    /// ISO 3166 alpha-2 country code.
    pub(crate) country: String,
    /// Spellings of the region's name; first is canonical.
    pub(crate) names: Vec<String>,
    /// Districts, each with its spellings.
    pub(crate) districts: Vec<Vec<String>>,
}

/// A list of names with its cumulative Zipf weights.
#[derive(Debug)]
pub(crate) struct WeightedList {
    pub(crate) entries: Vec<Entry>,
    cumulative: Vec<f64>,
}

impl WeightedList {
    fn new(entries: Vec<Entry>, exponent: f64) -> Self {
        let mut total = 0.0;
        let cumulative = (0..entries.len())
            .map(|rank| {
                total += 1.0 / ((rank + 1) as f64).powf(exponent);
                total
            })
            .collect();
        Self {
            entries,
            cumulative,
        }
    }

    /// An index drawn by popularity.
    pub(crate) fn sample(&self, rng: &mut Rng) -> u16 {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let x = rng.r#gen::<f64>() * total;
        let i = self.cumulative.partition_point(|&c| c <= x);
        i.min(self.entries.len().saturating_sub(1)) as u16
    }

    /// Index of the entry with this canonical form.
    pub(crate) fn find(&self, canonical: &str) -> Option<u16> {
        self.entries
            .iter()
            .position(|e| e.canonical() == canonical)
            .map(|i| i as u16)
    }
}

/// Everything known about one culture's names and places.
#[derive(Debug)]
pub(crate) struct Table {
    pub(crate) male: WeightedList,
    pub(crate) female: WeightedList,
    pub(crate) surname: WeightedList,
    pub(crate) regions: Vec<Region>,
}

impl Table {
    /// The list for `pool`.
    pub(crate) fn list(&self, pool: Pool) -> &WeightedList {
        match pool {
            Pool::Male => &self.male,
            Pool::Female => &self.female,
            Pool::Surname => &self.surname,
        }
    }

    /// The entry `idx` of `pool`.
    pub(crate) fn entry(&self, pool: Pool, idx: u16) -> &Entry {
        &self.list(pool).entries[usize::from(idx)]
    }
}

/// The parsed table for `culture`, built on first use.
pub(crate) fn table(culture: Culture) -> &'static Table {
    static TABLES: OnceLock<Vec<Table>> = OnceLock::new();
    let tables = TABLES.get_or_init(|| Culture::ALL.iter().map(|&c| build(c)).collect());
    &tables[culture as usize]
}

fn build(culture: Culture) -> Table {
    let (text, exponent) = match culture {
        // Mohamed-family names dominate Arabic and Somali registers, so
        // these lists are steeper.
        Culture::Arabic => (include_str!("../data/arabic.txt"), 1.05),
        Culture::DariPashto => (include_str!("../data/dari_pashto.txt"), 0.95),
        Culture::Tigrinya => (include_str!("../data/tigrinya.txt"), 0.8),
        Culture::Somali => (include_str!("../data/somali.txt"), 1.1),
        Culture::UkrainianRussian => (include_str!("../data/ukrainian_russian.txt"), 0.85),
    };
    parse(text, exponent)
}

fn split_groups(field: &str) -> Vec<Vec<String>> {
    field
        .split(" / ")
        .map(|g| {
            g.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .filter(|g| !g.is_empty())
        .collect()
}

/// Parses one table file. The files are embedded and checked by tests, so a
/// malformed line is a programming error and panics with its text.
fn parse(text: &str, exponent: f64) -> Table {
    let mut section = "";
    let (mut male, mut female, mut surname, mut regions) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') {
            section = line;
            continue;
        }
        let fields: Vec<&str> = line.split('|').map(str::trim).collect();
        if section == "[place]" {
            assert!(fields.len() == 3, "bad place line: {line}");
            let spellings = |s: &str| -> Vec<String> {
                s.split([':', ',']).map(|p| p.trim().to_string()).collect()
            };
            regions.push(Region {
                country: fields[0].to_string(),
                names: spellings(fields[1]),
                districts: fields[2].split(';').map(spellings).collect(),
            });
            continue;
        }
        let groups = split_groups(fields[0]);
        assert!(!groups.is_empty(), "empty name line: {line}");
        let entry = Entry {
            groups,
            native: fields
                .get(1)
                .map(|f| {
                    f.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default(),
            short: fields.get(2).map(|f| split_groups(f)).unwrap_or_default(),
        };
        match section {
            "[male]" => male.push(entry),
            "[female]" => female.push(entry),
            "[surname]" => surname.push(entry),
            other => panic!("name line outside a known section {other}: {line}"),
        }
    }
    Table {
        male: WeightedList::new(male, exponent),
        female: WeightedList::new(female, exponent),
        surname: WeightedList::new(surname, 0.7),
        regions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_culture_has_enough_names_and_places() {
        for c in Culture::ALL {
            let t = table(c);
            assert!(t.male.entries.len() >= 40, "{c:?} male");
            assert!(t.female.entries.len() >= 40, "{c:?} female");
            assert!(t.regions.len() >= 5, "{c:?} regions");
            for r in &t.regions {
                assert!(r.districts.len() >= 2, "{c:?} {:?}", r.names);
            }
            // Native script present wherever the culture has one.
            if matches!(c, Culture::Arabic | Culture::DariPashto | Culture::Tigrinya) {
                for e in t.male.entries.iter().chain(&t.female.entries) {
                    assert!(
                        !e.native.is_empty(),
                        "{c:?} {} lacks native form",
                        e.canonical()
                    );
                }
            }
            if matches!(c, Culture::UkrainianRussian | Culture::DariPashto) {
                assert!(t.surname.entries.len() >= 25, "{c:?} surnames");
            }
            if c == Culture::UkrainianRussian {
                for e in t
                    .male
                    .entries
                    .iter()
                    .chain(&t.female.entries)
                    .chain(&t.surname.entries)
                {
                    assert_eq!(
                        e.groups.len(),
                        2,
                        "{} needs Ukrainian / Russian",
                        e.canonical()
                    );
                }
            }
        }
    }

    #[test]
    fn canonical_names_are_unique_per_list() {
        for c in Culture::ALL {
            let t = table(c);
            for list in [&t.male, &t.female, &t.surname] {
                let mut seen = std::collections::HashSet::new();
                for e in &list.entries {
                    assert!(
                        seen.insert(e.canonical()),
                        "{c:?} duplicate {}",
                        e.canonical()
                    );
                }
            }
        }
    }

    #[test]
    fn zipf_head_is_frequent() {
        let t = table(Culture::Somali);
        let mut rng = Rng::new(3, 0);
        let n = 20_000;
        let top = (0..n).filter(|_| t.male.sample(&mut rng) == 0).count();
        // Maxamed should be well over 10% of Somali boys.
        assert!(top * 10 > n, "top name share {top}/{n}");
    }
}
