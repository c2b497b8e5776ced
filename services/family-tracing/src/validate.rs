//! Request validation. Every violation names its field and never echoes the submitted value.

use haven_platform::ServiceError;
pub(crate) use haven_platform::Violations;
use haven_platform::validate::{
    age_range, country_codes, enum_list, language_tags, name, partial_date,
};
use haven_proto::family_tracing::{Inquirer, Relation, SeparationCause, Sex, SoughtChild};

const MAX_NAME: usize = 200;
const MAX_TEXT: usize = 2_000;
const MAX_SOUGHT: usize = 10;
const MAX_OTHER_NAMES: usize = 20;
const MAX_CAUSES: usize = 8;

/// The violations found, as the INVALID_ARGUMENT answer; nothing when there are none.
pub(crate) fn invalid(v: Violations) -> Result<(), ServiceError> {
    v.into_result().map_err(ServiceError::InvalidArgument)
}

fn text(v: &mut Violations, field: &str, value: &str, max: usize) {
    v.text(field, value, max);
}

pub(crate) fn request_id(v: &mut Violations, request_id: &str) {
    haven_platform::validate::request_id(v, request_id);
}

pub(crate) fn required_id(v: &mut Violations, field: &str, id: &str) {
    haven_platform::validate::record_id(v, field, id);
}

pub(crate) fn inquirer(v: &mut Violations, field: &str, inquirer: Option<&Inquirer>) {
    let Some(inquirer) = inquirer else {
        v.add(field, "is required");
        return;
    };
    if inquirer.given_name.trim().is_empty() && inquirer.family_name.trim().is_empty() {
        v.add(
            format!("{field}.given_name"),
            "given_name or family_name is required",
        );
    }
    name(
        v,
        &format!("{field}.given_name"),
        &inquirer.given_name,
        MAX_NAME,
    );
    name(
        v,
        &format!("{field}.family_name"),
        &inquirer.family_name,
        MAX_NAME,
    );
    text(v, &format!("{field}.contact"), &inquirer.contact, MAX_TEXT);
    if Relation::try_from(inquirer.relation).is_err() {
        v.add(format!("{field}.relation"), "is not a known relation");
    }
    if Sex::try_from(inquirer.sex).is_err() {
        v.add(format!("{field}.sex"), "is not a known value");
    }
    language_tags(v, &format!("{field}.languages"), &inquirer.languages);
    if let Some(location) = &inquirer.location {
        for (i, level) in location.admin_path.iter().enumerate() {
            text(
                v,
                &format!("{field}.location.admin_path[{i}]"),
                level,
                MAX_NAME,
            );
        }
        text(
            v,
            &format!("{field}.location.description"),
            &location.description,
            MAX_TEXT,
        );
    }
}

