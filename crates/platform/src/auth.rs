//! One authentication step for every gRPC server (the gateway and each service): a tower layer that
//! verifies the caller's bearer token from the request headers, before tonic reads or decodes the body,
//! and hands the verified principal to the handler through the request extensions.
//!
//! So a call without a valid token answers UNAUTHENTICATED whatever its body holds (a malformed body
//! from an anonymous caller never reaches the decoder), and a handler never verifies a token twice.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use haven_authz::{AuthError, Authenticator, Principal};
use tonic::{Request, Status};

/// Paths served without a token: health checks, reflection and the token endpoint itself.
pub const OPEN_PATHS: &[&str] = &[
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/haven.auth.v1.Tokens/",
    // A verifier anywhere checks revocation without an account; the list holds credential ids only.
    "/haven.learning.v1.LearningRecords/GetPassportStatusList",
];

/// What the layer learned about the caller, in the request's extensions for the handler.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Arc<Principal>,
    /// The full gRPC method path, `/haven.identity.v1.ChildIdentity/GetChild`.
    pub method: Arc<str>,
}

/// The status a failed authentication answers: UNAVAILABLE when revocation cannot be checked (the
/// caller may retry), UNAUTHENTICATED for everything else.
pub fn auth_status(error: AuthError) -> Status {
    match error {
        AuthError::Unavailable => Status::unavailable(error.to_string()),
        other => Status::unauthenticated(other.to_string()),
    }
}

/// Verifies the `authorization` header value; a value that is not visible ASCII is malformed.
pub async fn verify_header(
    auth: &Authenticator,
    header: Option<&http::HeaderValue>,
) -> Result<Arc<Principal>, Status> {
    let value = header
        .map(|value| value.to_str().map_err(|_| AuthError::Malformed))
        .transpose()
        .map_err(auth_status)?;
    auth.authenticate(value).await.map_err(auth_status)
}

/// The caller of a request: the principal the layer put there, or (for a server built without the
/// layer, such as a unit test calling a handler directly) the token in the metadata, verified now.
pub async fn caller<T>(
    auth: &Authenticator,
    request: &Request<T>,
) -> Result<Arc<Principal>, Status> {
    if let Some(caller) = request.extensions().get::<Caller>() {
        return Ok(caller.principal.clone());
    }
    let value = request
        .metadata()
        .get("authorization")
        .map(|value| value.to_str().map_err(|_| AuthError::Malformed))
        .transpose()
        .map_err(auth_status)?;
    auth.authenticate(value).await.map_err(auth_status)
}

/// The tower layer; see the module documentation.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    auth: Authenticator,
}

impl AuthLayer {
    pub fn new(auth: Authenticator) -> Self {
        AuthLayer { auth }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            auth: self.auth.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct AuthService<S> {
    inner: S,
    auth: Authenticator,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, B, R> tower::Service<http::Request<B>> for AuthService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
    R: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<S::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        // The clone that was polled ready serves this call; the fresh clone waits for the next one.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let path = request.uri().path();
        if OPEN_PATHS.iter().any(|open| path.starts_with(open)) {
            return Box::pin(inner.call(request));
        }
        let auth = self.auth.clone();
        Box::pin(async move {
            let method: Arc<str> = Arc::from(request.uri().path());
            let header = request.headers().get(http::header::AUTHORIZATION);
            match verify_header(&auth, header).await {
                Ok(principal) => {
                    request
                        .extensions_mut()
                        .insert(Caller { principal, method });
                    inner.call(request).await
                }
                Err(status) => {
                    tracing::info!(rpc = %method, reason = %status.message(), "unauthenticated call refused");
                    Ok(status.into_http())
                }
            }
        })
    }
}
