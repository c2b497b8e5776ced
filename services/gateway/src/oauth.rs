//! `POST /oauth2/token`: the client-credentials grant over HTTP (RFC 6749 §4.4), for stock OAuth2
//! libraries, which cannot speak gRPC. It is a second door to the same endpoint, not a second endpoint:
//! the edge marks the request [`OAuthTokenCall`] and gives it the path of
//! `haven.auth.v1.Tokens/IssueToken`, so telemetry and the auth layer see the RPC a gRPC client calls;
//! [`TokenDoor`], mounted where `Tokens` is, reads the form and calls the same
//! [`TokenEndpoint::grant`](crate::TokenEndpoint) with its registry, secret check and limits.
//!
//! The client authenticates with `client_secret_basic` (RFC 6749 §2.3.1: id and secret form-urlencoded,
//! then Basic) or `client_secret_post` (`client_id` and `client_secret` in the form), never both.
//! `scope`, optional, names roles of the client's, narrowing the token to them. Answers follow §5.1
//! and §5.2; a limited caller gets 429 with `Retry-After`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use base64::Engine as _;
use bytes::Bytes;
use haven_proto::auth::tokens_server::TokensServer;
use http_body_util::BodyExt as _;
use serde_json::json;
use tonic::body::Body;
use tonic::server::NamedService;

use crate::tokens::{Refusal, TokenEndpoint, http_caller_address};

/// The public path of the token endpoint.
pub const TOKEN_PATH: &str = "/oauth2/token";
/// The RPC the token endpoint's HTTP door is, to every layer after the edge.
pub const ISSUE_TOKEN_PATH: &str = "/haven.auth.v1.Tokens/IssueToken";
/// The largest form the token endpoint reads: a client id, a secret and a scope fit many times over.
pub const MAX_FORM_BYTES: usize = 4 * 1024;

/// Marks a request the edge took at [`TOKEN_PATH`], for [`TokenDoor`].
#[derive(Debug, Clone, Copy)]
pub struct OAuthTokenCall;

/// `haven.auth.v1.Tokens` on the gateway: gRPC calls to the generated server, HTTP form posts marked
/// [`OAuthTokenCall`] to [`serve_form`]; both end in the same [`TokenEndpoint`].
#[derive(Debug, Clone)]
pub struct TokenDoor {
    endpoint: TokenEndpoint,
    grpc: TokensServer<TokenEndpoint>,
}

impl TokenDoor {
    pub fn new(endpoint: TokenEndpoint) -> Self {
        TokenDoor {
            grpc: TokensServer::new(endpoint.clone()),
            endpoint,
        }
    }
}

impl NamedService for TokenDoor {
    const NAME: &'static str = <TokensServer<TokenEndpoint> as NamedService>::NAME;
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = Result<T, Infallible>> + Send>>;

impl tower::Service<http::Request<Body>> for TokenDoor {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<http::Response<Body>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        if request.extensions().get::<OAuthTokenCall>().is_some() {
            let endpoint = self.endpoint.clone();
            return Box::pin(async move { Ok(serve_form(&endpoint, request).await) });
        }
        let mut grpc = self.grpc.clone();
        Box::pin(async move { tower::Service::call(&mut grpc, request).await })
    }
}

/// An OAuth2 error answer (RFC 6749 §5.2), with the gRPC code the same refusal has at the gRPC door in
/// `grpc-status`, for telemetry (the edge removes it).
#[derive(Debug)]
struct OAuthError {
    http_status: u16,
    error: &'static str,
    description: String,
    code: tonic::Code,
    /// `WWW-Authenticate: Basic`, owed when the client tried Basic and failed.
    challenge: bool,
    retry_after_secs: Option<u32>,
}

impl OAuthError {
    fn invalid_request(description: impl Into<String>) -> Self {
        OAuthError {
            http_status: 400,
            error: "invalid_request",
            description: description.into(),
            code: tonic::Code::InvalidArgument,
            challenge: false,
            retry_after_secs: None,
        }
    }

    /// Client authentication failed or was missing: 401 with a Basic challenge when the client used
    /// Basic or sent nothing, else 400 (a 401 must carry a challenge, and the client did not use one).
    fn invalid_client(description: &str, challenge: bool) -> Self {
        OAuthError {
            http_status: if challenge { 401 } else { 400 },
            error: "invalid_client",
            description: description.into(),
            code: tonic::Code::Unauthenticated,
            challenge,
            retry_after_secs: None,
        }
    }

