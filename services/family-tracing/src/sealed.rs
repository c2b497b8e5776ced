//! Encryption at rest of tracing data, with `haven_platform::sealing` (the envelope scheme identity
//! uses for whereabouts). Who is looking for a child, and the children they describe, are protected:
//!
//! - A tracing request's body (inquirer, sought children, follow-up notes), its review reasons and the
//!   inquirer's name on its family links are sealed under the request's own data key
//!   (`tracing_request_keys`). Deleting that key crypto-erases them, copies in backups included.
//! - A profiled child's identity (the projection matching works from) is sealed under a key of its own
//!   (`child_profile_keys`), deleted with the profile.
//!
//! Both kinds of key are wrapped by the family tracing master key, which is not identity's: a leak of
//! one service's key and database does not open the other's. Ids, status, owner, agency, scores and
//! times stay clear: lists, scope and alerts query them.
//!
//! Rows written before encryption at rest carry `sealed = false` (or a NULL sealed column) and are
//! still read; [`seal_clear_rows`] seals them at start, a page per transaction, so it can be
//! interrupted and run again.

use std::collections::HashMap;
use std::sync::Arc;

use haven_platform::ServiceError;
use haven_platform::sealing::{DataKey, Keyring, SealingError, WrappedKey};
use haven_proto::family_tracing::TracingRequest;
use haven_proto::identity::Identity;
use prost::Message as _;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};

use crate::entity::{
    child_profile, family_link, profile_key, request_key, review, tracing_request,
};

/// Every data key is generation 1 until re-keying exists; it is bound into each sealed value.
const GENERATION: u32 = 1;
/// Field names bound into the associated data, so a value moved to another column does not open.
const BODY_FIELD: &str = "tracing_request";
const REVIEW_REASON_FIELD: &str = "match_review_reason";
const RELATIVE_NAME_FIELD: &str = "family_link_relative_name";
const PROFILE_FIELD: &str = "child_profile_identity";
/// Rows per transaction in the startup pass and in rewrapping.
const BATCH: u64 = 200;

pub(crate) fn sealing_error(error: SealingError) -> ServiceError {
    ServiceError::Internal(format!("encryption at rest: {error}"))
}

fn corrupt(what: &str) -> ServiceError {
    ServiceError::Internal(format!("stored {what} does not decode"))
}

/// The keys the service seals with, shared by its handlers, the feed and the matcher.
#[derive(Debug, Clone)]
pub struct Vault {
    keyring: Arc<Keyring>,
}

/// The kind of record a data key belongs to; each has its own key table.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Request,
    Profile,
}

