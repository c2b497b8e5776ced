//! Passport RPCs: IssuePassport, VerifyPassport, ImportPassport, RevokePassport and the public status
//! list. The credential itself (signing, verifying, printing) lives in `crate::passport`.

use std::collections::{HashMap, HashSet};

use haven_authz::Principal;
use haven_platform::ServiceError;
use haven_proto::learning::*;

use super::entry;
use crate::convert::{new_record, now_micros, record_view, timestamp};
use crate::curriculum::{outcome_key, outcome_ref};
use crate::entity::passport;
use crate::passport::{Achievement, PassportContent, Recipient, Score, VerifiedPassport};
use crate::service::LearningService;
use crate::store::Imported;
use crate::validate;
use haven_platform::idempotency::{self, IdempotencyKey};

/// The one status list of this deployment; its URL is in every passport issued here.
pub const STATUS_LIST_ID: &str = "1";
const MAX_PASSPORT_RECORDS: u64 = 1000;

impl LearningService {
    /// Outcome labels of the given frameworks, English where there is one, by `framework/s/l/o` key.
    async fn outcome_labels(
        &self,
        frameworks: &HashSet<String>,
    ) -> Result<HashMap<String, String>, ServiceError> {
        let mut labels = HashMap::new();
        if frameworks.is_empty() {
            return Ok(labels);
        }
        let rows = self.store.labels_of_frameworks(frameworks).await?;
        for l in rows {
            let key = outcome_key(
                &l.framework_code,
                &l.subject_code,
                &l.level_code,
                &l.outcome_code,
            );
            if l.lang == "en" || !labels.contains_key(&key) {
                labels.insert(key, l.outcome_label);
            }
        }
        Ok(labels)
    }

    pub(crate) async fn issue_passport(
        &self,
        principal: &Principal,
        request: IssuePassportRequest,
    ) -> Result<haven_proto::learning::Passport, ServiceError> {
        validate::id("child_id", &request.child_id)?;
        validate::recipient(request.recipient.as_ref())?;
        if request.valid_days > 3650 {
            return Err(ServiceError::invalid("valid_days", "must be at most 3650"));
        }
        let learner = self
            .store
            .learner(&request.child_id)
            .await?
            .ok_or(ServiceError::NotFound("learner"))?;
        if !self.may_write_education(principal, &learner) {
            return Err(ServiceError::NotFound("learner"));
        }
        let rows = self
            .store
            .records_of(&request.child_id, MAX_PASSPORT_RECORDS)
            .await?;
        let records = rows
            .iter()
            .filter(|r| !r.voided)
            .map(record_view)
            .collect::<Result<Vec<_>, _>>()?;
        let frameworks: HashSet<String> = records
            .iter()
            .filter(|r| !r.framework_code.is_empty())
            .map(|r| r.framework_code.clone())
            .collect();
        let labels = self.outcome_labels(&frameworks).await?;
        let mut achievements = Vec::with_capacity(records.len());
        for r in records {
            let outcomes = r
                .outcome_codes
                .iter()
                .map(|code| {
                    let key = outcome_key(&r.framework_code, &r.subject_code, &r.level_code, code);
                    (code.clone(), labels.get(&key).cloned().unwrap_or_default())
                })
                .collect();
            achievements.push(Achievement {
                record_id: r.id.clone(),
                title: r.title.clone(),
                framework_code: r.framework_code.clone(),
                subject_code: r.subject_code.clone(),
                level_code: r.level_code.clone(),
                outcomes,
                score: r.assessment.as_ref().map(|a| Score {
                    raw: a.raw_score,
                    max: a.max_score,
                    scaled: a.scaled_score,
                    passed: a.passed,
                    grade: a.grade.clone(),
                }),
                occurred_at: r.occurred_at.as_ref().map(|t| t.seconds),
            });
        }
        let recipient = request.recipient.unwrap_or_default();
        let recipient = if recipient.hashed {
            let name = format!(
                "{} {}",
                recipient.given_name.trim(),
                recipient.family_name.trim()
            );
            Recipient::Hashed {
                name: name.trim().to_owned(),
                salt: uuid::Uuid::new_v4().simple().to_string(),
            }
        } else {
            Recipient::Named {
                given_name: recipient.given_name.trim().to_owned(),
                family_name: recipient.family_name.trim().to_owned(),
                birth_year: (recipient.birth_year != 0).then_some(recipient.birth_year),
            }
        };
        let now = now_micros();
        let valid_from = now / 1_000_000;
        let valid_until =
            (request.valid_days > 0).then(|| valid_from + i64::from(request.valid_days) * 86_400);
        let content = PassportContent {
            credential_id: uuid::Uuid::now_v7(),
            recipient,
            achievements,
            valid_from,
            valid_until,
            status_list_id: STATUS_LIST_ID.into(),
        };
        let issued = self
            .issuer
            .issue(&content)
            .map_err(|e| ServiceError::Internal(format!("passport signing: {e}")))?;
        self.store
            .record_issued(
                entry(principal, "issue", rpc!("IssuePassport"), &request.child_id),
                passport::Model {
                    credential_id: issued.credential_id.clone(),
                    child_id: Some(request.child_id.clone()),
                    organisation: principal.agency.clone(),
                    issued_by: principal.sub.clone(),
                    issued_at_us: now,
                    status_list_id: STATUS_LIST_ID.into(),
                    revoked_at_us: None,
                    revoked_by: None,
                    revoke_reason: None,
                },
            )
            .await?;
        Ok(haven_proto::learning::Passport {
            credential_id: issued.credential_id,
            jwt: issued.jwt,
            issuer: self.issuer.did().to_owned(),
            kid: self.issuer.kid().to_owned(),
            valid_from: Some(timestamp(valid_from * 1_000_000)),
            valid_until: valid_until.map(|s| timestamp(s * 1_000_000)),
            status_list_url: self.issuer.status_list_url(STATUS_LIST_ID),
            achievements: content.achievements.len() as u32,
        })
    }

