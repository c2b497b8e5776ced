//! The events the learning service raises, written to its outbox in the transaction of the change. They
//! carry ids only: a consumer that needs more asks this service, under its own access rules.

use haven_proto::events::{Envelope, LearnerEnrolled, LearningRecorded, envelope::Event};
use prost::Message as _;

/// The stream the learning service publishes to.
pub const LEARNING_STREAM: &str = "haven:events:learning";
/// The stream the identity service publishes to, which the learning projection follows.
pub(crate) const IDENTITY_STREAM: &str = "haven:events:identity";

fn envelope(event: Event, at_us: i64) -> (String, Vec<u8>) {
    let id = uuid::Uuid::now_v7().to_string();
    let bytes = Envelope {
        id: id.clone(),
        occurred_at: Some(crate::convert::timestamp(at_us)),
        traceparent: haven_platform::telemetry::current_traceparent(),
        event: Some(event),
    }
    .encode_to_vec();
    (id, bytes)
}

/// A child was enrolled with an organisation (the identity service keeps educator affiliations from it).
pub(crate) fn learner_enrolled(
    child_id: &str,
    organisation: &str,
    enrolment_id: &str,
    at_us: i64,
) -> (String, Vec<u8>) {
    envelope(
        Event::LearnerEnrolled(LearnerEnrolled {
            child_id: child_id.to_owned(),
            organisation: organisation.to_owned(),
            enrolment_id: enrolment_id.to_owned(),
        }),
        at_us,
    )
}

/// A record was written (`replaces` names the record it corrects, if any).
pub(crate) fn learning_recorded(
    record_id: &str,
    child_id: &str,
    organisation: &str,
    replaces: &str,
    at_us: i64,
) -> (String, Vec<u8>) {
    envelope(
        Event::LearningRecorded(LearningRecorded {
            record_id: record_id.to_owned(),
            child_id: child_id.to_owned(),
            organisation: organisation.to_owned(),
            replaces: replaces.to_owned(),
        }),
        at_us,
    )
}
