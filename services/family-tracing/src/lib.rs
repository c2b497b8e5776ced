//! The family tracing service: a relative's tracing requests, match candidates ranked by
//! `haven-matching` with every score explained, reviews, the reunification workflow, family links and
//! alerts. It knows registered children only through a projection of the identity of those who
//! consented to tracing, fed by the identity service's events.

mod access;
mod alerts;
mod convert;
pub mod entity;
mod feed;
mod identity_reader;
mod matcher;
mod migration;
mod rpc;
mod sealed;
mod service;
mod start;
mod store;
mod validate;
mod workflow;

use std::future::Future;
use std::sync::Arc;

use haven_authz::{Authenticator, Policy};
use haven_platform::sealing::Keyring;
use haven_proto::family_tracing::family_tracing_server::FamilyTracingServer;
use sea_orm::{DatabaseConnection, DbErr};
use sea_orm_migration::MigratorTrait as _;
use tokio::net::TcpListener;

pub use feed::{CONSUMER_GROUP, Feed, FeedError, IDENTITY_STREAM, spawn_feed};
pub use identity_reader::{IdentityReader, ReadError, SERVICE_AGENCY, SERVICE_SUBJECT};
pub use matcher::{Matcher, spawn_follower};
pub use migration::Migrator;
pub use sealed::{
    RequestKey, SealedCounts, Vault, erase_tracing_request, rewrap_data_keys, seal_clear_rows,
};
pub use service::FamilyTracingService;
pub use start::{keyring, start, thresholds};

pub(crate) use haven_platform::time::now_micros;

/// Connects to the family tracing database and applies pending migrations.
pub async fn connect_and_migrate(url: &str) -> Result<DatabaseConnection, DbErr> {
    let db = haven_platform::db::connect(url).await?;
    Migrator::up(&db, None).await?;
    Ok(db)
}

/// Builds the service: connect, migrate, seal any rows still in clear (written before encryption at
/// rest) with `keyring`, and rebuild the matching index from the sealed projection.
pub async fn build(
    database_url: &str,
    auth: Authenticator,
    policy: Arc<Policy>,
    thresholds: haven_matching::Thresholds,
    keyring: Arc<Keyring>,
) -> Result<FamilyTracingService, haven_platform::ServiceError> {
    let db = connect_and_migrate(database_url).await?;
    let vault = Vault::new(keyring);
    let sealed = seal_clear_rows(&db, &vault).await?;
    if sealed.total() > 0 {
        tracing::info!(
            tracing_requests = sealed.tracing_requests,
            family_links = sealed.family_links,
            match_reviews = sealed.match_reviews,
            child_profiles = sealed.child_profiles,
            "rows written in clear before encryption at rest are now sealed"
        );
    }
    let matcher = Arc::new(Matcher::new(thresholds, vault.clone()));
    let indexed = matcher.rebuild(&db).await?;
    tracing::info!(
        children = indexed,
        "matching index rebuilt from the projection"
    );
    Ok(FamilyTracingService::new(db, auth, policy, matcher, vault))
}

/// Serves the family tracing service (plus health) on a bound listener until `shutdown`.
pub async fn serve(
    service: FamilyTracingService,
    listener: TcpListener,
    max_message_bytes: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let auth = service.auth().clone();
    let policy = service.policy().clone();
    let server = FamilyTracingServer::new(service)
        .max_decoding_message_size(max_message_bytes)
        .max_encoding_message_size(max_message_bytes);
    haven_platform::server::serve_service(
        "family-tracing",
        auth,
        policy,
        tonic::service::Routes::new(server),
        &[<FamilyTracingServer<FamilyTracingService> as tonic::server::NamedService>::NAME],
        listener,
        shutdown,
    )
    .await
}
