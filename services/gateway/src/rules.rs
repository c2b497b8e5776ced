//! Coarse authorization at the edge: which RPCs a caller's roles could ever use. Finer decisions (which
//! record, which classes) belong to the service that owns the data.

use haven_authz::{ClassSet, DataClass, Permission, Policy, Principal, Role};

/// The public RPCs the gateway routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicRpc {
    RegisterChild,
    GetChild,
    UpdateChild,
    ListChildren,
    SearchChildren,
    EraseChild,
    MergeChildren,
    AssignCase,
    CreateReferral,
    TransitionReferral,
    ListReferrals,
    BreakGlass,
    ListBreakGlassAlerts,
    ListAuditEntries,
    CreateTracingRequest,
    GetTracingRequest,
    UpdateTracingRequest,
    ListTracingRequests,
    TransitionTracingRequest,
    RecordFollowUp,
    FindMatches,
    ReviewMatch,
    ListFamilyLinks,
    ListAlerts,
    ImportFramework,
    GetFramework,
    ListFrameworks,
    AlignOutcomes,
    EnrolLearner,
    UpdateEnrolment,
    ListEnrolments,
    RecordLearning,
    CorrectLearningRecord,
    ListLearningRecords,
    GetProgress,
    IssuePassport,
    VerifyPassport,
    ImportPassport,
    RevokePassport,
}

impl PublicRpc {
    pub const ALL: [PublicRpc; 39] = [
        PublicRpc::RegisterChild,
        PublicRpc::GetChild,
        PublicRpc::UpdateChild,
        PublicRpc::ListChildren,
        PublicRpc::SearchChildren,
        PublicRpc::EraseChild,
        PublicRpc::MergeChildren,
        PublicRpc::AssignCase,
        PublicRpc::CreateReferral,
        PublicRpc::TransitionReferral,
        PublicRpc::ListReferrals,
        PublicRpc::BreakGlass,
        PublicRpc::ListBreakGlassAlerts,
        PublicRpc::ListAuditEntries,
        PublicRpc::CreateTracingRequest,
        PublicRpc::GetTracingRequest,
        PublicRpc::UpdateTracingRequest,
        PublicRpc::ListTracingRequests,
        PublicRpc::TransitionTracingRequest,
        PublicRpc::RecordFollowUp,
        PublicRpc::FindMatches,
        PublicRpc::ReviewMatch,
        PublicRpc::ListFamilyLinks,
        PublicRpc::ListAlerts,
        PublicRpc::ImportFramework,
        PublicRpc::GetFramework,
        PublicRpc::ListFrameworks,
        PublicRpc::AlignOutcomes,
        PublicRpc::EnrolLearner,
        PublicRpc::UpdateEnrolment,
        PublicRpc::ListEnrolments,
        PublicRpc::RecordLearning,
        PublicRpc::CorrectLearningRecord,
        PublicRpc::ListLearningRecords,
        PublicRpc::GetProgress,
        PublicRpc::IssuePassport,
        PublicRpc::VerifyPassport,
        PublicRpc::ImportPassport,
        PublicRpc::RevokePassport,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PublicRpc::RegisterChild => "RegisterChild",
            PublicRpc::GetChild => "GetChild",
            PublicRpc::UpdateChild => "UpdateChild",
            PublicRpc::ListChildren => "ListChildren",
            PublicRpc::SearchChildren => "SearchChildren",
            PublicRpc::EraseChild => "EraseChild",
            PublicRpc::MergeChildren => "MergeChildren",
            PublicRpc::AssignCase => "AssignCase",
            PublicRpc::CreateReferral => "CreateReferral",
            PublicRpc::TransitionReferral => "TransitionReferral",
            PublicRpc::ListReferrals => "ListReferrals",
            PublicRpc::BreakGlass => "BreakGlass",
            PublicRpc::ListBreakGlassAlerts => "ListBreakGlassAlerts",
            PublicRpc::ListAuditEntries => "ListAuditEntries",
            PublicRpc::CreateTracingRequest => "CreateTracingRequest",
            PublicRpc::GetTracingRequest => "GetTracingRequest",
            PublicRpc::UpdateTracingRequest => "UpdateTracingRequest",
            PublicRpc::ListTracingRequests => "ListTracingRequests",
            PublicRpc::TransitionTracingRequest => "TransitionTracingRequest",
            PublicRpc::RecordFollowUp => "RecordFollowUp",
            PublicRpc::FindMatches => "FindMatches",
            PublicRpc::ReviewMatch => "ReviewMatch",
            PublicRpc::ListFamilyLinks => "ListFamilyLinks",
            PublicRpc::ListAlerts => "ListAlerts",
            PublicRpc::ImportFramework => "ImportFramework",
            PublicRpc::GetFramework => "GetFramework",
            PublicRpc::ListFrameworks => "ListFrameworks",
            PublicRpc::AlignOutcomes => "AlignOutcomes",
            PublicRpc::EnrolLearner => "EnrolLearner",
            PublicRpc::UpdateEnrolment => "UpdateEnrolment",
            PublicRpc::ListEnrolments => "ListEnrolments",
            PublicRpc::RecordLearning => "RecordLearning",
            PublicRpc::CorrectLearningRecord => "CorrectLearningRecord",
            PublicRpc::ListLearningRecords => "ListLearningRecords",
            PublicRpc::GetProgress => "GetProgress",
            PublicRpc::IssuePassport => "IssuePassport",
            PublicRpc::VerifyPassport => "VerifyPassport",
            PublicRpc::ImportPassport => "ImportPassport",
            PublicRpc::RevokePassport => "RevokePassport",
        }
    }
}

