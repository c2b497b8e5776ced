//! Merges of duplicate registrations: which record went into which, who merged them, when and why.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "child_merges")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub from_child_id: String,
    pub into_child_id: String,
    pub merged_at_us: i64,
    pub merged_by: String,
    pub reason: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
