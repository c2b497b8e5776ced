//! One small set of domain error codes, each mapped to one gRPC status. Messages are lowercase, name the
//! field, and never echo a submitted value (it may be protected data).

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt as _};

/// One invalid field: its path in the request and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        FieldViolation {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// Collects every violation of one request, so a client fixes them all in one round trip.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    pub fn add(&mut self, field: impl Into<String>, description: &str) {
        self.0.push(FieldViolation::new(field, description));
    }

    /// Rejects a value longer than `max` characters, or holding control characters other than newline
    /// and tab. Names the field, never the value.
    pub fn text(&mut self, field: &str, value: &str, max: usize) {
        if value.chars().count() > max {
            self.add(field, &format!("must be at most {max} characters"));
        }
        if value
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            self.add(field, "must not contain control characters");
        }
    }

    pub fn into_result(self) -> Result<(), Vec<FieldViolation>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }

    /// INVALID_ARGUMENT with every violation, or `Ok` when there is none.
    pub fn finish(self) -> Result<(), ServiceError> {
        self.into_result().map_err(ServiceError::InvalidArgument)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("invalid request: {}", describe(.0))]
    InvalidArgument(Vec<FieldViolation>),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    PermissionDenied(String),
    /// Not there, or not in the caller's scope: the two are indistinguishable on purpose.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    AlreadyExists(String),
    /// The record's state forbids the change (an illegal transition, a consent that does not cover it).
    #[error("{0}")]
    FailedPrecondition(String),
    /// The record changed since the caller read it: a stale `expected_version`, or a write that lost a
    /// race on the version. FAILED_PRECONDITION with an `ErrorInfo` whose reason is [`STALE_VERSION`], so
    /// a client (and the REST door, which answers 412 to an `If-Match`) can tell it from other refusals.
    #[error("{0}")]
    StaleVersion(String),
    #[error("{0}")]
    ResourceExhausted(String),
    #[error("{0}")]
    Unavailable(String),
    /// Details go to the log, never to the caller.
    #[error("internal error")]
    Internal(String),
}

/// The most field violations one answer carries. A status travels in HTTP/2 headers, which the peer
/// caps (16 KiB by default): a request wrong in hundreds of places would otherwise make an answer no
/// client can read, and the gateway would report the service unavailable.
pub const MAX_VIOLATIONS: usize = 20;

/// The `ErrorInfo.reason` of a write refused because the record's version moved on.
pub const STALE_VERSION: &str = "STALE_VERSION";
/// The `ErrorInfo.domain` of Haven's own reasons.
pub const ERROR_DOMAIN: &str = "haven";

fn describe(violations: &[FieldViolation]) -> String {
    let mut text = violations
        .iter()
        .take(MAX_VIOLATIONS)
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ");
    if violations.len() > MAX_VIOLATIONS {
        text.push_str(&format!("; and {} more", violations.len() - MAX_VIOLATIONS));
    }
    text
}

impl ServiceError {
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        ServiceError::InvalidArgument(vec![FieldViolation::new(field, description)])
    }

    pub fn code(&self) -> Code {
        match self {
            ServiceError::InvalidArgument(_) => Code::InvalidArgument,
            ServiceError::Unauthenticated(_) => Code::Unauthenticated,
            ServiceError::PermissionDenied(_) => Code::PermissionDenied,
            ServiceError::NotFound(_) => Code::NotFound,
            ServiceError::AlreadyExists(_) => Code::AlreadyExists,
            ServiceError::FailedPrecondition(_) | ServiceError::StaleVersion(_) => {
                Code::FailedPrecondition
            }
            ServiceError::ResourceExhausted(_) => Code::ResourceExhausted,
            ServiceError::Unavailable(_) => Code::Unavailable,
            ServiceError::Internal(_) => Code::Internal,
        }
    }
}

impl From<ServiceError> for Status {
    fn from(error: ServiceError) -> Self {
        let message = error.to_string();
        match error {
            ServiceError::InvalidArgument(violations) => {
                let details = ErrorDetails::with_bad_request(
                    violations
                        .into_iter()
                        .take(MAX_VIOLATIONS)
                        .map(|v| tonic_types::FieldViolation::new(v.field, v.description))
                        .collect::<Vec<_>>(),
                );
                Status::with_error_details(Code::InvalidArgument, message, details)
            }
            ServiceError::StaleVersion(_) => Status::with_error_details(
                Code::FailedPrecondition,
                message,
                ErrorDetails::with_error_info(
                    STALE_VERSION,
                    ERROR_DOMAIN,
                    std::collections::HashMap::new(),
                ),
            ),
            ServiceError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                Status::new(Code::Internal, message)
            }
            other => Status::new(other.code(), message),
        }
    }
}

