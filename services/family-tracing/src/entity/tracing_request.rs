//! Tracing requests: the inquirer, the sought children, status and follow-ups.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "tracing_requests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub version: i64,
    pub owner: String,
    pub agency: String,
    /// `open`, `tracing`, `match_proposed`, `verified`, `reunified` or `closed`.
    pub status: String,
    /// The encoded `TracingRequest` body: inquirer, sought children, follow-ups. Sealed under the
    /// request's data key when `sealed` (every row the service writes); in clear only in rows written
    /// before encryption at rest, until the startup pass seals them.
    pub body: Vec<u8>,
    pub created_at_us: i64,
    pub created_by: String,
    pub updated_at_us: i64,
    pub updated_by: String,
    pub sealed: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
