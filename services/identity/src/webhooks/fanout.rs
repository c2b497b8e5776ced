//! The fan-out: one identity event in, the change-feed rows and webhook deliveries it owes partners out.
//! Run through one consumer group for the whole deployment, idempotent by event id (its consumed mark
//! commits with its rows).

use haven_platform::ServiceError;
use haven_proto::events::{Envelope, envelope::Event};
use prost::Message as _;
use sea_orm::DatabaseConnection;

use super::store::{self, FeedEvent};
use super::{CHILD_CHANGED, CHILD_ERASED, CHILD_MERGED};

/// Applies one event from the identity stream. Events the partners' feeds do not carry are skipped.
pub(crate) async fn apply_identity_event(
    db: &DatabaseConnection,
    payload: &[u8],
) -> Result<(), ServiceError> {
    // An event no build of this service can read would block the group for good if it were refused;
    // it carries nothing a partner could be owed, so it is logged and passed.
    let envelope = match Envelope::decode(payload) {
        Ok(envelope) => envelope,
        Err(error) => {
            tracing::warn!(%error, "undecodable identity event skipped by the partner feeds");
            return Ok(());
        }
    };
    let Some(event) = feed_event(&envelope) else {
        return Ok(());
    };
    let body = payload_json(&event);
    let added = store::fan_out(db, &event, &body, haven_platform::time::now_micros()).await?;
    if added > 0 {
        tracing::debug!(event_id = %event.event_id, deliveries = added, "webhook deliveries queued");
    }
    Ok(())
}

/// The event as the feeds carry it: ids, type and version.
fn feed_event(envelope: &Envelope) -> Option<FeedEvent> {
    let occurred_at_us = envelope.occurred_at.as_ref().map_or(0, |t| {
        t.seconds.saturating_mul(1_000_000) + i64::from(t.nanos / 1000)
    });
    let (event_type, child_id, version, merged_into) = match envelope.event.as_ref()? {
        Event::ChildChanged(changed) => (
            CHILD_CHANGED,
            changed.child_id.clone(),
            changed.version,
            String::new(),
        ),
        Event::ChildErased(erased) => (CHILD_ERASED, erased.child_id.clone(), 0, String::new()),
        Event::ChildMerged(merged) => (
            CHILD_MERGED,
            merged.from_child_id.clone(),
            0,
            merged.into_child_id.clone(),
        ),
        _ => return None,
    };
    let mut referred_via = vec![child_id.clone()];
    if !merged_into.is_empty() {
        // The duplicate's referrals moved to the kept record with the merge.
        referred_via.push(merged_into.clone());
    }
    Some(FeedEvent {
        event_id: envelope.id.clone(),
        event_type,
        child_id,
        version,
        merged_into,
        occurred_at_us,
        referred_via,
    })
}

/// The body one delivery carries, in the Standard Webhooks shape (`type`, `timestamp`, `data`): ids, the
/// event type and the record version, nothing of the child.
fn payload_json(event: &FeedEvent) -> String {
    let mut data = serde_json::Map::new();
    data.insert("event_id".into(), event.event_id.clone().into());
    data.insert("child_id".into(), event.child_id.clone().into());
    if event.event_type == CHILD_CHANGED {
        data.insert("version".into(), event.version.into());
    }
    if !event.merged_into.is_empty() {
        data.insert("merged_into".into(), event.merged_into.clone().into());
    }
    let timestamp = chrono::DateTime::from_timestamp_micros(event.occurred_at_us)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    serde_json::json!({
        "type": event.event_type,
        "timestamp": timestamp,
        "data": data,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use haven_proto::events::ChildChanged;

    #[test]
    fn a_payload_names_ids_type_and_version_only() {
        let envelope = Envelope {
            id: "e-1".into(),
            occurred_at: Some(prost_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 0,
            }),
            traceparent: String::new(),
            event: Some(Event::ChildChanged(ChildChanged {
                child_id: "c-1".into(),
                version: 4,
                agency: "agency-a".into(),
                consent_for_tracing: true,
                registered: false,
                owner: "cw-1".into(),
                identity_version: 2,
            })),
        };
        let event = feed_event(&envelope).expect("carried");
        let body: serde_json::Value = serde_json::from_str(&payload_json(&event)).expect("json");
        assert_eq!(body["type"], "child.changed");
        assert_eq!(
            body["data"],
            serde_json::json!({"event_id": "e-1", "child_id": "c-1", "version": 4}),
            "no agency, owner or consent flag leaves with a payload"
        );
        assert_eq!(body["timestamp"], "2023-11-14T22:13:20.000000Z");
    }
}
