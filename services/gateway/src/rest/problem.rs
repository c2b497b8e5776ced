//! REST errors as RFC 9457 `application/problem+json`, made from the gRPC status a call ended with:
//! one HTTP status per gRPC code, the code's name, and the `google.rpc.BadRequest` field violations
//! from `grpc-status-details-bin` as an `errors` array that names each field.

use bytes::Bytes;
use serde_json::{Value, json};
use tonic::{Code, Status};
use tonic_types::StatusExt as _;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// Seconds a client should wait before retrying a 429 (rate limited) or a 503 (a service down).
pub const RETRY_AFTER_SECS: u32 = 1;

/// Every gRPC code with the HTTP status and title REST answers it with. FAILED_PRECONDITION is 409
/// Conflict: in Haven it means the record's version or state forbids the change (a stale
/// `expected_version`, an illegal transition), which RFC 9110 gives 409; 412 stays for the HTTP
/// conditional headers (`If-Match`).
pub const CODES: &[(Code, u16, &str, &str)] = &[
    (
        Code::InvalidArgument,
        400,
        "INVALID_ARGUMENT",
        "Invalid argument",
    ),
    (Code::OutOfRange, 400, "OUT_OF_RANGE", "Out of range"),
    (
        Code::Unauthenticated,
        401,
        "UNAUTHENTICATED",
        "Unauthenticated",
    ),
    (
        Code::PermissionDenied,
        403,
        "PERMISSION_DENIED",
        "Permission denied",
    ),
    (Code::NotFound, 404, "NOT_FOUND", "Not found"),
    (Code::AlreadyExists, 409, "ALREADY_EXISTS", "Already exists"),
    (Code::Aborted, 409, "ABORTED", "Aborted"),
    (
        Code::FailedPrecondition,
        409,
        "FAILED_PRECONDITION",
        "Failed precondition",
    ),
    (
        Code::ResourceExhausted,
        429,
        "RESOURCE_EXHAUSTED",
        "Resource exhausted",
    ),
    (Code::Cancelled, 499, "CANCELLED", "Cancelled"),
    (Code::Unknown, 500, "UNKNOWN", "Unknown error"),
    (Code::Internal, 500, "INTERNAL", "Internal error"),
    (Code::DataLoss, 500, "DATA_LOSS", "Data loss"),
    (Code::Unimplemented, 501, "UNIMPLEMENTED", "Not implemented"),
    (Code::Unavailable, 503, "UNAVAILABLE", "Unavailable"),
    (
        Code::DeadlineExceeded,
        504,
        "DEADLINE_EXCEEDED",
        "Deadline exceeded",
    ),
];

fn entry(code: Code) -> (u16, &'static str, &'static str) {
    CODES
        .iter()
        .find(|(c, ..)| *c == code)
        .map(|(_, status, name, title)| (*status, *name, *title))
        .unwrap_or((500, "UNKNOWN", "Unknown error"))
}

/// The problem type of a gRPC code's name: a section of the gateway's docs page.
pub fn problem_type(name: &str) -> String {
    format!(
        "/v1/docs#problem-{}",
        name.to_ascii_lowercase().replace('_', "-")
    )
}

/// `child.identity.given_name` -> `child.identity.givenName` (the default JSON names of proto3).
pub fn json_field_path(proto_path: &str) -> String {
    let mut out = String::with_capacity(proto_path.len());
    let mut upper = false;
    for ch in proto_path.chars() {
        if ch == '_' {
            upper = true;
        } else if upper && ch.is_ascii_lowercase() {
            out.push(ch.to_ascii_uppercase());
            upper = false;
        } else {
            if upper {
                out.push('_');
            }
            upper = false;
            out.push(ch);
        }
    }
    out
}

/// The problem document of a status.
pub fn problem_body(status: &Status) -> Value {
    let (http_status, name, title) = entry(status.code());
    let mut body = json!({
        "type": problem_type(name),
        "title": title,
        "status": http_status,
        "detail": status.message(),
        "code": name,
    });
    if let Some(bad) = status.get_details_bad_request()
        && !bad.field_violations.is_empty()
    {
        body["errors"] = bad
            .field_violations
            .iter()
            .map(|v| {
                json!({
                    "field": v.field,
                    "jsonField": json_field_path(&v.field),
                    "detail": v.description,
                })
            })
            .collect();
    }
    body
}

/// The HTTP answer to a status: problem+json, with `Retry-After` on 429 and 503.
pub fn problem_response(status: &Status) -> http::Response<tonic::body::Body> {
    problem_response_as(status, None)
}

/// [`problem_response`] with another HTTP status than the code's own, where HTTP says more: 413 for a
/// body over the limit (RESOURCE_EXHAUSTED, which is otherwise a 429 to retry).
pub fn problem_response_as(
    status: &Status,
    http_status: Option<u16>,
) -> http::Response<tonic::body::Body> {
    let mut body = problem_body(status);
    if let Some(http_status) = http_status {
        body["status"] = http_status.into();
    }
    let code = body["status"].as_u64().unwrap_or(500) as u16;
    let mut response = http::Response::new(tonic::body::Body::new(http_body_util::Full::new(
        Bytes::from(body.to_string()),
    )));
    *response.status_mut() =
        http::StatusCode::from_u16(code).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(PROBLEM_JSON),
    );
    if matches!(code, 429 | 503) {
        response
            .headers_mut()
            .insert(http::header::RETRY_AFTER, RETRY_AFTER_SECS.into());
    }
    response
}

/// 405: the path is served, with other methods (the caller adds `Allow`). No gRPC code says this.
pub fn method_not_allowed(method: &http::Method, path: &str) -> http::Response<tonic::body::Body> {
    let body = json!({
        "type": "about:blank",
        "title": "Method not allowed",
        "status": 405,
        "detail": format!("{method} is not served on {path}; the Allow header lists what is"),
    });
    let mut response = http::Response::new(tonic::body::Body::new(http_body_util::Full::new(
        Bytes::from(body.to_string()),
    )));
    *response.status_mut() = http::StatusCode::METHOD_NOT_ALLOWED;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(PROBLEM_JSON),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::ErrorDetails;

    #[test]
    fn field_violations_name_the_field() {
        let details = ErrorDetails::with_bad_request_violation(
            "child.identity.given_name",
            "given_name is too long",
        );
        let status =
            Status::with_error_details(Code::InvalidArgument, "given_name is too long", details);
        let body = problem_body(&status);
        assert_eq!(body["status"], 400);
        assert_eq!(body["code"], "INVALID_ARGUMENT");
        assert_eq!(body["errors"][0]["field"], "child.identity.given_name");
        assert_eq!(body["errors"][0]["jsonField"], "child.identity.givenName");
    }

    #[test]
    fn every_code_has_one_entry() {
        for code in 1..=16 {
            let code = Code::from_i32(code);
            assert_eq!(
                CODES.iter().filter(|(c, ..)| *c == code).count(),
                1,
                "{code:?}"
            );
        }
        let response = problem_response(&Status::resource_exhausted("slow down"));
        assert_eq!(response.status(), 429);
        assert!(response.headers().contains_key(http::header::RETRY_AFTER));
    }
}
