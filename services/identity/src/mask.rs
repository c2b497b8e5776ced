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
                "date_of_birth" => match src.birth {
                    Some(Birth::DateOfBirth(date)) => dst.birth = Some(Birth::DateOfBirth(date)),
                    _ if matches!(dst.birth, Some(Birth::DateOfBirth(_))) => dst.birth = None,
                    _ => {}
                },
                "age_estimate" => match src.birth {
                    Some(Birth::AgeEstimate(age)) => dst.birth = Some(Birth::AgeEstimate(age)),
                    _ if matches!(dst.birth, Some(Birth::AgeEstimate(_))) => dst.birth = None,
                    _ => {}
                },
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
                "separation_cause" => dst.separation_cause = src.separation_cause,
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
    fn every_path_names_its_class_by_prefix() {
        for (path, class) in PATHS {
            assert!(path.starts_with(class.as_str()), "{path}");
        }
    }
}
