//! Starting the identity service in a deployment: its database, its keyring, its outbox relay, its
//! consumer of learning's enrolments, the partners' feeds (fan-out and webhook dispatcher), retention,
//! audit checkpoints and the server. `haven up` and
//! `haven serve identity` both start it here.

use std::sync::Arc;

use haven_platform::HavenConfig;
use haven_platform::sealing::Keyring;
use haven_platform::start::{Context, MasterKeySource, StartError, Started, master_keyring};
use haven_platform::streams::{
    IDENTITY_GROUP, IDENTITY_STREAM, LEARNING_STREAM, PARTNER_FEED_GROUP,
};
use tokio::net::TcpListener;

/// The keyring sealing whereabouts and protection at rest: `HAVEN_MASTER_KEY`, else
/// `master_key_path`, else (embedded default only) `<data_dir>/keys/master.key`, created on first start.
pub fn keyring(config: &HavenConfig, embedded: bool) -> Result<Keyring, StartError> {
    master_keyring(
        MasterKeySource {
            service: "identity",
            variable: "HAVEN_MASTER_KEY",
            key: "master_key_path",
            path: config.master_key_path.as_deref(),
            previous: &config.previous_master_key_paths,
            embedded_default: config.data_dir.join("keys").join("master.key"),
        },
        embedded,
    )
}

/// Starts the identity service on `listener`.
pub async fn start(ctx: &Context, listener: TcpListener) -> Result<Started, StartError> {
    let config = &ctx.config;
    let keyring = Arc::new(keyring(config, ctx.embedded)?);
    let service = crate::build(
        &config.identity_database_url(),
        ctx.auth.clone(),
        ctx.policy.clone(),
        keyring.clone(),
    )
    .await?;
    let db = service.database().clone();
    // `haven up` allows receivers on the same machine (tests, a partner's local trial).
    let webhooks = crate::WebhookSettings::new(config.identity.webhooks.clone(), ctx.embedded)
        .map_err(|e| StartError::service("identity webhooks", e))?;
    let feed = crate::PartnerFeedService::new(
        db.clone(),
        ctx.auth.clone(),
        keyring.clone(),
        service.audit_writer().clone(),
        webhooks.clone(),
    );
    let fan_out_db = db.clone();
    let enrolments = service.clone();
    let mut background = vec![
        ctx.relay(db.clone()),
        // Educator affiliations follow LearnerEnrolled.
        ctx.consumer(LEARNING_STREAM, IDENTITY_GROUP, move |payload| {
            let identity = enrolments.clone();
            async move { identity.apply_learning_event(&payload).await }
        }),
        // Partners' webhooks and change feed follow identity's own events, once per deployment.
        ctx.consumer(IDENTITY_STREAM, PARTNER_FEED_GROUP, move |payload| {
            let db = fan_out_db.clone();
            async move { crate::webhooks::apply_identity_event(&db, &payload).await }
        }),
        crate::webhooks::spawn_dispatcher(
            db.clone(),
            keyring,
            service.audit_writer().clone(),
            webhooks,
            ctx.stop.clone(),
        ),
    ];
    background.extend(crate::spawn_retention(
        service.clone(),
        config.identity.retention.clone(),
    ));
    let checkpoints = ctx.checkpoints("identity", db);
    let max_message_bytes = config.gateway.max_message_bytes;
    Started::spawn(
        ctx,
        "identity",
        listener,
        background,
        checkpoints,
        |listener, shutdown| crate::serve(service, feed, listener, max_message_bytes, shutdown),
    )
}
