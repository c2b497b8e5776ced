//! The `haven.family_tracing.v1.FamilyTracing` RPCs: authenticate from the caller's own JWT, decide with
//! the policy on the request's owner and agency (class `tracing`), write with the audit entry in one
//! transaction, and log every read.

use std::sync::Arc;

use haven_authz::{
    Access, Authenticator, ClassSet, DataClass, Policy, Principal, RecordAttrs, Scope,
};
use haven_matching::Band;
use haven_platform::ServiceError;
use haven_platform::audit::{self, AuditEntry, AuditWriter};
use haven_proto::family_tracing::family_tracing_server::FamilyTracing;
use haven_proto::family_tracing::{
    Alert, Candidate, CreateTracingRequestRequest, Decision, FamilyLink, FindMatchesRequest,
    FindMatchesResponse, FollowUp, GetTracingRequestRequest, ListAlertsRequest, ListAlertsResponse,
    ListFamilyLinksRequest, ListFamilyLinksResponse, ListTracingRequestsRequest,
    ListTracingRequestsResponse, MatchAssessment, MatchBand, MatchReview, RecordFollowUpRequest,
    RequestStatus, ReviewMatchRequest, TracingRequest, TransitionTracingRequestRequest,
    UpdateTracingRequestRequest,
};
use prost::Message as _;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait,
};
use sha2::{Digest as _, Sha256};
use tonic::{Request, Response, Status};

use crate::convert;
use crate::entity::{alert, child_profile, create_request, family_link, review, tracing_request};
use crate::matcher::Matcher;
use crate::sealed::Vault;
use crate::validate::{self, Violations};
use crate::workflow::{allowed, is_searching, parse_status, status_name};

const TRACING: ClassSet = ClassSet::of(&[DataClass::Tracing]);
const REQUEST_CURSOR: &str = "tracing-requests:";
const ALERT_CURSOR: &str = "alerts:";

#[derive(Debug, Clone)]
pub struct FamilyTracingService {
    db: DatabaseConnection,
    auth: Authenticator,
    policy: Arc<Policy>,
    matcher: Arc<Matcher>,
    vault: Vault,
    audit: AuditWriter,
}

fn timestamp(micros: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: (micros.rem_euclid(1_000_000) * 1000) as i32,
    }
}

fn invalid(v: Violations) -> Result<(), ServiceError> {
    v.into_result().map_err(ServiceError::InvalidArgument)
}