impl Vault {
    pub fn new(keyring: Arc<Keyring>) -> Self {
        Vault { keyring }
    }

    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// Unwraps the stored keys of `ids` (those that have one).
    async fn keys_of<C: ConnectionTrait>(
        &self,
        conn: &C,
        kind: Kind,
        ids: &[String],
    ) -> Result<HashMap<String, Arc<DataKey>>, ServiceError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let stored: Vec<(String, Vec<u8>)> = match kind {
            Kind::Request => request_key::Entity::find()
                .filter(request_key::Column::TracingRequestId.is_in(ids.iter().cloned()))
                .all(conn)
                .await?
                .into_iter()
                .map(|k| (k.tracing_request_id, k.wrapped))
                .collect(),
            Kind::Profile => profile_key::Entity::find()
                .filter(profile_key::Column::ChildId.is_in(ids.iter().cloned()))
                .all(conn)
                .await?
                .into_iter()
                .map(|k| (k.child_id, k.wrapped))
                .collect(),
        };
        let mut keys = HashMap::with_capacity(stored.len());
        for (id, wrapped) in stored {
            let wrapped = WrappedKey::from_bytes(&wrapped).map_err(sealing_error)?;
            let key = self.keyring.unwrap(&id, &wrapped).map_err(sealing_error)?;
            keys.insert(id, Arc::new(key));
        }
        Ok(keys)
    }

    /// The record's data key, made and stored (in `conn`'s transaction) when it has none yet.
    async fn key_for_write<C: ConnectionTrait>(
        &self,
        conn: &C,
        kind: Kind,
        id: &str,
    ) -> Result<Arc<DataKey>, ServiceError> {
        if let Some(key) = self.keys_of(conn, kind, &[id.to_owned()]).await?.remove(id) {
            return Ok(key);
        }
        let (key, wrapped) = self.keyring.new_data_key(id).map_err(sealing_error)?;
        match kind {
            Kind::Request => {
                request_key::Entity::insert(request_key::ActiveModel {
                    tracing_request_id: Set(id.to_owned()),
                    wrapped: Set(wrapped.to_bytes()),
                    generation: Set(GENERATION as i32),
                })
                .exec_without_returning(conn)
                .await?;
            }
            Kind::Profile => {
                profile_key::Entity::insert(profile_key::ActiveModel {
                    child_id: Set(id.to_owned()),
                    wrapped: Set(wrapped.to_bytes()),
                    generation: Set(GENERATION as i32),
                })
                .exec_without_returning(conn)
                .await?;
            }
        }
        Ok(Arc::new(key))
    }

    /// The request's data key for sealing, created in `conn`'s transaction if the request has none.
    pub async fn request_key<C: ConnectionTrait>(
        &self,
        conn: &C,
        request_id: &str,
    ) -> Result<RequestKey, ServiceError> {
        Ok(RequestKey {
            request_id: request_id.to_owned(),
            key: self.key_for_write(conn, Kind::Request, request_id).await?,
        })
    }

    /// The body of each row (without its header columns), in row order; fails if any does not open.
    pub(crate) async fn open_requests<C: ConnectionTrait>(
        &self,
        conn: &C,
        rows: &[tracing_request::Model],
    ) -> Result<Vec<TracingRequest>, ServiceError> {
        self.open_each(conn, rows).await?.into_iter().collect()
    }

    /// The body of each row, or why it does not open, in row order: for background work that skips
    /// a bad row rather than stopping.
    pub(crate) async fn open_each<C: ConnectionTrait>(
        &self,
        conn: &C,
        rows: &[tracing_request::Model],
    ) -> Result<Vec<Result<TracingRequest, ServiceError>>, ServiceError> {
        let sealed: Vec<String> = rows
            .iter()
            .filter(|r| r.sealed)
            .map(|r| r.id.clone())
            .collect();
        let keys = self.keys_of(conn, Kind::Request, &sealed).await?;
        Ok(rows
            .iter()
            .map(|row| open_body(row, keys.get(&row.id).map(Arc::as_ref)))
            .collect())
    }

    /// The body of one row.
    pub async fn open_request<C: ConnectionTrait>(
        &self,
        conn: &C,
        row: &tracing_request::Model,
    ) -> Result<TracingRequest, ServiceError> {
        self.open_requests(conn, std::slice::from_ref(row))
            .await?
            .pop()
            .ok_or_else(|| corrupt("tracing request"))
    }

    /// The relative's name on each link, in row order.
    pub(crate) async fn open_link_names<C: ConnectionTrait>(
        &self,
        conn: &C,
        links: &[family_link::Model],
    ) -> Result<Vec<String>, ServiceError> {
        let ids: Vec<String> = links
            .iter()
            .filter(|l| l.relative_name_sealed.is_some())
            .map(|l| l.tracing_request_id.clone())
            .collect();
        let keys = self.keys_of(conn, Kind::Request, &ids).await?;
        links
            .iter()
            .map(|link| match &link.relative_name_sealed {
                None => Ok(link.relative_name.clone()),
                Some(sealed) => {
                    let key = keys
                        .get(&link.tracing_request_id)
                        .ok_or_else(|| missing_key("tracing request"))?;
                    let bytes = key
                        .open(&link.tracing_request_id, RELATIVE_NAME_FIELD, sealed)
                        .map_err(sealing_error)?;
                    String::from_utf8(bytes).map_err(|_| corrupt("family link"))
                }
            })
            .collect()
    }

    /// The identity of each profile, in row order. A profile whose identity does not open or decode
    /// gives `None` (and a warning), so one bad row never stops the index or a query.
    pub(crate) async fn open_profiles<C: ConnectionTrait>(
        &self,
        conn: &C,
        rows: &[child_profile::Model],
    ) -> Result<Vec<Option<Identity>>, ServiceError> {
        let sealed: Vec<String> = rows
            .iter()
            .filter(|r| r.sealed)
            .map(|r| r.child_id.clone())
            .collect();
        let keys = self.keys_of(conn, Kind::Profile, &sealed).await?;
        Ok(rows
            .iter()
            .map(|row| {
                let bytes = if row.sealed {
                    let key = keys.get(&row.child_id)?;
                    match key.open(&row.child_id, PROFILE_FIELD, &row.identity) {
                        Ok(bytes) => bytes,
                        Err(error) => {
                            tracing::warn!(%error, "a child profile does not open; left out");
                            return None;
                        }
                    }
                } else {
                    row.identity.clone()
                };
                Identity::decode(bytes.as_slice()).ok()
            })
            .collect())
    }

    /// A new profile's sealed identity and the key row to store beside it, for tools that load the
    /// projection in bulk without the service (benchmarks).
    pub fn seal_new_profile(
        &self,
        child_id: &str,
        identity: &Identity,
    ) -> Result<(Vec<u8>, profile_key::Model), ServiceError> {
        let (key, wrapped) = self.keyring.new_data_key(child_id).map_err(sealing_error)?;
        let sealed = key
            .seal(
                child_id,
                PROFILE_FIELD,
                GENERATION,
                &identity.encode_to_vec(),
            )
            .map_err(sealing_error)?;
        Ok((
            sealed,
            profile_key::Model {
                child_id: child_id.to_owned(),
                wrapped: wrapped.to_bytes(),
                generation: GENERATION as i32,
            },
        ))
    }

    /// The sealed form of a child's identity for its profile, with the profile's key made in `conn`'s
    /// transaction if it has none.
    pub(crate) async fn seal_profile<C: ConnectionTrait>(
        &self,
        conn: &C,
        child_id: &str,
        identity: &Identity,
    ) -> Result<Vec<u8>, ServiceError> {
        let key = self.key_for_write(conn, Kind::Profile, child_id).await?;
        key.seal(
            child_id,
            PROFILE_FIELD,
            GENERATION,
            &identity.encode_to_vec(),
        )
        .map_err(sealing_error)
    }
}

