//! The one conversion each way between the contract, the identity projection and haven-matching's
//! types. Matching sees names, sex, birth and parents; never contact details or circumstances.

use haven_matching as matching;
use haven_proto::common::{AgeRange, PartialDate};
use haven_proto::family_tracing::{
    CandidateIdentity, Evidence, Inquirer, Relation, Sex, SoughtChild, Strength,
};
use haven_proto::identity::{Identity, identity::Birth};

/// A UUID string as the index's record id; `None` for anything that is not a UUID.
pub(crate) fn record_id(id: &str) -> Option<matching::RecordId> {
    uuid::Uuid::parse_str(id).ok().map(|u| u.as_u128())
}

pub(crate) fn child_id(id: matching::RecordId) -> String {
    uuid::Uuid::from_u128(id).to_string()
}

/// A calendar day from microseconds since the epoch (UTC).
pub(crate) fn day_of(micros: i64) -> matching::Day {
    let date = chrono::DateTime::from_timestamp_micros(micros)
        .unwrap_or_default()
        .date_naive();
    day_from(date)
}

fn day_from(date: chrono::NaiveDate) -> matching::Day {
    use chrono::Datelike as _;
    matching::Day {
        year: date.year(),
        month: date.month() as u8,
        day: date.day() as u8,
    }
}

fn partial_date(date: &PartialDate) -> matching::PartialDate {
    let small = |v: Option<i32>| v.and_then(|v| u8::try_from(v).ok());
    matching::PartialDate {
        year: date.year,
        month: small(date.month),
        day: small(date.day),
        estimated: date.estimated,
    }
}

fn age_estimate(age: &AgeRange, fallback: matching::Day) -> matching::AgeEstimate {
    let assessed_on = age
        .assessed_at
        .as_ref()
        .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0))
        .map(|t| day_from(t.date_naive()))
        .unwrap_or(fallback);
    matching::AgeEstimate {
        min_years: age.min_years,
        max_years: age.max_years.max(age.min_years),
        assessed_on,
    }
}

fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn identity_sex(sex: i32) -> matching::Sex {
    use haven_proto::identity::Sex as IdentitySex;
    match IdentitySex::try_from(sex) {
        Ok(IdentitySex::Female) => matching::Sex::Female,
        Ok(IdentitySex::Male) => matching::Sex::Male,
        _ => matching::Sex::Unknown,
    }
}

fn tracing_sex(sex: i32) -> matching::Sex {
    match Sex::try_from(sex) {
        Ok(Sex::Female) => matching::Sex::Female,
        Ok(Sex::Male) => matching::Sex::Male,
        _ => matching::Sex::Unknown,
    }
}

/// A registered child as matching sees it. An age estimate without an assessment date counts from the
/// day the child was registered.
pub(crate) fn person(identity: &Identity, registered_on: matching::Day) -> matching::Person {
    // Both the date and the assessed age when the identity records them side by side; the oneof of
    // older records otherwise.
    let date = identity.date_of_birth_recorded.or(match identity.birth {
        Some(Birth::DateOfBirth(date)) => Some(date),
        _ => None,
    });
    let assessed = identity.assessed_age.or(match identity.birth {
        Some(Birth::AgeEstimate(age)) => Some(age),
        _ => None,
    });
    let birth_date = date.as_ref().map(partial_date);
    let age = assessed.as_ref().map(|a| age_estimate(a, registered_on));
    matching::Person {
        given_name: identity.given_name.clone(),
        family_name: identity.family_name.clone(),
        other_names: identity.other_names.clone(),
        sex: identity_sex(identity.sex),
        birth_date,
        age,
        father_name: non_empty(&identity.father_name),
        mother_name: non_empty(&identity.mother_name),
        place: Vec::new(),
        grandfather_name: non_empty(&identity.grandfather_name),
        patronymic: non_empty(&identity.patronymic),
        nickname: non_empty(&identity.nickname),
    }
}

