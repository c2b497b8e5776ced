//! The gateway's public face: every public RPC is authenticated, checked against the coarse rules, rate
//! limited, then forwarded to the owning service with the caller's token unchanged.

use std::sync::Arc;
use std::time::Duration;

use haven_authz::{Authenticator, Policy};
use haven_platform::telemetry::grpc::{ClientTelemetry, TracedChannel};
use haven_proto::family_tracing::family_tracing_client::FamilyTracingClient;
use haven_proto::family_tracing::family_tracing_server::FamilyTracing;
use haven_proto::family_tracing::{
    CreateTracingRequestRequest, FindMatchesRequest, FindMatchesResponse, GetTracingRequestRequest,
    ListAlertsRequest, ListAlertsResponse, ListFamilyLinksRequest, ListFamilyLinksResponse,
    ListTracingRequestsRequest, ListTracingRequestsResponse, MatchReview, RecordFollowUpRequest,
    ReviewMatchRequest, TracingRequest, TransitionTracingRequestRequest,
    UpdateTracingRequestRequest,
};
use haven_proto::identity::child_identity_client::ChildIdentityClient;
use haven_proto::identity::child_identity_server::ChildIdentity;
use haven_proto::identity::identity_audit_client::IdentityAuditClient;
use haven_proto::identity::identity_audit_server::IdentityAudit;
use haven_proto::identity::{AssignCaseRequest, AssignCaseResponse, MergeChildrenRequest};
use haven_proto::identity::{
    BreakGlassGrant, BreakGlassRequest, ListBreakGlassAlertsRequest, ListBreakGlassAlertsResponse,
};
use haven_proto::identity::{
    ChildView, GetChildRequest, ListChildrenRequest, ListChildrenResponse, RegisterChildRequest,
    SearchChildrenRequest, SearchChildrenResponse, UpdateChildRequest,
};
use haven_proto::identity::{
    CreateReferralRequest, EraseChildRequest, EraseChildResponse, ListAuditEntriesRequest,
    ListAuditEntriesResponse, ListReferralsRequest, ListReferralsResponse, Referral,
    TransitionReferralRequest,
};
use haven_proto::learning::learning_records_client::LearningRecordsClient;
use haven_proto::learning::learning_records_server::LearningRecords;
use haven_proto::learning::{
    AlignOutcomesRequest, AlignOutcomesResponse, CorrectLearningRecordRequest,
    CorrectLearningRecordResponse, EnrolLearnerRequest, Enrolment, Framework, GetFrameworkRequest,
    GetPassportStatusListRequest, GetProgressRequest, ImportFrameworkRequest,
    ImportFrameworkResponse, ImportPassportRequest, ImportPassportResponse, IssuePassportRequest,
    LearningRecord, ListEnrolmentsRequest, ListEnrolmentsResponse, ListFrameworksRequest,
    ListFrameworksResponse, ListLearningRecordsRequest, ListLearningRecordsResponse, Passport,
    PassportStatusList, PassportVerification, Progress, RecordLearningRequest,
    RevokePassportRequest, RevokePassportResponse, UpdateEnrolmentRequest, VerifyPassportRequest,
};
use tonic::metadata::MetadataMap;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use crate::limiter::RateLimiter;
use crate::rules::{PublicRpc, may_ever_call};

/// Metadata forwarded to services: the caller's token, nothing else. Trace context is not copied: the
/// traced channel sends the gateway's own client span as the service's parent, and that span descends
/// from the caller's `traceparent`.
const FORWARDED: &[&str] = &["authorization"];

#[derive(Debug, Clone)]
pub struct Edge {
    identity: ChildIdentityClient<TracedChannel>,
    identity_audit: IdentityAuditClient<TracedChannel>,
    family_tracing: FamilyTracingClient<TracedChannel>,
    learning: LearningRecordsClient<TracedChannel>,
    auth: Authenticator,
    policy: Arc<Policy>,
    limiter: RateLimiter,
    timeout: Duration,
}

/// Connections to the services behind the gateway.
#[derive(Debug, Clone)]
pub struct Upstreams {
    pub identity: Channel,
    pub family_tracing: Channel,
    pub learning: Channel,
}

