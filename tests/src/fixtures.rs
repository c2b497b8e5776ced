//! Generated children. Names are common given names paired at random-looking but deterministic
//! positions; no fixture describes a real child.

use haven_proto::common::{AgeRange, Location, PartialDate};
use haven_proto::identity::{
    CaseStatus, Child, Consent, FamilyMember, IdDocument, Identity, ProtectionCase,
    ProtectionConcern, RegisterChildRequest, RiskLevel, SeparationCause, Sex, Whereabouts,
    identity::Birth,
};

/// Strings planted in protected classes, so tests can look for them anywhere they must not appear.
pub const CANARY_PHONE: &str = "+000 555 0101";
pub const CANARY_ADDRESS: &str = "canary-address-7f3a";
pub const CANARY_NOTE_PLACE: &str = "canary-separation-place-91c2";
/// The separation as the officer tells it, and where the child was last seen: protection data.
pub const CANARY_CIRCUMSTANCES: &str = "canary-separation-story-4d0e";
pub const CANARY_LAST_SEEN: &str = "canary-last-seen-place-b75a";

/// Every canary planted in a protected class by [`case_child`].
pub const PROTECTED_CANARIES: [&str; 5] = [
    CANARY_PHONE,
    CANARY_ADDRESS,
    CANARY_NOTE_PLACE,
    CANARY_CIRCUMSTANCES,
    CANARY_LAST_SEEN,
];

pub fn identity(given: &str, family: &str) -> Identity {
    Identity {
        given_name: given.into(),
        family_name: family.into(),
        other_names: vec![],
        sex: Sex::Female as i32,
        birth: Some(Birth::AgeEstimate(AgeRange {
            min_years: 8,
            max_years: 10,
            assessed_at: None,
        })),
        nationalities: vec!["SO".into()],
        languages: vec!["so".into()],
        place_of_birth: "Generated Town".into(),
        father_name: String::new(),
        mother_name: String::new(),
        grandfather_name: String::new(),
        patronymic: String::new(),
        nickname: String::new(),
        date_of_birth_recorded: None,
        assessed_age: None,
    }
}

/// An identity as an officer records it field by field: the chain apart, a nickname, and both a
/// partial date of birth and an assessed age.
pub fn recorded_identity(given: &str, father: &str, grandfather: &str, family: &str) -> Identity {
    Identity {
        father_name: father.into(),
        grandfather_name: grandfather.into(),
        nickname: format!("{}o", given.chars().take(3).collect::<String>()),
        birth: None,
        date_of_birth_recorded: Some(PartialDate {
            year: 2016,
            month: Some(5),
            day: None,
            estimated: true,
        }),
        assessed_age: Some(AgeRange {
            min_years: 8,
            max_years: 10,
            assessed_at: Some(prost_types::Timestamp {
                seconds: 1_767_225_600, // 2026-01-01
                nanos: 0,
            }),
        }),
        ..identity(given, family)
    }
}

pub fn whereabouts() -> Whereabouts {
    Whereabouts {
        current_location: Some(Location {
            admin_path: vec!["XX".into(), "Region 1".into(), "District 4".into()],
            description: "block C".into(),
        }),
        address: CANARY_ADDRESS.into(),
        phone: CANARY_PHONE.into(),
        caregiver_name: "Generated Caregiver".into(),
        caregiver_relation: "aunt".into(),
        id_documents: vec![IdDocument {
            kind: "registration".into(),
            number: "GEN-0001".into(),
            issuing_country: "XX".into(),
        }],
    }
}

pub fn protection(consent_for_tracing: bool) -> ProtectionCase {
    ProtectionCase {
        separation_date: Some(PartialDate {
            year: 2025,
            month: Some(3),
            day: None,
            estimated: true,
        }),
        separation_place: CANARY_NOTE_PLACE.into(),
        separation_cause: SeparationCause::Displacement as i32,
        concerns: vec![ProtectionConcern::Unaccompanied as i32],
        risk_level: RiskLevel::High as i32,
        family_members: vec![FamilyMember {
            name: "Generated Parent".into(),
            relation: "mother".into(),
            last_known_location: "unknown".into(),
            deceased: false,
        }],
        consent: Some(Consent {
            consent_for_services: true,
            disclosure_to_other_orgs: false,
            consent_for_tracing,
        }),
        status: CaseStatus::Open as i32,
        separation_causes: vec![
            SeparationCause::Displacement as i32,
            SeparationCause::LostInCrowdOrTransit as i32,
        ],
        separation_circumstances: CANARY_CIRCUMSTANCES.into(),
        last_seen_place: CANARY_LAST_SEEN.into(),
        last_seen_location: Some(Location {
            admin_path: vec!["XX".into(), "Region 2".into()],
            description: "crossing point".into(),
        }),
    }
}

/// A full protection case, as a caseworker registers it.
pub fn case_child(given: &str, family: &str, consent_for_tracing: bool) -> Child {
    Child {
        identity: Some(identity(given, family)),
        whereabouts: Some(whereabouts()),
        protection: Some(protection(consent_for_tracing)),
        meta: None,
    }
}

/// A learner, as an educator registers it: identity only.
pub fn learner(given: &str, family: &str) -> Child {
    Child {
        identity: Some(identity(given, family)),
        ..Child::default()
    }
}

pub fn register(child: Child) -> RegisterChildRequest {
    RegisterChildRequest {
        request_id: uuid::Uuid::now_v7().to_string(),
        child: Some(child),
    }
}

/// The record id of a view.
pub fn id_of(view: &haven_proto::identity::ChildView) -> String {
    view.child
        .as_ref()
        .and_then(|c| c.meta.as_ref())
        .map(|m| m.id.clone())
        .unwrap_or_default()
}

/// An UpdateChild request for `paths`, with the new values in `child`.
pub fn update(
    id: &str,
    expected_version: i64,
    paths: &[&str],
    child: Child,
) -> haven_proto::identity::UpdateChildRequest {
    haven_proto::identity::UpdateChildRequest {
        id: id.into(),
        expected_version,
        child: Some(child),
        update_mask: Some(prost_types::FieldMask {
            paths: paths.iter().map(|p| p.to_string()).collect(),
        }),
    }
}
