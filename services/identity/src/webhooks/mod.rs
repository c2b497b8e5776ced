//! The partners' feeds (DESIGN.md §1: "webhooks and the change feed are fed from the outbox"): partner
//! agencies learn which referred children changed without polling every record.
//!
//! How an event travels:
//! 1. A change writes its event to the outbox in its own transaction; the relay publishes it.
//! 2. The fan-out ([`fanout`]) reads the identity stream through one consumer group for the whole
//!    deployment (DESIGN.md §6). For each event it resolves, at that moment, which agencies may see the
//!    child (accepted referrals, the same rule as the partner scope of reads), and writes in one
//!    transaction: a change-feed row per agency, a delivery row per subscription of those agencies that
//!    wants the event type, and the event's consumed mark. A redelivered event finds its mark and does
//!    nothing; the unique (subscription, event) index is a second guard.
//! 3. The dispatcher ([`dispatch`]) claims due deliveries, checks that the referral still stands, signs
//!    them the Standard Webhooks way ([`signing`]) and POSTs them; a failure is retried with exponential
//!    backoff and jitter until the configured give-up time, then the delivery is marked failed.
//! 4. Partners read the delivery log, replay a delivery, or poll the change feed ([`rpc`]).
//!
//! Payloads and changes carry ids, the event type and the record version only, never child data: the
//! partner reads the record over REST, where the referral's shared classes apply.

mod dispatch;
mod fanout;
mod receiver;
mod rpc;
mod signing;
mod store;
mod tls;

pub(crate) use dispatch::spawn_dispatcher;
pub(crate) use fanout::apply_identity_event;
pub use rpc::PartnerFeedService;
pub(crate) use store::rewrap_secrets;

/// A child was registered or changed.
pub(crate) const CHILD_CHANGED: &str = "child.changed";
/// A child was erased.
pub(crate) const CHILD_ERASED: &str = "child.erased";
/// A duplicate registration was merged into another record.
pub(crate) const CHILD_MERGED: &str = "child.merged";
/// The event types a subscription may ask for.
pub(crate) const EVENT_TYPES: [&str; 3] = [CHILD_CHANGED, CHILD_ERASED, CHILD_MERGED];

/// Delivery states, as stored.
pub(crate) const PENDING: &str = "pending";
pub(crate) const DELIVERED: &str = "delivered";
pub(crate) const FAILED: &str = "failed";
pub(crate) const WITHDRAWN: &str = "withdrawn";

/// The deployment's webhook settings, with what `haven up` decides on top of the configuration.
#[derive(Clone)]
pub struct WebhookSettings {
    pub config: haven_platform::config::WebhooksConfig,
    /// The configuration's `allow_private_addresses`, or the embedded default (`haven up`).
    pub allow_private_addresses: bool,
    /// The TLS client configuration for https receivers.
    pub(crate) tls: std::sync::Arc<tokio_rustls::rustls::ClientConfig>,
}

impl std::fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("config", &self.config)
            .field("allow_private_addresses", &self.allow_private_addresses)
            .finish_non_exhaustive()
    }
}

impl WebhookSettings {
    /// The settings of a deployment: `embedded` (`haven up`) allows private addresses. Fails when the
    /// extra CA certificates cannot be read.
    pub fn new(
        config: haven_platform::config::WebhooksConfig,
        embedded: bool,
    ) -> Result<Self, String> {
        let tls = tls::client_config(config.extra_root_certificates_path.as_deref())?;
        Ok(WebhookSettings {
            allow_private_addresses: config.allow_private_addresses || embedded,
            config,
            tls,
        })
    }
}