impl Edge {
    pub fn new(
        upstreams: Upstreams,
        auth: Authenticator,
        policy: Arc<Policy>,
        limiter: RateLimiter,
        timeout: Duration,
        max_message_bytes: usize,
    ) -> Self {
        let traced = |channel: Channel| ClientTelemetry::new(channel, "gateway");
        let Upstreams {
            identity,
            family_tracing,
            learning,
        } = upstreams;
        let (identity, family_tracing, learning) =
            (traced(identity), traced(family_tracing), traced(learning));
        Edge {
            identity_audit: IdentityAuditClient::new(identity.clone())
                .max_decoding_message_size(max_message_bytes)
                .max_encoding_message_size(max_message_bytes),
            identity: ChildIdentityClient::new(identity)
                .max_decoding_message_size(max_message_bytes)
                .max_encoding_message_size(max_message_bytes),
            family_tracing: FamilyTracingClient::new(family_tracing)
                .max_decoding_message_size(max_message_bytes)
                .max_encoding_message_size(max_message_bytes),
            learning: LearningRecordsClient::new(learning)
                .max_decoding_message_size(max_message_bytes)
                .max_encoding_message_size(max_message_bytes),
            auth,
            policy,
            limiter,
            timeout,
        }
    }

    /// Authenticates, applies the coarse rule and the rate limit, and builds the request to forward.
    async fn admit<T>(&self, rpc: PublicRpc, request: Request<T>) -> Result<Request<T>, Status> {
        // The auth layer verified the token before the body was decoded (haven_platform::auth).
        let principal = haven_platform::auth::caller(&self.auth, &request).await?;
        if !may_ever_call(&self.policy, &principal, rpc) {
            tracing::warn!(
                rpc = rpc.name(),
                sub = %principal.sub,
                agency = %principal.agency,
                "call denied: no role of the caller may use this rpc"
            );
            return Err(Status::permission_denied(format!(
                "your role may not call {}",
                rpc.name()
            )));
        }
        if !self
            .limiter
            .allow(&format!("{}/{}", principal.agency, principal.sub))
            .await
        {
            return Err(Status::resource_exhausted(
                "rate limit exceeded; retry later",
            ));
        }
        let (metadata, extensions, message) = request.into_parts();
        let mut forwarded = MetadataMap::new();
        for key in FORWARDED {
            if let Some(value) = metadata.get(*key) {
                forwarded.insert(*key, value.clone());
            }
        }
        let mut outgoing = Request::from_parts(forwarded, extensions, message);
        outgoing.set_timeout(self.timeout);
        Ok(outgoing)
    }
}

/// Keeps only the message: the service's response metadata stays inside.
fn answer<T>(response: Response<T>) -> Response<T> {
    Response::new(response.into_inner())
}

#[tonic::async_trait]
impl ChildIdentity for Edge {
    async fn merge_children(
        &self,
        request: Request<MergeChildrenRequest>,
    ) -> Result<Response<ChildView>, Status> {
        let request = self.admit(PublicRpc::MergeChildren, request).await?;
        self.identity
            .clone()
            .merge_children(request)
            .await
            .map(answer)
    }

    async fn assign_case(
        &self,
        request: Request<AssignCaseRequest>,
    ) -> Result<Response<AssignCaseResponse>, Status> {
        let request = self.admit(PublicRpc::AssignCase, request).await?;
        self.identity.clone().assign_case(request).await.map(answer)
    }

    async fn break_glass(
        &self,
        request: Request<BreakGlassRequest>,
    ) -> Result<Response<BreakGlassGrant>, Status> {
        let request = self.admit(PublicRpc::BreakGlass, request).await?;
        self.identity.clone().break_glass(request).await.map(answer)
    }

    async fn list_break_glass_alerts(
        &self,
        request: Request<ListBreakGlassAlertsRequest>,
    ) -> Result<Response<ListBreakGlassAlertsResponse>, Status> {
        let request = self.admit(PublicRpc::ListBreakGlassAlerts, request).await?;
        self.identity
            .clone()
            .list_break_glass_alerts(request)
            .await
            .map(answer)
    }

