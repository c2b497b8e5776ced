//! Starting the family tracing service in a deployment: its database and keyring, the matching index,
//! the feed of identity's events and the index follower, audit checkpoints and the server. `haven up`
//! and `haven serve family-tracing` both start it here.

use std::sync::Arc;
use std::time::Duration;

use haven_authz::DevSigningKey;
use haven_platform::HavenConfig;
use haven_platform::authz_files::DevSigningKeyFiles as _;
use haven_platform::sealing::Keyring;
use haven_platform::start::{
    Context, FEED_INTERVAL, MasterKeySource, StartError, Started, master_keyring, replica_name,
};
use tokio::net::TcpListener;

use crate::{Feed, IdentityReader, spawn_feed, spawn_follower};

/// The keyring sealing family tracing's data at rest (inquirers, sought children, the profile
/// projection), found the same way as identity's but from its own key:
/// `HAVEN_FAMILY_TRACING_MASTER_KEY`, else `family_tracing.master_key_path`, else (embedded default
/// only) `<data_dir>/keys/family-tracing.key`, created on first start.
pub fn keyring(config: &HavenConfig, embedded: bool) -> Result<Keyring, StartError> {
    master_keyring(
        MasterKeySource {
            service: "family tracing",
            variable: "HAVEN_FAMILY_TRACING_MASTER_KEY",
            key: "family_tracing.master_key_path",
            path: config.family_tracing.master_key_path.as_deref(),
            previous: &config.family_tracing.previous_master_key_paths,
            embedded_default: config.data_dir.join("keys").join("family-tracing.key"),
        },
        embedded,
    )
}

/// The match bands a deployment configured.
pub fn thresholds(config: &HavenConfig) -> haven_matching::Thresholds {
    haven_matching::Thresholds {
        likely: config.family_tracing.likely_threshold,
        possible: config.family_tracing.possible_threshold,
    }
}

/// Starts the family tracing service on `listener`. It reads consenting children's identity from the
/// identity service at `family_tracing.identity_url`, with its own token signed by the data dir's key,
/// whose public half the identity service must trust (it does when embedded).
pub async fn start(ctx: &Context, listener: TcpListener) -> Result<Started, StartError> {
    let config = &ctx.config;
    let service = crate::build(
        &config.family_tracing_database_url(),
        ctx.auth.clone(),
        ctx.policy.clone(),
        thresholds(config),
        Arc::new(keyring(config, ctx.embedded)?),
    )
    .await
    .map_err(|e| StartError::service("family tracing", e))?;
    let key = Arc::new(DevSigningKey::load_or_create(&config.data_dir)?);
    let channel = haven_platform::server::lazy_channel(
        &config.family_tracing.identity_url,
        Duration::from_millis(config.gateway.request_timeout_ms),
    )
    .map_err(|e| StartError::service("family tracing", e))?;
    let reader = IdentityReader::new(channel, key, &config.auth.issuer, &config.auth.audience);
    let feed = Feed {
        db: service.database().clone(),
        bus: ctx.bus.clone(),
        reader,
        matcher: service.matcher().clone(),
        vault: service.vault().clone(),
        consumer: replica_name(),
    };
    let background = vec![
        spawn_feed(feed, FEED_INTERVAL),
        spawn_follower(
            service.matcher().clone(),
            service.database().clone(),
            FEED_INTERVAL,
        ),
    ];
    let checkpoints = ctx.checkpoints("family-tracing", service.database().clone());
    let max_message_bytes = config.gateway.max_message_bytes;
    Started::spawn(
        ctx,
        "family-tracing",
        listener,
        background,
        checkpoints,
        |listener, shutdown| crate::serve(service, listener, max_message_bytes, shutdown),
    )
}
