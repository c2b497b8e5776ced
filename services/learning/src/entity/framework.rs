//! Curriculum frameworks; their subjects, levels and outcomes are rows of `curriculum_labels`.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "frameworks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    /// JSON object, language tag to title.
    pub titles: String,
    pub organisation: String,
    pub created_at_us: i64,
    pub updated_at_us: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
