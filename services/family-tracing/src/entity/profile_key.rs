//! Each profiled child's data key, wrapped by the family tracing master key. The child's identity in the
//! projection is sealed under it; the row goes when the profile goes (consent withdrawn, child erased
//! or merged away).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "child_profile_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub child_id: String,
    /// `haven_platform::sealing::WrappedKey` bytes.
    pub wrapped: Vec<u8>,
    pub generation: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
