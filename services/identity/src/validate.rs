//! Input validation. Every violation names the field by its path in the request; no message echoes a
//! submitted value, since it may be protected data.

use haven_platform::validate::name;
use haven_platform::{FieldViolation, Violations};
use haven_proto::common::Location;
use haven_proto::identity::{
    CaseStatus, Child, Identity, ProtectionCase, ProtectionConcern, RiskLevel, SeparationCause,
    Sex, Whereabouts, identity::Birth,
};

const MAX_NAME: usize = 200;
const MAX_TEXT: usize = 2000;
const MAX_LIST: usize = 32;
const MAX_CAUSES: usize = 8;

/// Collects violations so one response can name every bad field at once.
fn text(v: &mut Violations, field: &str, value: &str, max: usize) {
    v.text(field, value, max);
}

fn list<T>(v: &mut Violations, field: &str, items: &[T]) {
    if items.len() > MAX_LIST {
        v.add(field, &format!("must have at most {MAX_LIST} entries"));
    }
}

fn enum_value<E: TryFrom<i32>>(v: &mut Violations, field: &str, value: i32) {
    if E::try_from(value).is_err() {
        v.add(field, "is not a known value");
    }
}

pub(crate) use haven_platform::validate::{age_range, partial_date};

fn location(v: &mut Violations, field: &str, location: &Location) {
    haven_platform::validate::location(v, field, location, MAX_NAME, MAX_TEXT);
}

pub(crate) fn identity(v: &mut Violations, field: &str, identity: &Identity) {
    if identity.given_name.trim().is_empty() && identity.family_name.trim().is_empty() {
        v.add(
            format!("{field}.given_name"),
            "given_name or family_name is required",
        );
    }
    name(
        v,
        &format!("{field}.given_name"),
        &identity.given_name,
        MAX_NAME,
    );
    name(
        v,
        &format!("{field}.family_name"),
        &identity.family_name,
        MAX_NAME,
    );
    name(
        v,
        &format!("{field}.father_name"),
        &identity.father_name,
        MAX_NAME,
    );
    name(
        v,
        &format!("{field}.mother_name"),
        &identity.mother_name,
        MAX_NAME,
    );
    for (part, value) in [
        ("grandfather_name", &identity.grandfather_name),
        ("patronymic", &identity.patronymic),
        ("nickname", &identity.nickname),
    ] {
        name(v, &format!("{field}.{part}"), value, MAX_NAME);
    }
    list(v, &format!("{field}.other_names"), &identity.other_names);
    for (i, name) in identity.other_names.iter().enumerate() {
        if name.is_empty() {
            v.add(format!("{field}.other_names[{i}]"), "must not be empty");
        }
        self::name(v, &format!("{field}.other_names[{i}]"), name, MAX_NAME);
    }
    enum_value::<Sex>(v, &format!("{field}.sex"), identity.sex);
    match &identity.birth {
        Some(Birth::DateOfBirth(date)) => partial_date(v, &format!("{field}.date_of_birth"), date),
        Some(Birth::AgeEstimate(age)) => age_range(v, &format!("{field}.age_estimate"), age),
        None => {}
    }
    if let Some(date) = &identity.date_of_birth_recorded {
        partial_date(v, &format!("{field}.date_of_birth_recorded"), date);
        if matches!(&identity.birth, Some(Birth::DateOfBirth(old)) if old != date) {
            v.add(
                format!("{field}.date_of_birth_recorded"),
                "must agree with date_of_birth when both are given",
            );
        }
    }
    if let Some(age) = &identity.assessed_age {
        age_range(v, &format!("{field}.assessed_age"), age);
        if matches!(&identity.birth, Some(Birth::AgeEstimate(old)) if old != age) {
            v.add(
                format!("{field}.assessed_age"),
                "must agree with age_estimate when both are given",
            );
        }
    }
    haven_platform::validate::country_codes(
        v,
        &format!("{field}.nationalities"),
        &identity.nationalities,
    );
    haven_platform::validate::language_tags(v, &format!("{field}.languages"), &identity.languages);
    text(
        v,
        &format!("{field}.place_of_birth"),
        &identity.place_of_birth,
        MAX_NAME,
    );
}

pub(crate) fn whereabouts(v: &mut Violations, field: &str, w: &Whereabouts) {
    if let Some(loc) = &w.current_location {
        location(v, &format!("{field}.current_location"), loc);
    }
    text(v, &format!("{field}.address"), &w.address, MAX_TEXT);
    let phone_ok = w
        .phone
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')'));
    if !phone_ok || w.phone.len() > 40 {
        v.add(
            format!("{field}.phone"),
            "must be digits with optional + - ( ) and spaces, at most 40",
        );
    }
    text(
        v,
        &format!("{field}.caregiver_name"),
        &w.caregiver_name,
        MAX_NAME,
    );
    text(
        v,
        &format!("{field}.caregiver_relation"),
        &w.caregiver_relation,
        MAX_NAME,
    );
    list(v, &format!("{field}.id_documents"), &w.id_documents);
    for (i, doc) in w.id_documents.iter().enumerate() {
        let path = format!("{field}.id_documents[{i}]");
        if doc.kind.trim().is_empty() {
            v.add(format!("{path}.kind"), "must not be empty");
        }
        text(v, &format!("{path}.kind"), &doc.kind, MAX_NAME);
        text(v, &format!("{path}.number"), &doc.number, MAX_NAME);
        if !doc.issuing_country.is_empty()
            && (doc.issuing_country.len() != 2
                || !doc.issuing_country.chars().all(|c| c.is_ascii_uppercase()))
        {
            v.add(
                format!("{path}.issuing_country"),
                "must be an ISO 3166-1 alpha-2 code",
            );
        }
    }
}

