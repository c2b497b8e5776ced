//! Creates the consumed-events table. Services list this migration in their own migrator.
//!
//! The table keeps the name and columns family tracing and learning created for themselves before it
//! moved here, so on a database they already migrated this creates nothing and every row stays.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, string};

#[derive(Debug)]
pub struct CreateConsumedEvents;

impl MigrationName for CreateConsumedEvents {
    fn name(&self) -> &str {
        "m20261202_000001_create_consumed_events"
    }
}

#[derive(DeriveIden)]
enum ConsumedEvents {
    Table,
    EventId,
    ConsumedAtUs,
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // async_trait cannot take the anonymous lifetime here
impl MigrationTrait for CreateConsumedEvents {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
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
