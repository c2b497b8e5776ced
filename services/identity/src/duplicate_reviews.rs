//! Re-registrations across agencies: RegisterChild notices a likely duplicate the caller may not read
//! (saying only which agency holds it), the caller asks that agency for access or a merge, and the
//! owning agency answers. Both records' audit trails show each step, and each step is an event for the
//! other side. The other record's id reaches the asking side only once the owner accepts.

use haven_authz::{ClassSet, DataClass, Principal};
use haven_platform::ServiceError;
use haven_platform::idempotency::{self, IdempotencyKey};
use haven_proto::identity::{
    AnswerDuplicateReviewRequest, DuplicateNotice, DuplicateReview, DuplicateReviewKind,
    DuplicateReviewStatus, RequestDuplicateReviewRequest,
};

use crate::entity::duplicate_review;
use crate::record::{now_micros, timestamp};
use crate::service::IdentityService;
use crate::store::ReviewRequested;
use crate::validate;

const RPC_REQUEST: &str = "/haven.identity.v1.ChildIdentity/RequestDuplicateReview";
const RPC_ANSWER: &str = "/haven.identity.v1.ChildIdentity/AnswerDuplicateReview";
const MIN_REASON: usize = 10;
const MAX_REASON: usize = 2000;

fn reason(field: &str, text: &str) -> Result<(), ServiceError> {
    let length = text.trim().chars().count();
    if !(MIN_REASON..=MAX_REASON).contains(&length) {
        return Err(ServiceError::invalid(
            field,
            "must be 10 to 2000 characters",
        ));
    }
    Ok(())
}

fn kind_name(kind: DuplicateReviewKind) -> Option<&'static str> {
    match kind {
        DuplicateReviewKind::Access => Some("access"),
        DuplicateReviewKind::Merge => Some("merge"),
        DuplicateReviewKind::Unspecified => None,
    }
}

/// What a notice shows: which agency, and the handle to ask with.
pub(crate) fn notice(row: &duplicate_review::Model) -> DuplicateNotice {
    DuplicateNotice {
        notice_id: row.id.clone(),
        owner_agency: row.owner_agency.clone(),
    }
}

/// The review as one side sees it: the asking side learns the other record's id only once accepted.
fn to_wire(row: &duplicate_review::Model, owner_side: bool) -> DuplicateReview {
    let status = match row.status.as_str() {
        duplicate_review::PENDING => DuplicateReviewStatus::Pending,
        duplicate_review::ACCEPTED => DuplicateReviewStatus::Accepted,
        duplicate_review::DECLINED => DuplicateReviewStatus::Declined,
        _ => DuplicateReviewStatus::Unspecified,
    };
    let at = |us: i64| (us > 0).then(|| timestamp(us));
    DuplicateReview {
        id: row.id.clone(),
        child_id: row.child_id.clone(),
        requesting_agency: row.requesting_agency.clone(),
        owner_agency: row.owner_agency.clone(),
        kind: match row.kind.as_str() {
            "access" => DuplicateReviewKind::Access,
            "merge" => DuplicateReviewKind::Merge,
            _ => DuplicateReviewKind::Unspecified,
        } as i32,
        status: status as i32,
        reason: row.reason.clone(),
        answer_reason: row.answer_reason.clone(),
        requested_by: row.requested_by.clone(),
        answered_by: row.answered_by.clone(),
        requested_at: at(row.requested_at_us),
        answered_at: at(row.answered_at_us),
        duplicate_child_id: if owner_side || status == DuplicateReviewStatus::Accepted {
            row.duplicate_child_id.clone()
        } else {
            String::new()
        },
    }
}

impl IdentityService {
    /// Whether `principal` may write the protection case of `child_id`; anything else is NOT_FOUND,
    /// so the answer never tells whether a record or a notice exists.
    async fn writes_case_of(
        &self,
        principal: &Principal,
        child_id: &str,
        missing: &'static str,
    ) -> Result<(), ServiceError> {
        let record = self
            .store
            .load(child_id, self.loading_for(principal))
            .await?
            .ok_or(ServiceError::NotFound(missing))?;
        let access = self.policy.access(principal, &record.attrs());
        if !access.write.contains(DataClass::Protection) {
            return Err(ServiceError::NotFound(missing));
        }
        Ok(())
    }

