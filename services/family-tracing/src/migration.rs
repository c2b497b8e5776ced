//! The family tracing service's migrations. Add-only (tables, columns, indexes), so the same steps run
//! on SQLite and PostgreSQL.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_pk_auto, blob, blob_null, boolean, double, integer, string,
};

#[derive(Debug)]
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(haven_platform::audit::CreateAuditLog),
            Box::new(CreateTracingTables),
            Box::new(SealTracingData),
            Box::new(haven_platform::consumed::CreateConsumedEvents),
            Box::new(haven_platform::idempotency::CreateIdempotencyKeys),
            Box::new(MoveCreateRequestKeys),
        ]
    }
}

#[derive(Debug)]
struct CreateTracingTables;

impl MigrationName for CreateTracingTables {
    fn name(&self) -> &str {
        "m20261123_000002_create_tracing_tables"
    }
}

#[derive(DeriveIden)]
enum TracingRequests {
    Table,
    Id,
    Version,
    Owner,
    Agency,
    Status,
    Body,
    CreatedAtUs,
    CreatedBy,
    UpdatedAtUs,
    UpdatedBy,
}

#[derive(DeriveIden)]
enum CreateRequests {
    Table,
    Principal,
    RequestId,
    BodyHash,
    TracingRequestId,
}

#[derive(DeriveIden)]
enum MatchReviews {
    Table,
    TracingRequestId,
    SoughtChildId,
    ChildId,
    Decision,
    Reason,
    ReviewedBy,
    ReviewedAtUs,
    Score,
}

#[derive(DeriveIden)]
enum FamilyLinks {
    Table,
    Id,
    ChildId,
    RelativeChildId,
    RelativeName,
    Relation,
    TracingRequestId,
    LinkedAtUs,
}

#[derive(DeriveIden)]
enum MatchAlerts {
    Table,
    Id,
    TracingRequestId,
    SoughtChildId,
    ChildId,
    Score,
    RaisedAtUs,
    Owner,
    Agency,
}

#[derive(DeriveIden)]
enum ChildProfiles {
    Table,
    ChildId,
    IdentityVersion,
    Owner,
    Agency,
    Identity,
    RegisteredAtUs,
}

#[derive(DeriveIden)]
enum ProfileChanges {
    Table,
    Seq,
    ChildId,
}

