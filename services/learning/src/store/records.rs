//! Learning records in the database: reading them, importing a passport's records in one transaction,
//! and handing single records and corrections to their group-commit writers.

use haven_platform::ServiceError;
use haven_platform::audit::{self, AuditEntry};
use haven_platform::outbox;
use haven_proto::learning::{CorrectLearningRecordResponse, LearningRecord};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait};

use super::{Correction, NewRecord, Store, replay};
use crate::entity::record;
use crate::events::{self, LEARNING_STREAM};
use haven_platform::idempotency::{self, IdempotencyKey};

/// What an ImportPassport write did.
#[derive(Debug)]
pub(crate) enum Imported {
    Written,
    /// A retry: the records the key wrote before, by id.
    Replayed(Vec<record::Model>),
    /// A new key for a passport already imported for this learner; nothing was written.
    Duplicate,
}

impl Store {
    /// Writes a new record in the next group commit.
    pub(crate) async fn record(&self, request: NewRecord) -> Result<LearningRecord, ServiceError> {
        self.records.write(request).await
    }

    /// Voids a record (and writes its replacement) in the next group commit.
    pub(crate) async fn correct(
        &self,
        request: Correction,
    ) -> Result<CorrectLearningRecordResponse, ServiceError> {
        self.corrections.write(request).await
    }

    pub(crate) async fn learning_record(
        &self,
        id: &str,
    ) -> Result<Option<record::Model>, ServiceError> {
        Ok(record::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?)
    }

    /// The learner's first `limit` records by id, voided ones included.
    pub(crate) async fn records_of(
        &self,
        child_id: &str,
        limit: u64,
    ) -> Result<Vec<record::Model>, ServiceError> {
        Ok(record::Entity::find()
            .filter(record::Column::ChildId.eq(child_id))
            .order_by_asc(record::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?)
    }

    /// Up to `limit` of the learner's records by id, after `after`.
    pub(crate) async fn records_page(
        &self,
        child_id: &str,
        after: Option<String>,
        limit: u64,
    ) -> Result<Vec<record::Model>, ServiceError> {
        let mut query = record::Entity::find()
            .filter(record::Column::ChildId.eq(child_id))
            .order_by_asc(record::Column::Id);
        if let Some(after) = after {
            query = query.filter(record::Column::Id.gt(after));
        }
        Ok(query.limit(limit).all(&self.db).await?)
    }

    /// Writes an imported passport's records with their outbox events and the audit entry. A retry under
    /// the same key answers what it wrote; `already` (the passport's records are held for the learner)
    /// refuses a new key, since a second import would only duplicate them.
    pub(crate) async fn import_records(
        &self,
        entry: AuditEntry,
        key: IdempotencyKey,
        rows: &[record::Model],
        already: bool,
        now: i64,
    ) -> Result<Imported, ServiceError> {
        let txn = self.db.begin().await?;
        audit::append(&txn, &[entry]).await?;
        if let Some(ids) = replay(&txn, &key).await? {
            txn.rollback().await?;
            let stored = record::Entity::find()
                .filter(record::Column::Id.is_in(ids))
                .order_by_asc(record::Column::Id)
                .all(&self.db)
                .await?;
            return Ok(Imported::Replayed(stored));
        }
        if already {
            txn.rollback().await?;
            return Ok(Imported::Duplicate);
        }
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        for row in rows {
            record::Entity::insert(record::ActiveModel::from(row.clone()))
                .exec_without_returning(&txn)
                .await?;
            outbox::enqueue(
                &txn,
                LEARNING_STREAM,
                events::learning_recorded(&row.id, &row.child_id, &row.organisation, "", now),
            )
            .await?;
        }
        idempotency::remember(&txn, &key, &ids).await?;
        txn.commit().await?;
        Ok(Imported::Written)
    }
}
