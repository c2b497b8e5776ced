//! The task that signs a service's audit chain head every few seconds while the chain grows, and at
//! shutdown, and publishes each checkpoint outside the database: a line appended to
//! `<checkpoint dir>/<service>.jsonl` (set aside as `.jsonl.1` when it grows large), a log line (`audit checkpoint`, for the log pipeline), and a
//! Redis stream under the bus namespace when Redis is configured.
//!
//! It reads the committed head ([`super::read_head`]) and never touches the write path: appends pay
//! nothing for it, and it takes no lock. Entries appended since the last checkpoint are not yet
//! anchored; that window is one interval long while the service runs.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sea_orm::DatabaseConnection;
use tokio::io::AsyncWriteExt as _;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::checkpoint::{Checkpoint, CheckpointKey, ReadCheckpoints, Source, read_lines, read_one};
use crate::bus::{Bus, BusError};

/// The file a service's checkpoints are appended to, in `dir`.
pub fn checkpoint_file(dir: &Path, service: &str) -> PathBuf {
    dir.join(format!("{service}.jsonl"))
}

/// The Redis stream (under the bus namespace) a service's checkpoints are added to.
pub fn checkpoint_stream(service: &str) -> String {
    format!("audit-checkpoints.{service}")
}

/// Where one service's checkpoints go.
#[derive(Debug, Clone)]
pub struct CheckpointSinks {
    /// `identity`, `family-tracing` or `learning`.
    pub service: &'static str,
    pub key: Arc<CheckpointKey>,
    /// The folder of `<service>.jsonl`; `None` writes no file.
    pub dir: Option<PathBuf>,
    /// A Redis bus. An in-process bus lives and dies with the process, so it anchors nothing: pass
    /// `None` then.
    pub bus: Option<Bus>,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("reading the audit head: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("publishing the checkpoint: {0}")]
    Publish(String),
    #[error("the checkpoint task has stopped")]
    Stopped,
}

enum Request {
    Now(oneshot::Sender<Result<Checkpoint, CheckpointError>>),
    Finish(oneshot::Sender<()>),
}

/// Handle to a service's checkpoint task. Dropping it ends the task after one last checkpoint.
#[derive(Debug)]
pub struct Checkpointer {
    service: &'static str,
    requests: mpsc::Sender<Request>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Request::Now(_) => "Now",
            Request::Finish(_) => "Finish",
        })
    }
}

/// How long [`Checkpointer::finish`] waits for the last checkpoint: a shutdown must not hang on a
/// database or a Redis that is gone.
const FINISH_TIMEOUT: Duration = Duration::from_secs(5);

impl Checkpointer {
    /// Starts the task on the current runtime: a checkpoint now, then one every `interval` when the
    /// head has moved.
    pub fn spawn(db: DatabaseConnection, sinks: CheckpointSinks, interval: Duration) -> Self {
        let (requests, receiver) = mpsc::channel(16);
        let service = sinks.service;
        let task = tokio::spawn(run(db, sinks, interval, receiver));
        Checkpointer {
            service,
            requests,
            task,
        }
    }

    pub fn service(&self) -> &'static str {
        self.service
    }

    /// Checkpoints the head now if it moved since the last checkpoint, and answers the newest one once
    /// it is published.
    pub async fn checkpoint_now(&self) -> Result<Checkpoint, CheckpointError> {
        let (answer, answered) = oneshot::channel();
        self.requests
            .send(Request::Now(answer))
            .await
            .map_err(|_| CheckpointError::Stopped)?;
        answered.await.map_err(|_| CheckpointError::Stopped)?
    }

    /// Takes the last checkpoint (call it once the service has stopped writing) and ends the task.
    pub async fn finish(self) {
        let (done, finished) = oneshot::channel();
        if self.requests.send(Request::Finish(done)).await.is_ok()
            && tokio::time::timeout(FINISH_TIMEOUT, finished)
                .await
                .is_err()
        {
            tracing::warn!(
                service = self.service,
                "the last audit checkpoint did not finish in time"
            );
        }
        self.task.abort();
    }
}

async fn run(
    db: DatabaseConnection,
    sinks: CheckpointSinks,
    interval: Duration,
    mut requests: mpsc::Receiver<Request>,
) {
    let mut last: Option<Checkpoint> = None;
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                if let Err(error) = checkpoint(&db, &sinks, &mut last).await {
                    tracing::error!(service = sinks.service, %error, "audit checkpoint failed");
                }
            }
            request = requests.recv() => match request {
                Some(Request::Now(answer)) => {
                    let _ = answer.send(checkpoint(&db, &sinks, &mut last).await);
                }
                Some(Request::Finish(done)) => {
                    if let Err(error) = checkpoint(&db, &sinks, &mut last).await {
                        tracing::error!(service = sinks.service, %error, "last audit checkpoint failed");
                    }
                    let _ = done.send(());
                    return;
                }
                None => {
                    let _ = checkpoint(&db, &sinks, &mut last).await;
                    return;
                }
            }
        }
    }
}

