//! Persistence of the learning service: every query and transaction the handlers need, and the
//! idempotency record that makes each write safe to retry. Writes hold their audit entry and outbox event
//! in the same transaction, so nothing is ever half written.

mod curricula;
mod enrolments;
mod group_commit;
mod passports;
mod records;

use std::sync::Arc;

use haven_authz::Principal;
use haven_platform::ServiceError;
use haven_platform::group_commit::GroupCommit;
use haven_proto::learning::EnrolmentStatus;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    QueryFilter,
};

use crate::convert::now_micros;
use crate::entity::{affiliation, child, enrolment, idempotency};

pub(crate) use curricula::FrameworkImport;
pub(crate) use enrolments::{EnrolmentChanges, EnrolmentUpdate};
pub(crate) use group_commit::{Correction, NewRecord};
pub(crate) use records::Imported;

use curricula::KnownOutcomes;
use group_commit::{CorrectionWrites, RecordWrites};

/// The learning database, with the writers that commit RecordLearning and CorrectLearningRecord in groups.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    db: DatabaseConnection,
    /// RecordLearning and CorrectLearningRecord commit in groups: one transaction, chain lock and commit
    /// for all the requests waiting at that moment.
    records: GroupCommit<RecordWrites>,
    corrections: GroupCommit<CorrectionWrites>,
    known_outcomes: Arc<KnownOutcomes>,
}

/// A learner as access decisions see it: the projected child and its organisations.
#[derive(Debug)]
pub(crate) struct Learner {
    pub(crate) child: child::Model,
    pub(crate) affiliations: Vec<String>,
}

/// The idempotency key of a write: whose it is, the key, the RPC and the hash of the request's body.
#[derive(Debug)]
pub(crate) struct RequestKey<'a> {
    pub(crate) principal: &'a Principal,
    pub(crate) request_id: &'a str,
    pub(crate) rpc: &'static str,
    pub(crate) body_hash: String,
}

/// Outcome of an idempotency check inside a write transaction.
enum Replay {
    New,
    Same(Vec<String>),
}

impl Store {
    /// Needs a running tokio runtime (it starts the group-commit writers).
    pub(crate) fn new(db: DatabaseConnection) -> Self {
        Store {
            records: GroupCommit::spawn(db.clone(), RecordWrites),
            corrections: GroupCommit::spawn(db.clone(), CorrectionWrites),
            known_outcomes: Arc::default(),
            db,
        }
    }

    pub(crate) fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The learner, if identity has told us of the child.
    pub(crate) async fn learner(&self, child_id: &str) -> Result<Option<Learner>, ServiceError> {
        // One query: the child left-joined with its affiliations.
        let found = child::Entity::find_by_id(child_id.to_owned())
            .find_with_related(affiliation::Entity)
            .all(&self.db)
            .await?;
        Ok(found
            .into_iter()
            .next()
            .map(|(child, affiliations)| Learner {
                child,
                affiliations: affiliations.into_iter().map(|a| a.organisation).collect(),
            }))
    }

    /// Whether the learner has an active enrolment at this organisation.
    pub(crate) async fn has_active_enrolment(
        &self,
        child_id: &str,
        organisation: &str,
    ) -> Result<bool, ServiceError> {
        let enrolled = enrolment::Entity::find()
            .filter(enrolment::Column::ChildId.eq(child_id))
            .filter(enrolment::Column::Organisation.eq(organisation))
            .filter(enrolment::Column::Status.eq(EnrolmentStatus::Active as i32))
            .one(&self.db)
            .await?;
        Ok(enrolled.is_some())
    }
}

// --- the idempotency record ---------------------------------------------------------------------

/// Within a write transaction (after the audit append, which serialises writers): has this caller used
/// this key before, for the same request?
async fn replay(txn: &DatabaseTransaction, key: &RequestKey<'_>) -> Result<Replay, ServiceError> {
    let earlier =
        idempotency::Entity::find_by_id((key.principal.sub.clone(), key.request_id.to_owned()))
            .one(txn)
            .await?;
    match earlier {
        None => Ok(Replay::New),
        Some(row) if row.rpc == key.rpc && row.body_hash == key.body_hash => {
            Ok(Replay::Same(result_ids(&row)))
        }
        Some(_) => Err(key_reused()),
    }
}

/// Records the key's use and what it produced, so a retry answers the same.
async fn remember(
    txn: &DatabaseTransaction,
    key: &RequestKey<'_>,
    ids: &[String],
) -> Result<(), ServiceError> {
    idempotency::Entity::insert(idempotency::ActiveModel {
        principal: Set(key.principal.sub.clone()),
        request_id: Set(key.request_id.to_owned()),
        rpc: Set(key.rpc.to_owned()),
        body_hash: Set(key.body_hash.clone()),
        result_ids: Set(ids.join(",")),
        created_at_us: Set(now_micros()),
    })
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

fn idempotency_key(principal: &Principal, request_id: &str) -> String {
    format!("{}\n{request_id}", principal.sub)
}

fn result_ids(row: &idempotency::Model) -> Vec<String> {
    row.result_ids
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn key_reused() -> ServiceError {
    ServiceError::AlreadyExists("request_id was already used for a different request".into())
}
