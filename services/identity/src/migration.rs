//! The identity service's migrations. Add-only (tables, columns, indexes), so the same steps run on
//! SQLite and PostgreSQL.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, blob, blob_null, boolean, integer, string, string_null, text,
};

#[derive(Debug)]
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(haven_platform::audit::CreateAuditLog),
            Box::new(CreateChildren),
            Box::new(CreateChildKeys),
            Box::new(CreateChildErasures),
            Box::new(CreateReferrals),
            Box::new(CreateBreakGlassGrants),
            Box::new(haven_platform::outbox::CreateOutbox),
            Box::new(AddAssignmentsAndTeams),
            Box::new(CreateLocationTags),
            Box::new(CreateChildMerges),
            Box::new(haven_platform::idempotency::CreateIdempotencyKeys),
            Box::new(MoveIdentityRequestKeys),
            Box::new(haven_platform::consumed::CreateConsumedEvents),
            Box::new(CreatePartnerFeeds),
            Box::new(CreateDuplicateReviews),
        ]
    }
}

#[derive(Debug)]
struct CreateChildren;

impl MigrationName for CreateChildren {
    fn name(&self) -> &str {
        "m20261123_000002_create_children"
    }
}

#[derive(DeriveIden)]
enum Children {
    Table,
    Id,
    Version,
    IdentityVersion,
    Owner,
    Agency,
    ConsentForTracing,
    CreatedAtUs,
    CreatedBy,
    UpdatedAtUs,
    UpdatedBy,
    Identity,
    Whereabouts,
    Protection,
}

#[derive(DeriveIden)]
enum ChildAffiliations {
    Table,
    ChildId,
    Organisation,
    Kind,
}

#[derive(DeriveIden)]
enum ChildNameKeys {
    Table,
    Key,
    ChildId,
}

#[derive(DeriveIden)]
enum RegisterRequests {
    Table,
    Principal,
    RequestId,
    BodyHash,
    ChildId,
    CreatedAtUs,
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // async_trait cannot take the anonymous lifetime here
impl MigrationTrait for CreateChildren {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Children::Table)
                    .if_not_exists()
                    .col(string(Children::Id).primary_key())
                    .col(big_integer(Children::Version))
                    .col(big_integer(Children::IdentityVersion))
                    .col(string(Children::Owner))
                    .col(string(Children::Agency))
                    .col(boolean(Children::ConsentForTracing))
                    .col(big_integer(Children::CreatedAtUs))
                    .col(string(Children::CreatedBy))
                    .col(big_integer(Children::UpdatedAtUs))
                    .col(string(Children::UpdatedBy))
                    .col(blob(Children::Identity))
                    .col(blob_null(Children::Whereabouts))
                    .col(blob_null(Children::Protection))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_children_owner", Children::Owner),
            ("idx_children_agency", Children::Agency),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Children::Table)
                        .col(column)
                        .col(Children::Id)
                        .if_not_exists()
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(ChildAffiliations::Table)
                    .if_not_exists()
                    .col(string(ChildAffiliations::ChildId))
                    .col(string(ChildAffiliations::Organisation))
                    .col(string(ChildAffiliations::Kind))
                    .primary_key(
                        Index::create()
                            .col(ChildAffiliations::ChildId)
                            .col(ChildAffiliations::Organisation),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_child_affiliations_organisation")
                    .table(ChildAffiliations::Table)
                    .col(ChildAffiliations::Organisation)
                    .col(ChildAffiliations::ChildId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ChildNameKeys::Table)
                    .if_not_exists()
                    .col(string(ChildNameKeys::Key))
                    .col(string(ChildNameKeys::ChildId))
                    .primary_key(
                        Index::create()
                            .col(ChildNameKeys::Key)
                            .col(ChildNameKeys::ChildId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_child_name_keys_child")
                    .table(ChildNameKeys::Table)
                    .col(ChildNameKeys::ChildId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RegisterRequests::Table)
                    .if_not_exists()
                    .col(string(RegisterRequests::Principal))
                    .col(string(RegisterRequests::RequestId))
                    .col(string(RegisterRequests::BodyHash))
                    .col(string(RegisterRequests::ChildId))
                    .col(big_integer(RegisterRequests::CreatedAtUs))
                    .primary_key(
                        Index::create()
                            .col(RegisterRequests::Principal)
                            .col(RegisterRequests::RequestId),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}

/// Per-child data keys for the sealed classes (encryption at rest).
#[derive(Debug)]
struct CreateChildKeys;

impl MigrationName for CreateChildKeys {
    fn name(&self) -> &str {
        "m20261123_000003_create_child_keys"
    }
}

#[derive(DeriveIden)]
enum ChildKeys {
    Table,
    ChildId,
    Wrapped,
    Generation,
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // async_trait cannot take the anonymous lifetime here
impl MigrationTrait for CreateChildKeys {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ChildKeys::Table)
                    .if_not_exists()
                    .col(string(ChildKeys::ChildId).primary_key())
                    .col(blob(ChildKeys::Wrapped))
                    .col(integer(ChildKeys::Generation))
                    .to_owned(),
            )
            .await
    }
}

/// The record of each erasure (the reason is kept here, not in the audit log).
#[derive(Debug)]
struct CreateChildErasures;

impl MigrationName for CreateChildErasures {
    fn name(&self) -> &str {
        "m20261123_000004_create_child_erasures"
    }
}

#[derive(DeriveIden)]
enum ChildErasures {
    Table,
    ChildId,
    ErasedAtUs,
    ErasedBy,
    Reason,
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // async_trait cannot take the anonymous lifetime here
impl MigrationTrait for CreateChildErasures {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ChildErasures::Table)
                    .if_not_exists()
                    .col(string(ChildErasures::ChildId).primary_key())
                    .col(big_integer(ChildErasures::ErasedAtUs))
                    .col(string(ChildErasures::ErasedBy))
                    .col(text(ChildErasures::Reason))
                    .to_owned(),
            )
            .await
    }
}

