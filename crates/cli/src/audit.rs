//! `haven audit verify`: every service's audit chain, checked on its own and against the checkpoints
//! the service signed and published outside its database (its checkpoint file, the Redis stream when
//! Redis is configured, and any export of its log lines given on the command line).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use haven_platform::HavenConfig;
use haven_platform::audit::checkpoint::{CheckpointKeyError, Source};
use haven_platform::audit::{
    self, AnchoredReport, ChainReport, CheckpointKey, CheckpointPublicKey, ReadCheckpoints,
    TrustedCheckpointKeys, checkpointer,
};

use crate::suite;

/// The services that keep an audit log, by the name their checkpoints carry.
pub const SERVICES: [&str; 3] = ["identity", "family-tracing", "learning"];

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Key(#[from] CheckpointKeyError),
    #[error("cannot read checkpoints from {path}: {source}")]
    Export {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What to trust and read besides the configuration.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Public keys to accept besides the configured ones (`--public-key`).
    pub public_keys: Vec<CheckpointPublicKey>,
    /// Exports of log lines holding checkpoints (`--checkpoints`).
    pub exports: Vec<PathBuf>,
}

/// One service's result.
#[derive(Debug)]
pub struct ServiceVerification {
    pub service: &'static str,
    pub outcome: Outcome,
}

#[derive(Debug)]
pub enum Outcome {
    /// The chain was read and checked against the checkpoints found.
    Checked(AnchoredReport),
    /// No database file at `path` (embedded default), and `checkpoints` were published for it.
    NoDatabase { path: String, checkpoints: usize },
    /// The check could not run: the database or the checkpoints could not be read.
    Failed(String),
}

impl ServiceVerification {
    /// Nothing wrong was found. A missing database is fine only while nothing was ever checkpointed
    /// for it.
    pub fn is_intact(&self) -> bool {
        match &self.outcome {
            Outcome::Checked(report) => report.is_intact(),
            Outcome::NoDatabase { checkpoints, .. } => *checkpoints == 0,
            Outcome::Failed(_) => false,
        }
    }

    /// What to print, one line each, the first naming the verdict.
    pub fn describe(&self, interval: Duration) -> Vec<String> {
        let service = self.service;
        match &self.outcome {
            Outcome::NoDatabase {
                path,
                checkpoints: 0,
            } => {
                vec![format!(
                    "{service} audit log: no database at {path}, nothing to verify"
                )]
            }
            Outcome::NoDatabase { path, checkpoints } => vec![format!(
                "{service} audit log: BROKEN: no database at {path}, but {checkpoints} checkpoints were published for it"
            )],
            Outcome::Failed(reason) => {
                vec![format!("{service} audit log: NOT VERIFIED: {reason}")]
            }
            Outcome::Checked(report) => describe_report(service, report, interval),
        }
    }
}

fn describe_report(service: &str, report: &AnchoredReport, interval: Duration) -> Vec<String> {
    let mut lines = Vec::new();
    let anchored = match &report.newest {
        Some(newest) => format!(
            "{} checkpoints read, the newest valid one at entry {} signed {}",
            report.checkpoints,
            newest.seq,
            audit::utc(newest.at_us)
        ),
        None => format!("{} checkpoints read, none valid", report.checkpoints),
    };
    match (&report.chain, report.problems.is_empty()) {
        (ChainReport::Intact { entries }, true) => {
            lines.push(format!(
                "{service} audit log: intact, {entries} entries; {anchored}; {} entries since, not yet checkpointed",
                report.unanchored
            ));
        }
        (ChainReport::Intact { entries }, false) => {
            lines.push(format!(
                "{service} audit log: BROKEN: the chain of {entries} entries is consistent, but it disagrees with its signed checkpoints ({anchored})"
            ));
        }
        (ChainReport::Broken { at_seq, reason }, _) => {
            lines.push(format!(
                "{service} audit log: BROKEN at entry {at_seq}: {reason}"
            ));
        }
    }
    for problem in &report.problems {
        lines.push(format!("  {problem}"));
    }
    // Entries a running service would have checkpointed long ago: it stopped without its last
    // checkpoint (a crash), or newer checkpoints were removed from every place they were published.
    if let Some(since) = report.unanchored_since_us {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0);
        let grace = (interval * 2 + Duration::from_secs(10)).as_micros() as i64;
        if now - since > grace {
            lines.push(format!(
                "  warning: the {} entries appended since {} are not checkpointed: the service stopped without its last checkpoint, or newer checkpoints were removed",
                report.unanchored,
                audit::utc(since)
            ));
        }
    }
    lines
}

