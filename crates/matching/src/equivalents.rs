//! Equivalence groups: spellings of one name that no phonetic rule can join.
//!
//! Some variants are too far apart for the skeleton (`Fatima` / `Faadumo`,
//! `Oleksandr` / `Aleksandr`, `Sasha`), so a reviewable data file lists them:
//! `data/name-equivalents.txt`, one group per line,
//! `canonical: variant, variant, …`, with `#` comments. Variants may be
//! written in any script; each is folded exactly like a query, so the file is
//! matched against folded tokens.

use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

use crate::normalise::fold_tokens;

/// The embedded data file.
const DATA: &str = include_str!("../data/name-equivalents.txt");

/// Folded variant → canonical group id, built once from [`DATA`].
static GROUPS: LazyLock<HashMap<String, &'static str>> = LazyLock::new(|| parse(DATA).groups);

/// The embedded nickname file: `group: nickname, …`, same syntax.
const NICKNAMES: &str = include_str!("../data/nicknames.txt");

/// Folded nickname → the groups it is a nickname in (a nickname may serve
/// several names: Abdi for Abdullahi and Abdirahman).
static NICKS: LazyLock<HashMap<String, Vec<&'static str>>> = LazyLock::new(|| {
    let mut map: HashMap<String, Vec<&'static str>> = HashMap::new();
    for raw in NICKNAMES.lines() {
        let content = raw.split('#').next().unwrap_or_default().trim();
        let Some((group, nicks)) = content.split_once(':') else {
            continue;
        };
        for nick in nicks.split(',') {
            if let [one] = fold_tokens(nick).as_slice() {
                map.entry(one.clone()).or_default().push(group.trim());
            }
        }
    }
    map
});

/// The groups a folded token is a listed nickname in (empty if none).
pub(crate) fn nickname_groups(token: &str) -> &'static [&'static str] {
    NICKS.get(token).map_or(&[], Vec::as_slice)
}

/// The canonical id of the group a folded token belongs to, if any.
pub(crate) fn group_of(token: &str) -> Option<&'static str> {
    GROUPS.get(token).copied()
}

/// The result of reading an equivalence file: the usable lookup, plus every
/// problem found. Problems never stop loading (a bad line is skipped, a
/// conflicting variant keeps its first group); a unit test keeps the shipped
/// file free of them.
#[derive(Debug, Default)]
pub(crate) struct Parsed<'a> {
    pub(crate) groups: HashMap<String, &'a str>,
    pub(crate) problems: Vec<Problem>,
}

/// Something wrong with one line of an equivalence file (1-based line number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Problem {
    /// The line has no `canonical:` part.
    MissingColon { line: usize },
    /// The canonical id is not lowercase ASCII letters.
    BadCanonical { line: usize, canonical: String },
    /// The group lists no variants.
    NoVariants { line: usize },
    /// A variant is empty or folds to no token or to several tokens.
    NotOneToken { line: usize, variant: String },
    /// A variant (after folding) is already in a different group.
    Conflict {
        line: usize,
        variant: String,
        first: String,
        second: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingColon { line } => write!(f, "line {line}: expected `canonical: variants`"),
            Self::BadCanonical { line, canonical } => {
                write!(
                    f,
                    "line {line}: canonical id {canonical:?} must be lowercase a-z"
                )
            }
            Self::NoVariants { line } => write!(f, "line {line}: group has no variants"),
            Self::NotOneToken { line, variant } => {
                write!(
                    f,
                    "line {line}: variant {variant:?} does not fold to exactly one token"
                )
            }
            Self::Conflict {
                line,
                variant,
                first,
                second,
            } => {
                write!(
                    f,
                    "line {line}: {variant:?} is in both {first:?} and {second:?}"
                )
            }
        }
    }
}

/// Reads an equivalence file. The canonical id counts as a variant of its group.
pub(crate) fn parse(text: &str) -> Parsed<'_> {
    let mut parsed = Parsed::default();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let content = raw.split('#').next().unwrap_or_default().trim();
        if !content.is_empty() {
            parse_group(line, content, &mut parsed);
        }
    }
    parsed
}

/// Reads one non-empty, comment-free line into `parsed`.
fn parse_group<'a>(line: usize, content: &'a str, parsed: &mut Parsed<'a>) {
    let Some((canonical, variants)) = content.split_once(':') else {
        parsed.problems.push(Problem::MissingColon { line });
        return;
    };
    let canonical = canonical.trim();
    if canonical.is_empty() || !canonical.bytes().all(|b| b.is_ascii_lowercase()) {
        let canonical = canonical.to_owned();
        parsed
            .problems
            .push(Problem::BadCanonical { line, canonical });
        return;
    }
    if variants.trim().is_empty() {
        parsed.problems.push(Problem::NoVariants { line });
        return;
    }
    add_variant(line, canonical, canonical, parsed);
    for variant in variants.split(',') {
        add_variant(line, canonical, variant.trim(), parsed);
    }
}

