//! The child identity service: one identity record per child, with the protection case beside it.
//! It verifies each caller's JWT itself, applies record scope and class redaction from the policy, and
//! writes every change with its audit entry in one transaction.

mod audit_rpc;
mod break_glass;
mod compat;
mod duplicate_reviews;
mod duplicates;
mod enrolments;
pub mod entity;
pub mod events;
mod location;
mod mask;
mod migration;
mod record;
mod referrals;
mod retention;
mod scope;
mod service;
mod start;
mod store;
mod validate;
mod webhooks;

use std::future::Future;
use std::sync::Arc;

use haven_authz::{Authenticator, Policy};
use haven_platform::sealing::Keyring;
use haven_proto::identity::child_identity_server::ChildIdentityServer;
use haven_proto::identity::identity_audit_server::IdentityAuditServer;
use haven_proto::identity::partner_feed_server::PartnerFeedServer;
use sea_orm::{DatabaseConnection, DbErr};
use sea_orm_migration::MigratorTrait as _;
use tokio::net::TcpListener;

pub use audit_rpc::IdentityAuditService;
pub use migration::Migrator;
pub use retention::{enforce_retention, spawn_retention};
pub use service::IdentityService;
pub use start::{keyring, start};
pub use webhooks::{PartnerFeedService, WebhookSettings};

/// Connects to the identity database and applies pending migrations.
pub async fn connect_and_migrate(url: &str) -> Result<DatabaseConnection, DbErr> {
    let db = haven_platform::db::connect(url).await?;
    Migrator::up(&db, None).await?;
    Ok(db)
}

/// Serves the identity service, its audit read-back and the partners' feeds (plus health and
/// reflection) on a bound listener until `shutdown`.
pub async fn serve(
    service: IdentityService,
    feed: PartnerFeedService,
    listener: TcpListener,
    max_message_bytes: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    use tonic::server::NamedService;
    let audit = IdentityAuditServer::new(IdentityAuditService::new(
        service.database().clone(),
        service.auth().clone(),
        service.audit_writer().clone(),
    ));
    let auth = service.auth().clone();
    let policy = service.policy().clone();
    let server = ChildIdentityServer::new(service)
        .max_decoding_message_size(max_message_bytes)
        .max_encoding_message_size(max_message_bytes);
    haven_platform::server::serve_service(
        "identity",
        auth,
        policy,
        tonic::service::Routes::new(server)
            .add_service(audit)
            .add_service(PartnerFeedServer::new(feed)),
        &[
            <ChildIdentityServer<IdentityService> as NamedService>::NAME,
            <IdentityAuditServer<IdentityAuditService> as NamedService>::NAME,
            <PartnerFeedServer<PartnerFeedService> as NamedService>::NAME,
        ],
        listener,
        shutdown,
    )
    .await
}

/// Builds the service from a database URL: connect, migrate, wire the policy, authenticator and the
/// keyring that seals whereabouts and protection at rest.
pub async fn build(
    database_url: &str,
    auth: Authenticator,
    policy: Arc<Policy>,
    keyring: Arc<Keyring>,
) -> Result<IdentityService, DbErr> {
    let db = connect_and_migrate(database_url).await?;
    Ok(IdentityService::new(db, auth, policy, keyring))
}

/// Re-wraps every child's data key, the service keys (location tags) and the webhook secrets under the
/// keyring's current master key (master-key rotation). The encrypted columns are not rewritten. Returns
/// how many keys changed.
pub async fn rewrap_data_keys(
    db: &DatabaseConnection,
    keyring: &Keyring,
) -> Result<u64, haven_platform::ServiceError> {
    store::rewrap_data_keys(db, keyring).await
}
