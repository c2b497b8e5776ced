//! Keyed tags of every prefix of a child's current admin path: what the `location` scope filters on.
//! The location itself stays sealed in `whereabouts`; see `haven_authz::LocationKey`.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "child_location_tags")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub child_id: String,
    /// `haven_authz::tag_hex` of one prefix's tag.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tag: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
