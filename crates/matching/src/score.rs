//! Fellegi–Sunter scoring: each field comparison lands on a level with a
//! log2 likelihood-ratio weight; the sum plus a prior goes through a logistic.
//!
//! The weights live in [`WEIGHTS`]; SCORING.md says where each came from.

use crate::model::{Evidence, Field, Person, Reason, Relation, Sex, Sought, Strength};
use crate::names::{Level, Tok, compare_tokens, prepare};
use crate::normalise::fold_tokens;

/// log2 likelihood ratios per comparison level, indexed by [`Level`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Weights {
    pub(crate) given: [f64; 5],
    pub(crate) family: [f64; 5],
    /// Each further token of a name chain (grandfather's name, …).
    pub(crate) chain: [f64; 5],
    /// Complete birth dates: same, one-digit typo or day/month swap, same
    /// year only, different.
    pub(crate) birth_exact: f64,
    pub(crate) birth_typo: f64,
    pub(crate) birth_year: f64,
    pub(crate) birth_conflict: f64,
    /// Penalty for a name found in the other name field (given ↔ family).
    pub(crate) swap_penalty: f64,
    /// Penalty for a chain whose head is found one place down the other
    /// chain (the father's name left out on one side).
    pub(crate) shift_penalty: f64,
}

/// Name and birth-date weights fitted on FEBRL3 (see SCORING.md: `cargo run
/// --release -p haven-matching --example febrl -- fit DIR`); the rest are
/// set by argument in the functions below.
pub(crate) const WEIGHTS: Weights = Weights {
    given: [7.5, 6.5, 6.5, 1.6, -2.9],
    family: [7.6, 7.5, 7.5, 1.5, -3.4],
    chain: [4.0, 3.0, 2.5, 1.0, -3.5],
    birth_exact: 15.2,
    birth_typo: 4.7,
    birth_year: -2.7,
    birth_conflict: -3.9,
    swap_penalty: 3.0,
    shift_penalty: 4.0,
};

/// The calibration fitted on the synthetic population (tuning seed 1, 10k
/// and 100k registry records; seed 7 held out): see SCORING.md and
/// `tests/eval/fit_calibration.py`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Calibration {
    /// Multiplies every field weight: the FEBRL-fitted weights overstate
    /// independent evidence on name-chain data, where fields repeat each
    /// other.
    pub(crate) scale: f64,
    /// log2 prior odds for a registry of up to 5,000 records.
    pub(crate) prior: f64,
    /// Change of the prior per doubling of the registry beyond 5,000.
    pub(crate) size_slope: f64,
}

pub(crate) const CALIBRATION: Calibration = Calibration {
    scale: 0.73,
    prior: -8.55,
    size_slope: -0.80,
};

/// Average chance that a random pair agrees on a given or family name
/// (FEBRL3 fit, u of the exact level): the reference for the term-frequency
/// adjustment in [`Frequencies`].
pub(crate) const AVERAGE_NAME_U: f64 = 0.003;

/// How common a registered name token is, for term-frequency adjustment:
/// agreeing on a name that a quarter of the registry shares says little.
pub(crate) trait Frequencies {
    /// The (smoothed) share of records whose names carry this token's
    /// equivalence group, skeleton or fold.
    fn share(&self, token: &Tok) -> f64;

    /// Change to the prior (log2 odds) for the size of the registry
    /// searched: with more records, more of them match by coincidence.
    fn prior_shift(&self) -> f64 {
        0.0
    }
}

/// No frequency information: the calibrated average weights apply.
#[derive(Debug)]
pub(crate) struct NoFrequencies;

impl Frequencies for NoFrequencies {
    fn share(&self, _token: &Tok) -> f64 {
        AVERAGE_NAME_U
    }
}

/// The weight change for agreeing on a token with this share: downward
/// only, so a rare name never counts more than the calibrated average.
/// The more common of the two spellings counts: a typo of a common name is
/// still a common name.
fn tf_adjustment(freq: &dyn Frequencies, a: &Tok, b: &Tok, level: Level) -> f64 {
    if level >= Level::Weak {
        return 0.0;
    }
    let share = freq.share(a).max(freq.share(b));
    (AVERAGE_NAME_U / share.max(1e-9)).log2().min(0.0)
}

/// The logistic of a log2-odds sum: a probability in `[0, 1]`.
pub(crate) fn probability(log2_odds: f64) -> f64 {
    1.0 / (1.0 + (-log2_odds).exp2())
}

/// The log2 odds of a probability (inverse of [`probability`]).
pub(crate) fn log2_odds(p: f64) -> f64 {
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    (p / (1.0 - p)).log2()
}