impl From<sea_orm::DbErr> for ServiceError {
    /// A database that cannot be reached, dropped the connection mid-statement, is shutting down or
    /// refused for contention is UNAVAILABLE: the client retries with the same `request_id`, and the
    /// idempotency record makes the retry safe whether or not the first attempt committed. Anything else
    /// is our fault: INTERNAL, details to the log only.
    fn from(error: sea_orm::DbErr) -> Self {
        use sea_orm::{DbErr, RuntimeErr};
        let transient = match &error {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
            DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
                sqlx_is_transient(e)
            }
            _ => false,
        };
        if transient {
            // The driver's words stay in the log: they can name tables, hosts or constraint details.
            tracing::warn!(%error, "database unavailable");
            ServiceError::Unavailable("database unavailable; retry with the same request_id".into())
        } else {
            ServiceError::Internal(error.to_string())
        }
    }
}

/// Whether a driver error means "try again" rather than "this statement is wrong".
fn sqlx_is_transient(error: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error;
    match error {
        // The socket closed or broke under the statement ("expected to read 5 bytes, got 0").
        Error::Io(_) | Error::Tls(_) | Error::Protocol(_) => true,
        Error::PoolTimedOut | Error::PoolClosed | Error::WorkerCrashed | Error::BeginFailed => true,
        Error::Database(db) => db.code().is_some_and(|code| transient_sql_state(&code)),
        _ => false,
    }
}

/// PostgreSQL SQLSTATEs and SQLite result codes that mean the server, not the statement, refused.
fn transient_sql_state(code: &str) -> bool {
    // PostgreSQL: class 08 connection exception; 57P01..57P03 admin shutdown, crash shutdown, cannot
    // connect now; 53300 too many connections; 40001 serialization failure; 40P01 deadlock.
    code.starts_with("08")
        || matches!(code, "57P01" | "57P02" | "57P03" | "53300" | "40001" | "40P01")
        // SQLite: SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes.
        || code.parse::<i32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6))
}

/// Whether a status says the record changed since the caller read it ([`ServiceError::StaleVersion`]).
pub fn is_stale_version(status: &Status) -> bool {
    status.code() == Code::FailedPrecondition
        && status
            .get_details_error_info()
            .is_some_and(|info| info.reason == STALE_VERSION && info.domain == ERROR_DOMAIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_version_is_failed_precondition_with_a_reason_other_refusals_lack() {
        let stale: Status = ServiceError::StaleVersion("the child changed meanwhile".into()).into();
        assert_eq!(stale.code(), Code::FailedPrecondition);
        assert_eq!(stale.message(), "the child changed meanwhile");
        assert!(is_stale_version(&stale));
        let other: Status =
            ServiceError::FailedPrecondition("the passport is revoked".into()).into();
        assert_eq!(other.code(), Code::FailedPrecondition);
        assert!(!is_stale_version(&other));
    }

    #[test]
    fn validation_errors_carry_bad_request_details() {
        let status: Status =
            ServiceError::invalid("child.identity.given_name", "must not be empty").into();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains("child.identity.given_name"));
        let bad = status.get_details_bad_request().expect("details");
        assert_eq!(bad.field_violations[0].field, "child.identity.given_name");
    }

    #[test]
    fn an_answer_names_at_most_max_violations_fields() {
        let violations = (0..500)
            .map(|i| FieldViolation::new(format!("sought_children[{i}].given_name"), "is required"))
            .collect();
        let status: Status = ServiceError::InvalidArgument(violations).into();
        let bad = status.get_details_bad_request().expect("details");
        assert_eq!(bad.field_violations.len(), MAX_VIOLATIONS);
        assert!(status.message().ends_with("and 480 more"));
        assert!(status.message().len() < 2048);
    }

    #[test]
    fn a_dropped_database_connection_is_unavailable_not_internal() {
        use sea_orm::{DbErr, RuntimeErr, sqlx};
        use std::sync::Arc;
        let eof = std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "expected to read 5 bytes, got 0 bytes at EOF",
        );
        for error in [
            DbErr::Exec(RuntimeErr::SqlxError(Arc::new(sqlx::Error::Io(eof)))),
            DbErr::Query(RuntimeErr::SqlxError(Arc::new(sqlx::Error::PoolTimedOut))),
            DbErr::Query(RuntimeErr::SqlxError(Arc::new(sqlx::Error::PoolClosed))),
        ] {
            let status: Status = ServiceError::from(error).into();
            assert_eq!(status.code(), Code::Unavailable, "{}", status.message());
            assert!(
                !status.message().contains("expected to read"),
                "driver text stays in the log"
            );
        }
        let wrong = DbErr::Query(RuntimeErr::SqlxError(Arc::new(sqlx::Error::RowNotFound)));
        assert_eq!(ServiceError::from(wrong).code(), Code::Internal);
    }

    #[test]
    fn server_side_refusals_are_transient_and_statement_errors_are_not() {
        for code in [
            "08006", "08003", "57P01", "57P03", "53300", "40001", "40P01", "5", "517", "6",
        ] {
            assert!(transient_sql_state(code), "{code}");
        }
        for code in ["23505", "42P01", "22001", "19", "2067", "1"] {
            assert!(!transient_sql_state(code), "{code}");
        }
    }

    #[test]
    fn internal_details_stay_out_of_the_status() {
        let status: Status = ServiceError::Internal("secret row".into()).into();
        assert_eq!(status.message(), "internal error");
    }
}
