//! The idempotency table: one row per key a caller used for a write, with what the write produced.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    /// The caller's agency and subject: a subject is only unique within its agency.
    #[sea_orm(primary_key, auto_increment = false)]
    pub agency: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub subject: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub request_id: String,
    /// The full method path of the write that used the key.
    pub rpc: String,
    /// [`super::body_hash`] of the request, to tell a retry from another request under the same key.
    pub body_hash: String,
    /// The ids the first call created, comma-separated, in the order the service gave them.
    pub result_ids: String,
    pub created_at_us: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
