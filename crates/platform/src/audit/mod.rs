//! The append-only, hash-chained audit log every service keeps in its own database (DESIGN.md §6).
//!
//! Each entry commits to the previous entry's hash. Every write transaction starts by bumping the single
//! `audit_head` row, which takes the write lock on SQLite and a row lock on PostgreSQL, so the chain has one
//! writer at a time on both backends and never forks. Writes append their entry inside their own
//! transaction (busy write RPCs share one through [`crate::group_commit`]); reads go through
//! [`AuditWriter`], which commits many read entries per transaction and answers each read only once its
//! entry is durable. Entries name records, classes and actions: never a
//! protected value.
//!
//! The chain lives in the database it protects, so on its own it stops only someone who cannot
//! recompute it. Each service therefore signs its head every few seconds with a key kept outside the
//! database and publishes the [`Checkpoint`] outside it too ([`checkpointer`]); [`verify_anchored`]
//! checks a chain against those checkpoints, which a recomputed or truncated chain fails.

pub mod checkpoint;
pub mod checkpointer;
mod entity;
mod migration;
mod writer;

use std::collections::{BTreeSet, HashMap};

use crate::time::now_micros;
use haven_authz::{ClassSet, DataClass, Principal};

use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait as _, QueryFilter, QueryOrder,
    QuerySelect,
};
use sha2::{Digest, Sha256};

pub use checkpoint::{
    Checkpoint, CheckpointKey, CheckpointPublicKey, ReadCheckpoints, SignatureProblem,
    TrustedCheckpointKeys, UnreadableLine,
};
pub use checkpointer::{CheckpointSinks, Checkpointer};
pub use entity::{head, log};
pub use migration::CreateAuditLog;
pub use writer::AuditWriter;

/// The hash the first entry chains from.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened, to which record, by whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub actor: String,
    /// The actor's roles, comma-separated.
    pub roles: String,
    pub agency: String,
    /// `create`, `read`, `update`, `list`, `search`, ...
    pub action: &'static str,
    /// The RPC's full method name.
    pub rpc: &'static str,
    pub record_id: String,
    /// The data classes returned or written, comma-separated.
    pub classes: String,
}

impl AuditEntry {
    /// The entry of one call by `principal`: `action` through `rpc` on `record_id` (empty for none),
    /// touching `classes`.
    pub fn of_call(
        principal: &Principal,
        action: &'static str,
        rpc: &'static str,
        record_id: &str,
        classes: ClassSet,
    ) -> AuditEntry {
        AuditEntry {
            actor: principal.sub.clone(),
            roles: principal
                .roles
                .iter()
                .map(|role| role.as_str())
                .collect::<Vec<_>>()
                .join(","),
            agency: principal.agency.clone(),
            action,
            rpc,
            record_id: record_id.to_owned(),
            classes: classes
                .iter()
                .map(DataClass::as_str)
                .collect::<Vec<_>>()
                .join(","),
        }
    }
}

/// The hash an entry commits to: the previous hash and every field, length-prefixed so no two
/// different entries serialise alike.
pub fn chain_hash(prev_hash: &str, row: &log::Model) -> String {
    let mut hasher = Sha256::new();
    for part in [
        prev_hash,
        &row.seq.to_string(),
        &row.entry_id,
        &row.at_us.to_string(),
        &row.actor,
        &row.roles,
        &row.agency,
        &row.action,
        &row.rpc,
        &row.record_id,
        &row.classes,
    ] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Appends entries on `conn`, which should be the caller's transaction. Call it first in a write
/// transaction: its first statement takes the chain's lock.
pub async fn append<C: ConnectionTrait>(conn: &C, entries: &[AuditEntry]) -> Result<(), DbErr> {
    if entries.is_empty() {
        return Ok(());
    }
    let head = lock_chain(conn).await?;
    append_locked(conn, head, entries).await
}

/// The chain's head as a transaction found it after taking the chain's lock: entries appended later in
/// the same transaction chain from here. Deliberately neither `Clone` nor `Copy`: one lock, one append.
#[derive(Debug)]
pub struct ChainHead {
    seq: i64,
    hash: String,
}

/// Takes the chain's lock on `conn` (a transaction) and reads the head, in one statement: a no-op update
/// of the head row, which takes the write lock on SQLite and the row lock on PostgreSQL until the
/// transaction ends. A writer that batches several requests takes it first, does their work, then
/// appends the entries of those that succeeded with [`append_locked`].
pub async fn lock_chain<C: ConnectionTrait>(conn: &C) -> Result<ChainHead, DbErr> {
    let statement = Query::update()
        .table(head::Entity)
        .value(head::Column::Seq, Expr::col(head::Column::Seq))
        .and_where(head::Column::Id.eq(1))
        .returning(Query::returning().columns([head::Column::Seq, head::Column::Hash]))
        .to_owned();
    let row = conn
        .query_one(&statement)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("audit head".into()))?;
    Ok(ChainHead {
        seq: row.try_get("", "seq")?,
        hash: row.try_get("", "hash")?,
    })
}