/// Signs and publishes the head if it moved since `last`; answers the newest checkpoint. `last` moves
/// only once every sink took the checkpoint, so a sink that failed gets the next tick's.
async fn checkpoint(
    db: &DatabaseConnection,
    sinks: &CheckpointSinks,
    last: &mut Option<Checkpoint>,
) -> Result<Checkpoint, CheckpointError> {
    let (seq, hash) = super::read_head(db).await?;
    if let Some(previous) = last.as_ref()
        && previous.seq == seq
        && previous.hash == hash
    {
        return Ok(previous.clone());
    }
    let checkpoint = sinks
        .key
        .sign(sinks.service, seq, &hash, super::now_micros());
    publish(sinks, &checkpoint).await?;
    *last = Some(checkpoint.clone());
    Ok(checkpoint)
}

async fn publish(sinks: &CheckpointSinks, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
    let json = checkpoint.to_json();
    // The log line goes to stdout and on to whatever collects it; it carries the whole checkpoint, so
    // an export of these lines can be handed to `haven audit verify --checkpoints`.
    tracing::info!(
        service = sinks.service,
        seq = checkpoint.seq,
        checkpoint = %json,
        "audit checkpoint"
    );
    let mut failures = Vec::new();
    if let Some(dir) = &sinks.dir
        && let Err(error) = append_line(dir, sinks.service, &json).await
    {
        failures.push(format!("{}: {error}", dir.display()));
    }
    if let Some(bus) = &sinks.bus
        && let Err(error) = bus
            .publish(
                &checkpoint_stream(sinks.service),
                &format!("{}-{}", checkpoint.seq, checkpoint.at_us),
                json.as_bytes(),
            )
            .await
    {
        failures.push(format!("redis: {error}"));
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(CheckpointError::Publish(failures.join("; ")))
    }
}

/// A checkpoint file is set aside (as `<service>.jsonl.1`, replacing the one before) once it reaches
/// this size: about 235,000 checkpoints of 285 bytes, 13 days of one every 5 s. The newest pins the
/// whole log, so older ones only narrow down when a rewrite happened; the log pipeline keeps them all.
const ROTATE_AT_BYTES: u64 = 64 * 1024 * 1024;

/// The file a service's checkpoints were set aside to.
fn previous_file(dir: &Path, service: &str) -> PathBuf {
    dir.join(format!("{service}.jsonl.1"))
}

async fn append_line(dir: &Path, service: &str, json: &str) -> std::io::Result<()> {
    append_line_rotating(dir, service, json, ROTATE_AT_BYTES).await
}

/// Appends one line and syncs it: one `write` on a file opened for appending, so lines from two
/// processes never interleave. A file of `rotate_at` bytes or more is set aside first.
async fn append_line_rotating(
    dir: &Path,
    service: &str,
    json: &str,
    rotate_at: u64,
) -> std::io::Result<()> {
    tokio::fs::create_dir_all(dir).await?;
    let path = checkpoint_file(dir, service);
    match tokio::fs::metadata(&path).await {
        Ok(metadata) if metadata.len() >= rotate_at => {
            tokio::fs::rename(&path, previous_file(dir, service)).await?;
        }
        _ => {}
    }
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .await?;
    let mut line = String::with_capacity(json.len() + 1);
    line.push_str(json);
    line.push('\n');
    file.write_all(line.as_bytes()).await?;
    file.sync_data().await
}

/// Reads what `service` published to `dir`: its file and the one set aside before it; nothing when
/// there is none.
pub fn read_file(dir: &Path, service: &str) -> std::io::Result<ReadCheckpoints> {
    let mut read = read_path(&previous_file(dir, service), service, Source::Published)?;
    read.extend(read_path(
        &checkpoint_file(dir, service),
        service,
        Source::Published,
    )?);
    Ok(read)
}

/// Reads a service's checkpoints from any file: a published one, or an export of log lines.
pub fn read_path(path: &Path, service: &str, kind: Source) -> std::io::Result<ReadCheckpoints> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(read_lines(
            &text,
            service,
            &path.display().to_string(),
            kind,
        )),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            Ok(ReadCheckpoints::default())
        }
        Err(error) => Err(error),
    }
}

