//! One outcome of a framework in one language, with its subject and level labels: a row per CSV row.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "curriculum_labels")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub framework_code: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub subject_code: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub level_code: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub outcome_code: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub lang: String,
    pub subject_label: String,
    pub level_label: String,
    pub outcome_label: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
