//! The child projection, fed by the identity service's events: owner and agency for the caseworker and
//! supervisor scopes, the organisations that reach the child as a learner (the educator scope), and
//! erasure. Applying an event is idempotent by its id, and an older
//! `ChildChanged` than the one applied changes nothing.
//!
//! Erasure drops everything held about the child here: projection, affiliations, enrolments, records and
//! idempotency keys pointing at them. Passports already issued are the holder's: they stay valid
//! (revoking them would take the child's learning from them), and their issuance rows lose the child id
//! so the status list stays whole and nothing here links a credential to the child any more.

use haven_platform::ServiceError;
use haven_platform::audit::{self, AuditEntry};
use haven_platform::consumed;
use haven_proto::events::{Envelope, LearnerAffiliationChanged, envelope::Event};
use prost::Message as _;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect,
    TransactionTrait,
};

use crate::convert::now_micros;
use crate::entity::{affiliation, child, enrolment, passport, record};
use crate::service::LearningService;

/// What applying one event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    ChildUpdated,
    ChildErased,
    /// A duplicate's learning history moved to the record it was merged into.
    ChildMerged,
    /// An organisation came to reach the child as a learner, or stopped reaching it.
    ReachChanged,
    /// Already applied, older than what is held, or not an event this service follows.
    Ignored,
}