/// One sought child as matching sees it, asked about on `today`.
pub(crate) fn sought(
    child: &SoughtChild,
    inquirer: Option<&Inquirer>,
    today: matching::Day,
) -> matching::Sought {
    let person = matching::Person {
        given_name: child.given_name.clone(),
        family_name: child.family_name.clone(),
        other_names: child.other_names.clone(),
        sex: tracing_sex(child.sex),
        birth_date: child.date_of_birth.as_ref().map(partial_date),
        age: child
            .age_estimate
            .as_ref()
            .map(|a| age_estimate(a, today))
            .or_else(|| age_at_separation(child)),
        father_name: non_empty(&child.father_name),
        mother_name: non_empty(&child.mother_name),
        place: Vec::new(),
        grandfather_name: non_empty(&child.grandfather_name),
        patronymic: non_empty(&child.patronymic),
        nickname: non_empty(&child.nickname),
    };
    let relation = match inquirer.map(|i| Relation::try_from(i.relation)) {
        Some(Ok(Relation::Mother)) => matching::Relation::Mother,
        Some(Ok(Relation::Father)) => matching::Relation::Father,
        Some(Ok(Relation::Sibling)) => matching::Relation::Sibling,
        Some(Ok(Relation::Grandparent | Relation::AuntOrUncle | Relation::OtherRelative)) => {
            matching::Relation::OtherRelative
        }
        _ => matching::Relation::Unknown,
    };
    let inquirer_name = inquirer
        .map(|i| format!("{} {}", i.given_name.trim(), i.family_name.trim()))
        .and_then(|n| non_empty(&n));
    matching::Sought {
        person,
        separated_on: child.separated_on.as_ref().map(partial_date),
        inquirer_name,
        relation,
        last_seen: child
            .last_seen
            .as_ref()
            .map(|l| l.admin_path.clone())
            .unwrap_or_default(),
        asked_on: today,
    }
}

/// The age the inquirer gave for the day of the separation, as an estimate assessed that day (its
/// first possible day, when the date is partial): it places the birth as today's age would.
fn age_at_separation(child: &SoughtChild) -> Option<matching::AgeEstimate> {
    let age = child.age_at_separation.as_ref()?;
    let separated = child.separated_on.as_ref()?;
    let small = |v: Option<i32>| v.and_then(|v| u8::try_from(v).ok());
    Some(matching::AgeEstimate {
        min_years: age.min_years,
        max_years: age.max_years.max(age.min_years),
        assessed_on: matching::Day::new(
            separated.year,
            small(separated.month).unwrap_or(1),
            small(separated.day).unwrap_or(1),
        ),
    })
}

/// What an officer may see of a candidate: identity fields only.
pub(crate) fn candidate_identity(identity: &Identity) -> CandidateIdentity {
    let date_of_birth = identity.date_of_birth_recorded.or(match identity.birth {
        Some(Birth::DateOfBirth(date)) => Some(date),
        _ => None,
    });
    let age_estimate = identity.assessed_age.or(match identity.birth {
        Some(Birth::AgeEstimate(age)) => Some(age),
        _ => None,
    });
    CandidateIdentity {
        given_name: identity.given_name.clone(),
        family_name: identity.family_name.clone(),
        other_names: identity.other_names.clone(),
        sex: match identity_sex(identity.sex) {
            matching::Sex::Female => Sex::Female as i32,
            matching::Sex::Male => Sex::Male as i32,
            matching::Sex::Unknown => Sex::Unknown as i32,
        },
        date_of_birth,
        age_estimate,
        father_name: identity.father_name.clone(),
        grandfather_name: identity.grandfather_name.clone(),
        patronymic: identity.patronymic.clone(),
        nickname: identity.nickname.clone(),
    }
}

pub(crate) fn evidence(item: &matching::Evidence) -> Evidence {
    Evidence {
        field: item.field.as_str().to_owned(),
        strength: match item.strength {
            matching::Strength::Exact => Strength::Exact,
            matching::Strength::Strong => Strength::Strong,
            matching::Strength::Weak => Strength::Weak,
            matching::Strength::Missing => Strength::Missing,
            matching::Strength::Disagrees => Strength::Disagrees,
        } as i32,
        weight: (item.weight * 100.0).round() / 100.0,
        reason: item.reason.describe(),
    }
}

/// The inquirer's relation to the child, as a family link names it.
pub(crate) fn relation_name(relation: i32) -> &'static str {
    match Relation::try_from(relation) {
        Ok(Relation::Mother) => "mother",
        Ok(Relation::Father) => "father",
        Ok(Relation::Sibling) => "sibling",
        Ok(Relation::Grandparent) => "grandparent",
        Ok(Relation::AuntOrUncle) => "aunt or uncle",
        Ok(Relation::OtherRelative) => "other relative",
        _ => "other",
    }
}
