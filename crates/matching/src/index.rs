//! The in-memory candidate index: posting lists from name keys to records,
//! so that a query touches only records that share a key, never the registry.
//!
//! Each record's name tokens give keys (fold, skeletons, equivalence and
//! nickname groups, a phonetic code, and a deletion-1 neighbourhood for the
//! given name and the first family token), plus its exact birth date. A query
//! walks its keys' posting lists rarest first under a work budget, marks per
//! record which query tokens it shares, ranks the records it touched by a
//! cheap rarity-weighted count (with birth span and sex as tie-breakers), and
//! fully scores only the best few hundred.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use crate::equivalents::nickname_groups;
use crate::model::{Candidate, Day, MatchContext, Person, RecordId, Sex, Sought};
use crate::names::{Tok, deletions};
use crate::score::{AVERAGE_NAME_U, CALIBRATION, Frequencies, Prepared, Query, compare_prepared};

/// Records fully scored per query. Enough for recall@10 on FEBRL4 and the
/// synthetic population; each costs a few microseconds.
const RESCORED: usize = 200;

/// Posting entries a query may walk. Keys are walked rarest first, so a
/// budget cut only drops the most common keys of the most common names.
const POSTING_BUDGET: usize = 1_500_000;

/// A query token whose exact spelling is in more than 1/this of the records
/// skips its deletion neighbourhood.
const COMMON_DIVISOR: usize = 100;

/// Name tokens per record that get keys (long chains are cut).
const MAX_RECORD_TOKENS: usize = 10;

/// The per-record match mask of a query: bit `t` says query token `t`
/// shares some key with the record, bit `8 + t` that it shares its exact
/// fold, and the bits below mark positional agreement and the birth date.
const EXACT_SHIFT: u32 = 8;
const GIVEN_POSITION_BIT: u32 = 1 << 16;
const FAMILY_POSITION_BIT: u32 = 1 << 17;
const BIRTH_BIT: u32 = 1 << 18;

/// Key families, hashed together with the key text.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Fold = 1,
    Skeleton = 2,
    Group = 3,
    Phonetic = 4,
    Deletion = 5,
    BirthDate = 6,
    /// The first given name's identity (group, else skeletons, else fold).
    GivenPosition = 7,
    /// The first family token's identity (the father's name in a chain).
    FamilyPosition = 8,
    /// The vowel-length fold (`Nour`, `Nur`, `Noor` → `nur`).
    Short = 9,
}

