//! Creates the audit tables. Services list this migration first in their own migrator.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, integer, string, text};

use super::GENESIS_HASH;

#[derive(Debug)]
pub struct CreateAuditLog;

impl MigrationName for CreateAuditLog {
    fn name(&self) -> &str {
        "m20261123_000001_create_audit_log"
    }
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Seq,
    EntryId,
    AtUs,
    Actor,
    Roles,
    Agency,
    Action,
    Rpc,
    RecordId,
    Classes,
    PrevHash,
    Hash,
}

#[derive(DeriveIden)]
enum AuditHead {
    Table,
    Id,
    Seq,
    Hash,
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // async_trait cannot take the anonymous lifetime here
impl MigrationTrait for CreateAuditLog {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .if_not_exists()
                    .col(big_integer(AuditLog::Seq).primary_key())
                    .col(string(AuditLog::EntryId))
                    .col(big_integer(AuditLog::AtUs))
                    .col(string(AuditLog::Actor))
                    .col(string(AuditLog::Roles))
                    .col(string(AuditLog::Agency))
                    .col(string(AuditLog::Action))
                    .col(string(AuditLog::Rpc))
                    .col(string(AuditLog::RecordId))
                    .col(text(AuditLog::Classes))
                    .col(string(AuditLog::PrevHash))
                    .col(string(AuditLog::Hash))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_audit_log_record")
                    .table(AuditLog::Table)
                    .col(AuditLog::RecordId)
                    .col(AuditLog::Seq)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_audit_log_actor")
                    .table(AuditLog::Table)
                    .col(AuditLog::Actor)
                    .col(AuditLog::AtUs)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditHead::Table)
                    .if_not_exists()
                    .col(integer(AuditHead::Id).primary_key())
                    .col(big_integer(AuditHead::Seq))
                    .col(string(AuditHead::Hash))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(AuditHead::Table)
                    .columns([AuditHead::Id, AuditHead::Seq, AuditHead::Hash])
                    .values_panic([1.into(), 0i64.into(), GENESIS_HASH.into()])
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
