//! The default role policy of DESIGN.md §3: roles x data classes x record scope, deny by default.
//!
//! A role holds grants; each grant gives read and write rights on some data classes over the records in
//! one scope. A caller's rights on a record are the union of the grants whose scope covers the record.
//! The same grants drive the service's SQL filter for lists and searches, so a list never shows what a
//! get would refuse.

use std::fmt;
use std::sync::LazyLock;

use crate::claims::Principal;
use crate::role::Role;

/// A data class (DESIGN.md §3). Every field of every record belongs to exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DataClass {
    Identity,
    Whereabouts,
    Protection,
    Tracing,
    Education,
    Audit,
}

impl DataClass {
    pub const ALL: [DataClass; 6] = [
        DataClass::Identity,
        DataClass::Whereabouts,
        DataClass::Protection,
        DataClass::Tracing,
        DataClass::Education,
        DataClass::Audit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DataClass::Identity => "identity",
            DataClass::Whereabouts => "whereabouts",
            DataClass::Protection => "protection",
            DataClass::Tracing => "tracing",
            DataClass::Education => "education",
            DataClass::Audit => "audit",
        }
    }

    const fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for DataClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of data classes, as a bit set so that a decision costs a few instructions.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ClassSet(u8);

impl ClassSet {
    pub const EMPTY: ClassSet = ClassSet(0);

    pub const fn of(classes: &[DataClass]) -> ClassSet {
        let mut bits = 0;
        let mut i = 0;
        while i < classes.len() {
            bits |= classes[i].bit();
            i += 1;
        }
        ClassSet(bits)
    }

    pub const fn contains(self, class: DataClass) -> bool {
        self.0 & class.bit() != 0
    }

    pub const fn union(self, other: ClassSet) -> ClassSet {
        ClassSet(self.0 | other.0)
    }

    pub const fn intersection(self, other: ClassSet) -> ClassSet {
        ClassSet(self.0 & other.0)
    }

    pub const fn difference(self, other: ClassSet) -> ClassSet {
        ClassSet(self.0 & !other.0)
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = DataClass> {
        DataClass::ALL
            .into_iter()
            .filter(move |class| self.contains(*class))
    }
}

impl fmt::Debug for ClassSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// Which records a grant covers, judged from the record's attributes and the caller's claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Records the caller owns, within their agency.
    Own,
    /// Cases of the caller's agency assigned to them.
    Assigned,
    /// Cases of the caller's team (token `team`) within their agency.
    Team,
    /// Records of the caller's agency.
    Agency,
    /// Records of the caller's agency whose child is currently in an admin area under one of the
    /// caller's `locations` claims (matched through keyed location tags, never plaintext).
    Location,
    /// Children affiliated with the caller's organisation as learners (registered by it or enrolled with it).
    Affiliated,
    /// Children of other agencies whose case records `consent_for_tracing`.
    TracingConsentElsewhere,
    /// Records with an accepted referral to the caller's agency; only the classes the referral shares.
    Referred,
    /// Records the caller opened with break-glass: time-boxed, with a reason, audited and alerted.
    BreakGlass,
    /// Every record.
    All,
}

/// Rights on the records of one scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    pub scope: Scope,
    pub read: ClassSet,
    pub write: ClassSet,
}

/// What a caller may do with one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Access {
    pub read: ClassSet,
    pub write: ClassSet,
}

impl Access {
    /// A record the caller may neither read nor write is, for them, not there: NOT_FOUND.
    pub fn is_visible(self) -> bool {
        !self.read.is_empty() || !self.write.is_empty()
    }

    /// These rights limited to the classes a message carries. A service asks this before
    /// `is_visible`, so that a right on another class (an auditor's `audit`) does not make a record of
    /// its own visible.
    pub fn restricted_to(self, classes: ClassSet) -> Access {
        Access {
            read: self.read.intersection(classes),
            write: self.write.intersection(classes),
        }
    }
}

