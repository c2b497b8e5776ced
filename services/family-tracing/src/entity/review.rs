//! Reviews of (sought child, registered child) pairs. A rejected pair is never proposed again.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "match_reviews")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tracing_request_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub sought_child_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub child_id: String,
    /// `confirm` or `reject`.
    pub decision: String,
    /// Empty in every row the service writes: the reason is in `reason_sealed`. Only rows written before
    /// encryption at rest hold it here, until the startup pass seals them.
    pub reason: String,
    pub reviewed_by: String,
    pub reviewed_at_us: i64,
    pub score: f64,
    /// The reviewer's reason sealed under the tracing request's data key.
    pub reason_sealed: Option<Vec<u8>>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
