//! The outbox table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    /// UUIDv7: ordering by id is ordering by commit.
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_id: String,
    pub stream: String,
    /// The encoded event envelope.
    pub payload: Vec<u8>,
    pub created_at_us: i64,
    pub sent_at_us: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
