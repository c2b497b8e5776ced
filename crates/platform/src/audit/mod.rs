//! The append-only, hash-chained audit log every service keeps in its own database (DESIGN.md §6).
//!
//! Each entry commits to the previous entry's hash. Every write transaction starts by bumping the single
//! `audit_head` row, which takes the write lock on SQLite and a row lock on PostgreSQL, so the chain has one
//! writer at a time on both backends and never forks. Writes append their entry inside their own
//! transaction (busy write RPCs share one through [`crate::group_commit`]); reads go through
//! [`AuditWriter`], which commits many read entries per transaction and answers each read only once its
//! entry is durable. Entries name records, classes and actions: never a
//! protected value.

mod entity;
mod migration;
mod writer;

use std::time::{SystemTime, UNIX_EPOCH};

use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait as _, QueryFilter, QueryOrder,
    QuerySelect,
};
use sha2::{Digest, Sha256};

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

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
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
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
    let page = std::cmp::max(page, 1);
    let mut prev = GENESIS_HASH.to_owned();
    let mut expected_seq = 1;
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
                return Ok(ChainReport::Broken {
                    at_seq: row.seq,
                    reason: "sequence gap or reorder",
                });
            }
            if row.prev_hash != prev {
                return Ok(ChainReport::Broken {
                    at_seq: row.seq,
                    reason: "previous hash mismatch",
                });
            }
            if chain_hash(&prev, row) != row.hash {
                return Ok(ChainReport::Broken {
                    at_seq: row.seq,
                    reason: "entry altered",
                });
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
        return Ok(ChainReport::Broken {
            at_seq: expected_seq,
            reason: "sequence gap or reorder",
        });
    }
    let head = head::Entity::find_by_id(1)
        .one(conn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("audit head".into()))?;
    if head.hash != prev || head.seq != expected_seq - 1 {
        return Ok(ChainReport::Broken {
            at_seq: expected_seq,
            reason: "entries missing at the end",
        });
    }
    Ok(ChainReport::Intact { entries: chained })
}
