//! Family links found through tracing: a child to its inquiring relative, and siblings to each other.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "family_links")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub child_id: String,
    /// Another registered child, or empty when the relative is the inquirer.
    pub relative_child_id: String,
    /// Empty in every row the service writes: the name is in `relative_name_sealed`. Only rows written
    /// before encryption at rest hold it here, until the startup pass seals them.
    pub relative_name: String,
    pub relation: String,
    pub tracing_request_id: String,
    pub linked_at_us: i64,
    /// The relative's name sealed under the tracing request's data key.
    pub relative_name_sealed: Option<Vec<u8>>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
