//! Persistence of children: every write is one transaction holding the change, its name keys and its
//! audit entry, so nothing is ever half written.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use haven_authz::{LocationKey, ReferralGrant};
use haven_platform::ServiceError;
use haven_platform::audit::{self, AuditEntry};
use haven_platform::idempotency::{self, IdempotencyKey, KeyUse};
use haven_platform::outbox;
use haven_platform::sealing::{DataKey, Keyring, SealingError, WrappedKey};
use haven_proto::identity::Child;
use prost::Message as _;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

use crate::entity::{
    affiliation, assignment, break_glass, child, child_key, duplicate_review, erasure, merge,
    name_key, referral,
};
use crate::events::{self, IDENTITY_STREAM};
use crate::location;
use crate::record::{
    ChildRecord, PROTECTION_FIELD, WHEREABOUTS_FIELD, now_micros, parse_class_list,
};

#[derive(Debug, Clone)]
pub(crate) struct Store {
    db: DatabaseConnection,
    keyring: Arc<Keyring>,
    /// The location-tag key, loaded (or created) on first use.
    location_key: Arc<tokio::sync::OnceCell<LocationKey>>,
}

/// What to load beside a child's row: each costs a query, so callers ask only for what their policy uses.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Loading {
    pub(crate) affiliations: bool,
    /// Accepted referrals (the partner scope).
    pub(crate) referrals: bool,
    /// Unexpired break-glass grants.
    pub(crate) break_glass: bool,
    /// Case assignments.
    pub(crate) assignees: bool,
    /// Location tags (the location scope).
    pub(crate) locations: bool,
    /// The unwrapped data key, needed to read whereabouts or protection.
    pub(crate) data_key: bool,
}

impl Loading {
    /// The row alone.
    pub(crate) const NOTHING: Loading = Loading {
        affiliations: false,
        referrals: false,
        break_glass: false,
        assignees: false,
        locations: false,
        data_key: false,
    };

    pub(crate) const EVERYTHING: Loading = Loading {
        affiliations: true,
        referrals: true,
        break_glass: true,
        assignees: true,
        locations: true,
        data_key: true,
    };
}

/// The referral status that shares classes with the receiving agency.
pub(crate) const REFERRAL_ACCEPTED: &str = "accepted";
/// The referral status of a referral its referrer took back.
pub(crate) const REFERRAL_REVOKED: &str = "revoked";

/// Every child's data key is generation 1 until re-keying exists; the generation is bound into each
/// sealed value's associated data so a later re-key cannot be confused with it.
const DATA_KEY_GENERATION: u32 = 1;

/// A new child as the service hands it to the store.
#[derive(Debug)]
pub(crate) struct NewChild {
    pub(crate) id: String,
    pub(crate) child: Child,
    pub(crate) owner: String,
    pub(crate) agency: String,
    pub(crate) team: Option<String>,
    /// Set when an educator registers a learner: the organisation it is affiliated with.
    pub(crate) learner_of: Option<String>,
    pub(crate) principal: String,
    /// The caller's idempotency key: a retry answers with the child the first call registered.
    pub(crate) key: IdempotencyKey,
}

#[derive(Debug)]
pub(crate) enum Registered {
    Created(Box<ChildRecord>),
    /// A retry of an earlier request with the same key and body.
    Replayed(String),
    /// The key was used before with a different body.
    KeyReused,
}

impl Store {
    pub(crate) fn new(db: DatabaseConnection, keyring: Arc<Keyring>) -> Self {
        Store {
            db,
            keyring,
            location_key: Arc::default(),
        }
    }

    /// The key behind location tags (see [`crate::location`]).
    pub(crate) async fn location_key(&self) -> Result<&LocationKey, ServiceError> {
        self.location_key
            .get_or_try_init(|| location::load_or_create_key(&self.db, &self.keyring))
            .await
    }

    pub(crate) fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    pub(crate) async fn register(
        &self,
        new: NewChild,
        audit_entry: AuditEntry,
    ) -> Result<Registered, ServiceError> {
        let location_key = self.location_key().await?;
        let txn = self.db.begin().await?;
        // First statement: takes the audit chain's lock, which also serialises retries of one key.
        audit::append(&txn, &[audit_entry]).await?;
        match idempotency::check(&txn, &new.key).await? {
            KeyUse::Fresh => {}
            KeyUse::Retry(ids) => {
                txn.rollback().await?;
                return Ok(Registered::Replayed(
                    ids.into_iter().next().unwrap_or_default(),
                ));
            }
            KeyUse::Reused => {
                txn.rollback().await?;
                return Ok(Registered::KeyReused);
            }
        }
        let now = now_micros();
        let consent_for_tracing = consent_for_tracing(&new.child);
        let (data_key, wrapped) = self.keyring.new_data_key(&new.id).map_err(sealing_error)?;
        let (whereabouts, protection) = seal_classes(&data_key, &new.id, &new.child)?;
        let row = child::Model {
            id: new.id.clone(),
            version: 1,
            identity_version: 1,
            owner: new.owner,
            agency: new.agency,
            consent_for_tracing,
            created_at_us: now,
            created_by: new.principal.clone(),
            updated_at_us: now,
            updated_by: new.principal.clone(),
            identity: new
                .child
                .identity
                .clone()
                .unwrap_or_default()
                .encode_to_vec(),
            whereabouts,
            protection,
            team: new.team,
        };
        child::Entity::insert(child::ActiveModel::from(row.clone()))
            .exec_without_returning(&txn)
            .await?;
        outbox::enqueue(&txn, IDENTITY_STREAM, events::child_changed(&row, true)).await?;
        child_key::Entity::insert(child_key::ActiveModel {
            child_id: Set(new.id.clone()),
            wrapped: Set(wrapped.to_bytes()),
            generation: Set(DATA_KEY_GENERATION as i32),
        })
        .exec_without_returning(&txn)
        .await?;
        write_name_keys(&txn, &new.id, &new.child).await?;
        location::write_tags(&txn, location_key, &new.id, &new.child).await?;
        let locations = location_key.tags_for_path(location::current_path(&new.child));
        let mut affiliations = Vec::new();
        if let Some(organisation) = new.learner_of {
            affiliation::Entity::insert(affiliation::ActiveModel {
                child_id: Set(new.id.clone()),
                organisation: Set(organisation.clone()),
                kind: Set(affiliation::REGISTERED.into()),
            })
            .exec_without_returning(&txn)
            .await?;
            outbox::enqueue(
                &txn,
                IDENTITY_STREAM,
                events::learner_affiliation_changed(&new.id, &organisation, true, now),
            )
            .await?;
            affiliations.push(organisation);
        }
        idempotency::remember(&txn, &new.key, std::slice::from_ref(&new.id)).await?;
        txn.commit().await?;
        Ok(Registered::Created(Box::new(ChildRecord {
            row,
            affiliations,
            referrals: Vec::new(),
            break_glass: Vec::new(),
            assignees: Vec::new(),
            locations,
            data_key: Some(Arc::new(data_key)),
        })))
    }