    pub(crate) async fn verify_passport(
        &self,
        principal: &Principal,
        request: VerifyPassportRequest,
    ) -> Result<PassportVerification, ServiceError> {
        self.may_verify_passports(principal)?;
        if request.jwt.len() > 4 * 1024 * 1024 {
            return Err(ServiceError::invalid("jwt", "must be at most 4 MiB"));
        }
        // A scanned paper passport (its QR codes' text, one per line) is as good as the JWT.
        let jwt = crate::print::qr::credential_from_text(&request.jwt)
            .map_err(|e| ServiceError::invalid("jwt", e.to_string()))?;
        let verified = match crate::passport::verify(&jwt, &self.trusted) {
            Ok(verified) => verified,
            Err(error) => {
                return Ok(PassportVerification {
                    valid: false,
                    error: error.to_string(),
                    ..Default::default()
                });
            }
        };
        let (revocation_checked, revoked) = self.local_revocation(&verified).await?;
        Ok(PassportVerification {
            valid: !revoked,
            error: if revoked {
                "revoked".into()
            } else {
                String::new()
            },
            issuer: verified.issuer.clone(),
            issuer_name: verified.issuer_name.clone(),
            kid: verified.kid.clone(),
            credential_id: verified.credential_id.clone(),
            valid_from: Some(timestamp(verified.valid_from * 1_000_000)),
            valid_until: verified.valid_until.map(|s| timestamp(s * 1_000_000)),
            achievements: verified.achievements.len() as u32,
            revocation_checked,
            revoked,
        })
    }

    /// Revocation of a passport issued here (known offline); other issuers' lists need fetching.
    async fn local_revocation(
        &self,
        verified: &VerifiedPassport,
    ) -> Result<(bool, bool), ServiceError> {
        if !self.issuer.issued_here(&verified.issuer) {
            return Ok((false, false));
        }
        let row = self.store.passport(&verified.credential_id).await?;
        Ok((true, row.is_some_and(|r| r.revoked_at_us.is_some())))
    }

