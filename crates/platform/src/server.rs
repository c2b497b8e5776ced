//! Server bootstrap shared by the gateway and every service: health, reflection, bound listeners and
//! graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use haven_authz::{Authenticator, Policy, RuleTable};
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Endpoint, Server};
use tower::layer::util::{Identity, Stack};

use crate::auth::AuthLayer;
use crate::telemetry::grpc::ServerTelemetryLayer;

/// A listener bound before the server starts, so tests can bind port 0 and learn the port without a race.
pub async fn bind(addr: SocketAddr) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}

/// The incoming stream tonic's `serve_with_incoming_shutdown` expects, with TCP_NODELAY set.
pub fn incoming(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener).with_nodelay(Some(true))
}

/// A lazily connected channel to a service at `url`: the caller starts even if the service is not up
/// yet, and its calls answer UNAVAILABLE until it is. Each call is bounded by `timeout`.
pub fn lazy_channel(
    url: &str,
    timeout: std::time::Duration,
) -> Result<Channel, tonic::transport::Error> {
    Ok(Endpoint::from_shared(url.to_owned())?
        .timeout(timeout)
        .connect_timeout(std::time::Duration::from_secs(3))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(std::time::Duration::from_secs(30))
        .connect_lazy())
}

/// The layers every Haven service runs, outermost first: telemetry (one span per call, the trace
/// carried in), oversize messages answered RESOURCE_EXHAUSTED, then authentication and the coarse
/// rule table before the body is read.
pub type ServiceLayers =
    Stack<AuthLayer, Stack<OversizeStatusLayer, Stack<ServerTelemetryLayer, Identity>>>;

/// A server builder for the service called `component`, with [`ServiceLayers`] over Haven's rule table.
pub fn service_builder(
    component: &'static str,
    auth: Authenticator,
    policy: Arc<Policy>,
) -> Server<ServiceLayers> {
    Server::builder()
        .layer(ServerTelemetryLayer::new(component))
        .layer(OversizeStatusLayer)
        .layer(AuthLayer::for_service(
            auth,
            Arc::new(RuleTable::haven()),
            policy,
        ))
}

/// Serves one service's gRPC servers (`routes`) on `listener` until `shutdown`, behind
/// [`service_builder`]'s layers, with the health service reporting each name in `serving` as SERVING.
/// Every service's `serve` is this call with its own servers.
pub async fn serve_service(
    component: &'static str,
    auth: Authenticator,
    policy: Arc<Policy>,
    routes: tonic::service::Routes,
    serving: &[&str],
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let (health, health_service) = tonic_health::server::health_reporter();
    for name in serving {
        health
            .set_service_status(*name, tonic_health::ServingStatus::Serving)
            .await;
    }
    service_builder(component, auth, policy)
        .add_routes(routes.add_service(health_service))
        .serve_with_incoming_shutdown(incoming(listener), shutdown)
        .await
}

/// The server reflection services (v1 and v1alpha, for older grpcurl) over Haven's descriptor set.
pub fn reflection() -> Result<
    (
        tonic_reflection::server::v1::ServerReflectionServer<
            impl tonic_reflection::server::v1::ServerReflection,
        >,
        tonic_reflection::server::v1alpha::ServerReflectionServer<
            impl tonic_reflection::server::v1alpha::ServerReflection,
        >,
    ),
    tonic_reflection::server::Error,
> {
    let v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(haven_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(haven_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    Ok((v1, v1alpha))
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}

/// Answers a message over the size limit RESOURCE_EXHAUSTED, the status gRPC defines for it. tonic
/// refuses such a message from its length prefix, before reading the body, but answers OUT_OF_RANGE;
/// this layer rewrites that one answer and leaves every other response alone.
#[derive(Debug, Clone, Copy, Default)]
pub struct OversizeStatusLayer;

impl<S> tower::Layer<S> for OversizeStatusLayer {
    type Service = OversizeStatus<S>;
    fn layer(&self, inner: S) -> Self::Service {
        OversizeStatus { inner }
    }
}

#[derive(Debug, Clone)]
pub struct OversizeStatus<S> {
    inner: S,
}

impl<S, B, R> tower::Service<http::Request<B>> for OversizeStatus<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let mut response = inner.call(request).await?;
            rewrite_oversize(response.headers_mut());
            Ok(response)
        })
    }
}

/// tonic's words for a message over the limit, in either direction.
const TOO_LARGE: &str = "message length too large";

fn rewrite_oversize(headers: &mut http::HeaderMap) {
    let Some(status) = tonic::Status::from_header_map(headers) else {
        return;
    };
    if status.code() != tonic::Code::OutOfRange || !status.message().contains(TOO_LARGE) {
        return;
    }
    let limit = status
        .message()
        .rsplit("the limit is: ")
        .next()
        .filter(|rest| rest.ends_with(" bytes"))
        .unwrap_or("the limit");
    let replacement =
        tonic::Status::resource_exhausted(format!("the message is larger than {limit}"));
    headers.remove("grpc-message");
    if let Err(status) = replacement.add_header(headers) {
        tracing::warn!(%status, "could not rewrite the oversize status");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_oversize_refusal_becomes_resource_exhausted() {
        let mut headers = http::HeaderMap::new();
        tonic::Status::out_of_range(
            "Error, decoded message length too large: found 5000000 bytes, the limit is: 4194304 bytes",
        )
        .add_header(&mut headers)
        .expect("header");
        rewrite_oversize(&mut headers);
        let status = tonic::Status::from_header_map(&headers).expect("a status");
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
        assert_eq!(status.message(), "the message is larger than 4194304 bytes");
    }

    #[test]
    fn other_answers_are_left_alone() {
        let mut headers = http::HeaderMap::new();
        tonic::Status::out_of_range("page_token: past the end")
            .add_header(&mut headers)
            .expect("header");
        rewrite_oversize(&mut headers);
        assert_eq!(
            tonic::Status::from_header_map(&headers)
                .expect("a status")
                .code(),
            tonic::Code::OutOfRange
        );
        let mut ok = http::HeaderMap::new();
        rewrite_oversize(&mut ok);
        assert!(ok.is_empty());
    }
}
