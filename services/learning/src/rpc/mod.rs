//! The `haven.learning.v1.LearningRecords` handlers, one module per area: check the caller and the input,
//! decide with [`crate::access`], persist through [`crate::store`], answer with the contract's messages.
//! `LearningService` itself (in `service.rs`) only authenticates and delegates here.

mod curricula;
mod enrolments;
mod passports;
mod records;

use haven_authz::{DataClass, Principal};
use haven_platform::audit::AuditEntry;

pub use passports::STATUS_LIST_ID;

/// The audit entry of one call about one record (a child, a framework, or none).
fn entry(
    principal: &Principal,
    action: &'static str,
    rpc: &'static str,
    record_id: &str,
) -> AuditEntry {
    AuditEntry {
        actor: principal.sub.clone(),
        roles: principal
            .roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(","),
        agency: principal.agency.clone(),
        action,
        rpc,
        record_id: record_id.to_owned(),
        classes: DataClass::Education.as_str().to_owned(),
    }
}
