//! The duplicate check at registration: children already registered, within the caller's own scope,
//! who may be the new child, scored by haven-matching exactly as family tracing scores candidates; and
//! likely re-registrations among the records the caller may not read (another agency's, another
//! officer's), decided by the library's duplicate model, which spares siblings and look-alike
//! households. Candidates come from the name-key index (never a scan). In scope, ids, scores and
//! reasons go back; out of scope, only the owning agency (see `duplicate_reviews`).

use haven_authz::{DataClass, Policy, Principal};
use haven_matching::{Sought, Thresholds};
use haven_platform::ServiceError;
use haven_proto::identity::{Identity, PossibleDuplicate, identity::Birth};
use prost::Message as _;

use crate::record::ChildRecord;
use crate::scope;
use crate::store::{Loading, Store};

/// How many registered children sharing a name key are scored, and how many duplicates are returned.
const CANDIDATES: u64 = 200;
const RETURNED: usize = 5;
/// At most this many notices of records held elsewhere.
const NOTICES: usize = 3;

/// What the check found: duplicates the caller may read, and likely ones it may not (their ids and
/// owning agencies, for the notices; never sent to the caller).
#[derive(Debug, Default)]
pub(crate) struct Found {
    pub(crate) readable: Vec<PossibleDuplicate>,
    pub(crate) elsewhere: Vec<(String, String)>,
}

fn day_of(micros: i64) -> haven_matching::Day {
    use chrono::Datelike as _;
    let date = chrono::DateTime::from_timestamp_micros(micros)
        .unwrap_or_default()
        .date_naive();
    haven_matching::Day {
        year: date.year(),
        month: date.month() as u8,
        day: date.day() as u8,
    }
}

fn person(identity: &Identity, registered_at_us: i64) -> haven_matching::Person {
    let small = |v: Option<i32>| v.and_then(|v| u8::try_from(v).ok());
    // Both the date and the assessed age when recorded side by side; the oneof of older records
    // otherwise (stored children carry both forms, see `compat`).
    let date = identity.date_of_birth_recorded.or(match identity.birth {
        Some(Birth::DateOfBirth(d)) => Some(d),
        _ => None,
    });
    let assessed = identity.assessed_age.or(match identity.birth {
        Some(Birth::AgeEstimate(a)) => Some(a),
        _ => None,
    });
    let birth_date = date.map(|d| haven_matching::PartialDate {
        year: d.year,
        month: small(d.month),
        day: small(d.day),
        estimated: d.estimated,
    });
    let age = assessed.map(|a| haven_matching::AgeEstimate {
        min_years: a.min_years,
        max_years: a.max_years.max(a.min_years),
        assessed_on: a
            .assessed_at
            .map(|t| day_of(t.seconds.saturating_mul(1_000_000)))
            .unwrap_or_else(|| day_of(registered_at_us)),
    });
    let named = |text: &str| Some(text.trim().to_owned()).filter(|t| !t.is_empty());
    haven_matching::Person {
        given_name: identity.given_name.clone(),
        family_name: identity.family_name.clone(),
        other_names: identity.other_names.clone(),
        sex: match haven_proto::identity::Sex::try_from(identity.sex) {
            Ok(haven_proto::identity::Sex::Female) => haven_matching::Sex::Female,
            Ok(haven_proto::identity::Sex::Male) => haven_matching::Sex::Male,
            _ => haven_matching::Sex::Unknown,
        },
        birth_date,
        age,
        father_name: named(&identity.father_name),
        mother_name: named(&identity.mother_name),
        place: Vec::new(),
        grandfather_name: named(&identity.grandfather_name),
        patronymic: named(&identity.patronymic),
        nickname: named(&identity.nickname),
    }
}

/// Possible duplicates of `record` among the children `principal` may read the identity of, and, for
/// the protection world, likely duplicates among those it may not.
pub(crate) async fn possible_duplicates(
    store: &Store,
    policy: &Policy,
    principal: &Principal,
    loading: Loading,
    record: &ChildRecord,
) -> Result<Found, ServiceError> {
    let Some(visible) = scope::visible_rows(policy, principal) else {
        return Ok(Found::default());
    };
    let Ok(identity) = Identity::decode(record.row.identity.as_slice()) else {
        return Ok(Found::default());
    };
    let names = format!(
        "{} {} {} {} {} {}",
        identity.given_name,
        identity.family_name,
        identity.grandfather_name,
        identity.patronymic,
        identity.nickname,
        identity.other_names.join(" ")
    );
    // Typo keys too: a re-registration may misspell every name.
    let keys: Vec<String> = haven_matching::name_keys(&names)
        .into_iter()
        .chain(haven_matching::typo_keys(&names))
        .collect();
    if keys.is_empty() {
        return Ok(Found::default());
    }
    let candidates = store
        .page(
            visible.clone(),
            std::slice::from_ref(&keys),
            None,
            CANDIDATES + 1,
            loading,
        )
        .await?;
    let new_child = Sought::new(
        person(&identity, record.row.created_at_us),
        day_of(record.row.created_at_us),
    );
    let thresholds = Thresholds::default();
    let mut found: Vec<PossibleDuplicate> = candidates
        .iter()
        .filter(|c| c.row.id != record.row.id)
        .filter(|c| {
            policy
                .access(principal, &c.attrs())
                .read
                .contains(DataClass::Identity)
        })
        .filter_map(|c| {
            let other = Identity::decode(c.row.identity.as_slice()).ok()?;
            let (score, evidence) =
                haven_matching::compare(&new_child, &person(&other, c.row.created_at_us), None);
            thresholds.band(score)?;
            Some(PossibleDuplicate {
                child_id: c.row.id.clone(),
                score,
                reasons: evidence
                    .iter()
                    .filter(|e| e.weight > 0.0)
                    .map(|e| format!("{}: {}", e.field.as_str(), e.reason.describe()))
                    .collect(),
            })
        })
        .collect();
    found.sort_by(|a, b| b.score.total_cmp(&a.score));
    found.truncate(RETURNED);

    // Out of scope: only the protection world learns that another agency knows the child.
    let mut elsewhere = Vec::new();
    if policy.in_protection_world(principal) {
        let others = store
            .page(
                visible.not(),
                &[keys],
                None,
                CANDIDATES + 1,
                Loading::NOTHING,
            )
            .await?;
        let duplicates = Thresholds::duplicate();
        let mut likely: Vec<(f64, String, String)> = others
            .iter()
            .filter(|c| c.row.id != record.row.id)
            .filter_map(|c| {
                let other = Identity::decode(c.row.identity.as_slice()).ok()?;
                let (score, evidence) =
                    haven_matching::compare(&new_child, &person(&other, c.row.created_at_us), None);
                let candidate = haven_matching::Candidate {
                    id: 0,
                    score,
                    evidence,
                };
                let band = duplicates.duplicate_bands(std::slice::from_ref(&candidate))[0];
                (band == Some(haven_matching::Band::Likely)).then(|| {
                    (
                        haven_matching::duplicate_probability(&candidate),
                        c.row.id.clone(),
                        c.row.agency.clone(),
                    )
                })
            })
            .collect();
        likely.sort_by(|a, b| b.0.total_cmp(&a.0));
        elsewhere = likely
            .into_iter()
            .take(NOTICES)
            .map(|(_, id, agency)| (id, agency))
            .collect();
    }
    Ok(Found {
        readable: found,
        elsewhere,
    })
}