    /// Adds what `loading` asks for to a record loaded with less.
    pub(crate) async fn complete(
        &self,
        record: &mut ChildRecord,
        loading: Loading,
    ) -> Result<(), ServiceError> {
        complete(&self.db, &self.keyring, record, loading).await
    }

    /// Loads a child with what `loading` asks for.
    pub(crate) async fn load(
        &self,
        id: &str,
        loading: Loading,
    ) -> Result<Option<ChildRecord>, ServiceError> {
        load(&self.db, &self.keyring, id, loading).await
    }

    /// Runs an update in one transaction. `decide` sees the current record and returns the new child, or
    /// an error that aborts the transaction with nothing written.
    pub(crate) async fn update<F>(
        &self,
        id: &str,
        audit_entry: AuditEntry,
        decide: F,
    ) -> Result<ChildRecord, ServiceError>
    where
        F: FnOnce(&ChildRecord) -> Result<Child, ServiceError>,
    {
        let location_key = self.location_key().await?;
        let txn = self.db.begin().await?;
        let actor = audit_entry.actor.clone();
        audit::append(&txn, &[audit_entry]).await?;
        let Some(current) = load(&txn, &self.keyring, id, Loading::EVERYTHING).await? else {
            txn.rollback().await?;
            return Err(ServiceError::NotFound("child"));
        };
        let updated = match decide(&current) {
            Ok(updated) => updated,
            Err(error) => {
                txn.rollback().await?;
                return Err(error);
            }
        };
        let identity = updated.identity.clone().unwrap_or_default().encode_to_vec();
        let identity_changed = identity != current.row.identity;
        let data_key = current
            .data_key
            .clone()
            .ok_or_else(|| ServiceError::Internal("child has no data key".into()))?;
        let (whereabouts, protection) = seal_classes(&data_key, id, &updated)?;
        let row = child::Model {
            version: current.row.version + 1,
            identity_version: current.row.identity_version + i64::from(identity_changed),
            consent_for_tracing: consent_for_tracing(&updated),
            updated_at_us: now_micros(),
            updated_by: actor,
            identity,
            whereabouts,
            protection,
            ..current.row.clone()
        };
        let result = child::Entity::update_many()
            // from(Model) marks every value unchanged; reset_all marks them all to be written.
            .set(child::ActiveModel::from(row.clone()).reset_all())
            .filter(child::Column::Id.eq(id))
            .filter(child::Column::Version.eq(current.row.version))
            .exec(&txn)
            .await?;
        if result.rows_affected != 1 {
            txn.rollback().await?;
            return Err(ServiceError::StaleVersion(
                "the child changed meanwhile; read it again and retry".into(),
            ));
        }
        outbox::enqueue(&txn, IDENTITY_STREAM, events::child_changed(&row, false)).await?;
        if identity_changed {
            name_key::Entity::delete_many()
                .filter(name_key::Column::ChildId.eq(id))
                .exec(&txn)
                .await?;
            write_name_keys(&txn, id, &updated).await?;
        }
        let locations = location_key.tags_for_path(location::current_path(&updated));
        if locations != current.locations {
            location::write_tags(&txn, location_key, id, &updated).await?;
        }
        txn.commit().await?;
        Ok(ChildRecord {
            row,
            affiliations: current.affiliations,
            referrals: current.referrals,
            break_glass: current.break_glass,
            assignees: current.assignees,
            locations,
            data_key: Some(data_key),
        })
    }