/// A person prepared for comparison: tokens, birth span, folded place.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub(crate) given: Vec<Tok>,
    pub(crate) family: Vec<Tok>,
    pub(crate) other: Vec<Tok>,
    /// A patronymic found among the family tokens (Pavlovych, Ivanivna).
    pub(crate) patronymic: Vec<Tok>,
    pub(crate) father: Vec<Tok>,
    pub(crate) mother: Vec<Tok>,
    pub(crate) sex: Sex,
    /// Complete, non-estimated birth date as `YYYYMMDD`.
    pub(crate) exact_birth: Option<String>,
    /// The fractional-year span the birth can lie in.
    pub(crate) birth_span: Option<(f64, f64)>,
    pub(crate) has_birth_date: bool,
    /// The birth span comes from an age estimate alone (no date).
    pub(crate) age_only: bool,
    pub(crate) place: Vec<String>,
}

impl Prepared {
    pub(crate) fn new(person: &Person) -> Self {
        let mut given = prepare(&person.given_name);
        let mut family = prepare(&person.chain());
        // A whole name chain typed into the given-name field.
        if family.is_empty() && given.len() >= 2 {
            family = given.split_off(1);
        }
        // Ukrainian and Russian patronymics name the father, not the family.
        let (patronymic, family): (Vec<Tok>, Vec<Tok>) =
            family.into_iter().partition(is_patronymic);
        // A patronymic in its own field wins over one found in the family name.
        let recorded_patronymic = person.patronymic.as_deref().map(prepare);
        let father_given = recorded_patronymic
            .and_then(|p| p.into_iter().next())
            .or_else(|| patronymic.first().cloned())
            .map(|p| vec![p]);
        // A nickname is another given name.
        let other = person
            .other_names
            .iter()
            .chain(person.nickname.iter())
            .flat_map(|n| prepare(n))
            .collect();
        let exact_birth = person.birth_date.filter(|d| d.is_exact_day()).map(|d| {
            format!(
                "{:04}{:02}{:02}",
                d.year.clamp(0, 9999),
                d.month.unwrap_or(0),
                d.day.unwrap_or(0)
            )
        });
        Self {
            given,
            family,
            other,
            patronymic: father_given.unwrap_or_default(),
            father: person
                .father_name
                .as_deref()
                .map(prepare)
                .unwrap_or_default(),
            mother: person
                .mother_name
                .as_deref()
                .map(prepare)
                .unwrap_or_default(),
            sex: person.sex,
            exact_birth,
            birth_span: birth_span(person),
            has_birth_date: person.birth_date.is_some(),
            age_only: person.birth_date.is_none() && person.age.is_some(),
            place: person
                .place
                .iter()
                .map(|p| fold_tokens(p).join(" "))
                .collect(),
        }
    }

    /// All name tokens (given, family, other), for keys.
    pub(crate) fn name_tokens(&self) -> impl Iterator<Item = &Tok> {
        self.given.iter().chain(&self.family).chain(&self.other)
    }
}

/// Folded endings of East Slavic patronymics in the romanisations officers
/// use (Ukrainian and Russian, English, French and Polish style):
/// `Pavlovych`, `Ivanovich`, `Ivanovitch`, `Pawłowycz`, `Oleksandrivna`,
/// `Iwanowna`, longest first so that the stem is what remains.
const PATRONYMIC_ENDINGS: &[&str] = &[
    "ovitch", "evitch", "ovych", "evych", "ovich", "evich", "ivich", "owycz", "ewycz", "owicz",
    "ewicz", "yivna", "iivna", "ichna", "ychna", "ovna", "evna", "ivna", "owna", "ewna", "iwna",
    "yich", "ich", "vych", "vich", "wycz", "wicz", "vna", "wna",
];

/// The ending that makes a token a patronymic, if any.
fn patronymic_ending(fold: &str) -> Option<&'static str> {
    if fold.len() < 7 {
        return None;
    }
    PATRONYMIC_ENDINGS
        .iter()
        .find(|e| e.len() >= 4 && fold.ends_with(*e))
        .copied()
}

fn is_patronymic(token: &Tok) -> bool {
    patronymic_ending(&token.fold).is_some()
}

/// The father's name inside a patronymic, as a token (`Oleksandrovych` →
/// `oleksandr`, `Serhiivna` → `serhi`, `Wołodymyrowycz` → `wolodymyr`), so
/// that patronymics compare by the name they carry, in any romanisation.
fn patronymic_stem(token: &Tok) -> Option<Tok> {
    let ending = patronymic_ending(&token.fold)?;
    let stem = &token.fold[..token.fold.len() - ending.len()];
    (stem.len() >= 3).then(|| Tok::new(stem.to_owned(), token.script))
}

/// The span of birth times a person's record allows: a non-estimated birth
/// date wins; otherwise the age estimate, narrowed by an estimated date when
/// the two overlap.
pub(crate) fn birth_span(person: &Person) -> Option<(f64, f64)> {
    let date = person.birth_date.map(|d| (d.span(), d.estimated));
    let age = person.age.map(|a| a.birth_span());
    match (date, age) {
        (Some((span, false)), _) => Some(span),
        (Some((span, true)), Some(age)) => {
            let lo = span.0.max(age.0);
            let hi = span.1.min(age.1);
            Some(if lo < hi { (lo, hi) } else { span })
        }
        (Some((span, true)), None) => Some(span),
        (None, age) => age,
    }
}

