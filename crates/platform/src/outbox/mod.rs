//! The transactional outbox (DESIGN.md §6): a service writes its event in the same transaction as the
//! change and its audit entry; a relay publishes pending events to the bus and marks them sent. When the
//! bus is down, events wait here and nothing is lost. Delivery is at least once: consumers are
//! idempotent by event id.

mod entity;
mod migration;

use std::time::Duration;

use haven_proto::events::{Envelope, envelope::Event};
use prost::Message as _;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

pub use entity::Entity as OutboxEntity;
pub use entity::{Column as OutboxColumn, Model as OutboxRow};
pub use migration::CreateOutbox;

use crate::bus::Bus;
use crate::time::{now_micros, timestamp};

/// An event a change raised, with the time of the change: what [`enqueue`] puts in its envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub event: Event,
    pub occurred_at_us: i64,
}

/// Wraps the event in the envelope every consumer reads: a fresh UUIDv7 id (ordering by id is ordering
/// by commit, which the relay relies on), the time of the change, and the trace context of the span it
/// is raised in, so consumers continue the trace of the RPC that caused it. Returns the id and the
/// bytes; [`enqueue`] also adds them to the outbox, and a batched writer inserts them itself.
pub fn envelope(new: NewEvent) -> (String, Vec<u8>) {
    let id = uuid::Uuid::now_v7().to_string();
    let bytes = Envelope {
        id: id.clone(),
        occurred_at: Some(timestamp(new.occurred_at_us)),
        traceparent: crate::telemetry::current_traceparent(),
        event: Some(new.event),
    }
    .encode_to_vec();
    (id, bytes)
}

/// Builds the event's envelope ([`envelope`]) and adds it to the outbox on `conn`, which should be the
/// transaction of the change it reports. Returns the event id.
pub async fn enqueue<C: ConnectionTrait>(
    conn: &C,
    stream: &str,
    new: NewEvent,
) -> Result<String, DbErr> {
    let (event_id, payload) = envelope(new);
    append(conn, stream, &event_id, payload).await?;
    Ok(event_id)
}

/// Adds an event to the outbox on `conn`, which should be the transaction of the change it reports.
pub async fn append<C: ConnectionTrait>(
    conn: &C,
    stream: &str,
    event_id: &str,
    payload: Vec<u8>,
) -> Result<(), DbErr> {
    entity::Entity::insert(entity::ActiveModel {
        event_id: Set(event_id.to_owned()),
        stream: Set(stream.to_owned()),
        payload: Set(payload),
        created_at_us: Set(now_micros()),
        sent_at_us: Set(None),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// Publishes pending events in order until none is left or the bus refuses one; returns how many were
/// sent. The event ids are UUIDv7, so their order is the order the changes committed in.
pub async fn relay_once(db: &DatabaseConnection, bus: &Bus) -> Result<u64, DbErr> {
    let mut sent = 0;
    loop {
        let pending = entity::Entity::find()
            .filter(entity::Column::SentAtUs.is_null())
            .order_by_asc(entity::Column::EventId)
            .limit(100)
            .all(db)
            .await?;
        if pending.is_empty() {
            return Ok(sent);
        }
        let mut published = Vec::with_capacity(pending.len());
        let mut refused = false;
        for event in pending {
            if let Err(error) = bus
                .publish(&event.stream, &event.event_id, &event.payload)
                .await
            {
                tracing::warn!(%error, pending_from = %event.event_id, "bus unavailable; events stay in the outbox");
                refused = true;
                break;
            }
            published.push(event.event_id);
        }
        // One statement marks the page: a commit per event capped the relay at about 1,000 events/s,
        // below what the services write under load. Dying before this line publishes the page again,
        // which consumers absorb (they are idempotent by event id).
        sent += published.len() as u64;
        mark_sent(db, published).await?;
        if refused {
            return Ok(sent);
        }
    }
}

async fn mark_sent(db: &DatabaseConnection, event_ids: Vec<String>) -> Result<(), DbErr> {
    if event_ids.is_empty() {
        return Ok(());
    }
    entity::Entity::update_many()
        .col_expr(
            entity::Column::SentAtUs,
            sea_orm::sea_query::Expr::value(now_micros()),
        )
        .filter(entity::Column::EventId.is_in(event_ids))
        .exec(db)
        .await?;
    Ok(())
}

/// Runs [`relay_once`] every `interval` for as long as the process lives.
pub fn spawn_relay(
    db: DatabaseConnection,
    bus: Bus,
    interval: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        loop {
            ticker.tick().await;
            if let Err(error) = relay_once(&db, &bus).await {
                tracing::warn!(%error, "outbox relay failed; will retry");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use haven_proto::events::ChildErased;

    fn erased(child_id: &str, at_us: i64) -> NewEvent {
        NewEvent {
            event: Event::ChildErased(ChildErased {
                child_id: child_id.into(),
            }),
            occurred_at_us: at_us,
        }
    }

    #[tokio::test]
    async fn an_enqueued_event_waits_in_the_outbox_in_its_envelope() {
        let (db, _scratch) = crate::test_db::database(&[&CreateOutbox]).await;
        let event_id = enqueue(&db, "haven:test", erased("c-1", 1_700_000_000_000_000))
            .await
            .expect("enqueue");
        let row = entity::Entity::find_by_id(event_id.clone())
            .one(&db)
            .await
            .expect("read")
            .expect("the event is pending");
        assert_eq!((row.stream.as_str(), row.sent_at_us), ("haven:test", None));
        let envelope = Envelope::decode(row.payload.as_slice()).expect("an envelope");
        assert_eq!(envelope.id, event_id, "the envelope carries the outbox id");
        assert_eq!(
            envelope.occurred_at.map(|t| t.seconds),
            Some(1_700_000_000),
            "the time of the change, not of the relay"
        );
        assert_eq!(envelope.event, Some(erased("c-1", 0).event));
    }

    #[test]
    fn envelope_ids_follow_the_order_events_were_raised_in() {
        let first = envelope(erased("c-1", 0)).0;
        let second = envelope(erased("c-1", 0)).0;
        assert!(first < second, "the relay publishes in id order");
    }
}
