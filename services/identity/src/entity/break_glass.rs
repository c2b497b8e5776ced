//! Break-glass grants: one subject may read one case outside their scope until the grant expires.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "break_glass_grants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub child_id: String,
    pub holder: String,
    pub agency: String,
    /// The agency that owns the case: its supervisors are alerted too.
    pub child_agency: String,
    /// Free text, protection class: kept here, never in the audit log.
    pub reason: String,
    pub granted_at_us: i64,
    pub expires_at_us: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
