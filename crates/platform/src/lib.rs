//! What every Haven service shares: configuration, database connect and migrate, the hash-chained audit
//! log, error codes mapped to gRPC status, and server bootstrap (health, reflection, graceful shutdown).

pub mod audit;
pub mod bus;
pub mod config;
pub mod consumer;
pub mod db;
pub mod error;
pub mod group_commit;
pub mod outbox;
pub mod paging;
pub mod sealing;
pub mod server;

pub use config::HavenConfig;
pub use error::{FieldViolation, ServiceError, Violations};