/// Referrals to partner agencies.
#[derive(Debug)]
struct CreateReferrals;

impl MigrationName for CreateReferrals {
    fn name(&self) -> &str {
        "m20261123_000005_create_referrals"
    }
}

#[derive(DeriveIden)]
enum Referrals {
    Table,
    Id,
    ChildId,
    FromAgency,
    ToAgency,
    Service,
    Kind,
    SharedClasses,
    Status,
    ConsentOverridden,
    OverrideReason,
    RequestId,
    BodyHash,
    CreatedAtUs,
    CreatedBy,
    UpdatedAtUs,
    UpdatedBy,
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // async_trait cannot take the anonymous lifetime here
impl MigrationTrait for CreateReferrals {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Referrals::Table)
                    .if_not_exists()
                    .col(string(Referrals::Id).primary_key())
                    .col(string(Referrals::ChildId))
                    .col(string(Referrals::FromAgency))
                    .col(string(Referrals::ToAgency))
                    .col(string(Referrals::Service))
                    .col(string(Referrals::Kind))
                    .col(string(Referrals::SharedClasses))
                    .col(string(Referrals::Status))
                    .col(boolean(Referrals::ConsentOverridden))
                    .col(text(Referrals::OverrideReason))
                    .col(string(Referrals::RequestId))
                    .col(string(Referrals::BodyHash))
                    .col(big_integer(Referrals::CreatedAtUs))
                    .col(string(Referrals::CreatedBy))
                    .col(big_integer(Referrals::UpdatedAtUs))
                    .col(string(Referrals::UpdatedBy))
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            (
                "idx_referrals_child",
                vec![Referrals::ChildId, Referrals::Status],
            ),
            ("idx_referrals_to", vec![Referrals::ToAgency, Referrals::Id]),
            (
                "idx_referrals_from",
                vec![Referrals::FromAgency, Referrals::Id],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(Referrals::Table).if_not_exists();
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("idx_referrals_request")
                    .table(Referrals::Table)
                    .col(Referrals::CreatedBy)
                    .col(Referrals::RequestId)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }
}

/// Break-glass grants.
#[derive(Debug)]
struct CreateBreakGlassGrants;

impl MigrationName for CreateBreakGlassGrants {
    fn name(&self) -> &str {
        "m20261123_000006_create_break_glass_grants"
    }
}

