//! Learning record RPCs: RecordLearning, CorrectLearningRecord, ListLearningRecords and GetProgress.
//! Records are immutable: a correction voids one and may write its replacement.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use haven_authz::Principal;
use haven_platform::ServiceError;
use haven_proto::learning::*;
use prost::Message as _;

use super::entry;
use crate::convert::{micros_of, record_view, timestamp};
use crate::service::LearningService;
use crate::store::{Correction, NewRecord};
use crate::{paging, validate};
use haven_platform::idempotency::{self, IdempotencyKey};

/// Progress of one level while records are counted: the outcomes seen and when the latest scored
/// assessment happened.
type LevelTally = (SubjectProgress, HashSet<String>, i64);

impl LearningService {
    /// Checks a record against the curriculum it names: the framework, its subject and level, and each
    /// outcome must exist.
    async fn check_curriculum(
        &self,
        prefix: &str,
        record: &LearningRecord,
    ) -> Result<(), ServiceError> {
        if record.framework_code.is_empty() {
            return Ok(());
        }
        let known = self
            .store
            .known_outcomes(
                &record.framework_code,
                &record.subject_code,
                &record.level_code,
                &record.outcome_codes,
            )
            .await?;
        if known.is_empty() {
            return Err(ServiceError::invalid(
                format!("{prefix}level_code"),
                "is not a level of that subject in a known framework",
            ));
        }
        if let Some(i) = record.outcome_codes.iter().position(|c| !known.contains(c)) {
            return Err(ServiceError::invalid(
                format!("{prefix}outcome_codes[{i}]"),
                "is not an outcome of that level",
            ));
        }
        Ok(())
    }

    pub(crate) async fn record_learning(
        &self,
        principal: &Arc<Principal>,
        request: RecordLearningRequest,
    ) -> Result<LearningRecord, ServiceError> {
        validate::request_id(&request.request_id)?;
        let mut body = request
            .record
            .clone()
            .ok_or_else(|| ServiceError::invalid("record", "is required"))?;
        body.provenance = None;
        body.recorder_role.clear();
        validate::record("record.", &body)?;
        let learner = self
            .store
            .learner(&body.child_id)
            .await?
            .ok_or(ServiceError::NotFound("learner"))?;
        if !self.may_write_records(principal, &learner).await? {
            return Err(ServiceError::NotFound("learner"));
        }
        self.check_curriculum("record.", &body).await?;
        let key = IdempotencyKey::new(
            principal,
            &request.request_id,
            rpc!("RecordLearning"),
            idempotency::body_hash(&request, |r| &mut r.request_id),
        );
        let audit = entry(principal, "create", rpc!("RecordLearning"), &body.child_id);
        self.store
            .record(NewRecord {
                principal: Arc::clone(principal),
                key,
                body,
                audit,
            })
            .await
    }

    pub(crate) async fn correct_record(
        &self,
        principal: &Arc<Principal>,
        request: CorrectLearningRecordRequest,
    ) -> Result<CorrectLearningRecordResponse, ServiceError> {
        validate::request_id(&request.request_id)?;
        validate::id("record_id", &request.record_id)?;
        validate::reason("reason", &request.reason, 3)?;
        let current = self
            .store
            .learning_record(&request.record_id)
            .await?
            .ok_or(ServiceError::NotFound("learning record"))?;
        let learner = self
            .store
            .learner(&current.child_id)
            .await?
            .ok_or(ServiceError::NotFound("learning record"))?;
        if !self.may_write_records(principal, &learner).await? {
            return Err(ServiceError::NotFound("learning record"));
        }
        if current.organisation != principal.agency {
            return Err(ServiceError::PermissionDenied(
                "only the recording organisation may correct a record".into(),
            ));
        }
        // A learning platform answers for its own statements only: an educator's record is the
        // educator's to correct.
        if self.is_platform(principal) {
            let recorded_by = LearningRecord::decode(current.body.as_slice())
                .map(|body| body.recorded_by)
                .unwrap_or_default();
            if recorded_by != principal.sub {
                return Err(ServiceError::PermissionDenied(
                    "a learning platform may correct only the records it wrote".into(),
                ));
            }
        }
        let replacement = match request.replacement.clone() {
            Some(mut r) => {
                r.provenance = None;
                r.recorder_role.clear();
                validate::record("replacement.", &r)?;
                if r.child_id != current.child_id {
                    return Err(ServiceError::invalid(
                        "replacement.child_id",
                        "must be the corrected record's learner",
                    ));
                }
                self.check_curriculum("replacement.", &r).await?;
                Some(r)
            }
            None => None,
        };
        let key = IdempotencyKey::new(
            principal,
            &request.request_id,
            rpc!("CorrectLearningRecord"),
            idempotency::body_hash(&request, |r| &mut r.request_id),
        );
        let audit = entry(
            principal,
            "correct",
            rpc!("CorrectLearningRecord"),
            &current.child_id,
        );
        self.store
            .correct(Correction {
                principal: Arc::clone(principal),
                key,
                current,
                reason: request.reason.trim().to_owned(),
                replacement,
                audit,
            })
            .await
    }

