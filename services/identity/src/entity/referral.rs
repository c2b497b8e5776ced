//! Referrals of a child's case to another agency, with the classes shared once accepted.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "referrals")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub child_id: String,
    pub from_agency: String,
    pub to_agency: String,
    pub service: String,
    /// `service`, `transfer` or `education` (a placement with a school; see [`EDUCATION`]).
    pub kind: String,
    /// Comma-separated data classes shared with the receiving agency.
    pub shared_classes: String,
    /// `pending`, `accepted`, `rejected`, `done` or `revoked`.
    pub status: String,
    pub consent_overridden: bool,
    /// Free text, protection class: kept here, never in the audit log.
    pub override_reason: String,
    pub request_id: String,
    pub body_hash: String,
    pub created_at_us: i64,
    pub created_by: String,
    pub updated_at_us: i64,
    pub updated_by: String,
}

/// The kind of an education referral: it gives the school's educators reach over the child (an
/// affiliation), never the partner scope, so it is left out wherever accepted referrals grant access.
pub const EDUCATION: &str = "education";

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
