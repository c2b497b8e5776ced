//! FieldMask paths of UpdateChild: which paths exist, which data class each writes, and how to copy it.

use haven_authz::DataClass;
use haven_proto::identity::{Child, identity::Birth};

/// Every path UpdateChild accepts. A class path replaces the whole sub-message.
pub(crate) const PATHS: &[(&str, DataClass)] = &[
    ("identity", DataClass::Identity),
    ("identity.given_name", DataClass::Identity),
    ("identity.family_name", DataClass::Identity),
    ("identity.other_names", DataClass::Identity),
    ("identity.sex", DataClass::Identity),
    ("identity.date_of_birth", DataClass::Identity),
    ("identity.age_estimate", DataClass::Identity),
    ("identity.nationalities", DataClass::Identity),
    ("identity.languages", DataClass::Identity),
    ("identity.place_of_birth", DataClass::Identity),
    ("identity.father_name", DataClass::Identity),
    ("identity.mother_name", DataClass::Identity),
    ("identity.grandfather_name", DataClass::Identity),
    ("identity.patronymic", DataClass::Identity),
    ("identity.nickname", DataClass::Identity),
    ("identity.date_of_birth_recorded", DataClass::Identity),
    ("identity.assessed_age", DataClass::Identity),
    ("whereabouts", DataClass::Whereabouts),
    ("whereabouts.current_location", DataClass::Whereabouts),
    ("whereabouts.address", DataClass::Whereabouts),
    ("whereabouts.phone", DataClass::Whereabouts),
    ("whereabouts.caregiver_name", DataClass::Whereabouts),
    ("whereabouts.caregiver_relation", DataClass::Whereabouts),
    ("whereabouts.id_documents", DataClass::Whereabouts),
    ("protection", DataClass::Protection),
    ("protection.separation_date", DataClass::Protection),
    ("protection.separation_place", DataClass::Protection),
    ("protection.separation_cause", DataClass::Protection),
    ("protection.concerns", DataClass::Protection),
    ("protection.risk_level", DataClass::Protection),
    ("protection.family_members", DataClass::Protection),
    ("protection.consent", DataClass::Protection),
    ("protection.status", DataClass::Protection),
    ("protection.separation_causes", DataClass::Protection),
    ("protection.separation_circumstances", DataClass::Protection),
    ("protection.last_seen_place", DataClass::Protection),
    ("protection.last_seen_location", DataClass::Protection),
];

pub(crate) fn class_of(path: &str) -> Option<DataClass> {
    PATHS
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, class)| *class)
}