/// The attributes of a record that scope decisions look at.
#[derive(Debug, Clone, Copy)]
pub struct RecordAttrs<'a> {
    pub owner: &'a str,
    pub agency: &'a str,
    pub consent_for_tracing: bool,
    /// Organisations the child is affiliated with as a learner.
    pub affiliations: &'a [String],
    /// Accepted referrals of the record: which agency, and which classes the referrer shared.
    pub referrals: &'a [ReferralGrant],
    /// Subjects holding an unexpired break-glass grant on the record.
    pub break_glass: &'a [String],
    /// Subjects the case is assigned to, besides its owner.
    pub assignees: &'a [String],
    /// The team that holds the case, if any.
    pub team: Option<&'a str>,
    /// Tags of every prefix of the child's current admin path (see [`crate::LocationKey`]).
    pub locations: &'a [crate::LocationTag],
}

/// One accepted referral as access control sees it: a partner agency and the classes shared with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferralGrant {
    pub agency: String,
    pub classes: ClassSet,
}

/// The compiled policy: for each role, its grants. Decisions are bit-set operations over a handful of
/// grants, with no allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    grants: [Vec<Grant>; Role::ALL.len()],
    permissions: [Vec<Permission>; Role::ALL.len()],
}

/// A right that is not about reading or writing a data class: an administrative act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Erase a child: destroy its data key (crypto-shredding) and its identity, with a recorded reason.
    EraseChild,
    /// Refer a case although the child's consent does not cover it, with a written reason (audited).
    ConsentOverride,
    /// Open a case outside one's scope for a limited time, with a reason; audited and alerted.
    BreakGlass,
}

impl Permission {
    pub const ALL: [Permission; 3] = [
        Permission::EraseChild,
        Permission::ConsentOverride,
        Permission::BreakGlass,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::EraseChild => "erase_child",
            Permission::ConsentOverride => "consent_override",
            Permission::BreakGlass => "break_glass",
        }
    }
}

/// The shipped default policy file.
pub const DEFAULT_POLICY_TOML: &str = include_str!("../policy/default.toml");

static DEFAULT_POLICY: LazyLock<Policy> = LazyLock::new(|| {
    // The shipped file is covered by tests; a broken one cannot pass CI.
    Policy::from_toml(DEFAULT_POLICY_TOML).expect("the shipped default policy is valid")
});

impl Default for Policy {
    fn default() -> Self {
        DEFAULT_POLICY.clone()
    }
}

/// Why a policy file was refused. The message names the role, grant and value at fault.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    #[error("policy file is not valid TOML for a policy: {0}")]
    Syntax(String),
    #[error("unknown role {0:?}")]
    UnknownRole(String),
    #[error("role {role}, grant {index}: unknown scope {scope:?}")]
    UnknownScope {
        role: String,
        index: usize,
        scope: String,
    },
    #[error("role {role}, grant {index}: unknown data class {class:?}")]
    UnknownClass {
        role: String,
        index: usize,
        class: String,
    },
    #[error("role {role} may never be granted {class} (DESIGN.md: one child, two worlds)")]
    Forbidden { role: String, class: String },
    #[error("role admin may hold no child data, but grant {0} gives some")]
    AdminWithChildData(usize),
    #[error("role {role}: unknown permission {permission:?}")]
    UnknownPermission { role: String, permission: String },
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    roles: std::collections::BTreeMap<String, RoleEntry>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleEntry {
    grants: Vec<GrantEntry>,
    #[serde(default)]
    permissions: Vec<String>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantEntry {
    scope: String,
    #[serde(default)]
    read: Vec<String>,
    #[serde(default)]
    write: Vec<String>,
}

impl Scope {
    pub const ALL: [Scope; 10] = [
        Scope::Own,
        Scope::Assigned,
        Scope::Team,
        Scope::Agency,
        Scope::Location,
        Scope::Affiliated,
        Scope::TracingConsentElsewhere,
        Scope::Referred,
        Scope::BreakGlass,
        Scope::All,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Own => "own",
            Scope::Assigned => "assigned",
            Scope::Team => "team",
            Scope::Agency => "agency",
            Scope::Location => "location",
            Scope::Affiliated => "affiliated",
            Scope::TracingConsentElsewhere => "tracing_consent_elsewhere",
            Scope::Referred => "referred",
            Scope::BreakGlass => "break_glass",
            Scope::All => "all",
        }
    }
}

/// Classes some roles may never hold, whatever a deployment's file says.
const PROTECTION_WORLD: ClassSet = ClassSet::of(&[
    DataClass::Whereabouts,
    DataClass::Protection,
    DataClass::Tracing,
]);

