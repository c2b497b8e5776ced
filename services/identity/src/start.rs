//! Starting the identity service in a deployment: its database, its keyring, its outbox relay, its
//! consumer of learning's enrolments, retention, audit checkpoints and the server. `haven up` and
//! `haven serve identity` both start it here.

use std::sync::Arc;

use haven_platform::HavenConfig;
use haven_platform::sealing::Keyring;
use haven_platform::start::{Context, MasterKeySource, StartError, Started, master_keyring};
use haven_platform::streams::{IDENTITY_GROUP, LEARNING_STREAM};
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
    let service = crate::build(
        &config.identity_database_url(),
        ctx.auth.clone(),
        ctx.policy.clone(),
        Arc::new(keyring(config, ctx.embedded)?),
    )
    .await?;
    let db = service.database().clone();
    let enrolments = service.clone();
    let mut background = vec![
        ctx.relay(db.clone()),
        // Educator affiliations follow LearnerEnrolled.
        ctx.consumer(LEARNING_STREAM, IDENTITY_GROUP, move |payload| {
            let identity = enrolments.clone();
            async move { identity.apply_learning_event(&payload).await }
        }),
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
        |listener, shutdown| crate::serve(service, listener, max_message_bytes, shutdown),
    )
}
