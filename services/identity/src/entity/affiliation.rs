//! Organisations a child is affiliated with as a learner: the scope of educators.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "child_affiliations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub child_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub organisation: String,
    /// `registered` (an educator of the organisation registered the learner) or `enrolled`.
    pub kind: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
