//! Creates the outbox table. Services list this migration in their own migrator.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, big_integer_null, blob, string};

#[derive(Debug)]
pub struct CreateOutbox;

impl MigrationName for CreateOutbox {
    fn name(&self) -> &str {
        "m20261123_000007_create_outbox"
    }
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    EventId,
    Stream,
    Payload,
    CreatedAtUs,
    SentAtUs,
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // async_trait cannot take the anonymous lifetime here
impl MigrationTrait for CreateOutbox {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Outbox::Table)
                    .if_not_exists()
                    .col(string(Outbox::EventId).primary_key())
                    .col(string(Outbox::Stream))
                    .col(blob(Outbox::Payload))
                    .col(big_integer(Outbox::CreatedAtUs))
                    .col(big_integer_null(Outbox::SentAtUs))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_outbox_pending")
                    .table(Outbox::Table)
                    .col(Outbox::SentAtUs)
                    .col(Outbox::EventId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }
}
