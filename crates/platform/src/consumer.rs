//! Once-per-event consumers (DESIGN.md §6): read a stream through a consumer group, hand each event to
//! a handler, and acknowledge it only when the handler applied it. A handler that fails (its database
//! or a service it needs is down) leaves the event pending; it is delivered again on the next round,
//! so nothing is lost. Handlers must be idempotent: delivery is at least once.

use std::future::Future;
use std::time::Duration;

use crate::bus::{Bus, BusError};

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
        handle(entry.payload)
            .await
            .map_err(|e| ConsumeError::Handler(e.to_string()))?;
        bus.ack(stream, group, &[entry.position]).await?;
        acknowledged += 1;
    }
    Ok(acknowledged)
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
