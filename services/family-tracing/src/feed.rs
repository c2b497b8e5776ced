//! The consumer of the identity service's events (DESIGN.md §6). `haven_platform::consumer` reads them
//! once per event through the consumer group and acknowledges an event only once applied, so an
//! identity service that is down delays events and loses none. What applying means is this file's:
//! fetch the identity of a child who consents to tracing into the profile projection (or drop it when
//! consent is withdrawn or the child erased), log the change for every replica's index, and raise
//! alerts for open requests. Idempotent by event id, since delivery is at least once.

use std::sync::Arc;
use std::time::Duration;

use haven_platform::ServiceError;
use haven_platform::bus::Bus;
use haven_platform::consumer::{ConsumeError, consume_once, spawn_group_consumer};
use haven_proto::events::{Envelope, envelope::Event};
use prost::Message as _;
use sea_orm::DatabaseConnection;

use crate::identity_reader::{IdentityReader, ReadError};
use crate::matcher::Matcher;
use crate::sealed::Vault;
use crate::store::Store;

/// The consumer group of this service: each event is applied by one replica.
pub use haven_platform::streams::FAMILY_TRACING_GROUP as CONSUMER_GROUP;
/// The stream the identity service publishes its `haven.events.v1` envelopes to (named in
/// `haven_platform::streams`; re-exported here for the callers that know it by this path).
pub use haven_platform::streams::IDENTITY_STREAM;

/// Why an event could not be applied yet; it stays pending and is delivered again.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error(transparent)]
    Identity(#[from] ReadError),
    #[error(transparent)]
    Store(#[from] ServiceError),
}

#[derive(Debug, Clone)]
pub struct Feed {
    pub db: DatabaseConnection,
    pub bus: Bus,
    pub reader: IdentityReader,
    pub matcher: Arc<Matcher>,
    /// Seals the profiles written here (and opens requests to raise alerts).
    pub vault: Vault,
    /// This replica's name in the consumer group.
    pub consumer: String,
}

enum Applied {
    /// The child's profile is now in the projection: check it against open requests.
    Profiled(String),
    Dropped,
    Repeated,
    Ignored,
}

impl Feed {
    /// Applies the events waiting for this consumer; returns how many it acknowledged. Stops at the
    /// first event it cannot apply yet (it is delivered again on the next call).
    pub async fn run_once(&self) -> Result<usize, ConsumeError> {
        consume_once(
            &self.bus,
            IDENTITY_STREAM,
            CONSUMER_GROUP,
            &self.consumer,
            &|payload| self.handle(payload),
        )
        .await
    }

    fn store(&self) -> Store {
        Store::new(self.db.clone(), self.vault.clone())
    }

    /// One event, inside the consumer span `consume_once` opened for it. Undecodable events are
    /// skipped (acknowledged): delivering them again would never make them decode.
    async fn handle(&self, payload: Vec<u8>) -> Result<(), FeedError> {
        let store = self.store();
        let outcome = match Envelope::decode(payload.as_slice()) {
            Ok(envelope) => self.apply(&store, envelope).await?,
            Err(_) => {
                tracing::warn!("undecodable event skipped");
                Applied::Ignored
            }
        };
        self.matcher.catch_up(&self.db).await?;
        if let Applied::Profiled(child_id) = &outcome {
            let raised = crate::alerts::raise_for_child(&store, &self.matcher, child_id).await?;
            if raised > 0 {
                tracing::info!(raised, "likely matches raised for open requests");
            }
        }
        Ok(())
    }

    async fn apply(&self, store: &Store, envelope: Envelope) -> Result<Applied, FeedError> {
        if store.is_consumed(&envelope.id).await? {
            return Ok(Applied::Repeated);
        }
        let at_us = envelope
            .occurred_at
            .map(|t| t.seconds * 1_000_000 + i64::from(t.nanos / 1000))
            .unwrap_or_else(crate::now_micros);
        match envelope.event {
            Some(Event::ChildChanged(changed)) => {
                // Fetched before the transaction: a slow or absent identity service holds no lock.
                let identity = if changed.consent_for_tracing {
                    self.reader.identity_of(&changed.child_id).await?
                } else {
                    None
                };
                match identity {
                    Some(identity) => {
                        store
                            .profile(&envelope.id, &changed, &identity, at_us)
                            .await?;
                        Ok(Applied::Profiled(changed.child_id))
                    }
                    None => {
                        store.drop_profile(&envelope.id, &changed.child_id).await?;
                        Ok(Applied::Dropped)
                    }
                }
            }
            Some(Event::ChildErased(erased)) => {
                store.erase_child(&envelope.id, &erased.child_id).await?;
                Ok(Applied::Dropped)
            }
            Some(Event::ChildMerged(merged)) => {
                store
                    .merge_children(&envelope.id, &merged.from_child_id, &merged.into_child_id)
                    .await?;
                Ok(Applied::Dropped)
            }
            _ => Ok(Applied::Ignored),
        }
    }
}

/// Runs the feed every `interval` for as long as the process lives.
pub fn spawn_feed(feed: Feed, interval: Duration) -> tokio::task::JoinHandle<()> {
    let bus = feed.bus.clone();
    let consumer = feed.consumer.clone();
    let feed = Arc::new(feed);
    spawn_group_consumer(
        bus,
        IDENTITY_STREAM,
        CONSUMER_GROUP,
        consumer,
        interval,
        move |payload| {
            let feed = feed.clone();
            async move { feed.handle(payload).await }
        },
    )
}
