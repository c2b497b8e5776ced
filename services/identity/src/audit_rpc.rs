//! `haven.identity.v1.IdentityAudit`: the audit log read back, for roles granted the `audit` class.
//! Auditors never see a child record through it, only who did what to which record id.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use haven_authz::{Authenticator, ClassSet, DataClass, Principal};
use haven_platform::ServiceError;
use haven_platform::audit::{AuditWriter, log};
use haven_proto::identity::identity_audit_server::IdentityAudit;
use haven_proto::identity::{AuditEntry, ListAuditEntriesRequest, ListAuditEntriesResponse};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use tonic::{Request, Response, Status};

use crate::record::timestamp;
use crate::service::{IdentityService, authenticate};
use crate::validate;

const RPC_LIST_AUDIT: &str = "/haven.identity.v1.IdentityAudit/ListAuditEntries";
const DEFAULT_PAGE_SIZE: u32 = 50;
const MAX_PAGE_SIZE: u32 = 500;

/// The audit read-back service, sharing the identity service's database and audit writer.
#[derive(Debug, Clone)]
pub struct IdentityAuditService {
    db: DatabaseConnection,
    auth: Authenticator,
    audit: AuditWriter,
}

impl IdentityAuditService {
    pub(crate) fn new(db: DatabaseConnection, auth: Authenticator, audit: AuditWriter) -> Self {
        IdentityAuditService { db, auth, audit }
    }

    async fn list(
        &self,
        principal: &Principal,
        request: ListAuditEntriesRequest,
    ) -> Result<ListAuditEntriesResponse, ServiceError> {
        if request.record_id.is_empty() && request.actor.is_empty() {
            return Err(ServiceError::invalid(
                "record_id",
                "record_id or actor is required",
            ));
        }
        if !request.record_id.is_empty() {
            validate::record_id("record_id", &request.record_id)
                .map_err(ServiceError::InvalidArgument)?;
        }
        let page = request.page.unwrap_or_default();
        let size = haven_platform::paging::page_size(&page, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)?;
        let after = decode_cursor(&page.page_token)?;
        let mut condition = Condition::all().add(log::Column::Seq.gt(after));
        if !request.record_id.is_empty() {
            condition = condition.add(log::Column::RecordId.eq(request.record_id.clone()));
        }
        if !request.actor.is_empty() {
            condition = condition.add(log::Column::Actor.eq(request.actor.clone()));
        }
        if let Some(from) = &request.from {
            condition = condition.add(log::Column::AtUs.gte(micros(from)));
        }
        if let Some(to) = &request.to {
            condition = condition.add(log::Column::AtUs.lt(micros(to)));
        }
        let mut rows = log::Entity::find()
            .filter(condition)
            .order_by_asc(log::Column::Seq)
            .limit(u64::from(size) + 1)
            .all(&self.db)
            .await?;
        let next_page_token =
            haven_platform::paging::finish_page(&mut rows, size, |r| encode_cursor(r.seq));
        // Reading the log is itself logged: which record or actor the auditor looked into.
        let subject = if request.record_id.is_empty() {
            format!("actor:{}", request.actor)
        } else {
            request.record_id.clone()
        };
        self.audit
            .record(vec![IdentityService::entry(
                principal,
                "audit-read",
                RPC_LIST_AUDIT,
                &subject,
                ClassSet::of(&[DataClass::Audit]),
            )])
            .await?;
        Ok(ListAuditEntriesResponse {
            entries: rows.into_iter().map(to_wire).collect(),
            next_page_token,
        })
    }
}

fn to_wire(row: log::Model) -> AuditEntry {
    AuditEntry {
        seq: row.seq,
        at: Some(timestamp(row.at_us)),
        actor: row.actor,
        roles: row
            .roles
            .split(',')
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
            .collect(),
        agency: row.agency,
        action: row.action,
        rpc: row.rpc,
        record_id: row.record_id,
        classes: row
            .classes
            .split(',')
            .filter_map(|name| DataClass::ALL.into_iter().find(|c| c.as_str() == name))
            .map(|class| crate::record::wire_class(class) as i32)
            .collect(),
        hash: row.hash,
    }
}

fn micros(at: &prost_types::Timestamp) -> i64 {
    at.seconds.saturating_mul(1_000_000) + i64::from(at.nanos / 1000)
}

const CURSOR_PREFIX: &str = "a1:";

fn encode_cursor(seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{seq}"))
}

fn decode_cursor(token: &str) -> Result<i64, ServiceError> {
    if token.is_empty() {
        return Ok(0);
    }
    let invalid = || ServiceError::invalid("page.page_token", "is not a token this service issued");
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    text.strip_prefix(CURSOR_PREFIX)
        .and_then(|seq| seq.parse().ok())
        .ok_or_else(invalid)
}

#[tonic::async_trait]
impl IdentityAudit for IdentityAuditService {
    async fn list_audit_entries(
        &self,
        request: Request<ListAuditEntriesRequest>,
    ) -> Result<Response<ListAuditEntriesResponse>, Status> {
        let principal = authenticate(&self.auth, &request).await?;
        Ok(Response::new(
            self.list(&principal, request.into_inner()).await?,
        ))
    }
}