/// FNV-1a over the family tag and the key text: keys are stored as 64-bit
/// hashes; a collision only adds a candidate that scoring then rejects.
fn key(kind: Kind, text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in std::iter::once(kind as u8).chain(text.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// Keys are already hashes: pass them through.
#[derive(Debug, Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

type Postings = HashMap<u64, Vec<u32>, BuildHasherDefault<KeyHasher>>;

/// Compact per-record facts for the cheap ranking.
#[derive(Debug, Clone, Copy)]
struct Facts {
    birth_lo: f32,
    birth_hi: f32,
    sex: Sex,
}

#[derive(Debug, Clone)]
struct Slot {
    id: RecordId,
    person: Person,
    /// Prepared once at upsert: scoring a candidate then costs no folding.
    prepared: Prepared,
}

/// The in-memory candidate index over registered children.
#[derive(Debug, Clone, Default)]
pub struct Index {
    slots: Vec<Option<Slot>>,
    facts: Vec<Facts>,
    free: Vec<u32>,
    by_id: HashMap<RecordId, u32>,
    postings: Postings,
}

/// Pseudo-records for smoothing name shares: a name in a small index is
/// assumed to have the calibrated average share until the index is large
/// enough to say otherwise.
const SHARE_PSEUDO_COUNT: f64 = 1_000.0;

impl Frequencies for Index {
    /// The share of records carrying the token's group (or skeleton, or
    /// fold), shrunk toward the calibrated average for small indexes.
    fn share(&self, token: &Tok) -> f64 {
        let k = match (token.group, token.skeletons.first()) {
            (Some(group), _) => key(Kind::Group, group),
            (None, Some(skeleton)) => key(Kind::Skeleton, skeleton),
            (None, None) => key(Kind::Fold, &token.fold),
        };
        let df = self.postings.get(&k).map_or(0, Vec::len) as f64;
        (df + SHARE_PSEUDO_COUNT * AVERAGE_NAME_U) / (self.len() as f64 + SHARE_PSEUDO_COUNT)
    }

    /// The prior was fitted on registries of [`PRIOR_REFERENCE_SIZE`]
    /// records; a larger registry lowers it by log2 of the ratio (chance
    /// look-alikes grow with the registry). Smaller ones keep it.
    fn prior_shift(&self) -> f64 {
        CALIBRATION.size_slope * (self.len() as f64 / PRIOR_REFERENCE_SIZE).log2().max(0.0)
    }
}

/// Registry size the prior in `score.rs` was fitted at (FEBRL3: 5,000).
const PRIOR_REFERENCE_SIZE: f64 = 5_000.0;

/// The keys stored for a record.
fn record_keys(prepared: &Prepared) -> Vec<u64> {
    let mut keys = Vec::with_capacity(48);
    let neighbourhood = prepared
        .given
        .first()
        .into_iter()
        .chain(prepared.family.first());
    for token in neighbourhood {
        for d in deletions(&token.fold) {
            keys.push(key(Kind::Deletion, &d));
        }
    }
    for token in prepared.name_tokens().take(MAX_RECORD_TOKENS) {
        token_keys(token, &mut keys);
    }
    if let Some(date) = &prepared.exact_birth {
        keys.push(key(Kind::BirthDate, date));
    }
    if let Some(given) = prepared.given.first() {
        position_keys(Kind::GivenPosition, given, &mut keys);
    }
    if let Some(head) = prepared.family.first() {
        position_keys(Kind::FamilyPosition, head, &mut keys);
    }
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// A token's identity at a position: its group, else its skeletons, else
/// its fold. Lets the cheap ranking prefer records with the right name in
/// the right place.
fn position_keys(kind: Kind, token: &Tok, keys: &mut Vec<u64>) {
    if let Some(group) = token.group {
        keys.push(key(kind, group));
    } else if token.skeletons.is_empty() {
        keys.push(key(kind, &token.fold));
    } else {
        keys.extend(token.skeletons.iter().map(|s| key(kind, s)));
    }
}

/// Fold, skeleton, group, nickname-group and phonetic keys of one token.
fn token_keys(token: &Tok, keys: &mut Vec<u64>) {
    keys.push(key(Kind::Fold, &token.fold));
    for skeleton in &token.skeletons {
        keys.push(key(Kind::Skeleton, skeleton));
    }
    for group in token.group.iter().chain(nickname_groups(&token.fold)) {
        keys.push(key(Kind::Group, group));
    }
    if token.phonetic.len() >= 3 {
        keys.push(key(Kind::Phonetic, &token.phonetic));
    }
    if token.short.len() >= 3 {
        keys.push(key(Kind::Short, &token.short));
    }
}

/// The keys a query token looks up: its own keys, plus (with
/// `neighbourhood`) its fold and its deletions against the stored deletion
/// neighbourhood and its deletions against stored folds, which together find
/// every token one edit away.
fn query_token_keys(token: &Tok, neighbourhood: bool) -> Vec<u64> {
    let mut keys = Vec::with_capacity(24);
    token_keys(token, &mut keys);
    if neighbourhood {
        keys.push(key(Kind::Deletion, &token.fold));
        for d in deletions(&token.fold) {
            keys.push(key(Kind::Deletion, &d));
            keys.push(key(Kind::Fold, &d));
        }
    }
    keys.sort_unstable();
    keys.dedup();
    keys
}

impl Index {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// The stored version of a record.
    pub fn get(&self, id: RecordId) -> Option<&Person> {
        self.slot(id).map(|s| &s.person)
    }

    fn slot(&self, id: RecordId) -> Option<&Slot> {
        let slot = *self.by_id.get(&id)?;
        self.slots.get(slot as usize)?.as_ref()
    }

    /// Adds a record, replacing any previous version of `id`.
    pub fn upsert(&mut self, id: RecordId, person: &Person) {
        self.remove(id);
        let prepared = Prepared::new(person);
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                let next = u32::try_from(self.slots.len()).expect("fewer than 2^32 records");
                self.slots.push(None);
                self.facts.push(Facts {
                    birth_lo: f32::NAN,
                    birth_hi: f32::NAN,
                    sex: Sex::Unknown,
                });
                next
            }
        };
        for k in record_keys(&prepared) {
            let list = self.postings.entry(k).or_default();
            // Fresh slots are the largest so far: appending keeps lists sorted.
            if list.last().is_none_or(|&last| last < slot) {
                list.push(slot);
            } else if let Err(at) = list.binary_search(&slot) {
                list.insert(at, slot);
            }
        }
        let (lo, hi) = prepared.birth_span.unwrap_or((f64::NAN, f64::NAN));
        self.facts[slot as usize] = Facts {
            birth_lo: lo as f32,
            birth_hi: hi as f32,
            sex: person.sex,
        };
        self.slots[slot as usize] = Some(Slot {
            id,
            person: person.clone(),
            prepared,
        });
        self.by_id.insert(id, slot);
    }

    /// Removes a record; `false` if it was not there.
    pub fn remove(&mut self, id: RecordId) -> bool {
        let Some(slot) = self.by_id.remove(&id) else {
            return false;
        };
        if let Some(old) = self.slots[slot as usize].take() {
            for k in record_keys(&old.prepared) {
                if let Some(list) = self.postings.get_mut(&k) {
                    if let Ok(at) = list.binary_search(&slot) {
                        list.remove(at);
                    }
                    if list.is_empty() {
                        self.postings.remove(&k);
                    }
                }
            }
        }
        self.free.push(slot);
        true
    }

    /// Ranked candidates for a sought child, best first, at most `limit`.
    /// Records in `ctx.exclude` and `ctx.confirmed_siblings` are never
    /// returned; the confirmed siblings' records feed sibling evidence.
    pub fn find(&self, sought: &Sought, ctx: &MatchContext, limit: usize) -> Vec<Candidate> {
        let query = Query::new(sought);
        let siblings: Vec<Prepared> = ctx
            .confirmed_siblings
            .iter()
            .filter_map(|id| self.slot(*id))
            .take(4)
            .map(|s| s.prepared.clone())
            .collect();
        let skip: HashSet<RecordId> = ctx
            .exclude
            .iter()
            .chain(&ctx.confirmed_siblings)
            .copied()
            .collect();
        self.rank(&query, &siblings, &skip, limit)
    }

    /// Possible duplicates of a record being registered on `registered_on`,
    /// best first. The record itself, if already indexed, is included: the
    /// caller filters its own id.
    pub fn find_duplicates(
        &self,
        person: &Person,
        registered_on: Day,
        limit: usize,
    ) -> Vec<Candidate> {
        let query = Query::new(&Sought::new(person.clone(), registered_on));
        self.rank(&query, &[], &HashSet::new(), limit)
    }

    /// Scores one indexed record exactly as [`Index::find`] would (with the
    /// index's name frequencies and the confirmed siblings), whether or not
    /// candidate generation would reach it: for explanations and audits.
    pub fn score(&self, sought: &Sought, ctx: &MatchContext, id: RecordId) -> Option<Candidate> {
        let slot = self.slot(id)?;
        let query = Query::new(sought);
        let siblings: Vec<Prepared> = ctx
            .confirmed_siblings
            .iter()
            .filter(|s| **s != id)
            .filter_map(|s| self.slot(*s))
            .take(4)
            .map(|s| s.prepared.clone())
            .collect();
        Some(self.score_prepared(&query, &slot.prepared, &siblings, id))
    }

    /// The probability that two indexed records are the same child
    /// registered twice ([`crate::duplicate_probability`] of `b` as a
    /// duplicate-check candidate of `a`, as of `on`); `None` when either is
    /// not indexed. A search's list may hold one child twice (a
    /// re-registration): [`Index::bands_for`] uses this to tell a second
    /// record of the first candidate's child from a rival.
    pub fn same_child(&self, a: RecordId, b: RecordId, on: Day) -> Option<f64> {
        let first = self.slot(a)?;
        let second = self.slot(b)?;
        let query = Query::new(&Sought::new(first.person.clone(), on));
        let candidate = self.score_prepared(&query, &second.prepared, &[], b);
        Some(crate::duplicate_probability(&candidate))
    }

    fn score_prepared(
        &self,
        query: &Query,
        prepared: &Prepared,
        siblings: &[Prepared],
        id: RecordId,
    ) -> Candidate {
        let mut best = compare_prepared(query, prepared, None, self);
        for sibling in siblings {
            let with = compare_prepared(query, prepared, Some(sibling), self);
            if with.0 > best.0 {
                best = with;
            }
        }
        Candidate {
            id,
            score: best.0,
            evidence: best.1,
        }
    }

    fn rank(
        &self,
        query: &Query,
        siblings: &[Prepared],
        skip: &HashSet<RecordId>,
        limit: usize,
    ) -> Vec<Candidate> {
        if limit == 0 {
            return Vec::new();
        }
        let mut out: Vec<Candidate> = Vec::with_capacity(RESCORED);
        for slot in self.candidates(query) {
            let Some(Some(record)) = self.slots.get(slot as usize) else {
                continue;
            };
            if skip.contains(&record.id) {
                continue;
            }
            out.push(self.score_prepared(query, &record.prepared, siblings, record.id));
        }
        out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
        out.truncate(limit);
        out
    }

    /// The slots worth scoring for a query, at most [`RESCORED`].
    fn candidates(&self, query: &Query) -> Vec<u32> {
        let person = &query.person;
        let mut tokens: Vec<&Tok> = Vec::new();
        for token in person.name_tokens() {
            if tokens.len() == crate::MAX_QUERY_TOKENS {
                break;
            }
            if !tokens.iter().any(|t| t.fold == token.fold) {
                tokens.push(token);
            }
        }
        // (posting list, bits) pairs, rarest first.
        let mut lists: Vec<(&[u32], u32)> = Vec::new();
        let mut rarity: Vec<(u32, f64)> = Vec::new();
        let total = self.len().max(1) as f64;
        for (bit, token) in tokens.iter().enumerate() {
            let bit = 1u32 << bit;
            let mut fold_len = None;
            let mut min_len = usize::MAX;
            let fold_key = key(Kind::Fold, &token.fold);
            // A query token spelled like many records is a correct spelling
            // of a common name: its one-edit neighbours would each repeat
            // its own huge posting list, while its skeleton and group keys
            // already reach the other spellings.
            let common = self
                .postings
                .get(&fold_key)
                .is_some_and(|l| l.len() > self.len() / COMMON_DIVISOR);
            let phonetic_key = key(Kind::Phonetic, &token.phonetic);
            for k in query_token_keys(token, !common) {
                if let Some(list) = self.postings.get(&k) {
                    // A broad phonetic class adds little but work.
                    if k == phonetic_key && list.len() > self.len() / 20 {
                        continue;
                    }
                    let bits = if k == fold_key {
                        bit | (bit << EXACT_SHIFT)
                    } else {
                        bit
                    };
                    lists.push((list, bits));
                    min_len = min_len.min(list.len());
                }
            }
            if let Some(list) = self.postings.get(&fold_key) {
                fold_len = Some(list.len());
            }
            let df = fold_len.unwrap_or(min_len).min(self.len()) as f64;
            rarity.push((bit, (total / (1.0 + df)).log2().max(0.5)));
            rarity.push((bit << EXACT_SHIFT, 0.7));
        }
        let positions = [
            (
                Kind::GivenPosition,
                person.given.first(),
                GIVEN_POSITION_BIT,
            ),
            (
                Kind::FamilyPosition,
                person.family.first(),
                FAMILY_POSITION_BIT,
            ),
        ];
        for (kind, token, bit) in positions {
            let Some(token) = token else { continue };
            let mut keys = Vec::new();
            position_keys(kind, token, &mut keys);
            for k in keys {
                if let Some(list) = self.postings.get(&k) {
                    lists.push((list, bit));
                }
            }
            rarity.push((bit, 2.0));
        }
        if let Some(date) = &person.exact_birth
            && let Some(list) = self.postings.get(&key(Kind::BirthDate, date))
        {
            lists.push((list, BIRTH_BIT));
            rarity.push((
                BIRTH_BIT,
                (total / (1.0 + list.len() as f64)).log2().max(0.5),
            ));
        }
        lists.sort_by_key(|(list, _)| list.len());
        let mut per_bit = [0.0f64; 32];
        for (bit, weight) in &rarity {
            per_bit[bit.trailing_zeros() as usize] = *weight;
        }

        let mut mask = vec![0u32; self.slots.len()];
        let mut touched: Vec<u32> = Vec::new();
        let mut spent = 0usize;
        for (list, bit) in lists {
            if spent + list.len() > POSTING_BUDGET {
                break;
            }
            spent += list.len();
            for &slot in list {
                let m = &mut mask[slot as usize];
                if *m == 0 {
                    touched.push(slot);
                }
                *m |= bit;
            }
        }

        let span = person.birth_span;
        let tolerance = query.tolerance as f32 + 0.5;
        let mut ranked: Vec<(f32, u32)> = touched
            .into_iter()
            .map(|slot| {
                let m = mask[slot as usize];
                let mut score = 0.0;
                let mut rest = m;
                while rest != 0 {
                    score += per_bit[rest.trailing_zeros() as usize];
                    rest &= rest - 1;
                }
                let facts = self.facts[slot as usize];
                if let Some((lo, hi)) = span
                    && !facts.birth_lo.is_nan()
                {
                    let gap = (lo as f32 - facts.birth_hi).max(facts.birth_lo - hi as f32);
                    score += if gap <= 0.0 {
                        2.0
                    } else if gap <= tolerance {
                        0.5
                    } else {
                        -3.0 - gap
                    } as f64;
                }
                if person.sex != Sex::Unknown
                    && facts.sex != Sex::Unknown
                    && facts.sex != person.sex
                {
                    score -= 2.0;
                }
                (score as f32, slot)
            })
            .collect();
        if ranked.len() > RESCORED {
            ranked.select_nth_unstable_by(RESCORED - 1, |a, b| {
                b.0.total_cmp(&a.0).then(a.1.cmp(&b.1))
            });
            ranked.truncate(RESCORED);
        }
        ranked.into_iter().map(|(_, slot)| slot).collect()
    }
}
