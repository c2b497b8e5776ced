//! The `haven.identity.v1.ChildIdentity` RPCs: authenticate from the caller's own JWT, validate, decide
//! scope and classes with the policy, persist, audit, answer with the redacted view.

use std::sync::Arc;

use haven_authz::{
    Authenticator, ClassSet, DataClass, Permission, Policy, Principal, RecordAttrs, Role, Scope,
};
use haven_platform::ServiceError;
use haven_platform::audit::{AuditEntry, AuditWriter};
use haven_platform::idempotency::{self, IdempotencyKey};
use haven_platform::sealing::Keyring;
use haven_proto::common::PageRequest;
use haven_proto::identity::child_identity_server::ChildIdentity;
use haven_proto::identity::{
    AnswerDuplicateReviewRequest, DuplicateNotice, DuplicateReview, RequestDuplicateReviewRequest,
};
use haven_proto::identity::{
    AssignCaseRequest, AssignCaseResponse, MergeChildrenRequest, PossibleDuplicate,
};
use haven_proto::identity::{
    BreakGlassGrant, BreakGlassRequest, ListBreakGlassAlertsRequest, ListBreakGlassAlertsResponse,
};
use haven_proto::identity::{
    Child, ChildView, EraseChildRequest, EraseChildResponse, GetChildRequest, ListChildrenRequest,
    ListChildrenResponse, RegisterChildRequest, SearchChildrenRequest, SearchChildrenResponse,
    UpdateChildRequest,
};
use haven_proto::identity::{
    CreateReferralRequest, ListReferralsRequest, ListReferralsResponse, Referral,
    TransitionReferralRequest,
};
use sea_orm::DatabaseConnection;
use tonic::{Request, Response, Status};

use crate::mask;
use crate::record::{CHILD_CLASSES, ChildRecord, SEALED_CLASSES};
use crate::scope;
use crate::store::{Loading, NewChild, Registered, Store};
use crate::validate;

const RPC_REGISTER: &str = "/haven.identity.v1.ChildIdentity/RegisterChild";
const RPC_GET: &str = "/haven.identity.v1.ChildIdentity/GetChild";
const RPC_UPDATE: &str = "/haven.identity.v1.ChildIdentity/UpdateChild";
const RPC_LIST: &str = "/haven.identity.v1.ChildIdentity/ListChildren";
const RPC_SEARCH: &str = "/haven.identity.v1.ChildIdentity/SearchChildren";
const RPC_ERASE: &str = "/haven.identity.v1.ChildIdentity/EraseChild";
const RPC_MERGE: &str = "/haven.identity.v1.ChildIdentity/MergeChildren";
const RPC_ASSIGN: &str = "/haven.identity.v1.ChildIdentity/AssignCase";

const DEFAULT_PAGE_SIZE: u32 = 25;
use haven_platform::paging::MAX_PAGE_SIZE;
const MAX_QUERY_CHARS: usize = 200;

/// The child identity service.
#[derive(Debug, Clone)]
pub struct IdentityService {
    pub(crate) store: Store,
    auth: Authenticator,
    pub(crate) policy: Arc<Policy>,
    pub(crate) audit: AuditWriter,
}

/// Verifies the caller's own JWT from the `authorization` metadata.
pub(crate) async fn authenticate<T>(
    auth: &Authenticator,
    request: &Request<T>,
) -> Result<Arc<Principal>, Status> {
    haven_platform::auth::caller(auth, request).await
}

impl IdentityService {
    /// Needs a migrated database and a running tokio runtime (it starts the audit writer).
    pub fn new(
        db: DatabaseConnection,
        auth: Authenticator,
        policy: Arc<Policy>,
        keyring: Arc<Keyring>,
    ) -> Self {
        IdentityService {
            audit: AuditWriter::spawn(db.clone()),
            store: Store::new(db, keyring),
            auth,
            policy,
        }
    }