    /// Places an imported result in the local curriculum: as is when the framework exists here, else
    /// through an outcome alignment. Returns the local (framework, subject, level, outcomes) and whether
    /// every part was placed.
    async fn align_imported(
        &self,
        framework: &str,
        subject: &str,
        level: &str,
        outcomes: &[String],
    ) -> Result<Option<(String, String, String, Vec<String>)>, ServiceError> {
        if framework.is_empty() {
            return Ok(None);
        }
        let mut all_local = self
            .store
            .outcome_exists(framework, subject, level, None)
            .await?;
        for o in outcomes {
            all_local = all_local
                && self
                    .store
                    .outcome_exists(framework, subject, level, Some(o))
                    .await?;
        }
        if all_local {
            return Ok(Some((
                framework.into(),
                subject.into(),
                level.into(),
                outcomes.to_vec(),
            )));
        }
        if outcomes.is_empty() {
            return Ok(None);
        }
        // Every outcome must map into one local level for the record to be placed.
        let mut placed: Option<(String, String, String)> = None;
        let mut local_outcomes = Vec::with_capacity(outcomes.len());
        for o in outcomes {
            let from = outcome_key(framework, subject, level, o);
            let targets = self.store.alignments_from(&from).await?;
            let target = targets
                .iter()
                .filter_map(|t| outcome_ref(&t.to_outcome))
                .find(|t| {
                    placed.as_ref().is_none_or(|(f, s, l)| {
                        *f == t.framework_code && *s == t.subject_code && *l == t.level_code
                    })
                });
            let Some(t) = target else {
                return Ok(None);
            };
            placed = Some((
                t.framework_code.clone(),
                t.subject_code.clone(),
                t.level_code.clone(),
            ));
            local_outcomes.push(t.outcome_code);
        }
        Ok(placed.map(|(f, s, l)| (f, s, l, local_outcomes)))
    }

    pub(crate) async fn import_passport(
        &self,
        principal: &Principal,
        request: ImportPassportRequest,
    ) -> Result<ImportPassportResponse, ServiceError> {
        validate::request_id(&request.request_id)?;
        validate::id("child_id", &request.child_id)?;
        let learner = self
            .store
            .learner(&request.child_id)
            .await?
            .ok_or(ServiceError::NotFound("learner"))?;
        if !self.may_write_education(principal, &learner) {
            return Err(ServiceError::NotFound("learner"));
        }
        let jwt = crate::print::qr::credential_from_text(&request.jwt)
            .map_err(|e| ServiceError::invalid("jwt", e.to_string()))?;
        let verified = crate::passport::verify(&jwt, &self.trusted)
            .map_err(|e| ServiceError::invalid("jwt", e.to_string()))?;
        if self.local_revocation(&verified).await?.1 {
            return Err(ServiceError::FailedPrecondition(
                "the passport is revoked".into(),
            ));
        }
        let already = self
            .store
            .records_of(&request.child_id, 100_000)
            .await?
            .iter()
            .filter_map(|row| record_view(row).ok())
            .any(|r| {
                r.provenance
                    .is_some_and(|p| p.credential_id == verified.credential_id)
            });
        let now = now_micros();
        let mut rows = Vec::with_capacity(verified.achievements.len());
        let (mut aligned, mut unaligned) = (0, 0);
        for a in &verified.achievements {
            let placed = self
                .align_imported(
                    &a.framework_code,
                    &a.subject_code,
                    &a.level_code,
                    &a.outcome_codes,
                )
                .await?;
            let original: Vec<OutcomeRef> = if a.outcome_codes.is_empty() {
                vec![OutcomeRef {
                    framework_code: a.framework_code.clone(),
                    subject_code: a.subject_code.clone(),
                    level_code: a.level_code.clone(),
                    outcome_code: String::new(),
                }]
            } else {
                a.outcome_codes
                    .iter()
                    .map(|o| OutcomeRef {
                        framework_code: a.framework_code.clone(),
                        subject_code: a.subject_code.clone(),
                        level_code: a.level_code.clone(),
                        outcome_code: o.clone(),
                    })
                    .collect()
            };
            let is_aligned = placed.is_some();
            let (framework_code, subject_code, level_code, outcome_codes) =
                placed.unwrap_or_else(|| {
                    (
                        a.framework_code.clone(),
                        a.subject_code.clone(),
                        a.level_code.clone(),
                        a.outcome_codes.clone(),
                    )
                });
            if is_aligned {
                aligned += 1;
            } else {
                unaligned += 1;
            }
            let kind = match (&a.score, outcome_codes.is_empty()) {
                (Some(_), _) => RecordKind::Assessment,
                (None, false) => RecordKind::Outcomes,
                (None, true) => RecordKind::Completion,
            };
            let body = LearningRecord {
                child_id: request.child_id.clone(),
                kind: kind as i32,
                framework_code,
                subject_code,
                level_code,
                outcome_codes,
                assessment: a.score.as_ref().map(|s| Assessment {
                    raw_score: s.raw,
                    max_score: s.max,
                    scaled_score: s.scaled,
                    passed: s.passed,
                    grade: s.grade.clone(),
                    grade_scale: String::new(),
                }),
                title: a.title.chars().take(200).collect(),
                evidence: format!("imported from passport {}", verified.credential_id),
                occurred_at: Some(timestamp(verified.valid_from * 1_000_000)),
                recorder_role: "import".into(),
                provenance: Some(Provenance {
                    issuer: verified.issuer.clone(),
                    issuer_name: verified.issuer_name.clone(),
                    credential_id: verified.credential_id.clone(),
                    original_outcomes: original,
                    aligned: is_aligned,
                }),
                ..Default::default()
            };
            rows.push(new_record(principal, body, "", now));
        }
        let rpc = rpc!("ImportPassport");
        let key = IdempotencyKey::new(
            principal,
            &request.request_id,
            rpc,
            idempotency::body_hash(&request, |r| &mut r.request_id),
        );
        // The store checks `already` after the replay lookup, which answers a retry; a second import
        // under a new key would only duplicate the records.
        let imported = self
            .store
            .import_records(
                entry(principal, "import", rpc, &request.child_id),
                key,
                &rows,
                already,
                now,
            )
            .await?;
        match imported {
            Imported::Written => {}
            Imported::Replayed(stored) => {
                let records = stored
                    .iter()
                    .map(record_view)
                    .collect::<Result<Vec<_>, _>>()?;
                let aligned = records
                    .iter()
                    .filter(|r| r.provenance.as_ref().is_some_and(|p| p.aligned))
                    .count() as u32;
                return Ok(ImportPassportResponse {
                    unaligned: records.len() as u32 - aligned,
                    aligned,
                    records,
                    issuer: verified.issuer,
                    credential_id: verified.credential_id,
                });
            }
            Imported::Duplicate => {
                return Err(ServiceError::FailedPrecondition(
                    "this passport was already imported for this learner".into(),
                ));
            }
        }
        Ok(ImportPassportResponse {
            records: rows
                .iter()
                .map(record_view)
                .collect::<Result<Vec<_>, _>>()?,
            aligned,
            unaligned,
            issuer: verified.issuer,
            credential_id: verified.credential_id,
        })
    }

