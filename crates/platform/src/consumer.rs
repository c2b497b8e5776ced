//! Once-per-event consumers (DESIGN.md §6): read a stream through a consumer group, hand each event to
//! a handler, and acknowledge it only when the handler applied it. A handler that fails (its database
//! or a service it needs is down) leaves the event pending; it is delivered again on the next round,
//! so nothing is lost. Handlers must be idempotent: delivery is at least once.

use std::future::Future;
use std::time::Duration;

use prost::Message as _;
use tracing::Instrument as _;

use crate::bus::{Bus, BusError};
use crate::telemetry;

/// Reads `stream` as `consumer` of `group` every `interval`, applying each event with `handle`.
pub fn spawn_group_consumer<H, F, E>(
    bus: Bus,
    stream: &'static str,
    group: &'static str,
    consumer: String,
    interval: Duration,
    handle: H,
) -> tokio::task::JoinHandle<()>
where
    H: Fn(Vec<u8>) -> F + Send + Sync + 'static,
    F: Future<Output = Result<(), E>> + Send,
    E: std::fmt::Display,
{
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        loop {
            ticker.tick().await;
            loop {
                match consume_once(&bus, stream, group, &consumer, &handle).await {
                    Ok(0) => break,
                    Ok(_) => continue,
                    Err(error) => {
                        tracing::warn!(stream, group, %error, "events wait; will retry");
                        break;
                    }
                }
            }
        }
    })
}

/// One round: applies and acknowledges the events waiting for `consumer`; stops at the first event the
/// handler cannot apply. Returns how many were acknowledged.
pub async fn consume_once<H, F, E>(
    bus: &Bus,
    stream: &str,
    group: &str,
    consumer: &str,
    handle: &H,
) -> Result<usize, ConsumeError>
where
    H: Fn(Vec<u8>) -> F,
    F: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let entries = bus.read_group(stream, group, consumer, 50).await?;
    let mut acknowledged = 0;
    for entry in entries {
        let envelope = haven_proto::events::Envelope::decode(entry.payload.as_slice()).ok();
        let span = event_span(stream, group, envelope.as_ref());
        handle(entry.payload)
            .instrument(span)
            .await
            .map_err(|e| ConsumeError::Handler(e.to_string()))?;
        bus.ack(stream, group, &[entry.position]).await?;
        acknowledged += 1;
    }
    Ok(acknowledged)
}

/// The span an event is applied in: a consumer span continuing the trace of the change that raised the
/// event (its envelope's `traceparent`), so one trace covers the RPC and every consumer of its events.
/// Records the bus lag: seconds from the event's commit to now.
/// A consumer that decodes the envelope itself passes it here, so it is decoded once.
pub fn event_span(
    stream: &str,
    group: &str,
    envelope: Option<&haven_proto::events::Envelope>,
) -> tracing::Span {
    let blank = haven_proto::events::Envelope::default();
    let envelope = envelope.unwrap_or(&blank);
    let span = tracing::info_span!(
        "bus.consume",
        otel.name = %format_args!("process {stream}"),
        otel.kind = "consumer",
        messaging.system = "haven.bus",
        messaging.operation.type = "process",
        messaging.destination.name = %stream,
        messaging.consumer.group.name = %group,
        messaging.message.id = %envelope.id,
        trace_id = tracing::field::Empty,
        span_id = tracing::field::Empty,
    );
    telemetry::adopt(
        &span,
        telemetry::context_from_traceparent(&envelope.traceparent),
    );
    if let Some(at) = &envelope.occurred_at {
        let committed = std::time::UNIX_EPOCH
            + Duration::from_secs(at.seconds.max(0) as u64)
            + Duration::from_nanos(at.nanos.max(0) as u64);
        if let Ok(lag) = std::time::SystemTime::now().duration_since(committed) {
            telemetry::instruments().bus_lag.record(
                lag.as_secs_f64(),
                &[
                    opentelemetry::KeyValue::new("messaging.destination.name", stream.to_owned()),
                    opentelemetry::KeyValue::new("messaging.consumer.group.name", group.to_owned()),
                ],
            );
        }
    }
    span
}

#[derive(Debug, thiserror::Error)]
pub enum ConsumeError {
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error("event not applied: {0}")]
    Handler(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[tokio::test]
    async fn an_event_the_handler_cannot_apply_is_delivered_again_and_nothing_is_lost() {
        let bus = Bus::in_process();
        for n in 0..3u8 {
            bus.publish("s", &format!("e{n}"), &[n])
                .await
                .expect("publish");
        }
        let seen = Arc::new(Mutex::new(Vec::new()));
        let failing_once = Arc::new(Mutex::new(true));
        let handle = |payload: Vec<u8>| {
            let seen = seen.clone();
            let failing_once = failing_once.clone();
            async move {
                let mut fail = failing_once.lock().expect("lock");
                if payload == [1] && *fail {
                    *fail = false;
                    return Err("service down");
                }
                seen.lock().expect("lock").push(payload[0]);
                Ok(())
            }
        };
        let first = consume_once(&bus, "s", "g", "c", &handle).await;
        assert!(first.is_err(), "the second event failed");
        assert_eq!(*seen.lock().expect("lock"), vec![0]);
        let second = consume_once(&bus, "s", "g", "c", &handle)
            .await
            .expect("round");
        assert_eq!(second, 2);
        assert_eq!(
            *seen.lock().expect("lock"),
            vec![0, 1, 2],
            "in order, none lost"
        );
        let third = consume_once(&bus, "s", "g", "c", &handle)
            .await
            .expect("round");
        assert_eq!(third, 0, "acknowledged events are not delivered again");
    }
}
