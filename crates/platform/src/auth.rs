//! One authentication step for every gRPC server (the gateway and each service): a tower layer that
//! verifies the caller's bearer token from the request headers, before tonic reads or decodes the body,
//! and hands the verified principal to the handler through the request extensions.
//!
//! So a call without a valid token answers UNAUTHENTICATED whatever its body holds (a malformed body
//! from an anonymous caller never reaches the decoder), and a handler never verifies a token twice.
//!
//! At a service the layer also applies the coarse rule table ([`RuleTable`]), the same one the gateway
//! checks, so a handler starts from a caller whose roles could ever be allowed the RPC and decides per
//! record only.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use haven_authz::{
    AuthError, Authenticator, Door, Policy, Principal, RuleTable, Verdict, method_name,
};
use tonic::{Request, Status};

/// Paths served without a token: health checks, reflection and the token endpoint itself.
pub const OPEN_PATHS: &[&str] = &[
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/haven.auth.v1.Tokens/",
    // A verifier anywhere checks revocation without an account; the list holds credential ids only.
    "/haven.learning.v1.LearningRecords/GetPassportStatusList",
    "/haven.learning.v1.LearningRecords/GetAlignmentTarget",
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

/// The coarse check of one call against the rule table: PERMISSION_DENIED when no record could ever
/// allow the caller's roles the RPC, UNIMPLEMENTED for a method the table does not know (an RPC nobody
/// wrote a rule for is never open).
pub fn admit(
    rules: &RuleTable,
    policy: &Policy,
    principal: &Principal,
    method_path: &str,
    door: Door,
) -> Result<(), Status> {
    match rules.verdict(policy, principal, method_path, door) {
        Verdict::Allowed => Ok(()),
        Verdict::Unknown => Err(Status::unimplemented(format!(
            "no method {}",
            method_name(method_path)
        ))),
        Verdict::Denied => {
            tracing::warn!(
                rpc = method_name(method_path),
                sub = %principal.sub,
                agency = %principal.agency,
                ?door,
                "call denied: no role of the caller may use this rpc"
            );
            Err(Status::permission_denied(format!(
                "your role may not call {}",
                method_name(method_path)
            )))
        }
    }
}

/// The rule table and policy a service checks each call against, after authentication.
#[derive(Debug, Clone)]
struct Rules {
    table: Arc<RuleTable>,
    policy: Arc<Policy>,
}

/// The tower layer; see the module documentation.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    auth: Authenticator,
    rules: Option<Rules>,
}

impl AuthLayer {
    /// Authentication only: the gateway, which checks the rule table itself before rate limiting.
    pub fn new(auth: Authenticator) -> Self {
        AuthLayer { auth, rules: None }
    }

    /// Authentication and the coarse rule check, for a service that owns the methods in `table`.
    pub fn for_service(auth: Authenticator, table: Arc<RuleTable>, policy: Arc<Policy>) -> Self {
        AuthLayer {
            auth,
            rules: Some(Rules { table, policy }),
        }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            auth: self.auth.clone(),
            rules: self.rules.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct AuthService<S> {
    inner: S,
    auth: Authenticator,
    rules: Option<Rules>,
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
        let rules = self.rules.clone();
        Box::pin(async move {
            let method: Arc<str> = Arc::from(request.uri().path());
            let header = request.headers().get(http::header::AUTHORIZATION);
            match verify_header(&auth, header).await {
                Ok(principal) => {
                    if let Some(rules) = &rules
                        && let Err(status) = admit(
                            &rules.table,
                            &rules.policy,
                            &principal,
                            &method,
                            Door::Service,
                        )
                    {
                        return Ok(status.into_http());
                    }
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
