//! The family tracing RPCs, one module per area; `service.rs` only delegates to them.

pub(crate) mod alerts;
pub(crate) mod links;
pub(crate) mod matches;
pub(crate) mod requests;