/// A profile's key goes with the profile.
pub(crate) async fn delete_profile_key<C: ConnectionTrait>(
    conn: &C,
    child_id: &str,
) -> Result<(), ServiceError> {
    profile_key::Entity::delete_by_id(child_id.to_owned())
        .exec(conn)
        .await?;
    Ok(())
}

fn missing_key(what: &str) -> ServiceError {
    ServiceError::Internal(format!("sealed {what} has no data key"))
}

fn open_body(
    row: &tracing_request::Model,
    key: Option<&DataKey>,
) -> Result<TracingRequest, ServiceError> {
    let bytes = if row.sealed {
        let key = key.ok_or_else(|| missing_key("tracing request"))?;
        key.open(&row.id, BODY_FIELD, &row.body)
            .map_err(sealing_error)?
    } else {
        row.body.clone()
    };
    TracingRequest::decode(bytes.as_slice()).map_err(|_| corrupt("tracing request"))
}

/// One request's unwrapped data key, for sealing what belongs to the request.
#[derive(Debug, Clone)]
pub struct RequestKey {
    request_id: String,
    key: Arc<DataKey>,
}

impl RequestKey {
    fn seal(&self, field: &str, plaintext: &[u8]) -> Result<Vec<u8>, ServiceError> {
        self.key
            .seal(&self.request_id, field, GENERATION, plaintext)
            .map_err(sealing_error)
    }

    /// The stored body: what the request says, without the header columns, sealed.
    pub fn seal_body(&self, request: &TracingRequest) -> Result<Vec<u8>, ServiceError> {
        let body = TracingRequest {
            inquirer: request.inquirer.clone(),
            sought_children: request.sought_children.clone(),
            follow_ups: request.follow_ups.clone(),
            ..Default::default()
        };
        self.seal(BODY_FIELD, &body.encode_to_vec())
    }

    pub(crate) fn seal_review_reason(&self, reason: &str) -> Result<Vec<u8>, ServiceError> {
        self.seal(REVIEW_REASON_FIELD, reason.as_bytes())
    }

    pub(crate) fn seal_relative_name(&self, name: &str) -> Result<Vec<u8>, ServiceError> {
        self.seal(RELATIVE_NAME_FIELD, name.as_bytes())
    }
}

/// How many rows the startup pass sealed, by table.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SealedCounts {
    pub tracing_requests: u64,
    pub family_links: u64,
    pub match_reviews: u64,
    pub child_profiles: u64,
}

impl SealedCounts {
    pub fn total(&self) -> u64 {
        self.tracing_requests + self.family_links + self.match_reviews + self.child_profiles
    }
}

