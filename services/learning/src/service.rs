//! The learning service: its state, its constructor, and the `haven.learning.v1.LearningRecords`
//! implementation, which authenticates each call and hands it to its area's handler in `crate::rpc`.

use std::sync::Arc;

use haven_authz::{Authenticator, Policy, Principal};
use haven_platform::audit::AuditWriter;
use haven_proto::learning::learning_records_server::LearningRecords;
use haven_proto::learning::*;
use sea_orm::DatabaseConnection;
use tonic::{Request, Response, Status};

use crate::passport::{PassportIssuer, TrustList};
use crate::store::Store;

/// The learning service.
#[derive(Debug, Clone)]
pub struct LearningService {
    pub(crate) store: Store,
    auth: Authenticator,
    pub(crate) policy: Arc<Policy>,
    pub(crate) audit: AuditWriter,
    pub(crate) issuer: Arc<PassportIssuer>,
    /// Issuers whose passports ImportPassport and VerifyPassport accept; always includes our own key.
    pub(crate) trusted: Arc<TrustList>,
}

impl LearningService {
    /// Needs a migrated database and a running tokio runtime (it starts the audit writer and the
    /// group-commit writers).
    pub fn new(
        db: DatabaseConnection,
        auth: Authenticator,
        policy: Arc<Policy>,
        issuer: PassportIssuer,
    ) -> Self {
        let trusted = issuer.trust_list();
        LearningService {
            audit: AuditWriter::spawn(db.clone()),
            store: Store::new(db),
            auth,
            policy,
            issuer: Arc::new(issuer),
            trusted: Arc::new(trusted),
        }
    }

    /// Also trust these issuers' passports (the deployment's trust list, e.g. from a JWKS file).
    pub fn with_trusted_issuers(mut self, issuers: TrustList) -> Self {
        let mut trusted = self.issuer.trust_list();
        trusted.extend(issuers);
        self.trusted = Arc::new(trusted);
        self
    }

    /// The service's database (for its outbox relay).
    pub fn database(&self) -> &DatabaseConnection {
        self.store.db()
    }

    pub fn issuer(&self) -> &PassportIssuer {
        &self.issuer
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
}

macro_rules! handle {
    ($self:ident, $request:ident, $method:ident) => {{
        let principal = $self.principal(&$request).await?;
        Ok(Response::new(
            $self.$method(&principal, $request.into_inner()).await?,
        ))
    }};
}

#[tonic::async_trait]
impl LearningRecords for LearningService {
    async fn import_framework(
        &self,
        request: Request<ImportFrameworkRequest>,
    ) -> Result<Response<ImportFrameworkResponse>, Status> {
        handle!(self, request, import_framework)
    }
    async fn get_framework(
        &self,
        request: Request<GetFrameworkRequest>,
    ) -> Result<Response<Framework>, Status> {
        handle!(self, request, get_framework)
    }
    async fn list_frameworks(
        &self,
        request: Request<ListFrameworksRequest>,
    ) -> Result<Response<ListFrameworksResponse>, Status> {
        handle!(self, request, list_frameworks)
    }
    async fn align_outcomes(
        &self,
        request: Request<AlignOutcomesRequest>,
    ) -> Result<Response<AlignOutcomesResponse>, Status> {
        handle!(self, request, align_outcomes)
    }
    async fn enrol_learner(
        &self,
        request: Request<EnrolLearnerRequest>,
    ) -> Result<Response<Enrolment>, Status> {
        handle!(self, request, enrol)
    }
    async fn update_enrolment(
        &self,
        request: Request<UpdateEnrolmentRequest>,
    ) -> Result<Response<Enrolment>, Status> {
        handle!(self, request, update_enrolment)
    }
    async fn list_enrolments(
        &self,
        request: Request<ListEnrolmentsRequest>,
    ) -> Result<Response<ListEnrolmentsResponse>, Status> {
        handle!(self, request, list_enrolments)
    }
    async fn record_learning(
        &self,
        request: Request<RecordLearningRequest>,
    ) -> Result<Response<LearningRecord>, Status> {
        handle!(self, request, record_learning)
    }
    async fn correct_learning_record(
        &self,
        request: Request<CorrectLearningRecordRequest>,
    ) -> Result<Response<CorrectLearningRecordResponse>, Status> {
        handle!(self, request, correct_record)
    }
    async fn list_learning_records(
        &self,
        request: Request<ListLearningRecordsRequest>,
    ) -> Result<Response<ListLearningRecordsResponse>, Status> {
        handle!(self, request, list_records)
    }
    async fn get_progress(
        &self,
        request: Request<GetProgressRequest>,
    ) -> Result<Response<Progress>, Status> {
        handle!(self, request, progress)
    }
    async fn issue_passport(
        &self,
        request: Request<IssuePassportRequest>,
    ) -> Result<Response<haven_proto::learning::Passport>, Status> {
        handle!(self, request, issue_passport)
    }
    async fn verify_passport(
        &self,
        request: Request<VerifyPassportRequest>,
    ) -> Result<Response<PassportVerification>, Status> {
        handle!(self, request, verify_passport)
    }
    async fn import_passport(
        &self,
        request: Request<ImportPassportRequest>,
    ) -> Result<Response<ImportPassportResponse>, Status> {
        handle!(self, request, import_passport)
    }
    async fn revoke_passport(
        &self,
        request: Request<RevokePassportRequest>,
    ) -> Result<Response<RevokePassportResponse>, Status> {
        handle!(self, request, revoke_passport)
    }
    async fn get_alignment_target(
        &self,
        request: Request<GetAlignmentTargetRequest>,
    ) -> Result<Response<AlignmentTarget>, Status> {
        // Public, like the status list: no caller to name.
        Ok(Response::new(
            self.alignment_target(request.into_inner()).await?,
        ))
    }
    async fn get_passport_status_list(
        &self,
        request: Request<GetPassportStatusListRequest>,
    ) -> Result<Response<PassportStatusList>, Status> {
        Ok(Response::new(
            self.status_list(&request.into_inner().list_id).await?,
        ))
    }
}