    /// The verified caller. A caller whose policy has a location scope gets its `locations` claims
    /// tagged, so the scope can compare them with the records' tags.
    async fn principal<T>(&self, request: &Request<T>) -> Result<Arc<Principal>, Status> {
        let principal = authenticate(&self.auth, request).await?;
        if principal.locations.is_empty() || !self.policy.uses_scope(&principal, Scope::Location) {
            return Ok(principal);
        }
        let key = self.store.location_key().await.map_err(Status::from)?;
        Ok(Arc::new(principal.with_location_tags(key)))
    }

    /// The audit writer, shared with the audit read-back service so the chain has one group-commit writer.
    pub(crate) fn audit_writer(&self) -> &AuditWriter {
        &self.audit
    }

    /// The service's database (for its outbox relay and retention task).
    pub fn database(&self) -> &DatabaseConnection {
        self.store.db()
    }

    pub(crate) fn auth(&self) -> &Authenticator {
        &self.auth
    }

    pub(crate) fn policy(&self) -> &Arc<Policy> {
        &self.policy
    }

    pub(crate) fn entry(
        principal: &Principal,
        action: &'static str,
        rpc: &'static str,
        record_id: &str,
        classes: ClassSet,
    ) -> AuditEntry {
        AuditEntry::of_call(principal, action, rpc, record_id, classes)
    }

    /// What to load for this caller: affiliations only if a grant looks at them, the data key only if
    /// the caller may ever read a sealed class (educators never cause a decryption).
    pub(crate) fn loading_for(&self, principal: &Principal) -> Loading {
        Loading {
            affiliations: self.policy.uses_scope(principal, Scope::Affiliated),
            referrals: self.policy.uses_scope(principal, Scope::Referred),
            break_glass: self.policy.uses_scope(principal, Scope::BreakGlass),
            assignees: self.policy.uses_scope(principal, Scope::Assigned),
            locations: self.policy.uses_scope(principal, Scope::Location),
            data_key: !self
                .policy
                .ever_readable(principal)
                .intersection(SEALED_CLASSES)
                .is_empty(),
        }
    }

    /// The redacted view of a record, or NOT_FOUND when it is outside the caller's scope.
    pub(crate) fn visible_view(
        &self,
        principal: &Principal,
        record: &ChildRecord,
    ) -> Result<(ChildView, ClassSet), ServiceError> {
        let access = self
            .policy
            .access(principal, &record.attrs())
            .restricted_to(CHILD_CLASSES);
        if !access.is_visible() {
            return Err(ServiceError::NotFound("child"));
        }
        let view = record.view(access, self.policy.in_protection_world(principal))?;
        Ok((view, access.read.intersection(CHILD_CLASSES)))
    }

