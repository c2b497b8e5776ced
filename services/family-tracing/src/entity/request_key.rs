//! Each tracing request's data key, wrapped by the family tracing master key. The request's body (the
//! inquirer, the sought children, follow-up notes), its review reasons and the inquirer's name on its
//! family links are sealed under it; deleting this row crypto-erases all of them, backups included.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tracing_request_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tracing_request_id: String,
    /// `haven_platform::sealing::WrappedKey` bytes (master key version, nonce, wrapped key).
    pub wrapped: Vec<u8>,
    /// The data-key generation the sealed values name in their associated data.
    pub generation: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
