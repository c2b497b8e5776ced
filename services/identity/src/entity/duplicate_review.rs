//! Likely duplicates held by another agency, noticed at registration, and the reviews asked of their
//! owners. One row per (registered child, other record): a notice first, then a request and its answer.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "duplicate_reviews")]
pub struct Model {
    /// The notice id the registering caller was given; also the review's id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The child just registered, and the caller and agency that registered it.
    pub child_id: String,
    pub noticed_to: String,
    pub requesting_agency: String,
    /// The record another agency holds, never shown to the asking side before an acceptance.
    pub duplicate_child_id: String,
    pub owner_agency: String,
    /// `noticed`, `pending`, `accepted` or `declined`.
    pub status: String,
    /// `access` or `merge`; empty while only noticed.
    pub kind: String,
    /// Free text describing the evidence (not the child), protection class: never in the audit log.
    pub reason: String,
    pub answer_reason: String,
    pub requested_by: String,
    pub answered_by: String,
    pub noticed_at_us: i64,
    pub requested_at_us: i64,
    pub answered_at_us: i64,
}

pub const NOTICED: &str = "noticed";
pub const PENDING: &str = "pending";
pub const ACCEPTED: &str = "accepted";
pub const DECLINED: &str = "declined";

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