    async fn register(
        &self,
        principal: &Principal,
        request: RegisterChildRequest,
    ) -> Result<ChildView, ServiceError> {
        validate::request_id(&request.request_id).map_err(ServiceError::InvalidArgument)?;
        let mut child = request
            .child
            .ok_or_else(|| ServiceError::invalid("child", "is required"))?;
        child.meta = None;
        validate::child("child", &child).map_err(ServiceError::InvalidArgument)?;

        let learner_of = principal
            .has_role(Role::Educator)
            .then(|| principal.agency.clone());
        let affiliations: Vec<String> = learner_of.iter().cloned().collect();
        // A caller scoped by location may register only children inside its areas.
        let locations = if self.policy.uses_scope(principal, Scope::Location) {
            let key = self.store.location_key().await?;
            key.tags_for_path(crate::location::current_path(&child))
        } else {
            Vec::new()
        };
        let attrs = RecordAttrs {
            owner: &principal.sub,
            agency: &principal.agency,
            consent_for_tracing: false,
            affiliations: &affiliations,
            referrals: &[],
            break_glass: &[],
            assignees: &[],
            team: principal.team.as_deref(),
            locations: &locations,
        };
        let writable = self.policy.access(principal, &attrs).write;
        let written = written_classes(&child);
        if !writable.contains(DataClass::Identity) {
            return Err(ServiceError::PermissionDenied(
                "your role may not register children".into(),
            ));
        }
        if let Some(class) = written.difference(writable).iter().next() {
            return Err(ServiceError::PermissionDenied(format!(
                "child.{class} may not be written by your role"
            )));
        }

        let id = uuid::Uuid::now_v7().to_string();
        // The request as registered (its meta cleared): a retry differing only there is the same one.
        let normalised = RegisterChildRequest {
            request_id: request.request_id.clone(),
            child: Some(child.clone()),
        };
        let key = IdempotencyKey::new(
            principal,
            &request.request_id,
            RPC_REGISTER,
            idempotency::body_hash(&normalised, |r| &mut r.request_id),
        );
        // After the key's hash: a retry hashes what the client sent, not what the server filled in.
        crate::compat::reconcile(
            &mut child,
            crate::record::timestamp(crate::record::now_micros()),
        );
        let new = NewChild {
            id: id.clone(),
            child,
            owner: principal.sub.clone(),
            agency: principal.agency.clone(),
            team: principal.team.clone(),
            learner_of,
            principal: principal.sub.clone(),
            key,
        };
        let entry = Self::entry(principal, "create", RPC_REGISTER, &id, written);
        match self.store.register(new, entry).await? {
            Registered::Created(record) => {
                let mut view = self.visible_view(principal, &record)?.0;
                (view.possible_duplicates, view.duplicate_notices) =
                    self.duplicates_of(principal, &record).await?;
                Ok(view)
            }
            Registered::Replayed(first_id) => {
                let record = self
                    .store
                    .load(&first_id, Loading::EVERYTHING)
                    .await?
                    .ok_or(ServiceError::NotFound("child"))?;
                let (mut view, classes) = self.visible_view(principal, &record)?;
                (view.possible_duplicates, view.duplicate_notices) =
                    self.duplicates_of(principal, &record).await?;
                self.audit
                    .record(vec![Self::entry(
                        principal,
                        "read",
                        RPC_REGISTER,
                        &first_id,
                        classes,
                    )])
                    .await?;
                Ok(view)
            }
            Registered::KeyReused => Err(idempotency::key_reused("child")),
        }
    }

    async fn get(
        &self,
        principal: &Principal,
        request: GetChildRequest,
    ) -> Result<ChildView, ServiceError> {
        validate::record_id("id", &request.id).map_err(ServiceError::InvalidArgument)?;
        let loading = self.loading_for(principal);
        let mut record = self
            .store
            .load(&request.id, Loading::NOTHING)
            .await?
            .ok_or(ServiceError::NotFound("child"))?;
        // Scopes only ever widen with more attributes (assignees, referrals, grants, affiliations), so
        // when the row alone already gives this caller every right they could hold, the extra lookups
        // cannot change the answer and are skipped: the owner's read costs two queries, not six.
        let most = self
            .policy
            .max_access(principal)
            .restricted_to(CHILD_CLASSES);
        let now = self
            .policy
            .access(principal, &record.attrs())
            .restricted_to(CHILD_CLASSES);
        if now != most {
            let extras = Loading {
                data_key: false,
                ..loading
            };
            self.store.complete(&mut record, extras).await?;
        }
        let readable = self
            .policy
            .access(principal, &record.attrs())
            .restricted_to(CHILD_CLASSES)
            .read;
        if loading.data_key && !readable.intersection(SEALED_CLASSES).is_empty() {
            let key = Loading {
                data_key: true,
                ..Loading::NOTHING
            };
            self.store.complete(&mut record, key).await?;
        }
        let (view, classes) = self.visible_view(principal, &record)?;
        self.audit
            .record(vec![Self::entry(
                principal,
                "read",
                RPC_GET,
                &request.id,
                classes,
            )])
            .await?;
        Ok(view)
    }

