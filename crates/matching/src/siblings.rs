//! Sibling disambiguation for a request that seeks several children: one
//! registered child can be only one of them.

use std::collections::HashMap;

use crate::model::{Candidate, Evidence, Field, Reason, RecordId, Strength};
use crate::score::{log2_odds, probability};

/// Resolves records proposed for more than one sought sibling.
///
/// Rule: a record ranked for several sought children stays, unchanged, with
/// the child it scores highest for (on a tie, the earlier child in
/// `per_sought`). For every other child its probability `p` becomes
/// `p × (1 − p_best)`: the record can be this child only if it is not the
/// better-fitting one, and the two events exclude each other. The change is
/// recorded as `Sibling` evidence ("fits another sought sibling better")
/// whose weight is the drop in log2 odds, and each list is re-sorted. Scores
/// are compared as given, so the result does not depend on processing order.
pub fn assign_siblings(per_sought: &mut [Vec<Candidate>]) {
    // record -> (best score, index of the sought child it stays with)
    let mut best: HashMap<RecordId, (f64, usize)> = HashMap::new();
    let mut seen: HashMap<RecordId, usize> = HashMap::new();
    for (child, candidates) in per_sought.iter().enumerate() {
        for candidate in candidates {
            *seen.entry(candidate.id).or_default() += 1;
            let entry = best.entry(candidate.id).or_insert((candidate.score, child));
            if candidate.score > entry.0 {
                *entry = (candidate.score, child);
            }
        }
    }
    for (child, candidates) in per_sought.iter_mut().enumerate() {
        for candidate in candidates.iter_mut() {
            if seen.get(&candidate.id).copied().unwrap_or(0) < 2 {
                continue;
            }
            let Some(&(owner_score, owner)) = best.get(&candidate.id) else {
                continue;
            };
            if owner == child {
                continue;
            }
            let lowered = candidate.score * (1.0 - owner_score);
            let weight = log2_odds(lowered) - log2_odds(candidate.score);
            candidate.evidence.push(Evidence {
                field: Field::Sibling,
                strength: Strength::Disagrees,
                weight,
                reason: Reason::BetterFitForSibling,
            });
            candidate.score = probability(log2_odds(lowered)).min(lowered.max(0.0));
        }
        candidates.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    }
}
