//! The learning service's migrations. Add-only (tables, columns, indexes), so the same steps run on
//! SQLite and PostgreSQL.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, blob, boolean, integer, string, string_null, text, text_null,
};

#[derive(Debug)]
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(haven_platform::audit::CreateAuditLog),
            Box::new(haven_platform::outbox::CreateOutbox),
            Box::new(CreateLearningTables),
            Box::new(haven_platform::consumed::CreateConsumedEvents),
            Box::new(haven_platform::idempotency::CreateIdempotencyKeys),
            Box::new(MoveLearningRequestKeys),
        ]
    }
}

#[derive(Debug)]
struct CreateLearningTables;

impl MigrationName for CreateLearningTables {
    fn name(&self) -> &str {
        "m20261123_100001_create_learning_tables"
    }
}

#[derive(DeriveIden)]
enum LearnerChildren {
    Table,
    ChildId,
    Owner,
    Agency,
    Version,
}

#[derive(DeriveIden)]
enum ConsumedEvents {
    Table,
    EventId,
    ConsumedAtUs,
}

#[derive(DeriveIden)]
enum LearnerAffiliations {
    Table,
    ChildId,
    Organisation,
    SinceUs,
}

#[derive(DeriveIden)]
enum Enrolments {
    Table,
    Id,
    ChildId,
    Organisation,
    Programme,
    FrameworkCode,
    SubjectCode,
    LevelCode,
    Status,
    SessionsHeld,
    SessionsAttended,
    AttendanceAsOfUs,
    Version,
    EnrolledAtUs,
    EnrolledBy,
    UpdatedAtUs,
    UpdatedBy,
}

#[derive(DeriveIden)]
enum LearningRecords {
    Table,
    Id,
    ChildId,
    Organisation,
    Body,
    Voided,
    VoidReason,
    VoidedAtUs,
    VoidedBy,
}

#[derive(DeriveIden)]
enum Frameworks {
    Table,
    Code,
    Titles,
    Organisation,
    CreatedAtUs,
    UpdatedAtUs,
}

#[derive(DeriveIden)]
enum CurriculumLabels {
    Table,
    FrameworkCode,
    SubjectCode,
    LevelCode,
    OutcomeCode,
    Lang,
    SubjectLabel,
    LevelLabel,
    OutcomeLabel,
}

#[derive(DeriveIden)]
enum OutcomeAlignments {
    Table,
    FromOutcome,
    ToOutcome,
}

#[derive(DeriveIden)]
enum LearningRequests {
    Table,
    Principal,
    RequestId,
    Rpc,
    BodyHash,
    ResultIds,
    CreatedAtUs,
}

#[derive(DeriveIden)]
enum Passports {
    Table,
    CredentialId,
    ChildId,
    Organisation,
    IssuedBy,
    IssuedAtUs,
    StatusListId,
    RevokedAtUs,
    RevokedBy,
    RevokeReason,
}

