//! Educator affiliations from the learning service's `LearnerEnrolled` events. The learning service lets a
//! school enrol only a child the school already reaches (identity's `LearnerAffiliationChanged`), so an
//! enrolment never reaches a child anew: it marks the school's affiliation as `enrolled`, which a revoked
//! placement then leaves standing (and restores it when the revocation overtook the enrolment on the
//! way). Idempotent, so an event delivered twice changes nothing; audited like any change of who may see
//! a child.

use haven_platform::ServiceError;
use haven_platform::audit::{self, AuditEntry};
use haven_proto::events::{Envelope, envelope::Event};
use prost::Message as _;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait as _, EntityTrait, Set, TransactionTrait};

use crate::IdentityService;
use crate::entity::affiliation::{self, ENROLLED, PLACED};
use crate::entity::child;

impl IdentityService {
    /// Applies one event of the learning stream. Events other than enrolments are ignored, and so is
    /// an enrolment of a child this service does not hold (erased, or never registered here).
    pub async fn apply_learning_event(&self, envelope: &[u8]) -> Result<(), ServiceError> {
        let envelope = Envelope::decode(envelope)
            .map_err(|_| ServiceError::invalid("envelope", "is not an event envelope"))?;
        let Some(Event::LearnerEnrolled(enrolled)) = envelope.event else {
            return Ok(());
        };
        if enrolled.organisation.is_empty() {
            return Ok(());
        }
        let db = self.database();
        let txn = db.begin().await?;
        audit::append(
            &txn,
            &[AuditEntry {
                actor: "service:learning".into(),
                roles: String::new(),
                agency: enrolled.organisation.clone(),
                action: "affiliate",
                rpc: "event:haven.events.v1.LearnerEnrolled",
                record_id: enrolled.child_id.clone(),
                classes: String::new(),
            }],
        )
        .await?;
        if child::Entity::find_by_id(enrolled.child_id.clone())
            .one(&txn)
            .await?
            .is_none()
        {
            txn.rollback().await?;
            return Ok(());
        }
        // The placement may have been revoked while this event travelled: the enrolment, made while the
        // school reached the child, keeps it in reach all the same (the learning service did the same).
        affiliation::Entity::insert(affiliation::ActiveModel {
            child_id: Set(enrolled.child_id),
            organisation: Set(enrolled.organisation),
            kind: Set(ENROLLED.into()),
        })
        .on_conflict(
            OnConflict::columns([
                affiliation::Column::ChildId,
                affiliation::Column::Organisation,
            ])
            .value(affiliation::Column::Kind, ENROLLED)
            .action_and_where(affiliation::Column::Kind.eq(PLACED))
            .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        txn.commit().await?;
        Ok(())
    }
}
