//! Service-wide secret keys, wrapped by the master key like a child's data key (and re-wrapped with
//! them on rotation). Today: the key behind location tags.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "service_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// `haven_platform::sealing::WrappedKey` bytes; the key's name is the associated data.
    pub wrapped: Vec<u8>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
