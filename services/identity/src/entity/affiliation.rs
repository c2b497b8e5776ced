//! Organisations a child is affiliated with as a learner: the scope of educators.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "child_affiliations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub child_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub organisation: String,
    /// `registered` (an educator of the organisation registered the learner), `referred` (the case's
    /// owner placed the child with the school: an education referral) or `enrolled` (enrolled there
    /// since; a revoked placement no longer ends it).
    pub kind: String,
}

/// An educator of the organisation registered the learner.
pub const REGISTERED: &str = "registered";
/// The case's owner placed the child with the school (an education referral).
pub const PLACED: &str = "referred";
/// A placement the school has enrolled the child under since.
pub const ENROLLED: &str = "enrolled";

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
