//! Idempotent writes (DESIGN.md §5: creates take a client-chosen `request_id`): one table, one key shape
//! and one body hash for every service, so a retry answers with what the first call produced and a key
//! reused for another request is refused the same way everywhere.
//!
//! The key is the caller (agency and subject, since a subject is only unique within its agency) and the
//! `request_id`. It spans all the writes of a service: a key used by one RPC and then by another is a
//! reused key. With the key, the table keeps the RPC, [`body_hash`] of the request and the ids of what
//! the write created, and a write calls it the same way each time, inside its own transaction:
//!
//! 1. [`check`] (after the audit append, whose lock serialises writers, so two retries of one key never
//!    both find it free): [`KeyUse::Retry`] answers with the saved ids, [`KeyUse::Reused`] is refused with
//!    [`key_reused`], and [`KeyUse::Fresh`] goes on to write;
//! 2. [`remember`] the key with the ids of what was written, in the same transaction, so the write and
//!    its key commit together or not at all.
//!
//! Batched writes claim many keys in one statement with [`claim_many`], and read the earlier uses of the
//! keys already taken with [`earlier_uses`].

mod entity;
mod migration;

use std::collections::{HashMap, HashSet};

use haven_authz::Principal;
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryTrait as _, Set,
};
use sha2::{Digest as _, Sha256};

pub use entity::Entity as IdempotencyEntity;
pub use entity::{Column as IdempotencyColumn, Model as IdempotencyRow};
pub use migration::CreateIdempotencyKeys;

use crate::error::ServiceError;
use crate::time::now_micros;

/// Most rows in one multi-row insert, so no statement exceeds a backend's limit on bound parameters.
const CHUNK: usize = 500;

/// The hash a key is saved with: hex SHA-256 of the encoded request with its `request_id` cleared, so
/// the hash says what was asked and the key says who asked. `request_id` picks the field to clear:
/// `body_hash(&request, |r| &mut r.request_id)`. Normalise the request first if the service ignores
/// part of it (a retry that differs only there is still the same request).
pub fn body_hash<M, F>(request: &M, request_id: F) -> String
where
    M: prost::Message + Clone,
    F: FnOnce(&mut M) -> &mut String,
{
    let mut unkeyed = request.clone();
    request_id(&mut unkeyed).clear();
    hex::encode(Sha256::digest(unkeyed.encode_to_vec()))
}

/// One use of an idempotency key: who, which key, which write and what it asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub agency: String,
    pub subject: String,
    pub request_id: String,
    /// The full method path of the write.
    pub rpc: String,
    pub body_hash: String,
}

impl IdempotencyKey {
    /// The key `principal` sent with a call of `rpc`.
    pub fn new(principal: &Principal, request_id: &str, rpc: &str, body_hash: String) -> Self {
        IdempotencyKey {
            agency: principal.agency.clone(),
            subject: principal.sub.clone(),
            request_id: request_id.to_owned(),
            rpc: rpc.to_owned(),
            body_hash,
        }
    }

    /// The key as one string, for `group_commit::BatchedWrite::key`: two requests under one key never
    /// share a batch.
    pub fn group_key(&self) -> String {
        format!("{}\n{}\n{}", self.agency, self.subject, self.request_id)
    }

    /// Who used the key, and the key: what the table's primary key says.
    pub fn id(&self) -> KeyId {
        KeyId {
            agency: self.agency.clone(),
            subject: self.subject.clone(),
            request_id: self.request_id.clone(),
        }
    }

    /// Whether a saved use of this key was this same request.
    fn is_repeated_by(&self, earlier: &entity::Model) -> bool {
        earlier.rpc == self.rpc && earlier.body_hash == self.body_hash
    }

    fn row(&self, result_ids: &[String], now: i64) -> entity::ActiveModel {
        entity::ActiveModel {
            agency: Set(self.agency.clone()),
            subject: Set(self.subject.clone()),
            request_id: Set(self.request_id.clone()),
            rpc: Set(self.rpc.clone()),
            body_hash: Set(self.body_hash.clone()),
            result_ids: Set(result_ids.join(",")),
            created_at_us: Set(now),
        }
    }
}