impl Policy {
    /// Parses and validates a policy file.
    pub fn from_toml(text: &str) -> Result<Policy, PolicyError> {
        let file: PolicyFile =
            toml::from_str(text).map_err(|e| PolicyError::Syntax(e.to_string()))?;
        let mut grants: [Vec<Grant>; Role::ALL.len()] = Default::default();
        let mut permissions: [Vec<Permission>; Role::ALL.len()] = Default::default();
        for (role_name, entry) in file.roles {
            let role: Role = role_name
                .parse()
                .map_err(|_| PolicyError::UnknownRole(role_name.clone()))?;
            for name in &entry.permissions {
                let permission = Permission::ALL
                    .into_iter()
                    .find(|p| p.as_str() == name)
                    .ok_or_else(|| PolicyError::UnknownPermission {
                        role: role_name.clone(),
                        permission: name.clone(),
                    })?;
                permissions[role as usize].push(permission);
            }
            for (index, grant) in entry.grants.into_iter().enumerate() {
                let scope = Scope::ALL
                    .into_iter()
                    .find(|s| s.as_str() == grant.scope)
                    .ok_or_else(|| PolicyError::UnknownScope {
                        role: role_name.clone(),
                        index,
                        scope: grant.scope.clone(),
                    })?;
                let classes = |names: &[String]| -> Result<ClassSet, PolicyError> {
                    names.iter().try_fold(ClassSet::EMPTY, |set, name| {
                        let class = DataClass::ALL
                            .into_iter()
                            .find(|c| c.as_str() == name)
                            .ok_or_else(|| PolicyError::UnknownClass {
                                role: role_name.clone(),
                                index,
                                class: name.clone(),
                            })?;
                        Ok(set.union(ClassSet::of(&[class])))
                    })
                };
                let read = classes(&grant.read)?;
                let write = classes(&grant.write)?;
                let held = read.union(write);
                if matches!(
                    role,
                    Role::Educator | Role::Lms | Role::Auditor | Role::TracingService
                ) && let Some(class) = held.intersection(PROTECTION_WORLD).iter().next()
                {
                    return Err(PolicyError::Forbidden {
                        role: role_name.clone(),
                        class: class.as_str().into(),
                    });
                }
                if role == Role::Admin && !held.is_empty() {
                    return Err(PolicyError::AdminWithChildData(index));
                }
                grants[role as usize].push(Grant { scope, read, write });
            }
        }
        Ok(Policy {
            grants,
            permissions,
        })
    }
}

impl Policy {
    pub fn grants(&self, role: Role) -> &[Grant] {
        &self.grants[role as usize]
    }