#[derive(DeriveIden)]
enum BreakGlassGrants {
    Table,
    Id,
    ChildId,
    Holder,
    Agency,
    ChildAgency,
    Reason,
    GrantedAtUs,
    ExpiresAtUs,
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // async_trait cannot take the anonymous lifetime here
impl MigrationTrait for CreateBreakGlassGrants {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(BreakGlassGrants::Table)
                    .if_not_exists()
                    .col(string(BreakGlassGrants::Id).primary_key())
                    .col(string(BreakGlassGrants::ChildId))
                    .col(string(BreakGlassGrants::Holder))
                    .col(string(BreakGlassGrants::Agency))
                    .col(string(BreakGlassGrants::ChildAgency))
                    .col(text(BreakGlassGrants::Reason))
                    .col(big_integer(BreakGlassGrants::GrantedAtUs))
                    .col(big_integer(BreakGlassGrants::ExpiresAtUs))
                    .to_owned(),
            )
            .await?;
        for (name, first, second) in [
            (
                "idx_break_glass_child",
                BreakGlassGrants::ChildId,
                BreakGlassGrants::ExpiresAtUs,
            ),
            (
                "idx_break_glass_holder",
                BreakGlassGrants::Holder,
                BreakGlassGrants::ExpiresAtUs,
            ),
            (
                "idx_break_glass_agency",
                BreakGlassGrants::Agency,
                BreakGlassGrants::Id,
            ),
            (
                "idx_break_glass_child_agency",
                BreakGlassGrants::ChildAgency,
                BreakGlassGrants::Id,
            ),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(BreakGlassGrants::Table)
                        .col(first)
                        .col(second)
                        .if_not_exists()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

/// Case assignments, and the team that holds a case. Adds a nullable column: portable on both backends.
#[derive(Debug)]
struct AddAssignmentsAndTeams;

impl MigrationName for AddAssignmentsAndTeams {
    fn name(&self) -> &str {
        "m20261123_000008_add_assignments_and_teams"
    }
}

#[derive(DeriveIden)]
enum ChildAssignments {
    Table,
    ChildId,
    Assignee,
    AssignedBy,
    AssignedAtUs,
}

#[derive(DeriveIden)]
enum ChildrenTeam {
    #[sea_orm(iden = "children")]
    Table,
    Team,
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // async_trait cannot take the anonymous lifetime here
impl MigrationTrait for AddAssignmentsAndTeams {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ChildrenTeam::Table)
                    .add_column(string_null(ChildrenTeam::Team))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ChildAssignments::Table)
                    .if_not_exists()
                    .col(string(ChildAssignments::ChildId))
                    .col(string(ChildAssignments::Assignee))
                    .col(string(ChildAssignments::AssignedBy))
                    .col(big_integer(ChildAssignments::AssignedAtUs))
                    .primary_key(
                        Index::create()
                            .col(ChildAssignments::ChildId)
                            .col(ChildAssignments::Assignee),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_child_assignments_assignee")
                    .table(ChildAssignments::Table)
                    .col(ChildAssignments::Assignee)
                    .col(ChildAssignments::ChildId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }
}

/// Keyed location tags for the `location` scope, and the wrapped service keys (the tag key among them).
#[derive(Debug)]
struct CreateLocationTags;

impl MigrationName for CreateLocationTags {
    fn name(&self) -> &str {
        "m20261123_000009_create_location_tags"
    }
}

#[derive(DeriveIden)]
enum ChildLocationTags {
    Table,
    ChildId,
    Tag,
}

#[derive(DeriveIden)]
enum ServiceKeys {
    Table,
    Name,
    Wrapped,
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // async_trait cannot take the anonymous lifetime here
impl MigrationTrait for CreateLocationTags {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ChildLocationTags::Table)
                    .if_not_exists()
                    .col(string(ChildLocationTags::ChildId))
                    .col(string(ChildLocationTags::Tag))
                    .primary_key(
                        Index::create()
                            .col(ChildLocationTags::ChildId)
                            .col(ChildLocationTags::Tag),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_child_location_tags_tag")
                    .table(ChildLocationTags::Table)
                    .col(ChildLocationTags::Tag)
                    .col(ChildLocationTags::ChildId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ServiceKeys::Table)
                    .if_not_exists()
                    .col(string(ServiceKeys::Name).primary_key())
                    .col(blob(ServiceKeys::Wrapped))
                    .to_owned(),
            )
            .await
    }
}

/// The record of merged duplicate registrations.
#[derive(Debug)]
struct CreateChildMerges;

impl MigrationName for CreateChildMerges {
    fn name(&self) -> &str {
        "m20261123_000010_create_child_merges"
    }
}

#[derive(DeriveIden)]
enum ChildMerges {
    Table,
    FromChildId,
    IntoChildId,
    MergedAtUs,
    MergedBy,
    Reason,
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // async_trait cannot take the anonymous lifetime here
impl MigrationTrait for CreateChildMerges {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ChildMerges::Table)
                    .if_not_exists()
                    .col(string(ChildMerges::FromChildId).primary_key())
                    .col(string(ChildMerges::IntoChildId))
                    .col(big_integer(ChildMerges::MergedAtUs))
                    .col(string(ChildMerges::MergedBy))
                    .col(text(ChildMerges::Reason))
                    .to_owned(),
            )
            .await
    }
}

