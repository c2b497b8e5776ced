//! Enrolment RPCs: EnrolLearner, UpdateEnrolment and ListEnrolments.

use haven_authz::Principal;
use haven_platform::ServiceError;
use haven_proto::learning::*;

use super::entry;
use crate::convert::{enrolment_view, micros_of, now_micros};
use crate::entity::enrolment;
use crate::service::LearningService;
use crate::store::{EnrolmentChanges, EnrolmentUpdate};
use crate::{paging, validate};
use haven_platform::idempotency::{self, IdempotencyKey};

impl LearningService {
    pub(crate) async fn enrol(
        &self,
        principal: &Principal,
        request: EnrolLearnerRequest,
    ) -> Result<Enrolment, ServiceError> {
        validate::request_id(&request.request_id)?;
        validate::id("child_id", &request.child_id)?;
        let mut v = validate::Violations::default();
        if request.programme.trim().is_empty() && request.framework_code.is_empty() {
            v.add("programme", "a programme or a framework is required");
        }
        validate::text(&mut v, "programme", &request.programme, 200);
        validate::curriculum_ref(
            &mut v,
            "",
            &request.framework_code,
            &request.subject_code,
            &request.level_code,
            false,
        );
        v.finish()?;
        if !request.framework_code.is_empty()
            && self
                .store
                .framework(&request.framework_code)
                .await?
                .is_none()
        {
            return Err(ServiceError::invalid(
                "framework_code",
                "is not a known framework",
            ));
        }
        // A school enrols only a child it already reaches (identity's word: its educator registered the
        // child, or the case's owner placed the child with it). Anything else answers as a missing child
        // does, so the answer tells nothing of children out of reach.
        let learner = self
            .store
            .learner(&request.child_id)
            .await?
            .filter(|learner| learner.affiliations.contains(&principal.agency))
            .ok_or(ServiceError::NotFound("child"))?;
        if !self.may_write_education(principal, &learner) {
            return Err(ServiceError::NotFound("child"));
        }
        let rpc = rpc!("EnrolLearner");
        let now = now_micros();
        let row = enrolment::Model {
            id: uuid::Uuid::now_v7().to_string(),
            child_id: request.child_id.clone(),
            organisation: principal.agency.clone(),
            programme: request.programme.trim().to_owned(),
            framework_code: request.framework_code.clone(),
            subject_code: request.subject_code.clone(),
            level_code: request.level_code.clone(),
            status: EnrolmentStatus::Active as i32,
            sessions_held: 0,
            sessions_attended: 0,
            attendance_as_of_us: None,
            version: 1,
            enrolled_at_us: now,
            enrolled_by: principal.sub.clone(),
            updated_at_us: now,
            updated_by: principal.sub.clone(),
        };
        let key = IdempotencyKey::new(
            principal,
            &request.request_id,
            rpc,
            idempotency::body_hash(&request, |r| &mut r.request_id),
        );
        let row = self
            .store
            .enrol(entry(principal, "create", rpc, &request.child_id), key, row)
            .await?;
        Ok(enrolment_view(&row))
    }

    pub(crate) async fn update_enrolment(
        &self,
        principal: &Principal,
        request: UpdateEnrolmentRequest,
    ) -> Result<Enrolment, ServiceError> {
        validate::id("id", &request.id)?;
        if request.expected_version < 1 {
            return Err(ServiceError::invalid(
                "expected_version",
                "is required (the version last read)",
            ));
        }
        let paths = request.update_mask.map(|m| m.paths).unwrap_or_default();
        if paths.is_empty() {
            return Err(ServiceError::invalid(
                "update_mask",
                "must name at least one path",
            ));
        }
        for (i, path) in paths.iter().enumerate() {
            if path != "status" && path != "attendance" {
                return Err(ServiceError::invalid(
                    format!("update_mask.paths[{i}]"),
                    "is not an updatable path (status, attendance)",
                ));
            }
        }
        let source = request
            .enrolment
            .ok_or_else(|| ServiceError::invalid("enrolment", "is required"))?;
        let set_status = paths.iter().any(|p| p == "status");
        let set_attendance = paths.iter().any(|p| p == "attendance");
        if set_status
            && !matches!(
                EnrolmentStatus::try_from(source.status),
                Ok(EnrolmentStatus::Active
                    | EnrolmentStatus::Completed
                    | EnrolmentStatus::Withdrawn)
            )
        {
            return Err(ServiceError::invalid(
                "enrolment.status",
                "is not a known status",
            ));
        }
        let attendance = source.attendance.unwrap_or_default();
        if set_attendance && attendance.sessions_attended > attendance.sessions_held {
            return Err(ServiceError::invalid(
                "enrolment.attendance.sessions_attended",
                "must not exceed sessions_held",
            ));
        }
        let current = self
            .store
            .enrolment(&request.id)
            .await?
            .ok_or(ServiceError::NotFound("enrolment"))?;
        let learner = self
            .store
            .learner(&current.child_id)
            .await?
            .ok_or(ServiceError::NotFound("enrolment"))?;
        if !self.may_write_education(principal, &learner) {
            return Err(ServiceError::NotFound("enrolment"));
        }
        if current.organisation != principal.agency {
            return Err(ServiceError::PermissionDenied(
                "only the enrolling organisation may update an enrolment".into(),
            ));
        }
        let now = now_micros();
        let changes = EnrolmentChanges {
            status: set_status.then_some(source.status),
            attendance: set_attendance.then(|| {
                (
                    i64::from(attendance.sessions_held),
                    i64::from(attendance.sessions_attended),
                    attendance.as_of.as_ref().map(micros_of).unwrap_or(now),
                )
            }),
            updated_by: principal.sub.clone(),
            now,
        };
        let updated = self
            .store
            .update_enrolment(
                entry(
                    principal,
                    "update",
                    rpc!("UpdateEnrolment"),
                    &current.child_id,
                ),
                &request.id,
                request.expected_version,
                changes,
            )
            .await?;
        match updated {
            EnrolmentUpdate::Updated(row) => Ok(enrolment_view(&row)),
            EnrolmentUpdate::Stale(version) => Err(ServiceError::StaleVersion(format!(
                "expected_version {} does not match the current version {version}",
                request.expected_version
            ))),
        }
    }

    pub(crate) async fn list_enrolments(
        &self,
        principal: &Principal,
        request: ListEnrolmentsRequest,
    ) -> Result<ListEnrolmentsResponse, ServiceError> {
        let learner = self.readable_learner(principal, &request.child_id).await?;
        let page = request.page.unwrap_or_default();
        let size = paging::page_size(&page)?;
        let after = paging::decode_cursor(&page.page_token)?;
        let mut rows = self
            .store
            .enrolments_page(&learner.child.child_id, after, u64::from(size) + 1)
            .await?;
        let next_page_token = paging::finish_page(&mut rows, size, |r| r.id.as_str());
        self.audit
            .record(vec![entry(
                principal,
                "list",
                rpc!("ListEnrolments"),
                &learner.child.child_id,
            )])
            .await?;
        Ok(ListEnrolmentsResponse {
            enrolments: rows.iter().map(enrolment_view).collect(),
            next_page_token,
        })
    }
}
