//! gRPC spans and RED metrics: a tower layer for every server, and a wrapper for every client channel
//! one Haven component uses to call another. The server span continues the caller's W3C
//! `traceparent`; the client span injects its own, so the callee's server span is its child and one
//! trace reads gateway → client call → service → database.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Instant;

use opentelemetry::KeyValue;
use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::{HeaderExtractor, HeaderInjector, adopt, instruments};

/// gRPC status codes that mean the server failed (OpenTelemetry's rule for server spans); the others
/// (NOT_FOUND, PERMISSION_DENIED, ...) are the caller's problem and leave the span unset.
fn is_server_error(code: i32) -> bool {
    matches!(code, 2 | 4 | 12 | 13 | 14 | 15)
}

/// `/haven.identity.v1.ChildIdentity/GetChild` → (`haven.identity.v1.ChildIdentity`, `GetChild`).
fn split_path(path: &str) -> (&str, &str) {
    let path = path.trim_start_matches('/');
    path.split_once('/').unwrap_or((path, ""))
}

/// Health checks and reflection are infrastructure, polled by probes every few seconds: no spans.
fn is_infrastructure(service: &str) -> bool {
    service.starts_with("grpc.health.") || service.starts_with("grpc.reflection.")
}

/// The status of a unary answer: tonic puts an error's `grpc-status` in the response headers (a
/// trailers-only response); a success carries it in the trailers, so no header means OK.
fn status_of<B>(response: &http::Response<B>) -> i32 {
    response
        .headers()
        .get("grpc-status")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
        .unwrap_or(0)
}

/// A finished call: its status goes on the current span, its duration into a histogram.
struct Finished {
    code: i32,
    /// Whether the span is marked as an error (servers: only their own faults; clients: any failure).
    error: bool,
    started: Instant,
    service: String,
    method: String,
    component: &'static str,
}

impl Finished {
    fn record(self, histogram: &opentelemetry::metrics::Histogram<f64>) {
        let current = tracing::Span::current();
        current.record("rpc.grpc.status_code", self.code);
        if self.error {
            current.record("otel.status_code", "ERROR");
        }
        histogram.record(
            self.started.elapsed().as_secs_f64(),
            &[
                KeyValue::new("rpc.system", "grpc"),
                KeyValue::new("rpc.service", self.service),
                KeyValue::new("rpc.method", self.method),
                KeyValue::new("rpc.grpc.status_code", i64::from(self.code)),
                KeyValue::new("haven.component", self.component),
            ],
        );
    }
}

/// Adds a server span and RED metrics to every RPC a server answers. `component` names the server in
/// the span (`haven.component`), which matters when `haven up` runs every component in one process.
#[derive(Debug, Clone, Copy)]
pub struct ServerTelemetryLayer {
    component: &'static str,
}

impl ServerTelemetryLayer {
    pub fn new(component: &'static str) -> Self {
        ServerTelemetryLayer { component }
    }
}

impl<S> tower::Layer<S> for ServerTelemetryLayer {
    type Service = ServerTelemetry<S>;
    fn layer(&self, inner: S) -> Self::Service {
        ServerTelemetry {
            inner,
            component: self.component,
        }
    }
}

/// The service [`ServerTelemetryLayer`] makes.
#[derive(Debug, Clone)]
pub struct ServerTelemetry<S> {
    inner: S,
    component: &'static str,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, B, R> tower::Service<http::Request<B>> for ServerTelemetry<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<S::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        // The clone that was polled ready serves this call; the fresh clone waits for the next one.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let (service, method) = split_path(request.uri().path());
        if is_infrastructure(service) {
            return Box::pin(inner.call(request));
        }
        let (service, method) = (service.to_owned(), method.to_owned());
        let span = tracing::info_span!(
            "grpc.server",
            otel.name = %format_args!("{service}/{method}"),
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            rpc.system = "grpc",
            rpc.service = %service,
            rpc.method = %method,
            rpc.grpc.status_code = tracing::field::Empty,
            haven.component = self.component,
            trace_id = tracing::field::Empty,
            span_id = tracing::field::Empty,
        );
        let parent = TraceContextPropagator::new().extract(&HeaderExtractor(request.headers()));
        adopt(&span, parent);
        let component = self.component;
        let started = Instant::now();
        let call = inner.call(request);
        Box::pin(
            async move {
                let outcome = call.await;
                let code = match &outcome {
                    Ok(response) => status_of(response),
                    Err(_) => 2,
                };
                let call = Finished {
                    code,
                    error: is_server_error(code),
                    started,
                    service,
                    method,
                    component,
                };
                call.record(&instruments().rpc_server_duration);
                outcome
            }
            .instrument(span),
        )
    }
}

/// A client channel that opens a client span per call and sends its W3C context along, replacing any
/// `traceparent` already in the request (the gateway's caller's one is the parent of the gateway's
/// server span, not of the service's).
#[derive(Debug, Clone)]
pub struct ClientTelemetry<S> {
    inner: S,
    component: &'static str,
}

impl<S> ClientTelemetry<S> {
    /// Wraps `inner`; `component` names the caller in the span and metrics.
    pub fn new(inner: S, component: &'static str) -> Self {
        ClientTelemetry { inner, component }
    }
}

/// A tonic channel with client spans: what Haven components use to call each other.
pub type TracedChannel = ClientTelemetry<tonic::transport::Channel>;

impl<S, B, R> tower::Service<http::Request<B>> for ClientTelemetry<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<S::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let (service, method) = split_path(request.uri().path());
        let (service, method) = (service.to_owned(), method.to_owned());
        let span = tracing::info_span!(
            "grpc.client",
            otel.name = %format_args!("{service}/{method}"),
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            rpc.system = "grpc",
            rpc.service = %service,
            rpc.method = %method,
            rpc.grpc.status_code = tracing::field::Empty,
            haven.component = self.component,
        );
        let cx = span.context();
        let headers = request.headers_mut();
        headers.remove("traceparent");
        headers.remove("tracestate");
        TraceContextPropagator::new().inject_context(&cx, &mut HeaderInjector(headers));
        let component = self.component;
        let started = Instant::now();
        let call = inner.call(request);
        Box::pin(
            async move {
                let outcome = call.await;
                let code = match &outcome {
                    Ok(response) => status_of(response),
                    Err(_) => 14,
                };
                let call = Finished {
                    code,
                    error: code != 0,
                    started,
                    service,
                    method,
                    component,
                };
                call.record(&instruments().rpc_client_duration);
                outcome
            }
            .instrument(span),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_service_and_method() {
        assert_eq!(
            split_path("/haven.identity.v1.ChildIdentity/GetChild"),
            ("haven.identity.v1.ChildIdentity", "GetChild")
        );
        assert_eq!(split_path("/odd"), ("odd", ""));
        assert!(is_infrastructure("grpc.health.v1.Health"));
        assert!(!is_infrastructure("haven.learning.v1.LearningRecords"));
    }

    #[test]
    fn only_server_faults_mark_a_server_span_as_an_error() {
        for code in [0, 3, 5, 6, 7, 9, 16] {
            assert!(!is_server_error(code), "{code}");
        }
        for code in [2, 4, 13, 14] {
            assert!(is_server_error(code), "{code}");
        }
    }

    #[test]
    fn a_status_in_the_headers_is_read_and_none_means_ok() {
        let ok = http::Response::new(());
        assert_eq!(status_of(&ok), 0);
        let mut denied = http::Response::new(());
        denied
            .headers_mut()
            .insert("grpc-status", http::HeaderValue::from_static("7"));
        assert_eq!(status_of(&denied), 7);
    }
}
