//! The gateway's public face for every service RPC: the auth layer (haven_platform::auth) has verified
//! the caller; here the call is checked against the rule table (haven_authz::RuleTable), rate limited,
//! and its HTTP/2 request forwarded as it came, body unread, to the service that owns the method's
//! path prefix. Nothing here knows an RPC by name: a new RPC needs a rule, not a gateway change.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use haven_authz::{Door, Policy, RuleTable, method_name};
use haven_platform::auth::{Caller, OPEN_PATHS, admit};
use haven_platform::telemetry::grpc::{ClientTelemetry, TracedChannel};
use tonic::Status;
use tonic::body::Body;
use tonic::transport::Channel;
use tower::Service as _;

use crate::limiter::RateLimiter;

/// Request headers a service receives: the caller's token and what gRPC itself needs. Trace context is
/// not copied: the traced channel sends the gateway's own client span as the service's parent.
const FORWARDED_REQUEST: &[&str] = &[
    "authorization",
    "content-type",
    "te",
    "grpc-encoding",
    "grpc-accept-encoding",
];

/// Response headers a caller receives: the status and what gRPC needs; service metadata stays inside.
const FORWARDED_RESPONSE: &[&str] = &[
    "content-type",
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
    "grpc-encoding",
    "grpc-accept-encoding",
];

/// One upstream: every method whose path starts with `prefix` (`/haven.identity.v1.`) goes to `channel`.
#[derive(Debug, Clone)]
pub struct Route {
    pub prefix: String,
    pub channel: Channel,
}

#[derive(Debug, Clone)]
pub struct Forwarder {
    routes: Arc<[(String, TracedChannel)]>,
    policy: Arc<Policy>,
    rules: Arc<RuleTable>,
    limiter: RateLimiter,
    timeout: Duration,
}

impl Forwarder {
    pub fn new(
        routes: Vec<Route>,
        policy: Arc<Policy>,
        rules: Arc<RuleTable>,
        limiter: RateLimiter,
        timeout: Duration,
    ) -> Self {
        let routes = routes
            .into_iter()
            .map(|r| (r.prefix, ClientTelemetry::new(r.channel, "gateway")))
            .collect::<Vec<_>>()
            .into();
        Forwarder {
            routes,
            policy,
            rules,
            limiter,
            timeout,
        }
    }

    fn upstream(&self, path: &str) -> Option<TracedChannel> {
        self.routes
            .iter()
            .find(|(prefix, _)| path.starts_with(prefix.as_str()))
            .map(|(_, channel)| channel.clone())
    }

    /// The coarse check: the rule table, then the caller's rate limit. Open paths pass unchecked.
    async fn admit(&self, path: &str, caller: Option<&Caller>) -> Result<(), Status> {
        if OPEN_PATHS.iter().any(|open| path.starts_with(open)) {
            return Ok(());
        }
        let Some(caller) = caller else {
            // The auth layer runs before this service on every path that is not open.
            return Err(Status::unauthenticated("missing bearer token"));
        };
        let principal = &caller.principal;
        admit(&self.rules, &self.policy, principal, path, Door::Gateway)?;
        if !self
            .limiter
            .allow(&format!("{}/{}", principal.agency, principal.sub))
            .await
        {
            return Err(Status::resource_exhausted(
                "rate limit exceeded; retry later",
            ));
        }
        Ok(())
    }

    /// Every check a call passes before it is sent: a service serves the method, the rule table, the
    /// caller's rate limit. The REST transcoder runs it before it reads the body, as gRPC does.
    pub(crate) async fn check(&self, path: &str, caller: Option<&Caller>) -> Result<(), Status> {
        if self.upstream(path).is_none() {
            return Err(Status::unimplemented(format!("no service serves {path}")));
        }
        self.admit(path, caller).await
    }

    async fn forward<B>(self, request: http::Request<B>) -> http::Response<Body>
    where
        B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<tonic::codegen::StdError>,
    {
        let path = request.uri().path().to_owned();
        if let Err(status) = self
            .check(&path, request.extensions().get::<Caller>())
            .await
        {
            return status.into_http();
        }
        self.send(request).await
    }

    /// Sends a call that passed [`Forwarder::check`] to its service, as it came.
    pub(crate) async fn send<B>(self, request: http::Request<B>) -> http::Response<Body>
    where
        B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<tonic::codegen::StdError>,
    {
        let path = request.uri().path().to_owned();
        let Some(mut upstream) = self.upstream(&path) else {
            return Status::unimplemented(format!("no service serves {path}")).into_http();
        };
        let (parts, body) = request.into_parts();
        let mut outgoing = http::Request::new(Body::new(body));
        *outgoing.method_mut() = http::Method::POST;
        *outgoing.uri_mut() = parts
            .uri
            .path_and_query()
            .map(|pq| http::Uri::from(pq.clone()))
            .unwrap_or_default();
        // The services speak gRPC over HTTP/2 whatever the caller used to reach the gateway.
        *outgoing.version_mut() = http::Version::HTTP_2;
        let open = OPEN_PATHS.iter().any(|p| path.starts_with(p));
        for name in FORWARDED_REQUEST {
            if open && *name == "authorization" {
                continue;
            }
            for value in parts.headers.get_all(*name) {
                outgoing.headers_mut().append(*name, value.clone());
            }
        }
        outgoing.headers_mut().insert(
            "grpc-timeout",
            http::HeaderValue::from_str(&format!("{}m", self.timeout.as_millis()))
                .unwrap_or_else(|_| http::HeaderValue::from_static("30S")),
        );
        let answer = match std::future::poll_fn(|cx| upstream.poll_ready(cx)).await {
            Ok(()) => upstream.call(outgoing).await,
            Err(error) => Err(error),
        };
        match answer {
            Ok(response) => {
                let (mut parts, body) = response.into_parts();
                let headers = std::mem::take(&mut parts.headers);
                for name in FORWARDED_RESPONSE {
                    for value in headers.get_all(*name) {
                        parts.headers.append(*name, value.clone());
                    }
                }
                http::Response::from_parts(parts, body)
            }
            Err(error) => {
                tracing::warn!(rpc = method_name(&path), %error, "service unreachable");
                Status::unavailable(format!("{} is unavailable", service_of(&path))).into_http()
            }
        }
    }
}

/// `/haven.identity.v1.ChildIdentity/GetChild` -> `haven.identity.v1.ChildIdentity`.
fn service_of(path: &str) -> &str {
    path.trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("the service")
}

impl<B> tower::Service<http::Request<B>> for Forwarder
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<tonic::codegen::StdError>,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { Ok(this.forward(request).await) })
    }
}
