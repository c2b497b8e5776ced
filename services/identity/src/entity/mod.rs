//! The identity service's tables. Each data class of a child is stored as its own column, encoded as the
//! contract's protobuf sub-message, so redaction and (later) per-class encryption work on whole classes.

pub mod affiliation;
pub mod assignment;
pub mod break_glass;
pub mod child;
pub mod child_key;
pub mod duplicate_review;
pub mod erasure;
pub mod location_tag;
pub mod merge;
pub mod name_key;
pub mod partner_change;
pub mod referral;
pub mod service_key;
pub mod webhook_delivery;
pub mod webhook_subscription;