async fn index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden,
    columns: Vec<DynIden>,
) -> Result<(), DbErr> {
    let mut statement = Index::create();
    statement.name(name).table(table).if_not_exists();
    for column in columns {
        statement.col(column);
    }
    manager.create_index(statement.to_owned()).await
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // async_trait cannot take the anonymous lifetime here
impl MigrationTrait for CreateLearningTables {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LearnerChildren::Table)
                    .if_not_exists()
                    .col(string(LearnerChildren::ChildId).primary_key())
                    .col(string(LearnerChildren::Owner))
                    .col(string(LearnerChildren::Agency))
                    .col(big_integer(LearnerChildren::Version))
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
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LearnerAffiliations::Table)
                    .if_not_exists()
                    .col(string(LearnerAffiliations::ChildId))
                    .col(string(LearnerAffiliations::Organisation))
                    .col(big_integer(LearnerAffiliations::SinceUs))
                    .primary_key(
                        Index::create()
                            .col(LearnerAffiliations::ChildId)
                            .col(LearnerAffiliations::Organisation),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Enrolments::Table)
                    .if_not_exists()
                    .col(string(Enrolments::Id).primary_key())
                    .col(string(Enrolments::ChildId))
                    .col(string(Enrolments::Organisation))
                    .col(text(Enrolments::Programme))
                    .col(string(Enrolments::FrameworkCode))
                    .col(string(Enrolments::SubjectCode))
                    .col(string(Enrolments::LevelCode))
                    .col(integer(Enrolments::Status))
                    .col(big_integer(Enrolments::SessionsHeld))
                    .col(big_integer(Enrolments::SessionsAttended))
                    .col(big_integer_null(Enrolments::AttendanceAsOfUs))
                    .col(big_integer(Enrolments::Version))
                    .col(big_integer(Enrolments::EnrolledAtUs))
                    .col(string(Enrolments::EnrolledBy))
                    .col(big_integer(Enrolments::UpdatedAtUs))
                    .col(string(Enrolments::UpdatedBy))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_enrolments_child",
            Enrolments::Table,
            vec![Enrolments::ChildId.into_iden(), Enrolments::Id.into_iden()],
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(LearningRecords::Table)
                    .if_not_exists()
                    .col(string(LearningRecords::Id).primary_key())
                    .col(string(LearningRecords::ChildId))
                    .col(string(LearningRecords::Organisation))
                    .col(blob(LearningRecords::Body))
                    .col(boolean(LearningRecords::Voided))
                    .col(string_null(LearningRecords::VoidReason))
                    .col(big_integer_null(LearningRecords::VoidedAtUs))
                    .col(string_null(LearningRecords::VoidedBy))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_learning_records_child",
            LearningRecords::Table,
            vec![
                LearningRecords::ChildId.into_iden(),
                LearningRecords::Id.into_iden(),
            ],
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(Frameworks::Table)
                    .if_not_exists()
                    .col(string(Frameworks::Code).primary_key())
                    .col(text(Frameworks::Titles))
                    .col(string(Frameworks::Organisation))
                    .col(big_integer(Frameworks::CreatedAtUs))
                    .col(big_integer(Frameworks::UpdatedAtUs))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CurriculumLabels::Table)
                    .if_not_exists()
                    .col(string(CurriculumLabels::FrameworkCode))
                    .col(string(CurriculumLabels::SubjectCode))
                    .col(string(CurriculumLabels::LevelCode))
                    .col(string(CurriculumLabels::OutcomeCode))
                    .col(string(CurriculumLabels::Lang))
                    .col(text(CurriculumLabels::SubjectLabel))
                    .col(text(CurriculumLabels::LevelLabel))
                    .col(text(CurriculumLabels::OutcomeLabel))
                    .primary_key(
                        Index::create()
                            .col(CurriculumLabels::FrameworkCode)
                            .col(CurriculumLabels::SubjectCode)
                            .col(CurriculumLabels::LevelCode)
                            .col(CurriculumLabels::OutcomeCode)
                            .col(CurriculumLabels::Lang),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OutcomeAlignments::Table)
                    .if_not_exists()
                    .col(string(OutcomeAlignments::FromOutcome))
                    .col(string(OutcomeAlignments::ToOutcome))
                    .primary_key(
                        Index::create()
                            .col(OutcomeAlignments::FromOutcome)
                            .col(OutcomeAlignments::ToOutcome),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LearningRequests::Table)
                    .if_not_exists()
                    .col(string(LearningRequests::Principal))
                    .col(string(LearningRequests::RequestId))
                    .col(string(LearningRequests::Rpc))
                    .col(string(LearningRequests::BodyHash))
                    .col(text(LearningRequests::ResultIds))
                    .col(big_integer(LearningRequests::CreatedAtUs))
                    .primary_key(
                        Index::create()
                            .col(LearningRequests::Principal)
                            .col(LearningRequests::RequestId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Passports::Table)
                    .if_not_exists()
                    .col(string(Passports::CredentialId).primary_key())
                    .col(string_null(Passports::ChildId))
                    .col(string(Passports::Organisation))
                    .col(string(Passports::IssuedBy))
                    .col(big_integer(Passports::IssuedAtUs))
                    .col(string(Passports::StatusListId))
                    .col(big_integer_null(Passports::RevokedAtUs))
                    .col(string_null(Passports::RevokedBy))
                    .col(text_null(Passports::RevokeReason))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_passports_status_list",
            Passports::Table,
            vec![
                Passports::StatusListId.into_iden(),
                Passports::CredentialId.into_iden(),
            ],
        )
        .await?;
        Ok(())
    }
}