/// A stored request as the contract's message: its opened body with the header columns.
fn view(row: &tracing_request::Model, body: TracingRequest) -> TracingRequest {
    let mut request = body;
    request.id = row.id.clone();
    request.version = row.version;
    request.owner = row.owner.clone();
    request.agency = row.agency.clone();
    request.status = parse_status(&row.status) as i32;
    request.created_at = Some(timestamp(row.created_at_us));
    request.created_by = row.created_by.clone();
    request.updated_at = Some(timestamp(row.updated_at_us));
    request.updated_by = row.updated_by.clone();
    request
}

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
            db,
            auth,
            policy,
            matcher,
            vault,
        }
    }

    /// The keys tracing data is sealed with (the feed seals profiles with them too).
    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    /// A stored request as the contract's message, its body opened.
    async fn view_of(&self, row: &tracing_request::Model) -> Result<TracingRequest, ServiceError> {
        Ok(view(row, self.vault.open_request(&self.db, row).await?))
    }

    pub fn database(&self) -> &DatabaseConnection {
        &self.db
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

    fn entry(
        principal: &Principal,
        action: &'static str,
        rpc: &'static str,
        record_id: &str,
        classes: &str,
    ) -> AuditEntry {
        AuditEntry {
            actor: principal.sub.clone(),
            roles: principal
                .roles
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(","),
            agency: principal.agency.clone(),
            action,
            rpc,
            record_id: record_id.to_owned(),
            classes: classes.to_owned(),
        }
    }

    fn may_read(&self, principal: &Principal) -> Result<(), ServiceError> {
        if self
            .policy
            .ever_readable(principal)
            .contains(DataClass::Tracing)
        {
            Ok(())
        } else {
            Err(ServiceError::PermissionDenied(
                "your role may not read tracing data".into(),
            ))
        }
    }

    fn may_write(&self, principal: &Principal) -> Result<(), ServiceError> {
        if self
            .policy
            .ever_writable(principal)
            .contains(DataClass::Tracing)
        {
            Ok(())
        } else {
            Err(ServiceError::PermissionDenied(
                "your role may not write tracing data".into(),
            ))
        }
    }

    fn access(&self, principal: &Principal, owner: &str, agency: &str) -> Access {
        let attrs = RecordAttrs {
            owner,
            agency,
            consent_for_tracing: false,
            affiliations: &[],
            referrals: &[],
            break_glass: &[],
            assignees: &[],
            team: None,
            locations: &[],
        };
        self.policy.access(principal, &attrs).restricted_to(TRACING)
    }

    /// Loads a request the caller may read (and, with `write`, write); anything else is NOT_FOUND.
    async fn load(
        &self,
        principal: &Principal,
        id: &str,
        write: bool,
    ) -> Result<tracing_request::Model, ServiceError> {
        let mut v = Violations::default();
        validate::required_id(&mut v, "id", id);
        invalid(v)?;
        let row = tracing_request::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
            .ok_or(ServiceError::NotFound("tracing request"))?;
        let access = self.access(principal, &row.owner, &row.agency);
        if !access.read.contains(DataClass::Tracing) {
            return Err(ServiceError::NotFound("tracing request"));
        }
        if write && !access.write.contains(DataClass::Tracing) {
            return Err(ServiceError::PermissionDenied(
                "you may read this tracing request but not change it".into(),
            ));
        }
        Ok(row)
    }

    /// The SQL twin of the read decision for lists: the scopes a tracing grant can use on a request.
    fn visible_requests(&self, principal: &Principal) -> Option<Condition> {
        let mut any = Condition::any();
        let mut covered = false;
        for grant in self.policy.grants_of(principal) {
            if !grant.read.contains(DataClass::Tracing) {
                continue;
            }
            let condition = match grant.scope {
                Scope::Own => Condition::all()
                    .add(tracing_request::Column::Owner.eq(principal.sub.clone()))
                    .add(tracing_request::Column::Agency.eq(principal.agency.clone())),
                Scope::Agency => Condition::all()
                    .add(tracing_request::Column::Agency.eq(principal.agency.clone())),
                Scope::All => Condition::all(),
                // Assignment, team, location, affiliation, referral and break-glass scopes describe
                // children, not tracing requests: they cover none.
                _ => continue,
            };
            any = any.add(condition);
            covered = true;
        }
        covered.then_some(any)
    }

    /// Writes `updated` over `row` if nobody changed it meanwhile, with the audit entry, in one
    /// transaction.
    async fn save(
        &self,
        row: &tracing_request::Model,
        updated: &TracingRequest,
        status: RequestStatus,
        principal: &Principal,
        entry: AuditEntry,
    ) -> Result<tracing_request::Model, ServiceError> {
        let txn = self.db.begin().await?;
        audit::append(&txn, &[entry]).await?;
        let key = self.vault.request_key(&txn, &row.id).await?;
        let saved = tracing_request::Model {
            version: row.version + 1,
            status: status_name(status).to_owned(),
            body: key.seal_body(updated)?,
            sealed: true,
            updated_at_us: crate::now_micros(),
            updated_by: principal.sub.clone(),
            ..row.clone()
        };
        let result = tracing_request::Entity::update_many()
            .set(tracing_request::ActiveModel::from(saved.clone()).reset_all())
            .filter(tracing_request::Column::Id.eq(row.id.clone()))
            .filter(tracing_request::Column::Version.eq(row.version))
            .exec(&txn)
            .await?;
        if result.rows_affected != 1 {
            txn.rollback().await?;
            return Err(stale());
        }
        txn.commit().await?;
        Ok(saved)
    }

    async fn create(
        &self,
        principal: &Principal,
        request: CreateTracingRequestRequest,
    ) -> Result<TracingRequest, ServiceError> {
        self.may_write(principal)?;
        let mut v = Violations::default();
        validate::request_id(&mut v, &request.request_id);
        validate::inquirer(&mut v, "inquirer", request.inquirer.as_ref());
        validate::sought_children(&mut v, "sought_children", &request.sought_children);
        invalid(v)?;
        if !self
            .access(principal, &principal.sub, &principal.agency)
            .write
            .contains(DataClass::Tracing)
        {
            return Err(ServiceError::PermissionDenied(
                "your role may not file tracing requests".into(),
            ));
        }
        let body_hash = {
            let mut unkeyed = request.clone();
            unkeyed.request_id.clear();
            let digest = Sha256::digest(unkeyed.encode_to_vec());
            digest
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        let id = uuid::Uuid::now_v7().to_string();
        let principal_key = format!("{}/{}", principal.agency, principal.sub);
        let txn = self.db.begin().await?;
        // First statement: takes the audit chain's lock, which also serialises retries of one key.
        audit::append(
            &txn,
            &[Self::entry(
                principal,
                "create",
                "/haven.family_tracing.v1.FamilyTracing/CreateTracingRequest",
                &id,
                "tracing",
            )],
        )
        .await?;
        let earlier =
            create_request::Entity::find_by_id((principal_key.clone(), request.request_id.clone()))
                .one(&txn)
                .await?;
        if let Some(earlier) = earlier {
            txn.rollback().await?;
            if earlier.body_hash != body_hash {
                return Err(ServiceError::AlreadyExists(
                    "request_id was already used for a different tracing request".into(),
                ));
            }
            let row = tracing_request::Entity::find_by_id(earlier.tracing_request_id)
                .one(&self.db)
                .await?
                .ok_or(ServiceError::NotFound("tracing request"))?;
            return self.view_of(&row).await;
        }
        let now = crate::now_micros();
        let sought_children = request
            .sought_children
            .into_iter()
            .map(|mut child| {
                child.id = uuid::Uuid::now_v7().to_string();
                child.matched_child_id.clear();
                child
            })
            .collect();
        let stored = TracingRequest {
            inquirer: request.inquirer,
            sought_children,
            ..Default::default()
        };
        let key = self.vault.request_key(&txn, &id).await?;
        let row = tracing_request::Model {
            id: id.clone(),
            version: 1,
            owner: principal.sub.clone(),
            agency: principal.agency.clone(),
            status: status_name(RequestStatus::Open).to_owned(),
            body: key.seal_body(&stored)?,
            sealed: true,
            created_at_us: now,
            created_by: principal.sub.clone(),
            updated_at_us: now,
            updated_by: principal.sub.clone(),
        };
        tracing_request::Entity::insert(tracing_request::ActiveModel::from(row.clone()))
            .exec_without_returning(&txn)
            .await?;
        create_request::Entity::insert(create_request::ActiveModel {
            principal: Set(principal_key),
            request_id: Set(request.request_id),
            body_hash: Set(body_hash),
            tracing_request_id: Set(id),
        })
        .exec_without_returning(&txn)
        .await?;
        txn.commit().await?;
        // Likely matches already registered become alerts at once. The request is saved whatever
        // happens here; a failure only delays its alerts until the next registration.
        if let Err(error) =
            crate::alerts::raise_for_request(&self.db, &self.matcher, &row, &stored).await
        {
            tracing::warn!(%error, "alerts for a new tracing request failed");
        }
        Ok(view(&row, stored))
    }

    async fn get(
        &self,
        principal: &Principal,
        request: GetTracingRequestRequest,
    ) -> Result<TracingRequest, ServiceError> {
        self.may_read(principal)?;
        let row = self.load(principal, &request.id, false).await?;
        self.audit
            .record(vec![Self::entry(
                principal,
                "read",
                "/haven.family_tracing.v1.FamilyTracing/GetTracingRequest",
                &row.id,
                "tracing",
            )])
            .await?;
        self.view_of(&row).await
    }

    async fn update(
        &self,
        principal: &Principal,
        request: UpdateTracingRequestRequest,
    ) -> Result<TracingRequest, ServiceError> {
        self.may_write(principal)?;
        let paths = request
            .update_mask
            .map(|m| m.paths)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| ServiceError::invalid("update_mask", "must name at least one field"))?;
        let incoming = request.tracing_request.unwrap_or_default();
        let row = self.load(principal, &request.id, true).await?;
        if row.version != request.expected_version {
            return Err(stale());
        }
        let mut updated = self.view_of(&row).await?;
        let mut v = Violations::default();
        for path in &paths {
            match path.as_str() {
                "inquirer" => {
                    validate::inquirer(
                        &mut v,
                        "tracing_request.inquirer",
                        incoming.inquirer.as_ref(),
                    );
                    updated.inquirer.clone_from(&incoming.inquirer);
                }
                "sought_children" => {
                    validate::sought_children(
                        &mut v,
                        "tracing_request.sought_children",
                        &incoming.sought_children,
                    );
                    let mut children = Vec::with_capacity(incoming.sought_children.len());
                    for (i, mut child) in incoming.sought_children.clone().into_iter().enumerate() {
                        // Ids and confirmed matches are the server's: kept by id, new ones assigned.
                        match updated.sought_children.iter().find(|c| c.id == child.id) {
                            Some(existing) => {
                                child
                                    .matched_child_id
                                    .clone_from(&existing.matched_child_id);
                            }
                            None if child.id.is_empty() => {
                                child.id = uuid::Uuid::now_v7().to_string();
                                child.matched_child_id.clear();
                            }
                            None => v.add(
                                format!("tracing_request.sought_children[{i}].id"),
                                "is not a child of this request; leave it empty for a new one",
                            ),
                        }
                        children.push(child);
                    }
                    updated.sought_children = children;
                }
                _ => v.add("update_mask", "may name only inquirer and sought_children"),
            }
        }
        invalid(v)?;
        let entry = Self::entry(
            principal,
            "update",
            "/haven.family_tracing.v1.FamilyTracing/UpdateTracingRequest",
            &row.id,
            "tracing",
        );
        let status = parse_status(&row.status);
        let saved = self.save(&row, &updated, status, principal, entry).await?;
        if is_searching(status)
            && let Err(error) =
                crate::alerts::raise_for_request(&self.db, &self.matcher, &saved, &updated).await
        {
            tracing::warn!(%error, "alerts for an updated tracing request failed");
        }
        Ok(view(&saved, updated))
    }

    async fn list(
        &self,
        principal: &Principal,
        request: ListTracingRequestsRequest,
    ) -> Result<ListTracingRequestsResponse, ServiceError> {
        self.may_read(principal)?;
        let page = request.page.unwrap_or_default();
        let size = haven_platform::paging::page_size(&page, 25, 100)?;
        let after = haven_platform::paging::decode_id_cursor(REQUEST_CURSOR, &page.page_token)?;
        let Some(visible) = self.visible_requests(principal) else {
            return Ok(ListTracingRequestsResponse::default());
        };
        let mut condition = Condition::all().add(visible);
        if let Some(after) = after {
            condition = condition.add(tracing_request::Column::Id.lt(after));
        }
        match RequestStatus::try_from(request.status) {
            Ok(RequestStatus::Unspecified) => {}
            Ok(status) => {
                condition = condition.add(tracing_request::Column::Status.eq(status_name(status)));
            }
            Err(_) => return Err(ServiceError::invalid("status", "is not a known status")),
        }
        let mut rows = tracing_request::Entity::find()
            .filter(condition)
            .order_by_desc(tracing_request::Column::Id)
            .limit(u64::from(size) + 1)
            .all(&self.db)
            .await?;
        let next_page_token = haven_platform::paging::finish_page(&mut rows, size, |r| {
            haven_platform::paging::encode_id_cursor(REQUEST_CURSOR, &r.id)
        });
        self.audit
            .record(
                rows.iter()
                    .map(|r| {
                        Self::entry(
                            principal,
                            "list",
                            "/haven.family_tracing.v1.FamilyTracing/ListTracingRequests",
                            &r.id,
                            "tracing",
                        )
                    })
                    .collect(),
            )
            .await?;
        let bodies = self.vault.open_requests(&self.db, &rows).await?;
        Ok(ListTracingRequestsResponse {
            tracing_requests: rows
                .iter()
                .zip(bodies)
                .map(|(row, body)| view(row, body))
                .collect(),
            next_page_token,
        })
    }

    async fn transition(
        &self,
        principal: &Principal,
        request: TransitionTracingRequestRequest,
    ) -> Result<TracingRequest, ServiceError> {
        self.may_write(principal)?;
        let to = RequestStatus::try_from(request.to)
            .ok()
            .filter(|s| *s != RequestStatus::Unspecified)
            .ok_or_else(|| ServiceError::invalid("to", "is not a status a request can move to"))?;
        let mut v = Violations::default();
        validate::reason(&mut v, "reason", &request.reason, false);
        invalid(v)?;
        let row = self.load(principal, &request.id, true).await?;
        if row.version != request.expected_version {
            return Err(stale());
        }
        let from = parse_status(&row.status);
        if !allowed(from, to) {
            return Err(ServiceError::FailedPrecondition(format!(
                "a request cannot move from {} to {}",
                status_name(from),
                status_name(to)
            )));
        }
        let mut updated = self.view_of(&row).await?;
        if to == RequestStatus::Closed && from != RequestStatus::Reunified {
            if request.reason.trim().is_empty() {
                return Err(ServiceError::invalid(
                    "reason",
                    "is required to close a request before reunification",
                ));
            }
            updated.follow_ups.push(FollowUp {
                visited_at: Some(timestamp(crate::now_micros())),
                visited_by: principal.sub.clone(),
                note: format!("closed before reunification: {}", request.reason.trim()),
            });
        }
        let entry = Self::entry(
            principal,
            "transition",
            "/haven.family_tracing.v1.FamilyTracing/TransitionTracingRequest",
            &row.id,
            "tracing",
        );
        let saved = self.save(&row, &updated, to, principal, entry).await?;
        Ok(view(&saved, updated))
    }

    async fn follow_up(
        &self,
        principal: &Principal,
        request: RecordFollowUpRequest,
    ) -> Result<TracingRequest, ServiceError> {
        self.may_write(principal)?;
        let mut v = Violations::default();
        validate::reason(&mut v, "note", &request.note, true);
        invalid(v)?;
        let row = self.load(principal, &request.id, true).await?;
        if row.version != request.expected_version {
            return Err(stale());
        }
        let status = parse_status(&row.status);
        if status != RequestStatus::Reunified {
            return Err(ServiceError::FailedPrecondition(
                "follow-up visits are recorded after reunification".into(),
            ));
        }
        let mut updated = self.view_of(&row).await?;
        updated.follow_ups.push(FollowUp {
            visited_at: Some(timestamp(crate::now_micros())),
            visited_by: principal.sub.clone(),
            note: request.note,
        });
        let entry = Self::entry(
            principal,
            "follow-up",
            "/haven.family_tracing.v1.FamilyTracing/RecordFollowUp",
            &row.id,
            "tracing",
        );
        let saved = self.save(&row, &updated, status, principal, entry).await?;
        Ok(view(&saved, updated))
    }

    async fn find_matches(
        &self,
        principal: &Principal,
        request: FindMatchesRequest,
    ) -> Result<FindMatchesResponse, ServiceError> {
        self.may_read(principal)?;
        let limit = match request.limit {
            0 => 10,
            n @ 1..=50 => n as usize,
            _ => return Err(ServiceError::invalid("limit", "must be 1 to 50")),
        };
        let row = self
            .load(principal, &request.tracing_request_id, false)
            .await
            .map_err(|e| rename_id(e, "tracing_request_id"))?;
        let tracing_request = self.view_of(&row).await?;
        let sought = tracing_request
            .sought_children
            .iter()
            .find(|c| c.id == request.sought_child_id)
            .ok_or(ServiceError::NotFound("sought child"))?;
        let ctx = crate::alerts::context_of(&self.db, &tracing_request, &sought.id).await?;
        let query = convert::sought(
            sought,
            tracing_request.inquirer.as_ref(),
            convert::day_of(crate::now_micros()),
        );
        let thresholds = self.matcher.thresholds();
        // Bands are decided on the ranked list (a first candidate far ahead of the second is committed
        // to; the best few under `possible` are shown as weak), so the list holds at least two.
        let ranked = self.matcher.find(&query, &ctx, limit.max(2));
        let bands = thresholds.bands_for(&ranked);
        let found: Vec<_> = ranked
            .into_iter()
            .zip(bands)
            .filter_map(|(candidate, band)| band.map(|band| (candidate, band)))
            .take(limit)
            .collect();
        let ids: Vec<String> = found.iter().map(|(c, _)| convert::child_id(c.id)).collect();
        let profiles = child_profile::Entity::find()
            .filter(child_profile::Column::ChildId.is_in(ids.clone()))
            .all(&self.db)
            .await?;
        let identities = self.vault.open_profiles(&self.db, &profiles).await?;
        let mut entries = vec![Self::entry(
            principal,
            "find-matches",
            "/haven.family_tracing.v1.FamilyTracing/FindMatches",
            &row.id,
            "tracing",
        )];
        let mut candidates = Vec::with_capacity(found.len());
        for ((candidate, band), child_id) in found.iter().zip(ids) {
            // The projection may have dropped the child since the index saw it (consent withdrawn).
            let Some((profile, stored_identity)) = profiles
                .iter()
                .zip(&identities)
                .find(|(p, _)| p.child_id == child_id)
            else {
                continue;
            };
            // Identity fields only, and only where the caller's own policy shows them (officers:
            // consenting children of any agency; others: their own agency's).
            let consenting = RecordAttrs {
                owner: &profile.owner,
                agency: &profile.agency,
                consent_for_tracing: true,
                affiliations: &[],
                referrals: &[],
                break_glass: &[],
                assignees: &[],
                team: None,
                locations: &[],
            };
            let identity = if self
                .policy
                .access(principal, &consenting)
                .read
                .contains(DataClass::Identity)
            {
                entries.push(Self::entry(
                    principal,
                    "match-candidate",
                    "/haven.family_tracing.v1.FamilyTracing/FindMatches",
                    &child_id,
                    "identity",
                ));
                stored_identity.as_ref().map(convert::candidate_identity)
            } else {
                None
            };
            candidates.push(Candidate {
                child_id,
                assessment: Some(MatchAssessment {
                    score: candidate.score,
                    band: match band {
                        Band::Likely => MatchBand::Likely,
                        Band::Possible => MatchBand::Possible,
                        Band::Weak => MatchBand::Weak,
                    } as i32,
                    evidence: candidate.evidence.iter().map(convert::evidence).collect(),
                }),
                identity,
            });
        }
        self.audit.record(entries).await?;
        Ok(FindMatchesResponse {
            candidates,
            likely_threshold: thresholds.likely,
            possible_threshold: thresholds.possible,
        })
    }

    async fn review(
        &self,
        principal: &Principal,
        request: ReviewMatchRequest,
    ) -> Result<MatchReview, ServiceError> {
        self.may_write(principal)?;
        let decision = Decision::try_from(request.decision)
            .ok()
            .filter(|d| *d != Decision::Unspecified)
            .ok_or_else(|| ServiceError::invalid("decision", "must be confirm or reject"))?;
        let mut v = Violations::default();
        validate::required_id(&mut v, "child_id", &request.child_id);
        validate::reason(&mut v, "reason", &request.reason, true);
        invalid(v)?;
        let row = self
            .load(principal, &request.tracing_request_id, true)
            .await
            .map_err(|e| rename_id(e, "tracing_request_id"))?;
        let mut updated = self.view_of(&row).await?;
        let Some(position) = updated
            .sought_children
            .iter()
            .position(|c| c.id == request.sought_child_id)
        else {
            return Err(ServiceError::NotFound("sought child"));
        };
        // Only children who consent to tracing can be matched: the projection holds exactly those.
        if child_profile::Entity::find_by_id(request.child_id.clone())
            .one(&self.db)
            .await?
            .is_none()
        {
            return Err(ServiceError::NotFound("child"));
        }
        let ctx = crate::alerts::context_of(&self.db, &updated, &request.sought_child_id).await?;
        let query = convert::sought(
            &updated.sought_children[position],
            updated.inquirer.as_ref(),
            convert::day_of(crate::now_micros()),
        );
        let score = self
            .matcher
            .score(&query, &ctx, &request.child_id)
            .map(|c| c.score)
            .unwrap_or(0.0);
        let previous_match = updated.sought_children[position].matched_child_id.clone();
        let mut status = parse_status(&row.status);
        match decision {
            Decision::Confirm => {
                if !previous_match.is_empty() && previous_match != request.child_id {
                    return Err(ServiceError::FailedPrecondition(
                        "this sought child is matched to another child; reject that match first"
                            .into(),
                    ));
                }
                if !is_searching(status) {
                    return Err(ServiceError::FailedPrecondition(format!(
                        "a {} request takes no new matches",
                        status_name(status)
                    )));
                }
                updated.sought_children[position]
                    .matched_child_id
                    .clone_from(&request.child_id);
                if matches!(status, RequestStatus::Open | RequestStatus::Tracing) {
                    status = RequestStatus::MatchProposed;
                }
            }
            Decision::Reject | Decision::Unspecified => {
                if previous_match == request.child_id {
                    updated.sought_children[position].matched_child_id.clear();
                }
            }
        }
        let now = crate::now_micros();
        let txn = self.db.begin().await?;
        audit::append(
            &txn,
            &[Self::entry(
                principal,
                if decision == Decision::Confirm {
                    "confirm-match"
                } else {
                    "reject-match"
                },
                "/haven.family_tracing.v1.FamilyTracing/ReviewMatch",
                &row.id,
                "tracing",
            )],
        )
        .await?;
        let key = self.vault.request_key(&txn, &row.id).await?;
        let decision_name = if decision == Decision::Confirm {
            "confirm"
        } else {
            "reject"
        };
        review::Entity::insert(review::ActiveModel {
            tracing_request_id: Set(row.id.clone()),
            sought_child_id: Set(request.sought_child_id.clone()),
            child_id: Set(request.child_id.clone()),
            decision: Set(decision_name.into()),
            reason: Set(String::new()),
            reviewed_by: Set(principal.sub.clone()),
            reviewed_at_us: Set(now),
            score: Set(score),
            reason_sealed: Set(Some(key.seal_review_reason(&request.reason)?)),
        })
        .on_conflict(
            OnConflict::columns([
                review::Column::TracingRequestId,
                review::Column::SoughtChildId,
                review::Column::ChildId,
            ])
            .update_columns([
                review::Column::Decision,
                review::Column::Reason,
                review::Column::ReviewedBy,
                review::Column::ReviewedAtUs,
                review::Column::Score,
                review::Column::ReasonSealed,
            ])
            .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        // A reviewed pair needs no alert any more.
        alert::Entity::delete_many()
            .filter(alert::Column::TracingRequestId.eq(row.id.clone()))
            .filter(alert::Column::SoughtChildId.eq(request.sought_child_id.clone()))
            .filter(alert::Column::ChildId.eq(request.child_id.clone()))
            .exec(&txn)
            .await?;
        match decision {
            Decision::Confirm if previous_match != request.child_id => {
                link_family(&txn, &key, &updated, &request.child_id, now).await?;
            }
            Decision::Reject if previous_match == request.child_id => {
                family_link::Entity::delete_many()
                    .filter(family_link::Column::TracingRequestId.eq(row.id.clone()))
                    .filter(
                        Condition::any()
                            .add(family_link::Column::ChildId.eq(request.child_id.clone()))
                            .add(family_link::Column::RelativeChildId.eq(request.child_id.clone())),
                    )
                    .exec(&txn)
                    .await?;
            }
            _ => {}
        }
        let saved = tracing_request::Model {
            version: row.version + 1,
            status: status_name(status).to_owned(),
            body: key.seal_body(&updated)?,
            sealed: true,
            updated_at_us: now,
            updated_by: principal.sub.clone(),
            ..row.clone()
        };
        let result = tracing_request::Entity::update_many()
            .set(tracing_request::ActiveModel::from(saved).reset_all())
            .filter(tracing_request::Column::Id.eq(row.id.clone()))
            .filter(tracing_request::Column::Version.eq(row.version))
            .exec(&txn)
            .await?;
        if result.rows_affected != 1 {
            txn.rollback().await?;
            return Err(stale());
        }
        txn.commit().await?;
        Ok(MatchReview {
            tracing_request_id: row.id,
            sought_child_id: request.sought_child_id,
            child_id: request.child_id,
            decision: decision as i32,
            reason: request.reason,
            reviewed_by: principal.sub.clone(),
            reviewed_at: Some(timestamp(now)),
            score,
        })
    }

    async fn family_links(
        &self,
        principal: &Principal,
        request: ListFamilyLinksRequest,
    ) -> Result<ListFamilyLinksResponse, ServiceError> {
        self.may_read(principal)?;
        let mut v = Violations::default();
        validate::required_id(&mut v, "child_id", &request.child_id);
        invalid(v)?;
        let rows = family_link::Entity::find()
            .filter(family_link::Column::ChildId.eq(request.child_id.clone()))
            .order_by_asc(family_link::Column::Id)
            .limit(200)
            .all(&self.db)
            .await?;
        let request_ids: Vec<String> = rows.iter().map(|l| l.tracing_request_id.clone()).collect();
        let requests = tracing_request::Entity::find()
            .filter(tracing_request::Column::Id.is_in(request_ids))
            .all(&self.db)
            .await?;
        // A link is tracing data of its request: shown only to those who may read that request.
        let rows: Vec<family_link::Model> = rows
            .into_iter()
            .filter(|link| {
                requests.iter().any(|r| {
                    r.id == link.tracing_request_id
                        && self
                            .access(principal, &r.owner, &r.agency)
                            .read
                            .contains(DataClass::Tracing)
                })
            })
            .collect();
        let names = self.vault.open_link_names(&self.db, &rows).await?;
        let links: Vec<FamilyLink> = rows
            .into_iter()
            .zip(names)
            .map(|(link, relative_name)| FamilyLink {
                child_id: link.child_id,
                relative_child_id: link.relative_child_id,
                relative_name,
                relation: link.relation,
                tracing_request_id: link.tracing_request_id,
                linked_at: Some(timestamp(link.linked_at_us)),
            })
            .collect();
        if !links.is_empty() {
            self.audit
                .record(vec![Self::entry(
                    principal,
                    "read-links",
                    "/haven.family_tracing.v1.FamilyTracing/ListFamilyLinks",
                    &request.child_id,
                    "tracing",
                )])
                .await?;
        }
        Ok(ListFamilyLinksResponse { links })
    }

    async fn alerts(
        &self,
        principal: &Principal,
        request: ListAlertsRequest,
    ) -> Result<ListAlertsResponse, ServiceError> {
        self.may_read(principal)?;
        let page = request.page.unwrap_or_default();
        let size = haven_platform::paging::page_size(&page, 25, 100)?;
        let after = haven_platform::paging::decode_id_cursor(ALERT_CURSOR, &page.page_token)?;
        let mut condition =
            Condition::all().add(alert::Column::Agency.eq(principal.agency.clone()));
        if let Some(after) = after {
            condition = condition.add(alert::Column::Id.lt(after));
        }
        let mut rows = alert::Entity::find()
            .filter(condition)
            .order_by_desc(alert::Column::Id)
            .limit(u64::from(size) + 1)
            .all(&self.db)
            .await?;
        let next_page_token = haven_platform::paging::finish_page(&mut rows, size, |r| {
            haven_platform::paging::encode_id_cursor(ALERT_CURSOR, &r.id)
        });
        let request_ids: Vec<String> = rows.iter().map(|a| a.tracing_request_id.clone()).collect();
        let requests = tracing_request::Entity::find()
            .filter(tracing_request::Column::Id.is_in(request_ids))
            .all(&self.db)
            .await?;
        let alerts: Vec<Alert> = rows
            .into_iter()
            .filter(|a| {
                requests.iter().any(|r| {
                    r.id == a.tracing_request_id
                        && is_searching(parse_status(&r.status))
                        && self
                            .access(principal, &r.owner, &r.agency)
                            .read
                            .contains(DataClass::Tracing)
                })
            })
            .map(|a| Alert {
                id: a.id,
                tracing_request_id: a.tracing_request_id,
                sought_child_id: a.sought_child_id,
                child_id: a.child_id,
                score: a.score,
                raised_at: Some(timestamp(a.raised_at_us)),
            })
            .collect();
        if !alerts.is_empty() {
            self.audit
                .record(
                    alerts
                        .iter()
                        .map(|a| {
                            Self::entry(
                                principal,
                                "read-alert",
                                "/haven.family_tracing.v1.FamilyTracing/ListAlerts",
                                &a.tracing_request_id,
                                "tracing",
                            )
                        })
                        .collect(),
                )
                .await?;
        }
        Ok(ListAlertsResponse {
            alerts,
            next_page_token,
        })
    }
}

/// Links a confirmed child to the inquirer, and to the children already confirmed for the same
/// request (siblings found through one request).
async fn link_family<C: sea_orm::ConnectionTrait>(
    conn: &C,
    key: &crate::sealed::RequestKey,
    request: &TracingRequest,
    child_id: &str,
    now: i64,
) -> Result<(), ServiceError> {
    let inquirer = request.inquirer.clone().unwrap_or_default();
    let relative_name = format!(
        "{} {}",
        inquirer.given_name.trim(),
        inquirer.family_name.trim()
    );
    let mut links = vec![family_link::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        child_id: Set(child_id.to_owned()),
        relative_child_id: Set(String::new()),
        relative_name: Set(String::new()),
        relation: Set(convert::relation_name(inquirer.relation).to_owned()),
        tracing_request_id: Set(request.id.clone()),
        linked_at_us: Set(now),
        relative_name_sealed: Set(Some(key.seal_relative_name(relative_name.trim())?)),
    }];
    for sibling in request
        .sought_children
        .iter()
        .map(|c| c.matched_child_id.as_str())
        .filter(|m| !m.is_empty() && *m != child_id)
    {
        for (from, to) in [(child_id, sibling), (sibling, child_id)] {
            links.push(family_link::ActiveModel {
                id: Set(uuid::Uuid::now_v7().to_string()),
                child_id: Set(from.to_owned()),
                relative_child_id: Set(to.to_owned()),
                relative_name: Set(String::new()),
                relation: Set("sibling".into()),
                tracing_request_id: Set(request.id.clone()),
                linked_at_us: Set(now),
                relative_name_sealed: Set(None),
            });
        }
    }
    family_link::Entity::insert_many(links)
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

fn stale() -> ServiceError {
    ServiceError::FailedPrecondition(
        "the tracing request changed meanwhile; read it again and retry".into(),
    )
}

/// Validation of a request id names the field the caller used.
fn rename_id(error: ServiceError, field: &str) -> ServiceError {
    match error {
        ServiceError::InvalidArgument(_) => {
            ServiceError::invalid(field, "must be an id this service issued")
        }
        other => other,
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
