//! The family tracing service's tables. A tracing request is stored as its encoded contract message
//! (class `tracing` as a whole) beside the attributes that scope and list it.

pub mod alert;
pub mod child_profile;
pub mod consumed_event;
pub mod create_request;
pub mod family_link;
pub mod profile_change;
pub mod review;
pub mod tracing_request;