/// The checkpoint keys `haven audit verify` accepts: `audit.trusted_checkpoint_keys`, the extra ones,
/// and the signing key's public half (the configured key, or the data dir's if one was made).
pub fn trusted_keys(
    config: &HavenConfig,
    extra: &[CheckpointPublicKey],
) -> Result<TrustedCheckpointKeys, AuditError> {
    let mut keys = extra.to_vec();
    for text in &config.audit.trusted_checkpoint_keys {
        keys.push(text.parse()?);
    }
    let signing_key = config.audit_checkpoint_key_path();
    if config.audit.checkpoint_key_path.is_some() || signing_key.exists() {
        keys.push(CheckpointKey::from_file(&signing_key)?.public_key().clone());
    }
    Ok(TrustedCheckpointKeys::new(keys))
}

/// Verifies every service's audit log. Errors only for bad input (a key or an export that cannot be
/// read); a service that cannot be checked is reported as such, and the others are still checked.
pub async fn verify_all(
    config: &HavenConfig,
    options: &VerifyOptions,
) -> Result<Vec<ServiceVerification>, AuditError> {
    let trusted = trusted_keys(config, &options.public_keys)?;
    let mut results = Vec::with_capacity(SERVICES.len());
    for service in SERVICES {
        let mut read = ReadCheckpoints::default();
        for path in &options.exports {
            read.extend(
                checkpointer::read_path(path, service, Source::LogExport).map_err(|source| {
                    AuditError::Export {
                        path: path.clone(),
                        source,
                    }
                })?,
            );
        }
        let outcome = match published(config, service).await {
            Ok(found) => {
                read.extend(found);
                check(config, service, &read, &trusted).await
            }
            Err(reason) => Outcome::Failed(reason),
        };
        results.push(ServiceVerification { service, outcome });
    }
    Ok(results)
}

/// What `service` published where this configuration says it publishes.
async fn published(config: &HavenConfig, service: &str) -> Result<ReadCheckpoints, String> {
    let dir = config.audit_checkpoint_dir();
    let mut read = checkpointer::read_file(&dir, service)
        .map_err(|e| format!("cannot read checkpoints in {}: {e}", dir.display()))?;
    if config.redis_url.is_some() {
        let bus = suite::event_bus(config).map_err(|e| e.to_string())?;
        read.extend(
            checkpointer::read_bus(&bus, service)
                .await
                .map_err(|e| format!("cannot read checkpoints from redis: {e}"))?,
        );
    }
    Ok(read)
}

async fn check(
    config: &HavenConfig,
    service: &str,
    read: &ReadCheckpoints,
    trusted: &TrustedCheckpointKeys,
) -> Outcome {
    let url = database_url(config, service);
    if let Some(path) = sqlite_file(&url)
        && !Path::new(path).exists()
    {
        return Outcome::NoDatabase {
            path: path.to_owned(),
            checkpoints: read.checkpoints.len(),
        };
    }
    let db = match haven_platform::db::connect(&url).await {
        Ok(db) => db,
        Err(error) => return Outcome::Failed(format!("database unavailable: {error}")),
    };
    let outcome = match audit::verify_anchored(&db, read, trusted).await {
        Ok(report) => Outcome::Checked(report),
        Err(error) => Outcome::Failed(format!("cannot read the audit log: {error}")),
    };
    db.close().await.ok();
    outcome
}

fn database_url(config: &HavenConfig, service: &str) -> String {
    match service {
        "family-tracing" => config.family_tracing_database_url(),
        "learning" => config.learning_database_url(),
        _ => config.identity_database_url(),
    }
}

/// The file of a SQLite URL, which connecting would create when missing.
fn sqlite_file(url: &str) -> Option<&str> {
    url.strip_prefix("sqlite://")
        .and_then(|rest| rest.split('?').next())
}
