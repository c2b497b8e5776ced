//! Decisions on a whole ranked list rather than one score: which candidate
//! of a search to commit to (`likely`), and which duplicate-check candidates
//! to report. Both were fitted on the tuning seed of the field-like
//! population (`tests/eval/fit_bands.py`; SCORING.md, "Decisions on ranked
//! lists").

use crate::model::{Band, Candidate, Field, Thresholds};
use crate::score::{CALIBRATION, log2_odds, probability};

/// The ranked `likely` rule of [`Thresholds::bands_for`]: the best
/// candidate is `likely` when
/// `log2odds(score) + share × min(lead over the second, cap)` reaches
/// `log2odds(likely) + lead`. Later candidates are `likely` only when the
/// best one is, and from `later` up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RankedRule {
    pub(crate) share: f64,
    pub(crate) cap: f64,
    pub(crate) lead: f64,
    pub(crate) later: f64,
}

/// Fitted on the tuning seed at 10k and 100k records together: the highest
/// `likely` recall with precision at least 0.955 and false `likely` at most
/// 1.7 % at both sizes.
pub(crate) const RANKED: RankedRule = RankedRule {
    share: 1.0,
    cap: 8.0,
    lead: 4.75,
    later: 0.80,
};

/// The fields in the order of [`DUPLICATE_AGREE`] and [`DUPLICATE_DISAGREE`].
const DUPLICATE_FIELDS: [Field; 9] = [
    Field::GivenName,
    Field::FamilyName,
    Field::NameChain,
    Field::OtherNames,
    Field::Sex,
    Field::Birth,
    Field::Age,
    Field::Place,
    Field::Parent,
];

/// Multipliers of each field's agreeing evidence in
/// [`duplicate_probability`]. Both records of a duplicate pair were written
/// by officers, so the place of birth and the parents' names, which a
/// sibling shares but a look-alike household does not, count for more than
/// in tracing. Fitted values under zero (sex) stand in for the intercept and
/// are set to zero.
const DUPLICATE_AGREE: [f64; 9] = [0.861, 0.724, 0.301, 0.512, 0.0, 0.710, 0.521, 3.594, 1.424];

/// Multipliers of each field's disagreeing evidence: a different given
/// name, place of birth or parent's name rules a pair out more firmly than
/// tracing's weights say. Other names disagreeing fitted under zero: zero.
const DUPLICATE_DISAGREE: [f64; 9] = [2.252, 1.359, 1.329, 0.0, 1.206, 0.843, 0.881, 2.636, 2.208];

/// log2 odds before evidence, placed so that 0.50 is the threshold with the
/// best F1 on the tuning seed.
const DUPLICATE_INTERCEPT: f64 = -7.252;

/// A pair scoring this much on the calibrated score alone is reported
/// whatever the re-weighting says: the fit saw records with places of birth
/// and parents' names, and records without them (FEBRL3's) should not lose
/// what the score already knows.
const DUPLICATE_SCORE_ALONE: f64 = 0.95;

/// The registry-size part of the prior (log2) in the data the re-weighting
/// was fitted on: 10,233 registrations, `CALIBRATION.size_slope ×
/// log2(10,233 / 5,000)`. A candidate's own size part (recovered from its
/// score) is applied relative to it, so that a larger registry, with more
/// look-alike households per child, needs more evidence for a duplicate.
const DUPLICATE_FIT_SIZE_SHIFT: f64 = -0.827;

/// Scores below this are never reported as duplicates, whatever the
/// re-weighting says (the fit saw only pairs from 0.01 up).
const DUPLICATE_FLOOR: f64 = 0.01;

/// The probability that a duplicate-check candidate (from
/// [`crate::Index::find_duplicates`] or [`crate::compare`]) is the same
/// child registered again: its evidence re-weighted field by field for two
/// officers' records of one child, with the registry-size part of the
/// score's prior (see SCORING.md). Use it with
/// [`Thresholds::duplicate`]; [`Thresholds::duplicate_bands`] does both.
pub fn duplicate_probability(candidate: &Candidate) -> f64 {
    if candidate.score < DUPLICATE_FLOOR {
        return 0.0;
    }
    let evidence: f64 = candidate.evidence.iter().map(|e| e.weight).sum();
    // The score is the logistic of prior + size part + evidence.
    let size_shift = (log2_odds(candidate.score) - CALIBRATION.prior - evidence).clamp(-12.0, 0.0);
    let mut z = DUPLICATE_INTERCEPT + size_shift - DUPLICATE_FIT_SIZE_SHIFT;
    for (k, field) in DUPLICATE_FIELDS.iter().enumerate() {
        let weight: f64 = candidate
            .evidence
            .iter()
            .filter(|e| e.field == *field)
            .map(|e| e.weight)
            .sum();
        z += if weight > 0.0 {
            DUPLICATE_AGREE[k] * weight
        } else {
            DUPLICATE_DISAGREE[k] * weight
        };
    }
    probability(z)
}

impl Thresholds {
    /// The bands of a search's candidates, best first as [`crate::Index::find`]
    /// returns them (after [`crate::assign_siblings`]): what the family
    /// tracing service should show and commit to.
    ///
    /// `Possible` and `Weak` are as [`Thresholds::band_ranked`] gives them.
    /// `Likely` is decided on the list: the best candidate is `likely` when
    /// its score, helped by its lead over the second candidate, clears
    /// `likely` by a margin ([`RankedRule`]); a first candidate that barely
    /// leads a near-equal second is not committed to, however high both
    /// score, and one far ahead of the rest is committed to from a lower
    /// score. Later candidates are `likely` only beside a `likely` first and
    /// from a score of 0.80. Whatever `likely` is set to moves the rule with
    /// it. An empty list gives an empty vector. Pass the list of a search
    /// for at least two candidates: a lone candidate leads by its whole
    /// score, which is right only when the search found nothing else.
    pub fn bands_for(&self, ranked: &[Candidate]) -> Vec<Option<Band>> {
        let commit = self.ranked_likely(ranked);
        ranked
            .iter()
            .enumerate()
            .map(|(rank, c)| {
                let likely = commit && (rank == 0 || c.score >= RANKED.later);
                match self.band_ranked(c.score, rank) {
                    _ if likely => Some(Band::Likely),
                    Some(Band::Likely) => Some(Band::Possible),
                    band => band,
                }
            })
            .collect()
    }

    /// Whether the best candidate of `ranked` is committed to (`likely`).
    fn ranked_likely(&self, ranked: &[Candidate]) -> bool {
        let Some(first) = ranked.first() else {
            return false;
        };
        let second = ranked.get(1).map_or(0.0, |c| c.score);
        let lead = log2_odds(first.score) - log2_odds(second);
        log2_odds(first.score) + RANKED.share * lead.min(RANKED.cap)
            >= log2_odds(self.likely) + RANKED.lead
    }

    /// The bands of duplicate-check candidates (use with
    /// [`Thresholds::duplicate`]): each candidate's
    /// [`duplicate_probability`] against `likely` (report as a probable
    /// re-registration) and `possible` (list for review); a candidate whose
    /// score alone reaches 0.95 is `likely` in any case. Order is kept; the
    /// caller drops the record's own id.
    pub fn duplicate_bands(&self, candidates: &[Candidate]) -> Vec<Option<Band>> {
        candidates
            .iter()
            .map(|c| {
                if c.score >= DUPLICATE_SCORE_ALONE {
                    Some(Band::Likely)
                } else {
                    self.band(duplicate_probability(c))
                }
            })
            .collect()
    }
}
