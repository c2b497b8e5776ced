//! An ordered log of projection changes. Every replica's in-memory index follows it from where it
//! stands, so each replica sees every change without reading the stream for itself.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "profile_changes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub seq: i64,
    pub child_id: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