pub(crate) fn protection(v: &mut Violations, field: &str, p: &ProtectionCase) {
    if let Some(date) = &p.separation_date {
        partial_date(v, &format!("{field}.separation_date"), date);
    }
    text(
        v,
        &format!("{field}.separation_place"),
        &p.separation_place,
        MAX_TEXT,
    );
    enum_value::<SeparationCause>(v, &format!("{field}.separation_cause"), p.separation_cause);
    haven_platform::validate::enum_list(
        v,
        &format!("{field}.separation_causes"),
        &p.separation_causes,
        MAX_CAUSES,
        |c| SeparationCause::try_from(c).is_ok(),
    );
    if p.separation_cause != 0
        && !p.separation_causes.is_empty()
        && !p.separation_causes.contains(&p.separation_cause)
    {
        v.add(
            format!("{field}.separation_cause"),
            "must be one of separation_causes when both are given",
        );
    }
    text(
        v,
        &format!("{field}.separation_circumstances"),
        &p.separation_circumstances,
        MAX_TEXT,
    );
    text(
        v,
        &format!("{field}.last_seen_place"),
        &p.last_seen_place,
        MAX_TEXT,
    );
    if let Some(loc) = &p.last_seen_location {
        location(v, &format!("{field}.last_seen_location"), loc);
    }
    list(v, &format!("{field}.concerns"), &p.concerns);
    for (i, concern) in p.concerns.iter().enumerate() {
        enum_value::<ProtectionConcern>(v, &format!("{field}.concerns[{i}]"), *concern);
    }
    enum_value::<RiskLevel>(v, &format!("{field}.risk_level"), p.risk_level);
    list(v, &format!("{field}.family_members"), &p.family_members);
    for (i, member) in p.family_members.iter().enumerate() {
        let path = format!("{field}.family_members[{i}]");
        text(v, &format!("{path}.name"), &member.name, MAX_NAME);
        text(v, &format!("{path}.relation"), &member.relation, MAX_NAME);
        text(
            v,
            &format!("{path}.last_known_location"),
            &member.last_known_location,
            MAX_TEXT,
        );
    }
    enum_value::<CaseStatus>(v, &format!("{field}.status"), p.status);
}

/// Validates a whole child (the body of RegisterChild, or a child after an update is applied).
pub(crate) fn child(field: &str, child: &Child) -> Result<(), Vec<FieldViolation>> {
    let mut v = Violations::default();
    match &child.identity {
        Some(id) => identity(&mut v, &format!("{field}.identity"), id),
        None => v.add(format!("{field}.identity"), "is required"),
    }
    if let Some(w) = &child.whereabouts {
        whereabouts(&mut v, &format!("{field}.whereabouts"), w);
    }
    if let Some(p) = &child.protection {
        protection(&mut v, &format!("{field}.protection"), p);
    }
    v.into_result()
}

/// A record id must be a UUID; anything else is a client bug, not a missing record.
pub(crate) fn record_id(field: &str, id: &str) -> Result<uuid::Uuid, Vec<FieldViolation>> {
    let mut v = Violations::default();
    let parsed = haven_platform::validate::record_id(&mut v, field, id);
    v.into_result()?;
    parsed.ok_or_else(|| vec![FieldViolation::new(field, "must be a UUID")])
}

pub(crate) fn request_id(request_id: &str) -> Result<(), Vec<FieldViolation>> {
    let mut v = Violations::default();
    haven_platform::validate::request_id(&mut v, request_id);
    v.into_result()
}

#[cfg(test)]
mod tests {
    use super::*;
    use haven_proto::common::PartialDate;

    fn named(given: &str) -> Child {
        Child {
            identity: Some(Identity {
                given_name: given.into(),
                ..Identity::default()
            }),
            ..Child::default()
        }
    }

    #[test]
    fn a_child_needs_a_name() {
        let err = child("child", &named("  ")).expect_err("rejected");
        assert_eq!(err[0].field, "child.identity.given_name");
    }

    #[test]
    fn partial_dates_are_checked_part_by_part() {
        let mut c = named("Amina");
        if let Some(id) = c.identity.as_mut() {
            id.birth = Some(Birth::DateOfBirth(PartialDate {
                year: 2015,
                month: Some(2),
                day: Some(30),
                estimated: false,
            }));
        }
        let err = child("child", &c).expect_err("rejected");
        assert_eq!(err[0].field, "child.identity.date_of_birth.day");

        let mut v = Violations::default();
        partial_date(
            &mut v,
            "d",
            &PartialDate {
                year: 2015,
                month: None,
                day: Some(3),
                estimated: true,
            },
        );
        assert_eq!(v.into_result().expect_err("invalid")[0].field, "d.day");
        let mut ok = Violations::default();
        partial_date(
            &mut ok,
            "d",
            &PartialDate {
                year: 2015,
                month: None,
                day: None,
                estimated: true,
            },
        );
        assert!(ok.into_result().is_ok());
    }

    #[test]
    fn violations_never_echo_the_value() {
        let mut c = named("Amina");
        if let Some(id) = c.identity.as_mut() {
            id.nationalities = vec!["secret-value".into()];
        }
        let err = child("child", &c).expect_err("rejected");
        assert!(err.iter().all(|v| !v.description.contains("secret-value")));
    }

    #[test]
    fn unknown_enum_numbers_are_rejected() {
        let mut c = named("Amina");
        c.protection = Some(ProtectionCase {
            risk_level: 99,
            ..ProtectionCase::default()
        });
        let err = child("child", &c).expect_err("rejected");
        assert_eq!(err[0].field, "child.protection.risk_level");
    }
}
