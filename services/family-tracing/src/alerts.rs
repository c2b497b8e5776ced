//! Raising alerts: a likely candidate for a sought child of a request that is still searching. Alerts
//! are raised once per (request, sought child, child) and never for a rejected pair.

use haven_matching::{Band, MatchContext};
use haven_platform::ServiceError;
use haven_proto::family_tracing::TracingRequest;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use crate::convert;
use crate::entity::{alert, review, tracing_request};
use crate::matcher::Matcher;
use crate::sealed::Vault;
use crate::workflow::{SEARCHING, status_name};

/// How many candidates per sought child a new request is checked against for alerts.
const ALERT_CANDIDATES: usize = 10;

/// The matching context of one sought child: pairs rejected for it are excluded, and children
/// confirmed for its siblings in the same request give sibling evidence.
pub(crate) async fn context_of<C: ConnectionTrait>(
    conn: &C,
    request: &TracingRequest,
    sought_child_id: &str,
) -> Result<MatchContext, ServiceError> {
    let rejected = rejections(conn, std::slice::from_ref(&request.id)).await?;
    Ok(context_with(request, sought_child_id, &rejected))
}

/// The rejected pairs of `request_ids`, read in one query.
async fn rejections<C: ConnectionTrait>(
    conn: &C,
    request_ids: &[String],
) -> Result<Vec<review::Model>, ServiceError> {
    Ok(review::Entity::find()
        .filter(review::Column::TracingRequestId.is_in(request_ids.iter().cloned()))
        .filter(review::Column::Decision.eq("reject"))
        .all(conn)
        .await?)
}

/// [`context_of`] from rejections already read.
fn context_with(
    request: &TracingRequest,
    sought_child_id: &str,
    rejected: &[review::Model],
) -> MatchContext {
    MatchContext {
        exclude: rejected
            .iter()
            .filter(|r| r.tracing_request_id == request.id && r.sought_child_id == sought_child_id)
            .filter_map(|r| convert::record_id(&r.child_id))
            .collect(),
        confirmed_siblings: request
            .sought_children
            .iter()
            .filter(|s| s.id != sought_child_id && !s.matched_child_id.is_empty())
            .filter_map(|s| convert::record_id(&s.matched_child_id))
            .collect(),
    }
}

async fn raise(
    db: &DatabaseConnection,
    row: &tracing_request::Model,
    sought_child_id: &str,
    child_id: &str,
    score: f64,
) -> Result<(), ServiceError> {
    alert::Entity::insert(alert::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        tracing_request_id: Set(row.id.clone()),
        sought_child_id: Set(sought_child_id.to_owned()),
        child_id: Set(child_id.to_owned()),
        score: Set(score),
        raised_at_us: Set(crate::now_micros()),
        owner: Set(row.owner.clone()),
        agency: Set(row.agency.clone()),
    })
    .on_conflict(
        OnConflict::columns([
            alert::Column::TracingRequestId,
            alert::Column::SoughtChildId,
            alert::Column::ChildId,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Checks a newly filed (or updated) request against the index and raises its likely matches.
/// `body` is the request as just written (the row's body is sealed).
pub(crate) async fn raise_for_request(
    db: &DatabaseConnection,
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
        let ctx = context_of(db, &request, &sought.id).await?;
        let query = convert::sought(sought, request.inquirer.as_ref(), today);
        let ranked = matcher.find(&query, &ctx, ALERT_CANDIDATES);
        let bands = matcher.thresholds().bands_for(&ranked);
        for (candidate, band) in ranked.into_iter().zip(bands) {
            if band == Some(Band::Likely) {
                raise(
                    db,
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
    db: &DatabaseConnection,
    matcher: &Matcher,
    vault: &Vault,
    child_id: &str,
) -> Result<usize, ServiceError> {
    let today = convert::day_of(crate::now_micros());
    let mut raised = 0;
    let mut after = String::new();
    loop {
        let rows = tracing_request::Entity::find()
            .filter(tracing_request::Column::Status.is_in(SEARCHING.map(status_name)))
            .filter(tracing_request::Column::Id.gt(after.clone()))
            .order_by_asc(tracing_request::Column::Id)
            .limit(200)
            .all(db)
            .await?;
        let Some(last) = rows.last() else {
            return Ok(raised);
        };
        after = last.id.clone();
        // One read of the page's rejections, not one per sought child.
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let rejected = rejections(db, &ids).await?;
        let bodies = vault.open_each(db, &rows).await?;
        for (row, body) in rows.iter().zip(bodies) {
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
                    raise(db, row, &sought.id, child_id, candidate.score).await?;
                    raised += 1;
                }
            }
        }
    }
}