/// Appends entries after `head`, in the transaction that took it with [`lock_chain`], and moves the head
/// to the last of them.
pub async fn append_locked<C: ConnectionTrait>(
    conn: &C,
    head: ChainHead,
    entries: &[AuditEntry],
) -> Result<(), DbErr> {
    if entries.is_empty() {
        return Ok(());
    }
    let at_us = now_micros();
    let mut seq = head.seq;
    let mut prev = head.hash;
    let mut rows = Vec::with_capacity(entries.len());
    for entry in entries {
        seq += 1;
        let mut row = log::Model {
            seq,
            entry_id: uuid::Uuid::now_v7().to_string(),
            at_us,
            actor: entry.actor.clone(),
            roles: entry.roles.clone(),
            agency: entry.agency.clone(),
            action: entry.action.to_owned(),
            rpc: entry.rpc.to_owned(),
            record_id: entry.record_id.clone(),
            classes: entry.classes.clone(),
            prev_hash: prev.clone(),
            hash: String::new(),
        };
        row.hash = chain_hash(&prev, &row);
        prev = row.hash.clone();
        rows.push(log::ActiveModel::from(row));
    }
    // 12 columns a row: 1,000 rows stay well inside both backends' limits on bound parameters.
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        log::Entity::insert_many(rows.by_ref().take(1000).collect::<Vec<_>>())
            .exec_without_returning(conn)
            .await?;
    }
    head::Entity::update_many()
        .col_expr(head::Column::Seq, Expr::value(seq))
        .col_expr(head::Column::Hash, Expr::value(prev))
        .filter(head::Column::Id.eq(1))
        .exec(conn)
        .await?;
    Ok(())
}

/// What a chain check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainReport {
    Intact { entries: u64 },
    Broken { at_seq: i64, reason: &'static str },
}

/// Recomputes the whole chain and compares it with the head.
pub async fn verify_chain<C: ConnectionTrait>(conn: &C) -> Result<ChainReport, DbErr> {
    verify_chain_in_pages(conn, 10_000).await
}

/// [`verify_chain`], reading `page` entries at a time (by sequence number), so memory stays flat however
/// long the log is. Public so tests can make pages small enough to cross their boundaries.
pub async fn verify_chain_in_pages<C: ConnectionTrait>(
    conn: &C,
    page: u64,
) -> Result<ChainReport, DbErr> {
    Ok(walk_chain(conn, page, &BTreeSet::new()).await?.report)
}

/// What one pass over the chain found: the report, and the hashes of the entries asked for that it
/// reached before any break.
struct Walk {
    report: ChainReport,
    hashes: HashMap<i64, String>,
}