#[derive(DeriveIden)]
enum ConsumedEvents {
    Table,
    EventId,
    ConsumedAtUs,
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // async_trait cannot take the anonymous lifetime here
impl MigrationTrait for CreateTracingTables {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TracingRequests::Table)
                    .if_not_exists()
                    .col(string(TracingRequests::Id).primary_key())
                    .col(big_integer(TracingRequests::Version))
                    .col(string(TracingRequests::Owner))
                    .col(string(TracingRequests::Agency))
                    .col(string(TracingRequests::Status))
                    .col(blob(TracingRequests::Body))
                    .col(big_integer(TracingRequests::CreatedAtUs))
                    .col(string(TracingRequests::CreatedBy))
                    .col(big_integer(TracingRequests::UpdatedAtUs))
                    .col(string(TracingRequests::UpdatedBy))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_tracing_requests_agency")
                    .table(TracingRequests::Table)
                    .col(TracingRequests::Agency)
                    .col(TracingRequests::Id)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_tracing_requests_status")
                    .table(TracingRequests::Table)
                    .col(TracingRequests::Status)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CreateRequests::Table)
                    .if_not_exists()
                    .col(string(CreateRequests::Principal))
                    .col(string(CreateRequests::RequestId))
                    .col(string(CreateRequests::BodyHash))
                    .col(string(CreateRequests::TracingRequestId))
                    .primary_key(
                        Index::create()
                            .col(CreateRequests::Principal)
                            .col(CreateRequests::RequestId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MatchReviews::Table)
                    .if_not_exists()
                    .col(string(MatchReviews::TracingRequestId))
                    .col(string(MatchReviews::SoughtChildId))
                    .col(string(MatchReviews::ChildId))
                    .col(string(MatchReviews::Decision))
                    .col(string(MatchReviews::Reason))
                    .col(string(MatchReviews::ReviewedBy))
                    .col(big_integer(MatchReviews::ReviewedAtUs))
                    .col(double(MatchReviews::Score))
                    .primary_key(
                        Index::create()
                            .col(MatchReviews::TracingRequestId)
                            .col(MatchReviews::SoughtChildId)
                            .col(MatchReviews::ChildId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_match_reviews_child")
                    .table(MatchReviews::Table)
                    .col(MatchReviews::ChildId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(FamilyLinks::Table)
                    .if_not_exists()
                    .col(string(FamilyLinks::Id).primary_key())
                    .col(string(FamilyLinks::ChildId))
                    .col(string(FamilyLinks::RelativeChildId))
                    .col(string(FamilyLinks::RelativeName))
                    .col(string(FamilyLinks::Relation))
                    .col(string(FamilyLinks::TracingRequestId))
                    .col(big_integer(FamilyLinks::LinkedAtUs))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_family_links_child")
                    .table(FamilyLinks::Table)
                    .col(FamilyLinks::ChildId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MatchAlerts::Table)
                    .if_not_exists()
                    .col(string(MatchAlerts::Id).primary_key())
                    .col(string(MatchAlerts::TracingRequestId))
                    .col(string(MatchAlerts::SoughtChildId))
                    .col(string(MatchAlerts::ChildId))
                    .col(double(MatchAlerts::Score))
                    .col(big_integer(MatchAlerts::RaisedAtUs))
                    .col(string(MatchAlerts::Owner))
                    .col(string(MatchAlerts::Agency))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_match_alerts_pair")
                    .table(MatchAlerts::Table)
                    .col(MatchAlerts::TracingRequestId)
                    .col(MatchAlerts::SoughtChildId)
                    .col(MatchAlerts::ChildId)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_match_alerts_agency")
                    .table(MatchAlerts::Table)
                    .col(MatchAlerts::Agency)
                    .col(MatchAlerts::Id)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ChildProfiles::Table)
                    .if_not_exists()
                    .col(string(ChildProfiles::ChildId).primary_key())
                    .col(big_integer(ChildProfiles::IdentityVersion))
                    .col(string(ChildProfiles::Owner))
                    .col(string(ChildProfiles::Agency))
                    .col(blob(ChildProfiles::Identity))
                    .col(big_integer(ChildProfiles::RegisteredAtUs))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ProfileChanges::Table)
                    .if_not_exists()
                    .col(big_pk_auto(ProfileChanges::Seq))
                    .col(string(ProfileChanges::ChildId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ConsumedEvents::Table)
                    .if_not_exists()
                    .col(string(ConsumedEvents::EventId).primary_key())
                    .col(big_integer(ConsumedEvents::ConsumedAtUs))
                    .to_owned(),
            )
            .await
    }
}

/// Encryption at rest: the data-key tables, and a marker on each row that says whether its protected
/// columns are sealed. Existing rows start unsealed (`false` / NULL); the service's startup pass
/// ([`crate::sealed::seal_clear_rows`]) seals them. Add-only, so it runs on SQLite and PostgreSQL alike.
#[derive(Debug)]
struct SealTracingData;

impl MigrationName for SealTracingData {
    fn name(&self) -> &str {
        "m20261203_000003_seal_tracing_data"
    }
}

#[derive(DeriveIden)]
enum TracingRequestKeys {
    Table,
    TracingRequestId,
    Wrapped,
    Generation,
}

#[derive(DeriveIden)]
enum ChildProfileKeys {
    Table,
    ChildId,
    Wrapped,
    Generation,
}

