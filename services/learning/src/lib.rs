//! The learning service: curricula, learners, enrolments, immutable learning records, progress, and the
//! learning passport (an Open Badges 3.0 credential as a VC-JWT that verifies offline). It verifies each
//! caller's JWT itself, decides on the learner from a projection of identity's children plus its own
//! enrolments, and writes every change with its audit entry and outbox event in one transaction.

/// The full method path of a `LearningRecords` RPC, as audit entries and idempotency keys name it.
macro_rules! rpc {
    ($name:literal) => {
        concat!("/haven.learning.v1.LearningRecords/", $name)
    };
}

mod access;
mod convert;
pub mod curriculum;
pub mod entity;
mod events;
mod migration;
mod paging;
pub mod passport;
mod projection;
mod rpc;
mod service;
mod start;
mod store;
mod validate;

use std::future::Future;
use std::sync::Arc;

use haven_authz::{Authenticator, Policy};
use haven_proto::learning::learning_records_server::LearningRecordsServer;
use sea_orm::{DatabaseConnection, DbErr};
use sea_orm_migration::MigratorTrait as _;
use tokio::net::TcpListener;

pub use events::LEARNING_STREAM;
pub use haven_passport::{didkey, print};
pub use migration::Migrator;
pub use passport::{PassportError, PassportIssuer, TrustList, VerifiedPassport};
pub use projection::Applied;
pub use rpc::STATUS_LIST_ID;
pub use service::LearningService;
pub use start::{passport_issuer, start, trusted_issuers};

/// Connects to the learning database and applies pending migrations.
pub async fn connect_and_migrate(url: &str) -> Result<DatabaseConnection, DbErr> {
    let db = haven_platform::db::connect(url).await?;
    Migrator::up(&db, None).await?;
    Ok(db)
}

/// Builds the service from a database URL: connect, migrate, wire the policy, authenticator and the
/// passport issuer key. Add trusted issuers with [`LearningService::with_trusted_issuers`].
pub async fn build(
    database_url: &str,
    auth: Authenticator,
    policy: Arc<Policy>,
    issuer: PassportIssuer,
) -> Result<LearningService, DbErr> {
    let db = connect_and_migrate(database_url).await?;
    Ok(LearningService::new(db, auth, policy, issuer))
}

/// Serves the learning service (plus health) on a bound listener until `shutdown`.
pub async fn serve(
    service: LearningService,
    listener: TcpListener,
    max_message_bytes: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let auth = service.auth().clone();
    let policy = service.policy().clone();
    let server = LearningRecordsServer::new(service)
        .max_decoding_message_size(max_message_bytes)
        .max_encoding_message_size(max_message_bytes);
    haven_platform::server::serve_service(
        "learning",
        auth,
        policy,
        tonic::service::Routes::new(server),
        &[<LearningRecordsServer<LearningService> as tonic::server::NamedService>::NAME],
        listener,
        shutdown,
    )
    .await
}