/// Seals every row still in clear (written before encryption at rest). Each page is one transaction
/// whose updates only touch rows still unsealed, so the pass is idempotent, safe beside a running
/// replica, and safe to interrupt: the next start goes on where it stopped. On SQLite the write-ahead
/// log is then truncated, so the clear text does not linger there (deleted pages are zeroed by
/// `secure_delete`).
pub async fn seal_clear_rows(
    db: &DatabaseConnection,
    vault: &Vault,
) -> Result<SealedCounts, ServiceError> {
    let mut counts = SealedCounts::default();
    loop {
        let rows = tracing_request::Entity::find()
            .filter(tracing_request::Column::Sealed.eq(false))
            .order_by_asc(tracing_request::Column::Id)
            .limit(BATCH)
            .all(db)
            .await?;
        if rows.is_empty() {
            break;
        }
        let txn = db.begin().await?;
        for row in &rows {
            // The stored bytes are sealed as they are: a body is header-less already, and one that
            // does not decode is protected all the same.
            let key = vault.request_key(&txn, &row.id).await?;
            let result = tracing_request::Entity::update_many()
                .col_expr(
                    tracing_request::Column::Body,
                    Expr::value(key.seal(BODY_FIELD, &row.body)?),
                )
                .col_expr(tracing_request::Column::Sealed, Expr::value(true))
                .filter(tracing_request::Column::Id.eq(row.id.clone()))
                .filter(tracing_request::Column::Sealed.eq(false))
                .filter(tracing_request::Column::Version.eq(row.version))
                .exec(&txn)
                .await?;
            counts.tracing_requests += result.rows_affected;
        }
        txn.commit().await?;
    }
    loop {
        let links = family_link::Entity::find()
            .filter(family_link::Column::RelativeNameSealed.is_null())
            .filter(family_link::Column::RelativeName.ne(""))
            .order_by_asc(family_link::Column::Id)
            .limit(BATCH)
            .all(db)
            .await?;
        if links.is_empty() {
            break;
        }
        let txn = db.begin().await?;
        for link in &links {
            let key = vault.request_key(&txn, &link.tracing_request_id).await?;
            let result = family_link::Entity::update_many()
                .col_expr(
                    family_link::Column::RelativeNameSealed,
                    Expr::value(key.seal_relative_name(&link.relative_name)?),
                )
                .col_expr(family_link::Column::RelativeName, Expr::value(""))
                .filter(family_link::Column::Id.eq(link.id.clone()))
                .filter(family_link::Column::RelativeNameSealed.is_null())
                .exec(&txn)
                .await?;
            counts.family_links += result.rows_affected;
        }
        txn.commit().await?;
    }
    loop {
        let reviews = review::Entity::find()
            .filter(review::Column::ReasonSealed.is_null())
            .filter(review::Column::Reason.ne(""))
            .order_by_asc(review::Column::TracingRequestId)
            .order_by_asc(review::Column::SoughtChildId)
            .order_by_asc(review::Column::ChildId)
            .limit(BATCH)
            .all(db)
            .await?;
        if reviews.is_empty() {
            break;
        }
        let txn = db.begin().await?;
        for old in &reviews {
            let key = vault.request_key(&txn, &old.tracing_request_id).await?;
            let result = review::Entity::update_many()
                .col_expr(
                    review::Column::ReasonSealed,
                    Expr::value(key.seal_review_reason(&old.reason)?),
                )
                .col_expr(review::Column::Reason, Expr::value(""))
                .filter(review::Column::TracingRequestId.eq(old.tracing_request_id.clone()))
                .filter(review::Column::SoughtChildId.eq(old.sought_child_id.clone()))
                .filter(review::Column::ChildId.eq(old.child_id.clone()))
                .filter(review::Column::ReasonSealed.is_null())
                .exec(&txn)
                .await?;
            counts.match_reviews += result.rows_affected;
        }
        txn.commit().await?;
    }
    loop {
        let profiles = child_profile::Entity::find()
            .filter(child_profile::Column::Sealed.eq(false))
            .order_by_asc(child_profile::Column::ChildId)
            .limit(BATCH)
            .all(db)
            .await?;
        if profiles.is_empty() {
            break;
        }
        let txn = db.begin().await?;
        for profile in &profiles {
            let key = vault
                .key_for_write(&txn, Kind::Profile, &profile.child_id)
                .await?;
            let sealed = key
                .seal(
                    &profile.child_id,
                    PROFILE_FIELD,
                    GENERATION,
                    &profile.identity,
                )
                .map_err(sealing_error)?;
            let result = child_profile::Entity::update_many()
                .col_expr(child_profile::Column::Identity, Expr::value(sealed))
                .col_expr(child_profile::Column::Sealed, Expr::value(true))
                .filter(child_profile::Column::ChildId.eq(profile.child_id.clone()))
                .filter(child_profile::Column::Sealed.eq(false))
                .filter(child_profile::Column::IdentityVersion.eq(profile.identity_version))
                .exec(&txn)
                .await?;
            counts.child_profiles += result.rows_affected;
        }
        txn.commit().await?;
    }
    if counts.total() > 0 {
        haven_platform::db::purge_wal(db).await?;
    }
    Ok(counts)
}