    async fn update(
        &self,
        principal: &Principal,
        request: UpdateChildRequest,
    ) -> Result<ChildView, ServiceError> {
        validate::record_id("id", &request.id).map_err(ServiceError::InvalidArgument)?;
        if request.expected_version < 1 {
            return Err(ServiceError::invalid(
                "expected_version",
                "is required (the version last read)",
            ));
        }
        let paths = request
            .update_mask
            .map(|mask| mask.paths)
            .unwrap_or_default();
        if paths.is_empty() {
            return Err(ServiceError::invalid(
                "update_mask",
                "must name at least one path",
            ));
        }
        let source = request
            .child
            .ok_or_else(|| ServiceError::invalid("child", "is required"))?;
        let ever_writable = self.policy.ever_writable(principal);
        let mut written = ClassSet::EMPTY;
        for (i, path) in paths.iter().enumerate() {
            let class = mask::class_of(path).ok_or_else(|| {
                ServiceError::invalid(
                    format!("update_mask.paths[{i}]"),
                    "is not an updatable path",
                )
            })?;
            if !ever_writable.contains(class) {
                return Err(ServiceError::PermissionDenied(format!(
                    "update_mask.paths[{i}]: your role may not write {class}"
                )));
            }
            written = written.union(ClassSet::of(&[class]));
        }
        let protection_world = self.policy.in_protection_world(principal);
        let entry = Self::entry(principal, "update", RPC_UPDATE, &request.id, written);
        let expected = request.expected_version;
        let policy = self.policy.clone();
        let record = self
            .store
            .update(&request.id, entry, |current| {
                let access = policy
                    .access(principal, &current.attrs())
                    .restricted_to(CHILD_CLASSES);
                if !access.is_visible() {
                    return Err(ServiceError::NotFound("child"));
                }
                if let Some(class) = written.difference(access.write).iter().next() {
                    return Err(ServiceError::PermissionDenied(format!(
                        "your role may not write {class} of this child"
                    )));
                }
                let current_version = current.visible_version(protection_world);
                if current_version != expected {
                    return Err(ServiceError::StaleVersion(format!(
                        "expected_version {expected} does not match the current version {current_version}"
                    )));
                }
                let mut merged = current.decode()?;
                for path in &paths {
                    mask::apply(&mut merged, &source, path);
                }
                validate::child("child", &merged).map_err(ServiceError::InvalidArgument)?;
                crate::compat::reconcile(&mut merged, crate::record::timestamp(current.row.created_at_us));
                Ok(merged)
            })
            .await?;
        Ok(self.visible_view(principal, &record)?.0)
    }

    async fn assign(
        &self,
        principal: &Principal,
        request: AssignCaseRequest,
    ) -> Result<AssignCaseResponse, ServiceError> {
        validate::record_id("child_id", &request.child_id)
            .map_err(ServiceError::InvalidArgument)?;
        if request.assignee.trim().is_empty() || request.assignee.len() > 128 {
            return Err(ServiceError::invalid(
                "assignee",
                "must be 1 to 128 characters",
            ));
        }
        let action = if request.unassign {
            "unassign"
        } else {
            "assign"
        };
        let entry = Self::entry(
            principal,
            action,
            RPC_ASSIGN,
            &request.child_id,
            ClassSet::of(&[DataClass::Protection]),
        );
        let policy = self.policy.clone();
        let assignees = self
            .store
            .set_assignment(
                &request.child_id,
                &request.assignee,
                !request.unassign,
                entry,
                |current| {
                    let access = policy
                        .access(principal, &current.attrs())
                        .restricted_to(CHILD_CLASSES);
                    if !access.is_visible() {
                        return Err(ServiceError::NotFound("child"));
                    }
                    if !access.write.contains(DataClass::Protection) {
                        return Err(ServiceError::PermissionDenied(
                            "your role may not assign this case".into(),
                        ));
                    }
                    Ok(())
                },
            )
            .await?;
        Ok(AssignCaseResponse { assignees })
    }

    async fn erase(
        &self,
        principal: &Principal,
        request: EraseChildRequest,
    ) -> Result<EraseChildResponse, ServiceError> {
        if !self
            .policy
            .has_permission(principal, Permission::EraseChild)
        {
            return Err(ServiceError::PermissionDenied(
                "your role may not erase children".into(),
            ));
        }
        validate::record_id("id", &request.id).map_err(ServiceError::InvalidArgument)?;
        let reason = request.reason.trim();
        if reason.chars().count() < 10 || reason.chars().count() > 2000 {
            return Err(ServiceError::invalid(
                "reason",
                "must say why, in 10 to 2000 characters",
            ));
        }
        let entry = Self::entry(principal, "erase", RPC_ERASE, &request.id, CHILD_CLASSES);
        let erased_at = self
            .store
            .erase(&request.id, reason.to_owned(), entry)
            .await?
            .ok_or(ServiceError::NotFound("child"))?;
        Ok(EraseChildResponse {
            erased_at: Some(crate::record::timestamp(erased_at)),
        })
    }

