//! Starting the learning service in a deployment: its database, this deployment's passport issuer and
//! the issuers it trusts, its outbox relay, its projection of identity's children, audit checkpoints and
//! the server. `haven up` and `haven serve learning` both start it here.

use haven_platform::HavenConfig;
use haven_platform::start::{Context, StartError, Started};
use haven_platform::streams::{IDENTITY_STREAM, LEARNING_GROUP};
use tokio::net::TcpListener;

use crate::{LearningService, PassportIssuer, TrustList};

/// This deployment's passport issuer, as configured: `learning.passport_algorithm` (EdDSA by default)
/// with the key at `learning.passport_key_path`, or the data dir's key for that algorithm (created on
/// first use).
pub fn passport_issuer(config: &HavenConfig) -> Result<PassportIssuer, StartError> {
    let public_url = config
        .learning
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.gateway.listen));
    PassportIssuer::load(
        &config.data_dir,
        config.learning.passport_algorithm,
        config.learning.passport_key_path.as_deref(),
        &config.learning.issuer_name,
        &public_url,
    )
    .map_err(|e| StartError::service("learning passports", e))
}

/// The other deployments whose passports ImportPassport accepts: the JWKS at
/// `learning.trusted_issuers_path`, if set.
pub fn trusted_issuers(config: &HavenConfig) -> Result<Option<TrustList>, StartError> {
    let Some(path) = &config.learning.trusted_issuers_path else {
        return Ok(None);
    };
    let failed = |message: String| {
        StartError::service(
            "learning",
            format!("trusted passport issuers at {}: {message}", path.display()),
        )
    };
    let text = std::fs::read_to_string(path).map_err(|e| failed(e.to_string()))?;
    let trusted = TrustList::from_jwks(&text).map_err(|e| failed(e.to_string()))?;
    Ok(Some(trusted))
}

/// Builds the learning service with this deployment's passport issuer and trusted issuers.
pub(crate) async fn service(ctx: &Context) -> Result<LearningService, StartError> {
    let config = &ctx.config;
    let issuer = passport_issuer(config)?;
    let mut service = crate::build(
        &config.learning_database_url(),
        ctx.auth.clone(),
        ctx.policy.clone(),
        issuer,
    )
    .await?;
    if let Some(trusted) = trusted_issuers(config)? {
        service = service.with_trusted_issuers(trusted);
    }
    Ok(service)
}

/// Starts the learning service on `listener`.
pub async fn start(ctx: &Context, listener: TcpListener) -> Result<Started, StartError> {
    let service = service(ctx).await?;
    let projection = service.clone();
    let background = vec![
        ctx.relay(service.database().clone()),
        // Owner and agency of identity's children, for caseworkers' and supervisors' scope.
        ctx.consumer(IDENTITY_STREAM, LEARNING_GROUP, move |payload| {
            let projection = projection.clone();
            async move { projection.apply_identity_event(&payload).await.map(|_| ()) }
        }),
    ];
    let checkpoints = ctx.checkpoints("learning", service.database().clone());
    let max_message_bytes = ctx.config.gateway.max_message_bytes;
    Started::spawn(
        ctx,
        "learning",
        listener,
        background,
        checkpoints,
        |listener, shutdown| crate::serve(service, listener, max_message_bytes, shutdown),
    )
}
