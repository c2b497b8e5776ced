//! ListAlerts: the likely candidates raised for the caller's requests that are still searching (raising
//! them is `crate::alerts`, as requests are filed and children arrive).

use haven_authz::Principal;
use haven_platform::ServiceError;
use haven_proto::family_tracing::{Alert, ListAlertsRequest, ListAlertsResponse};

use crate::alerts::ALERT_CURSOR;
use crate::entity::tracing_request;
use crate::service::{FamilyTracingService, TRACING_CLASS, timestamp};
use crate::workflow::{is_searching, parse_status};

impl FamilyTracingService {
    /// The caller's agency's alerts, for the requests it may read that are still searching.
    pub(crate) async fn alerts(
        &self,
        principal: &Principal,
        request: ListAlertsRequest,
    ) -> Result<ListAlertsResponse, ServiceError> {
        let page = request.page.unwrap_or_default();
        let size =
            haven_platform::paging::page_size(&page, 25, haven_platform::paging::MAX_PAGE_SIZE)?;
        let after = haven_platform::paging::decode_id_cursor(ALERT_CURSOR, &page.page_token)?;
        let mut rows = self
            .store
            .alerts_page(&principal.agency, after, u64::from(size) + 1)
            .await?;
        let next_page_token = haven_platform::paging::finish_page(&mut rows, size, |r| {
            haven_platform::paging::encode_id_cursor(ALERT_CURSOR, &r.id)
        });
        let request_ids: Vec<String> = rows.iter().map(|a| a.tracing_request_id.clone()).collect();
        let requests: Vec<tracing_request::Model> = self.store.requests(request_ids).await?;
        let alerts: Vec<Alert> = rows
            .into_iter()
            .filter(|a| {
                requests.iter().any(|r| {
                    r.id == a.tracing_request_id
                        && is_searching(parse_status(&r.status))
                        && self.may_read_request(principal, r)
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
                                TRACING_CLASS,
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
