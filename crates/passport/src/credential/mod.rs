//! The credential itself: what a passport states (its content), the writer that turns that into a
//! signed Open Badges 3.0 credential, and the reader that verifies one and reads it back.
//!
//! # Shape: one credential, one achievement, one result per learning record
//! Open Badges 3.0 puts exactly one `achievement` in an `AchievementSubject`. A learner with 200 records
//! gets one credential whose achievement is "Learning passport" (`achievementType: LearningProgram`)
//! with one `resultDescription` per record, each aligned to its curriculum outcomes (`Alignment` with
//! `targetFramework` = framework code and `targetCode` = `subject/level[/outcome]`), and the subject's
//! `result` list holds one `Result` per record. One signature covers everything, so issuing and verifying
//! stay cheap however many records there are (200 one-achievement credentials in a presentation would
//! cost 200 signatures), and every key used is defined by the OB 3.0 context, so standard verifiers read
//! it as is.

mod lenient;
mod read;
mod write;

use sha2::{Digest as _, Sha256};

#[cfg(test)]
pub(crate) use read::now_secs;
pub use read::{ImportedAchievement, LEEWAY_SECS, VerifiedPassport, verify, verify_at};

pub(crate) const VC_CONTEXT: &str = "https://www.w3.org/ns/credentials/v2";
pub(crate) const OB_CONTEXT: &str = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json";

/// What goes into a passport; built by the service from the learner's records.
#[derive(Debug, Clone)]
pub struct PassportContent {
    pub credential_id: uuid::Uuid,
    pub recipient: Recipient,
    pub achievements: Vec<Achievement>,
    /// Seconds since the Unix epoch.
    pub valid_from: i64,
    pub valid_until: Option<i64>,
    pub status_list_id: String,
}

/// Who a passport names: the learner's name and birth year, or only a salted hash of the name.
#[derive(Debug, Clone)]
pub enum Recipient {
    Named {
        given_name: String,
        family_name: String,
        birth_year: Option<i32>,
    },
    Hashed {
        name: String,
        salt: String,
    },
}

/// OB 3.0 hashed identity: `sha256$` + lowercase hex of SHA-256 over the identity then the salt.
pub fn hashed_identity(identity: &str, salt: &str) -> String {
    let digest = Sha256::digest(format!("{identity}{salt}").as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256${hex}")
}

/// One learning record as a passport states it.
#[derive(Debug, Clone, PartialEq)]
pub struct Achievement {
    pub record_id: String,
    pub title: String,
    pub framework_code: String,
    pub subject_code: String,
    pub level_code: String,
    /// Outcome codes with their label.
    pub outcomes: Vec<(String, String)>,
    /// Absent for completions and outcomes achieved.
    pub score: Option<Score>,
    pub occurred_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub raw: f64,
    pub max: f64,
    pub scaled: Option<f64>,
    pub passed: Option<bool>,
    pub grade: String,
}

/// A signed passport.
#[derive(Debug, Clone)]
pub struct IssuedPassport {
    pub jwt: String,
    /// `urn:uuid:...`
    pub credential_id: String,
}
