//! Input validation. Every violation names the field by its path in the request; no message echoes a
//! submitted value.

use chrono::Datelike as _;
use haven_platform::ServiceError;
pub(crate) use haven_platform::Violations;
use haven_proto::learning::{LearningRecord, PassportRecipient, RecordKind};

use crate::curriculum::is_code;

const MAX_TITLE: usize = 200;
const MAX_TEXT: usize = 2000;
const MAX_NAME: usize = 200;
const MAX_OUTCOMES: usize = 64;

pub(crate) fn text(v: &mut Violations, field: &str, value: &str, max: usize) {
    v.text(field, value, max);
}

pub(crate) fn request_id(value: &str) -> Result<(), ServiceError> {
    if value.is_empty() || value.chars().count() > 128 || value.chars().any(char::is_control) {
        return Err(ServiceError::invalid(
            "request_id",
            "must be 1 to 128 characters",
        ));
    }
    Ok(())
}

/// A UUID id (children, enrolments, records).
pub(crate) fn id(field: &str, value: &str) -> Result<(), ServiceError> {
    let mut v = Violations::default();
    haven_platform::validate::record_id(&mut v, field, value);
    v.finish()
}

fn optional_code(v: &mut Violations, field: &str, value: &str) {
    if !value.is_empty() && !is_code(value) {
        v.add(field, "must be a code of letters, digits, '.', '-' or '_'");
    }
}

/// What a framework reference in a request must look like: empty, or a framework with subject and level
/// (`require_level`) or with optional narrowing.
pub(crate) fn curriculum_ref(
    v: &mut Violations,
    prefix: &str,
    framework: &str,
    subject: &str,
    level: &str,
    require_level: bool,
) {
    optional_code(v, &format!("{prefix}framework_code"), framework);
    optional_code(v, &format!("{prefix}subject_code"), subject);
    optional_code(v, &format!("{prefix}level_code"), level);
    if framework.is_empty() && !(subject.is_empty() && level.is_empty()) {
        v.add(
            format!("{prefix}framework_code"),
            "is required with a subject or level",
        );
    }
    if !framework.is_empty() && require_level && (subject.is_empty() || level.is_empty()) {
        v.add(
            format!("{prefix}level_code"),
            "subject_code and level_code are required with a framework",
        );
    }
    if !level.is_empty() && subject.is_empty() {
        v.add(format!("{prefix}subject_code"), "is required with a level");
    }
}

/// A new learning record as a caller submits it (server-set fields are ignored, not checked).
pub(crate) fn record(prefix: &str, record: &LearningRecord) -> Result<(), ServiceError> {
    let mut v = Violations::default();
    id(&format!("{prefix}child_id"), &record.child_id)
        .unwrap_or_else(|_| v.add(format!("{prefix}child_id"), "must be a UUID"));
    let kind = RecordKind::try_from(record.kind).unwrap_or(RecordKind::Unspecified);
    if kind == RecordKind::Unspecified {
        v.add(format!("{prefix}kind"), "is required");
    }
    curriculum_ref(
        &mut v,
        prefix,
        &record.framework_code,
        &record.subject_code,
        &record.level_code,
        true,
    );
    if record.outcome_codes.len() > MAX_OUTCOMES {
        v.add(
            format!("{prefix}outcome_codes"),
            &format!("must have at most {MAX_OUTCOMES} entries"),
        );
    }
    for (i, code) in record.outcome_codes.iter().enumerate() {
        if !is_code(code) {
            v.add(format!("{prefix}outcome_codes[{i}]"), "is not a code");
        }
    }
    if !record.outcome_codes.is_empty() && record.framework_code.is_empty() {
        v.add(
            format!("{prefix}framework_code"),
            "is required with outcome codes",
        );
    }
    if kind == RecordKind::Outcomes && record.outcome_codes.is_empty() {
        v.add(
            format!("{prefix}outcome_codes"),
            "must name the outcomes achieved",
        );
    }
    match (&record.assessment, kind) {
        (None, RecordKind::Assessment) => v.add(
            format!("{prefix}assessment"),
            "is required for an assessment",
        ),
        (Some(_), k) if k != RecordKind::Assessment => v.add(
            format!("{prefix}assessment"),
            "is only for assessment records",
        ),
        (Some(a), _) => {
            let field = format!("{prefix}assessment");
            if !a.raw_score.is_finite() || !a.max_score.is_finite() || a.raw_score < 0.0 {
                v.add(
                    format!("{field}.raw_score"),
                    "must be a number of at least 0",
                );
            }
            if a.max_score < 0.0 || (a.max_score > 0.0 && a.raw_score > a.max_score) {
                v.add(
                    format!("{field}.max_score"),
                    "must be 0 (none) or at least raw_score",
                );
            }
            if let Some(scaled) = a.scaled_score
                && !(0.0..=100.0).contains(&scaled)
            {
                v.add(format!("{field}.scaled_score"), "must be 0 to 100");
            }
            text(&mut v, &format!("{field}.grade"), &a.grade, 32);
            text(&mut v, &format!("{field}.grade_scale"), &a.grade_scale, 64);
            if a.max_score == 0.0 && a.scaled_score.is_none() && a.grade.trim().is_empty() {
                v.add(
                    field,
                    "needs a score (max_score or scaled_score) or a grade",
                );
            }
        }
        (None, _) => {}
    }
    if record.title.trim().is_empty() {
        v.add(format!("{prefix}title"), "is required");
    }
    text(&mut v, &format!("{prefix}title"), &record.title, MAX_TITLE);
    text(
        &mut v,
        &format!("{prefix}evidence"),
        &record.evidence,
        MAX_TEXT,
    );
    if let Some(at) = &record.occurred_at {
        let tomorrow = chrono::Utc::now().timestamp() + 86_400;
        if at.seconds > tomorrow || at.seconds < 0 {
            v.add(format!("{prefix}occurred_at"), "must not be in the future");
        }
    }
    v.finish()
}

/// The passport's recipient: names for a named passport (birth year optional), a name to hash otherwise.
pub(crate) fn recipient(recipient: Option<&PassportRecipient>) -> Result<(), ServiceError> {
    let Some(r) = recipient else {
        return Err(ServiceError::invalid("recipient", "is required"));
    };
    let mut v = Violations::default();
    if r.given_name.trim().is_empty() && r.family_name.trim().is_empty() {
        v.add("recipient.given_name", "a given or family name is required");
    }
    text(&mut v, "recipient.given_name", &r.given_name, MAX_NAME);
    text(&mut v, "recipient.family_name", &r.family_name, MAX_NAME);
    let this_year = chrono::Utc::now().year();
    if r.birth_year != 0 && !(this_year - 30..=this_year).contains(&r.birth_year) {
        v.add(
            "recipient.birth_year",
            "must be within the last 30 years, or 0",
        );
    }
    v.finish()
}

pub(crate) fn reason(field: &str, value: &str, min: usize) -> Result<(), ServiceError> {
    let count = value.trim().chars().count();
    if count < min || count > MAX_TEXT || value.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ServiceError::invalid(
            field,
            format!("must say why, in {min} to {MAX_TEXT} characters"),
        ));
    }
    Ok(())
}
