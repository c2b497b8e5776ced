//! The coarse rule table: for each RPC, by its full gRPC method path, what a caller's roles must allow for
//! the call to be worth making at all. The gateway refuses a call no record could ever allow (PERMISSION_DENIED)
//! before it reaches a service; the service that owns the data then decides per record.
//!
//! Adding an RPC to an existing service means adding one line here, nothing in the gateway.

use std::collections::HashMap;

use crate::claims::Principal;
use crate::policy::{ClassSet, DataClass, Permission, Policy};
use crate::role::Role;

/// What a caller needs for an RPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// Some record could let the caller read this class.
    Reads(DataClass),
    /// Some record could let the caller write this class.
    Writes(DataClass),
    /// Some record could let the caller write one of these classes.
    WritesAnyOf(ClassSet),
    /// The caller's roles carry this permission.
    Has(Permission),
    /// Either the role, or the requirement (learning platforms write records for their own learners).
    RoleOr(Role, &'static Requirement),
    /// The caller holds this role (a machine client's own door, such as a partner's feeds).
    Role(Role),
    /// Anyone with a valid token: the service decides the rest.
    Authenticated,
}

impl Requirement {
    fn allows(&self, policy: &Policy, principal: &Principal) -> bool {
        match self {
            Requirement::Reads(class) => policy.ever_readable(principal).contains(*class),
            Requirement::Writes(class) => policy.ever_writable(principal).contains(*class),
            Requirement::WritesAnyOf(classes) => !policy
                .ever_writable(principal)
                .intersection(*classes)
                .is_empty(),
            Requirement::Has(permission) => policy.has_permission(principal, *permission),
            Requirement::RoleOr(role, otherwise) => {
                principal.has_role(*role) || otherwise.allows(policy, principal)
            }
            Requirement::Role(role) => principal.has_role(*role),
            Requirement::Authenticated => true,
        }
    }
}

/// Where a call is checked. The gateway and the service that owns the RPC read the same table; they
/// differ only for the tracing service's own principal, which calls identity directly and is nobody at
/// the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    Gateway,
    Service,
}

/// What the table says of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// No record could ever allow this caller the RPC.
    Denied,
    /// The table does not know the method: refused, so an RPC nobody wrote a rule for is never open.
    Unknown,
}

const CHILD_RECORD: ClassSet = ClassSet::of(&[
    DataClass::Identity,
    DataClass::Whereabouts,
    DataClass::Protection,
]);

const READS_IDENTITY: Requirement = Requirement::Reads(DataClass::Identity);
const WRITES_PROTECTION: Requirement = Requirement::Writes(DataClass::Protection);
const READS_PROTECTION: Requirement = Requirement::Reads(DataClass::Protection);
const WRITES_TRACING: Requirement = Requirement::Writes(DataClass::Tracing);
const READS_TRACING: Requirement = Requirement::Reads(DataClass::Tracing);
const WRITES_EDUCATION: Requirement = Requirement::Writes(DataClass::Education);
const READS_EDUCATION: Requirement = Requirement::Reads(DataClass::Education);

const IDENTITY: &str = "/haven.identity.v1.ChildIdentity/";
const AUDIT: &str = "/haven.identity.v1.IdentityAudit/";
const TRACING: &str = "/haven.family_tracing.v1.FamilyTracing/";
const LEARNING: &str = "/haven.learning.v1.LearningRecords/";
const PARTNER_FEED: &str = "/haven.identity.v1.PartnerFeed/";
/// A partner agency's feeds. Partners only: the service scopes each call to the caller's own
/// subscriptions and its agency's referrals. Staff roles read children directly under their own scope and
/// need no feed; an admin manages users and configuration, and a feed names referred children
/// (protection data), so an admin may not read or steer one either.
const PARTNER: Requirement = Requirement::Role(Role::Partner);

