//! Creates the idempotency table. Services list this migration in their own migrator, followed by one
//! of their own that copies the keys they kept before into it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, string};

#[derive(Debug)]
pub struct CreateIdempotencyKeys;

impl MigrationName for CreateIdempotencyKeys {
    fn name(&self) -> &str {
        "m20261202_000002_create_idempotency_keys"
    }
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    Agency,
    Subject,
    RequestId,
    Rpc,
    BodyHash,
    ResultIds,
    CreatedAtUs,
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // async_trait cannot take the anonymous lifetime here
impl MigrationTrait for CreateIdempotencyKeys {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .if_not_exists()
                    .col(string(IdempotencyKeys::Agency))
                    .col(string(IdempotencyKeys::Subject))
                    .col(string(IdempotencyKeys::RequestId))
                    .col(string(IdempotencyKeys::Rpc))
                    .col(string(IdempotencyKeys::BodyHash))
                    .col(string(IdempotencyKeys::ResultIds))
                    .col(big_integer(IdempotencyKeys::CreatedAtUs))
                    .primary_key(
                        Index::create()
                            .col(IdempotencyKeys::Agency)
                            .col(IdempotencyKeys::Subject)
                            .col(IdempotencyKeys::RequestId),
                    )
                    .to_owned(),
            )
            .await?;
        // Erasures and merges find the keys of a record by what they produced.
        manager
            .create_index(
                Index::create()
                    .name("idx_idempotency_keys_result_ids")
                    .table(IdempotencyKeys::Table)
                    .col(IdempotencyKeys::ResultIds)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }
}