/// Folds one variant and records it under `canonical`.
///
/// Repeats within one group are fine (`حسین` with Persian yeh and `حسين` with
/// Arabic yeh fold alike); the same fold in two groups is a conflict.
fn add_variant<'a>(line: usize, canonical: &'a str, variant: &str, parsed: &mut Parsed<'a>) {
    let folded = match fold_tokens(variant).as_slice() {
        [one] => one.clone(),
        _ => {
            let variant = variant.to_owned();
            parsed.problems.push(Problem::NotOneToken { line, variant });
            return;
        }
    };
    match parsed.groups.get(&folded) {
        Some(&first) if first != canonical => parsed.problems.push(Problem::Conflict {
            line,
            variant: variant.to_owned(),
            first: first.to_owned(),
            second: canonical.to_owned(),
        }),
        Some(_) => {}
        None => {
            parsed.groups.insert(folded, canonical);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_file_parses_without_problems() {
        let parsed = parse(DATA);
        let report: Vec<String> = parsed.problems.iter().map(ToString::to_string).collect();
        assert!(
            report.is_empty(),
            "name-equivalents.txt:\n{}",
            report.join("\n")
        );
    }

    #[test]
    fn shipped_file_has_a_useful_number_of_groups() {
        let mut ids: Vec<&str> = parse(DATA).groups.into_values().collect();
        ids.sort_unstable();
        ids.dedup();
        assert!((30..=160).contains(&ids.len()), "{} groups", ids.len());
    }

    #[test]
    fn every_group_line_has_variants_beyond_its_id() {
        for (index, raw) in DATA.lines().enumerate() {
            let content = raw.split('#').next().unwrap_or_default().trim();
            if let Some((id, variants)) = content.split_once(':') {
                let others = variants
                    .split(',')
                    .filter(|v| fold_tokens(v) != [id.trim()]);
                assert!(
                    others.count() > 0,
                    "line {}: {id} has no other variant",
                    index + 1
                );
            }
        }
    }

    #[test]
    fn variants_are_looked_up_by_their_fold() {
        assert_eq!(group_of("faadumo"), Some("fatima"));
        assert_eq!(group_of("mhmd"), Some("muhammad"));
        assert_eq!(group_of("sasha"), Some("oleksandr"));
        assert_eq!(group_of("fatima"), Some("fatima"));
        assert_eq!(group_of("zzzz"), None);
    }

    #[test]
    fn nickname_file_names_existing_groups_only() {
        let groups: Vec<&str> = parse(DATA).groups.into_values().collect();
        for (index, raw) in NICKNAMES.lines().enumerate() {
            let content = raw.split('#').next().unwrap_or_default().trim();
            if content.is_empty() {
                continue;
            }
            let (group, nicks) = content.split_once(':').expect("nickname line has a colon");
            assert!(
                groups.contains(&group.trim()),
                "line {}: {group}",
                index + 1
            );
            for nick in nicks.split(',') {
                assert_eq!(fold_tokens(nick).len(), 1, "line {}: {nick}", index + 1);
            }
        }
        assert_eq!(nickname_groups("sasha"), ["oleksandr", "oleksandra"]);
    }

    #[test]
    fn comments_and_blank_lines_are_ignored() {
        let parsed = parse("# heading\n\n  a: b, c # trailing comment\n");
        assert!(parsed.problems.is_empty());
        assert_eq!(parsed.groups.len(), 3);
    }

    #[test]
    fn malformed_lines_are_reported_with_their_line_number() {
        let parsed = parse("no colon here\nBad Id: x\nok:\noktwo: two words, ,fine\n");
        assert_eq!(
            parsed.problems,
            [
                Problem::MissingColon { line: 1 },
                Problem::BadCanonical {
                    line: 2,
                    canonical: "Bad Id".to_owned()
                },
                Problem::NoVariants { line: 3 },
                Problem::NotOneToken {
                    line: 4,
                    variant: "two words".to_owned()
                },
                Problem::NotOneToken {
                    line: 4,
                    variant: String::new()
                },
            ]
        );
    }

    #[test]
    fn a_variant_in_two_groups_is_a_conflict_and_keeps_its_first_group() {
        let parsed = parse("one: shared\ntwo: Shared\n");
        assert_eq!(
            parsed.problems,
            [Problem::Conflict {
                line: 2,
                variant: "Shared".to_owned(),
                first: "one".to_owned(),
                second: "two".to_owned(),
            }]
        );
        assert_eq!(parsed.groups.get("shared"), Some(&"one"));
    }
}