    pub(crate) async fn request_duplicate_review_for(
        &self,
        principal: &Principal,
        request: RequestDuplicateReviewRequest,
    ) -> Result<DuplicateReview, ServiceError> {
        validate::request_id(&request.request_id).map_err(ServiceError::InvalidArgument)?;
        validate::record_id("notice_id", &request.notice_id)
            .map_err(ServiceError::InvalidArgument)?;
        let kind = DuplicateReviewKind::try_from(request.kind)
            .ok()
            .and_then(kind_name)
            .ok_or_else(|| ServiceError::invalid("kind", "must be access or merge"))?;
        reason("reason", &request.reason)?;
        let notice = self
            .store
            .duplicate_review(&request.notice_id)
            .await?
            .filter(|n| n.requesting_agency == principal.agency)
            .ok_or(ServiceError::NotFound("duplicate notice"))?;
        self.writes_case_of(principal, &notice.child_id, "duplicate notice")
            .await?;
        let key = IdempotencyKey::new(
            principal,
            &request.request_id,
            RPC_REQUEST,
            idempotency::body_hash(&request, |r| &mut r.request_id),
        );
        let requested = duplicate_review::Model {
            status: duplicate_review::PENDING.to_owned(),
            kind: kind.to_owned(),
            reason: request.reason.trim().to_owned(),
            requested_by: principal.sub.clone(),
            requested_at_us: now_micros(),
            ..notice.clone()
        };
        // Both records' trails: the asker's own child, and the other agency's record (no class of it
        // was read).
        let entries = vec![
            Self::entry(
                principal,
                "duplicate-review-request",
                RPC_REQUEST,
                &notice.child_id,
                ClassSet::of(&[DataClass::Protection]),
            ),
            Self::entry(
                principal,
                "duplicate-review-request",
                RPC_REQUEST,
                &notice.duplicate_child_id,
                ClassSet::EMPTY,
            ),
        ];
        match self
            .store
            .request_duplicate_review(&key, requested, entries)
            .await?
        {
            ReviewRequested::Requested(row) | ReviewRequested::Replayed(row) => {
                Ok(to_wire(&row, false))
            }
            ReviewRequested::KeyReused => Err(idempotency::key_reused("duplicate review")),
        }
    }

    pub(crate) async fn answer_duplicate_review_for(
        &self,
        principal: &Principal,
        request: AnswerDuplicateReviewRequest,
    ) -> Result<DuplicateReview, ServiceError> {
        validate::record_id("id", &request.id).map_err(ServiceError::InvalidArgument)?;
        let status = match DuplicateReviewStatus::try_from(request.answer) {
            Ok(DuplicateReviewStatus::Accepted) => duplicate_review::ACCEPTED,
            Ok(DuplicateReviewStatus::Declined) => duplicate_review::DECLINED,
            _ => {
                return Err(ServiceError::invalid(
                    "answer",
                    "must be accepted or declined",
                ));
            }
        };
        reason("reason", &request.reason)?;
        let review = self
            .store
            .duplicate_review(&request.id)
            .await?
            .filter(|r| r.owner_agency == principal.agency && r.status != duplicate_review::NOTICED)
            .ok_or(ServiceError::NotFound("duplicate review"))?;
        self.writes_case_of(principal, &review.duplicate_child_id, "duplicate review")
            .await?;
        let answered = duplicate_review::Model {
            status: status.to_owned(),
            answer_reason: request.reason.trim().to_owned(),
            answered_by: principal.sub.clone(),
            answered_at_us: now_micros(),
            ..review.clone()
        };
        let entries = vec![
            Self::entry(
                principal,
                "duplicate-review-answer",
                RPC_ANSWER,
                &review.duplicate_child_id,
                ClassSet::of(&[DataClass::Protection]),
            ),
            Self::entry(
                principal,
                "duplicate-review-answer",
                RPC_ANSWER,
                &review.child_id,
                ClassSet::EMPTY,
            ),
        ];
        let row = self
            .store
            .answer_duplicate_review(answered, entries)
            .await?;
        Ok(to_wire(&row, true))
    }
}
