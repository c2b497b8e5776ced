//! A partner client's webhook subscription. The signing secrets are kept wrapped by the master key, each
//! bound to the subscription and its generation (see `crate::webhooks::signing`).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_subscriptions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The client (`sub`) that created it; only it sees or changes it.
    pub owner: String,
    /// The client's agency: whose referrals decide what the subscription receives.
    pub agency: String,
    pub url: String,
    /// Comma-separated event types.
    pub event_types: String,
    /// Bumped on every rotation; part of the wrapped secret's associated data.
    pub secret_generation: i32,
    pub secret: Vec<u8>,
    /// The secret rotated out, signing beside the current one until `previous_expires_at_us`.
    pub previous_secret: Option<Vec<u8>>,
    pub previous_expires_at_us: Option<i64>,
    pub created_at_us: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