/// Moves the idempotency keys of `learning_requests` into platform's table. The old key named the
/// caller's subject only; the agency is the organisation of what the key created (a record or an
/// enrolment is always its writer's organisation's), so keys whose result is gone are dropped with it.
/// The old body hash included the `request_id`, so a retry of a pre-upgrade write that reaches the
/// upgraded service is refused as a reused key (ALREADY_EXISTS), never written twice. The emptied table
/// stays (migrations here only add).
#[derive(Debug)]
struct MoveLearningRequestKeys;

impl MigrationName for MoveLearningRequestKeys {
    fn name(&self) -> &str {
        "m20261202_100002_move_learning_request_keys"
    }
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // async_trait cannot take the anonymous lifetime here
impl MigrationTrait for MoveLearningRequestKeys {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The first id of the comma-separated list: what the write created first.
        let first_id = match manager.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => "split_part(l.result_ids, ',', 1)",
            _ => {
                "CASE WHEN instr(l.result_ids, ',') > 0 \
                 THEN substr(l.result_ids, 1, instr(l.result_ids, ',') - 1) \
                 ELSE l.result_ids END"
            }
        };
        let db = manager.get_connection();
        db.execute_unprepared(&format!(
            "INSERT INTO idempotency_keys \
               (agency, subject, request_id, rpc, body_hash, result_ids, created_at_us) \
             SELECT COALESCE(r.organisation, e.organisation), l.principal, l.request_id, l.rpc, \
                    l.body_hash, l.result_ids, l.created_at_us \
             FROM learning_requests l \
             LEFT JOIN learning_records r ON r.id = {first_id} \
             LEFT JOIN enrolments e ON e.id = {first_id} \
             WHERE COALESCE(r.organisation, e.organisation) IS NOT NULL \
             ON CONFLICT DO NOTHING"
        ))
        .await?;
        db.execute_unprepared("DELETE FROM learning_requests")
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
    use crate::entity::record;

    #[tokio::test]
    async fn an_upgraded_database_keeps_its_keys_under_the_agency_of_what_they_created() {
        let path = std::env::temp_dir().join(format!("haven-lm-{}.db", uuid::Uuid::now_v7()));
        let db = haven_platform::db::connect(&format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .expect("db");
        // Up to the tables learning had before platform kept its idempotency keys.
        Migrator::up(&db, Some(3))
            .await
            .expect("migrate the old schema");
        for id in ["rec-1", "rec-2"] {
            record::Entity::insert(
                record::Model {
                    id: id.into(),
                    child_id: "child-1".into(),
                    organisation: "school-a".into(),
                    body: Vec::new(),
                    voided: false,
                    void_reason: None,
                    voided_at_us: None,
                    voided_by: None,
                }
                .into_active_model(),
            )
            .exec_without_returning(&db)
            .await
            .expect("record");
        }
        db.execute_unprepared(
            "INSERT INTO learning_requests \
               (principal, request_id, rpc, body_hash, result_ids, created_at_us) VALUES \
             ('teacher-1', 'k-1', '/haven.learning.v1.LearningRecords/RecordLearning', 'h1', 'rec-1', 5), \
             ('teacher-1', 'k-2', '/haven.learning.v1.LearningRecords/CorrectLearningRecord', 'h2', 'rec-1,rec-2', 6), \
             ('teacher-1', 'k-3', '/haven.learning.v1.LearningRecords/RecordLearning', 'h3', 'erased', 7)",
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
                    k.body_hash.as_str(),
                    k.result_ids.as_str(),
                )
            })
            .collect();
        assert_eq!(
            moved,
            vec![
                ("school-a", "teacher-1", "k-1", "h1", "rec-1"),
                ("school-a", "teacher-1", "k-2", "h2", "rec-1,rec-2"),
            ],
            "a key whose record is gone goes with it"
        );
        let left = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT COUNT(*) AS n FROM learning_requests",
            ))
            .await
            .expect("count")
            .and_then(|row| row.try_get::<i64>("", "n").ok());
        assert_eq!(left, Some(0), "the old table is emptied");
        std::fs::remove_file(&path).ok();
    }
}