/// Re-wraps every request and profile key not yet under the keyring's current master key
/// (master-key rotation). Sealed columns are not touched. Returns how many keys changed.
pub async fn rewrap_data_keys(
    db: &DatabaseConnection,
    keyring: &Keyring,
) -> Result<u64, ServiceError> {
    let current = keyring.current_version();
    let mut rewrapped = 0;
    for kind in [Kind::Request, Kind::Profile] {
        let mut after = String::new();
        loop {
            let page: Vec<(String, Vec<u8>)> = match kind {
                Kind::Request => request_key::Entity::find()
                    .filter(request_key::Column::TracingRequestId.gt(after.clone()))
                    .order_by_asc(request_key::Column::TracingRequestId)
                    .limit(BATCH)
                    .all(db)
                    .await?
                    .into_iter()
                    .map(|k| (k.tracing_request_id, k.wrapped))
                    .collect(),
                Kind::Profile => profile_key::Entity::find()
                    .filter(profile_key::Column::ChildId.gt(after.clone()))
                    .order_by_asc(profile_key::Column::ChildId)
                    .limit(BATCH)
                    .all(db)
                    .await?
                    .into_iter()
                    .map(|k| (k.child_id, k.wrapped))
                    .collect(),
            };
            let Some((last, _)) = page.last() else {
                break;
            };
            after = last.clone();
            let txn = db.begin().await?;
            for (id, stored) in page {
                let wrapped = WrappedKey::from_bytes(&stored).map_err(sealing_error)?;
                if wrapped.master_version() == current {
                    continue;
                }
                let fresh = keyring
                    .rewrap(&id, &wrapped)
                    .map_err(sealing_error)?
                    .to_bytes();
                match kind {
                    Kind::Request => {
                        request_key::Entity::update_many()
                            .col_expr(request_key::Column::Wrapped, Expr::value(fresh))
                            .filter(request_key::Column::TracingRequestId.eq(id))
                            .exec(&txn)
                            .await?;
                    }
                    Kind::Profile => {
                        profile_key::Entity::update_many()
                            .col_expr(profile_key::Column::Wrapped, Expr::value(fresh))
                            .filter(profile_key::Column::ChildId.eq(id))
                            .exec(&txn)
                            .await?;
                    }
                }
                rewrapped += 1;
            }
            txn.commit().await?;
        }
    }
    Ok(rewrapped)
}

/// Deletes a tracing request and everything of it: its data key (crypto-erasing the sealed body,
/// review reasons and link names wherever a copy survives), its row, reviews, alerts, family links and
/// idempotency key, in one transaction with an audit entry. Returns false when there was no such
/// request.
pub async fn erase_tracing_request(
    db: &DatabaseConnection,
    id: &str,
    actor: &str,
) -> Result<bool, ServiceError> {
    let txn = db.begin().await?;
    haven_platform::audit::append(
        &txn,
        &[haven_platform::audit::AuditEntry {
            actor: actor.to_owned(),
            roles: String::new(),
            agency: String::new(),
            action: "erase",
            rpc: "",
            record_id: id.to_owned(),
            classes: "tracing".into(),
        }],
    )
    .await?;
    let removed = tracing_request::Entity::delete_by_id(id.to_owned())
        .exec(&txn)
        .await?;
    if removed.rows_affected == 0 {
        txn.rollback().await?;
        return Ok(false);
    }
    request_key::Entity::delete_by_id(id.to_owned())
        .exec(&txn)
        .await?;
    review::Entity::delete_many()
        .filter(review::Column::TracingRequestId.eq(id))
        .exec(&txn)
        .await?;
    crate::entity::alert::Entity::delete_many()
        .filter(crate::entity::alert::Column::TracingRequestId.eq(id))
        .exec(&txn)
        .await?;
    family_link::Entity::delete_many()
        .filter(family_link::Column::TracingRequestId.eq(id))
        .exec(&txn)
        .await?;
    // The idempotency row holds a digest of the request's text.
    haven_platform::idempotency::forget(&txn, &[id.to_owned()]).await?;
    txn.commit().await?;
    haven_platform::db::purge_wal(db).await?;
    Ok(true)
}
