//! What every Haven service shares: configuration, database connect and migrate, the hash-chained audit
//! log, error codes mapped to gRPC status, server bootstrap (health, reflection, graceful shutdown) and
//! telemetry (spans, trace propagation, metrics, JSON logs); and what `haven_authz` leaves out to stay
//! pure: the revoked-token list (`revocation`) and access control's files (`authz_files`).

pub mod audit;
pub mod auth;
pub mod authz_files;
pub mod bus;
pub mod config;
pub mod consumed;
pub mod consumer;
pub mod db;
pub mod error;
pub mod group_commit;
pub mod idempotency;
pub mod outbox;
pub mod paging;
pub mod revocation;
pub mod sealing;
pub mod server;
pub mod start;
pub mod streams;
pub mod telemetry;
#[cfg(test)]
mod test_db;
pub mod time;
pub mod validate;

pub use config::HavenConfig;
pub use error::{FieldViolation, ServiceError, Violations};
