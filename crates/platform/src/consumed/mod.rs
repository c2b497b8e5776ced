//! The events a service's consumers already applied, by event id (DESIGN.md §6): delivery is at least
//! once, so a handler asks [`already_applied`] and writes [`mark_applied`] in the transaction of its own
//! change, which makes the change and the mark commit together or not at all.

mod entity;
mod migration;

use sea_orm::{ConnectionTrait, DbErr, EntityTrait, Set};

pub use entity::Entity as ConsumedEventEntity;
pub use entity::{Column as ConsumedEventColumn, Model as ConsumedEvent};
pub use migration::CreateConsumedEvents;

use crate::time::now_micros;

/// Whether the event was applied before, read on `conn` (the handler's transaction, so a concurrent
/// handler of the same event waits for, or fails on, the mark of the first).
pub async fn already_applied<C: ConnectionTrait>(conn: &C, event_id: &str) -> Result<bool, DbErr> {
    Ok(entity::Entity::find_by_id(event_id.to_owned())
        .one(conn)
        .await?
        .is_some())
}

/// Marks the event applied on `conn`, which should be the transaction of the change it made. A second
/// mark of one event fails on the primary key, so two replicas racing on it cannot both commit.
pub async fn mark_applied<C: ConnectionTrait>(conn: &C, event_id: &str) -> Result<(), DbErr> {
    entity::Entity::insert(entity::ActiveModel {
        event_id: Set(event_id.to_owned()),
        consumed_at_us: Set(now_micros()),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_db::{self, Scratch};
    use sea_orm::TransactionTrait as _;
    use sea_orm_migration::{MigrationTrait, SchemaManager};

    async fn database() -> (sea_orm::DatabaseConnection, Scratch) {
        test_db::database(&[&CreateConsumedEvents]).await
    }

    #[tokio::test]
    async fn an_event_is_applied_once_its_mark_commits() {
        let (db, _scratch) = database().await;
        assert!(!already_applied(&db, "e1").await.expect("read"));
        let txn = db.begin().await.expect("begin");
        mark_applied(&txn, "e1").await.expect("mark");
        txn.commit().await.expect("commit");
        assert!(already_applied(&db, "e1").await.expect("read"));
        assert!(!already_applied(&db, "e2").await.expect("read"));
    }

    #[tokio::test]
    async fn a_mark_rolled_back_with_its_change_leaves_the_event_to_apply_again() {
        let (db, _scratch) = database().await;
        let txn = db.begin().await.expect("begin");
        mark_applied(&txn, "e1").await.expect("mark");
        txn.rollback().await.expect("rollback");
        assert!(!already_applied(&db, "e1").await.expect("read"));
    }

    #[tokio::test]
    async fn an_event_cannot_be_marked_twice() {
        let (db, _scratch) = database().await;
        mark_applied(&db, "e1").await.expect("mark");
        assert!(mark_applied(&db, "e1").await.is_err());
    }

    #[tokio::test]
    async fn the_migration_keeps_a_table_a_service_created_before() {
        let (db, _scratch) = database().await;
        mark_applied(&db, "kept").await.expect("mark");
        CreateConsumedEvents
            .up(&SchemaManager::new(&db))
            .await
            .expect("migrate again");
        assert!(already_applied(&db, "kept").await.expect("read"));
    }
}
