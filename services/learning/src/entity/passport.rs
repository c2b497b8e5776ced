//! Passports issued here: who issued them, and their revocation. An erased child leaves the row with no child id, so the status list stays whole.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "passports")]
pub struct Model {
    /// `urn:uuid:...`
    #[sea_orm(primary_key, auto_increment = false)]
    pub credential_id: String,
    pub child_id: Option<String>,
    pub organisation: String,
    pub issued_by: String,
    pub issued_at_us: i64,
    pub status_list_id: String,
    pub revoked_at_us: Option<i64>,
    pub revoked_by: Option<String>,
    pub revoke_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
