//! One event for one subscription: the delivery log's entry and the dispatcher's work item. Unique on
//! (subscription, event), so fanning an event out again never delivers it twice.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    /// UUIDv7, sent as `webhook-id` on every attempt and replay.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub subscription_id: String,
    pub event_id: String,
    pub event_type: String,
    pub child_id: String,
    /// The JSON body, fixed at fan-out so every attempt signs the same bytes.
    pub payload: String,
    /// `pending`, `delivered`, `failed` or `withdrawn`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at_us: i64,
    /// The start of the current retry window: the fan-out, or the last replay. The delivery is given up
    /// `give_up_after_secs` after it.
    pub retry_since_us: i64,
    /// A dispatcher claimed it until then (0: unclaimed); a claim that outlives its dispatcher lapses.
    pub claimed_until_us: i64,
    /// The receiver's last HTTP status; 0 when it could not be reached.
    pub last_response_code: i32,
    /// Why the last attempt failed, for the operator's log view; never the receiver's body.
    pub last_error: String,
    pub created_at_us: i64,
    pub delivered_at_us: Option<i64>,
    pub updated_at_us: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