    async fn create_referral(
        &self,
        request: Request<CreateReferralRequest>,
    ) -> Result<Response<Referral>, Status> {
        let request = self.admit(PublicRpc::CreateReferral, request).await?;
        self.identity
            .clone()
            .create_referral(request)
            .await
            .map(answer)
    }

    async fn transition_referral(
        &self,
        request: Request<TransitionReferralRequest>,
    ) -> Result<Response<Referral>, Status> {
        let request = self.admit(PublicRpc::TransitionReferral, request).await?;
        self.identity
            .clone()
            .transition_referral(request)
            .await
            .map(answer)
    }

    async fn list_referrals(
        &self,
        request: Request<ListReferralsRequest>,
    ) -> Result<Response<ListReferralsResponse>, Status> {
        let request = self.admit(PublicRpc::ListReferrals, request).await?;
        self.identity
            .clone()
            .list_referrals(request)
            .await
            .map(answer)
    }

    async fn erase_child(
        &self,
        request: Request<EraseChildRequest>,
    ) -> Result<Response<EraseChildResponse>, Status> {
        let request = self.admit(PublicRpc::EraseChild, request).await?;
        self.identity.clone().erase_child(request).await.map(answer)
    }

    async fn register_child(
        &self,
        request: Request<RegisterChildRequest>,
    ) -> Result<Response<ChildView>, Status> {
        let request = self.admit(PublicRpc::RegisterChild, request).await?;
        self.identity
            .clone()
            .register_child(request)
            .await
            .map(answer)
    }

    async fn get_child(
        &self,
        request: Request<GetChildRequest>,
    ) -> Result<Response<ChildView>, Status> {
        let request = self.admit(PublicRpc::GetChild, request).await?;
        self.identity.clone().get_child(request).await.map(answer)
    }

    async fn update_child(
        &self,
        request: Request<UpdateChildRequest>,
    ) -> Result<Response<ChildView>, Status> {
        let request = self.admit(PublicRpc::UpdateChild, request).await?;
        self.identity
            .clone()
            .update_child(request)
            .await
            .map(answer)
    }

    async fn list_children(
        &self,
        request: Request<ListChildrenRequest>,
    ) -> Result<Response<ListChildrenResponse>, Status> {
        let request = self.admit(PublicRpc::ListChildren, request).await?;
        self.identity
            .clone()
            .list_children(request)
            .await
            .map(answer)
    }

    async fn search_children(
        &self,
        request: Request<SearchChildrenRequest>,
    ) -> Result<Response<SearchChildrenResponse>, Status> {
        let request = self.admit(PublicRpc::SearchChildren, request).await?;
        self.identity
            .clone()
            .search_children(request)
            .await
            .map(answer)
    }
}

#[tonic::async_trait]
impl IdentityAudit for Edge {
    async fn list_audit_entries(
        &self,
        request: Request<ListAuditEntriesRequest>,
    ) -> Result<Response<ListAuditEntriesResponse>, Status> {
        let request = self.admit(PublicRpc::ListAuditEntries, request).await?;
        self.identity_audit
            .clone()
            .list_audit_entries(request)
            .await
            .map(answer)
    }
}

#[tonic::async_trait]
impl FamilyTracing for Edge {
    async fn create_tracing_request(
        &self,
        request: Request<CreateTracingRequestRequest>,
    ) -> Result<Response<TracingRequest>, Status> {
        let request = self.admit(PublicRpc::CreateTracingRequest, request).await?;
        self.family_tracing
            .clone()
            .create_tracing_request(request)
            .await
            .map(answer)
    }

    async fn get_tracing_request(
        &self,
        request: Request<GetTracingRequestRequest>,
    ) -> Result<Response<TracingRequest>, Status> {
        let request = self.admit(PublicRpc::GetTracingRequest, request).await?;
        self.family_tracing
            .clone()
            .get_tracing_request(request)
            .await
            .map(answer)
    }

