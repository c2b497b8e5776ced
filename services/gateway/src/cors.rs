//! CORS for the deployment's allowed browser origins (`gateway.cors.allowed_origins`). With none, the
//! gateway sends no CORS header at all and a browser lets no other origin's page read an answer. With
//! some, the edge answers a preflight itself, before any token is read (a preflight never carries one),
//! and every answer to an allowed origin names that origin alone, never `*`: what a page may read
//! still depends on the token it sends, which the browser does not add on its own (no credentials mode,
//! no cookies).

use haven_platform::config::CorsConfig;
use tonic::body::Body;

/// Methods a cross-origin page may use: REST's and gRPC-Web's POST.
const ALLOWED_METHODS: &str = "GET, POST, PUT, PATCH, DELETE";
/// Request headers a cross-origin page may send: REST's and gRPC-Web's.
const ALLOWED_HEADERS: &str = "authorization, content-type, idempotency-key, if-match, x-grpc-web, x-user-agent, grpc-timeout, traceparent, tracestate";
/// Response headers a cross-origin page may read beyond the CORS-safelisted ones.
const EXPOSED_HEADERS: &str =
    "etag, location, retry-after, grpc-status, grpc-message, grpc-status-details-bin";

/// The allowed origins and how long a preflight answer holds.
#[derive(Debug, Clone, Default)]
pub struct Cors {
    allowed_origins: Vec<String>,
    max_age_secs: u64,
}

impl Cors {
    pub fn new(config: &CorsConfig) -> Self {
        Cors {
            allowed_origins: config
                .allowed_origins
                .iter()
                .map(|origin| origin.to_ascii_lowercase())
                .collect(),
            max_age_secs: config.max_age_secs,
        }
    }

    fn enabled(&self) -> bool {
        !self.allowed_origins.is_empty()
    }

    /// The origin when it is an allowed one. Scheme and host are compared without case, as browsers
    /// serialise them in lowercase anyway.
    fn allowed<'a>(&self, origin: Option<&'a http::HeaderValue>) -> Option<&'a http::HeaderValue> {
        let origin = origin?;
        let text = origin.to_str().ok()?;
        self.allowed_origins
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(text))
            .then_some(origin)
    }

    /// The answer to a CORS preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`),
    /// when CORS is on; `None` for any other request. A disallowed origin gets 403 and no CORS header.
    pub fn preflight<B>(&self, request: &http::Request<B>) -> Option<http::Response<Body>> {
        let headers = request.headers();
        if !self.enabled()
            || request.method() != http::Method::OPTIONS
            || !headers.contains_key(http::header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            return None;
        }
        let origin = headers.get(http::header::ORIGIN)?;
        let mut response = http::Response::new(Body::empty());
        let allowed = self.allowed(Some(origin));
        *response.status_mut() = match allowed {
            Some(_) => http::StatusCode::NO_CONTENT,
            None => http::StatusCode::FORBIDDEN,
        };
        let out = response.headers_mut();
        out.insert(
            http::header::VARY,
            http::HeaderValue::from_static(
                "origin, access-control-request-method, access-control-request-headers",
            ),
        );
        let Some(origin) = allowed else {
            return Some(response);
        };
        out.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        out.insert(
            http::header::ACCESS_CONTROL_ALLOW_METHODS,
            http::HeaderValue::from_static(ALLOWED_METHODS),
        );
        out.insert(
            http::header::ACCESS_CONTROL_ALLOW_HEADERS,
            http::HeaderValue::from_static(ALLOWED_HEADERS),
        );
        out.insert(
            http::header::ACCESS_CONTROL_MAX_AGE,
            http::HeaderValue::from(self.max_age_secs),
        );
        Some(response)
    }

    /// Adds the CORS headers of an actual (non-preflight) answer: `Vary: Origin` whenever CORS is on,
    /// since the answer depends on it, and the allowed origin with the readable headers when the request
    /// came from one.
    pub fn decorate(
        &self,
        origin: Option<&http::HeaderValue>,
        response: &mut http::Response<Body>,
    ) {
        if !self.enabled() {
            return;
        }
        let headers = response.headers_mut();
        headers.append(http::header::VARY, http::HeaderValue::from_static("origin"));
        if let Some(origin) = self.allowed(origin) {
            headers.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            headers.insert(
                http::header::ACCESS_CONTROL_EXPOSE_HEADERS,
                http::HeaderValue::from_static(EXPOSED_HEADERS),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cors() -> Cors {
        Cors::new(&CorsConfig {
            allowed_origins: vec!["https://partner.example".into()],
            max_age_secs: 60,
        })
    }

    fn preflight(origin: &str) -> http::Request<()> {
        http::Request::builder()
            .method(http::Method::OPTIONS)
            .uri("/v1/children")
            .header(http::header::ORIGIN, origin)
            .header(http::header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .body(())
            .expect("request")
    }

    #[test]
    fn a_lookalike_origin_is_not_allowed() {
        let cors = cors();
        for origin in [
            "https://partner.example.evil",
            "http://partner.example",
            "https://evil.partner.example",
            "null",
        ] {
            let response = cors.preflight(&preflight(origin)).expect("a preflight");
            assert_eq!(response.status(), 403, "{origin}");
            assert!(
                !response
                    .headers()
                    .contains_key(http::header::ACCESS_CONTROL_ALLOW_ORIGIN)
            );
        }
        let response = cors
            .preflight(&preflight("https://partner.example"))
            .expect("a preflight");
        assert_eq!(response.status(), 204);
        assert_eq!(
            response.headers()[http::header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://partner.example"
        );
    }

    #[test]
    fn without_origins_nothing_is_added() {
        let cors = Cors::default();
        assert!(
            cors.preflight(&preflight("https://partner.example"))
                .is_none()
        );
        let mut response = http::Response::new(Body::empty());
        cors.decorate(
            Some(&http::HeaderValue::from_static("https://partner.example")),
            &mut response,
        );
        assert!(response.headers().is_empty());
    }
}
