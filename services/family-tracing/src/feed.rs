//! The consumer of the identity service's events (DESIGN.md §6). Once per event, through a consumer
//! group: fetch the identity of a child who consents to tracing into the profile projection (or drop
//! it when consent is withdrawn or the child erased), log the change for every replica's index, and
//! raise alerts for open requests. Idempotent by event id; an event is acknowledged only once applied,
//! so an identity service that is down delays events and loses none.

use std::sync::Arc;
use std::time::Duration;

use haven_platform::ServiceError;
use haven_platform::bus::{Bus, BusError};
use haven_platform::consumer::event_span;
use haven_proto::events::{Envelope, envelope::Event};
use prost::Message as _;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, Set, TransactionTrait,
};
use tracing::Instrument as _;

use crate::entity::{
    alert, child_profile, consumed_event, family_link, profile_change, review, tracing_request,
};
use crate::identity_reader::{IdentityReader, ReadError};
use crate::matcher::Matcher;
use crate::sealed::{self, Vault};

/// The stream the identity service publishes its `haven.events.v1` envelopes to.
pub const IDENTITY_STREAM: &str = "haven:events:identity";
/// The consumer group of this service: each event is applied by one replica.
pub const CONSUMER_GROUP: &str = "family-tracing";

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error(transparent)]
    Identity(#[from] ReadError),
    #[error(transparent)]
    Store(#[from] ServiceError),
}

impl From<sea_orm::DbErr> for FeedError {
    fn from(error: sea_orm::DbErr) -> Self {
        FeedError::Store(error.into())
    }
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
    pub async fn run_once(&self) -> Result<usize, FeedError> {
        let entries = self
            .bus
            .read_group(IDENTITY_STREAM, CONSUMER_GROUP, &self.consumer, 50)
            .await?;
        let mut acknowledged = 0;
        for entry in entries {
            let decoded = Envelope::decode(entry.payload.as_slice());
            let span = event_span(IDENTITY_STREAM, CONSUMER_GROUP, decoded.as_ref().ok());
            async {
                let outcome = match decoded {
                    Ok(envelope) => self.apply(envelope).await?,
                    Err(_) => {
                        tracing::warn!(position = %entry.position, "undecodable event skipped");
                        Applied::Ignored
                    }
                };
                self.matcher.catch_up(&self.db).await?;
                if let Applied::Profiled(child_id) = &outcome {
                    let store = crate::store::Store::new(self.db.clone(), self.vault.clone());
                    let raised =
                        crate::alerts::raise_for_child(&store, &self.matcher, child_id).await?;
                    if raised > 0 {
                        tracing::info!(raised, "likely matches raised for open requests");
                    }
                }
                Ok::<_, FeedError>(())
            }
            .instrument(span)
            .await?;
            self.bus
                .ack(IDENTITY_STREAM, CONSUMER_GROUP, &[entry.position])
                .await?;
            acknowledged += 1;
        }
        Ok(acknowledged)
    }

    async fn apply(&self, envelope: Envelope) -> Result<Applied, FeedError> {
        if consumed_event::Entity::find_by_id(envelope.id.clone())
            .one(&self.db)
            .await?
            .is_some()
        {
            return Ok(Applied::Repeated);
        }
        let at_us = envelope
            .occurred_at
            .map(|t| t.seconds * 1_000_000 + i64::from(t.nanos / 1000))
            .unwrap_or_else(crate::now_micros);
        match envelope.event {
            Some(Event::ChildChanged(changed)) => {
                let identity = if changed.consent_for_tracing {
                    self.reader.identity_of(&changed.child_id).await?
                } else {
                    None
                };
                let txn = self.db.begin().await?;
                let outcome = match identity {
                    Some(identity) => {
                        let registered_at_us =
                            child_profile::Entity::find_by_id(changed.child_id.clone())
                                .one(&txn)
                                .await?
                                .map(|p| p.registered_at_us)
                                .unwrap_or(at_us);
                        let sealed_identity = self
                            .vault
                            .seal_profile(&txn, &changed.child_id, &identity)
                            .await?;
                        child_profile::Entity::insert(child_profile::ActiveModel {
                            child_id: Set(changed.child_id.clone()),
                            identity_version: Set(changed.identity_version),
                            owner: Set(changed.owner.clone()),
                            agency: Set(changed.agency.clone()),
                            identity: Set(sealed_identity),
                            registered_at_us: Set(registered_at_us),
                            sealed: Set(true),
                        })
                        .on_conflict(
                            OnConflict::column(child_profile::Column::ChildId)
                                .update_columns([
                                    child_profile::Column::IdentityVersion,
                                    child_profile::Column::Owner,
                                    child_profile::Column::Agency,
                                    child_profile::Column::Identity,
                                    child_profile::Column::Sealed,
                                ])
                                .to_owned(),
                        )
                        .exec_without_returning(&txn)
                        .await?;
                        Applied::Profiled(changed.child_id.clone())
                    }
                    None => {
                        child_profile::Entity::delete_by_id(changed.child_id.clone())
                            .exec(&txn)
                            .await?;
                        sealed::delete_profile_key(&txn, &changed.child_id).await?;
                        Applied::Dropped
                    }
                };
                log_change(&txn, &changed.child_id).await?;
                mark_consumed(&txn, &envelope.id).await?;
                txn.commit().await?;
                Ok(outcome)
            }
            Some(Event::ChildErased(erased)) => {
                // The tombstone: nothing about the child stays here.
                let txn = self.db.begin().await?;
                let id = erased.child_id;
                child_profile::Entity::delete_by_id(id.clone())
                    .exec(&txn)
                    .await?;
                sealed::delete_profile_key(&txn, &id).await?;
                review::Entity::delete_many()
                    .filter(review::Column::ChildId.eq(id.clone()))
                    .exec(&txn)
                    .await?;
                alert::Entity::delete_many()
                    .filter(alert::Column::ChildId.eq(id.clone()))
                    .exec(&txn)
                    .await?;
                family_link::Entity::delete_many()
                    .filter(
                        Condition::any()
                            .add(family_link::Column::ChildId.eq(id.clone()))
                            .add(family_link::Column::RelativeChildId.eq(id.clone())),
                    )
                    .exec(&txn)
                    .await?;
                log_change(&txn, &id).await?;
                mark_consumed(&txn, &envelope.id).await?;
                txn.commit().await?;
                // Deleted pages must not linger in the write-ahead log either.
                haven_platform::db::purge_wal(&self.db).await?;
                Ok(Applied::Dropped)
            }
            Some(Event::ChildMerged(merged)) => {
                self.apply_merge(&merged.from_child_id, &merged.into_child_id, &envelope.id)
                    .await?;
                Ok(Applied::Dropped)
            }
            _ => Ok(Applied::Ignored),
        }
    }

    /// A duplicate registration merged into the kept record: what this service holds about the
    /// duplicate (confirmed matches, reviews, family links) now names the kept record, and the
    /// duplicate's profile goes. The kept record's own events keep its profile current.
    async fn apply_merge(&self, from: &str, into: &str, event_id: &str) -> Result<(), FeedError> {
        let txn = self.db.begin().await?;
        child_profile::Entity::delete_by_id(from.to_owned())
            .exec(&txn)
            .await?;
        sealed::delete_profile_key(&txn, from).await?;
        let reviews = review::Entity::find()
            .filter(review::Column::ChildId.eq(from))
            .all(&txn)
            .await?;
        for old in reviews {
            let confirmed = old.decision == "confirm";
            let request_id = old.tracing_request_id.clone();
            review::Entity::delete_by_id((
                old.tracing_request_id.clone(),
                old.sought_child_id.clone(),
                old.child_id.clone(),
            ))
            .exec(&txn)
            .await?;
            let kept_has_one = review::Entity::find_by_id((
                old.tracing_request_id.clone(),
                old.sought_child_id.clone(),
                into.to_owned(),
            ))
            .one(&txn)
            .await?
            .is_some();
            if !kept_has_one {
                review::Entity::insert(review::ActiveModel {
                    child_id: Set(into.to_owned()),
                    ..review::ActiveModel::from(old)
                })
                .exec_without_returning(&txn)
                .await?;
            }
            if confirmed
                && let Some(row) = tracing_request::Entity::find_by_id(request_id)
                    .one(&txn)
                    .await?
                && let Ok(mut body) = self.vault.open_request(&txn, &row).await
            {
                for sought in &mut body.sought_children {
                    if sought.matched_child_id == from {
                        sought.matched_child_id = into.to_owned();
                    }
                }
                let key = self.vault.request_key(&txn, &row.id).await?;
                tracing_request::Entity::update_many()
                    .col_expr(
                        tracing_request::Column::Body,
                        Expr::value(key.seal_body(&body)?),
                    )
                    .col_expr(tracing_request::Column::Sealed, Expr::value(true))
                    .col_expr(
                        tracing_request::Column::Version,
                        Expr::value(row.version + 1),
                    )
                    .filter(tracing_request::Column::Id.eq(row.id.clone()))
                    .exec(&txn)
                    .await?;
            }
        }
        alert::Entity::delete_many()
            .filter(alert::Column::ChildId.eq(from))
            .exec(&txn)
            .await?;
        family_link::Entity::update_many()
            .col_expr(family_link::Column::ChildId, Expr::value(into.to_owned()))
            .filter(family_link::Column::ChildId.eq(from))
            .exec(&txn)
            .await?;
        family_link::Entity::update_many()
            .col_expr(
                family_link::Column::RelativeChildId,
                Expr::value(into.to_owned()),
            )
            .filter(family_link::Column::RelativeChildId.eq(from))
            .exec(&txn)
            .await?;
        log_change(&txn, from).await?;
        mark_consumed(&txn, event_id).await?;
        txn.commit().await?;
        haven_platform::db::purge_wal(&self.db).await?;
        Ok(())
    }
}

async fn log_change<C: sea_orm::ConnectionTrait>(
    conn: &C,
    child_id: &str,
) -> Result<(), FeedError> {
    profile_change::Entity::insert(profile_change::ActiveModel {
        child_id: Set(child_id.to_owned()),
        ..Default::default()
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

async fn mark_consumed<C: sea_orm::ConnectionTrait>(
    conn: &C,
    event_id: &str,
) -> Result<(), FeedError> {
    consumed_event::Entity::insert(consumed_event::ActiveModel {
        event_id: Set(event_id.to_owned()),
        consumed_at_us: Set(crate::now_micros()),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// Runs the feed every `interval` for as long as the process lives.
pub fn spawn_feed(feed: Feed, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        loop {
            ticker.tick().await;
            loop {
                match feed.run_once().await {
                    Ok(0) => break,
                    Ok(_) => continue,
                    Err(error) => {
                        tracing::warn!(%error, "identity events wait; will retry");
                        break;
                    }
                }
            }
        }
    })
}