    fn from_refusal(refusal: Refusal, used_basic: bool) -> Self {
        let code = tonic::Status::from(refusal.clone()).code();
        let retry_after_secs = refusal.retry_after_secs();
        let (http_status, error, description) = match refusal {
            Refusal::Malformed(message) => (400, "invalid_request", message.to_owned()),
            Refusal::BadClient => {
                return OAuthError::invalid_client("invalid client id or secret", used_basic);
            }
            Refusal::Unauthorized => (
                400,
                "unauthorized_client",
                "the client holds no role; its registration is suspended".to_owned(),
            ),
            Refusal::Scope => (
                400,
                "invalid_scope",
                "scope: names a role the client does not hold".to_owned(),
            ),
            // RFC 6749 has no code for a limit; this one says "later", and 429 with Retry-After says when.
            Refusal::Throttled => (
                429,
                "temporarily_unavailable",
                "too many failed token requests; retry later".to_owned(),
            ),
            Refusal::TooManyTokens => (
                429,
                "temporarily_unavailable",
                "too many token requests; retry later".to_owned(),
            ),
            Refusal::Internal => (500, "server_error", "internal error".to_owned()),
        };
        OAuthError {
            http_status,
            error,
            description,
            code,
            challenge: false,
            retry_after_secs,
        }
    }

    fn response(&self) -> http::Response<Body> {
        let body = json!({ "error": self.error, "error_description": self.description });
        let mut response = json_response(self.http_status, &body, self.code);
        let headers = response.headers_mut();
        if self.challenge {
            headers.insert(
                http::header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Basic realm=\"haven\", charset=\"UTF-8\""),
            );
        }
        if let Some(secs) = self.retry_after_secs {
            headers.insert(http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

/// A JSON answer that no cache may keep (RFC 6749 §5.1 for tokens; errors alike).
fn json_response(status: u16, body: &serde_json::Value, code: tonic::Code) -> http::Response<Body> {
    let mut response = http::Response::new(Body::new(http_body_util::Full::new(Bytes::from(
        body.to_string(),
    ))));
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    headers.insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    headers.insert(
        http::header::PRAGMA,
        http::HeaderValue::from_static("no-cache"),
    );
    headers.insert("grpc-status", (code as i32).into());
    response
}

/// The parameters of a token request's form. Each may appear once (RFC 6749 §3.2).
#[derive(Debug, Default, PartialEq, Eq)]
struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
}

impl TokenForm {
    fn parse(body: &[u8]) -> Result<Self, String> {
        let mut form = TokenForm::default();
        for (name, value) in form_urlencoded::parse(body) {
            let slot = match name.as_ref() {
                "grant_type" => &mut form.grant_type,
                "client_id" => &mut form.client_id,
                "client_secret" => &mut form.client_secret,
                "scope" => &mut form.scope,
                // Parameters the endpoint does not know are ignored (RFC 6749 §3.2).
                _ => continue,
            };
            if slot.is_some() {
                return Err(format!("{name}: given more than once"));
            }
            *slot = Some(value.into_owned());
        }
        Ok(form)
    }
}

/// The id and secret of a `Basic` Authorization header, each form-urlencoded (RFC 6749 §2.3.1).
/// `Ok(None)`: no Authorization header.
fn basic_credentials(headers: &http::HeaderMap) -> Result<Option<(String, String)>, &'static str> {
    let Some(value) = headers.get(http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = "authorization: not Basic credentials (base64 of client_id:client_secret)";
    let text = value.to_str().map_err(|_| malformed)?;
    let (scheme, encoded) = text.trim().split_once(' ').ok_or(malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err("authorization: the token endpoint takes Basic client credentials only");
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| malformed)?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed)?;
    let (id, secret) = decoded.split_once(':').ok_or(malformed)?;
    Ok(Some((form_decode(id), form_decode(secret))))
}

/// One form-urlencoded value decoded: `+` is a space, `%XX` a byte, anything else itself (so a value
/// a client encoded by hand, leaving `&` or `=` as they are, keeps them). Bytes that are not UTF-8 turn
/// into U+FFFD, which matches no registered id or secret.
fn form_decode(text: &str) -> String {
    let hex = |byte: u8| char::from(byte).to_digit(16);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', high, low]) => hex(*high).zip(hex(*low)),
            _ => None,
        };
        match (bytes[i], escaped) {
            (_, Some((high, low))) => {
                out.push((high * 16 + low) as u8);
                i += 3;
                continue;
            }
            (b'+', None) => out.push(b' '),
            (byte, None) => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn is_form(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| {
            essence
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Answers one token request posted as a form.
pub async fn serve_form(
    endpoint: &TokenEndpoint,
    request: http::Request<Body>,
) -> http::Response<Body> {
    match grant_form(endpoint, request).await {
        Ok(response) => response,
        Err(error) => error.response(),
    }
}

async fn grant_form(
    endpoint: &TokenEndpoint,
    request: http::Request<Body>,
) -> Result<http::Response<Body>, OAuthError> {
    let (parts, body) = request.into_parts();
    if parts.method != http::Method::POST {
        let mut refused = OAuthError::invalid_request("the token endpoint takes POST only");
        refused.http_status = 405;
        let mut response = refused.response();
        response
            .headers_mut()
            .insert(http::header::ALLOW, http::HeaderValue::from_static("POST"));
        return Ok(response);
    }
    if !is_form(&parts.headers) {
        return Err(OAuthError::invalid_request(
            "content-type: must be application/x-www-form-urlencoded",
        ));
    }
    let body = match http_body_util::Limited::new(body, MAX_FORM_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let mut refused = OAuthError::invalid_request(format!(
                "the request body is larger than {MAX_FORM_BYTES} bytes"
            ));
            refused.http_status = 413;
            return Err(refused);
        }
    };
    let form = TokenForm::parse(&body).map_err(OAuthError::invalid_request)?;
    let basic = basic_credentials(&parts.headers).map_err(OAuthError::invalid_request)?;
    let used_basic = basic.is_some();
    match form.grant_type.as_deref() {
        None => return Err(OAuthError::invalid_request("grant_type: missing")),
        Some("client_credentials") => {}
        Some(_) => {
            return Err(OAuthError {
                http_status: 400,
                error: "unsupported_grant_type",
                description: "grant_type: only client_credentials is served".into(),
                code: tonic::Code::InvalidArgument,
                challenge: false,
                retry_after_secs: None,
            });
        }
    }
    let (client_id, client_secret) = match (basic, form.client_secret) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_request(
                "client authentication: use the Authorization header or client_secret, not both",
            ));
        }
        (Some((id, secret)), None) => {
            if form.client_id.as_ref().is_some_and(|named| *named != id) {
                return Err(OAuthError::invalid_request(
                    "client_id: differs from the client the Authorization header names",
                ));
            }
            (id, secret)
        }
        (None, Some(secret)) => {
            let Some(id) = form.client_id else {
                return Err(OAuthError::invalid_request(
                    "client_id: missing beside client_secret",
                ));
            };
            (id, secret)
        }
        (None, None) => {
            return Err(OAuthError::invalid_client(
                "client authentication is required (Basic, or client_id and client_secret)",
                true,
            ));
        }
    };
    let scope: Option<Vec<String>> = form
        .scope
        .as_deref()
        .map(|s| {
            s.split_ascii_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|roles| !roles.is_empty());
    let address = http_caller_address(
        &parts.headers,
        &parts.extensions,
        endpoint.trusted_proxy_header(),
    );
    let grant = endpoint
        .grant(&address, &client_id, &client_secret, scope.as_deref())
        .await
        .map_err(|refusal| OAuthError::from_refusal(refusal, used_basic))?;
    let body = json!({
        "access_token": grant.access_token,
        "token_type": "Bearer",
        "expires_in": grant.expires_in,
        "scope": grant.roles.join(" "),
    });
    Ok(json_response(200, &body, tonic::Code::Ok))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(raw: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        let value = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        );
        headers.insert(
            http::header::AUTHORIZATION,
            value.parse().expect("header value"),
        );
        headers
    }

