//! The match RPCs (candidates for a sought child with every score explained; the review that confirms
//! or rejects one and links the family) and the matching context they share with alerts.

use haven_authz::Principal;
use haven_matching::{Band, MatchContext};
use haven_platform::ServiceError;
use haven_proto::family_tracing::{
    Candidate, Decision, FindMatchesRequest, FindMatchesResponse, MatchAssessment, MatchBand,
    MatchReview, RequestStatus, ReviewMatchRequest, TracingRequest,
};

use crate::access::Need;
use crate::convert;
use crate::entity::review;
use crate::service::{FamilyTracingService, IDENTITY_CLASS, TRACING_CLASS, timestamp};
use crate::store::{LinkChange, ReviewWrite, Store};
use crate::validate::{self, Violations, invalid};
use crate::workflow::{is_searching, parse_status, status_name};

/// The matching context of one sought child: pairs rejected for it are excluded, and children
/// confirmed for its siblings in the same request give sibling evidence.
pub(crate) async fn context_of(
    store: &Store,
    request: &TracingRequest,
    sought_child_id: &str,
) -> Result<MatchContext, ServiceError> {
    let rejected = store.rejections(std::slice::from_ref(&request.id)).await?;
    Ok(context_with(request, sought_child_id, &rejected))
}

/// [`context_of`] from rejections already read.
pub(crate) fn context_with(
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

/// Validation of a request id names the field the caller used.
fn rename_id(error: ServiceError, field: &str) -> ServiceError {
    match error {
        ServiceError::InvalidArgument(_) => {
            ServiceError::invalid(field, "must be an id this service issued")
        }
        other => other,
    }
}

impl FamilyTracingService {
    pub(crate) async fn find_matches(
        &self,
        principal: &Principal,
        request: FindMatchesRequest,
    ) -> Result<FindMatchesResponse, ServiceError> {
        let limit = match request.limit {
            0 => 10,
            n @ 1..=50 => n as usize,
            _ => return Err(ServiceError::invalid("limit", "must be 1 to 50")),
        };
        let row = self
            .load(principal, &request.tracing_request_id, Need::Read)
            .await
            .map_err(|e| rename_id(e, "tracing_request_id"))?;
        let tracing_request = self.view_of(&row).await?;
        let sought = tracing_request
            .sought_children
            .iter()
            .find(|c| c.id == request.sought_child_id)
            .ok_or(ServiceError::NotFound("sought child"))?;
        let ctx = context_of(&self.store, &tracing_request, &sought.id).await?;
        let query = convert::sought(
            sought,
            tracing_request.inquirer.as_ref(),
            convert::day_of(crate::now_micros()),
        );
        let found: Vec<_> = self
            .matcher
            .find_banded(&query, &ctx, limit)
            .into_iter()
            .filter_map(|(candidate, band)| band.map(|band| (candidate, band)))
            .take(limit)
            .collect();
        let ids: Vec<String> = found.iter().map(|(c, _)| convert::child_id(c.id)).collect();
        let profiles = self.store.profiles(ids.clone()).await?;
        let mut entries = vec![Self::entry(
            principal,
            "find-matches",
            "/haven.family_tracing.v1.FamilyTracing/FindMatches",
            &row.id,
            TRACING_CLASS,
        )];
        let mut candidates = Vec::with_capacity(found.len());
        for ((candidate, band), child_id) in found.iter().zip(ids) {
            // The projection may have dropped the child since the index saw it (consent withdrawn).
            let Some((profile, stored_identity)) =
                profiles.iter().find(|(p, _)| p.child_id == child_id)
            else {
                continue;
            };
            let identity = if self.may_see_candidate(principal, profile) {
                entries.push(Self::entry(
                    principal,
                    "match-candidate",
                    "/haven.family_tracing.v1.FamilyTracing/FindMatches",
                    &child_id,
                    IDENTITY_CLASS,
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
            likely_threshold: self.matcher.thresholds().likely,
            possible_threshold: self.matcher.thresholds().possible,
        })
    }

    pub(crate) async fn review(
        &self,
        principal: &Principal,
        request: ReviewMatchRequest,
    ) -> Result<MatchReview, ServiceError> {
        let decision = Decision::try_from(request.decision)
            .ok()
            .filter(|d| *d != Decision::Unspecified)
            .ok_or_else(|| ServiceError::invalid("decision", "must be confirm or reject"))?;
        let mut v = Violations::default();
        validate::required_id(&mut v, "child_id", &request.child_id);
        validate::reason(&mut v, "reason", &request.reason, true);
        invalid(v)?;
        let row = self
            .load(principal, &request.tracing_request_id, Need::Write)
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
        if !self.store.is_profiled(&request.child_id).await? {
            return Err(ServiceError::NotFound("child"));
        }
        let ctx = context_of(&self.store, &updated, &request.sought_child_id).await?;
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
        // A confirmation links the family once; rejecting the confirmed match undoes its links.
        let links = match decision {
            Decision::Confirm if previous_match != request.child_id => LinkChange::Link,
            Decision::Reject if previous_match == request.child_id => LinkChange::Unlink,
            _ => LinkChange::Keep,
        };
        let now = crate::now_micros();
        let entry = Self::entry(
            principal,
            if decision == Decision::Confirm {
                "confirm-match"
            } else {
                "reject-match"
            },
            "/haven.family_tracing.v1.FamilyTracing/ReviewMatch",
            &row.id,
            TRACING_CLASS,
        );
        self.store
            .record_review(ReviewWrite {
                row: &row,
                body: &updated,
                status,
                sought_child_id: &request.sought_child_id,
                child_id: &request.child_id,
                decision,
                reason: &request.reason,
                score,
                links,
                reviewed_by: &principal.sub,
                at_us: now,
                entry,
            })
            .await?;
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
}
