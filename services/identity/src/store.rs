//! Persistence of children: every write is one transaction holding the change, its name keys and its
//! audit entry, so nothing is ever half written.

use std::collections::{BTreeSet, HashMap};

use haven_platform::ServiceError;
use haven_platform::audit::{self, AuditEntry};
use haven_proto::identity::Child;
use prost::Message as _;
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

use crate::entity::{affiliation, child, idempotency, name_key};
use crate::record::{ChildRecord, now_micros};

#[derive(Debug, Clone)]
pub(crate) struct Store {
    db: DatabaseConnection,
}

/// A new child as the service hands it to the store.
#[derive(Debug)]
pub(crate) struct NewChild {
    pub(crate) id: String,
    pub(crate) child: Child,
    pub(crate) owner: String,
    pub(crate) agency: String,
    /// Set when an educator registers a learner: the organisation it is affiliated with.
    pub(crate) learner_of: Option<String>,
    pub(crate) principal: String,
    pub(crate) request_id: String,
    pub(crate) body_hash: String,
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
    pub(crate) fn new(db: DatabaseConnection) -> Self {
        Store { db }
    }

    pub(crate) async fn register(
        &self,
        new: NewChild,
        audit_entry: AuditEntry,
    ) -> Result<Registered, ServiceError> {
        let txn = self.db.begin().await?;
        // First statement: takes the audit chain's lock, which also serialises retries of one key.
        audit::append(&txn, &[audit_entry]).await?;
        let earlier =
            idempotency::Entity::find_by_id((new.principal.clone(), new.request_id.clone()))
                .one(&txn)
                .await?;
        if let Some(earlier) = earlier {
            txn.rollback().await?;
            return Ok(if earlier.body_hash == new.body_hash {
                Registered::Replayed(earlier.child_id)
            } else {
                Registered::KeyReused
            });
        }
        let now = now_micros();
        let consent_for_tracing = consent_for_tracing(&new.child);
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
            whereabouts: new.child.whereabouts.as_ref().map(|w| w.encode_to_vec()),
            protection: new.child.protection.as_ref().map(|p| p.encode_to_vec()),
        };
        child::Entity::insert(child::ActiveModel::from(row.clone()))
            .exec_without_returning(&txn)
            .await?;
        write_name_keys(&txn, &new.id, &new.child).await?;
        let mut affiliations = Vec::new();
        if let Some(organisation) = new.learner_of {
            affiliation::Entity::insert(affiliation::ActiveModel {
                child_id: Set(new.id.clone()),
                organisation: Set(organisation.clone()),
                kind: Set("registered".into()),
            })
            .exec_without_returning(&txn)
            .await?;
            affiliations.push(organisation);
        }
        idempotency::Entity::insert(idempotency::ActiveModel {
            principal: Set(new.principal),
            request_id: Set(new.request_id),
            body_hash: Set(new.body_hash),
            child_id: Set(new.id),
            created_at_us: Set(now),
        })
        .exec_without_returning(&txn)
        .await?;
        txn.commit().await?;
        Ok(Registered::Created(Box::new(ChildRecord {
            row,
            affiliations,
        })))
    }

    /// Loads a child. `with_affiliations` can be false when the caller's policy never looks at them,
    /// which saves a query on the hottest path.
    pub(crate) async fn load(
        &self,
        id: &str,
        with_affiliations: bool,
    ) -> Result<Option<ChildRecord>, ServiceError> {
        load(&self.db, id, with_affiliations).await
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
        let txn = self.db.begin().await?;
        let actor = audit_entry.actor.clone();
        audit::append(&txn, &[audit_entry]).await?;
        let Some(current) = load(&txn, id, true).await? else {
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
        let row = child::Model {
            version: current.row.version + 1,
            identity_version: current.row.identity_version + i64::from(identity_changed),
            consent_for_tracing: consent_for_tracing(&updated),
            updated_at_us: now_micros(),
            updated_by: actor,
            identity,
            whereabouts: updated.whereabouts.as_ref().map(|w| w.encode_to_vec()),
            protection: updated.protection.as_ref().map(|p| p.encode_to_vec()),
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
            return Err(ServiceError::FailedPrecondition(
                "the child changed meanwhile; read it again and retry".into(),
            ));
        }
        if identity_changed {
            name_key::Entity::delete_many()
                .filter(name_key::Column::ChildId.eq(id))
                .exec(&txn)
                .await?;
            write_name_keys(&txn, id, &updated).await?;
        }
        txn.commit().await?;
        Ok(ChildRecord {
            row,
            affiliations: current.affiliations,
        })
    }

    /// One page of visible children, newest first, after the cursor id. With `key_groups`, only children
    /// whose names match at least one key of every group.
    pub(crate) async fn page(
        &self,
        visible: Condition,
        key_groups: &[Vec<String>],
        after: Option<&str>,
        limit: u64,
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
        let mut affiliations = affiliations_of(&self.db, &ids).await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let affiliations = affiliations.remove(&row.id).unwrap_or_default();
                ChildRecord { row, affiliations }
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
    id: &str,
    with_affiliations: bool,
) -> Result<Option<ChildRecord>, ServiceError> {
    let Some(row) = child::Entity::find_by_id(id.to_owned()).one(conn).await? else {
        return Ok(None);
    };
    if !with_affiliations {
        return Ok(Some(ChildRecord {
            row,
            affiliations: Vec::new(),
        }));
    }
    let affiliations = affiliations_of(conn, std::slice::from_ref(&row.id))
        .await?
        .remove(&row.id)
        .unwrap_or_default();
    Ok(Some(ChildRecord { row, affiliations }))
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
    std::iter::once(&identity.given_name)
        .chain(std::iter::once(&identity.family_name))
        .chain(identity.other_names.iter())
        .flat_map(|name| haven_matching::name_keys(name))
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