    async fn merge(
        &self,
        principal: &Principal,
        request: MergeChildrenRequest,
    ) -> Result<ChildView, ServiceError> {
        validate::record_id("keep_id", &request.keep_id).map_err(ServiceError::InvalidArgument)?;
        validate::record_id("duplicate_id", &request.duplicate_id)
            .map_err(ServiceError::InvalidArgument)?;
        if request.keep_id == request.duplicate_id {
            return Err(ServiceError::invalid(
                "duplicate_id",
                "must differ from keep_id",
            ));
        }
        let reason = request.reason.trim();
        if reason.chars().count() < 10 || reason.chars().count() > 2000 {
            return Err(ServiceError::invalid(
                "reason",
                "must say why, in 10 to 2000 characters",
            ));
        }
        let entries = vec![
            Self::entry(
                principal,
                "merge-into",
                RPC_MERGE,
                &request.keep_id,
                CHILD_CLASSES,
            ),
            Self::entry(
                principal,
                "merge-from",
                RPC_MERGE,
                &request.duplicate_id,
                CHILD_CLASSES,
            ),
        ];
        let needed = ClassSet::of(&[DataClass::Identity, DataClass::Protection]);
        let kept = self
            .store
            .merge(
                &request.keep_id,
                &request.duplicate_id,
                reason.to_owned(),
                entries,
                |kept, duplicate| {
                    for record in [kept, duplicate] {
                        let access = self
                            .policy
                            .access(principal, &record.attrs())
                            .restricted_to(CHILD_CLASSES);
                        if !access.is_visible() {
                            return Err(ServiceError::NotFound("child"));
                        }
                        if !needed.difference(access.write).is_empty() {
                            return Err(ServiceError::PermissionDenied(
                                "merging needs the right to write both children's identity and protection"
                                    .into(),
                            ));
                        }
                    }
                    Ok(())
                },
            )
            .await?
            .ok_or(ServiceError::NotFound("child"))?;
        Ok(self.visible_view(principal, &kept)?.0)
    }

    /// Registration's duplicate check; each child it names is audited as a duplicate-check read. Likely
    /// duplicates held out of the caller's scope become notices (stored, so a retry gets the same ones),
    /// each audited on the record it points to, with no class read.
    async fn duplicates_of(
        &self,
        principal: &Principal,
        record: &ChildRecord,
    ) -> Result<(Vec<PossibleDuplicate>, Vec<DuplicateNotice>), ServiceError> {
        let crate::duplicates::Found {
            readable: found,
            elsewhere,
        } = crate::duplicates::possible_duplicates(
            &self.store,
            &self.policy,
            principal,
            self.loading_for(principal),
            record,
        )
        .await?;
        let notices = if elsewhere.is_empty() {
            Vec::new()
        } else {
            let rows = self
                .store
                .notice_duplicates(
                    &record.row.id,
                    &principal.sub,
                    &principal.agency,
                    &elsewhere,
                )
                .await?;
            self.audit
                .record(
                    rows.iter()
                        .map(|n| {
                            Self::entry(
                                principal,
                                "duplicate-notice",
                                RPC_REGISTER,
                                &n.duplicate_child_id,
                                ClassSet::EMPTY,
                            )
                        })
                        .collect(),
                )
                .await?;
            rows.iter().map(crate::duplicate_reviews::notice).collect()
        };
        if !found.is_empty() {
            self.audit
                .record(
                    found
                        .iter()
                        .map(|d| {
                            Self::entry(
                                principal,
                                "duplicate-check",
                                RPC_REGISTER,
                                &d.child_id,
                                ClassSet::of(&[DataClass::Identity]),
                            )
                        })
                        .collect(),
                )
                .await?;
        }
        Ok((found, notices))
    }