    pub(crate) async fn revoke_passport(
        &self,
        principal: &Principal,
        request: RevokePassportRequest,
    ) -> Result<RevokePassportResponse, ServiceError> {
        validate::reason("reason", &request.reason, 3)?;
        let row = self
            .store
            .passport(&request.credential_id)
            .await?
            .filter(|p| p.organisation == principal.agency)
            .ok_or(ServiceError::NotFound("passport"))?;
        if let Some(at) = row.revoked_at_us {
            return Ok(RevokePassportResponse {
                revoked_at: Some(timestamp(at)),
            });
        }
        let now = now_micros();
        let record_id = row.child_id.clone().unwrap_or_default();
        self.store
            .revoke_passport(
                entry(principal, "revoke", rpc!("RevokePassport"), &record_id),
                &row.credential_id,
                principal.sub.clone(),
                request.reason.trim().to_owned(),
                now,
            )
            .await?;
        Ok(RevokePassportResponse {
            revoked_at: Some(timestamp(now)),
        })
    }

    /// The signed revocation list. Public: no token, no child data (credential ids only).
    pub async fn status_list(&self, list_id: &str) -> Result<PassportStatusList, ServiceError> {
        if list_id != STATUS_LIST_ID {
            return Err(ServiceError::NotFound("status list"));
        }
        let revoked = self.store.revoked_credentials(list_id).await?;
        let jwt = self
            .issuer
            .status_list_credential(list_id, &revoked, now_micros() / 1_000_000)
            .map_err(|e| ServiceError::Internal(format!("status list signing: {e}")))?;
        Ok(PassportStatusList {
            list_id: list_id.to_owned(),
            jwt,
            revoked: revoked.len() as u32,
        })
    }
}