    async fn update_tracing_request(
        &self,
        request: Request<UpdateTracingRequestRequest>,
    ) -> Result<Response<TracingRequest>, Status> {
        let request = self.admit(PublicRpc::UpdateTracingRequest, request).await?;
        self.family_tracing
            .clone()
            .update_tracing_request(request)
            .await
            .map(answer)
    }

    async fn list_tracing_requests(
        &self,
        request: Request<ListTracingRequestsRequest>,
    ) -> Result<Response<ListTracingRequestsResponse>, Status> {
        let request = self.admit(PublicRpc::ListTracingRequests, request).await?;
        self.family_tracing
            .clone()
            .list_tracing_requests(request)
            .await
            .map(answer)
    }

    async fn transition_tracing_request(
        &self,
        request: Request<TransitionTracingRequestRequest>,
    ) -> Result<Response<TracingRequest>, Status> {
        let request = self
            .admit(PublicRpc::TransitionTracingRequest, request)
            .await?;
        self.family_tracing
            .clone()
            .transition_tracing_request(request)
            .await
            .map(answer)
    }

    async fn record_follow_up(
        &self,
        request: Request<RecordFollowUpRequest>,
    ) -> Result<Response<TracingRequest>, Status> {
        let request = self.admit(PublicRpc::RecordFollowUp, request).await?;
        self.family_tracing
            .clone()
            .record_follow_up(request)
            .await
            .map(answer)
    }

    async fn find_matches(
        &self,
        request: Request<FindMatchesRequest>,
    ) -> Result<Response<FindMatchesResponse>, Status> {
        let request = self.admit(PublicRpc::FindMatches, request).await?;
        self.family_tracing
            .clone()
            .find_matches(request)
            .await
            .map(answer)
    }

    async fn review_match(
        &self,
        request: Request<ReviewMatchRequest>,
    ) -> Result<Response<MatchReview>, Status> {
        let request = self.admit(PublicRpc::ReviewMatch, request).await?;
        self.family_tracing
            .clone()
            .review_match(request)
            .await
            .map(answer)
    }

    async fn list_family_links(
        &self,
        request: Request<ListFamilyLinksRequest>,
    ) -> Result<Response<ListFamilyLinksResponse>, Status> {
        let request = self.admit(PublicRpc::ListFamilyLinks, request).await?;
        self.family_tracing
            .clone()
            .list_family_links(request)
            .await
            .map(answer)
    }

    async fn list_alerts(
        &self,
        request: Request<ListAlertsRequest>,
    ) -> Result<Response<ListAlertsResponse>, Status> {
        let request = self.admit(PublicRpc::ListAlerts, request).await?;
        self.family_tracing
            .clone()
            .list_alerts(request)
            .await
            .map(answer)
    }
}

#[tonic::async_trait]
impl LearningRecords for Edge {
    async fn import_framework(
        &self,
        request: Request<ImportFrameworkRequest>,
    ) -> Result<Response<ImportFrameworkResponse>, Status> {
        let request = self.admit(PublicRpc::ImportFramework, request).await?;
        self.learning
            .clone()
            .import_framework(request)
            .await
            .map(answer)
    }

    async fn get_framework(
        &self,
        request: Request<GetFrameworkRequest>,
    ) -> Result<Response<Framework>, Status> {
        let request = self.admit(PublicRpc::GetFramework, request).await?;
        self.learning
            .clone()
            .get_framework(request)
            .await
            .map(answer)
    }

    async fn list_frameworks(
        &self,
        request: Request<ListFrameworksRequest>,
    ) -> Result<Response<ListFrameworksResponse>, Status> {
        let request = self.admit(PublicRpc::ListFrameworks, request).await?;
        self.learning
            .clone()
            .list_frameworks(request)
            .await
            .map(answer)
    }

    async fn align_outcomes(
        &self,
        request: Request<AlignOutcomesRequest>,
    ) -> Result<Response<AlignOutcomesResponse>, Status> {
        let request = self.admit(PublicRpc::AlignOutcomes, request).await?;
        self.learning
            .clone()
            .align_outcomes(request)
            .await
            .map(answer)
    }