/// A sought child prepared once per query.
#[derive(Debug, Clone)]
pub(crate) struct Query {
    pub(crate) person: Prepared,
    pub(crate) inquirer: Vec<Tok>,
    pub(crate) relation: Relation,
    /// Extra age tolerance (years) for the time since separation.
    pub(crate) tolerance: f64,
    /// Whole years between separation and the request, when the sought
    /// child's age is an estimate: the inquirer may give the age the child
    /// had at separation, which puts the birth that much later.
    pub(crate) separation_years: f64,
}

impl Query {
    pub(crate) fn new(sought: &Sought) -> Self {
        let asked = sought.asked_on.as_years();
        let years_apart = sought
            .separated_on
            .map(|d| (asked - d.span().0).max(0.0))
            .unwrap_or(0.0);
        Self {
            person: Prepared::new(&sought.person),
            inquirer: sought
                .inquirer_name
                .as_deref()
                .map(prepare)
                .unwrap_or_default(),
            relation: sought.relation,
            tolerance: 0.5 + (0.25 * years_apart).min(2.0),
            separation_years: if sought.person.birth_date.is_none() && sought.person.age.is_some() {
                years_apart.floor()
            } else {
                0.0
            },
        }
    }
}

/// Scores a sought child against a registered record: the calibrated
/// probability and the evidence, best-first by field order.
///
/// `ctx_sibling` is the record confirmed for another child of the same
/// request, if any: agreement with it (family name, parents) is evidence.
pub fn compare(
    sought: &Sought,
    candidate: &Person,
    ctx_sibling: Option<&Person>,
) -> (f64, Vec<Evidence>) {
    let query = Query::new(sought);
    let candidate = Prepared::new(candidate);
    let sibling = ctx_sibling.map(Prepared::new);
    compare_prepared(&query, &candidate, sibling.as_ref(), &NoFrequencies)
}

/// [`compare`] on prepared inputs.
pub(crate) fn compare_prepared(
    query: &Query,
    candidate: &Prepared,
    sibling: Option<&Prepared>,
    freq: &dyn Frequencies,
) -> (f64, Vec<Evidence>) {
    let mut evidence = Vec::with_capacity(8);
    compare_names(&query.person, candidate, freq, &mut evidence);
    compare_birth(query, candidate, &mut evidence);
    compare_sex(query.person.sex, candidate.sex, &mut evidence);
    compare_place(&query.person.place, &candidate.place, &mut evidence);
    compare_parents(query, candidate, &mut evidence);
    if let Some(sibling) = sibling {
        compare_sibling(candidate, sibling, &mut evidence);
    }
    cap_household(&mut evidence);
    // Calibration on field-like data (SCORING.md): the field weights are
    // scaled as one, so the evidence still sums to the score.
    for e in &mut evidence {
        e.weight *= CALIBRATION.scale;
    }
    let prior = CALIBRATION.prior + freq.prior_shift();
    let total: f64 = prior + evidence.iter().map(|e| e.weight).sum::<f64>();
    (probability(total), evidence)
}

/// Fields that identify a child's family rather than the child: in name-chain
/// cultures the family name *is* the father's name, and siblings share all
/// of them, so their weights are not independent.
fn is_household(field: Field) -> bool {
    matches!(
        field,
        Field::FamilyName | Field::NameChain | Field::Parent | Field::Place | Field::Sibling
    )
}

/// Caps the positive weight of household fields: at [`HOUSEHOLD_CAP`] in
/// general, and at one exact family-name agreement when the given names
/// disagree, so that a sibling (same family, other given name) cannot reach
/// `likely` on family evidence. The capped items are scaled down
/// proportionally, so the evidence still sums to the score.
fn cap_household(evidence: &mut [Evidence]) {
    let given_disagrees = evidence
        .iter()
        .filter(|e| matches!(e.field, Field::GivenName | Field::OtherNames))
        .all(|e| e.strength == Strength::Disagrees)
        && evidence.iter().any(|e| e.field == Field::GivenName);
    let cap = if given_disagrees {
        WEIGHTS.family[Level::Exact.index()]
    } else {
        HOUSEHOLD_CAP
    };
    let positive: f64 = evidence
        .iter()
        .filter(|e| is_household(e.field) && e.weight > 0.0)
        .map(|e| e.weight)
        .sum();
    if positive > cap {
        let scale = cap / positive;
        for e in evidence
            .iter_mut()
            .filter(|e| is_household(e.field) && e.weight > 0.0)
        {
            e.weight *= scale;
        }
    }
    // Different given names in a family that agrees beyond its surname
    // (parents, name chain): a sibling, perhaps a twin, so a shared birth
    // date says little about which child it is.
    let beyond_surname = evidence
        .iter()
        .any(|e| matches!(e.field, Field::NameChain | Field::Parent) && e.weight > 0.0);
    if given_disagrees && beyond_surname {
        for e in evidence
            .iter_mut()
            .filter(|e| matches!(e.field, Field::Birth | Field::Age))
        {
            e.weight = e.weight.min(SIBLING_BIRTH_CAP);
        }
    }
}