async fn walk_chain<C: ConnectionTrait>(
    conn: &C,
    page: u64,
    wanted: &BTreeSet<i64>,
) -> Result<Walk, DbErr> {
    let page = std::cmp::max(page, 1);
    let mut prev = GENESIS_HASH.to_owned();
    let mut expected_seq = 1;
    let mut hashes = HashMap::new();
    let broken = |hashes, at_seq, reason| Walk {
        report: ChainReport::Broken { at_seq, reason },
        hashes,
    };
    loop {
        let rows = log::Entity::find()
            .filter(log::Column::Seq.gte(expected_seq))
            .order_by_asc(log::Column::Seq)
            .limit(page)
            .all(conn)
            .await?;
        let Some(last) = rows.last() else {
            break;
        };
        let full_page = rows.len() as u64 == page;
        let last_seq = last.seq;
        for row in &rows {
            if row.seq != expected_seq {
                return Ok(broken(hashes, row.seq, "sequence gap or reorder"));
            }
            if row.prev_hash != prev {
                return Ok(broken(hashes, row.seq, "previous hash mismatch"));
            }
            if chain_hash(&prev, row) != row.hash {
                return Ok(broken(hashes, row.seq, "entry altered"));
            }
            if wanted.contains(&row.seq) {
                hashes.insert(row.seq, row.hash.clone());
            }
            prev.clone_from(&row.hash);
            expected_seq += 1;
        }
        if !full_page || last_seq + 1 != expected_seq {
            break;
        }
    }
    // A row whose sequence number sits below the one expected (a duplicate) would be skipped by the
    // paging filter above; the count of all rows must equal the chain's length.
    let total = log::Entity::find().count(conn).await?;
    let chained = (expected_seq - 1) as u64;
    if total != chained {
        return Ok(broken(hashes, expected_seq, "sequence gap or reorder"));
    }
    let (head_seq, head_hash) = read_head(conn).await?;
    if head_hash != prev || head_seq != expected_seq - 1 {
        return Ok(broken(hashes, expected_seq, "entries missing at the end"));
    }
    Ok(Walk {
        report: ChainReport::Intact { entries: chained },
        hashes,
    })
}

/// The committed head of the chain: its last entry's sequence number and hash (0 and the genesis hash
/// when empty). What checkpoints sign; the one place that knows where the head is kept.
pub async fn read_head<C: ConnectionTrait>(conn: &C) -> Result<(i64, String), DbErr> {
    let head = head::Entity::find_by_id(1)
        .one(conn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("audit head".into()))?;
    Ok((head.seq, head.hash))
}

/// What checking a chain against its published checkpoints found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchoredReport {
    /// The chain on its own, as [`verify_chain`] sees it.
    pub chain: ChainReport,
    /// Checkpoints read, whatever their state.
    pub checkpoints: usize,
    /// The newest checkpoint (highest entry) that is validly signed and that the chain matches.
    pub newest: Option<Checkpoint>,
    /// Entries after the newest checkpoint: appended since, so not anchored yet.
    pub unanchored: u64,
    /// When the first of those entries was appended (microseconds since the epoch).
    pub unanchored_since_us: Option<i64>,
    pub problems: Vec<CheckpointProblem>,
}

impl AnchoredReport {
    /// The chain is whole and agrees with every checkpoint published for it.
    pub fn is_intact(&self) -> bool {
        matches!(self.chain, ChainReport::Intact { .. }) && self.problems.is_empty()
    }
}

/// One way a chain and its published checkpoints disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointProblem {
    /// Where only checkpoints are written, a line that is not one of this service's: the publication
    /// was damaged or written to by someone else.
    Unreadable(UnreadableLine),
    /// Signed by a key that is not trusted.
    UnknownKey { seq: i64, kid: String },
    /// The signature does not cover these fields: a forged or edited checkpoint.
    BadSignature { seq: i64 },
    /// The chain's entry at a signed checkpoint has another hash: history before it was rewritten.
    Rewritten { seq: i64, signed_at_us: i64 },
    /// The chain ends before a signed checkpoint: entries were removed from its end.
    Truncated { seq: i64, entries: u64 },
    /// The chain holds entries and no valid checkpoint was found for it.
    NoCheckpoint { entries: u64 },
}