/// Haven's RPCs: (service prefix, method, requirement). One line per RPC, so the table reads as one.
#[rustfmt::skip]
const HAVEN_RULES: &[(&str, &str, Requirement)] = &[
    (IDENTITY, "RegisterChild", Requirement::Writes(DataClass::Identity)),
    (IDENTITY, "UpdateChild", Requirement::WritesAnyOf(CHILD_RECORD)),
    (IDENTITY, "GetChild", READS_IDENTITY),
    (IDENTITY, "ListChildren", READS_IDENTITY),
    (IDENTITY, "SearchChildren", READS_IDENTITY),
    (IDENTITY, "EraseChild", Requirement::Has(Permission::EraseChild)),
    (IDENTITY, "BreakGlass", Requirement::Has(Permission::BreakGlass)),
    (IDENTITY, "ListBreakGlassAlerts", Requirement::Has(Permission::BreakGlass)),
    // Referring, assigning and merging are protection acts; that a child was referred is protection data.
    (IDENTITY, "CreateReferral", WRITES_PROTECTION),
    (IDENTITY, "AssignCase", WRITES_PROTECTION),
    (IDENTITY, "MergeChildren", WRITES_PROTECTION),
    (IDENTITY, "TransitionReferral", READS_PROTECTION),
    (IDENTITY, "ListReferrals", READS_PROTECTION),
    // Asking another agency about a likely duplicate, and its answer: protection acts on both records.
    (IDENTITY, "RequestDuplicateReview", WRITES_PROTECTION),
    (IDENTITY, "AnswerDuplicateReview", WRITES_PROTECTION),
    (AUDIT, "ListAuditEntries", Requirement::Reads(DataClass::Audit)),
    (TRACING, "CreateTracingRequest", WRITES_TRACING),
    (TRACING, "UpdateTracingRequest", WRITES_TRACING),
    (TRACING, "TransitionTracingRequest", WRITES_TRACING),
    (TRACING, "RecordFollowUp", WRITES_TRACING),
    (TRACING, "ReviewMatch", WRITES_TRACING),
    (TRACING, "GetTracingRequest", READS_TRACING),
    (TRACING, "ListTracingRequests", READS_TRACING),
    (TRACING, "FindMatches", READS_TRACING),
    (TRACING, "ListFamilyLinks", READS_TRACING),
    (TRACING, "ListAlerts", READS_TRACING),
    // Learning: educators write; learning platforms write records and read curricula (their per-learner
    // rule lives in the learning service); education readers read.
    (LEARNING, "ImportFramework", WRITES_EDUCATION),
    (LEARNING, "AlignOutcomes", WRITES_EDUCATION),
    (LEARNING, "EnrolLearner", WRITES_EDUCATION),
    (LEARNING, "UpdateEnrolment", WRITES_EDUCATION),
    (LEARNING, "IssuePassport", WRITES_EDUCATION),
    (LEARNING, "ImportPassport", WRITES_EDUCATION),
    (LEARNING, "RevokePassport", WRITES_EDUCATION),
    (LEARNING, "RecordLearning", Requirement::RoleOr(Role::Lms, &WRITES_EDUCATION)),
    (LEARNING, "CorrectLearningRecord", Requirement::RoleOr(Role::Lms, &WRITES_EDUCATION)),
    (LEARNING, "GetFramework", Requirement::RoleOr(Role::Lms, &READS_EDUCATION)),
    (LEARNING, "ListFrameworks", Requirement::RoleOr(Role::Lms, &READS_EDUCATION)),
    (LEARNING, "ListEnrolments", READS_EDUCATION),
    (LEARNING, "ListLearningRecords", READS_EDUCATION),
    (LEARNING, "GetProgress", READS_EDUCATION),
    (LEARNING, "VerifyPassport", READS_EDUCATION),
    (PARTNER_FEED, "CreateWebhookSubscription", PARTNER),
    (PARTNER_FEED, "ListWebhookSubscriptions", PARTNER),
    (PARTNER_FEED, "GetWebhookSubscription", PARTNER),
    (PARTNER_FEED, "DeleteWebhookSubscription", PARTNER),
    (PARTNER_FEED, "RotateWebhookSecret", PARTNER),
    (PARTNER_FEED, "ListWebhookDeliveries", PARTNER),
    (PARTNER_FEED, "ReplayWebhookDelivery", PARTNER),
    (PARTNER_FEED, "ListChanges", PARTNER),
];

/// The rule table, by full method path (`/haven.identity.v1.ChildIdentity/GetChild`).
#[derive(Debug, Clone)]
pub struct RuleTable {
    rules: HashMap<String, Requirement>,
}

impl Default for RuleTable {
    fn default() -> Self {
        RuleTable::haven()
    }
}

impl RuleTable {
    /// Every Haven RPC.
    pub fn haven() -> RuleTable {
        RuleTable {
            rules: HAVEN_RULES
                .iter()
                .map(|(service, method, requirement)| (format!("{service}{method}"), *requirement))
                .collect(),
        }
    }

    /// The table with one more rule (or a changed one), for a deployment's own services and for tests.
    pub fn with(mut self, method_path: &str, requirement: Requirement) -> RuleTable {
        self.rules.insert(method_path.to_owned(), requirement);
        self
    }

    pub fn methods(&self) -> impl Iterator<Item = &str> {
        self.rules.keys().map(String::as_str)
    }

    pub fn requirement(&self, method_path: &str) -> Option<Requirement> {
        self.rules.get(method_path).copied()
    }

    /// Whether any record could ever allow this principal the call, checked at `door`.
    pub fn verdict(
        &self,
        policy: &Policy,
        principal: &Principal,
        method_path: &str,
        door: Door,
    ) -> Verdict {
        let Some(requirement) = self.rules.get(method_path) else {
            return Verdict::Unknown;
        };
        // The tracing service's own principal talks to identity directly; at the edge it is nobody.
        if door == Door::Gateway && principal.has_role(Role::TracingService) {
            return Verdict::Denied;
        }
        if requirement.allows(policy, principal) {
            Verdict::Allowed
        } else {
            Verdict::Denied
        }
    }
}

/// `/haven.identity.v1.ChildIdentity/GetChild` -> `GetChild`.
pub fn method_name(method_path: &str) -> &str {
    method_path.rsplit('/').next().unwrap_or(method_path)
}
