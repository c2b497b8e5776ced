//! The learning passport as the service uses it. Keys, signing, the credential, trust lists and status
//! lists are the database-free `haven-passport` crate, re-exported here under the paths the handlers
//! and tools have always named (`crate::passport::…`, `haven_learning::passport::…`). What touches the
//! database (which records go into a passport, the issued and revoked passports, the status list's
//! contents) is the service's, next to its tables.

pub use haven_passport::Algorithm as PassportAlgorithm;
pub use haven_passport::{
    Achievement, GENERATED_RSA_BITS, ImportedAchievement, IssuedPassport, LEEWAY_SECS,
    MAX_RSA_BITS, MIN_RSA_BITS, PassportContent, PassportError, PassportIssuer, Recipient, Score,
    TrustList, VerifiedPassport, hashed_identity, is_revoked, verify, verify_at,
};
