//! REST/JSON on the gateway's one port, from the contract: routes come from the `haven.common.v1.http`
//! annotations in the .proto files, one transcoder serves them all, and the OpenAPI document and docs
//! page are generated from the same descriptors.
//!
//! A request whose content type is not `application/grpc…` is REST. [`RestEdgeLayer`], the outermost
//! layer, finds its route (404 and 405 answer here, before any token is read), keeps what the path bound
//! in a [`RestCall`] extension and rewrites the request's path to the RPC's gRPC method path. From there
//! on the call is the RPC to every layer, as a gRPC client's would be: telemetry names it by method, the
//! auth layer checks its token (or lets an open RPC through), and [`Dispatch`] hands it to the
//! [`Transcoder`], which has the forwarder check it (rule table, rate limit) before reading the body,
//! builds the request message and has the forwarder send it to the owning service. On the way out the
//! layer turns a gRPC error answered before the transcoder (a missing or bad token) into problem+json.
//! It also serves the public `/v1/openapi.json` and `/v1/docs`, the well-known documents
//! ([`crate::well_known`]), and takes `POST /oauth2/token` to the token endpoint as its RPC
//! (`haven.auth.v1.Tokens/IssueToken`, see [`crate::oauth`]), all before REST routing would 404 them.
//!
//! gRPC-Web (`application/grpc-web`, binary, and `application/grpc-web-text`, base64; over HTTP/1.1 or
//! HTTP/2) is translated to gRPC here, by `tonic-web`, before every other layer: from there on it is a
//! gRPC call, with the same authentication, rule table, rate limit and telemetry, forwarded unread.
//! Browsers of the origins in `gateway.cors.allowed_origins` get their preflights answered here,
//! without a token, and CORS headers on every answer ([`crate::cors`]).
//!
//! An annotation binds RPCs of the forwarded services only: a route to a service the gateway serves
//! itself (`haven.auth.v1.Tokens`) would reach that service with a JSON body.

pub mod conditional;
pub mod openapi;
pub mod problem;
pub mod routes;
pub mod transcode;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use tonic::body::Body;
use tower::Layer as _;

pub use routes::{RouteError, RouteTable};
pub use transcode::Transcoder;

use crate::cors::Cors;
use crate::forward::Forwarder;
use crate::oauth::{ISSUE_TOKEN_PATH, OAuthTokenCall, TOKEN_PATH};
use crate::well_known::WellKnown;

/// The public path of the OpenAPI document.
pub const OPENAPI_PATH: &str = "/v1/openapi.json";
/// The public path of the docs page.
pub const DOCS_PATH: &str = "/v1/docs";

/// Whether a request is gRPC-Web (binary or text) by its content type.
pub fn is_grpc_web<B>(request: &http::Request<B>) -> bool {
    request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc-web"))
}

/// Whether a request is gRPC (or gRPC-Web) by its content type; anything else is REST.
pub fn is_grpc<B>(request: &http::Request<B>) -> bool {
    request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"))
}

/// What [`RestEdgeLayer`] learned of a REST request before rewriting its path: the route (its index in
/// the table), the values its path variables bound, and the path as the client sent it.
#[derive(Debug, Clone)]
pub struct RestCall {
    pub route: usize,
    pub bound: Vec<(routes::FieldPath, String)>,
    pub path: String,
}

/// Response headers that carry a REST call's gRPC status to the telemetry layer; the edge removes
/// them before the answer leaves.
const STATUS_HEADERS: &[&str] = &["grpc-status", "grpc-message", "grpc-status-details-bin"];

/// The gateway's fallback service: gRPC calls to the forwarder, REST calls (marked by the edge) to the
/// transcoder.
#[derive(Debug, Clone)]
pub struct Dispatch {
    pub forwarder: Forwarder,
    pub transcoder: Transcoder,
}

impl<B> tower::Service<http::Request<B>> for Dispatch
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<tonic::codegen::StdError>,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.extensions().get::<RestCall>().is_none() {
            let mut forwarder = self.forwarder.clone();
            Box::pin(async move { forwarder.call(request).await })
        } else {
            let transcoder = self.transcoder.clone();
            Box::pin(async move { Ok(transcoder.serve(request).await) })
        }
    }
}

/// The generated documents, made once at startup.
#[derive(Debug, Clone)]
pub struct Docs {
    openapi: Bytes,
    page: Bytes,
}

impl Docs {
    pub fn new(table: &RouteTable) -> Self {
        Docs {
            openapi: Bytes::from(openapi::document_text(table)),
            page: Bytes::from(openapi::docs_page(table)),
        }
    }

    fn answer(&self, path: &str, method: &http::Method) -> Option<http::Response<Body>> {
        let (body, content_type) = match path {
            OPENAPI_PATH => (self.openapi.clone(), "application/json"),
            DOCS_PATH => (self.page.clone(), "text/html; charset=utf-8"),
            _ => return None,
        };
        if method != http::Method::GET && method != http::Method::HEAD {
            let mut response = problem::method_not_allowed(method, path);
            response.headers_mut().insert(
                http::header::ALLOW,
                http::HeaderValue::from_static("GET, HEAD"),
            );
            return Some(response);
        }
        let body = if method == http::Method::HEAD {
            Bytes::new()
        } else {
            body
        };
        let mut response = http::Response::new(Body::new(http_body_util::Full::new(body)));
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(content_type),
        );
        headers.insert(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("public, max-age=300"),
        );
        Some(response)
    }
}