/// Copies the value at `path` from `source` into `target`. The path must be one of [`PATHS`].
pub(crate) fn apply(target: &mut Child, source: &Child, path: &str) {
    let (class, field) = path.split_once('.').unwrap_or((path, ""));
    match class {
        "identity" => {
            let src = source.identity.clone().unwrap_or_default();
            if field.is_empty() {
                target.identity = Some(src);
                return;
            }
            let dst = target.identity.get_or_insert_with(Default::default);
            match field {
                "given_name" => dst.given_name = src.given_name,
                "family_name" => dst.family_name = src.family_name,
                "other_names" => dst.other_names = src.other_names,
                "sex" => dst.sex = src.sex,
                // The oneof paths of older clients write the recorded field of their kind too, and
                // the recorded paths clear a oneof member of their kind: `compat::reconcile` then
                // rebuilds the oneof from the recorded fields, so the two never disagree.
                "date_of_birth" => {
                    let date = match src.birth {
                        Some(Birth::DateOfBirth(date)) => Some(date),
                        _ => None,
                    };
                    dst.date_of_birth_recorded = date;
                    dst.birth = date
                        .map(Birth::DateOfBirth)
                        .or(dst.birth.filter(|b| matches!(b, Birth::AgeEstimate(_))));
                }
                "age_estimate" => {
                    let age = match src.birth {
                        Some(Birth::AgeEstimate(age)) => Some(age),
                        _ => None,
                    };
                    dst.assessed_age = age;
                    dst.birth = age
                        .map(Birth::AgeEstimate)
                        .or(dst.birth.filter(|b| matches!(b, Birth::DateOfBirth(_))));
                }
                "date_of_birth_recorded" => {
                    dst.date_of_birth_recorded = src.date_of_birth_recorded;
                    if matches!(dst.birth, Some(Birth::DateOfBirth(_))) {
                        dst.birth = None;
                    }
                }
                "assessed_age" => {
                    dst.assessed_age = src.assessed_age;
                    if matches!(dst.birth, Some(Birth::AgeEstimate(_))) {
                        dst.birth = None;
                    }
                }
                "father_name" => dst.father_name = src.father_name,
                "mother_name" => dst.mother_name = src.mother_name,
                "grandfather_name" => dst.grandfather_name = src.grandfather_name,
                "patronymic" => dst.patronymic = src.patronymic,
                "nickname" => dst.nickname = src.nickname,
                "nationalities" => dst.nationalities = src.nationalities,
                "languages" => dst.languages = src.languages,
                "place_of_birth" => dst.place_of_birth = src.place_of_birth,
                _ => {}
            }
        }
        "whereabouts" => {
            if field.is_empty() {
                target.whereabouts = source.whereabouts.clone();
                return;
            }
            let src = source.whereabouts.clone().unwrap_or_default();
            let dst = target.whereabouts.get_or_insert_with(Default::default);
            match field {
                "current_location" => dst.current_location = src.current_location,
                "address" => dst.address = src.address,
                "phone" => dst.phone = src.phone,
                "caregiver_name" => dst.caregiver_name = src.caregiver_name,
                "caregiver_relation" => dst.caregiver_relation = src.caregiver_relation,
                "id_documents" => dst.id_documents = src.id_documents,
                _ => {}
            }
        }
        "protection" => {
            if field.is_empty() {
                target.protection = source.protection.clone();
                return;
            }
            let src = source.protection.clone().unwrap_or_default();
            let dst = target.protection.get_or_insert_with(Default::default);
            match field {
                "separation_date" => dst.separation_date = src.separation_date,
                "separation_place" => dst.separation_place = src.separation_place,
                // An older client's single cause replaces the list (it cannot see the others).
                "separation_cause" => {
                    dst.separation_cause = src.separation_cause;
                    dst.separation_causes = if src.separation_cause == 0 {
                        Vec::new()
                    } else {
                        vec![src.separation_cause]
                    };
                }
                "separation_causes" => {
                    dst.separation_causes = src.separation_causes;
                    dst.separation_cause = 0;
                }
                "separation_circumstances" => {
                    dst.separation_circumstances = src.separation_circumstances
                }
                "last_seen_place" => dst.last_seen_place = src.last_seen_place,
                "last_seen_location" => dst.last_seen_location = src.last_seen_location,
                "concerns" => dst.concerns = src.concerns,
                "risk_level" => dst.risk_level = src.risk_level,
                "family_members" => dst.family_members = src.family_members,
                "consent" => dst.consent = src.consent,
                "status" => dst.status = src.status,
                _ => {}
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use haven_proto::identity::{Identity, Whereabouts};

    #[test]
    fn a_leaf_path_changes_only_that_field() {
        let mut target = Child {
            identity: Some(Identity {
                given_name: "Amina".into(),
                family_name: "Yusuf".into(),
                ..Identity::default()
            }),
            ..Child::default()
        };
        let source = Child {
            identity: Some(Identity {
                given_name: "Aminah".into(),
                family_name: "ignored".into(),
                ..Identity::default()
            }),
            whereabouts: Some(Whereabouts {
                phone: "1".into(),
                ..Whereabouts::default()
            }),
            ..Child::default()
        };
        apply(&mut target, &source, "identity.given_name");
        let identity = target.identity.as_ref().expect("identity");
        assert_eq!(identity.given_name, "Aminah");
        assert_eq!(identity.family_name, "Yusuf");
        assert!(target.whereabouts.is_none());
    }

    #[test]
    fn an_old_clients_date_of_birth_path_keeps_the_recorded_date_in_step() {
        use haven_proto::common::{AgeRange, PartialDate};
        let stored = PartialDate {
            year: 2014,
            month: None,
            day: None,
            estimated: true,
        };
        let age = AgeRange {
            min_years: 9,
            max_years: 11,
            assessed_at: None,
        };
        let mut target = Child {
            identity: Some(Identity {
                birth: Some(Birth::DateOfBirth(stored)),
                date_of_birth_recorded: Some(stored),
                assessed_age: Some(age),
                ..Identity::default()
            }),
            ..Child::default()
        };
        let corrected = PartialDate {
            year: 2015,
            ..stored
        };
        let source = Child {
            identity: Some(Identity {
                birth: Some(Birth::DateOfBirth(corrected)),
                ..Identity::default()
            }),
            ..Child::default()
        };
        apply(&mut target, &source, "identity.date_of_birth");
        let identity = target.identity.expect("identity");
        assert_eq!(identity.date_of_birth_recorded, Some(corrected));
        assert_eq!(identity.birth, Some(Birth::DateOfBirth(corrected)));
        assert_eq!(identity.assessed_age, Some(age), "the age is another path");
    }

    #[test]
    fn every_identity_and_protection_field_has_a_path() {
        let descriptor = haven_proto::FILE_DESCRIPTOR_SET;
        let set = <prost_types::FileDescriptorSet as prost::Message>::decode(descriptor)
            .expect("descriptor set");
        for (message, class) in [("Identity", "identity"), ("ProtectionCase", "protection")] {
            let fields: Vec<String> = set
                .file
                .iter()
                .filter(|f| f.package() == "haven.identity.v1")
                .flat_map(|f| f.message_type.iter())
                .filter(|m| m.name() == message)
                .flat_map(|m| m.field.iter().map(|f| f.name().to_owned()))
                .collect();
            assert!(!fields.is_empty(), "{message} not found");
            for field in fields {
                let path = format!("{class}.{field}");
                assert!(class_of(&path).is_some(), "{path} cannot be updated");
            }
        }
    }

    #[test]
    fn every_path_names_its_class_by_prefix() {
        for (path, class) in PATHS {
            assert!(path.starts_with(class.as_str()), "{path}");
        }
    }
}
