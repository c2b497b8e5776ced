//! Public documents at well-known URLs, served without a token and cacheable: the keys that verify
//! Haven's access tokens (`/.well-known/jwks.json`, the JWKS the auth layer verifies against) and the
//! OAuth2 authorization server metadata (RFC 8414, `/.well-known/oauth-authorization-server`), which
//! tells a stock OAuth2 library where the token endpoint and the keys are.
//!
//! The metadata's URLs come from the deployment's public base URL (`gateway.public_url`). Without one,
//! only the embedded default names them after the request's `Host`: a Host header is whatever the caller
//! wrote, and a deployment behind a shared cache would hand one caller's URLs to all. A deployment
//! without a public URL answers 404 there, naming the key to set.

use bytes::Bytes;
use serde_json::{Value, json};
use tonic::body::Body;

use crate::oauth::TOKEN_PATH;
use crate::rest::{DOCS_PATH, problem};

/// The public path of the token-verifying keys.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";
/// The public path of the OAuth2 authorization server metadata.
pub const METADATA_PATH: &str = "/.well-known/oauth-authorization-server";
/// How long a cache may keep either document, in seconds. A rotated key is published beside the old
/// one for longer than this before tokens are signed with it.
pub const MAX_AGE_SECS: u32 = 300;

/// The members of a JWK that describe a public key. Anything else in the file (a private member such as
/// `d`, `p`, `q` or `k`, put there by mistake) is never published.
const PUBLIC_JWK_MEMBERS: &[&str] = &[
    "kty", "use", "key_ops", "alg", "kid", "crv", "x", "y", "n", "e",
];

#[derive(Debug, thiserror::Error)]
pub enum WellKnownError {
    #[error("the trusted JWKS is not a JWKS document: {0}")]
    Jwks(String),
    #[error("gateway.public_url {0:?} is not an http(s) URL")]
    PublicUrl(String),
}

/// What the well-known URLs serve.
#[derive(Debug, Clone, Default)]
pub struct WellKnown {
    /// The JWKS as published (public members only); `None`: 404.
    jwks: Option<Bytes>,
    /// The public base URL, without a trailing slash.
    public_url: Option<String>,
    /// Whether the request's `Host` may stand in for a missing public URL (the embedded default only).
    host_fallback: bool,
}

impl WellKnown {
    /// `jwks_json`: the document whose keys the auth layer trusts. `host_fallback`: see the module doc.
    pub fn new(
        jwks_json: Option<&str>,
        public_url: Option<&str>,
        host_fallback: bool,
    ) -> Result<Self, WellKnownError> {
        let jwks = jwks_json.map(public_jwks).transpose()?.map(Bytes::from);
        let public_url = match public_url {
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
                Some(url.trim_end_matches('/').to_owned())
            }
            Some(url) => return Err(WellKnownError::PublicUrl(url.to_owned())),
            None => None,
        };
        Ok(WellKnown {
            jwks,
            public_url,
            host_fallback,
        })
    }

    /// The answer to a request for a well-known document, or `None` when `path` is not one.
    pub fn answer<B>(&self, request: &http::Request<B>) -> Option<http::Response<Body>> {
        let path = request.uri().path();
        if path != JWKS_PATH && path != METADATA_PATH {
            return None;
        }
        let method = request.method();
        if method != http::Method::GET && method != http::Method::HEAD {
            let mut response = problem::method_not_allowed(method, path);
            response.headers_mut().insert(
                http::header::ALLOW,
                http::HeaderValue::from_static("GET, HEAD"),
            );
            return Some(response);
        }
        let (body, from_host) = if path == JWKS_PATH {
            let Some(jwks) = &self.jwks else {
                return Some(not_found("this gateway publishes no token keys"));
            };
            (jwks.clone(), false)
        } else {
            let (base, from_host) = match (&self.public_url, self.host_fallback) {
                (Some(url), _) => (url.clone(), false),
                (None, true) => match host_of(request) {
                    Some(host) => (format!("http://{host}"), true),
                    None => return Some(not_found("the request names no valid Host")),
                },
                (None, false) => {
                    return Some(not_found(
                        "no public URL is configured: set gateway.public_url (HAVEN_GATEWAY__PUBLIC_URL)",
                    ));
                }
            };
            (Bytes::from(metadata(&base).to_string()), from_host)
        };
        let body = if method == http::Method::HEAD {
            Bytes::new()
        } else {
            body
        };
        let mut response = http::Response::new(Body::new(http_body_util::Full::new(body)));
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(if path == JWKS_PATH {
                "application/jwk-set+json"
            } else {
                "application/json"
            }),
        );
        if let Ok(value) = http::HeaderValue::from_str(&format!("public, max-age={MAX_AGE_SECS}")) {
            headers.insert(http::header::CACHE_CONTROL, value);
        }
        if from_host {
            headers.insert(http::header::VARY, http::HeaderValue::from_static("host"));
        }
        Some(response)
    }
}

/// RFC 8414 metadata for a gateway at `base`.
pub fn metadata(base: &str) -> Value {
    json!({
        "issuer": base,
        "token_endpoint": format!("{base}{TOKEN_PATH}"),
        "jwks_uri": format!("{base}{JWKS_PATH}"),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        // RFC 8414 requires the member; with no authorization endpoint, no response type is served.
        "response_types_supported": [],
        "service_documentation": format!("{base}{DOCS_PATH}"),
    })
}

/// The JWKS with only the public members of each key.
fn public_jwks(text: &str) -> Result<String, WellKnownError> {
    let document: Value =
        serde_json::from_str(text).map_err(|e| WellKnownError::Jwks(e.to_string()))?;
    let keys = document
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| WellKnownError::Jwks("no \"keys\" array".into()))?;
    let keys: Vec<Value> = keys
        .iter()
        .map(|key| {
            let public = key
                .as_object()
                .map(|members| {
                    members
                        .iter()
                        .filter(|(name, _)| PUBLIC_JWK_MEMBERS.contains(&name.as_str()))
                        .map(|(name, value)| (name.clone(), value.clone()))
                        .collect::<serde_json::Map<_, _>>()
                })
                .unwrap_or_default();
            Value::Object(public)
        })
        .collect();
    Ok(json!({ "keys": keys }).to_string())
}

/// The request's host (HTTP/1.1 `Host`, or the HTTP/2 authority), when it is a plain host[:port].
fn host_of<B>(request: &http::Request<B>) -> Option<String> {
    let host = request
        .headers()
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.as_str().to_owned()))?;
    let plain = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    plain.then_some(host)
}

fn not_found(detail: &str) -> http::Response<Body> {
    problem::problem_response(&tonic::Status::not_found(detail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_members_of_a_key_are_never_published() {
        let text = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"abc","d":"secret","kid":"k1","alg":"EdDSA"}]}"#;
        let published = public_jwks(text).expect("a JWKS");
        assert!(!published.contains("secret"));
        let value: Value = serde_json::from_str(&published).expect("json");
        assert_eq!(value["keys"][0]["kid"], "k1");
        assert_eq!(value["keys"][0]["x"], "abc");
        assert!(public_jwks("{}").is_err());
    }

    #[test]
    fn only_a_plain_host_names_the_metadata_urls() {
        let request = |host: &str| {
            http::Request::builder()
                .uri(METADATA_PATH)
                .header(http::header::HOST, host)
                .body(())
                .expect("request")
        };
        assert_eq!(
            host_of(&request("127.0.0.1:8080")).as_deref(),
            Some("127.0.0.1:8080")
        );
        assert_eq!(host_of(&request("evil.example/path?")), None);
        assert_eq!(host_of(&request("a b")), None);
    }
}