/// The primary key of a saved key: the caller and its `request_id`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyId {
    pub agency: String,
    pub subject: String,
    pub request_id: String,
}

/// What an earlier use of a key says about this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyUse {
    /// Never used: write, then [`remember`].
    Fresh,
    /// A retry of the same request: answer with what the first call created (its ids, in order).
    Retry(Vec<String>),
    /// Used before for another request (another body or another RPC): refuse with [`key_reused`].
    Reused,
}

/// The refusal of a key used before for another request: ALREADY_EXISTS, naming what the key made
/// (`"child"`, `"tracing request"`), so a client sees the same answer from every service.
pub fn key_reused(what: &str) -> ServiceError {
    ServiceError::AlreadyExists(format!(
        "request_id was already used for a different {what}"
    ))
}

/// Looks the key up on `conn`, the write's transaction.
pub async fn check<C: ConnectionTrait>(conn: &C, key: &IdempotencyKey) -> Result<KeyUse, DbErr> {
    let earlier = entity::Entity::find_by_id((
        key.agency.clone(),
        key.subject.clone(),
        key.request_id.clone(),
    ))
    .one(conn)
    .await?;
    Ok(match earlier {
        None => KeyUse::Fresh,
        Some(row) => classify(key, &row),
    })
}

/// [`check`] as most writes use it: `None` for a fresh key (write, then [`remember`]), the saved ids for
/// a retry, and [`key_reused`]`(what)` for a key used before for another request.
pub async fn replay<C: ConnectionTrait>(
    conn: &C,
    key: &IdempotencyKey,
    what: &str,
) -> Result<Option<Vec<String>>, ServiceError> {
    match check(conn, key).await? {
        KeyUse::Fresh => Ok(None),
        KeyUse::Retry(ids) => Ok(Some(ids)),
        KeyUse::Reused => Err(key_reused(what)),
    }
}

/// What `earlier`, a saved use of `key`'s id, says about `key`.
pub fn classify(key: &IdempotencyKey, earlier: &IdempotencyRow) -> KeyUse {
    if key.is_repeated_by(earlier) {
        KeyUse::Retry(result_ids(earlier))
    } else {
        KeyUse::Reused
    }
}

