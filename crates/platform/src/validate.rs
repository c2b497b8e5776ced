//! Validation of the shared `common.v1` types and of the fields every service takes (ids, request ids,
//! names), in one place so the services agree. Violations name the field and never echo the value.

use chrono::Datelike as _;
use haven_proto::common::{AgeRange, PartialDate};

use crate::error::Violations;

/// The oldest year any date in a child's record may carry.
pub const MIN_YEAR: i32 = 1900;
/// An age estimate above this is not a child's.
pub const MAX_AGE_YEARS: u32 = 25;
/// How far in the future a client's clock may put a timestamp it sends.
const CLOCK_SKEW_SECS: i64 = 24 * 3600;

/// A record id: a UUID in its canonical lower-case hyphenated form, the only form the services store.
/// Any other spelling (upper case, braces, no hyphens, a URN) is refused by name, rather than answered
/// NOT_FOUND as if the record did not exist.
pub fn record_id(v: &mut Violations, field: &str, value: &str) -> Option<uuid::Uuid> {
    match uuid::Uuid::parse_str(value) {
        Ok(id) if id.hyphenated().to_string() == value => Some(id),
        Ok(_) => {
            v.add(
                field,
                "must be a UUID in lower-case hyphenated form (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
            );
            None
        }
        Err(_) => {
            v.add(field, "must be a UUID");
            None
        }
    }
}

/// The idempotency key of a write: 1 to 128 printable ASCII characters.
pub fn request_id(v: &mut Violations, value: &str) {
    if value.is_empty() {
        v.add("request_id", "is required");
    } else if value.len() > 128 || !value.chars().all(|c| c.is_ascii_graphic()) {
        v.add("request_id", "must be 1 to 128 printable ASCII characters");
    }
}

/// A name part: optional, but when given it holds more than spaces, and it passes [`Violations::text`].
pub fn name(v: &mut Violations, field: &str, value: &str, max: usize) {
    if !value.is_empty() && value.trim().is_empty() {
        v.add(field, "must not be only spaces");
    }
    v.text(field, value, max);
}

/// A date known to the year, month or day: from 1900 to today, a real calendar day, a day only with its
/// month.
pub fn partial_date(v: &mut Violations, field: &str, date: &PartialDate) {
    let today = chrono::Utc::now().date_naive();
    let year_ok = (MIN_YEAR..=today.year()).contains(&date.year);
    if !year_ok {
        v.add(
            format!("{field}.year"),
            &format!("must be between {MIN_YEAR} and {}", today.year()),
        );
    }
    match (date.month, date.day) {
        (None, Some(_)) => v.add(format!("{field}.day"), "needs a month"),
        (Some(month), day) => {
            if !(1..=12).contains(&month) {
                v.add(format!("{field}.month"), "must be between 1 and 12");
                return;
            }
            if let Some(day) = day {
                let valid = u32::try_from(day)
                    .ok()
                    .and_then(|d| chrono::NaiveDate::from_ymd_opt(date.year, month as u32, d));
                match valid {
                    None => v.add(format!("{field}.day"), "is not a day of that month"),
                    Some(d) if year_ok && d > today => v.add(field, "must not be in the future"),
                    Some(_) => {}
                }
            }
        }
        (None, None) => {}
    }
}

/// An age estimate in whole years, with when it was assessed (not before 1900, not in the future).
pub fn age_range(v: &mut Violations, field: &str, age: &AgeRange) {
    if age.min_years > age.max_years {
        v.add(format!("{field}.min_years"), "must not exceed max_years");
    }
    if age.max_years > MAX_AGE_YEARS {
        v.add(
            format!("{field}.max_years"),
            &format!("must be at most {MAX_AGE_YEARS}"),
        );
    }
    if let Some(at) = &age.assessed_at {
        past_timestamp(v, &format!("{field}.assessed_at"), at);
    }
}

/// At most this many entries in a list of codes (languages, nationalities) or of causes.
pub const MAX_CODES: usize = 32;

/// BCP 47 language tags (`so`, `ar-SD`, `uk`): letters, digits and hyphens, 1 to 35 characters, subtags of
/// 1 to 8; at most [`MAX_CODES`] of them.
pub fn language_tags(v: &mut Violations, field: &str, tags: &[String]) {
    if tags.len() > MAX_CODES {
        v.add(field, &format!("must have at most {MAX_CODES} entries"));
    }
    for (i, tag) in tags.iter().enumerate() {
        let well_formed = !tag.is_empty()
            && tag.len() <= 35
            && tag.split('-').all(|sub| {
                (1..=8).contains(&sub.len()) && sub.chars().all(|c| c.is_ascii_alphanumeric())
            });
        if !well_formed {
            v.add(format!("{field}[{i}]"), "must be a BCP 47 language tag");
        }
    }
}

/// ISO 3166-1 alpha-2 country codes (two upper-case letters); at most [`MAX_CODES`] of them.
pub fn country_codes(v: &mut Violations, field: &str, codes: &[String]) {
    if codes.len() > MAX_CODES {
        v.add(field, &format!("must have at most {MAX_CODES} entries"));
    }
    for (i, code) in codes.iter().enumerate() {
        if code.len() != 2 || !code.chars().all(|c| c.is_ascii_uppercase()) {
            v.add(
                format!("{field}[{i}]"),
                "must be an ISO 3166-1 alpha-2 code",
            );
        }
    }
}