/// See the module documentation: REST routing before the other layers, public documents, and
/// problem+json for REST callers refused before the transcoder.
#[derive(Debug, Clone)]
pub struct RestEdgeLayer {
    docs: Arc<Docs>,
    table: Arc<RouteTable>,
    well_known: Arc<WellKnown>,
    cors: Arc<Cors>,
}

impl RestEdgeLayer {
    pub fn new(table: Arc<RouteTable>, well_known: WellKnown, cors: Cors) -> Self {
        RestEdgeLayer {
            docs: Arc::new(Docs::new(&table)),
            table,
            well_known: Arc::new(well_known),
            cors: Arc::new(cors),
        }
    }
}

impl<S> tower::Layer<S> for RestEdgeLayer {
    type Service = RestEdge<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RestEdge {
            inner,
            docs: self.docs.clone(),
            table: self.table.clone(),
            well_known: self.well_known.clone(),
            cors: self.cors.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RestEdge<S> {
    inner: S,
    docs: Arc<Docs>,
    table: Arc<RouteTable>,
    well_known: Arc<WellKnown>,
    cors: Arc<Cors>,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S> RestEdge<S> {
    /// Marks a REST request with its route and gives it the RPC's path; or the answer, when the
    /// request ends here (a document, no such route, a method the path does not serve).
    fn route<B>(&self, request: &mut http::Request<B>) -> Option<http::Response<Body>> {
        let path = request.uri().path().to_owned();
        if let Some(response) = self.docs.answer(&path, request.method()) {
            return Some(response);
        }
        if let Some(response) = self.well_known.answer(request) {
            return Some(response);
        }
        let (index, bound) = match self.table.find(request.method(), &path) {
            routes::Found::Route(index, bound) => (index, bound),
            routes::Found::WrongMethod(allowed) => {
                let mut response = problem::method_not_allowed(request.method(), &path);
                let allow = allowed
                    .iter()
                    .map(http::Method::as_str)
                    .collect::<Vec<_>>()
                    .join(", ");
                if let Ok(value) = http::HeaderValue::from_str(&allow) {
                    response.headers_mut().insert(http::header::ALLOW, value);
                }
                return Some(response);
            }
            routes::Found::NotFound => {
                return Some(problem::problem_response(&tonic::Status::not_found(
                    format!("no REST route {path}"),
                )));
            }
        };
        let route = &self.table.routes[index];
        let mut target = route.grpc_path.clone();
        if let Some(query) = request.uri().query() {
            target.push('?');
            target.push_str(query);
        }
        let Ok(uri) = http::Uri::try_from(target) else {
            return Some(problem::problem_response(&tonic::Status::invalid_argument(
                "malformed query string",
            )));
        };
        *request.uri_mut() = uri;
        request.extensions_mut().insert(RestCall {
            route: index,
            bound,
            path,
        });
        None
    }
}

impl<S, R> tower::Service<http::Request<Body>> for RestEdge<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    R: http_body::Body<Data = Bytes> + Send + 'static,
    R::Error: Into<tonic::codegen::StdError> + std::fmt::Display,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<http::Response<Body>, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let cors = self.cors.clone();
        let origin = request.headers().get(http::header::ORIGIN).cloned();
        if let Some(response) = cors.preflight(&request) {
            return Box::pin(async move { Ok(response) });
        }
        if is_grpc_web(&request) {
            // Translated to gRPC on the way in and back on the way out; every layer after this one
            // sees a gRPC call.
            // tonic-web 0.14 hands on the size of the base64 text as the size of the decoded body;
            // forwarded over HTTP/2 that would become a content-length the body never reaches. A gRPC
            // body is framed, so its size is dropped here rather than corrected.
            let unsized_body = tower::util::MapRequestLayer::new(|call: http::Request<Body>| {
                call.map(|body| {
                    Body::new(http_body_util::StreamBody::new(
                        http_body_util::BodyStream::new(body),
                    ))
                })
            });
            let mut web = tonic_web::GrpcWebLayer::new().layer(unsized_body.layer(inner));
            return Box::pin(async move {
                let mut response = web.call(request).await?;
                cors.decorate(origin.as_ref(), &mut response);
                Ok(response)
            });
        }
        if is_grpc(&request) {
            return Box::pin(async move { Ok(inner.call(request).await?.map(Body::new)) });
        }
        if request.uri().path() == TOKEN_PATH {
            *request.uri_mut() = http::Uri::from_static(ISSUE_TOKEN_PATH);
            request.extensions_mut().insert(OAuthTokenCall);
            return Box::pin(async move {
                let mut response = inner.call(request).await?.map(Body::new);
                for name in STATUS_HEADERS {
                    response.headers_mut().remove(*name);
                }
                cors.decorate(origin.as_ref(), &mut response);
                Ok(response)
            });
        }
        if let Some(mut response) = self.route(&mut request) {
            cors.decorate(origin.as_ref(), &mut response);
            return Box::pin(async move { Ok(response) });
        }
        Box::pin(async move {
            let mut response = inner.call(request).await?;
            let answered = response
                .headers()
                .get(http::header::CONTENT_TYPE)
                .is_some_and(|v| {
                    v.as_bytes().starts_with(b"application/")
                        && !v.as_bytes().starts_with(b"application/grpc")
                });
            if !answered
                && let Some(status) = tonic::Status::from_header_map(response.headers())
                && status.code() != tonic::Code::Ok
            {
                let mut response = problem::problem_response(&status);
                cors.decorate(origin.as_ref(), &mut response);
                return Ok(response);
            }
            for name in STATUS_HEADERS {
                response.headers_mut().remove(*name);
            }
            let mut response = response.map(Body::new);
            cors.decorate(origin.as_ref(), &mut response);
            Ok(response)
        })
    }
}