/// The most a birth date or age can add when the record looks like a
/// sibling of the sought child (see [`cap_household`]).
const SIBLING_BIRTH_CAP: f64 = 1.0;

/// The most household fields together can add (log2): a little more than an
/// exact family name plus an agreeing parent.
const HOUSEHOLD_CAP: f64 = 12.0;

fn strength(level: Level) -> Strength {
    match level {
        Level::Exact => Strength::Exact,
        Level::Variant | Level::Typo => Strength::Strong,
        Level::Weak => Strength::Weak,
        Level::Disagree => Strength::Disagrees,
    }
}

fn evidence(field: Field, strength: Strength, weight: f64, reason: Reason) -> Evidence {
    Evidence {
        field,
        strength,
        weight,
        reason,
    }
}

fn missing(field: Field) -> Evidence {
    evidence(field, Strength::Missing, 0.0, Reason::NotRecorded)
}

/// The best agreement between any token of `a` and any of `b`, with the
/// `b` token it was found on.
type Pair<'a> = (Level, Reason, &'a Tok, &'a Tok);

fn best_pair<'a>(a: &'a [Tok], b: &'a [Tok]) -> Option<Pair<'a>> {
    let mut best: Option<Pair<'a>> = None;
    for x in a {
        for y in b {
            let (level, reason) = compare_tokens(x, y);
            if best.is_none_or(|(l, _, _, _)| level < l) {
                best = Some((level, reason, x, y));
            }
            if level == Level::Exact {
                return best;
            }
        }
    }
    best
}

fn given_weight(level: Level) -> f64 {
    WEIGHTS.given[level.index()]
}

fn family_weight(level: Level) -> f64 {
    WEIGHTS.family[level.index()]
}

/// Given name, family name and name chain, with swapped fields, other names,
/// and dropped or reordered chain tokens.
fn compare_names(q: &Prepared, c: &Prepared, freq: &dyn Frequencies, out: &mut Vec<Evidence>) {
    let given = best_pair(&q.given, &c.given);
    // Swapped fields: the given name recorded as the family name and back.
    if let Some(swap) = swapped_fields(q, c, given, freq) {
        out.extend(swap);
        return;
    }
    compare_given(q, c, given, freq, out);
    compare_family(q, c, freq, out);
}

/// Evidence for given and family names written in each other's fields, when
/// that reading beats the straight one by more than a bit.
///
/// The side whose given-name field holds more tokens than its family field
/// is the swapped one (a name chain written as the given name): the child's
/// given name is then in its family field. The chain side compares as its
/// best-agreeing pair of tokens, so a misspelled or left-out father's name
/// does not hide the grandfather's.
fn swapped_fields(
    q: &Prepared,
    c: &Prepared,
    given: Option<Pair<'_>>,
    freq: &dyn Frequencies,
) -> Option<[Evidence; 2]> {
    let (qg, cg, qf, cf) = (
        q.given.first()?,
        c.given.first()?,
        q.family.first()?,
        c.family.first()?,
    );
    let straight_given = given.map_or(Level::Disagree, |g| g.0);
    let straight = given_weight(straight_given) + family_weight(compare_tokens(qf, cf).0);
    let sought_swapped = q.given.len() > q.family.len() && c.given.len() <= c.family.len();
    // (given-name pair, chain tokens of each side)
    let ((gx, gy), (chain_a, chain_b)) = if sought_swapped {
        ((qf, cg), (&q.given, &c.family))
    } else {
        ((qg, cf), (&q.family, &c.given))
    };
    let (name_level, name_reason) = compare_tokens(gx, gy);
    let (chain_level, chain_reason, cx, cy) = best_pair(chain_a, chain_b)?;
    let penalty = WEIGHTS.swap_penalty;
    let swapped = given_weight(name_level) + family_weight(chain_level) - 2.0 * penalty;
    if swapped <= straight + 1.0 {
        return None;
    }
    let reason = |level: Level, r: Reason| {
        if level < Level::Weak {
            Reason::ReorderedTokens
        } else {
            r
        }
    };
    Some([
        evidence(
            Field::GivenName,
            strength(name_level),
            given_weight(name_level) - penalty + tf_adjustment(freq, gx, gy, name_level),
            reason(name_level, name_reason),
        ),
        evidence(
            Field::FamilyName,
            strength(chain_level),
            family_weight(chain_level) - penalty + tf_adjustment(freq, cx, cy, chain_level),
            reason(chain_level, chain_reason),
        ),
    ])
}

