//! Persistence of the learning service: every query and transaction the handlers need, and the
//! idempotency record that makes each write safe to retry. Writes hold their audit entry and outbox event
//! in the same transaction, so nothing is ever half written.

mod curricula;
mod enrolments;
mod group_commit;
mod passports;
mod records;

use std::sync::Arc;

use haven_platform::ServiceError;
use haven_platform::group_commit::GroupCommit;
use haven_platform::idempotency::{self, IdempotencyKey};
use haven_proto::learning::EnrolmentStatus;
use sea_orm::{ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, QueryFilter};

use crate::entity::{affiliation, child, enrolment};

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

/// What a reused key is refused as: the learning service names no particular record.
const KEY_MADE: &str = "request";

/// Within a write transaction (after the audit append, which serialises writers): the ids a retry of
/// this key answers with, `None` for a fresh key, or the refusal of a key used for another request.
async fn replay(
    txn: &DatabaseTransaction,
    key: &IdempotencyKey,
) -> Result<Option<Vec<String>>, ServiceError> {
    idempotency::replay(txn, key, KEY_MADE).await
}
