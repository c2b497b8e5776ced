//! Decisions on a whole ranked list rather than one score: which candidate
//! of a search to commit to (`likely`), and which duplicate-check candidates
//! to report. Both were fitted on the tuning seed of the field-like
//! population (`eval/fit_likely.py`, `tests/eval/fit_bands.py`; SCORING.md, "Decisions on ranked
//! lists").

use crate::Index;
use crate::model::{Band, Candidate, Field, Sought, Thresholds};
use crate::score::{CALIBRATION, log2_odds, probability};

/// The ranked `likely` decision of [`Thresholds::bands_for`]: the best
/// candidate is committed to when
///
/// `intercept + score_weight · log2odds(score) + lead_weight · min(lead, LEAD_CAP)
///  + Σ_field agree[field] · max(evidence, 0) + disagree[field] · min(evidence, 0)`
///
/// reaches `threshold` (natural log odds that the first candidate is the
/// child), moved by the distance of `likely` from 0.80. `lead` is the
/// first candidate's log2-odds lead over the best rival (the second
/// candidate, or with [`Index::bands_for`] the best one that is not the same
/// child). The per-field terms re-weight the first candidate's own evidence
/// for this decision: an officer's `likely` is about one record against the
/// rest of the list, and disagreeing names or parents rule a first candidate
/// out more firmly than the score (fitted on every candidate) says. A first
/// candidate under `possible` is never committed to. Later candidates are
/// `likely` only when the first is, and from `later` up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LikelyModel {
    pub(crate) intercept: f64,
    pub(crate) score_weight: f64,
    pub(crate) lead_weight: f64,
    pub(crate) agree: [f64; 10],
    pub(crate) disagree: [f64; 10],
    pub(crate) threshold: f64,
    pub(crate) later: f64,
}

/// The lead over the rival counts up to this many bits.
const LEAD_CAP: f64 = 10.0;

/// A first candidate without parent or place evidence is also committed to
/// when `log2odds(score) + min(lead, FAR_AHEAD_CAP)` reaches
/// `log2odds(likely) + FAR_AHEAD_MARGIN` (round 2's rule, with 4.75 bits
/// then; chosen with the model on the tuning seed).
const FAR_AHEAD_CAP: f64 = 8.0;
const FAR_AHEAD_MARGIN: f64 = 4.75;