    async fn enrol_learner(
        &self,
        request: Request<EnrolLearnerRequest>,
    ) -> Result<Response<Enrolment>, Status> {
        let request = self.admit(PublicRpc::EnrolLearner, request).await?;
        self.learning
            .clone()
            .enrol_learner(request)
            .await
            .map(answer)
    }

    async fn update_enrolment(
        &self,
        request: Request<UpdateEnrolmentRequest>,
    ) -> Result<Response<Enrolment>, Status> {
        let request = self.admit(PublicRpc::UpdateEnrolment, request).await?;
        self.learning
            .clone()
            .update_enrolment(request)
            .await
            .map(answer)
    }

    async fn list_enrolments(
        &self,
        request: Request<ListEnrolmentsRequest>,
    ) -> Result<Response<ListEnrolmentsResponse>, Status> {
        let request = self.admit(PublicRpc::ListEnrolments, request).await?;
        self.learning
            .clone()
            .list_enrolments(request)
            .await
            .map(answer)
    }

    async fn record_learning(
        &self,
        request: Request<RecordLearningRequest>,
    ) -> Result<Response<LearningRecord>, Status> {
        let request = self.admit(PublicRpc::RecordLearning, request).await?;
        self.learning
            .clone()
            .record_learning(request)
            .await
            .map(answer)
    }

    async fn correct_learning_record(
        &self,
        request: Request<CorrectLearningRecordRequest>,
    ) -> Result<Response<CorrectLearningRecordResponse>, Status> {
        let request = self
            .admit(PublicRpc::CorrectLearningRecord, request)
            .await?;
        self.learning
            .clone()
            .correct_learning_record(request)
            .await
            .map(answer)
    }

    async fn list_learning_records(
        &self,
        request: Request<ListLearningRecordsRequest>,
    ) -> Result<Response<ListLearningRecordsResponse>, Status> {
        let request = self.admit(PublicRpc::ListLearningRecords, request).await?;
        self.learning
            .clone()
            .list_learning_records(request)
            .await
            .map(answer)
    }

    async fn get_progress(
        &self,
        request: Request<GetProgressRequest>,
    ) -> Result<Response<Progress>, Status> {
        let request = self.admit(PublicRpc::GetProgress, request).await?;
        self.learning
            .clone()
            .get_progress(request)
            .await
            .map(answer)
    }

    async fn issue_passport(
        &self,
        request: Request<IssuePassportRequest>,
    ) -> Result<Response<Passport>, Status> {
        let request = self.admit(PublicRpc::IssuePassport, request).await?;
        self.learning
            .clone()
            .issue_passport(request)
            .await
            .map(answer)
    }

    async fn verify_passport(
        &self,
        request: Request<VerifyPassportRequest>,
    ) -> Result<Response<PassportVerification>, Status> {
        let request = self.admit(PublicRpc::VerifyPassport, request).await?;
        self.learning
            .clone()
            .verify_passport(request)
            .await
            .map(answer)
    }

    async fn import_passport(
        &self,
        request: Request<ImportPassportRequest>,
    ) -> Result<Response<ImportPassportResponse>, Status> {
        let request = self.admit(PublicRpc::ImportPassport, request).await?;
        self.learning
            .clone()
            .import_passport(request)
            .await
            .map(answer)
    }

    async fn revoke_passport(
        &self,
        request: Request<RevokePassportRequest>,
    ) -> Result<Response<RevokePassportResponse>, Status> {
        let request = self.admit(PublicRpc::RevokePassport, request).await?;
        self.learning
            .clone()
            .revoke_passport(request)
            .await
            .map(answer)
    }

    /// Public: a verifier anywhere checks revocation without an account. It lists credential ids only.
    async fn get_passport_status_list(
        &self,
        request: Request<GetPassportStatusListRequest>,
    ) -> Result<Response<PassportStatusList>, Status> {
        let mut outgoing = Request::new(request.into_inner());
        outgoing.set_timeout(self.timeout);
        self.learning
            .clone()
            .get_passport_status_list(outgoing)
            .await
            .map(answer)
    }
}