/// Reads what `service` published to the bus's checkpoint stream (Redis trims it to the newest
/// 100,000 or so; older checkpoints add nothing the newest does not pin).
pub async fn read_bus(bus: &Bus, service: &str) -> Result<ReadCheckpoints, BusError> {
    let stream = checkpoint_stream(service);
    let source = format!("redis:{stream}");
    let mut read = ReadCheckpoints::default();
    let mut after = String::new();
    let mut line = 0;
    loop {
        let entries = bus.read_after(&stream, &after, 1000).await?;
        let Some(last) = entries.last() else {
            return Ok(read);
        };
        after.clone_from(&last.position);
        for entry in &entries {
            line += 1;
            read_one(
                &entry.payload,
                line,
                service,
                &source,
                Source::Published,
                &mut read,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{
        AuditEntry, CreateAuditLog, TrustedCheckpointKeys, append, verify_anchored,
    };
    use sea_orm::{ConnectionTrait as _, TransactionTrait as _};
    use sea_orm_migration::{MigrationTrait, MigratorTrait};

    struct AuditOnly;

    impl MigratorTrait for AuditOnly {
        fn migrations() -> Vec<Box<dyn MigrationTrait>> {
            vec![Box::new(CreateAuditLog)]
        }
    }

    async fn append_entries(db: &DatabaseConnection, count: usize) {
        let entry = AuditEntry {
            actor: "tester".into(),
            roles: String::new(),
            agency: String::new(),
            action: "read",
            rpc: "probe",
            record_id: "r".into(),
            classes: String::new(),
        };
        let txn = db.begin().await.expect("begin");
        append(&txn, &vec![entry; count]).await.expect("append");
        txn.commit().await.expect("commit");
    }

    fn published_seqs(dir: &Path) -> Vec<i64> {
        read_file(dir, "identity")
            .expect("read")
            .checkpoints
            .iter()
            .map(|c| c.seq)
            .collect()
    }

    #[tokio::test]
    async fn a_full_checkpoint_file_is_set_aside_and_both_are_read() {
        let dir = std::env::temp_dir().join(format!("haven-ckpt-{}", uuid::Uuid::now_v7()));
        let key = CheckpointKey::generate();
        let lines: Vec<String> = (0..5)
            .map(|seq| key.sign("identity", seq, "h", seq).to_json())
            .collect();
        for line in &lines {
            // Set aside once a file holds two lines.
            append_line_rotating(&dir, "identity", line, 2 * line.len() as u64)
                .await
                .expect("append");
        }
        let current = std::fs::read_to_string(checkpoint_file(&dir, "identity")).expect("file");
        assert_eq!(current.lines().count(), 1, "{current}");
        let seqs: Vec<i64> = read_file(&dir, "identity")
            .expect("read")
            .checkpoints
            .iter()
            .map(|c| c.seq)
            .collect();
        assert_eq!(seqs, vec![2, 3, 4], "the newest and the file before it");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[tokio::test]
    async fn the_head_is_signed_at_start_when_it_moves_and_at_finish_and_verifies() {
        let dir = std::env::temp_dir().join(format!("haven-ckpt-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).expect("dir");
        let url = format!("sqlite://{}?mode=rwc", dir.join("audit.db").display());
        let db = crate::db::connect(&url).await.expect("connect");
        AuditOnly::up(&db, None).await.expect("migrate");
        let key = Arc::new(CheckpointKey::generate());
        let trusted = TrustedCheckpointKeys::new([key.public_key().clone()]);
        let sinks = CheckpointSinks {
            service: "identity",
            key,
            dir: Some(dir.clone()),
            bus: None,
        };
        // A long interval: every checkpoint below is the start's, asked for, or the last.
        let checkpointer = Checkpointer::spawn(db.clone(), sinks, Duration::from_secs(60));
        let first = checkpointer.checkpoint_now().await.expect("checkpoint");
        assert_eq!(
            (first.seq, first.hash.as_str()),
            (0, super::super::GENESIS_HASH)
        );

        append_entries(&db, 3).await;
        let moved = checkpointer.checkpoint_now().await.expect("checkpoint");
        assert_eq!(moved.seq, 3);
        let again = checkpointer.checkpoint_now().await.expect("checkpoint");
        assert_eq!(again, moved, "an unmoved head is not signed again");
        assert_eq!(published_seqs(&dir), vec![0, 3]);

        append_entries(&db, 2).await;
        checkpointer.finish().await;
        assert_eq!(
            published_seqs(&dir),
            vec![0, 3, 5],
            "the last checkpoint at finish"
        );

        let read = read_file(&dir, "identity").expect("read");
        let report = verify_anchored(&db, &read, &trusted).await.expect("verify");
        assert!(report.is_intact(), "{report:?}");
        assert_eq!(report.newest.map(|c| c.seq), Some(5));
        assert_eq!(report.unanchored, 0);

        // Entries after the last checkpoint are counted as not yet anchored, and are not a failure.
        append_entries(&db, 4).await;
        let report = verify_anchored(&db, &read, &trusted).await.expect("verify");
        assert!(report.is_intact(), "{report:?}");
        assert_eq!(report.unanchored, 4);
        assert!(report.unanchored_since_us.is_some());

        // The same head published twice (two replicas, two sinks) is one checkpoint.
        let mut twice = read.clone();
        twice.extend(read.clone());
        let report = verify_anchored(&db, &twice, &trusted)
            .await
            .expect("verify");
        assert!(report.is_intact(), "{report:?}");

        db.execute_unprepared("UPDATE audit_log SET actor = 'x' WHERE seq = 2")
            .await
            .expect("tamper");
        let report = verify_anchored(&db, &read, &trusted).await.expect("verify");
        assert!(!report.is_intact());
        db.close().await.ok();
        std::fs::remove_dir_all(&dir).ok();
    }
}