    async fn page(
        &self,
        principal: &Principal,
        page: Option<PageRequest>,
        key_groups: &[Vec<String>],
        action: &'static str,
        rpc: &'static str,
    ) -> Result<(Vec<ChildView>, String), ServiceError> {
        let page = page.unwrap_or_default();
        let size = haven_platform::paging::page_size(&page, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)?;
        let after = decode_cursor(&page.page_token)?;
        let Some(visible) = scope::visible_rows(&self.policy, principal) else {
            return Ok((Vec::new(), String::new()));
        };
        let mut records = self
            .store
            .page(
                visible,
                key_groups,
                after.as_deref(),
                u64::from(size) + 1,
                self.loading_for(principal),
            )
            .await?;
        let next =
            haven_platform::paging::finish_page(&mut records, size, |r| encode_cursor(&r.row.id));
        let mut views = Vec::with_capacity(records.len());
        let mut entries = Vec::with_capacity(records.len());
        for record in &records {
            match self.visible_view(principal, record) {
                Ok((view, classes)) => {
                    entries.push(Self::entry(principal, action, rpc, &record.row.id, classes));
                    views.push(view);
                }
                // The SQL filter and the policy are one rule; a mismatch is a bug, and the record stays hidden.
                Err(ServiceError::NotFound(_)) => {
                    tracing::error!(record = %record.row.id, "scope filter returned a record the policy refuses");
                }
                Err(other) => return Err(other),
            }
        }
        self.audit.record(entries).await?;
        Ok((views, next))
    }
}

fn written_classes(child: &Child) -> ClassSet {
    let mut classes = ClassSet::of(&[DataClass::Identity]);
    if child.whereabouts.is_some() {
        classes = classes.union(ClassSet::of(&[DataClass::Whereabouts]));
    }
    if child.protection.is_some() {
        classes = classes.union(ClassSet::of(&[DataClass::Protection]));
    }
    classes
}

const CURSOR_PREFIX: &str = "c1:";

pub(crate) fn encode_cursor(id: &str) -> String {
    haven_platform::paging::encode_id_cursor(CURSOR_PREFIX, id)
}

pub(crate) fn decode_cursor(token: &str) -> Result<Option<String>, ServiceError> {
    haven_platform::paging::decode_id_cursor(CURSOR_PREFIX, token)
}

fn query_key_groups(query: &str) -> Result<Vec<Vec<String>>, ServiceError> {
    if query.trim().is_empty() {
        return Err(ServiceError::invalid("query", "is required"));
    }
    if query.chars().count() > MAX_QUERY_CHARS {
        return Err(ServiceError::invalid(
            "query",
            "must be at most 200 characters",
        ));
    }
    let groups = haven_matching::query_keys(query);
    if groups.is_empty() {
        return Err(ServiceError::invalid("query", "must contain a name"));
    }
    Ok(groups)
}

#[tonic::async_trait]
impl ChildIdentity for IdentityService {
    async fn request_duplicate_review(
        &self,
        request: Request<RequestDuplicateReviewRequest>,
    ) -> Result<Response<DuplicateReview>, Status> {
        let principal = self.principal(&request).await?;
        Ok(Response::new(
            self.request_duplicate_review_for(&principal, request.into_inner())
                .await?,
        ))
    }

    async fn answer_duplicate_review(
        &self,
        request: Request<AnswerDuplicateReviewRequest>,
    ) -> Result<Response<DuplicateReview>, Status> {
        let principal = self.principal(&request).await?;
        Ok(Response::new(
            self.answer_duplicate_review_for(&principal, request.into_inner())
                .await?,
        ))
    }

    async fn assign_case(
        &self,
        request: Request<AssignCaseRequest>,
    ) -> Result<Response<AssignCaseResponse>, Status> {
        let principal = self.principal(&request).await?;
        Ok(Response::new(
            self.assign(&principal, request.into_inner()).await?,
        ))
    }

    async fn break_glass(
        &self,
        request: Request<BreakGlassRequest>,
    ) -> Result<Response<BreakGlassGrant>, Status> {
        let principal = self.principal(&request).await?;
        Ok(Response::new(
            self.break_glass_for(&principal, request.into_inner())
                .await?,
        ))
    }

