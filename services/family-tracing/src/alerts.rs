//! Alerts of a likely candidate for a request still searching: raised once per (request, sought child,
//! child), never for a rejected pair, as requests are filed and children arrive; listed by ListAlerts.

use haven_authz::Principal;
use haven_matching::Band;
use haven_platform::ServiceError;
use haven_proto::family_tracing::{Alert, ListAlertsRequest, ListAlertsResponse, TracingRequest};

use crate::convert;
use crate::entity::tracing_request;
use crate::matcher::Matcher;
use crate::matches::{context_of, context_with};
use crate::service::{FamilyTracingService, TRACING_CLASS, timestamp};
use crate::store::Store;
use crate::workflow::{is_searching, parse_status};

const ALERT_CURSOR: &str = "alerts:";

/// How many candidates per sought child a new request is checked against for alerts.
const ALERT_CANDIDATES: usize = 10;

/// Checks a newly filed (or updated) request against the index and raises its likely matches.
/// `body` is the request as just written (the row's body is sealed).
pub(crate) async fn raise_for_request(
    store: &Store,
    matcher: &Matcher,
    row: &tracing_request::Model,
    body: &TracingRequest,
) -> Result<usize, ServiceError> {
    let request = TracingRequest {
        id: row.id.clone(),
        ..body.clone()
    };
    let today = convert::day_of(crate::now_micros());
    let mut raised = 0;
    for sought in request
        .sought_children
        .iter()
        .filter(|s| s.matched_child_id.is_empty())
    {
        let ctx = context_of(store, &request, &sought.id).await?;
        let query = convert::sought(sought, request.inquirer.as_ref(), today);
        for (candidate, band) in matcher.find_banded(&query, &ctx, ALERT_CANDIDATES) {
            if band == Some(Band::Likely) {
                store
                    .raise_alert(
                        row,
                        &sought.id,
                        &convert::child_id(candidate.id),
                        candidate.score,
                    )
                    .await?;
                raised += 1;
            }
        }
    }
    Ok(raised)
}

/// Scores a newly arrived (or changed) child against every request still searching, and raises an
/// alert where it is a likely match. Reads the requests a page at a time.
pub(crate) async fn raise_for_child(
    store: &Store,
    matcher: &Matcher,
    child_id: &str,
) -> Result<usize, ServiceError> {
    let today = convert::day_of(crate::now_micros());
    let mut raised = 0;
    let mut after = String::new();
    loop {
        let page = store.searching_after(&after, 200).await?;
        let Some((last, _)) = page.last() else {
            return Ok(raised);
        };
        after = last.id.clone();
        // One read of the page's rejections, not one per sought child.
        let ids: Vec<String> = page.iter().map(|(r, _)| r.id.clone()).collect();
        let rejected = store.rejections(&ids).await?;
        for (row, body) in page {
            let mut request = match body {
                Ok(request) => request,
                Err(error) => {
                    tracing::warn!(%error, "a tracing request does not open; no alerts for it");
                    continue;
                }
            };
            request.id.clone_from(&row.id);
            for sought in request
                .sought_children
                .iter()
                .filter(|s| s.matched_child_id.is_empty())
            {
                let ctx = context_with(&request, &sought.id, &rejected);
                let query = convert::sought(sought, request.inquirer.as_ref(), today);
                let Some(candidate) = matcher.score(&query, &ctx, child_id) else {
                    continue;
                };
                if matcher.thresholds().band(candidate.score) == Some(Band::Likely) {
                    store
                        .raise_alert(&row, &sought.id, child_id, candidate.score)
                        .await?;
                    raised += 1;
                }
            }
        }
    }
}

impl FamilyTracingService {
    /// The caller's agency's alerts, for the requests it may read that are still searching.
    pub(crate) async fn alerts(
        &self,
        principal: &Principal,
        request: ListAlertsRequest,
    ) -> Result<ListAlertsResponse, ServiceError> {
        let page = request.page.unwrap_or_default();
        let size = haven_platform::paging::page_size(&page, 25, 100)?;
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