pub(crate) fn sought_children(v: &mut Violations, field: &str, children: &[SoughtChild]) {
    if children.is_empty() || children.len() > MAX_SOUGHT {
        v.add(field, &format!("must hold 1 to {MAX_SOUGHT} children"));
    }
    for (i, child) in children.iter().enumerate() {
        let at = format!("{field}[{i}]");
        if child.given_name.trim().is_empty() && child.family_name.trim().is_empty() {
            v.add(
                format!("{at}.given_name"),
                "given_name or family_name is required",
            );
        }
        name(v, &format!("{at}.given_name"), &child.given_name, MAX_NAME);
        name(
            v,
            &format!("{at}.family_name"),
            &child.family_name,
            MAX_NAME,
        );
        name(
            v,
            &format!("{at}.father_name"),
            &child.father_name,
            MAX_NAME,
        );
        name(
            v,
            &format!("{at}.mother_name"),
            &child.mother_name,
            MAX_NAME,
        );
        for (part, value) in [
            ("grandfather_name", &child.grandfather_name),
            ("patronymic", &child.patronymic),
            ("nickname", &child.nickname),
        ] {
            name(v, &format!("{at}.{part}"), value, MAX_NAME);
        }
        if let Some(age) = &child.age_at_separation {
            age_range(v, &format!("{at}.age_at_separation"), age);
            if child.separated_on.is_none() {
                v.add(
                    format!("{at}.age_at_separation"),
                    "needs separated_on, the day it was the child's age",
                );
            }
        }
        enum_list(
            v,
            &format!("{at}.separation_causes"),
            &child.separation_causes,
            MAX_CAUSES,
            |c| SeparationCause::try_from(c).is_ok(),
        );
        text(
            v,
            &format!("{at}.last_seen_place"),
            &child.last_seen_place,
            MAX_TEXT,
        );
        language_tags(v, &format!("{at}.languages"), &child.languages);
        country_codes(v, &format!("{at}.nationalities"), &child.nationalities);
        text(
            v,
            &format!("{at}.separation_circumstances"),
            &child.separation_circumstances,
            MAX_TEXT,
        );
        if child.other_names.len() > MAX_OTHER_NAMES {
            v.add(
                format!("{at}.other_names"),
                &format!("must have at most {MAX_OTHER_NAMES} entries"),
            );
        }
        for (j, name) in child.other_names.iter().enumerate() {
            self::name(v, &format!("{at}.other_names[{j}]"), name, MAX_NAME);
        }
        if Sex::try_from(child.sex).is_err() {
            v.add(format!("{at}.sex"), "is not a known value");
        }
        if let Some(date) = &child.date_of_birth {
            partial_date(v, &format!("{at}.date_of_birth"), date);
        }
        if let Some(date) = &child.separated_on {
            partial_date(v, &format!("{at}.separated_on"), date);
        }
        if let Some(age) = &child.age_estimate {
            age_range(v, &format!("{at}.age_estimate"), age);
        }
        if let Some(place) = &child.last_seen {
            for (j, level) in place.admin_path.iter().enumerate() {
                text(
                    v,
                    &format!("{at}.last_seen.admin_path[{j}]"),
                    level,
                    MAX_NAME,
                );
            }
            text(
                v,
                &format!("{at}.last_seen.description"),
                &place.description,
                MAX_TEXT,
            );
        }
    }
}

pub(crate) fn reason(v: &mut Violations, field: &str, reason: &str, required: bool) {
    if required && reason.trim().is_empty() {
        v.add(field, "is required");
    }
    text(v, field, reason, MAX_TEXT);
}

#[cfg(test)]
mod tests {
    use super::*;
    use haven_proto::common::PartialDate;

    #[test]
    fn violations_name_the_field_and_never_the_value() {
        let mut v = Violations::default();
        let child = SoughtChild {
            given_name: "x".repeat(300),
            sex: 42,
            date_of_birth: Some(PartialDate {
                year: 1500,
                month: None,
                day: Some(3),
                estimated: false,
            }),
            ..Default::default()
        };
        let officer_fields = SoughtChild {
            given_name: "Faadumo".into(),
            nickname: " ".into(),
            age_at_separation: Some(haven_proto::common::AgeRange {
                min_years: 6,
                max_years: 6,
                assessed_at: None,
            }),
            separation_causes: vec![SeparationCause::Abduction as i32, 77],
            languages: vec!["so".into(), "Somali language".into()],
            nationalities: vec!["so".into()],
            ..Default::default()
        };
        sought_children(&mut v, "sought_children", &[child, officer_fields]);
        let violations = v.into_result().expect_err("invalid");
        for field in [
            "sought_children[1].nickname",
            "sought_children[1].age_at_separation",
            "sought_children[1].separation_causes[1]",
            "sought_children[1].languages[1]",
            "sought_children[1].nationalities[0]",
        ] {
            assert!(
                violations.iter().any(|f| f.field == field),
                "{field} not named"
            );
        }
        let fields: Vec<&str> = violations.iter().map(|f| f.field.as_str()).collect();
        assert!(fields.contains(&"sought_children[0].given_name"));
        assert!(fields.contains(&"sought_children[0].sex"));
        assert!(fields.contains(&"sought_children[0].date_of_birth.year"));
        assert!(fields.contains(&"sought_children[0].date_of_birth.day"));
        assert!(violations.iter().all(|f| !f.description.contains("xxx")));
    }
}