    pub(crate) async fn list_records(
        &self,
        principal: &Principal,
        request: ListLearningRecordsRequest,
    ) -> Result<ListLearningRecordsResponse, ServiceError> {
        let learner = self.readable_learner(principal, &request.child_id).await?;
        let page = request.page.unwrap_or_default();
        let size = paging::page_size(&page)?;
        let after = paging::decode_cursor(&page.page_token)?;
        let mut rows = self
            .store
            .records_page(&learner.child.child_id, after, u64::from(size) + 1)
            .await?;
        let next_page_token = paging::finish_page(&mut rows, size, |r| r.id.as_str());
        let records = rows
            .iter()
            .map(record_view)
            .collect::<Result<Vec<_>, _>>()?;
        self.audit
            .record(vec![entry(
                principal,
                "list",
                rpc!("ListLearningRecords"),
                &learner.child.child_id,
            )])
            .await?;
        Ok(ListLearningRecordsResponse {
            records,
            next_page_token,
        })
    }

    pub(crate) async fn progress(
        &self,
        principal: &Principal,
        request: GetProgressRequest,
    ) -> Result<Progress, ServiceError> {
        let learner = self.readable_learner(principal, &request.child_id).await?;
        let rows = self
            .store
            .records_of(&learner.child.child_id, 100_000)
            .await?;
        let mut by_level: BTreeMap<(String, String, String), LevelTally> = BTreeMap::new();
        for row in rows.iter().filter(|r| !r.voided) {
            let r = record_view(row)?;
            let key = (
                r.framework_code.clone(),
                r.subject_code.clone(),
                r.level_code.clone(),
            );
            let (p, outcomes, latest_assessment) = by_level.entry(key).or_insert_with(|| {
                (
                    SubjectProgress {
                        framework_code: r.framework_code.clone(),
                        subject_code: r.subject_code.clone(),
                        level_code: r.level_code.clone(),
                        ..Default::default()
                    },
                    HashSet::new(),
                    i64::MIN,
                )
            });
            let at = r.occurred_at.as_ref().map(micros_of).unwrap_or_default();
            p.records += 1;
            if p.last_activity.as_ref().is_none_or(|t| micros_of(t) < at) {
                p.last_activity = Some(timestamp(at));
            }
            match RecordKind::try_from(r.kind) {
                Ok(RecordKind::Completion) => p.completed = true,
                Ok(RecordKind::Assessment) => {
                    p.assessments += 1;
                    if let Some(a) = &r.assessment {
                        if a.passed == Some(true) {
                            p.assessments_passed += 1;
                        }
                        if a.scaled_score.is_some() && at >= *latest_assessment {
                            *latest_assessment = at;
                            p.latest_scaled_score = a.scaled_score;
                        }
                    }
                }
                _ => {}
            }
            outcomes.extend(r.outcome_codes.iter().cloned());
        }
        let mut subjects = Vec::with_capacity(by_level.len());
        for ((framework, subject, level), (mut p, outcomes, _)) in by_level {
            p.outcomes_achieved = outcomes.len() as u32;
            if !framework.is_empty() {
                p.outcomes_total = self
                    .store
                    .outcomes_of_level(&framework, &subject, &level)
                    .await?
                    .len() as u32;
            }
            subjects.push(p);
        }
        self.audit
            .record(vec![entry(
                principal,
                "read",
                rpc!("GetProgress"),
                &learner.child.child_id,
            )])
            .await?;
        Ok(Progress {
            child_id: learner.child.child_id,
            subjects,
        })
    }
}
