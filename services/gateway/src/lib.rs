//! The Haven gateway: the one public gRPC port. It authenticates every call (JWT, cached verification,
//! revocation on every call), rejects RPCs the caller's roles can never use, rate limits per principal,
//! and forwards to the owning service with the caller's token. It also serves health and reflection.

mod edge;
mod limiter;
mod rules;
mod tokens;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use haven_authz::{Authenticator, Policy};
use haven_platform::config::GatewayConfig;
use haven_proto::auth::tokens_server::TokensServer;
use haven_proto::family_tracing::family_tracing_server::FamilyTracingServer;
use haven_proto::identity::child_identity_server::ChildIdentityServer;
use haven_proto::identity::identity_audit_server::IdentityAuditServer;
use haven_proto::learning::learning_records_server::LearningRecordsServer;
use tokio::net::TcpListener;
use tonic::transport::{Channel, Endpoint};

pub use edge::{Edge, Upstreams};
pub use limiter::RateLimiter;
pub use rules::{PublicRpc, may_ever_call};
pub use tokens::{FAILURES_PER_ADDRESS, FAILURES_PER_CLIENT, TokenEndpoint, TokenIssuer};

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("invalid service address {url}: {source}")]
    Address {
        url: String,
        source: tonic::transport::Error,
    },
    #[error("reflection setup failed: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("server failed: {0}")]
    Serve(#[from] tonic::transport::Error),
}

/// A lazily connected channel to a service: the gateway starts even if the service is not up yet, and
/// answers UNAVAILABLE until it is.
pub fn service_channel(url: &str, timeout: Duration) -> Result<Channel, GatewayError> {
    let endpoint =
        Endpoint::from_shared(url.to_owned()).map_err(|source| GatewayError::Address {
            url: url.to_owned(),
            source,
        })?;
    Ok(endpoint
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(3))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .connect_lazy())
}

/// Serves the gateway on a bound listener until `shutdown`.
pub async fn serve(
    config: &GatewayConfig,
    auth: Authenticator,
    policy: Arc<Policy>,
    limiter: RateLimiter,
    token_issuer: Option<TokenIssuer>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), GatewayError> {
    let timeout = Duration::from_millis(config.request_timeout_ms);
    let identity = service_channel(&config.identity_url, timeout)?;
    let family_tracing = service_channel(&config.family_tracing_url, timeout)?;
    let learning = service_channel(&config.learning_url, timeout)?;
    let tokens = TokensServer::new(TokenEndpoint::new(
        token_issuer,
        limiter.clone(),
        config.trusted_proxy_header.clone(),
    ));
    let auth_layer = auth.clone();
    let edge = Edge::new(
        Upstreams {
            identity,
            family_tracing,
            learning,
        },
        auth,
        policy,
        limiter,
        timeout,
        config.max_message_bytes,
    );
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<ChildIdentityServer<Edge>>().await;
    health.set_serving::<IdentityAuditServer<Edge>>().await;
    health.set_serving::<FamilyTracingServer<Edge>>().await;
    health.set_serving::<LearningRecordsServer<Edge>>().await;
    let (reflection_v1, reflection_v1alpha) = haven_platform::server::reflection()?;
    tonic::transport::Server::builder()
        .timeout(timeout)
        .layer(haven_platform::telemetry::grpc::ServerTelemetryLayer::new(
            "gateway",
        ))
        .layer(haven_platform::server::OversizeStatusLayer)
        .layer(haven_platform::auth::AuthLayer::new(auth_layer))
        .add_service(health_service)
        .add_service(tokens)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(
            IdentityAuditServer::new(edge.clone())
                .max_decoding_message_size(config.max_message_bytes)
                .max_encoding_message_size(config.max_message_bytes),
        )
        .add_service(
            LearningRecordsServer::new(edge.clone())
                .max_decoding_message_size(config.max_message_bytes)
                .max_encoding_message_size(config.max_message_bytes),
        )
        .add_service(
            FamilyTracingServer::new(edge.clone())
                .max_decoding_message_size(config.max_message_bytes)
                .max_encoding_message_size(config.max_message_bytes),
        )
        .add_service(
            ChildIdentityServer::new(edge)
                .max_decoding_message_size(config.max_message_bytes)
                .max_encoding_message_size(config.max_message_bytes),
        )
        .serve_with_incoming_shutdown(haven_platform::server::incoming(listener), shutdown)
        .await?;
    Ok(())
}