/// The partners' feeds: webhook subscriptions, their delivery log, and the change feed.
#[derive(Debug)]
struct CreatePartnerFeeds;

impl MigrationName for CreatePartnerFeeds {
    fn name(&self) -> &str {
        "m20261203_000001_create_partner_feeds"
    }
}

#[derive(DeriveIden)]
enum WebhookSubscriptions {
    Table,
    Id,
    Owner,
    Agency,
    Url,
    EventTypes,
    SecretGeneration,
    Secret,
    PreviousSecret,
    PreviousExpiresAtUs,
    CreatedAtUs,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    SubscriptionId,
    EventId,
    EventType,
    ChildId,
    Payload,
    Status,
    Attempts,
    NextAttemptAtUs,
    RetrySinceUs,
    ClaimedUntilUs,
    LastResponseCode,
    LastError,
    CreatedAtUs,
    DeliveredAtUs,
    UpdatedAtUs,
}

#[derive(DeriveIden)]
enum PartnerChanges {
    Table,
    Seq,
    Agency,
    EventId,
    EventType,
    ChildId,
    Version,
    MergedInto,
    OccurredAtUs,
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // async_trait cannot take the anonymous lifetime here
impl MigrationTrait for CreatePartnerFeeds {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebhookSubscriptions::Table)
                    .if_not_exists()
                    .col(string(WebhookSubscriptions::Id).primary_key())
                    .col(string(WebhookSubscriptions::Owner))
                    .col(string(WebhookSubscriptions::Agency))
                    .col(text(WebhookSubscriptions::Url))
                    .col(string(WebhookSubscriptions::EventTypes))
                    .col(integer(WebhookSubscriptions::SecretGeneration))
                    .col(blob(WebhookSubscriptions::Secret))
                    .col(blob_null(WebhookSubscriptions::PreviousSecret))
                    .col(big_integer_null(WebhookSubscriptions::PreviousExpiresAtUs))
                    .col(big_integer(WebhookSubscriptions::CreatedAtUs))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_subscriptions_agency")
                    .table(WebhookSubscriptions::Table)
                    .col(WebhookSubscriptions::Agency)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .if_not_exists()
                    .col(string(WebhookDeliveries::Id).primary_key())
                    .col(string(WebhookDeliveries::SubscriptionId))
                    .col(string(WebhookDeliveries::EventId))
                    .col(string(WebhookDeliveries::EventType))
                    .col(string(WebhookDeliveries::ChildId))
                    .col(text(WebhookDeliveries::Payload))
                    .col(string(WebhookDeliveries::Status))
                    .col(integer(WebhookDeliveries::Attempts))
                    .col(big_integer(WebhookDeliveries::NextAttemptAtUs))
                    .col(big_integer(WebhookDeliveries::RetrySinceUs))
                    .col(big_integer(WebhookDeliveries::ClaimedUntilUs))
                    .col(integer(WebhookDeliveries::LastResponseCode))
                    .col(text(WebhookDeliveries::LastError))
                    .col(big_integer(WebhookDeliveries::CreatedAtUs))
                    .col(big_integer_null(WebhookDeliveries::DeliveredAtUs))
                    .col(big_integer(WebhookDeliveries::UpdatedAtUs))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_deliveries_once")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::SubscriptionId)
                    .col(WebhookDeliveries::EventId)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_deliveries_due")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::Status)
                    .col(WebhookDeliveries::NextAttemptAtUs)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PartnerChanges::Table)
                    .if_not_exists()
                    .col(big_integer(PartnerChanges::Seq).primary_key())
                    .col(string(PartnerChanges::Agency))
                    .col(string(PartnerChanges::EventId))
                    .col(string(PartnerChanges::EventType))
                    .col(string(PartnerChanges::ChildId))
                    .col(big_integer(PartnerChanges::Version))
                    .col(string(PartnerChanges::MergedInto))
                    .col(big_integer(PartnerChanges::OccurredAtUs))
                    .to_owned(),
            )
            .await?;
        for (name, columns, unique) in [
            (
                "idx_partner_changes_agency",
                vec![PartnerChanges::Agency, PartnerChanges::Seq],
                false,
            ),
            (
                "idx_partner_changes_once",
                vec![PartnerChanges::Agency, PartnerChanges::EventId],
                true,
            ),
        ] {
            let mut index = Index::create();
            index
                .name(name)
                .table(PartnerChanges::Table)
                .if_not_exists();
            for column in columns {
                index.col(column);
            }
            if unique {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }
}

