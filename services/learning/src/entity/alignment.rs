//! Outcome alignments across frameworks, stored in both directions. Keys are `framework/subject/level/outcome`.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outcome_alignments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub from_outcome: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub to_outcome: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
