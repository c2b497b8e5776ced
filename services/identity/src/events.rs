//! The events the identity service raises, written to its outbox in the transaction of the change.

use haven_platform::outbox::NewEvent;
use haven_proto::events::{ChildChanged, ChildErased, LearnerAffiliationChanged, envelope::Event};

use crate::entity::{child, duplicate_review};

/// The stream the identity service publishes to (re-exported from `haven_platform::streams`).
pub use haven_platform::streams::IDENTITY_STREAM;

/// A child registered (`registered`) or changed, as its row now stands.
pub(crate) fn child_changed(row: &child::Model, registered: bool) -> NewEvent {
    NewEvent {
        event: Event::ChildChanged(ChildChanged {
            child_id: row.id.clone(),
            version: row.version,
            agency: row.agency.clone(),
            consent_for_tracing: row.consent_for_tracing,
            registered,
            owner: row.owner.clone(),
            identity_version: row.identity_version,
        }),
        occurred_at_us: row.updated_at_us,
    }
}

/// An organisation came to reach a child as a learner (`affiliated`), or stopped reaching it.
pub(crate) fn learner_affiliation_changed(
    child_id: &str,
    organisation: &str,
    affiliated: bool,
    at_us: i64,
) -> NewEvent {
    NewEvent {
        event: Event::LearnerAffiliationChanged(LearnerAffiliationChanged {
            child_id: child_id.to_owned(),
            organisation: organisation.to_owned(),
            affiliated,
        }),
        occurred_at_us: at_us,
    }
}

/// A duplicate registration merged into the record that is kept.
pub(crate) fn child_merged(from: &str, into: &str, at_us: i64) -> NewEvent {
    NewEvent {
        event: Event::ChildMerged(haven_proto::events::ChildMerged {
            from_child_id: from.to_owned(),
            into_child_id: into.to_owned(),
        }),
        occurred_at_us: at_us,
    }
}

/// An agency asked the owner of a likely duplicate about it: ids and agencies only.
pub(crate) fn duplicate_review_requested(review: &duplicate_review::Model) -> NewEvent {
    NewEvent {
        event: Event::DuplicateReviewRequested(haven_proto::events::DuplicateReviewRequested {
            review_id: review.id.clone(),
            owner_agency: review.owner_agency.clone(),
            requesting_agency: review.requesting_agency.clone(),
        }),
        occurred_at_us: review.requested_at_us,
    }
}

/// The owning agency answered a duplicate review.
pub(crate) fn duplicate_review_answered(review: &duplicate_review::Model) -> NewEvent {
    NewEvent {
        event: Event::DuplicateReviewAnswered(haven_proto::events::DuplicateReviewAnswered {
            review_id: review.id.clone(),
            owner_agency: review.owner_agency.clone(),
            requesting_agency: review.requesting_agency.clone(),
            accepted: review.status == duplicate_review::ACCEPTED,
        }),
        occurred_at_us: review.answered_at_us,
    }
}

/// The tombstone of an erased child.
pub(crate) fn child_erased(child_id: &str, at_us: i64) -> NewEvent {
    NewEvent {
        event: Event::ChildErased(ChildErased {
            child_id: child_id.to_owned(),
        }),
        occurred_at_us: at_us,
    }
}

/// The stream the learning service publishes its events to (re-exported from `haven_platform::streams`).
pub use haven_platform::streams::LEARNING_STREAM;
