//! The Haven gateway: the one public port, for gRPC and for REST/JSON transcoded from the contract
//! ([`rest`]). It authenticates every call (JWT, cached verification, revocation on every call), rejects
//! RPCs the caller's roles can never use (the rule table in authz), rate limits per principal, and
//! forwards each call to the service that owns its path prefix (gRPC unread), with the caller's token.
//! It serves health, reflection, the token endpoint (gRPC and OAuth2 over HTTP, [`oauth`]), the
//! well-known keys and metadata ([`well_known`]) and the OpenAPI document itself; it translates
//! gRPC-Web to gRPC and answers CORS for the configured origins at the edge ([`rest`], [`cors`]).

pub mod cors;
pub mod forward;
mod limiter;
pub mod oauth;
pub mod rest;
mod start;
mod tokens;
pub mod well_known;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use haven_authz::{Authenticator, Policy, RuleTable};
use haven_platform::config::GatewayConfig;
use tokio::net::TcpListener;
use tonic::transport::Channel;

pub use forward::{Forwarder, Route};
pub use limiter::RateLimiter;
pub use start::{rate_limiter, start, token_issuer, well_known};
pub use tokens::{FAILURES_PER_ADDRESS, FAILURES_PER_CLIENT, TokenEndpoint, TokenIssuer};
pub use well_known::WellKnown;

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("invalid service address {url}: {source}")]
    Address {
        url: String,
        source: tonic::transport::Error,
    },
    #[error("reflection setup failed: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("REST route annotation: {0}")]
    Routes(#[from] rest::RouteError),
    #[error("server failed: {0}")]
    Serve(#[from] tonic::transport::Error),
}

/// A lazily connected channel to a service: the gateway starts even if the service is not up yet, and
/// answers UNAVAILABLE until it is.
pub fn service_channel(url: &str, timeout: Duration) -> Result<Channel, GatewayError> {
    haven_platform::server::lazy_channel(url, timeout).map_err(|source| GatewayError::Address {
        url: url.to_owned(),
        source,
    })
}

/// The services behind the gateway, by the package prefix of their methods' paths.
pub fn haven_routes(config: &GatewayConfig) -> Result<Vec<Route>, GatewayError> {
    let timeout = Duration::from_millis(config.request_timeout_ms);
    Ok(vec![
        Route {
            prefix: "/haven.identity.v1.".into(),
            channel: service_channel(&config.identity_url, timeout)?,
        },
        Route {
            prefix: "/haven.family_tracing.v1.".into(),
            channel: service_channel(&config.family_tracing_url, timeout)?,
        },
        Route {
            prefix: "/haven.learning.v1.".into(),
            channel: service_channel(&config.learning_url, timeout)?,
        },
    ])
}

/// What the gateway itself offers machine clients: the token endpoint's issuer (none: every client is
/// refused) and the keys and metadata at `/.well-known/` (default: none published).
#[derive(Debug, Default)]
pub struct PartnerDoor {
    pub token_issuer: Option<TokenIssuer>,
    pub well_known: WellKnown,
}

/// Serves the gateway for Haven's services and rule table on a bound listener until `shutdown`.
pub async fn serve(
    config: &GatewayConfig,
    auth: Authenticator,
    policy: Arc<Policy>,
    limiter: RateLimiter,
    partners: PartnerDoor,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), GatewayError> {
    let routes = haven_routes(config)?;
    let edge = Edge {
        auth,
        policy,
        rules: RuleTable::haven(),
        routes,
        limiter,
        token_issuer: partners.token_issuer,
        well_known: partners.well_known,
    };
    serve_edge(config, edge, listener, shutdown).await
}

/// Everything the gateway serves with: who may call what, and where each method goes.
#[derive(Debug)]
pub struct Edge {
    pub auth: Authenticator,
    pub policy: Arc<Policy>,
    pub rules: RuleTable,
    pub routes: Vec<Route>,
    pub limiter: RateLimiter,
    pub token_issuer: Option<TokenIssuer>,
    /// The keys and metadata at `/.well-known/` (default: none published).
    pub well_known: WellKnown,
}

/// Serves the gateway with any routes and rule table: health, reflection, the token endpoint and the API
/// documents are its own; every other gRPC path is authenticated, checked and forwarded unread (see
/// [`forward`]), and every REST path is authenticated, transcoded and goes the same way (see [`rest`]).
pub async fn serve_edge(
    config: &GatewayConfig,
    edge: Edge,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), GatewayError> {
    let timeout = Duration::from_millis(config.request_timeout_ms);
    let tokens = oauth::TokenDoor::new(TokenEndpoint::new(
        edge.token_issuer,
        edge.limiter.clone(),
        config.trusted_proxy_header.clone(),
    ));
    let forwarder = Forwarder::new(
        edge.routes,
        edge.policy,
        Arc::new(edge.rules),
        edge.limiter,
        timeout,
    );
    let table = Arc::new(rest::RouteTable::haven()?);
    let dispatch = rest::Dispatch {
        transcoder: rest::Transcoder::new(
            table.clone(),
            forwarder.clone(),
            config.max_message_bytes,
        ),
        forwarder,
    };
    let (health, health_service) = tonic_health::server::health_reporter();
    for service in [
        "haven.identity.v1.ChildIdentity",
        "haven.identity.v1.IdentityAudit",
        "haven.identity.v1.PartnerFeed",
        "haven.family_tracing.v1.FamilyTracing",
        "haven.learning.v1.LearningRecords",
    ] {
        health
            .set_service_status(service, tonic_health::ServingStatus::Serving)
            .await;
    }
    let (reflection_v1, reflection_v1alpha) = haven_platform::server::reflection()?;
    let mut routes = tonic::service::Routes::builder();
    routes
        .add_service(health_service)
        .add_service(tokens)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);
    let mut routes = routes.routes();
    // Anything the gateway does not serve itself goes to the forwarder (gRPC) or the transcoder (REST).
    let router = std::mem::take(routes.axum_router_mut()).fallback_service(dispatch);
    tonic::transport::Server::builder()
        // REST clients speak HTTP/1.1 too; gRPC is HTTP/2 as before, told apart by the connection preface.
        .accept_http1(true)
        .timeout(timeout)
        // Outermost: gives a REST request its RPC's path, so every layer after it sees the RPC.
        .layer(rest::RestEdgeLayer::new(
            table,
            edge.well_known,
            cors::Cors::new(&config.cors),
        ))
        .layer(haven_platform::telemetry::grpc::ServerTelemetryLayer::new(
            "gateway",
        ))
        .layer(haven_platform::server::OversizeStatusLayer)
        .layer(haven_platform::auth::AuthLayer::new(edge.auth))
        .add_routes(tonic::service::Routes::from(router))
        .serve_with_incoming_shutdown(haven_platform::server::incoming(listener), shutdown)
        .await?;
    Ok(())
}
