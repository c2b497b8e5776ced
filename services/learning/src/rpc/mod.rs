//! The `haven.learning.v1.LearningRecords` handlers, one module per area: check the caller and the input,
//! decide with [`crate::access`], persist through [`crate::store`], answer with the contract's messages.
//! `LearningService` itself (in `service.rs`) only authenticates and delegates here.

mod curricula;
mod enrolments;
mod passports;
mod records;

use haven_authz::{ClassSet, DataClass, Principal};
use haven_platform::audit::AuditEntry;

pub use passports::STATUS_LIST_ID;

/// The audit entry of one call about one record (a child, a framework, or none).
fn entry(
    principal: &Principal,
    action: &'static str,
    rpc: &'static str,
    record_id: &str,
) -> AuditEntry {
    AuditEntry::of_call(
        principal,
        action,
        rpc,
        record_id,
        ClassSet::of(&[DataClass::Education]),
    )
}