fn compare_given(
    q: &Prepared,
    c: &Prepared,
    given: Option<Pair<'_>>,
    freq: &dyn Frequencies,
    out: &mut Vec<Evidence>,
) {
    // A match through other names (aliases, a nickname recorded apart).
    let mut sought_names: Vec<Tok> = q.given.clone();
    sought_names.extend(q.other.iter().cloned());
    let mut alias = best_pair(&sought_names, &c.other);
    if let Some(through_other) = best_pair(&q.other, &c.given)
        && alias.is_none_or(|a| through_other.0 < a.0)
    {
        alias = Some(through_other);
    }
    match (given, alias) {
        (g, Some((level, reason, x, y)))
            if level < Level::Weak && g.is_none_or(|g| level < g.0) =>
        {
            out.push(evidence(
                Field::OtherNames,
                strength(level),
                given_weight(level) - 0.5 + tf_adjustment(freq, x, y, level),
                reason,
            ));
        }
        (Some((level, reason, x, y)), _) => {
            let weight = given_weight(level) + tf_adjustment(freq, x, y, level);
            out.push(evidence(Field::GivenName, strength(level), weight, reason));
        }
        (None, _) => out.push(missing(Field::GivenName)),
    }
}

/// Family name, or name chain when either side has several family tokens.
///
/// Chain tokens are aligned greedily, best agreement first, ties broken by
/// position. The first sought token (the father's name in a chain) gives the
/// family-name evidence; the rest give one name-chain evidence. A token with
/// no counterpart because the other chain is shorter was dropped (no
/// penalty to speak of); tokens with no counterpart on both sides disagree.
fn compare_family(q: &Prepared, c: &Prepared, freq: &dyn Frequencies, out: &mut Vec<Evidence>) {
    let (f, g) = (&q.family, &c.family);
    if f.is_empty() || g.is_empty() {
        out.push(missing(Field::FamilyName));
        return;
    }
    if f.len() == 1 && g.len() == 1 {
        let (level, reason) = compare_tokens(&f[0], &g[0]);
        let weight = family_weight(level) + tf_adjustment(freq, &f[0], &g[0], level);
        out.push(evidence(Field::FamilyName, strength(level), weight, reason));
        return;
    }
    let mut pairs: Vec<(Level, usize, usize, usize, Reason)> =
        Vec::with_capacity(f.len() * g.len());
    for (i, x) in f.iter().enumerate() {
        for (j, y) in g.iter().enumerate() {
            let (level, reason) = compare_tokens(x, y);
            if level < Level::Disagree {
                pairs.push((level, i.abs_diff(j), i, j, reason));
            }
        }
    }
    pairs.sort_by_key(|p| (p.0, p.1, p.2));
    let mut used_f = vec![false; f.len()];
    let mut used_g = vec![false; g.len()];
    let mut matched: Vec<(usize, usize, Level, Reason)> = Vec::new();
    for (level, _, i, j, reason) in pairs {
        if !used_f[i] && !used_g[j] {
            used_f[i] = true;
            used_g[j] = true;
            matched.push((i, j, level, reason));
        }
    }
    matched.sort_by_key(|m| m.0);
    let reordered = matched.windows(2).any(|w| w[0].1 > w[1].1);
    // The token that carries the family-name evidence: the first sought
    // token where the other chain has it first too; else a head found one
    // place down the other chain (one side left out the father's name, so
    // the grandfather's name stands first); else a crossing (reordered).
    let straight = matched.iter().position(|m| m.0 == 0 && m.1 == 0);
    let sought_head = matched.iter().position(|m| m.0 == 0);
    let record_head = matched.iter().position(|m| m.1 == 0);
    let head = straight.or(sought_head).or(record_head);
    match head.map(|h| (h, matched[h])) {
        Some((_, (0, 0, level, reason))) => {
            let weight = family_weight(level) + tf_adjustment(freq, &f[0], &g[0], level);
            out.push(evidence(Field::FamilyName, strength(level), weight, reason));
        }
        Some((_, (i, j, level, _))) => {
            // Crossed: the sought head is further down the record's chain
            // and something else of the sought chain stands first there.
            let crossed = (i == 0 && matched.iter().any(|m| m.0 != 0 && m.1 == 0))
                || (j == 0 && matched.iter().any(|m| m.1 != 0 && m.0 == 0));
            let (weight, reason) = if crossed {
                (
                    family_weight(level) - WEIGHTS.swap_penalty,
                    Reason::ReorderedTokens,
                )
            } else {
                (
                    family_weight(level) - WEIGHTS.shift_penalty,
                    Reason::DroppedTokens,
                )
            };
            let weight = weight + tf_adjustment(freq, &f[i], &g[j], level);
            let s = if level <= Level::Typo {
                Strength::Strong
            } else {
                Strength::Weak
            };
            out.push(evidence(Field::FamilyName, s, weight, reason));
        }
        None => out.push(evidence(
            Field::FamilyName,
            Strength::Disagrees,
            family_weight(Level::Disagree),
            Reason::DifferentName,
        )),
    }
    if let Some(h) = head {
        matched.remove(h);
    }
    let rest: Vec<&(usize, usize, Level, Reason)> = matched.iter().collect();
    let unmatched_f = used_f.iter().filter(|u| !**u).count();
    let unmatched_g = used_g.iter().filter(|u| !**u).count();
    let disagreeing = unmatched_f.min(unmatched_g);
    let dropped = unmatched_f.max(unmatched_g) - disagreeing;
    let mut weight: f64 = rest.iter().map(|m| WEIGHTS.chain[m.2.index()]).sum();
    if reordered {
        weight -= WEIGHTS.swap_penalty;
    }
    weight += disagreeing as f64 * WEIGHTS.chain[Level::Disagree.index()];
    weight -= 0.2 * dropped as f64;
    let worst = rest.iter().map(|m| m.2).max();
    let (strength, reason) = if disagreeing > 0 {
        (Strength::Disagrees, Reason::DifferentName)
    } else if reordered {
        (
            worst.map_or(Strength::Weak, strength),
            Reason::ReorderedTokens,
        )
    } else if dropped > 0 {
        let s = if rest.is_empty() {
            Strength::Missing
        } else {
            worst.map_or(Strength::Weak, strength)
        };
        (s, Reason::DroppedTokens)
    } else if let Some(first) = rest.first() {
        (worst.map_or(Strength::Weak, strength), first.3)
    } else {
        return;
    };
    out.push(evidence(Field::NameChain, strength, weight, reason));
}