/// A list of enum values: each known (by `known`) and not the unspecified zero, no value twice, at most
/// `max` entries.
pub fn enum_list(
    v: &mut Violations,
    field: &str,
    values: &[i32],
    max: usize,
    known: impl Fn(i32) -> bool,
) {
    if values.len() > max {
        v.add(field, &format!("must have at most {max} entries"));
    }
    for (i, value) in values.iter().enumerate() {
        if *value == 0 || !known(*value) {
            v.add(format!("{field}[{i}]"), "is not a known value");
        } else if values[..i].contains(value) {
            v.add(format!("{field}[{i}]"), "is listed twice");
        }
    }
}

/// A place: at most 10 admin levels, none empty or holding `/` (the separator of location scopes), each
/// at most `max_name` characters; the description at most `max_text`.
pub fn location(
    v: &mut Violations,
    field: &str,
    location: &haven_proto::common::Location,
    max_name: usize,
    max_text: usize,
) {
    if location.admin_path.len() > 10 {
        v.add(format!("{field}.admin_path"), "must have at most 10 levels");
    }
    for (i, level) in location.admin_path.iter().enumerate() {
        let at = format!("{field}.admin_path[{i}]");
        if level.trim().is_empty() {
            v.add(at.clone(), "must not be empty");
        }
        if level.contains(haven_authz::LEVEL_SEPARATOR) {
            v.add(at.clone(), "must not contain '/'");
        }
        v.text(&at, level, max_name);
    }
    v.text(
        &format!("{field}.description"),
        &location.description,
        max_text,
    );
}

/// A moment that has happened: from 1900 to now (plus a day of clock skew), with valid nanoseconds.
pub fn past_timestamp(v: &mut Violations, field: &str, at: &prost_types::Timestamp) {
    let earliest = chrono::NaiveDate::from_ymd_opt(MIN_YEAR, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp())
        .unwrap_or(i64::MIN);
    let latest = chrono::Utc::now().timestamp() + CLOCK_SKEW_SECS;
    if !(0..1_000_000_000).contains(&at.nanos) {
        v.add(format!("{field}.nanos"), "must be between 0 and 999999999");
    } else if at.seconds < earliest || at.seconds > latest {
        v.add(field, &format!("must be between {MIN_YEAR} and now"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_lists_name_the_bad_entry() {
        let bad = fields(|v| {
            language_tags(
                v,
                "languages",
                &["so".into(), "not a tag".into(), "ar-SD".into()],
            );
            country_codes(v, "nationalities", &["SO".into(), "som".into()]);
            enum_list(v, "causes", &[1, 1, 0, 99], 8, |c| c < 20);
        });
        assert_eq!(
            bad,
            [
                "languages[1]",
                "nationalities[1]",
                "causes[1]",
                "causes[2]",
                "causes[3]"
            ]
        );
    }

    fn fields(check: impl FnOnce(&mut Violations)) -> Vec<String> {
        let mut v = Violations::default();
        check(&mut v);
        v.into_result()
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|f| f.field)
            .collect()
    }

    #[test]
    fn only_the_canonical_uuid_spelling_is_an_id() {
        let id = uuid::Uuid::now_v7();
        let canonical = id.hyphenated().to_string();
        assert!(fields(|v| assert_eq!(record_id(v, "id", &canonical), Some(id))).is_empty());
        let others: [String; 6] = [
            canonical.to_uppercase(),
            id.simple().to_string(),
            id.braced().to_string(),
            id.urn().to_string(),
            "not-an-id".into(),
            String::new(),
        ];
        for other in others {
            assert_eq!(
                fields(|v| assert!(record_id(v, "id", &other).is_none())),
                ["id"]
            );
        }
    }

    #[test]
    fn a_name_of_only_spaces_is_refused_and_an_absent_one_is_not() {
        assert_eq!(
            fields(|v| name(v, "given_name", "   ", 200)),
            ["given_name"]
        );
        assert_eq!(
            fields(|v| name(v, "given_name", "\u{3000}\t", 200)),
            ["given_name"]
        );
        assert!(fields(|v| name(v, "given_name", "", 200)).is_empty());
        assert!(fields(|v| name(v, "given_name", " Amina ", 200)).is_empty());
    }

    #[test]
    fn assessment_times_must_be_between_1900_and_now() {
        let at = |seconds| AgeRange {
            min_years: 5,
            max_years: 7,
            assessed_at: Some(prost_types::Timestamp { seconds, nanos: 0 }),
        };
        let year_9999 = 253_370_764_800;
        let year_0001 = -62_135_596_800;
        assert_eq!(
            fields(|v| age_range(v, "age", &at(year_9999))),
            ["age.assessed_at"]
        );
        assert_eq!(
            fields(|v| age_range(v, "age", &at(year_0001))),
            ["age.assessed_at"]
        );
        let now = chrono::Utc::now().timestamp();
        assert!(fields(|v| age_range(v, "age", &at(now - 86_400))).is_empty());
    }

    #[test]
    fn partial_dates_are_calendar_dates_up_to_today() {
        let date = |year, month, day| PartialDate {
            year,
            month,
            day,
            ..Default::default()
        };
        assert_eq!(
            fields(|v| partial_date(v, "d", &date(2020, Some(2), Some(31)))),
            ["d.day"]
        );
        assert_eq!(
            fields(|v| partial_date(v, "d", &date(2100, None, None))),
            ["d.year"]
        );
        assert_eq!(
            fields(|v| partial_date(v, "d", &date(1500, None, Some(3)))),
            ["d.year", "d.day"],
            "every violation at once"
        );
        assert_eq!(
            fields(|v| partial_date(v, "d", &date(2015, None, Some(3)))),
            ["d.day"]
        );
        assert!(fields(|v| partial_date(v, "d", &date(2016, Some(2), Some(29)))).is_empty());
    }
}
