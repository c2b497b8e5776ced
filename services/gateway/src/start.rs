//! Starting the gateway in a deployment: its rate limiter, the token endpoint when machine clients are
//! configured, and the server in front of the services at `gateway.*_url`. `haven up` and
//! `haven serve gateway` both start it here.

use std::sync::Arc;

use haven_authz::{ClientRegistry, DevSigningKey};
use haven_platform::HavenConfig;
use haven_platform::authz_files::{ClientRegistryFiles as _, DevSigningKeyFiles as _};
use haven_platform::start::{Context, StartError, Started};
use tokio::net::TcpListener;

use crate::{RateLimiter, TokenIssuer, WellKnown};

/// The rate limiter: shared through Redis when `redis_url` is set (every replica counts the same
/// caller), else in memory.
pub fn rate_limiter(config: &HavenConfig) -> Result<RateLimiter, StartError> {
    let g = &config.gateway;
    match &config.redis_url {
        Some(url) => RateLimiter::redis(
            url,
            &config.bus_namespace,
            g.rate_limit_per_second,
            g.rate_limit_burst,
        )
        .map_err(|e| StartError::Redis(e.to_string())),
        None => Ok(RateLimiter::in_memory(
            g.rate_limit_per_second,
            g.rate_limit_burst,
        )),
    }
}

/// The token endpoint's issuer, when machine clients are configured (`auth.clients_path`). It signs
/// with the data dir's key, whose public half the services must trust: embedded, the suite trusts it
/// (unless `auth.jwks_path` names other keys, when there is no token endpoint); in a deployment the key
/// file must already exist and its public half be in the JWKS.
pub fn token_issuer(
    config: &HavenConfig,
    embedded: bool,
) -> Result<Option<TokenIssuer>, StartError> {
    let Some(path) = &config.auth.clients_path else {
        return Ok(None);
    };
    if embedded && config.auth.jwks_path.is_some() {
        return Ok(None);
    }
    if config.auth.client_token_ttl_secs > config.auth.max_token_lifetime_secs {
        return Err(StartError::service(
            "gateway",
            format!(
                "auth.client_token_ttl_secs ({}) is above auth.max_token_lifetime_secs ({}): every token the endpoint issued would be refused",
                config.auth.client_token_ttl_secs, config.auth.max_token_lifetime_secs
            ),
        ));
    }
    let key_file = config.data_dir.join("keys").join("dev-signing-key.p8");
    if !embedded && !key_file.exists() {
        return Err(StartError::service(
            "gateway",
            format!(
                "auth.clients_path is set but there is no signing key at {}",
                key_file.display()
            ),
        ));
    }
    let key = Arc::new(DevSigningKey::load_or_create(&config.data_dir)?);
    let clients = ClientRegistry::from_file(path).map_err(|e| StartError::service("gateway", e))?;
    Ok(Some(TokenIssuer {
        key,
        clients: Arc::new(clients),
        issuer: config.auth.issuer.clone(),
        audience: config.auth.audience.clone(),
        ttl_secs: config.auth.client_token_ttl_secs,
    }))
}

/// What the gateway publishes at `/.well-known/`: the JWKS every component verifies tokens against
/// (`auth.jwks_path`, else the data dir's development key), and the metadata's base URL
/// (`gateway.public_url`, else `learning.public_url`; else, embedded only, the request's Host).
pub fn well_known(config: &HavenConfig, embedded: bool) -> Result<WellKnown, StartError> {
    let path = match &config.auth.jwks_path {
        Some(path) => path.clone(),
        None => DevSigningKey::jwks_path(&config.data_dir),
    };
    let jwks = match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "no JWKS to publish at /.well-known/jwks.json");
            None
        }
    };
    let public_url = config
        .gateway
        .public_url
        .as_deref()
        .or(config.learning.public_url.as_deref());
    if public_url.is_none() && !embedded {
        tracing::warn!(
            "gateway.public_url is not set: /.well-known/oauth-authorization-server answers 404"
        );
    }
    WellKnown::new(jwks.as_deref(), public_url, embedded)
        .map_err(|e| StartError::service("gateway", e))
}

/// Starts the gateway on `listener`, in front of the services at `gateway.identity_url`,
/// `gateway.family_tracing_url` and `gateway.learning_url`.
pub async fn start(ctx: &Context, listener: TcpListener) -> Result<Started, StartError> {
    let config = ctx.config.clone();
    let limiter = rate_limiter(&config)?;
    let issuer = token_issuer(&config, ctx.embedded)?;
    let published = well_known(&config, ctx.embedded)?;
    let auth = ctx.auth.clone();
    let policy = ctx.policy.clone();
    Started::spawn(
        ctx,
        "gateway",
        listener,
        Vec::new(),
        None,
        |listener, shutdown| async move {
            crate::serve(
                &config.gateway,
                auth,
                policy,
                limiter,
                crate::PartnerDoor {
                    token_issuer: issuer,
                    well_known: published,
                },
                listener,
                shutdown,
            )
            .await
            .map_err(|e| StartError::service("gateway", e))
        },
    )
}
