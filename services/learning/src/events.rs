//! The events the learning service raises, written to its outbox in the transaction of the change. They
//! carry ids only: a consumer that needs more asks this service, under its own access rules.

use haven_platform::outbox::NewEvent;
use haven_proto::events::{LearnerEnrolled, LearningRecorded, envelope::Event};

/// The stream the learning service publishes to (re-exported from `haven_platform::streams`).
pub use haven_platform::streams::LEARNING_STREAM;

/// A child was enrolled with an organisation (the identity service keeps educator affiliations from it).
pub(crate) fn learner_enrolled(
    child_id: &str,
    organisation: &str,
    enrolment_id: &str,
    at_us: i64,
) -> NewEvent {
    NewEvent {
        event: Event::LearnerEnrolled(LearnerEnrolled {
            child_id: child_id.to_owned(),
            organisation: organisation.to_owned(),
            enrolment_id: enrolment_id.to_owned(),
        }),
        occurred_at_us: at_us,
    }
}

/// A record was written (`replaces` names the record it corrects, if any).
pub(crate) fn learning_recorded(
    record_id: &str,
    child_id: &str,
    organisation: &str,
    replaces: &str,
    at_us: i64,
) -> NewEvent {
    NewEvent {
        event: Event::LearningRecorded(LearningRecorded {
            record_id: record_id.to_owned(),
            child_id: child_id.to_owned(),
            organisation: organisation.to_owned(),
            replaces: replaces.to_owned(),
        }),
        occurred_at_us: at_us,
    }
}
