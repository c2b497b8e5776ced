//! Alerts of a likely candidate for a request still searching: raised once per (request, sought child,
//! child), never for a rejected pair, as requests are filed and children arrive. ListAlerts is
//! `crate::rpc::alerts`.

use haven_matching::Band;
use haven_platform::ServiceError;
use haven_proto::family_tracing::TracingRequest;

use crate::convert;
use crate::entity::tracing_request;
use crate::matcher::Matcher;
use crate::rpc::matches::{context_of, context_with};
use crate::store::Store;

pub(crate) const ALERT_CURSOR: &str = "alerts:";

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
