//! Search keys: what is stored per child name and what a query looks up.
//!
//! A stored name gets the union of its tokens' keys (`child_name_keys(child_id,
//! key)`); a query gets one key set per token, and a child matches when every
//! query token shares at least one key with the child's name. Keys are plain
//! strings so the lookup is an ordinary index probe, never a scan.
//!
//! Every key starts with its family prefix, so families never collide:
//!
//! | prefix | family | example |
//! |---|---|---|
//! | `f:` | the ASCII fold itself | `f:oleksandr` |
//! | `s:` | a consonant skeleton (see [`crate::skeleton`]) | `s:mhmd` |
//! | `e:` | an equivalence group from `data/name-equivalents.txt` | `e:fatima` |

use crate::equivalents::group_of;
use crate::normalise::fold_tokens;
use crate::skeleton::skeletons;

/// The most tokens a query may have; further tokens are ignored, which bounds
/// the number of index probes per search.
pub const MAX_QUERY_TOKENS: usize = 8;

/// The key families. Private for now: callers only need the key strings, but
/// a later ranking engine can use the family to weigh a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Fold,
    Skeleton,
    Equivalent,
}

impl Family {
    /// The prefix that keeps this family's keys apart from the others.
    const fn prefix(self) -> &'static str {
        match self {
            Self::Fold => "f:",
            Self::Skeleton => "s:",
            Self::Equivalent => "e:",
        }
    }

    fn key(self, body: &str) -> String {
        let prefix = self.prefix();
        let mut key = String::with_capacity(prefix.len() + body.len());
        key.push_str(prefix);
        key.push_str(body);
        key
    }
}

/// The keys for one folded token: its fold, its skeleton(s) and its
/// equivalence group, sorted and deduplicated.
///
/// The input is folded again first, so the keys are lowercase ASCII whatever
/// is passed in; for an already-folded token that is a no-op. Should the
/// input fold to several tokens, their keys are merged.
pub fn token_keys(token: &str) -> Vec<String> {
    sorted_keys(fold_tokens(token).iter().map(String::as_str))
}

/// The search keys stored for a full name string (e.g. `"Muhammad
/// Abdullahi"`): the deduplicated union of [`token_keys`] over its folded
/// tokens, sorted.
pub fn name_keys(name: &str) -> Vec<String> {
    token_keys(name)
}

/// Typo keys for a full name string (family `d:`): each folded token and, for tokens long enough, each
/// of its single-letter deletions. Two spellings one edit apart share one (`smith`/`smyth` share
/// `d:smth`, `smiht`/`smith` share `d:smit`). Stored beside [`name_keys`] for the duplicate check at
/// registration, which must reach re-registrations with a typo in every token; search never asks for
/// them, so it stays as strict as before.
pub fn typo_keys(name: &str) -> Vec<String> {
    let mut keys: Vec<String> = fold_tokens(name)
        .iter()
        .flat_map(|token| std::iter::once(token.clone()).chain(crate::names::deletions(token)))
        .map(|body| format!("d:{body}"))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The keys of a search query, one `Vec` per folded query token, in query
/// order. A child matches when every query token matches at least one of its
/// keys. Repeated tokens are asked once, and only the first
/// [`MAX_QUERY_TOKENS`] distinct tokens are used. An empty or
/// punctuation-only query gives an empty `Vec`.
pub fn query_keys(query: &str) -> Vec<Vec<String>> {
    let mut tokens: Vec<String> = Vec::new();
    for token in fold_tokens(query) {
        if tokens.len() == MAX_QUERY_TOKENS {
            break;
        }
        if !tokens.contains(&token) {
            tokens.push(token);
        }
    }
    tokens
        .iter()
        .map(|token| sorted_keys(std::iter::once(token.as_str())))
        .collect()
}

/// The sorted, deduplicated keys of some folded tokens.
fn sorted_keys<'a>(tokens: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut keys: Vec<String> = tokens.flat_map(folded_token_keys).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The keys of one token that is already folded.
fn folded_token_keys(token: &str) -> Vec<String> {
    let mut keys = vec![Family::Fold.key(token)];
    keys.extend(skeletons(token).iter().map(|s| Family::Skeleton.key(s)));
    if let Some(group) = group_of(token) {
        keys.push(Family::Equivalent.key(group));
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_keys_have_one_key_per_family() {
        assert_eq!(token_keys("fatima"), ["e:fatima", "f:fatima", "s:ftmh"]);
    }

    #[test]
    fn token_keys_without_group_or_long_skeleton_is_just_the_fold() {
        assert_eq!(token_keys("jo"), ["f:jo"]);
    }

    #[test]
    fn token_keys_folds_unfolded_input() {
        assert_eq!(token_keys("FATIMA"), token_keys("fatima"));
        assert!(token_keys("").is_empty());
    }

    #[test]
    fn name_keys_is_the_sorted_union_of_token_keys() {
        let mut expected = token_keys("ali");
        expected.extend(token_keys("hassan"));
        expected.sort();
        expected.dedup();
        assert_eq!(name_keys("Ali Hassan"), expected);
    }

    #[test]
    fn query_keys_drops_repeated_tokens() {
        assert_eq!(query_keys("Ali ali ALI").len(), 1);
    }

    #[test]
    fn query_keys_keeps_query_order() {
        let groups = query_keys("Hassan Ali");
        assert_eq!(groups, [token_keys("hassan"), token_keys("ali")]);
    }
}
