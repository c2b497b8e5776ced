//! The change feed: one row per event per agency that could see the child when the event happened.
//! `seq` is given in commit order (see `crate::webhooks::fanout`), so a cursor on it never skips a row.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "partner_changes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    pub agency: String,
    pub event_id: String,
    pub event_type: String,
    pub child_id: String,
    pub version: i64,
    pub merged_into: String,
    pub occurred_at_us: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