impl std::fmt::Display for CheckpointProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckpointProblem::Unreadable(line) => write!(
                f,
                "{} line {} is not a checkpoint of this service: the published checkpoints were altered",
                line.source, line.line
            ),
            CheckpointProblem::UnknownKey { seq, kid } => write!(
                f,
                "the checkpoint at entry {seq} is signed by key {kid}, which is not trusted"
            ),
            CheckpointProblem::BadSignature { seq } => write!(
                f,
                "the checkpoint at entry {seq} has an invalid signature: forged or edited"
            ),
            CheckpointProblem::Rewritten { seq, signed_at_us } => write!(
                f,
                "entry {seq} is not the one signed at {}: the log was rewritten",
                utc(*signed_at_us)
            ),
            CheckpointProblem::Truncated { seq, entries } => write!(
                f,
                "the log ends at entry {entries}, before the checkpoint at entry {seq}: entries were removed"
            ),
            CheckpointProblem::NoCheckpoint { entries } => write!(
                f,
                "{entries} entries and no signed checkpoint: the checkpoints were removed, or the service has not run since it began to sign them"
            ),
        }
    }
}

/// Microseconds since the epoch as a UTC time a person reads.
pub fn utc(at_us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(at_us)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| at_us.to_string())
}

/// Checks the chain on `conn` and every checkpoint in `read` against it: each must be signed by a
/// trusted key, the chain's entry at its `seq` must have its hash, and the chain must reach it. One
/// pass over the chain, whatever the number of checkpoints.
pub async fn verify_anchored<C: ConnectionTrait>(
    conn: &C,
    read: &ReadCheckpoints,
    trusted: &TrustedCheckpointKeys,
) -> Result<AnchoredReport, DbErr> {
    let mut problems: Vec<CheckpointProblem> = read
        .unreadable
        .iter()
        .cloned()
        .map(CheckpointProblem::Unreadable)
        .collect();
    let mut signed = Vec::new();
    for checkpoint in &read.checkpoints {
        match trusted.check(checkpoint) {
            Ok(()) => signed.push(checkpoint),
            Err(SignatureProblem::UnknownKey) => problems.push(CheckpointProblem::UnknownKey {
                seq: checkpoint.seq,
                kid: checkpoint.kid.clone(),
            }),
            Err(SignatureProblem::Invalid) => problems.push(CheckpointProblem::BadSignature {
                seq: checkpoint.seq,
            }),
        }
    }
    let wanted: BTreeSet<i64> = signed.iter().map(|c| c.seq).collect();
    let walk = walk_chain(conn, 10_000, &wanted).await?;
    let entries = match walk.report {
        ChainReport::Intact { entries } => Some(entries),
        ChainReport::Broken { .. } => None,
    };
    let mut newest: Option<&Checkpoint> = None;
    // Each distinct (seq, hash) once: replicas and sinks publish the same head more than once.
    let mut seen = BTreeSet::new();
    for checkpoint in signed {
        if !seen.insert((checkpoint.seq, checkpoint.hash.as_str())) {
            continue;
        }
        let found = match checkpoint.seq {
            0 => Some(GENESIS_HASH),
            seq => walk.hashes.get(&seq).map(String::as_str),
        };
        match found {
            Some(hash) if hash == checkpoint.hash => {
                if newest.is_none_or(|n| checkpoint.seq > n.seq) {
                    newest = Some(checkpoint);
                }
            }
            Some(_) => problems.push(CheckpointProblem::Rewritten {
                seq: checkpoint.seq,
                signed_at_us: checkpoint.at_us,
            }),
            None => {
                // Not reached: past the end of an intact chain, or past a break (reported already).
                if let Some(entries) = entries
                    && checkpoint.seq > 0
                {
                    problems.push(CheckpointProblem::Truncated {
                        seq: checkpoint.seq,
                        entries,
                    });
                }
            }
        }
    }
    let mut unanchored = 0;
    let mut unanchored_since_us = None;
    if let Some(entries) = entries {
        let anchored = newest.map_or(0, |n| n.seq as u64);
        unanchored = entries.saturating_sub(anchored);
        if newest.is_none() && entries > 0 && problems.is_empty() {
            problems.push(CheckpointProblem::NoCheckpoint { entries });
        }
        if unanchored > 0 {
            unanchored_since_us = log::Entity::find_by_id(anchored as i64 + 1)
                .one(conn)
                .await?
                .map(|row| row.at_us);
        }
    }
    Ok(AnchoredReport {
        chain: walk.report,
        checkpoints: read.checkpoints.len(),
        newest: newest.cloned(),
        unanchored,
        unanchored_since_us,
        problems,
    })
}
