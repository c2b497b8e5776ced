//! A stored child as the service reasons about it, and the one conversion each way: from its table row,
//! and to the redacted view one caller may see.

use std::sync::Arc;

use haven_authz::{Access, ClassSet, DataClass, LocationTag, RecordAttrs, ReferralGrant};
use haven_platform::ServiceError;
use haven_platform::sealing::DataKey;
use haven_proto::common::DataClass as WireClass;
use haven_proto::identity::{Child, ChildView, Identity, ProtectionCase, RecordMeta, Whereabouts};
use prost::Message as _;

use crate::entity::child;

/// The classes a `Child` message carries.
pub(crate) const CHILD_CLASSES: ClassSet = ClassSet::of(&[
    DataClass::Identity,
    DataClass::Whereabouts,
    DataClass::Protection,
]);

/// The classes stored sealed under the child's data key.
pub(crate) const SEALED_CLASSES: ClassSet =
    ClassSet::of(&[DataClass::Whereabouts, DataClass::Protection]);

/// Field names bound into the sealed values' associated data.
pub(crate) const WHEREABOUTS_FIELD: &str = "whereabouts";
pub(crate) const PROTECTION_FIELD: &str = "protection";

#[derive(Debug, Clone)]
pub(crate) struct ChildRecord {
    pub(crate) row: child::Model,
    pub(crate) affiliations: Vec<String>,
    /// Accepted referrals, loaded only for callers whose policy looks at them.
    pub(crate) referrals: Vec<ReferralGrant>,
    /// Subjects with an unexpired break-glass grant, loaded only for callers who may hold one.
    pub(crate) break_glass: Vec<String>,
    /// Caseworkers the case is assigned to, loaded only for callers whose policy looks at them.
    pub(crate) assignees: Vec<String>,
    /// Tags of the child's current admin path, loaded only for callers with a location scope.
    pub(crate) locations: Vec<LocationTag>,
    /// The child's unwrapped data key, loaded only for callers who may read a sealed class.
    pub(crate) data_key: Option<Arc<DataKey>>,
}

impl ChildRecord {
    pub(crate) fn attrs(&self) -> RecordAttrs<'_> {
        RecordAttrs {
            owner: &self.row.owner,
            agency: &self.row.agency,
            consent_for_tracing: self.row.consent_for_tracing,
            affiliations: &self.affiliations,
            referrals: &self.referrals,
            break_glass: &self.break_glass,
            assignees: &self.assignees,
            team: self.row.team.as_deref(),
            locations: &self.locations,
        }
    }

    /// The full child, every class decoded. Only for server-side use; callers get [`ChildRecord::view`].
    pub(crate) fn decode(&self) -> Result<Child, ServiceError> {
        self.decode_only(CHILD_CLASSES)
    }

    /// Decodes (and for sealed classes, decrypts) only `classes`: a caller's view never decrypts what
    /// it may not see.
    pub(crate) fn decode_only(&self, classes: ClassSet) -> Result<Child, ServiceError> {
        let corrupt = |class: &str| {
            ServiceError::Internal(format!("stored {class} of a child does not decode"))
        };
        let identity = if classes.contains(DataClass::Identity) {
            Some(Identity::decode(self.row.identity.as_slice()).map_err(|_| corrupt("identity"))?)
        } else {
            None
        };
        let whereabouts = match (
            &self.row.whereabouts,
            classes.contains(DataClass::Whereabouts),
        ) {
            (Some(sealed), true) => Some(
                Whereabouts::decode(self.open(WHEREABOUTS_FIELD, sealed)?.as_slice())
                    .map_err(|_| corrupt("whereabouts"))?,
            ),
            _ => None,
        };
        let protection = match (
            &self.row.protection,
            classes.contains(DataClass::Protection),
        ) {
            (Some(sealed), true) => Some(
                ProtectionCase::decode(self.open(PROTECTION_FIELD, sealed)?.as_slice())
                    .map_err(|_| corrupt("protection"))?,
            ),
            _ => None,
        };
        Ok(Child {
            identity,
            whereabouts,
            protection,
            meta: None,
        })
    }

    fn open(&self, field: &str, sealed: &[u8]) -> Result<Vec<u8>, ServiceError> {
        let key = self.data_key.as_ref().ok_or_else(|| {
            ServiceError::Internal("data key not loaded for a sealed class".into())
        })?;
        key.open(&self.row.id, field, sealed).map_err(|e| {
            ServiceError::Internal(format!("sealed {field} of a child does not open: {e}"))
        })
    }

    /// What this caller may see: the readable classes, and the header. Callers outside the protection
    /// world get only the id and the identity version, so nothing in the header can betray a case.
    pub(crate) fn view(
        &self,
        access: Access,
        protection_world: bool,
    ) -> Result<ChildView, ServiceError> {
        let readable = access.read;
        let full = self.decode_only(readable)?;
        let meta = if protection_world {
            RecordMeta {
                id: self.row.id.clone(),
                version: self.row.version,
                owner: self.row.owner.clone(),
                agency: self.row.agency.clone(),
                created_at: Some(timestamp(self.row.created_at_us)),
                created_by: self.row.created_by.clone(),
                updated_at: Some(timestamp(self.row.updated_at_us)),
                updated_by: self.row.updated_by.clone(),
            }
        } else {
            RecordMeta {
                id: self.row.id.clone(),
                version: self.row.identity_version,
                ..RecordMeta::default()
            }
        };
        let child = Child {
            identity: full
                .identity
                .filter(|_| readable.contains(DataClass::Identity)),
            whereabouts: full
                .whereabouts
                .filter(|_| readable.contains(DataClass::Whereabouts)),
            protection: full
                .protection
                .filter(|_| readable.contains(DataClass::Protection)),
            meta: Some(meta),
        };
        Ok(ChildView {
            child: Some(child),
            withheld: withheld(readable),
            possible_duplicates: Vec::new(),
            duplicate_notices: Vec::new(),
        })
    }

    /// The version this caller compares against in UpdateChild.
    pub(crate) fn visible_version(&self, protection_world: bool) -> i64 {
        if protection_world {
            self.row.version
        } else {
            self.row.identity_version
        }
    }
}

/// The classes of `Child` the caller may not read, in class order.
pub(crate) fn withheld(readable: ClassSet) -> Vec<i32> {
    CHILD_CLASSES
        .difference(readable)
        .iter()
        .map(|class| wire_class(class) as i32)
        .collect()
}

pub(crate) fn wire_class(class: DataClass) -> WireClass {
    match class {
        DataClass::Identity => WireClass::Identity,
        DataClass::Whereabouts => WireClass::Whereabouts,
        DataClass::Protection => WireClass::Protection,
        DataClass::Tracing => WireClass::Tracing,
        DataClass::Education => WireClass::Education,
        DataClass::Audit => WireClass::Audit,
    }
}

/// Parses comma-separated class names (as written by [`class_list`]); unknown names are skipped.
pub(crate) fn parse_class_list(text: &str) -> ClassSet {
    text.split(',')
        .filter_map(|name| DataClass::ALL.into_iter().find(|c| c.as_str() == name))
        .fold(ClassSet::EMPTY, |set, class| {
            set.union(ClassSet::of(&[class]))
        })
}

/// Comma-separated class names, for audit entries.
pub(crate) fn class_list(classes: ClassSet) -> String {
    classes
        .iter()
        .map(DataClass::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

pub(crate) use haven_platform::time::{now_micros, timestamp};