/// Complete dates compare digit by digit; anything else compares as spans
/// with a tolerance that grows with time since separation.
fn compare_birth(query: &Query, c: &Prepared, out: &mut Vec<Evidence>) {
    let q = &query.person;
    if let (Some(a), Some(b)) = (&q.exact_birth, &c.exact_birth) {
        let (strength, weight, reason) = if a == b {
            (Strength::Exact, WEIGHTS.birth_exact, Reason::SameBirthDate)
        } else if date_typo(a, b) {
            (Strength::Strong, WEIGHTS.birth_typo, Reason::BirthDateTypo)
        } else if a[..4] == b[..4] {
            (Strength::Weak, WEIGHTS.birth_year, Reason::SameBirthYear)
        } else {
            (
                Strength::Disagrees,
                WEIGHTS.birth_conflict,
                Reason::BirthDateConflict,
            )
        };
        out.push(evidence(Field::Birth, strength, weight, reason));
        return;
    }
    let field = if q.has_birth_date && c.has_birth_date {
        Field::Birth
    } else {
        Field::Age
    };
    let (Some(a), Some(b)) = (q.birth_span, c.birth_span) else {
        out.push(missing(field));
        return;
    };
    let gap = (a.0 - b.1).max(b.0 - a.1).max(0.0);
    // Chance agreement: how much of a child population's ~18 birth years the
    // two spans cover together.
    let width = (a.1 - a.0) + (b.1 - b.0);
    let chance = (width / 18.0).clamp(0.02, 0.9);
    let overlap_weight = (0.9 / chance).log2().clamp(0.2, 5.0);
    // An age given as one number by a relative or an officer is an estimate
    // with its usual error: one year off is common, two or three years off
    // happens (about one estimate in ten), so a gap costs less per year
    // than between two recorded dates.
    let estimated = q.age_only || c.age_only;
    let (base, per_year, floor) = if estimated {
        (-1.5, 1.5, -7.0)
    } else {
        (-3.0, 2.0, -10.0)
    };
    // The age at separation given as today's: the birth moves earlier by
    // the years since separation.
    let at_separation = (query.separation_years >= 1.0).then(|| {
        let shift = query.separation_years;
        ((a.0 - shift) - b.1).max(b.0 - (a.1 - shift)).max(0.0)
    });
    if gap <= 0.0 {
        let reason = if field == Field::Birth {
            Reason::SameBirthYear
        } else {
            Reason::AgeWithinEstimate
        };
        out.push(evidence(field, Strength::Strong, overlap_weight, reason));
    } else if gap <= query.tolerance {
        out.push(evidence(
            field,
            Strength::Weak,
            -0.3,
            Reason::AgeWithinTolerance,
        ));
    } else if at_separation.is_some_and(|g| g <= 0.5) {
        // About one inquirer in eight gives the age at separation.
        out.push(evidence(
            field,
            Strength::Weak,
            (overlap_weight - 3.0).max(-1.0),
            Reason::AgeAtSeparation,
        ));
    } else {
        let weight = (base - per_year * (gap - query.tolerance)).max(floor);
        out.push(evidence(
            field,
            Strength::Disagrees,
            weight,
            Reason::AgeOutsideTolerance,
        ));
    }
}

/// One digit changed, two adjacent digits swapped, or day and month swapped.
fn date_typo(a: &str, b: &str) -> bool {
    let diff: Vec<usize> = (0..a.len().min(b.len()))
        .filter(|&i| a.as_bytes()[i] != b.as_bytes()[i])
        .collect();
    match diff.as_slice() {
        [_] => true,
        [i, j] if *j == i + 1 => {
            a.as_bytes()[*i] == b.as_bytes()[*j] && a.as_bytes()[*j] == b.as_bytes()[*i]
        }
        _ => {
            a.len() == 8
                && b.len() == 8
                && a[..4] == b[..4]
                && a[4..6] == b[6..8]
                && a[6..8] == b[4..6]
        }
    }
}

