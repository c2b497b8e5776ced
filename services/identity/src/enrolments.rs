//! Educator affiliations from the learning service's `LearnerEnrolled` events: enrolling a child with a
//! school puts the child in that school's educators' scope (the `affiliated` scope). Idempotent, so an
//! event delivered twice changes nothing; audited like any change of who may see a child.

use haven_platform::ServiceError;
use haven_platform::audit::{self, AuditEntry};
use haven_proto::events::{Envelope, envelope::Event};
use prost::Message as _;
use sea_orm::sea_query::OnConflict;
use sea_orm::{EntityTrait, Set, TransactionTrait};

use crate::IdentityService;
use crate::entity::{affiliation, child};

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
        affiliation::Entity::insert(affiliation::ActiveModel {
            child_id: Set(enrolled.child_id),
            organisation: Set(enrolled.organisation),
            kind: Set("enrolled".into()),
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
        txn.commit().await?;
        Ok(())
    }
}
