//! The fields older clients send and the fields added beside them, reconciled into one stored child:
//! the `birth` oneof and `date_of_birth_recorded` / `assessed_age`, and the single `separation_cause`
//! and the `separation_causes` list. Stored children carry both forms, so an old client reads what it
//! read before and a new one reads everything. Validation has already refused disagreeing pairs.

use haven_proto::identity::{Child, Identity, ProtectionCase, identity::Birth};

/// Fills each form from the other. `registered_at` stands in for an age estimate's missing assessment
/// time: an age given without one was assessed when the child was registered.
pub(crate) fn reconcile(child: &mut Child, registered_at: prost_types::Timestamp) {
    if let Some(identity) = child.identity.as_mut() {
        reconcile_birth(identity, registered_at);
    }
    if let Some(protection) = child.protection.as_mut() {
        reconcile_causes(protection);
    }
}

fn reconcile_birth(identity: &mut Identity, registered_at: prost_types::Timestamp) {
    match identity.birth {
        Some(Birth::DateOfBirth(date)) if identity.date_of_birth_recorded.is_none() => {
            identity.date_of_birth_recorded = Some(date);
        }
        Some(Birth::AgeEstimate(age)) if identity.assessed_age.is_none() => {
            identity.assessed_age = Some(age);
        }
        _ => {}
    }
    if let Some(age) = identity.assessed_age.as_mut()
        && age.assessed_at.is_none()
    {
        age.assessed_at = Some(registered_at);
    }
    // The oneof shows the date when one is known, else the age: what an old client would have sent.
    identity.birth = identity
        .date_of_birth_recorded
        .map(Birth::DateOfBirth)
        .or(identity.assessed_age.map(Birth::AgeEstimate));
}

fn reconcile_causes(protection: &mut ProtectionCase) {
    if protection.separation_causes.is_empty() && protection.separation_cause != 0 {
        protection.separation_causes = vec![protection.separation_cause];
    }
    protection.separation_cause = protection.separation_causes.first().copied().unwrap_or(0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use haven_proto::common::{AgeRange, PartialDate};
    use haven_proto::identity::SeparationCause;

    const REGISTERED: prost_types::Timestamp = prost_types::Timestamp {
        seconds: 1_700_000_000,
        nanos: 0,
    };

    fn with_identity(identity: Identity) -> Child {
        Child {
            identity: Some(identity),
            ..Child::default()
        }
    }

    #[test]
    fn an_old_clients_date_of_birth_fills_the_recorded_date_and_stays_in_the_oneof() {
        let date = PartialDate {
            year: 2016,
            month: Some(3),
            day: None,
            estimated: true,
        };
        let mut child = with_identity(Identity {
            birth: Some(Birth::DateOfBirth(date)),
            ..Identity::default()
        });
        reconcile(&mut child, REGISTERED);
        let identity = child.identity.expect("identity");
        assert_eq!(identity.date_of_birth_recorded, Some(date));
        assert_eq!(identity.birth, Some(Birth::DateOfBirth(date)));
        assert_eq!(identity.assessed_age, None);
    }

    #[test]
    fn an_age_without_assessment_time_counts_from_registration() {
        let age = AgeRange {
            min_years: 7,
            max_years: 9,
            assessed_at: None,
        };
        let mut child = with_identity(Identity {
            birth: Some(Birth::AgeEstimate(age)),
            ..Identity::default()
        });
        reconcile(&mut child, REGISTERED);
        let identity = child.identity.expect("identity");
        let stored = identity.assessed_age.expect("assessed age");
        assert_eq!((stored.min_years, stored.max_years), (7, 9));
        assert_eq!(stored.assessed_at, Some(REGISTERED));
        assert_eq!(identity.birth, Some(Birth::AgeEstimate(stored)));
    }

    #[test]
    fn with_both_recorded_the_oneof_shows_the_date() {
        let date = PartialDate {
            year: 2015,
            month: None,
            day: None,
            estimated: false,
        };
        let age = AgeRange {
            min_years: 8,
            max_years: 10,
            assessed_at: Some(REGISTERED),
        };
        let mut child = with_identity(Identity {
            date_of_birth_recorded: Some(date),
            assessed_age: Some(age),
            ..Identity::default()
        });
        reconcile(&mut child, REGISTERED);
        let identity = child.identity.expect("identity");
        assert_eq!(identity.birth, Some(Birth::DateOfBirth(date)));
        assert_eq!(identity.assessed_age, Some(age));
    }

    #[test]
    fn a_single_cause_becomes_a_list_and_a_list_leads_with_its_first() {
        let mut old = Child {
            protection: Some(ProtectionCase {
                separation_cause: SeparationCause::Conflict as i32,
                ..ProtectionCase::default()
            }),
            ..Child::default()
        };
        reconcile(&mut old, REGISTERED);
        let protection = old.protection.expect("protection");
        assert_eq!(
            protection.separation_causes,
            [SeparationCause::Conflict as i32]
        );

        let mut new = Child {
            protection: Some(ProtectionCase {
                separation_causes: vec![
                    SeparationCause::LostInCrowdOrTransit as i32,
                    SeparationCause::Displacement as i32,
                ],
                ..ProtectionCase::default()
            }),
            ..Child::default()
        };
        reconcile(&mut new, REGISTERED);
        assert_eq!(
            new.protection.expect("protection").separation_cause,
            SeparationCause::LostInCrowdOrTransit as i32
        );
    }
}