    async fn list_break_glass_alerts(
        &self,
        request: Request<ListBreakGlassAlertsRequest>,
    ) -> Result<Response<ListBreakGlassAlertsResponse>, Status> {
        let principal = self.principal(&request).await?;
        Ok(Response::new(
            self.break_glass_alerts_for(&principal, request.into_inner())
                .await?,
        ))
    }

    async fn create_referral(
        &self,
        request: Request<CreateReferralRequest>,
    ) -> Result<Response<Referral>, Status> {
        let principal = self.principal(&request).await?;
        Ok(Response::new(
            self.create_referral_for(&principal, request.into_inner())
                .await?,
        ))
    }

    async fn transition_referral(
        &self,
        request: Request<TransitionReferralRequest>,
    ) -> Result<Response<Referral>, Status> {
        let principal = self.principal(&request).await?;
        Ok(Response::new(
            self.transition_referral_for(&principal, request.into_inner())
                .await?,
        ))
    }

    async fn list_referrals(
        &self,
        request: Request<ListReferralsRequest>,
    ) -> Result<Response<ListReferralsResponse>, Status> {
        let principal = self.principal(&request).await?;
        Ok(Response::new(
            self.list_referrals_for(&principal, request.into_inner())
                .await?,
        ))
    }

    async fn erase_child(
        &self,
        request: Request<EraseChildRequest>,
    ) -> Result<Response<EraseChildResponse>, Status> {
        let principal = self.principal(&request).await?;
        Ok(Response::new(
            self.erase(&principal, request.into_inner()).await?,
        ))
    }

    async fn register_child(
        &self,
        request: Request<RegisterChildRequest>,
    ) -> Result<Response<ChildView>, Status> {
        let principal = self.principal(&request).await?;
        Ok(Response::new(
            self.register(&principal, request.into_inner()).await?,
        ))
    }

    async fn merge_children(
        &self,
        request: Request<MergeChildrenRequest>,
    ) -> Result<Response<ChildView>, Status> {
        let principal = self.principal(&request).await?;
        Ok(Response::new(
            self.merge(&principal, request.into_inner()).await?,
        ))
    }

    async fn get_child(
        &self,
        request: Request<GetChildRequest>,
    ) -> Result<Response<ChildView>, Status> {
        let principal = self.principal(&request).await?;
        Ok(Response::new(
            self.get(&principal, request.into_inner()).await?,
        ))
    }

    async fn update_child(
        &self,
        request: Request<UpdateChildRequest>,
    ) -> Result<Response<ChildView>, Status> {
        let principal = self.principal(&request).await?;
        Ok(Response::new(
            self.update(&principal, request.into_inner()).await?,
        ))
    }

    async fn list_children(
        &self,
        request: Request<ListChildrenRequest>,
    ) -> Result<Response<ListChildrenResponse>, Status> {
        let principal = self.principal(&request).await?;
        let request = request.into_inner();
        let (children, next_page_token) = self
            .page(&principal, request.page, &[], "list", RPC_LIST)
            .await?;
        Ok(Response::new(ListChildrenResponse {
            children,
            next_page_token,
        }))
    }

    async fn search_children(
        &self,
        request: Request<SearchChildrenRequest>,
    ) -> Result<Response<SearchChildrenResponse>, Status> {
        let principal = self.principal(&request).await?;
        let request = request.into_inner();
        let groups = query_key_groups(&request.query)?;
        let (children, next_page_token) = self
            .page(&principal, request.page, &groups, "search", RPC_SEARCH)
            .await?;
        Ok(Response::new(SearchChildrenResponse {
            children,
            next_page_token,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    #[test]
    fn cursors_round_trip_and_reject_forgeries() {
        let id = uuid::Uuid::now_v7().to_string();
        assert_eq!(decode_cursor(&encode_cursor(&id)).expect("valid"), Some(id));
        assert!(decode_cursor("not-a-token").is_err());
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode("c1:' OR 1=1 --")).is_err());
        assert_eq!(decode_cursor("").expect("empty"), None);
    }
}
