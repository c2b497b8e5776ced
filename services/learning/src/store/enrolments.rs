//! Enrolments in the database: creating one under an idempotency key, updating one under its version,
//! and reading them.

use haven_platform::ServiceError;
use haven_platform::audit::{self, AuditEntry};
use haven_platform::outbox;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait};

use super::{Store, replay};
use crate::entity::enrolment;
use crate::events::{self, LEARNING_STREAM};
use haven_platform::idempotency::{self, IdempotencyKey};

/// The columns an UpdateEnrolment sets, as its mask and body asked.
#[derive(Debug)]
pub(crate) struct EnrolmentChanges {
    pub(crate) status: Option<i32>,
    /// Sessions held, sessions attended, and as of when.
    pub(crate) attendance: Option<(i64, i64, i64)>,
    pub(crate) updated_by: String,
    pub(crate) now: i64,
}

/// What an update under a version did.
#[derive(Debug)]
pub(crate) enum EnrolmentUpdate {
    Updated(Box<enrolment::Model>),
    /// The enrolment has moved on from the expected version: this is its current one.
    Stale(i64),
}

impl Store {
    /// Creates the enrolment with its outbox event and audit entry, or, for a retry, answers the one the
    /// key created.
    pub(crate) async fn enrol(
        &self,
        entry: AuditEntry,
        key: IdempotencyKey,
        row: enrolment::Model,
    ) -> Result<enrolment::Model, ServiceError> {
        let txn = self.db.begin().await?;
        audit::append(&txn, &[entry]).await?;
        if let Some(ids) = replay(&txn, &key).await? {
            txn.rollback().await?;
            let id = ids.first().cloned().unwrap_or_default();
            return self
                .enrolment(&id)
                .await?
                .ok_or(ServiceError::NotFound("enrolment"));
        }
        enrolment::Entity::insert(enrolment::ActiveModel::from(row.clone()))
            .exec_without_returning(&txn)
            .await?;
        outbox::enqueue(
            &txn,
            LEARNING_STREAM,
            events::learner_enrolled(
                &row.child_id,
                &row.organisation,
                &row.id,
                row.enrolled_at_us,
            ),
        )
        .await?;
        idempotency::remember(&txn, &key, std::slice::from_ref(&row.id)).await?;
        txn.commit().await?;
        Ok(row)
    }

    pub(crate) async fn enrolment(
        &self,
        id: &str,
    ) -> Result<Option<enrolment::Model>, ServiceError> {
        Ok(enrolment::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?)
    }

    /// Applies the changes if the enrolment is still at `expected_version`, with the audit entry.
    pub(crate) async fn update_enrolment(
        &self,
        entry: AuditEntry,
        id: &str,
        expected_version: i64,
        changes: EnrolmentChanges,
    ) -> Result<EnrolmentUpdate, ServiceError> {
        let txn = self.db.begin().await?;
        audit::append(&txn, &[entry]).await?;
        let mut update = enrolment::Entity::update_many()
            .col_expr(
                enrolment::Column::Version,
                Expr::value(expected_version + 1),
            )
            .col_expr(enrolment::Column::UpdatedAtUs, Expr::value(changes.now))
            .col_expr(
                enrolment::Column::UpdatedBy,
                Expr::value(changes.updated_by),
            )
            .filter(enrolment::Column::Id.eq(id))
            .filter(enrolment::Column::Version.eq(expected_version));
        if let Some(status) = changes.status {
            update = update.col_expr(enrolment::Column::Status, Expr::value(status));
        }
        if let Some((held, attended, as_of)) = changes.attendance {
            update = update
                .col_expr(enrolment::Column::SessionsHeld, Expr::value(held))
                .col_expr(enrolment::Column::SessionsAttended, Expr::value(attended))
                .col_expr(enrolment::Column::AttendanceAsOfUs, Expr::value(as_of));
        }
        if update.exec(&txn).await?.rows_affected == 0 {
            txn.rollback().await?;
            let version = self
                .enrolment(id)
                .await?
                .map(|r| r.version)
                .unwrap_or_default();
            return Ok(EnrolmentUpdate::Stale(version));
        }
        txn.commit().await?;
        let row = self
            .enrolment(id)
            .await?
            .ok_or(ServiceError::NotFound("enrolment"))?;
        Ok(EnrolmentUpdate::Updated(Box::new(row)))
    }

    /// Up to `limit` of the learner's enrolments by id, after `after`.
    pub(crate) async fn enrolments_page(
        &self,
        child_id: &str,
        after: Option<String>,
        limit: u64,
    ) -> Result<Vec<enrolment::Model>, ServiceError> {
        let mut query = enrolment::Entity::find()
            .filter(enrolment::Column::ChildId.eq(child_id))
            .order_by_asc(enrolment::Column::Id);
        if let Some(after) = after {
            query = query.filter(enrolment::Column::Id.gt(after));
        }
        Ok(query.limit(limit).all(&self.db).await?)
    }
}