/// Which organisations reach a child follows identity's word alone: an educator of the school registered
/// the child, or the case's owner placed the child there. A withdrawn placement leaves an organisation
/// that has enrolled the child in reach: the enrolment and its records stay the school's.
async fn reach_changed(
    txn: &DatabaseTransaction,
    changed: LearnerAffiliationChanged,
) -> Result<(), ServiceError> {
    if changed.affiliated {
        affiliation::Entity::insert(affiliation::ActiveModel {
            child_id: Set(changed.child_id),
            organisation: Set(changed.organisation),
            since_us: Set(now_micros()),
        })
        .on_conflict(
            OnConflict::columns([
                affiliation::Column::ChildId,
                affiliation::Column::Organisation,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
        return Ok(());
    }
    let enrolled = enrolment::Entity::find()
        .filter(enrolment::Column::ChildId.eq(changed.child_id.as_str()))
        .filter(enrolment::Column::Organisation.eq(changed.organisation.as_str()))
        .one(txn)
        .await?
        .is_some();
    if !enrolled {
        affiliation::Entity::delete_many()
            .filter(affiliation::Column::ChildId.eq(changed.child_id.as_str()))
            .filter(affiliation::Column::Organisation.eq(changed.organisation.as_str()))
            .exec(txn)
            .await?;
    }
    Ok(())
}

impl LearningService {
    /// Applies one identity event (an encoded `haven.events.v1.Envelope`). Safe to call again with the
    /// same event: the second call is `Ignored`.
    pub async fn apply_identity_event(&self, envelope: &[u8]) -> Result<Applied, ServiceError> {
        let envelope = Envelope::decode(envelope).map_err(|e| {
            ServiceError::invalid("envelope", format!("not an event envelope: {e}"))
        })?;
        let Some(event) = envelope.event else {
            return Ok(Applied::Ignored);
        };
        if !matches!(
            event,
            Event::ChildChanged(_)
                | Event::ChildErased(_)
                | Event::ChildMerged(_)
                | Event::LearnerAffiliationChanged(_)
        ) {
            return Ok(Applied::Ignored);
        }
        let db = self.database();
        let txn = db.begin().await?;
        if consumed::already_applied(&txn, &envelope.id).await? {
            txn.rollback().await?;
            return Ok(Applied::Ignored);
        }
        consumed::mark_applied(&txn, &envelope.id).await?;
        let applied = match event {
            Event::ChildChanged(changed) => {
                let current = child::Entity::find_by_id(changed.child_id.clone())
                    .one(&txn)
                    .await?;
                if current.is_some_and(|c| c.version >= changed.version) {
                    Applied::Ignored
                } else {
                    child::Entity::insert(child::ActiveModel {
                        child_id: Set(changed.child_id),
                        owner: Set(changed.owner),
                        agency: Set(changed.agency),
                        version: Set(changed.version),
                    })
                    .on_conflict(
                        OnConflict::column(child::Column::ChildId)
                            .update_columns([
                                child::Column::Owner,
                                child::Column::Agency,
                                child::Column::Version,
                            ])
                            .to_owned(),
                    )
                    .exec_without_returning(&txn)
                    .await?;
                    Applied::ChildUpdated
                }
            }
            Event::ChildErased(erased) => {
                let id = erased.child_id;
                audit::append(
                    &txn,
                    &[AuditEntry {
                        actor: "identity-events".into(),
                        roles: String::new(),
                        agency: String::new(),
                        action: "erase",
                        rpc: "haven.events.v1.ChildErased",
                        record_id: id.clone(),
                        classes: "education".into(),
                    }],
                )
                .await?;
                // The keys of the writes that created the child's records and enrolments go with them.
                let mut created: Vec<String> = record::Entity::find()
                    .select_only()
                    .column(record::Column::Id)
                    .filter(record::Column::ChildId.eq(id.as_str()))
                    .into_tuple()
                    .all(&txn)
                    .await?;
                let enrolments: Vec<String> = enrolment::Entity::find()
                    .select_only()
                    .column(enrolment::Column::Id)
                    .filter(enrolment::Column::ChildId.eq(id.as_str()))
                    .into_tuple()
                    .all(&txn)
                    .await?;
                created.extend(enrolments);
                haven_platform::idempotency::forget(&txn, &created).await?;
                record::Entity::delete_many()
                    .filter(record::Column::ChildId.eq(id.as_str()))
                    .exec(&txn)
                    .await?;
                enrolment::Entity::delete_many()
                    .filter(enrolment::Column::ChildId.eq(id.as_str()))
                    .exec(&txn)
                    .await?;
                affiliation::Entity::delete_many()
                    .filter(affiliation::Column::ChildId.eq(id.as_str()))
                    .exec(&txn)
                    .await?;
                passport::Entity::update_many()
                    .col_expr(
                        passport::Column::ChildId,
                        Expr::value(Option::<String>::None),
                    )
                    .filter(passport::Column::ChildId.eq(id.as_str()))
                    .exec(&txn)
                    .await?;
                child::Entity::delete_by_id(id).exec(&txn).await?;
                Applied::ChildErased
            }
            Event::ChildMerged(merged) => {
                // The duplicate's learning history now belongs to the kept record.
                let (from, into) = (merged.from_child_id, merged.into_child_id);
                audit::append(
                    &txn,
                    &[AuditEntry {
                        actor: "identity-events".into(),
                        roles: String::new(),
                        agency: String::new(),
                        action: "merge",
                        rpc: "haven.events.v1.ChildMerged",
                        record_id: into.clone(),
                        classes: "education".into(),
                    }],
                )
                .await?;
                record::Entity::update_many()
                    .col_expr(record::Column::ChildId, Expr::value(into.clone()))
                    .filter(record::Column::ChildId.eq(from.as_str()))
                    .exec(&txn)
                    .await?;
                enrolment::Entity::update_many()
                    .col_expr(enrolment::Column::ChildId, Expr::value(into.clone()))
                    .filter(enrolment::Column::ChildId.eq(from.as_str()))
                    .exec(&txn)
                    .await?;
                passport::Entity::update_many()
                    .col_expr(passport::Column::ChildId, Expr::value(Some(into.clone())))
                    .filter(passport::Column::ChildId.eq(from.as_str()))
                    .exec(&txn)
                    .await?;
                for moved in affiliation::Entity::find()
                    .filter(affiliation::Column::ChildId.eq(from.as_str()))
                    .all(&txn)
                    .await?
                {
                    affiliation::Entity::insert(affiliation::ActiveModel {
                        child_id: Set(into.clone()),
                        ..affiliation::ActiveModel::from(moved)
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
                affiliation::Entity::delete_many()
                    .filter(affiliation::Column::ChildId.eq(from.as_str()))
                    .exec(&txn)
                    .await?;
                child::Entity::delete_by_id(from).exec(&txn).await?;
                Applied::ChildMerged
            }
            Event::LearnerAffiliationChanged(changed) => {
                reach_changed(&txn, changed).await?;
                Applied::ReachChanged
            }
            _ => Applied::Ignored,
        };
        txn.commit().await?;
        if matches!(applied, Applied::ChildErased | Applied::ChildMerged) {
            haven_platform::db::purge_wal(db).await?;
        }
        Ok(applied)
    }
}