const CHILD_RECORD: ClassSet = ClassSet::of(&[
    DataClass::Identity,
    DataClass::Whereabouts,
    DataClass::Protection,
]);

/// Whether any record could ever allow this principal the RPC.
pub fn may_ever_call(policy: &Policy, principal: &Principal, rpc: PublicRpc) -> bool {
    // The tracing service's own principal talks to identity directly; at the edge it is nobody.
    if principal.has_role(Role::TracingService) {
        return false;
    }
    match rpc {
        PublicRpc::RegisterChild => policy
            .ever_writable(principal)
            .contains(DataClass::Identity),
        PublicRpc::UpdateChild => !policy
            .ever_writable(principal)
            .intersection(CHILD_RECORD)
            .is_empty(),
        PublicRpc::GetChild | PublicRpc::ListChildren | PublicRpc::SearchChildren => policy
            .ever_readable(principal)
            .contains(DataClass::Identity),
        PublicRpc::EraseChild => policy.has_permission(principal, Permission::EraseChild),
        PublicRpc::BreakGlass | PublicRpc::ListBreakGlassAlerts => {
            policy.has_permission(principal, Permission::BreakGlass)
        }
        // Referring is a protection act; that a child was referred is protection data.
        PublicRpc::CreateReferral | PublicRpc::AssignCase | PublicRpc::MergeChildren => policy
            .ever_writable(principal)
            .contains(DataClass::Protection),
        PublicRpc::TransitionReferral | PublicRpc::ListReferrals => policy
            .ever_readable(principal)
            .contains(DataClass::Protection),
        PublicRpc::ListAuditEntries => policy.ever_readable(principal).contains(DataClass::Audit),
        PublicRpc::CreateTracingRequest
        | PublicRpc::UpdateTracingRequest
        | PublicRpc::TransitionTracingRequest
        | PublicRpc::RecordFollowUp
        | PublicRpc::ReviewMatch => policy.ever_writable(principal).contains(DataClass::Tracing),
        PublicRpc::GetTracingRequest
        | PublicRpc::ListTracingRequests
        | PublicRpc::FindMatches
        | PublicRpc::ListFamilyLinks
        | PublicRpc::ListAlerts => policy.ever_readable(principal).contains(DataClass::Tracing),
        // Learning: educators write; learning platforms write records and read curricula (their
        // per-learner rule lives in the learning service); education readers read.
        PublicRpc::ImportFramework
        | PublicRpc::AlignOutcomes
        | PublicRpc::EnrolLearner
        | PublicRpc::UpdateEnrolment
        | PublicRpc::IssuePassport
        | PublicRpc::ImportPassport
        | PublicRpc::RevokePassport => policy
            .ever_writable(principal)
            .contains(DataClass::Education),
        PublicRpc::RecordLearning | PublicRpc::CorrectLearningRecord => {
            principal.has_role(Role::Lms)
                || policy
                    .ever_writable(principal)
                    .contains(DataClass::Education)
        }
        PublicRpc::GetFramework | PublicRpc::ListFrameworks => {
            principal.has_role(Role::Lms)
                || policy
                    .ever_readable(principal)
                    .contains(DataClass::Education)
        }
        PublicRpc::ListEnrolments
        | PublicRpc::ListLearningRecords
        | PublicRpc::GetProgress
        | PublicRpc::VerifyPassport => policy
            .ever_readable(principal)
            .contains(DataClass::Education),
    }
}