fn compare_sex(a: Sex, b: Sex, out: &mut Vec<Evidence>) {
    match (a, b) {
        (Sex::Unknown, _) | (_, Sex::Unknown) => out.push(missing(Field::Sex)),
        (a, b) if a == b => out.push(evidence(
            Field::Sex,
            Strength::Exact,
            0.95,
            Reason::SexAgrees,
        )),
        _ => out.push(evidence(
            Field::Sex,
            Strength::Disagrees,
            -4.5,
            Reason::SexConflict,
        )),
    }
}

/// Two spellings of one admin area (`Banadir` / `Benadir`, `Hirat` /
/// `Herat`): every word agrees at least as a spelling variant.
fn same_area(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (x, y) = (prepare(a), prepare(b));
    x.len() == y.len()
        && !x.is_empty()
        && x.iter()
            .zip(&y)
            .all(|(p, q)| compare_tokens(p, q).0 <= Level::Typo)
}

/// Admin paths compare level by level from the country down, in any
/// spelling of each area. A path that agrees as far as both go counts by
/// its depth; one that parts below the country (another region or
/// district of the same country) counts against, since a place of birth
/// does not change between registrations.
fn compare_place(a: &[String], b: &[String], out: &mut Vec<Evidence>) {
    if a.is_empty() || b.is_empty() {
        return;
    }
    let shared = a.iter().zip(b).take_while(|(x, y)| same_area(x, y)).count();
    let common = a.len().min(b.len());
    if shared == a.len() && shared == b.len() && shared >= 2 {
        out.push(evidence(
            Field::Place,
            Strength::Exact,
            1.5,
            Reason::SamePlace,
        ));
    } else if shared == common {
        let levels = u8::try_from(shared).unwrap_or(u8::MAX);
        let weight = (0.4 * shared as f64).min(1.2);
        out.push(evidence(
            Field::Place,
            Strength::Weak,
            weight,
            Reason::NearbyPlace {
                shared_levels: levels,
            },
        ));
    } else if shared > 0 {
        // Same country, another region (-1.0) or another district (-0.5).
        let weight = if shared == 1 { -1.0 } else { -0.5 };
        out.push(evidence(
            Field::Place,
            Strength::Disagrees,
            weight,
            Reason::DifferentPlace,
        ));
    } else {
        out.push(evidence(
            Field::Place,
            Strength::Disagrees,
            -1.5,
            Reason::DifferentPlace,
        ));
    }
}

/// How two full names of a parent agree: first tokens, then a bonus when
/// the second tokens agree too.
fn parent_weight(a: &[Tok], b: &[Tok]) -> Option<(Level, f64)> {
    let (x, y) = (a.first()?, b.first()?);
    let level = compare_tokens(x, y).0;
    // A parent's given name is common and, in name-chain cultures, already
    // counted as the child's family name: modest weights.
    let mut weight = match level {
        Level::Exact => 1.5,
        Level::Variant => 1.2,
        Level::Typo => 1.0,
        Level::Weak => 0.0,
        Level::Disagree => -2.5,
    };
    if level < Level::Weak
        && let (Some(x2), Some(y2)) = (a.get(1), b.get(1))
    {
        // The parent's own father or surname.
        let second = compare_tokens(x2, y2).0 < Level::Weak;
        weight += if second { 1.5 } else { -2.0 };
        // In a chain, the parent's grandfather: what tells apart two
        // households with the same popular father's and grandfather's names.
        if second && let (Some(x3), Some(y3)) = (a.get(2), b.get(2)) {
            weight += if compare_tokens(x3, y3).0 < Level::Weak {
                1.0
            } else {
                -2.5
            };
        }
    }
    Some((level, weight))
}

