//! Break-glass: a supervisor opens a case outside their scope, read only, for a fixed time, giving a
//! reason. The grant is audited, and the agency's supervisors see it as an alert.

use haven_authz::Principal;
use haven_platform::ServiceError;
use haven_proto::identity::{
    BreakGlassGrant, BreakGlassRequest, ListBreakGlassAlertsRequest, ListBreakGlassAlertsResponse,
};

use crate::entity::break_glass;
use crate::record::{CHILD_CLASSES, now_micros, timestamp};
use crate::service::{IdentityService, decode_cursor, encode_cursor};
use crate::validate;

const RPC_BREAK_GLASS: &str = "/haven.identity.v1.ChildIdentity/BreakGlass";
const RPC_ALERTS: &str = "/haven.identity.v1.ChildIdentity/ListBreakGlassAlerts";

/// How long a break-glass grant lasts.
const GRANT_MICROS: i64 = 60 * 60 * 1_000_000;

fn to_wire(row: &break_glass::Model) -> BreakGlassGrant {
    BreakGlassGrant {
        id: row.id.clone(),
        child_id: row.child_id.clone(),
        holder: row.holder.clone(),
        agency: row.agency.clone(),
        reason: row.reason.clone(),
        granted_at: Some(timestamp(row.granted_at_us)),
        expires_at: Some(timestamp(row.expires_at_us)),
    }
}

impl IdentityService {
    pub(crate) async fn break_glass_for(
        &self,
        principal: &Principal,
        request: BreakGlassRequest,
    ) -> Result<BreakGlassGrant, ServiceError> {
        validate::record_id("child_id", &request.child_id)
            .map_err(ServiceError::InvalidArgument)?;
        let reason = request.reason.trim();
        if !(10..=2000).contains(&reason.chars().count()) {
            return Err(ServiceError::invalid(
                "reason",
                "must say why, in 10 to 2000 characters",
            ));
        }
        let now = now_micros();
        let grant = break_glass::Model {
            id: uuid::Uuid::now_v7().to_string(),
            child_id: request.child_id.clone(),
            holder: principal.sub.clone(),
            agency: principal.agency.clone(),
            child_agency: String::new(),
            reason: reason.to_owned(),
            granted_at_us: now,
            expires_at_us: now + GRANT_MICROS,
        };
        let entry = Self::entry(
            principal,
            "break-glass",
            RPC_BREAK_GLASS,
            &request.child_id,
            CHILD_CLASSES,
        );
        let grant = self.store.grant_break_glass(grant, entry).await?;
        tracing::warn!(
            holder = %grant.holder,
            agency = %grant.agency,
            record = %grant.child_id,
            "break-glass grant taken"
        );
        Ok(to_wire(&grant))
    }

    pub(crate) async fn break_glass_alerts_for(
        &self,
        principal: &Principal,
        request: ListBreakGlassAlertsRequest,
    ) -> Result<ListBreakGlassAlertsResponse, ServiceError> {
        let page = request.page.unwrap_or_default();
        let size = haven_platform::paging::page_size(&page, 25, 100)?;
        let after = decode_cursor(&page.page_token)?;
        let mut rows = self
            .store
            .break_glass_page(&principal.agency, after.as_deref(), u64::from(size) + 1)
            .await?;
        let next_page_token =
            haven_platform::paging::finish_page(&mut rows, size, |r| encode_cursor(&r.id));
        let entries = rows
            .iter()
            .map(|row| {
                Self::entry(
                    principal,
                    "list-break-glass",
                    RPC_ALERTS,
                    &row.child_id,
                    haven_authz::ClassSet::of(&[haven_authz::DataClass::Protection]),
                )
            })
            .collect();
        self.audit.record(entries).await?;
        Ok(ListBreakGlassAlertsResponse {
            grants: rows.iter().map(to_wire).collect(),
            next_page_token,
        })
    }
}
