//! The family tracing service's tables. A tracing request is stored as its encoded contract message
//! (class `tracing` as a whole), sealed under the request's own data key, beside the attributes that
//! scope and list it, which stay clear so they can be queried.

pub mod alert;
pub mod child_profile;
pub mod family_link;
pub mod profile_change;
pub mod profile_key;
pub mod request_key;
pub mod review;
pub mod tracing_request;