/// Saves the key with the ids of what the write created, on `conn`, the write's transaction.
pub async fn remember<C: ConnectionTrait>(
    conn: &C,
    key: &IdempotencyKey,
    result_ids: &[String],
) -> Result<(), DbErr> {
    entity::Entity::insert(key.row(result_ids, now_micros()))
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// The batch form of [`check`] and [`remember`]: saves every key not used before, in as few statements
/// as the backend's parameter limit allows (an insert that skips the keys already present), and returns
/// the ids of those it saved. A key not returned was used before: read it with [`earlier_uses`]. No two
/// keys of one call may share an id (a batch holds one request per key).
pub async fn claim_many<C: ConnectionTrait>(
    conn: &C,
    keys: &[(&IdempotencyKey, Vec<String>)],
) -> Result<HashSet<KeyId>, DbErr> {
    let now = now_micros();
    let mut claimed = HashSet::with_capacity(keys.len());
    for chunk in keys.chunks(CHUNK) {
        let rows = chunk.iter().map(|(key, ids)| key.row(ids, now));
        let mut insert = entity::Entity::insert_many(rows).into_query();
        insert
            .on_conflict(
                OnConflict::columns([
                    entity::Column::Agency,
                    entity::Column::Subject,
                    entity::Column::RequestId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .returning(Query::returning().columns([
                entity::Column::Agency,
                entity::Column::Subject,
                entity::Column::RequestId,
            ]));
        for row in conn.query_all(&insert).await? {
            claimed.insert(KeyId {
                agency: row.try_get("", "agency")?,
                subject: row.try_get("", "subject")?,
                request_id: row.try_get("", "request_id")?,
            });
        }
    }
    Ok(claimed)
}

/// The saved uses of these keys (rare in a batch: retries and reused keys), by key id.
pub async fn earlier_uses<C: ConnectionTrait>(
    conn: &C,
    keys: &[&IdempotencyKey],
) -> Result<HashMap<KeyId, IdempotencyRow>, DbErr> {
    let mut found = HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(CHUNK / 3) {
        let mut any = Condition::any();
        for key in chunk {
            any = any.add(
                Condition::all()
                    .add(entity::Column::Agency.eq(key.agency.as_str()))
                    .add(entity::Column::Subject.eq(key.subject.as_str()))
                    .add(entity::Column::RequestId.eq(key.request_id.as_str())),
            );
        }
        for row in entity::Entity::find().filter(any).all(conn).await? {
            let id = KeyId {
                agency: row.agency.clone(),
                subject: row.subject.clone(),
                request_id: row.request_id.clone(),
            };
            found.insert(id, row);
        }
    }
    Ok(found)
}

/// Deletes the keys whose write created any of `result_ids` (erased records: the saved body hash is a
/// digest of what the caller sent about them), including keys of writes that created several records
/// at once (their ids are saved comma-separated).
pub async fn forget<C: ConnectionTrait>(conn: &C, result_ids: &[String]) -> Result<(), DbErr> {
    // Ids are UUIDs, so they hold no LIKE wildcards; chunks keep each statement's parameters few.
    for chunk in result_ids.chunks(100) {
        let mut any = Condition::any();
        for id in chunk {
            any = any
                .add(entity::Column::ResultIds.eq(id.as_str()))
                .add(entity::Column::ResultIds.like(format!("{id},%")))
                .add(entity::Column::ResultIds.like(format!("%,{id}")))
                .add(entity::Column::ResultIds.like(format!("%,{id},%")));
        }
        entity::Entity::delete_many().filter(any).exec(conn).await?;
    }
    Ok(())
}

/// Points the keys whose write created exactly `from` at `into` (a duplicate merged into the record
/// kept: a retry of the duplicate's write answers with the kept record).
pub async fn redirect<C: ConnectionTrait>(conn: &C, from: &str, into: &str) -> Result<(), DbErr> {
    entity::Entity::update_many()
        .col_expr(entity::Column::ResultIds, Expr::value(into.to_owned()))
        .filter(entity::Column::ResultIds.eq(from))
        .exec(conn)
        .await?;
    Ok(())
}

fn result_ids(row: &IdempotencyRow) -> Vec<String> {
    row.result_ids
        .split(',')
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_db::{self, Scratch};
    use sea_orm::{DatabaseConnection, TransactionTrait as _};

    async fn database() -> (DatabaseConnection, Scratch) {
        test_db::database(&[&CreateIdempotencyKeys]).await
    }

    fn key(agency: &str, subject: &str, request_id: &str, body: &str) -> IdempotencyKey {
        IdempotencyKey {
            agency: agency.into(),
            subject: subject.into(),
            request_id: request_id.into(),
            rpc: "/haven.test.v1.Test/Create".into(),
            body_hash: body.into(),
        }
    }

    #[tokio::test]
    async fn a_fresh_key_is_remembered_and_its_retry_replays_the_saved_ids() {
        let (db, _scratch) = database().await;
        let first = key("a", "cw-1", "k-1", "body");
        assert_eq!(check(&db, &first).await.expect("check"), KeyUse::Fresh);
        let txn = db.begin().await.expect("begin");
        remember(&txn, &first, &["r1".into(), "r2".into()])
            .await
            .expect("remember");
        txn.commit().await.expect("commit");
        assert_eq!(
            check(&db, &first).await.expect("check"),
            KeyUse::Retry(vec!["r1".into(), "r2".into()]),
            "the ids in the order they were saved"
        );
    }

    #[tokio::test]
    async fn a_reused_key_with_another_body_is_refused() {
        let (db, _scratch) = database().await;
        remember(&db, &key("a", "cw-1", "k-1", "body"), &["r1".into()])
            .await
            .expect("remember");
        let other = key("a", "cw-1", "k-1", "another body");
        assert_eq!(check(&db, &other).await.expect("check"), KeyUse::Reused);
    }

    #[tokio::test]
    async fn a_key_used_by_another_rpc_is_refused() {
        let (db, _scratch) = database().await;
        remember(&db, &key("a", "cw-1", "k-1", "body"), &["r1".into()])
            .await
            .expect("remember");
        let other = IdempotencyKey {
            rpc: "/haven.test.v1.Test/Other".into(),
            ..key("a", "cw-1", "k-1", "body")
        };
        assert_eq!(check(&db, &other).await.expect("check"), KeyUse::Reused);
    }

    #[tokio::test]
    async fn the_same_key_from_another_caller_is_that_callers_own() {
        let (db, _scratch) = database().await;
        remember(&db, &key("a", "cw-1", "k-1", "body"), &["r1".into()])
            .await
            .expect("remember");
        for other in [key("a", "cw-2", "k-1", "x"), key("b", "cw-1", "k-1", "x")] {
            assert_eq!(check(&db, &other).await.expect("check"), KeyUse::Fresh);
        }
    }

    #[tokio::test]
    async fn a_key_rolled_back_with_its_write_is_free_again() {
        let (db, _scratch) = database().await;
        let first = key("a", "cw-1", "k-1", "body");
        let txn = db.begin().await.expect("begin");
        remember(&txn, &first, &["r1".into()])
            .await
            .expect("remember");
        txn.rollback().await.expect("rollback");
        assert_eq!(check(&db, &first).await.expect("check"), KeyUse::Fresh);
    }

    #[tokio::test]
    async fn a_batch_claims_the_new_keys_in_one_go_and_leaves_the_used_ones_to_read() {
        let (db, _scratch) = database().await;
        let used = key("a", "cw-1", "used", "body");
        remember(&db, &used, &["r0".into()])
            .await
            .expect("remember");
        let fresh: Vec<IdempotencyKey> = (0..700)
            .map(|i| key("a", "cw-1", &format!("k-{i}"), "body"))
            .collect();
        let retried = key("a", "cw-1", "used", "body");
        let mut batch: Vec<(&IdempotencyKey, Vec<String>)> = fresh
            .iter()
            .enumerate()
            .map(|(i, k)| (k, vec![format!("r{i}")]))
            .collect();
        batch.push((&retried, vec!["never".into()]));
        let claimed = claim_many(&db, &batch).await.expect("claim");
        assert_eq!(claimed.len(), fresh.len(), "past one statement's chunk too");
        assert!(!claimed.contains(&retried.id()));
        let earlier = earlier_uses(&db, &[&retried]).await.expect("read");
        let row = earlier.get(&retried.id()).expect("the earlier use");
        assert_eq!(classify(&retried, row), KeyUse::Retry(vec!["r0".into()]));
        assert_eq!(
            check(&db, &fresh[699]).await.expect("check"),
            KeyUse::Retry(vec!["r699".into()])
        );
    }

    #[tokio::test]
    async fn an_erased_result_takes_its_keys_with_it_and_a_merged_one_redirects_them() {
        let (db, _scratch) = database().await;
        let erased = key("a", "cw-1", "k-1", "body");
        let merged = key("a", "cw-1", "k-2", "body");
        remember(&db, &erased, &["c1".into()])
            .await
            .expect("remember");
        remember(&db, &merged, &["c2".into()])
            .await
            .expect("remember");
        forget(&db, &["c1".into()]).await.expect("forget");
        redirect(&db, "c2", "c3").await.expect("redirect");
        assert_eq!(check(&db, &erased).await.expect("check"), KeyUse::Fresh);
        assert_eq!(
            check(&db, &merged).await.expect("check"),
            KeyUse::Retry(vec!["c3".into()])
        );
    }

    /// A message with a `request_id`, as every write request has.
    #[derive(Clone, PartialEq, prost::Message)]
    struct Keyed {
        #[prost(string, tag = "1")]
        request_id: String,
        #[prost(string, tag = "2")]
        body: String,
    }

    #[test]
    fn the_body_hash_ignores_the_request_id_and_nothing_else() {
        let request = |request_id: &str, body: &str| Keyed {
            request_id: request_id.into(),
            body: body.into(),
        };
        let hash = |m: &Keyed| body_hash(m, |m| &mut m.request_id);
        assert_eq!(hash(&request("k-1", "x")), hash(&request("k-2", "x")));
        assert_ne!(hash(&request("k-1", "x")), hash(&request("k-1", "y")));
        assert_eq!(hash(&request("k-1", "x")).len(), 64, "hex of SHA-256");
    }
}