    /// Every grant the principal holds through any of its roles.
    pub fn grants_of<'p>(
        &'p self,
        principal: &'p Principal,
    ) -> impl Iterator<Item = &'p Grant> + 'p {
        principal
            .roles
            .iter()
            .flat_map(move |role| self.grants(*role).iter())
    }

    /// Whether a scope covers a record for this principal.
    pub fn scope_covers(scope: Scope, principal: &Principal, record: &RecordAttrs<'_>) -> bool {
        match scope {
            // Both also require the caller's agency: a subject named alike in another agency, or a
            // case assigned across agencies, must not open a case (sharing goes through referrals).
            Scope::Own => record.owner == principal.sub && record.agency == principal.agency,
            Scope::Assigned => {
                record.assignees.contains(&principal.sub) && record.agency == principal.agency
            }
            Scope::Team => {
                principal.team.is_some()
                    && record.team == principal.team.as_deref()
                    && record.agency == principal.agency
            }
            Scope::Agency => record.agency == principal.agency,
            Scope::Location => {
                record.agency == principal.agency
                    && record
                        .locations
                        .iter()
                        .any(|tag| principal.location_tags.contains(tag))
            }
            Scope::Affiliated => record.affiliations.contains(&principal.agency),
            Scope::TracingConsentElsewhere => {
                record.consent_for_tracing && record.agency != principal.agency
            }
            Scope::Referred => !Self::shared_with(principal, record).is_empty(),
            Scope::BreakGlass => record.break_glass.contains(&principal.sub),
            Scope::All => true,
        }
    }

    /// The principal's rights on one record.
    pub fn access(&self, principal: &Principal, record: &RecordAttrs<'_>) -> Access {
        self.grants_of(principal)
            .filter(|grant| Self::scope_covers(grant.scope, principal, record))
            .fold(Access::default(), |access, grant| {
                // A referral gives no more than the classes its referrer chose to share.
                let shared = match grant.scope {
                    Scope::Referred => Self::shared_with(principal, record),
                    _ => ClassSet::of(&DataClass::ALL),
                };
                Access {
                    read: access.read.union(grant.read.intersection(shared)),
                    write: access.write.union(grant.write.intersection(shared)),
                }
            })
    }

    /// The classes the record's accepted referrals share with the principal's agency.
    fn shared_with(principal: &Principal, record: &RecordAttrs<'_>) -> ClassSet {
        record
            .referrals
            .iter()
            .filter(|referral| referral.agency == principal.agency)
            .fold(ClassSet::EMPTY, |set, referral| set.union(referral.classes))
    }

    /// The most the principal could hold on any record: the union of all its grants.
    pub fn max_access(&self, principal: &Principal) -> Access {
        Access {
            read: self.ever_readable(principal),
            write: self.ever_writable(principal),
        }
    }

    /// Classes the principal may read on some record, whatever the record. The gateway rejects an RPC
    /// outright when this cannot cover what the RPC needs.
    pub fn ever_readable(&self, principal: &Principal) -> ClassSet {
        self.grants_of(principal)
            .fold(ClassSet::EMPTY, |set, grant| set.union(grant.read))
    }

    /// Classes the principal may write on some record, whatever the record.
    pub fn ever_writable(&self, principal: &Principal) -> ClassSet {
        self.grants_of(principal)
            .fold(ClassSet::EMPTY, |set, grant| set.union(grant.write))
    }

    /// Whether any of the principal's roles holds `permission`.
    pub fn has_permission(&self, principal: &Principal, permission: Permission) -> bool {
        principal
            .roles
            .iter()
            .any(|role| self.permissions[*role as usize].contains(&permission))
    }

    /// The permissions one role holds.
    pub fn permissions(&self, role: Role) -> &[Permission] {
        &self.permissions[role as usize]
    }

    /// Whether any of the principal's grants uses `scope`, so callers can skip loading the record
    /// attributes that only that scope looks at.
    pub fn uses_scope(&self, principal: &Principal, scope: Scope) -> bool {
        self.grants_of(principal).any(|grant| grant.scope == scope)
    }

    /// Whether the principal belongs to the protection world (may ever read whereabouts, protection or
    /// tracing). Callers outside it must not be able to tell that a protection case exists, so they see
    /// a reduced record header (DESIGN.md "one child, two worlds").
    pub fn in_protection_world(&self, principal: &Principal) -> bool {
        !self
            .ever_readable(principal)
            .intersection(PROTECTION_WORLD)
            .is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role, sub: &str, agency: &str) -> Principal {
        Principal {
            sub: sub.into(),
            agency: agency.into(),
            roles: vec![role],
            team: None,
            locations: vec![],
            location_tags: vec![],
            jti: "j".into(),
            exp: u64::MAX,
        }
    }

    fn record<'a>(
        owner: &'a str,
        agency: &'a str,
        consent: bool,
        aff: &'a [String],
    ) -> RecordAttrs<'a> {
        RecordAttrs {
            owner,
            agency,
            consent_for_tracing: consent,
            affiliations: aff,
            referrals: &[],
            break_glass: &[],
            assignees: &[],
            team: None,
            locations: &[],
        }
    }

    #[test]
    fn caseworker_sees_own_cases_only() {
        let policy = Policy::default();
        let me = principal(Role::Caseworker, "cw1", "a1");
        let own = policy.access(&me, &record("cw1", "a1", false, &[]));
        assert!(own.read.contains(DataClass::Protection));
        assert!(own.write.contains(DataClass::Whereabouts));
        let colleague = policy.access(&me, &record("cw2", "a1", false, &[]));
        assert!(!colleague.is_visible());
    }

    #[test]
    fn reunification_officer_sees_only_identity_across_agencies_and_only_with_consent() {
        let policy = Policy::default();
        let me = principal(Role::ReunificationOfficer, "ro", "a1");
        let elsewhere = policy.access(&me, &record("cw", "a2", true, &[]));
        assert_eq!(elsewhere.read, ClassSet::of(&[DataClass::Identity]));
        assert!(
            !policy
                .access(&me, &record("cw", "a2", false, &[]))
                .is_visible()
        );
        let home = policy.access(&me, &record("cw", "a1", false, &[]));
        assert!(home.read.contains(DataClass::Protection));
        assert!(!home.write.contains(DataClass::Identity));
    }

    #[test]
    fn educator_never_reads_protection_world_classes() {
        let policy = Policy::default();
        let me = principal(Role::Educator, "t", "school");
        let aff = vec!["school".to_string()];
        let access = policy.access(&me, &record("someone", "other", true, &aff));
        assert_eq!(
            access.read,
            ClassSet::of(&[DataClass::Identity, DataClass::Education])
        );
        assert!(!policy.in_protection_world(&me));
        assert!(
            !policy
                .access(&me, &record("t", "school", true, &[]))
                .is_visible()
        );
    }

    #[test]
    fn machine_and_oversight_roles_hold_no_child_rights() {
        let policy = Policy::default();
        let child_data = ClassSet::of(&[
            DataClass::Identity,
            DataClass::Whereabouts,
            DataClass::Protection,
            DataClass::Tracing,
            DataClass::Education,
        ]);
        for role in [Role::Lms, Role::Auditor, Role::Admin] {
            let me = principal(role, "x", "a1");
            assert!(
                policy
                    .ever_readable(&me)
                    .intersection(child_data)
                    .is_empty(),
                "{role}"
            );
            assert!(policy.ever_writable(&me).is_empty(), "{role}");
        }
        let auditor = principal(Role::Auditor, "x", "a1");
        assert_eq!(
            policy.ever_readable(&auditor),
            ClassSet::of(&[DataClass::Audit])
        );
        let record = policy.access(&auditor, &record("cw", "a1", true, &[]));
        assert!(
            !record.restricted_to(child_data).is_visible(),
            "an audit right shows no child record"
        );
    }

    #[test]
    fn the_shipped_file_is_the_default_and_grants_every_role_explicitly() {
        let policy = Policy::from_toml(DEFAULT_POLICY_TOML).expect("valid");
        assert_eq!(policy, Policy::default());
        for role in Role::ALL {
            assert!(
                DEFAULT_POLICY_TOML.contains(&format!("[roles.{role}]")),
                "{role} is stated in the file"
            );
        }
    }

    #[test]
    fn a_file_may_not_give_an_educator_protection_data() {
        let text = "[roles.educator]\ngrants = [{ scope = \"all\", read = [\"identity\", \"protection\"] }]\n";
        assert_eq!(
            Policy::from_toml(text),
            Err(PolicyError::Forbidden {
                role: "educator".into(),
                class: "protection".into()
            })
        );
        let admin = "[roles.admin]\ngrants = [{ scope = \"all\", read = [\"identity\"] }]\n";
        assert_eq!(
            Policy::from_toml(admin),
            Err(PolicyError::AdminWithChildData(0))
        );
    }

    #[test]
    fn typos_are_refused_with_their_place() {
        let role = "[roles.caseworkr]\ngrants = []\n";
        assert_eq!(
            Policy::from_toml(role),
            Err(PolicyError::UnknownRole("caseworkr".into()))
        );
        let scope = "[roles.caseworker]\ngrants = [{ scope = \"mine\", read = [] }]\n";
        assert!(matches!(
            Policy::from_toml(scope),
            Err(PolicyError::UnknownScope { index: 0, .. })
        ));
        let class = "[roles.caseworker]\ngrants = [{ scope = \"own\", read = [\"identiy\"] }]\n";
        assert!(matches!(
            Policy::from_toml(class),
            Err(PolicyError::UnknownClass { .. })
        ));
        let field = "[roles.caseworker]\ngrants = [{ scope = \"own\", reed = [] }]\n";
        assert!(matches!(
            Policy::from_toml(field),
            Err(PolicyError::Syntax(_))
        ));
    }

    #[test]
    fn a_role_missing_from_the_file_is_denied_everything() {
        let policy = Policy::from_toml("[roles.supervisor]\ngrants = []\n").expect("valid");
        let me = principal(Role::Caseworker, "cw1", "a1");
        assert!(
            !policy
                .access(&me, &record("cw1", "a1", false, &[]))
                .is_visible()
        );
    }

    #[test]
    fn a_partner_sees_only_what_an_accepted_referral_shares() {
        let policy = Policy::default();
        let partner = principal(Role::Partner, "ngo-client", "ngo-1");
        let referrals = vec![ReferralGrant {
            agency: "ngo-1".into(),
            classes: ClassSet::of(&[DataClass::Identity, DataClass::Protection]),
        }];
        let record = RecordAttrs {
            owner: "cw",
            agency: "a1",
            consent_for_tracing: false,
            affiliations: &[],
            referrals: &referrals,
            break_glass: &[],
            assignees: &[],
            team: None,
            locations: &[],
        };
        let access = policy.access(&partner, &record);
        assert_eq!(
            access.read,
            ClassSet::of(&[DataClass::Identity, DataClass::Protection])
        );
        let elsewhere = principal(Role::Partner, "other", "ngo-2");
        assert!(!policy.access(&elsewhere, &record).is_visible());
        let unreferred = RecordAttrs {
            referrals: &[],
            ..record
        };
        assert!(!policy.access(&partner, &unreferred).is_visible());
    }

    #[test]
    fn assignment_and_team_scopes_cover_their_cases_only() {
        let policy = Policy::from_toml(
            "[roles.caseworker]\ngrants = [\n  { scope = \"assigned\", read = [\"identity\"] },\n  { scope = \"team\", read = [\"protection\"] },\n]\n",
        )
        .expect("valid");
        let mut me = principal(Role::Caseworker, "cw2", "a1");
        me.team = Some("north".into());
        let assignees = vec!["cw2".to_string()];
        let record = RecordAttrs {
            owner: "cw1",
            agency: "a1",
            consent_for_tracing: false,
            affiliations: &[],
            referrals: &[],
            break_glass: &[],
            assignees: &assignees,
            team: Some("north"),
            locations: &[],
        };
        let access = policy.access(&me, &record);
        assert_eq!(
            access.read,
            ClassSet::of(&[DataClass::Identity, DataClass::Protection])
        );
        let other_agency = RecordAttrs {
            agency: "a2",
            assignees: &[],
            ..record
        };
        assert!(
            !policy.access(&me, &other_agency).is_visible(),
            "a team is within one agency"
        );
        me.team = None;
        let teamless = RecordAttrs {
            assignees: &[],
            ..record
        };
        assert!(
            !policy.access(&me, &teamless).is_visible(),
            "no team claim, no team scope"
        );
    }

    #[test]
    fn location_scope_covers_cases_under_the_callers_areas_within_the_agency() {
        let policy = Policy::from_toml(
            "[roles.supervisor]\ngrants = [{ scope = \"location\", read = [\"identity\", \"protection\"] }]\n",
        )
        .expect("valid");
        let key = crate::LocationKey::from_bytes([9; 32]);
        let mut me = principal(Role::Supervisor, "sv", "a1");
        me.locations = vec!["SO/Banadir".into()];
        let me = me.with_location_tags(&key);
        let in_area = key.tags_for_path(&["SO", "Banadir", "Hodan"]);
        let elsewhere = key.tags_for_path(&["SO", "Bay", "Baidoa"]);
        let record = RecordAttrs {
            locations: &in_area,
            ..record("cw", "a1", false, &[])
        };
        assert_eq!(
            policy.access(&me, &record).read,
            ClassSet::of(&[DataClass::Identity, DataClass::Protection])
        );
        let outside = RecordAttrs {
            locations: &elsewhere,
            ..record
        };
        assert!(!policy.access(&me, &outside).is_visible());
        let other_agency = RecordAttrs {
            agency: "a2",
            ..record
        };
        assert!(!policy.access(&me, &other_agency).is_visible());
        let untagged = principal(Role::Supervisor, "sv", "a1");
        assert!(
            !policy.access(&untagged, &record).is_visible(),
            "claims count only once tagged by the service"
        );
    }

    #[test]
    fn role_names_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err());
    }
}
