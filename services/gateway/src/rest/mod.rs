//! REST/JSON on the gateway's one port, from the contract: routes come from the `haven.common.v1.http`
//! annotations in the .proto files, one transcoder serves them all, and the OpenAPI document and docs
//! page are generated from the same descriptors.
//!
//! A request whose content type is not `application/grpc…` is REST. It passes the same auth layer as a
//! gRPC call, then [`Transcoder`] turns it into the RPC and hands it to the same forwarder (rule table,
//! rate limit, owning service). [`RestEdgeLayer`] sits outside the auth layer: it serves the public
//! `/v1/openapi.json` and `/v1/docs`, and turns the gRPC errors that layers before the transcoder answer
//! (a missing or bad token) into problem+json for REST callers.

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

pub use routes::{RouteError, RouteTable};
pub use transcode::Transcoder;

use crate::forward::Forwarder;

/// The public path of the OpenAPI document.
pub const OPENAPI_PATH: &str = "/v1/openapi.json";
/// The public path of the docs page.
pub const DOCS_PATH: &str = "/v1/docs";

/// Whether a request is gRPC (or gRPC-Web) by its content type; anything else is REST.
pub fn is_grpc<B>(request: &http::Request<B>) -> bool {
    request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"))
}

/// The gateway's fallback service: gRPC calls to the forwarder, REST calls to the transcoder.
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
        if is_grpc(&request) {
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

/// See the module documentation: public documents, and problem+json for REST callers refused before the
/// transcoder.
#[derive(Debug, Clone)]
pub struct RestEdgeLayer {
    docs: Arc<Docs>,
}

impl RestEdgeLayer {
    pub fn new(docs: Docs) -> Self {
        RestEdgeLayer {
            docs: Arc::new(docs),
        }
    }
}

impl<S> tower::Layer<S> for RestEdgeLayer {
    type Service = RestEdge<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RestEdge {
            inner,
            docs: self.docs.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RestEdge<S> {
    inner: S,
    docs: Arc<Docs>,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, B, R> tower::Service<http::Request<B>> for RestEdge<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
    R: http_body::Body<Data = Bytes> + Send + 'static,
    R::Error: Into<tonic::codegen::StdError>,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<http::Response<Body>, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let grpc = is_grpc(&request);
        if !grpc && let Some(response) = self.docs.answer(request.uri().path(), request.method()) {
            return Box::pin(async move { Ok(response) });
        }
        Box::pin(async move {
            let response = inner.call(request).await?;
            if !grpc
                && response.headers().contains_key("grpc-status")
                && let Some(status) = tonic::Status::from_header_map(response.headers())
                && status.code() != tonic::Code::Ok
            {
                return Ok(problem::problem_response(&status));
            }
            Ok(response.map(Body::new))
        })
    }
}
