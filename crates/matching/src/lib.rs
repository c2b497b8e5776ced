//! Name matching for Haven: normalised search keys for children's names.
//!
//! Names reach Haven in Latin, Arabic, Persian, Cyrillic and Ge'ez script,
//! each transliterated many ways. This crate turns a name into *search keys*
//! so that a search ignores case, diacritics and script and still runs as an
//! index lookup (`child_name_keys(child_id, key)`), never a table scan:
//!
//! * [`fold_tokens`] folds a name to lowercase ASCII tokens;
//! * [`token_keys`] gives one token's keys: its fold (`f:`), its consonant
//!   skeleton(s) (`s:`) and its equivalence group (`e:`, from the reviewable
//!   file `data/name-equivalents.txt`);
//! * [`name_keys`] is what to store for a child's name, [`query_keys`] what
//!   to look up for a search: a child matches when every query token shares a
//!   key with the name.
//!
//! On top of the keys sits the matching engine used by family tracing and
//! registration dedup: [`Index`] (an in-memory candidate index), [`compare`]
//! (Fellegi–Sunter scoring with evidence, calibrated: see `SCORING.md`),
//! [`Thresholds`] (with [`Thresholds::bands_for`] for a ranked search and
//! [`Thresholds::duplicate_bands`] / [`duplicate_probability`] for the
//! duplicate check) and [`assign_siblings`].
//!
//! The crate is pure: no I/O, no global state beyond the embedded
//! equivalence and nickname tables, built once on first use.

mod decide;
mod equivalents;
mod index;
mod keys;
mod model;
mod names;
mod normalise;
mod score;
mod siblings;
mod skeleton;

pub use decide::duplicate_probability;
pub use index::Index;
pub use keys::{MAX_QUERY_TOKENS, name_keys, query_keys, token_keys, typo_keys};
pub use model::{
    AgeEstimate, Band, Candidate, Day, Evidence, Field, MatchContext, PartialDate, Person, Reason,
    RecordId, Relation, Sex, Sought, Strength, Thresholds, WEAK_FLOOR, WEAK_RANKS,
};
pub use normalise::fold_tokens;
pub use score::compare;
pub use siblings::assign_siblings;

#[cfg(test)]
mod engine_tests;
#[cfg(test)]
mod spec_tests;