/// The fields in the order of [`LikelyModel`]'s `agree` and `disagree`.
const LIKELY_FIELDS: [Field; 10] = [
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

/// Fitted by logistic regression (`crates/matching/eval/fit_likely.py`) of
/// "the first candidate is the child" on the first candidates of the tuning
/// seed at 10k and 100k records together; `threshold` is the lowest that
/// keeps precision at least 0.955 and false `likely` at most 1.7 % at both
/// sizes (inside the targets of 0.95 and 2 %, for the held-out seed).
pub(crate) const LIKELY: LikelyModel = LikelyModel {
    intercept: 0.6246,
    score_weight: 0.3236,
    lead_weight: 0.4849,
    agree: [
        -0.1647, -0.1332, -0.0171, -0.3448, -0.4340, -0.1300, -0.2359, 0.0, 0.5202, 0.0,
    ],
    disagree: [
        0.6607, 0.1007, 0.5004, -0.1184, -0.3056, 0.1182, 0.0019, 0.0, 0.8600, -0.3181,
    ],
    threshold: 2.5,
    later: 0.80,
};

/// A later candidate of a search whose record is this likely
/// ([`Index::same_child`]) to be the first candidate's child registered again
/// is not a rival of the first: see [`Index::bands_for`].
pub(crate) const SAME_CHILD: f64 = 0.7;

/// A second record of a committed child is `likely` from this score up.
pub(crate) const SAME_CHILD_FLOOR: f64 = 0.05;

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
/// whatever the re-weighting says, when neither parents' names nor places
/// were compared: the fit saw records with places of birth and parents'
/// names, and records without them (FEBRL3's) should not lose what the
/// score already knows. Where they were compared, the re-weighting decides
/// (a look-alike household with another grandfather, twins with one birth
/// date, score that high too).
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

/// Whether a candidate carries parent or place evidence (either way): the
/// facts of a household that the re-weighting of [`duplicate_probability`]
/// and the ranked `likely` model were fitted with.
fn has_household_evidence(candidate: &Candidate) -> bool {
    candidate
        .evidence
        .iter()
        .any(|e| matches!(e.field, Field::Parent | Field::Place) && e.weight != 0.0)
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
        self.bands_with(ranked, None)
    }

    /// [`Thresholds::bands_for`], or with `same` knowing which later
    /// candidates are the same child as the first (`same[k - 1]` for
    /// candidate `k`; missing entries are rivals): the lead is then taken
    /// over the best rival, and later candidates are `likely` only as the
    /// first candidate's child registered again (from [`SAME_CHILD_FLOOR`]
    /// up). Without `same`, later candidates are `likely` from
    /// `LIKELY.later` up.
    pub(crate) fn bands_with(
        &self,
        ranked: &[Candidate],
        same: Option<&[bool]>,
    ) -> Vec<Option<Band>> {
        let is_same = |rank: usize| {
            rank > 0 && same.is_some_and(|s| s.get(rank - 1).copied().unwrap_or(false))
        };
        let rival = (1..ranked.len()).find(|&rank| !is_same(rank));
        let commit = self.ranked_likely(ranked.first(), rival.map(|rank| &ranked[rank]));
        ranked
            .iter()
            .enumerate()
            .map(|(rank, c)| {
                let later = match same {
                    None => c.score >= LIKELY.later,
                    Some(_) => is_same(rank) && c.score >= SAME_CHILD_FLOOR,
                };
                let likely = commit && (rank == 0 || later);
                match self.band_ranked(c.score, rank) {
                    _ if likely => Some(Band::Likely),
                    Some(Band::Likely) => Some(Band::Possible),
                    band => band,
                }
            })
            .collect()
    }

    /// Whether the best candidate is committed to (`likely`), given the best
    /// rival (a candidate that is not the same child).
    fn ranked_likely(&self, first: Option<&Candidate>, rival: Option<&Candidate>) -> bool {
        let Some(first) = first else {
            return false;
        };
        // Never below `possible`: the model saw few lists whose first
        // candidate scored that low, and none it should commit to.
        if first.score < self.possible {
            return false;
        }
        let second = rival.map_or(0.0, |c| c.score);
        let lead = log2_odds(first.score) - log2_odds(second);
        let mut z = LIKELY.intercept
            + LIKELY.score_weight * log2_odds(first.score)
            + LIKELY.lead_weight * lead.min(LEAD_CAP);
        for (k, field) in LIKELY_FIELDS.iter().enumerate() {
            let weight: f64 = first
                .evidence
                .iter()
                .filter(|e| e.field == *field)
                .map(|e| e.weight)
                .sum();
            z += if weight > 0.0 {
                LIKELY.agree[k] * weight
            } else {
                LIKELY.disagree[k] * weight
            };
        }
        // A stricter or looser `likely` moves the bar by as much (in nats).
        let moved = (log2_odds(self.likely) - log2_odds(0.80)) * std::f64::consts::LN_2;
        // A first candidate with no parent or place evidence (the records
        // carry none, as FEBRL's names-and-birth-date records) is also
        // committed to by round 2's rule on the same lead: the model gives
        // parents' names much of its weight, and should not hold such
        // records to evidence they cannot have.
        let far_ahead = !has_household_evidence(first)
            && log2_odds(first.score) + lead.min(FAR_AHEAD_CAP)
                >= log2_odds(self.likely) + FAR_AHEAD_MARGIN;
        far_ahead || z >= LIKELY.threshold + moved
    }

    /// The bands of duplicate-check candidates (use with
    /// [`Thresholds::duplicate`]): each candidate's
    /// [`duplicate_probability`] against `likely` (report as a probable
    /// re-registration) and `possible` (list for review); a candidate whose
    /// score alone reaches 0.95 is `likely` when no parent's name or place was
    /// compared (records without them). Order is kept; the
    /// caller drops the record's own id.
    pub fn duplicate_bands(&self, candidates: &[Candidate]) -> Vec<Option<Band>> {
        candidates
            .iter()
            .map(|c| {
                if c.score >= DUPLICATE_SCORE_ALONE && !has_household_evidence(c) {
                    Some(Band::Likely)
                } else {
                    self.band(duplicate_probability(c))
                }
            })
            .collect()
    }
}

impl Index {
    /// [`Thresholds::bands_for`] for a search of this index: the same rule,
    /// except that a later candidate which is the first candidate's child
    /// registered again (by another agency or officer, [`Index::same_child`]
    /// at least 0.7) is not a rival. Such a pair of records scores alike, so
    /// the first candidate's lead over it says nothing; the lead is taken
    /// over the best candidate that is another child, and a committed
    /// child's second record is `likely` with it (from a score of 0.05).
    /// Other later candidates are never `likely`, however high they score:
    /// they are other children (often siblings).
    /// Compares the first candidate's record with the next four.
    pub fn bands_for(
        &self,
        thresholds: &Thresholds,
        sought: &Sought,
        ranked: &[Candidate],
    ) -> Vec<Option<Band>> {
        let Some(first) = ranked.first() else {
            return Vec::new();
        };
        let mut same = Vec::new();
        for c in ranked.iter().skip(1).take(SAME_CHILD_LOOKAHEAD) {
            let p = self
                .same_child(first.id, c.id, sought.asked_on)
                .unwrap_or(0.0);
            same.push(p >= SAME_CHILD);
        }
        thresholds.bands_with(ranked, Some(&same))
    }
}

/// How many later candidates [`Index::bands_for`] compares with the first.
pub(crate) const SAME_CHILD_LOOKAHEAD: usize = 4;