/// Moves RegisterChild's keys (`register_requests`) and CreateReferral's (kept on each referral) into
/// platform's table. The old keys named the caller's subject only: a registration's agency is its
/// child's (the registering caller's, unless the child was transferred since), a referral's is the
/// agency it was made from. Referral hashes were already taken with `request_id` cleared, so their
/// retries still replay; a registration's hash covered the child alone, so a retry of a pre-upgrade
/// registration that reaches the upgraded service is refused as a reused key (ALREADY_EXISTS), never
/// registered twice. Generated referrals carry no body hash and no key. `register_requests` stays,
/// emptied (migrations here only add); the referral columns stay as they are.
#[derive(Debug)]
struct MoveIdentityRequestKeys;

impl MigrationName for MoveIdentityRequestKeys {
    fn name(&self) -> &str {
        "m20261202_200003_move_identity_request_keys"
    }
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // async_trait cannot take the anonymous lifetime here
impl MigrationTrait for MoveIdentityRequestKeys {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(
            "INSERT INTO idempotency_keys \
               (agency, subject, request_id, rpc, body_hash, result_ids, created_at_us) \
             SELECT c.agency, r.principal, r.request_id, \
                    '/haven.identity.v1.ChildIdentity/RegisterChild', \
                    r.body_hash, r.child_id, r.created_at_us \
             FROM register_requests r JOIN children c ON c.id = r.child_id \
             WHERE true \
             ON CONFLICT DO NOTHING",
        )
        .await?;
        db.execute_unprepared(
            "INSERT INTO idempotency_keys \
               (agency, subject, request_id, rpc, body_hash, result_ids, created_at_us) \
             SELECT f.from_agency, f.created_by, f.request_id, \
                    '/haven.identity.v1.ChildIdentity/CreateReferral', \
                    f.body_hash, f.id, f.created_at_us \
             FROM referrals f \
             WHERE f.body_hash <> '' \
             ON CONFLICT DO NOTHING",
        )
        .await?;
        db.execute_unprepared("DELETE FROM register_requests")
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use haven_platform::idempotency::IdempotencyEntity;
    use sea_orm::{ConnectionTrait as _, EntityTrait as _, IntoActiveModel as _};
    use sea_orm_migration::MigratorTrait as _;

    use super::Migrator;
    use crate::entity::{child, referral};

