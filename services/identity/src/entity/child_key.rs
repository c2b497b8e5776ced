//! Each child's data key, wrapped by the deployment master key. Whereabouts and protection are sealed
//! under it; destroying this row crypto-shreds them. Kept in its own table so it can later move to a
//! store with its own backup policy.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "child_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub child_id: String,
    /// `platform::sealing::WrappedKey` bytes (master key version, nonce, wrapped key).
    pub wrapped: Vec<u8>,
    /// The data-key generation the child's sealed fields name in their associated data.
    pub generation: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