/// The sought child's recorded parents, and the inquirer when the inquirer
/// is a parent, against the record's father and mother.
fn compare_parents(query: &Query, c: &Prepared, out: &mut Vec<Evidence>) {
    let q = &query.person;
    let slots = [
        (&q.father, &c.father, query.relation == Relation::Father),
        (&q.mother, &c.mother, query.relation == Relation::Mother),
    ];
    for (sought_parent, recorded, inquirer_is_parent) in slots {
        let by_name = parent_weight(sought_parent, recorded);
        let by_inquirer = if inquirer_is_parent {
            parent_weight(&query.inquirer, recorded)
        } else {
            None
        };
        let best = match (by_name, by_inquirer) {
            (Some(n), Some(i)) if i.1 > n.1 => Some((i, true)),
            (Some(n), _) => Some((n, false)),
            (None, Some(i)) => Some((i, true)),
            (None, None) => None,
        };
        if let Some(((level, weight), from_inquirer)) = best {
            let reason = match (level < Level::Weak && weight > 0.0, from_inquirer) {
                (true, true) => Reason::InquirerIsRecordedParent,
                (true, false) => Reason::ParentNameAgrees,
                (false, _) => Reason::ParentNameDiffers,
            };
            out.push(evidence(Field::Parent, strength(level), weight, reason));
        }
    }
    // A patronymic on both sides, or one side's patronymic against the
    // other's recorded father.
    let patronymic = match (&q.patronymic, &c.patronymic) {
        (a, b) if !a.is_empty() && !b.is_empty() => Some(compare_patronymics(&a[0], &b[0])),
        (a, _) if !a.is_empty() && !c.father.is_empty() => {
            Some(patronymic_vs_name(&a[0], &c.father[0]))
        }
        (_, b) if !b.is_empty() && !q.father.is_empty() => {
            Some(patronymic_vs_name(&b[0], &q.father[0]))
        }
        _ => None,
    };
    if let Some(level) = patronymic {
        let (weight, reason) = if level < Level::Weak {
            (1.5, Reason::ParentNameAgrees)
        } else if level == Level::Weak {
            (0.0, Reason::ParentNameAgrees)
        } else {
            (-2.5, Reason::ParentNameDiffers)
        };
        out.push(evidence(Field::Parent, strength(level), weight, reason));
    }
    // In name-chain cultures the child's first family token is the father's
    // given name: use it when the record has no father's name.
    if query.relation == Relation::Father
        && c.father.is_empty()
        && let (Some(inquirer), Some(chain_head)) = (query.inquirer.first(), c.family.first())
        && c.family.len() >= 2
        && compare_tokens(inquirer, chain_head).0 < Level::Weak
    {
        out.push(evidence(
            Field::Parent,
            Strength::Weak,
            1.0,
            Reason::InquirerIsRecordedParent,
        ));
    }
}

/// Two patronymics: as written, else by the names they carry
/// (`Oleksandrovych` / `Aleksandrovich`, `Serhiivna` / `Sergeevna`).
fn compare_patronymics(a: &Tok, b: &Tok) -> Level {
    let direct = compare_tokens(a, b).0;
    if direct < Level::Weak {
        return direct;
    }
    match (patronymic_stem(a), patronymic_stem(b)) {
        (Some(x), Some(y)) => direct.min(stem_level(&x, &y)),
        _ => direct,
    }
}

/// Two stems of fathers' names: as names, or one a prefix of the other
/// (`serhi` / `serhii`, `pavl` / `pavlo`).
fn stem_level(x: &Tok, y: &Tok) -> Level {
    let level = compare_tokens(x, y).0;
    let (short, long) = if x.short.len() <= y.short.len() {
        (&x.short, &y.short)
    } else {
        (&y.short, &x.short)
    };
    if level > Level::Typo && short.len() >= 4 && long.starts_with(short.as_str()) {
        return Level::Typo;
    }
    level
}

/// A patronymic against a father's given name: the patronymic starts with
/// the name's stem (`Pavlovych` / `Pavlo`, `Oleksandrivna` / `Oleksandr`),
/// or the name it carries agrees with the father's name in any spelling
/// (`Aleksandrovich` / `Oleksandr`, `Wołodymyrowycz` / `Volodymyr`).
fn patronymic_vs_name(patronymic: &Tok, name: &Tok) -> Level {
    let stem_len = name.fold.len().saturating_sub(1).max(3);
    let stem = &name.fold[..stem_len.min(name.fold.len())];
    if patronymic.fold.starts_with(stem) {
        return Level::Variant;
    }
    let Some(carried) = patronymic_stem(patronymic) else {
        return Level::Disagree;
    };
    match stem_level(&carried, name) {
        level if level <= Level::Typo => Level::Variant,
        level => level,
    }
}

/// Agreement with the record confirmed for a sibling: same family name (or
/// chain head) and a shared parent.
fn compare_sibling(c: &Prepared, s: &Prepared, out: &mut Vec<Evidence>) {
    let family = match (c.family.first(), s.family.first()) {
        (Some(x), Some(y)) => compare_tokens(x, y).0 <= Level::Typo,
        _ => false,
    };
    let agree = |a: &[Tok], b: &[Tok]| parent_weight(a, b).map(|(level, _)| level <= Level::Typo);
    let father = agree(&c.father, &s.father);
    let mother = agree(&c.mother, &s.mother);
    let parent_agrees = father == Some(true) || mother == Some(true);
    let parent_conflict = father == Some(false) && mother != Some(true);
    if family && parent_agrees {
        out.push(evidence(
            Field::Sibling,
            Strength::Strong,
            2.5,
            Reason::SiblingOfConfirmedMatch,
        ));
    } else if (family || parent_agrees) && !parent_conflict {
        out.push(evidence(
            Field::Sibling,
            Strength::Weak,
            1.0,
            Reason::SiblingOfConfirmedMatch,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_typos() {
        assert!(date_typo("20150314", "20150315"));
        assert!(date_typo("20150314", "20151304") || date_typo("20150314", "20151403"));
        assert!(date_typo("20150314", "20150341"));
        assert!(!date_typo("20150314", "20160315"));
    }

    #[test]
    fn probability_and_log_odds_are_inverse() {
        for p in [0.01, 0.2, 0.5, 0.9] {
            assert!((probability(log2_odds(p)) - p).abs() < 1e-9);
        }
    }
}
