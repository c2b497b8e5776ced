//! Passports issued here: the issuance rows behind the status list, and their revocation.

use haven_platform::ServiceError;
use haven_platform::audit::{self, AuditEntry};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, EntityTrait, IntoActiveModel as _, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};

use super::Store;
use crate::entity::passport;

impl Store {
    /// Records an issued passport, with the audit entry.
    pub(crate) async fn record_issued(
        &self,
        entry: AuditEntry,
        row: passport::Model,
    ) -> Result<(), ServiceError> {
        let txn = self.db.begin().await?;
        audit::append(&txn, &[entry]).await?;
        passport::Entity::insert(row.into_active_model())
            .exec_without_returning(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// A passport issued here.
    pub(crate) async fn passport(
        &self,
        credential_id: &str,
    ) -> Result<Option<passport::Model>, ServiceError> {
        Ok(passport::Entity::find_by_id(credential_id.to_owned())
            .one(&self.db)
            .await?)
    }

    /// Marks the passport revoked unless it already is, with the audit entry.
    pub(crate) async fn revoke_passport(
        &self,
        entry: AuditEntry,
        credential_id: &str,
        revoked_by: String,
        reason: String,
        now: i64,
    ) -> Result<(), ServiceError> {
        let txn = self.db.begin().await?;
        audit::append(&txn, &[entry]).await?;
        passport::Entity::update_many()
            .col_expr(passport::Column::RevokedAtUs, Expr::value(now))
            .col_expr(passport::Column::RevokedBy, Expr::value(revoked_by))
            .col_expr(passport::Column::RevokeReason, Expr::value(reason))
            .filter(passport::Column::CredentialId.eq(credential_id))
            .filter(passport::Column::RevokedAtUs.is_null())
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// The credential ids revoked on the status list, in order.
    pub(crate) async fn revoked_credentials(
        &self,
        list_id: &str,
    ) -> Result<Vec<String>, ServiceError> {
        Ok(passport::Entity::find()
            .select_only()
            .column(passport::Column::CredentialId)
            .filter(passport::Column::StatusListId.eq(list_id))
            .filter(passport::Column::RevokedAtUs.is_not_null())
            .order_by_asc(passport::Column::CredentialId)
            .into_tuple::<String>()
            .all(&self.db)
            .await?)
    }
}
