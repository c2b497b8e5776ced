//! The projection of identity's children this service scopes by: owner and agency, from `ChildChanged`.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "learner_children")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub child_id: String,
    pub owner: String,
    pub agency: String,
    /// The identity record version of the last event applied, so a late, older event changes nothing.
    pub version: i64,
}

/// Declared so a learner and their organisations load in one query (a join); the tables carry no
/// foreign key.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::affiliation::Entity")]
    Affiliations,
}

impl Related<super::affiliation::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Affiliations.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