    /// Merges `from` into `into` in one transaction, after `decide` has seen both records (with
    /// everything loaded) and allowed it. Returns the kept record, or `None` when either is missing.
    pub(crate) async fn merge<F>(
        &self,
        into: &str,
        from: &str,
        reason: String,
        audit_entries: Vec<AuditEntry>,
        decide: F,
    ) -> Result<Option<ChildRecord>, ServiceError>
    where
        F: FnOnce(&ChildRecord, &ChildRecord) -> Result<(), ServiceError>,
    {
        let txn = self.db.begin().await?;
        let actor = audit_entries
            .first()
            .map(|e| e.actor.clone())
            .unwrap_or_default();
        audit::append(&txn, &audit_entries).await?;
        let (Some(kept), Some(duplicate)) = (
            load(&txn, &self.keyring, into, Loading::EVERYTHING).await?,
            load(&txn, &self.keyring, from, Loading::EVERYTHING).await?,
        ) else {
            txn.rollback().await?;
            return Ok(None);
        };
        if let Err(error) = decide(&kept, &duplicate) {
            txn.rollback().await?;
            return Err(error);
        }
        // What scoped the duplicate now scopes the kept record.
        for organisation in &duplicate.affiliations {
            affiliation::Entity::insert(affiliation::ActiveModel {
                child_id: Set(into.to_owned()),
                organisation: Set(organisation.clone()),
                kind: Set("merged".into()),
            })
            .on_conflict(
                OnConflict::columns([
                    affiliation::Column::ChildId,
                    affiliation::Column::Organisation,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
        }
        let now = now_micros();
        for assignee in &duplicate.assignees {
            assignment::Entity::insert(assignment::ActiveModel {
                child_id: Set(into.to_owned()),
                assignee: Set(assignee.clone()),
                assigned_by: Set(actor.clone()),
                assigned_at_us: Set(now),
            })
            .on_conflict(
                OnConflict::columns([assignment::Column::ChildId, assignment::Column::Assignee])
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
        }
        referral::Entity::update_many()
            .col_expr(referral::Column::ChildId, Expr::value(into.to_owned()))
            .filter(referral::Column::ChildId.eq(from))
            .exec(&txn)
            .await?;
        // A retried registration of the duplicate now answers with the kept child.
        idempotency::redirect(&txn, from, into).await?;
        affiliation::Entity::delete_many()
            .filter(affiliation::Column::ChildId.eq(from))
            .exec(&txn)
            .await?;
        assignment::Entity::delete_many()
            .filter(assignment::Column::ChildId.eq(from))
            .exec(&txn)
            .await?;
        break_glass::Entity::delete_many()
            .filter(break_glass::Column::ChildId.eq(from))
            .exec(&txn)
            .await?;
        delete_duplicate_reviews(&txn, from).await?;
        name_key::Entity::delete_many()
            .filter(name_key::Column::ChildId.eq(from))
            .exec(&txn)
            .await?;
        // The duplicate's sealed classes go with its data key, as in an erasure.
        child_key::Entity::delete_many()
            .filter(child_key::Column::ChildId.eq(from))
            .exec(&txn)
            .await?;
        child::Entity::delete_many()
            .filter(child::Column::Id.eq(from))
            .exec(&txn)
            .await?;
        location::delete_tags(&txn, from).await?;
        merge::Entity::insert(merge::ActiveModel {
            from_child_id: Set(from.to_owned()),
            into_child_id: Set(into.to_owned()),
            merged_at_us: Set(now),
            merged_by: Set(actor),
            reason: Set(reason),
        })
        .exec_without_returning(&txn)
        .await?;
        outbox::enqueue(&txn, IDENTITY_STREAM, events::child_merged(from, into, now)).await?;
        txn.commit().await?;
        haven_platform::db::purge_wal(&self.db).await?;
        Ok(Some(kept))
    }

    /// Erases a child in one transaction: its data key (crypto-shredding the sealed classes), its row,
    /// name keys and affiliations go; an erasure record keeps who, when and why. Returns the time, or
    /// `None` if there was no such child.
    pub(crate) async fn erase(
        &self,
        id: &str,
        reason: String,
        audit_entry: AuditEntry,
    ) -> Result<Option<i64>, ServiceError> {
        let txn = self.db.begin().await?;
        let actor = audit_entry.actor.clone();
        audit::append(&txn, &[audit_entry]).await?;
        let removed = child::Entity::delete_many()
            .filter(child::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        if removed.rows_affected == 0 {
            txn.rollback().await?;
            return Ok(None);
        }
        child_key::Entity::delete_many()
            .filter(child_key::Column::ChildId.eq(id))
            .exec(&txn)
            .await?;
        name_key::Entity::delete_many()
            .filter(name_key::Column::ChildId.eq(id))
            .exec(&txn)
            .await?;
        affiliation::Entity::delete_many()
            .filter(affiliation::Column::ChildId.eq(id))
            .exec(&txn)
            .await?;
        delete_duplicate_reviews(&txn, id).await?;
        // Everything else that names the child and may hold protected text or a digest of it goes too:
        // referral and break-glass reasons, request-body hashes (of its registration and its
        // referrals), assignments.
        let mut keyed: Vec<String> = referral::Entity::find()
            .select_only()
            .column(referral::Column::Id)
            .filter(referral::Column::ChildId.eq(id))
            .into_tuple()
            .all(&txn)
            .await?;
        keyed.push(id.to_owned());
        idempotency::forget(&txn, &keyed).await?;
        referral::Entity::delete_many()
            .filter(referral::Column::ChildId.eq(id))
            .exec(&txn)
            .await?;
        break_glass::Entity::delete_many()
            .filter(break_glass::Column::ChildId.eq(id))
            .exec(&txn)
            .await?;
        assignment::Entity::delete_many()
            .filter(assignment::Column::ChildId.eq(id))
            .exec(&txn)
            .await?;
        location::delete_tags(&txn, id).await?;
        // A merge record's free-text reason describes the child it was merged into.
        merge::Entity::delete_many()
            .filter(merge::Column::IntoChildId.eq(id))
            .exec(&txn)
            .await?;
        let now = now_micros();
        outbox::enqueue(&txn, IDENTITY_STREAM, events::child_erased(id, now)).await?;
        erasure::Entity::insert(erasure::ActiveModel {
            child_id: Set(id.to_owned()),
            erased_at_us: Set(now),
            erased_by: Set(actor),
            reason: Set(reason),
        })
        .exec_without_returning(&txn)
        .await?;
        txn.commit().await?;
        haven_platform::db::purge_wal(&self.db).await?;
        Ok(Some(now))
    }

    /// One page of visible children, newest first, after the cursor id. With `key_groups`, only children
    /// whose names match at least one key of every group.
    pub(crate) async fn page(
        &self,
        visible: Condition,
        key_groups: &[Vec<String>],
        after: Option<&str>,
        limit: u64,
        loading: Loading,
    ) -> Result<Vec<ChildRecord>, ServiceError> {
        let mut condition = Condition::all().add(visible);
        if let Some(after) = after {
            condition = condition.add(child::Column::Id.lt(after));
        }
        for keys in key_groups {
            let matching = sea_orm::sea_query::Query::select()
                .column(name_key::Column::ChildId)
                .from(name_key::Entity)
                .and_where(name_key::Column::Key.is_in(keys.iter().cloned()))
                .to_owned();
            condition = condition.add(child::Column::Id.in_subquery(matching));
        }
        let rows = child::Entity::find()
            .filter(condition)
            .order_by_desc(child::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?;
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let mut affiliations = if loading.affiliations {
            affiliations_of(&self.db, &ids).await?
        } else {
            HashMap::new()
        };
        let mut referrals = if loading.referrals {
            referrals_of(&self.db, &ids).await?
        } else {
            HashMap::new()
        };
        let mut glass = if loading.break_glass {
            break_glass_of(&self.db, &ids).await?
        } else {
            HashMap::new()
        };
        let mut assignees = if loading.assignees {
            assignees_of(&self.db, &ids).await?
        } else {
            HashMap::new()
        };
        let mut locations = if loading.locations {
            location::tags_of(&self.db, &ids).await?
        } else {
            HashMap::new()
        };
        let mut keys = if loading.data_key {
            data_keys_of(&self.db, &self.keyring, &ids).await?
        } else {
            HashMap::new()
        };
        Ok(rows
            .into_iter()
            .map(|row| ChildRecord {
                affiliations: affiliations.remove(&row.id).unwrap_or_default(),
                referrals: referrals.remove(&row.id).unwrap_or_default(),
                break_glass: glass.remove(&row.id).unwrap_or_default(),
                assignees: assignees.remove(&row.id).unwrap_or_default(),
                locations: locations.remove(&row.id).unwrap_or_default(),
                data_key: keys.remove(&row.id),
                row,
            })
            .collect())
    }
}

fn consent_for_tracing(child: &Child) -> bool {
    child
        .protection
        .as_ref()
        .and_then(|p| p.consent.as_ref())
        .is_some_and(|c| c.consent_for_tracing)
}

async fn load<C: ConnectionTrait>(
    conn: &C,
    keyring: &Keyring,
    id: &str,
    loading: Loading,
) -> Result<Option<ChildRecord>, ServiceError> {
    let Some(row) = child::Entity::find_by_id(id.to_owned()).one(conn).await? else {
        return Ok(None);
    };
    let mut record = ChildRecord {
        row,
        affiliations: Vec::new(),
        referrals: Vec::new(),
        break_glass: Vec::new(),
        assignees: Vec::new(),
        locations: Vec::new(),
        data_key: None,
    };
    complete(conn, keyring, &mut record, loading).await?;
    Ok(Some(record))
}

/// Loads what `loading` asks for into a record read without it.
async fn complete<C: ConnectionTrait>(
    conn: &C,
    keyring: &Keyring,
    record: &mut ChildRecord,
    loading: Loading,
) -> Result<(), ServiceError> {
    let id = record.row.id.clone();
    let ids = std::slice::from_ref(&id);
    if loading.affiliations {
        record.affiliations = affiliations_of(conn, ids)
            .await?
            .remove(&id)
            .unwrap_or_default();
    }
    if loading.data_key {
        record.data_key = data_keys_of(conn, keyring, ids).await?.remove(&id);
    }
    if loading.referrals {
        record.referrals = referrals_of(conn, ids)
            .await?
            .remove(&id)
            .unwrap_or_default();
    }
    if loading.break_glass {
        record.break_glass = break_glass_of(conn, ids)
            .await?
            .remove(&id)
            .unwrap_or_default();
    }
    if loading.assignees {
        record.assignees = assignees_of(conn, ids)
            .await?
            .remove(&id)
            .unwrap_or_default();
    }
    if loading.locations {
        record.locations = location::tags_of(conn, ids)
            .await?
            .remove(&id)
            .unwrap_or_default();
    }
    Ok(())
}

/// The caseworkers `ids` are assigned to.
async fn assignees_of<C: ConnectionTrait>(
    conn: &C,
    ids: &[String],
) -> Result<HashMap<String, Vec<String>>, ServiceError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = assignment::Entity::find()
        .filter(assignment::Column::ChildId.is_in(ids.iter().cloned()))
        .all(conn)
        .await?;
    let mut by_child: HashMap<String, Vec<String>> = HashMap::new();
    for row in rows {
        by_child.entry(row.child_id).or_default().push(row.assignee);
    }
    Ok(by_child)
}

/// The holders of unexpired break-glass grants on `ids`.
async fn break_glass_of<C: ConnectionTrait>(
    conn: &C,
    ids: &[String],
) -> Result<HashMap<String, Vec<String>>, ServiceError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = break_glass::Entity::find()
        .filter(break_glass::Column::ChildId.is_in(ids.iter().cloned()))
        .filter(break_glass::Column::ExpiresAtUs.gt(now_micros()))
        .all(conn)
        .await?;
    let mut by_child: HashMap<String, Vec<String>> = HashMap::new();
    for row in rows {
        by_child.entry(row.child_id).or_default().push(row.holder);
    }
    Ok(by_child)
}

/// An education referral takes effect: the school reaches the child as a learner, and the learning
/// service is told so in the same transaction.
async fn place_with_school<C: ConnectionTrait>(
    conn: &C,
    placement: &referral::Model,
) -> Result<(), ServiceError> {
    let placed = affiliation::Entity::insert(affiliation::ActiveModel {
        child_id: Set(placement.child_id.clone()),
        organisation: Set(placement.to_agency.clone()),
        kind: Set(affiliation::PLACED.into()),
    })
    .on_conflict(
        OnConflict::columns([
            affiliation::Column::ChildId,
            affiliation::Column::Organisation,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    if placed > 0 {
        outbox::enqueue(
            conn,
            IDENTITY_STREAM,
            events::learner_affiliation_changed(
                &placement.child_id,
                &placement.to_agency,
                true,
                placement.created_at_us,
            ),
        )
        .await?;
    }
    Ok(())
}

/// A revoked education referral ends the school's reach, unless another placement with the same school
/// still stands or the affiliation is no longer the placement's alone (the child was enrolled there, or
/// an educator of the school registered the child).
async fn end_placement<C: ConnectionTrait>(
    conn: &C,
    revoked: &referral::Model,
    now: i64,
) -> Result<(), ServiceError> {
    let still_placed = referral::Entity::find()
        .filter(referral::Column::ChildId.eq(revoked.child_id.as_str()))
        .filter(referral::Column::ToAgency.eq(revoked.to_agency.as_str()))
        .filter(referral::Column::Kind.eq(referral::EDUCATION))
        .filter(referral::Column::Status.eq(REFERRAL_ACCEPTED))
        .filter(referral::Column::Id.ne(revoked.id.as_str()))
        .one(conn)
        .await?
        .is_some();
    if still_placed {
        return Ok(());
    }
    let ended = affiliation::Entity::delete_many()
        .filter(affiliation::Column::ChildId.eq(revoked.child_id.as_str()))
        .filter(affiliation::Column::Organisation.eq(revoked.to_agency.as_str()))
        .filter(affiliation::Column::Kind.eq(affiliation::PLACED))
        .exec(conn)
        .await?;
    if ended.rows_affected > 0 {
        outbox::enqueue(
            conn,
            IDENTITY_STREAM,
            events::learner_affiliation_changed(&revoked.child_id, &revoked.to_agency, false, now),
        )
        .await?;
    }
    Ok(())
}

/// The accepted referrals of `ids`, as access control reads them.
async fn referrals_of<C: ConnectionTrait>(
    conn: &C,
    ids: &[String],
) -> Result<HashMap<String, Vec<ReferralGrant>>, ServiceError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = referral::Entity::find()
        .filter(referral::Column::ChildId.is_in(ids.iter().cloned()))
        .filter(referral::Column::Status.eq(REFERRAL_ACCEPTED))
        .filter(referral::Column::Kind.ne(referral::EDUCATION))
        .all(conn)
        .await?;
    let mut by_child: HashMap<String, Vec<ReferralGrant>> = HashMap::new();
    for row in rows {
        by_child
            .entry(row.child_id)
            .or_default()
            .push(ReferralGrant {
                agency: row.to_agency,
                classes: parse_class_list(&row.shared_classes),
            });
    }
    Ok(by_child)
}

/// Unwraps the data keys of `ids` with the deployment keyring.
async fn data_keys_of<C: ConnectionTrait>(
    conn: &C,
    keyring: &Keyring,
    ids: &[String],
) -> Result<HashMap<String, Arc<DataKey>>, ServiceError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = child_key::Entity::find()
        .filter(child_key::Column::ChildId.is_in(ids.iter().cloned()))
        .all(conn)
        .await?;
    let mut keys = HashMap::with_capacity(rows.len());
    for row in rows {
        let wrapped = WrappedKey::from_bytes(&row.wrapped).map_err(sealing_error)?;
        let key = keyring
            .unwrap(&row.child_id, &wrapped)
            .map_err(sealing_error)?;
        keys.insert(row.child_id, Arc::new(key));
    }
    Ok(keys)
}

/// The stored (sealed) whereabouts and protection columns of a child.
type SealedColumns = (Option<Vec<u8>>, Option<Vec<u8>>);

/// Encodes and seals the whereabouts and protection of `child` under its data key.
fn seal_classes(key: &DataKey, id: &str, child: &Child) -> Result<SealedColumns, ServiceError> {
    let seal = |field: &str, bytes: Vec<u8>| {
        key.seal(id, field, DATA_KEY_GENERATION, &bytes)
            .map_err(sealing_error)
    };
    let whereabouts = child
        .whereabouts
        .as_ref()
        .map(|w| seal(WHEREABOUTS_FIELD, w.encode_to_vec()))
        .transpose()?;
    let protection = child
        .protection
        .as_ref()
        .map(|p| seal(PROTECTION_FIELD, p.encode_to_vec()))
        .transpose()?;
    Ok((whereabouts, protection))
}

pub(crate) fn sealing_error(error: SealingError) -> ServiceError {
    ServiceError::Internal(format!("encryption at rest: {error}"))
}

async fn affiliations_of<C: ConnectionTrait>(
    conn: &C,
    ids: &[String],
) -> Result<HashMap<String, Vec<String>>, ServiceError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = affiliation::Entity::find()
        .filter(affiliation::Column::ChildId.is_in(ids.iter().cloned()))
        .all(conn)
        .await?;
    let mut by_child: HashMap<String, Vec<String>> = HashMap::new();
    for row in rows {
        by_child
            .entry(row.child_id)
            .or_default()
            .push(row.organisation);
    }
    Ok(by_child)
}

/// The search keys of every name of a child.
pub(crate) fn name_keys_of(child: &Child) -> BTreeSet<String> {
    let Some(identity) = &child.identity else {
        return BTreeSet::new();
    };
    // The parts of the chain recorded apart and the nickname are names the child is known by; the
    // father's and mother's names are not searched (they name the parents).
    [
        &identity.given_name,
        &identity.family_name,
        &identity.grandfather_name,
        &identity.patronymic,
        &identity.nickname,
    ]
    .into_iter()
    .chain(identity.other_names.iter())
    .flat_map(|name| {
        haven_matching::name_keys(name)
            .into_iter()
            .chain(haven_matching::typo_keys(name))
    })
    .collect()
}

async fn write_name_keys<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    child: &Child,
) -> Result<(), ServiceError> {
    let rows: Vec<name_key::ActiveModel> = name_keys_of(child)
        .into_iter()
        .map(|key| name_key::ActiveModel {
            key: Set(key),
            child_id: Set(id.to_owned()),
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    name_key::Entity::insert_many(rows)
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Re-wraps every data key not yet under the keyring's current master key. The sealed columns are not
/// touched: rotation costs one small write per child. Returns how many keys were re-wrapped.
pub(crate) async fn rewrap_data_keys(
    db: &DatabaseConnection,
    keyring: &Keyring,
) -> Result<u64, ServiceError> {
    const BATCH: u64 = 500;
    let current = keyring.current_version();
    let mut rewrapped = location::rewrap_service_keys(db, keyring).await?
        + crate::webhooks::rewrap_secrets(db, keyring).await?;
    let mut after = String::new();
    loop {
        let rows = child_key::Entity::find()
            .filter(child_key::Column::ChildId.gt(after.clone()))
            .order_by_asc(child_key::Column::ChildId)
            .limit(BATCH)
            .all(db)
            .await?;
        let Some(last) = rows.last() else {
            return Ok(rewrapped);
        };
        after = last.child_id.clone();
        let txn = db.begin().await?;
        for row in rows {
            let wrapped = WrappedKey::from_bytes(&row.wrapped).map_err(sealing_error)?;
            if wrapped.master_version() == current {
                continue;
            }
            let fresh = keyring
                .rewrap(&row.child_id, &wrapped)
                .map_err(sealing_error)?;
            child_key::Entity::update_many()
                .col_expr(
                    child_key::Column::Wrapped,
                    sea_orm::sea_query::Expr::value(fresh.to_bytes()),
                )
                .filter(child_key::Column::ChildId.eq(row.child_id.clone()))
                .exec(&txn)
                .await?;
            rewrapped += 1;
        }
        txn.commit().await?;
    }
}

/// The outcome of CreateReferral's transaction.
#[derive(Debug)]
pub(crate) enum ReferralCreated {
    Created(Box<referral::Model>),
    /// A retry with the same key and body: the first referral.
    Replayed(Box<referral::Model>),
    /// The key was used before with a different body.
    KeyReused,
}

impl Store {
    /// Creates a referral in one transaction with its audit entry. `decide` sees the child as it is now
    /// (with everything loaded) and builds the referral, or refuses it with nothing written.
    pub(crate) async fn create_referral<F>(
        &self,
        child_id: &str,
        key: &IdempotencyKey,
        audit_entry: AuditEntry,
        decide: F,
    ) -> Result<ReferralCreated, ServiceError>
    where
        F: FnOnce(&ChildRecord) -> Result<referral::Model, ServiceError>,
    {
        let txn = self.db.begin().await?;
        audit::append(&txn, &[audit_entry]).await?;
        match idempotency::check(&txn, key).await? {
            KeyUse::Fresh => {}
            KeyUse::Retry(ids) => {
                let first = ids.into_iter().next().unwrap_or_default();
                let earlier = referral::Entity::find_by_id(first).one(&txn).await?;
                txn.rollback().await?;
                let earlier = earlier.ok_or(ServiceError::NotFound("referral"))?;
                return Ok(ReferralCreated::Replayed(Box::new(earlier)));
            }
            KeyUse::Reused => {
                txn.rollback().await?;
                return Ok(ReferralCreated::KeyReused);
            }
        }
        let Some(child) = load(&txn, &self.keyring, child_id, Loading::EVERYTHING).await? else {
            txn.rollback().await?;
            return Err(ServiceError::NotFound("child"));
        };
        let row = match decide(&child) {
            Ok(row) => row,
            Err(error) => {
                txn.rollback().await?;
                return Err(error);
            }
        };
        referral::Entity::insert(referral::ActiveModel::from(row.clone()))
            .exec_without_returning(&txn)
            .await?;
        if row.kind == referral::EDUCATION {
            place_with_school(&txn, &row).await?;
        }
        idempotency::remember(&txn, key, std::slice::from_ref(&row.id)).await?;
        txn.commit().await?;
        Ok(ReferralCreated::Created(Box::new(row)))
    }

    pub(crate) async fn referral(&self, id: &str) -> Result<Option<referral::Model>, ServiceError> {
        Ok(referral::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?)
    }

    /// Moves a referral to `to` in one transaction with its audit entry, if it is still in `from`.
    /// With `transfer_to`, the child's owner and agency change too (an accepted transfer).
    pub(crate) async fn transition_referral(
        &self,
        id: &str,
        from: &str,
        to: &str,
        actor: &str,
        transfer_to: Option<(String, String)>,
        audit_entry: AuditEntry,
    ) -> Result<referral::Model, ServiceError> {
        let txn = self.db.begin().await?;
        audit::append(&txn, &[audit_entry]).await?;
        let now = now_micros();
        let moved = referral::Entity::update_many()
            .col_expr(
                referral::Column::Status,
                sea_orm::sea_query::Expr::value(to),
            )
            .col_expr(
                referral::Column::UpdatedAtUs,
                sea_orm::sea_query::Expr::value(now),
            )
            .col_expr(
                referral::Column::UpdatedBy,
                sea_orm::sea_query::Expr::value(actor),
            )
            .filter(referral::Column::Id.eq(id))
            .filter(referral::Column::Status.eq(from))
            .exec(&txn)
            .await?;
        if moved.rows_affected != 1 {
            txn.rollback().await?;
            return Err(ServiceError::StaleVersion(
                "the referral changed meanwhile; read it again".into(),
            ));
        }
        let Some(row) = referral::Entity::find_by_id(id.to_owned())
            .one(&txn)
            .await?
        else {
            txn.rollback().await?;
            return Err(ServiceError::NotFound("referral"));
        };
        if row.kind == referral::EDUCATION && to == REFERRAL_REVOKED {
            end_placement(&txn, &row, now).await?;
        }
        if let Some((owner, agency)) = transfer_to {
            let Some(current) = child::Entity::find_by_id(row.child_id.clone())
                .one(&txn)
                .await?
            else {
                txn.rollback().await?;
                return Err(ServiceError::NotFound("child"));
            };
            let updated = child::Model {
                owner,
                agency,
                version: current.version + 1,
                updated_at_us: now,
                updated_by: actor.to_owned(),
                ..current
            };
            outbox::enqueue(
                &txn,
                IDENTITY_STREAM,
                events::child_changed(&updated, false),
            )
            .await?;
            child::Entity::update(child::ActiveModel::from(updated).reset_all())
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(row)
    }

    /// A page of referrals matching `condition`, newest first, after the cursor id.
    pub(crate) async fn referrals_page(
        &self,
        condition: Condition,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<referral::Model>, ServiceError> {
        let mut condition = condition;
        if let Some(after) = after {
            condition = condition.add(referral::Column::Id.lt(after));
        }
        Ok(referral::Entity::find()
            .filter(condition)
            .order_by_desc(referral::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?)
    }
}

impl Store {
    /// Records a break-glass grant with its audit entry, if the child exists.
    pub(crate) async fn grant_break_glass(
        &self,
        grant: break_glass::Model,
        audit_entry: AuditEntry,
    ) -> Result<break_glass::Model, ServiceError> {
        let txn = self.db.begin().await?;
        audit::append(&txn, &[audit_entry]).await?;
        let Some(child) = child::Entity::find_by_id(grant.child_id.clone())
            .one(&txn)
            .await?
        else {
            txn.rollback().await?;
            return Err(ServiceError::NotFound("child"));
        };
        let grant = break_glass::Model {
            child_agency: child.agency,
            ..grant
        };
        break_glass::Entity::insert(break_glass::ActiveModel::from(grant.clone()))
            .exec_without_returning(&txn)
            .await?;
        txn.commit().await?;
        Ok(grant)
    }

    /// Break-glass grants taken by members of `agency` or on its cases, newest first.
    pub(crate) async fn break_glass_page(
        &self,
        agency: &str,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<break_glass::Model>, ServiceError> {
        let mut condition = Condition::all().add(
            Condition::any()
                .add(break_glass::Column::Agency.eq(agency))
                .add(break_glass::Column::ChildAgency.eq(agency)),
        );
        if let Some(after) = after {
            condition = condition.add(break_glass::Column::Id.lt(after));
        }
        Ok(break_glass::Entity::find()
            .filter(condition)
            .order_by_desc(break_glass::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?)
    }
}

impl Store {
    /// Assigns or unassigns a caseworker, in one transaction with its audit entry. `decide` sees the
    /// case and refuses or allows the change. Returns the case's assignees afterwards.
    pub(crate) async fn set_assignment<F>(
        &self,
        child_id: &str,
        assignee: &str,
        assigned: bool,
        audit_entry: AuditEntry,
        decide: F,
    ) -> Result<Vec<String>, ServiceError>
    where
        F: FnOnce(&ChildRecord) -> Result<(), ServiceError>,
    {
        let txn = self.db.begin().await?;
        let actor = audit_entry.actor.clone();
        audit::append(&txn, &[audit_entry]).await?;
        let Some(current) = load(&txn, &self.keyring, child_id, Loading::EVERYTHING).await? else {
            txn.rollback().await?;
            return Err(ServiceError::NotFound("child"));
        };
        if let Err(error) = decide(&current) {
            txn.rollback().await?;
            return Err(error);
        }
        assignment::Entity::delete_many()
            .filter(assignment::Column::ChildId.eq(child_id))
            .filter(assignment::Column::Assignee.eq(assignee))
            .exec(&txn)
            .await?;
        if assigned {
            assignment::Entity::insert(assignment::ActiveModel {
                child_id: Set(child_id.to_owned()),
                assignee: Set(assignee.to_owned()),
                assigned_by: Set(actor),
                assigned_at_us: Set(now_micros()),
            })
            .exec_without_returning(&txn)
            .await?;
        }
        let assignees = assignees_of(&txn, &[child_id.to_owned()])
            .await?
            .remove(child_id)
            .unwrap_or_default();
        txn.commit().await?;
        Ok(assignees)
    }
}

/// The duplicate notices and reviews that name `child_id` on either side: they go with the child.
async fn delete_duplicate_reviews<C: ConnectionTrait>(
    conn: &C,
    child_id: &str,
) -> Result<(), ServiceError> {
    duplicate_review::Entity::delete_many()
        .filter(
            Condition::any()
                .add(duplicate_review::Column::ChildId.eq(child_id))
                .add(duplicate_review::Column::DuplicateChildId.eq(child_id)),
        )
        .exec(conn)
        .await?;
    Ok(())
}

/// The outcome of RequestDuplicateReview's transaction.
#[derive(Debug)]
pub(crate) enum ReviewRequested {
    Requested(Box<duplicate_review::Model>),
    /// A retry with the same key and body: the review as it stands.
    Replayed(Box<duplicate_review::Model>),
    KeyReused,
}

impl Store {
    /// The notices of likely duplicates for a child just registered, one per other record: existing
    /// ones are kept (a retried registration gets the notices it was first given), new ones written.
    pub(crate) async fn notice_duplicates(
        &self,
        child_id: &str,
        noticed_to: &str,
        requesting_agency: &str,
        others: &[(String, String)],
    ) -> Result<Vec<duplicate_review::Model>, ServiceError> {
        // Single statements, no read-then-write transaction: a pair already noticed (by a retry, or a
        // concurrent one) is left as it is by the unique pair index.
        let now = now_micros();
        let rows: Vec<duplicate_review::ActiveModel> = others
            .iter()
            .map(|(other, owner_agency)| {
                duplicate_review::ActiveModel::from(duplicate_review::Model {
                    id: uuid::Uuid::now_v7().to_string(),
                    child_id: child_id.to_owned(),
                    noticed_to: noticed_to.to_owned(),
                    requesting_agency: requesting_agency.to_owned(),
                    duplicate_child_id: other.clone(),
                    owner_agency: owner_agency.clone(),
                    status: duplicate_review::NOTICED.to_owned(),
                    kind: String::new(),
                    reason: String::new(),
                    answer_reason: String::new(),
                    requested_by: String::new(),
                    answered_by: String::new(),
                    noticed_at_us: now,
                    requested_at_us: 0,
                    answered_at_us: 0,
                })
            })
            .collect();
        if !rows.is_empty() {
            duplicate_review::Entity::insert_many(rows)
                .on_conflict(
                    OnConflict::columns([
                        duplicate_review::Column::ChildId,
                        duplicate_review::Column::DuplicateChildId,
                    ])
                    .do_nothing()
                    .to_owned(),
                )
                .exec_without_returning(&self.db)
                .await?;
        }
        let mut notices = duplicate_review::Entity::find()
            .filter(duplicate_review::Column::ChildId.eq(child_id))
            .all(&self.db)
            .await?;
        notices.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(notices)
    }

    pub(crate) async fn duplicate_review(
        &self,
        id: &str,
    ) -> Result<Option<duplicate_review::Model>, ServiceError> {
        Ok(duplicate_review::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?)
    }

    /// Turns a notice into a pending review, in one transaction with the audit entries of both records
    /// and the event that tells the owning agency. Only a notice still `noticed` moves.
    pub(crate) async fn request_duplicate_review(
        &self,
        key: &IdempotencyKey,
        requested: duplicate_review::Model,
        entries: Vec<AuditEntry>,
    ) -> Result<ReviewRequested, ServiceError> {
        let txn = self.db.begin().await?;
        // The audit entries first: the transaction takes the write lock before it reads.
        audit::append(&txn, &entries).await?;
        match idempotency::check(&txn, key).await? {
            KeyUse::Fresh => {}
            KeyUse::Retry(_) => {
                let earlier = duplicate_review::Entity::find_by_id(requested.id.clone())
                    .one(&txn)
                    .await?;
                txn.rollback().await?;
                let earlier = earlier.ok_or(ServiceError::NotFound("duplicate notice"))?;
                return Ok(ReviewRequested::Replayed(Box::new(earlier)));
            }
            KeyUse::Reused => {
                txn.rollback().await?;
                return Ok(ReviewRequested::KeyReused);
            }
        }
        let moved = duplicate_review::Entity::update_many()
            .set(duplicate_review::ActiveModel {
                status: Set(requested.status.clone()),
                kind: Set(requested.kind.clone()),
                reason: Set(requested.reason.clone()),
                requested_by: Set(requested.requested_by.clone()),
                requested_at_us: Set(requested.requested_at_us),
                ..Default::default()
            })
            .filter(duplicate_review::Column::Id.eq(requested.id.clone()))
            .filter(duplicate_review::Column::Status.eq(duplicate_review::NOTICED))
            .exec(&txn)
            .await?;
        if moved.rows_affected != 1 {
            txn.rollback().await?;
            return Err(ServiceError::FailedPrecondition(
                "this notice was already asked about".into(),
            ));
        }
        outbox::enqueue(
            &txn,
            IDENTITY_STREAM,
            events::duplicate_review_requested(&requested),
        )
        .await?;
        idempotency::remember(&txn, key, std::slice::from_ref(&requested.id)).await?;
        txn.commit().await?;
        Ok(ReviewRequested::Requested(Box::new(requested)))
    }

    /// Records the owning agency's answer to a pending review, in one transaction with the audit entries
    /// of both records and the event that tells the asking agency.
    pub(crate) async fn answer_duplicate_review(
        &self,
        answered: duplicate_review::Model,
        entries: Vec<AuditEntry>,
    ) -> Result<duplicate_review::Model, ServiceError> {
        let txn = self.db.begin().await?;
        audit::append(&txn, &entries).await?;
        let moved = duplicate_review::Entity::update_many()
            .set(duplicate_review::ActiveModel {
                status: Set(answered.status.clone()),
                answer_reason: Set(answered.answer_reason.clone()),
                answered_by: Set(answered.answered_by.clone()),
                answered_at_us: Set(answered.answered_at_us),
                ..Default::default()
            })
            .filter(duplicate_review::Column::Id.eq(answered.id.clone()))
            .filter(duplicate_review::Column::Status.eq(duplicate_review::PENDING))
            .exec(&txn)
            .await?;
        if moved.rows_affected != 1 {
            txn.rollback().await?;
            return Err(ServiceError::FailedPrecondition(
                "only a pending review can be answered".into(),
            ));
        }
        outbox::enqueue(
            &txn,
            IDENTITY_STREAM,
            events::duplicate_review_answered(&answered),
        )
        .await?;
        txn.commit().await?;
        Ok(answered)
    }
}
