//! The tracing request RPCs: file (idempotent by `request_id`), read, update, list, move through the
//! workflow, and record follow-up visits after reunification.

use haven_authz::Principal;
use haven_platform::ServiceError;
use haven_platform::idempotency::{self, IdempotencyKey};
use haven_proto::family_tracing::{
    CreateTracingRequestRequest, FollowUp, GetTracingRequestRequest, ListTracingRequestsRequest,
    ListTracingRequestsResponse, RecordFollowUpRequest, RequestStatus, TracingRequest,
    TransitionTracingRequestRequest, UpdateTracingRequestRequest,
};

use crate::access::Need;
use crate::entity::tracing_request;
use crate::service::{FamilyTracingService, TRACING_CLASS, timestamp};
use crate::store::{Filed, NewRequest, stale};
use crate::validate::{self, Violations, invalid};
use crate::workflow::{allowed, is_searching, parse_status, status_name};

const REQUEST_CURSOR: &str = "tracing-requests:";
/// CreateTracingRequest, as its audit entries and idempotency keys name it.
const RPC_CREATE: &str = "/haven.family_tracing.v1.FamilyTracing/CreateTracingRequest";

/// A stored request as the contract's message: its opened body with the header columns.
pub(crate) fn view(row: &tracing_request::Model, body: TracingRequest) -> TracingRequest {
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
    /// A stored request as the contract's message, its body opened.
    pub(crate) async fn view_of(
        &self,
        row: &tracing_request::Model,
    ) -> Result<TracingRequest, ServiceError> {
        Ok(view(row, self.store.open(row).await?))
    }

    pub(crate) async fn create(
        &self,
        principal: &Principal,
        request: CreateTracingRequestRequest,
    ) -> Result<TracingRequest, ServiceError> {
        let mut v = Violations::default();
        validate::request_id(&mut v, &request.request_id);
        validate::inquirer(&mut v, "inquirer", request.inquirer.as_ref());
        validate::sought_children(&mut v, "sought_children", &request.sought_children);
        invalid(v)?;
        self.may_file(principal)?;
        let key = IdempotencyKey::new(
            principal,
            &request.request_id,
            RPC_CREATE,
            idempotency::body_hash(&request, |r| &mut r.request_id),
        );
        let id = uuid::Uuid::now_v7().to_string();
        let entry = Self::entry(principal, "create", RPC_CREATE, &id, TRACING_CLASS);
        // Ids of sought children and confirmed matches are the server's.
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
        let new = NewRequest {
            id,
            body: stored.clone(),
            owner: principal.sub.clone(),
            agency: principal.agency.clone(),
            key,
        };
        let row = match self.store.file(new, &principal.sub, entry).await? {
            Filed::Created(row) => row,
            Filed::Replayed(row) => return self.view_of(&row).await,
            Filed::KeyReused => {
                return Err(idempotency::key_reused("tracing request"));
            }
        };
        // Likely matches already registered become alerts at once. The request is saved whatever
        // happens here; a failure only delays its alerts until the next registration.
        if let Err(error) =
            crate::alerts::raise_for_request(&self.store, &self.matcher, &row, &stored).await
        {
            tracing::warn!(%error, "alerts for a new tracing request failed");
        }
        Ok(view(&row, stored))
    }

    pub(crate) async fn get(
        &self,
        principal: &Principal,
        request: GetTracingRequestRequest,
    ) -> Result<TracingRequest, ServiceError> {
        let row = self.load(principal, &request.id, Need::Read).await?;
        self.audit
            .record(vec![Self::entry(
                principal,
                "read",
                "/haven.family_tracing.v1.FamilyTracing/GetTracingRequest",
                &row.id,
                TRACING_CLASS,
            )])
            .await?;
        self.view_of(&row).await
    }

    pub(crate) async fn update(
        &self,
        principal: &Principal,
        request: UpdateTracingRequestRequest,
    ) -> Result<TracingRequest, ServiceError> {
        let paths = request
            .update_mask
            .map(|m| m.paths)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| ServiceError::invalid("update_mask", "must name at least one field"))?;
        let incoming = request.tracing_request.unwrap_or_default();
        let row = self.load(principal, &request.id, Need::Write).await?;
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
            TRACING_CLASS,
        );
        let status = parse_status(&row.status);
        let saved = self
            .store
            .save(&row, &updated, status, &principal.sub, entry)
            .await?;
        if is_searching(status)
            && let Err(error) =
                crate::alerts::raise_for_request(&self.store, &self.matcher, &saved, &updated).await
        {
            tracing::warn!(%error, "alerts for an updated tracing request failed");
        }
        Ok(view(&saved, updated))
    }

    pub(crate) async fn list(
        &self,
        principal: &Principal,
        request: ListTracingRequestsRequest,
    ) -> Result<ListTracingRequestsResponse, ServiceError> {
        let page = request.page.unwrap_or_default();
        let size =
            haven_platform::paging::page_size(&page, 25, haven_platform::paging::MAX_PAGE_SIZE)?;
        let after = haven_platform::paging::decode_id_cursor(REQUEST_CURSOR, &page.page_token)?;
        let scopes = self.visible_requests(principal);
        if scopes.is_empty() {
            return Ok(ListTracingRequestsResponse::default());
        }
        let status = match RequestStatus::try_from(request.status) {
            Ok(RequestStatus::Unspecified) => None,
            Ok(status) => Some(status),
            Err(_) => return Err(ServiceError::invalid("status", "is not a known status")),
        };
        let mut rows = self
            .store
            .requests_page(&scopes, status, after, u64::from(size) + 1)
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
                            TRACING_CLASS,
                        )
                    })
                    .collect(),
            )
            .await?;
        let bodies = self.store.open_all(&rows).await?;
        Ok(ListTracingRequestsResponse {
            tracing_requests: rows
                .iter()
                .zip(bodies)
                .map(|(row, body)| view(row, body))
                .collect(),
            next_page_token,
        })
    }

    pub(crate) async fn transition(
        &self,
        principal: &Principal,
        request: TransitionTracingRequestRequest,
    ) -> Result<TracingRequest, ServiceError> {
        let to = RequestStatus::try_from(request.to)
            .ok()
            .filter(|s| *s != RequestStatus::Unspecified)
            .ok_or_else(|| ServiceError::invalid("to", "is not a status a request can move to"))?;
        let mut v = Violations::default();
        validate::reason(&mut v, "reason", &request.reason, false);
        invalid(v)?;
        let row = self.load(principal, &request.id, Need::Write).await?;
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
            TRACING_CLASS,
        );
        let saved = self
            .store
            .save(&row, &updated, to, &principal.sub, entry)
            .await?;
        Ok(view(&saved, updated))
    }

    pub(crate) async fn follow_up(
        &self,
        principal: &Principal,
        request: RecordFollowUpRequest,
    ) -> Result<TracingRequest, ServiceError> {
        let mut v = Violations::default();
        validate::reason(&mut v, "note", &request.note, true);
        invalid(v)?;
        let row = self.load(principal, &request.id, Need::Write).await?;
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
            TRACING_CLASS,
        );
        let saved = self
            .store
            .save(&row, &updated, status, &principal.sub, entry)
            .await?;
        Ok(view(&saved, updated))
    }
}
