//! The events the identity service raises, written to its outbox in the transaction of the change.

use haven_proto::events::{
    ChildChanged, ChildErased, Envelope, LearnerAffiliationChanged, envelope::Event,
};
use prost::Message as _;

use crate::entity::child;
use crate::record::timestamp;

/// The stream the identity service publishes to.
pub const IDENTITY_STREAM: &str = "haven:events:identity";

fn envelope(event: Event, at_us: i64) -> (String, Vec<u8>) {
    let id = uuid::Uuid::now_v7().to_string();
    let bytes = Envelope {
        id: id.clone(),
        occurred_at: Some(timestamp(at_us)),
        traceparent: haven_platform::telemetry::current_traceparent(),
        event: Some(event),
    }
    .encode_to_vec();
    (id, bytes)
}

/// A child registered (`registered`) or changed, as its row now stands.
pub(crate) fn child_changed(row: &child::Model, registered: bool) -> (String, Vec<u8>) {
    envelope(
        Event::ChildChanged(ChildChanged {
            child_id: row.id.clone(),
            version: row.version,
            agency: row.agency.clone(),
            consent_for_tracing: row.consent_for_tracing,
            registered,
            owner: row.owner.clone(),
            identity_version: row.identity_version,
        }),
        row.updated_at_us,
    )
}

/// An organisation came to reach a child as a learner (`affiliated`), or stopped reaching it.
pub(crate) fn learner_affiliation_changed(
    child_id: &str,
    organisation: &str,
    affiliated: bool,
    at_us: i64,
) -> (String, Vec<u8>) {
    envelope(
        Event::LearnerAffiliationChanged(LearnerAffiliationChanged {
            child_id: child_id.to_owned(),
            organisation: organisation.to_owned(),
            affiliated,
        }),
        at_us,
    )
}

/// A duplicate registration merged into the record that is kept.
pub(crate) fn child_merged(from: &str, into: &str, at_us: i64) -> (String, Vec<u8>) {
    envelope(
        Event::ChildMerged(haven_proto::events::ChildMerged {
            from_child_id: from.to_owned(),
            into_child_id: into.to_owned(),
        }),
        at_us,
    )
}

/// The tombstone of an erased child.
pub(crate) fn child_erased(child_id: &str, at_us: i64) -> (String, Vec<u8>) {
    envelope(
        Event::ChildErased(ChildErased {
            child_id: child_id.to_owned(),
        }),
        at_us,
    )
}

/// The stream the learning service publishes its events to.
pub const LEARNING_STREAM: &str = "haven:events:learning";