    #[tokio::test]
    async fn an_upgraded_database_keeps_its_registration_and_referral_keys() {
        let path = std::env::temp_dir().join(format!("haven-im-{}.db", uuid::Uuid::now_v7()));
        let db = haven_platform::db::connect(&format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .expect("db");
        // Up to the tables identity had before platform kept its idempotency keys.
        Migrator::up(&db, Some(10))
            .await
            .expect("migrate the old schema");
        child::Entity::insert(
            child::Model {
                id: "c-1".into(),
                version: 1,
                identity_version: 1,
                owner: "cw-1".into(),
                agency: "save-a".into(),
                consent_for_tracing: false,
                created_at_us: 1,
                created_by: "cw-1".into(),
                updated_at_us: 1,
                updated_by: "cw-1".into(),
                identity: Vec::new(),
                whereabouts: None,
                protection: None,
                team: None,
            }
            .into_active_model(),
        )
        .exec_without_returning(&db)
        .await
        .expect("child");
        for (id, request_id, body_hash) in [("ref-1", "k-2", "h2"), ("ref-2", "generated", "")] {
            referral::Entity::insert(
                referral::Model {
                    id: id.into(),
                    child_id: "c-1".into(),
                    from_agency: "save-a".into(),
                    to_agency: "relief-b".into(),
                    service: "shelter".into(),
                    kind: "service".into(),
                    shared_classes: "identity".into(),
                    status: "pending".into(),
                    consent_overridden: false,
                    override_reason: String::new(),
                    request_id: request_id.into(),
                    body_hash: body_hash.into(),
                    created_at_us: 2,
                    created_by: "cw-1".into(),
                    updated_at_us: 2,
                    updated_by: "cw-1".into(),
                }
                .into_active_model(),
            )
            .exec_without_returning(&db)
            .await
            .expect("referral");
        }
        db.execute_unprepared(
            "INSERT INTO register_requests (principal, request_id, body_hash, child_id, created_at_us) \
             VALUES ('cw-1', 'k-1', 'h1', 'c-1', 1), ('cw-1', 'k-9', 'h9', 'erased', 1)",
        )
        .await
        .expect("old keys");

        Migrator::up(&db, None).await.expect("upgrade");

        let mut keys = IdempotencyEntity::find().all(&db).await.expect("keys");
        keys.sort_by(|a, b| a.request_id.cmp(&b.request_id));
        let moved: Vec<_> = keys
            .iter()
            .map(|k| {
                (
                    k.agency.as_str(),
                    k.subject.as_str(),
                    k.request_id.as_str(),
                    k.rpc.rsplit('/').next().unwrap_or_default(),
                    k.body_hash.as_str(),
                    k.result_ids.as_str(),
                )
            })
            .collect();
        assert_eq!(
            moved,
            vec![
                ("save-a", "cw-1", "k-1", "RegisterChild", "h1", "c-1"),
                ("save-a", "cw-1", "k-2", "CreateReferral", "h2", "ref-1"),
            ],
            "generated referrals had no key, and an erased child's key is gone"
        );
        std::fs::remove_file(&path).ok();
    }
}

/// Likely duplicates held by other agencies, and the reviews asked of their owners.
#[derive(Debug)]
struct CreateDuplicateReviews;

impl MigrationName for CreateDuplicateReviews {
    fn name(&self) -> &str {
        "m20261202_400001_create_duplicate_reviews"
    }
}

#[derive(DeriveIden)]
enum DuplicateReviews {
    Table,
    Id,
    ChildId,
    NoticedTo,
    RequestingAgency,
    DuplicateChildId,
    OwnerAgency,
    Status,
    Kind,
    Reason,
    AnswerReason,
    RequestedBy,
    AnsweredBy,
    NoticedAtUs,
    RequestedAtUs,
    AnsweredAtUs,
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // async_trait cannot take the anonymous lifetime here
impl MigrationTrait for CreateDuplicateReviews {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DuplicateReviews::Table)
                    .if_not_exists()
                    .col(string(DuplicateReviews::Id).primary_key())
                    .col(string(DuplicateReviews::ChildId))
                    .col(string(DuplicateReviews::NoticedTo))
                    .col(string(DuplicateReviews::RequestingAgency))
                    .col(string(DuplicateReviews::DuplicateChildId))
                    .col(string(DuplicateReviews::OwnerAgency))
                    .col(string(DuplicateReviews::Status))
                    .col(string(DuplicateReviews::Kind))
                    .col(text(DuplicateReviews::Reason))
                    .col(text(DuplicateReviews::AnswerReason))
                    .col(string(DuplicateReviews::RequestedBy))
                    .col(string(DuplicateReviews::AnsweredBy))
                    .col(big_integer(DuplicateReviews::NoticedAtUs))
                    .col(big_integer(DuplicateReviews::RequestedAtUs))
                    .col(big_integer(DuplicateReviews::AnsweredAtUs))
                    .to_owned(),
            )
            .await?;
        // One notice per pair, so a retried registration finds the notice it gave.
        manager
            .create_index(
                Index::create()
                    .name("idx_duplicate_reviews_pair")
                    .table(DuplicateReviews::Table)
                    .col(DuplicateReviews::ChildId)
                    .col(DuplicateReviews::DuplicateChildId)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_duplicate_reviews_duplicate")
                    .table(DuplicateReviews::Table)
                    .col(DuplicateReviews::DuplicateChildId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }
}