    #[test]
    fn basic_credentials_are_form_decoded_after_base64() {
        assert_eq!(
            basic_credentials(&basic("ngo%3Aapp:s%2Bcr+t%25")).expect("parses"),
            Some(("ngo:app".into(), "s+cr t%".into())),
            "a colon in the id is encoded, so the first raw colon separates"
        );
        assert_eq!(
            basic_credentials(&basic("a&b=c:x")).expect("parses"),
            Some(("a&b=c".into(), "x".into())),
            "a value left unencoded by hand keeps its & and ="
        );
        assert!(basic_credentials(&basic("no-colon")).is_err());
        let mut bearer = http::HeaderMap::new();
        bearer.insert(
            http::header::AUTHORIZATION,
            "Bearer abc".parse().expect("value"),
        );
        assert!(basic_credentials(&bearer).is_err());
        assert_eq!(basic_credentials(&http::HeaderMap::new()), Ok(None));
    }

    #[test]
    fn a_parameter_given_twice_is_refused() {
        assert!(
            TokenForm::parse(b"grant_type=client_credentials&client_id=a&client_id=b").is_err()
        );
        let form = TokenForm::parse(b"grant_type=client_credentials&scope=partner&other=1")
            .expect("parses");
        assert_eq!(form.scope.as_deref(), Some("partner"));
        assert_eq!(form.client_id, None);
    }

    #[test]
    fn only_the_form_content_type_is_read() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded; charset=UTF-8"
                .parse()
                .expect("value"),
        );
        assert!(is_form(&headers));
        headers.insert(
            http::header::CONTENT_TYPE,
            "application/json".parse().expect("value"),
        );
        assert!(!is_form(&headers));
    }
}
