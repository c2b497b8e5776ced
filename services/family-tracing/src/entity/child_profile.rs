//! The projection matching works from: the identity of each registered child who consented to tracing,
//! as the identity service last showed it to this service. Nothing else of the child is kept.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "child_profiles")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub child_id: String,
    pub identity_version: i64,
    pub owner: String,
    pub agency: String,
    /// The encoded `haven.identity.v1.Identity`, sealed under the child's profile key when `sealed`.
    pub identity: Vec<u8>,
    pub registered_at_us: i64,
    pub sealed: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
