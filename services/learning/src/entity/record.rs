//! Learning records. The body (the contract's `LearningRecord`, encoded) never changes; only the void
//! columns are ever set.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "learning_records")]
pub struct Model {
    /// UUIDv7: ordering by id is ordering by recording time.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub child_id: String,
    pub organisation: String,
    pub body: Vec<u8>,
    pub voided: bool,
    pub void_reason: Option<String>,
    pub voided_at_us: Option<i64>,
    pub voided_by: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
