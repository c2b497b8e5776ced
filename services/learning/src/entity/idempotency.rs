//! Idempotency keys of creating RPCs, per caller: a retry returns the first result.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "learning_requests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub principal: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub request_id: String,
    /// Which RPC used the key, and SHA-256 of the encoded request, to tell a retry from a new request.
    pub rpc: String,
    pub body_hash: String,
    /// The ids the first call created, comma-separated.
    pub result_ids: String,
    pub created_at_us: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