#[derive(DeriveIden)]
enum Sealing {
    Sealed,
    RelativeNameSealed,
    ReasonSealed,
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // async_trait cannot take the anonymous lifetime here
impl MigrationTrait for SealTracingData {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TracingRequestKeys::Table)
                    .if_not_exists()
                    .col(string(TracingRequestKeys::TracingRequestId).primary_key())
                    .col(blob(TracingRequestKeys::Wrapped))
                    .col(integer(TracingRequestKeys::Generation))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ChildProfileKeys::Table)
                    .if_not_exists()
                    .col(string(ChildProfileKeys::ChildId).primary_key())
                    .col(blob(ChildProfileKeys::Wrapped))
                    .col(integer(ChildProfileKeys::Generation))
                    .to_owned(),
            )
            .await?;
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for table in [
            TracingRequests::Table.into_iden(),
            ChildProfiles::Table.into_iden(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(boolean(Sealing::Sealed).default(false))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(FamilyLinks::Table)
                    .add_column(blob_null(Sealing::RelativeNameSealed))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(MatchReviews::Table)
                    .add_column(blob_null(Sealing::ReasonSealed))
                    .to_owned(),
            )
            .await?;
        // The startup pass looks for unsealed rows; the index keeps that a lookup as tables grow.
        for (name, table) in [
            (
                "idx_tracing_requests_sealed",
                TracingRequests::Table.into_iden(),
            ),
            (
                "idx_child_profiles_sealed",
                ChildProfiles::Table.into_iden(),
            ),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(table)
                        .col(Sealing::Sealed)
                        .if_not_exists()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

/// Moves CreateTracingRequest's idempotency keys from `create_requests` into platform's table. The old
/// key was `agency/subject` in one column; the request's `created_by` is the subject, so the agency is
/// what precedes it. The body hash was already taken with `request_id` cleared, so a retry of a request
/// filed before the upgrade still replays. The emptied table stays (migrations here only add).
#[derive(Debug)]
struct MoveCreateRequestKeys;

impl MigrationName for MoveCreateRequestKeys {
    fn name(&self) -> &str {
        "m20261202_000003_move_create_request_keys"
    }
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // async_trait cannot take the anonymous lifetime here
impl MigrationTrait for MoveCreateRequestKeys {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(
            "INSERT INTO idempotency_keys \
               (agency, subject, request_id, rpc, body_hash, result_ids, created_at_us) \
             SELECT substr(c.principal, 1, length(c.principal) - length(t.created_by) - 1), \
                    t.created_by, c.request_id, \
                    '/haven.family_tracing.v1.FamilyTracing/CreateTracingRequest', \
                    c.body_hash, c.tracing_request_id, t.created_at_us \
             FROM create_requests c JOIN tracing_requests t ON t.id = c.tracing_request_id \
             WHERE length(c.principal) > length(t.created_by) \
               AND substr(c.principal, length(c.principal) - length(t.created_by) + 1) = t.created_by \
             ON CONFLICT DO NOTHING",
        )
        .await?;
        // Keys of requests erased meanwhile have no request to join and go too.
        db.execute_unprepared("DELETE FROM create_requests").await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use haven_platform::idempotency::IdempotencyEntity;
    use sea_orm::{ConnectionTrait as _, EntityTrait as _, IntoActiveModel as _};
    use sea_orm_migration::MigratorTrait as _;

    use super::Migrator;
    use crate::entity::tracing_request;

    #[tokio::test]
    async fn an_upgraded_database_keeps_its_keys_split_into_agency_and_subject() {
        let path = std::env::temp_dir().join(format!("haven-ftm-{}.db", uuid::Uuid::now_v7()));
        let db = haven_platform::db::connect(&format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .expect("db");
        // Up to the tables family tracing had before platform kept its idempotency keys.
        Migrator::up(&db, Some(3))
            .await
            .expect("migrate the old schema");
        tracing_request::Entity::insert(
            tracing_request::Model {
                id: "tr-1".into(),
                version: 1,
                owner: "ro-1".into(),
                agency: "relief/b".into(),
                status: "open".into(),
                body: Vec::new(),
                created_at_us: 5,
                created_by: "ro-1".into(),
                updated_at_us: 5,
                updated_by: "ro-1".into(),
                sealed: true,
            }
            .into_active_model(),
        )
        .exec_without_returning(&db)
        .await
        .expect("request");
        db.execute_unprepared(
            "INSERT INTO create_requests (principal, request_id, body_hash, tracing_request_id) \
             VALUES ('relief/b/ro-1', 'k-1', 'h1', 'tr-1'), ('relief/b/ro-1', 'k-2', 'h2', 'erased')",
        )
        .await
        .expect("old keys");

        Migrator::up(&db, None).await.expect("upgrade");

        let keys = IdempotencyEntity::find().all(&db).await.expect("keys");
        let moved: Vec<_> = keys
            .iter()
            .map(|k| {
                (
                    k.agency.as_str(),
                    k.subject.as_str(),
                    k.request_id.as_str(),
                    k.rpc.as_str(),
                    k.body_hash.as_str(),
                    k.result_ids.as_str(),
                )
            })
            .collect();
        assert_eq!(
            moved,
            vec![(
                "relief/b",
                "ro-1",
                "k-1",
                "/haven.family_tracing.v1.FamilyTracing/CreateTracingRequest",
                "h1",
                "tr-1"
            )],
            "the key of an erased request goes with it"
        );
        std::fs::remove_file(&path).ok();
    }
}
