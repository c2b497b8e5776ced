//! The `haven.family_tracing.v1.FamilyTracing` service: its state, and the RPCs delegated to the
//! handlers of each area (`requests`, `matches`, `links`, `alerts`). Callers are authenticated from
//! their own JWT; access is decided in `access`, storage and transactions are `store`'s.

use std::sync::Arc;

use haven_authz::{Authenticator, ClassSet, DataClass, Policy, Principal};
use haven_platform::audit::{AuditEntry, AuditWriter};
use haven_proto::family_tracing::family_tracing_server::FamilyTracing;
use haven_proto::family_tracing::{
    CreateTracingRequestRequest, FindMatchesRequest, FindMatchesResponse, GetTracingRequestRequest,
    ListAlertsRequest, ListAlertsResponse, ListFamilyLinksRequest, ListFamilyLinksResponse,
    ListTracingRequestsRequest, ListTracingRequestsResponse, MatchReview, RecordFollowUpRequest,
    ReviewMatchRequest, TracingRequest, TransitionTracingRequestRequest,
    UpdateTracingRequestRequest,
};
use sea_orm::DatabaseConnection;
use tonic::{Request, Response, Status};

use crate::matcher::Matcher;
use crate::sealed::Vault;
use crate::store::Store;

#[derive(Debug, Clone)]
pub struct FamilyTracingService {
    pub(crate) store: Store,
    auth: Authenticator,
    pub(crate) policy: Arc<Policy>,
    pub(crate) matcher: Arc<Matcher>,
    pub(crate) audit: AuditWriter,
}

pub(crate) use haven_platform::time::timestamp;

/// The classes an audit entry names: tracing requests, and a match candidate's identity.
pub(crate) const TRACING_CLASS: ClassSet = ClassSet::of(&[DataClass::Tracing]);
pub(crate) const IDENTITY_CLASS: ClassSet = ClassSet::of(&[DataClass::Identity]);

impl FamilyTracingService {
    /// Needs a migrated database and a running tokio runtime (it starts the audit writer).
    pub fn new(
        db: DatabaseConnection,
        auth: Authenticator,
        policy: Arc<Policy>,
        matcher: Arc<Matcher>,
        vault: Vault,
    ) -> Self {
        FamilyTracingService {
            audit: AuditWriter::spawn(db.clone()),
            store: Store::new(db, vault),
            auth,
            policy,
            matcher,
        }
    }

    /// The keys tracing data is sealed with (the feed seals profiles with them too).
    pub fn vault(&self) -> &Vault {
        self.store.vault()
    }

    pub fn database(&self) -> &DatabaseConnection {
        self.store.db()
    }

    pub fn matcher(&self) -> &Arc<Matcher> {
        &self.matcher
    }

    pub fn auth(&self) -> &Authenticator {
        &self.auth
    }

    pub fn policy(&self) -> &Arc<Policy> {
        &self.policy
    }

    async fn principal<T>(&self, request: &Request<T>) -> Result<Arc<Principal>, Status> {
        haven_platform::auth::caller(&self.auth, request).await
    }

    /// The audit entry of an RPC touching `record_id`'s data `classes`.
    pub(crate) fn entry(
        principal: &Principal,
        action: &'static str,
        rpc: &'static str,
        record_id: &str,
        classes: ClassSet,
    ) -> AuditEntry {
        AuditEntry::of_call(principal, action, rpc, record_id, classes)
    }
}

#[tonic::async_trait]
impl FamilyTracing for FamilyTracingService {
    async fn create_tracing_request(
        &self,
        request: Request<CreateTracingRequestRequest>,
    ) -> Result<Response<TracingRequest>, Status> {
        let principal = self.principal(&request).await?;
        Ok(Response::new(
            self.create(&principal, request.into_inner()).await?,
        ))
    }

    async fn get_tracing_request(
        &self,
        request: Request<GetTracingRequestRequest>,
    ) -> Result<Response<TracingRequest>, Status> {
        let principal = self.principal(&request).await?;
        Ok(Response::new(
            self.get(&principal, request.into_inner()).await?,
        ))
    }

    async fn update_tracing_request(
        &self,
        request: Request<UpdateTracingRequestRequest>,
    ) -> Result<Response<TracingRequest>, Status> {
        let principal = self.principal(&request).await?;
        Ok(Response::new(
            self.update(&principal, request.into_inner()).await?,
        ))
    }

    async fn list_tracing_requests(
        &self,
        request: Request<ListTracingRequestsRequest>,
    ) -> Result<Response<ListTracingRequestsResponse>, Status> {
        let principal = self.principal(&request).await?;
        Ok(Response::new(
            self.list(&principal, request.into_inner()).await?,
        ))
    }

    async fn transition_tracing_request(
        &self,
        request: Request<TransitionTracingRequestRequest>,
    ) -> Result<Response<TracingRequest>, Status> {
        let principal = self.principal(&request).await?;
        Ok(Response::new(
            self.transition(&principal, request.into_inner()).await?,
        ))
    }

    async fn record_follow_up(
        &self,
        request: Request<RecordFollowUpRequest>,
    ) -> Result<Response<TracingRequest>, Status> {
        let principal = self.principal(&request).await?;
        Ok(Response::new(
            self.follow_up(&principal, request.into_inner()).await?,
        ))
    }

    async fn find_matches(
        &self,
        request: Request<FindMatchesRequest>,
    ) -> Result<Response<FindMatchesResponse>, Status> {
        let principal = self.principal(&request).await?;
        Ok(Response::new(
            FamilyTracingService::find_matches(self, &principal, request.into_inner()).await?,
        ))
    }

    async fn review_match(
        &self,
        request: Request<ReviewMatchRequest>,
    ) -> Result<Response<MatchReview>, Status> {
        let principal = self.principal(&request).await?;
        Ok(Response::new(
            self.review(&principal, request.into_inner()).await?,
        ))
    }

    async fn list_family_links(
        &self,
        request: Request<ListFamilyLinksRequest>,
    ) -> Result<Response<ListFamilyLinksResponse>, Status> {
        let principal = self.principal(&request).await?;
        Ok(Response::new(
            self.family_links(&principal, request.into_inner()).await?,
        ))
    }

    async fn list_alerts(
        &self,
        request: Request<ListAlertsRequest>,
    ) -> Result<Response<ListAlertsResponse>, Status> {
        let principal = self.principal(&request).await?;
        Ok(Response::new(
            self.alerts(&principal, request.into_inner()).await?,
        ))
    }
}
