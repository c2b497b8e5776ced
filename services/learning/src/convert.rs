//! Conversions between stored rows and contract messages, one each, plus time helpers.

use haven_authz::{Principal, Role};
use haven_platform::ServiceError;
use haven_proto::learning::{Attendance, Enrolment, LearningRecord};
use prost::Message as _;

use crate::entity::{enrolment, record};

pub(crate) use haven_platform::time::{now_micros, timestamp};

pub(crate) fn micros_of(ts: &prost_types::Timestamp) -> i64 {
    ts.seconds
        .saturating_mul(1_000_000)
        .saturating_add(i64::from(ts.nanos / 1000))
}

pub(crate) fn enrolment_view(row: &enrolment::Model) -> Enrolment {
    Enrolment {
        id: row.id.clone(),
        version: row.version,
        child_id: row.child_id.clone(),
        organisation: row.organisation.clone(),
        programme: row.programme.clone(),
        framework_code: row.framework_code.clone(),
        subject_code: row.subject_code.clone(),
        level_code: row.level_code.clone(),
        status: row.status,
        attendance: Some(Attendance {
            sessions_held: u32::try_from(row.sessions_held).unwrap_or(u32::MAX),
            sessions_attended: u32::try_from(row.sessions_attended).unwrap_or(u32::MAX),
            as_of: row.attendance_as_of_us.map(timestamp),
        }),
        enrolled_at: Some(timestamp(row.enrolled_at_us)),
        enrolled_by: row.enrolled_by.clone(),
        updated_at: Some(timestamp(row.updated_at_us)),
        updated_by: row.updated_by.clone(),
    }
}

/// The stored body with the void columns laid over it, and the child it now belongs to (a merge of
/// duplicate registrations moves records without rewriting their bodies).
pub(crate) fn record_view(row: &record::Model) -> Result<LearningRecord, ServiceError> {
    let mut view = LearningRecord::decode(row.body.as_slice())
        .map_err(|e| ServiceError::Internal(format!("learning record {} body: {e}", row.id)))?;
    view.child_id.clone_from(&row.child_id);
    view.voided = row.voided;
    view.void_reason = row.void_reason.clone().unwrap_or_default();
    view.voided_at = row.voided_at_us.map(timestamp);
    view.voided_by = row.voided_by.clone().unwrap_or_default();
    Ok(view)
}

/// The stored form of a new record: the caller's content with every server-set field set here.
pub(crate) fn new_record(
    principal: &Principal,
    mut body: LearningRecord,
    replaces: &str,
    now: i64,
) -> record::Model {
    let id = uuid::Uuid::now_v7().to_string();
    body.id = id.clone();
    body.organisation = principal.agency.clone();
    body.recorded_by = principal.sub.clone();
    if body.recorder_role.is_empty() {
        body.recorder_role = if principal.has_role(Role::Lms) {
            "lms"
        } else {
            "educator"
        }
        .into();
    }
    body.recorded_at = Some(timestamp(now));
    body.replaces = replaces.to_owned();
    body.voided = false;
    body.void_reason.clear();
    body.voided_at = None;
    body.voided_by.clear();
    if body.occurred_at.is_none() {
        body.occurred_at = Some(timestamp(now));
    }
    body.outcome_codes.sort();
    body.outcome_codes.dedup();
    record::Model {
        id,
        child_id: body.child_id.clone(),
        organisation: principal.agency.clone(),
        body: body.encode_to_vec(),
        voided: false,
        void_reason: None,
        voided_at_us: None,
        voided_by: None,
    }
}
