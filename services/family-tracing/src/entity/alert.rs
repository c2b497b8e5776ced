//! Alerts: a likely match appeared for an open request (a new child registered, or a new request).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "match_alerts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tracing_request_id: String,
    pub sought_child_id: String,
    pub child_id: String,
    pub score: f64,
    pub raised_at_us: i64,
    /// The request's owner and agency, so an officer's alerts are one indexed lookup.
    pub owner: String,
    pub agency: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
