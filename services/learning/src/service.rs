//! The `haven.learning.v1.LearningRecords` RPCs: authenticate from the caller's own JWT, refuse what the
//! role can never do, decide on the learner with the policy, persist with audit and outbox in one
//! transaction, answer.
//!
//! Who may do what (the gateway's coarse rules mirror the first check of each handler):
//! - educator: everything about learners their organisation reaches (policy scope `affiliated`). Only
//!   the identity service widens that reach (`LearnerAffiliationChanged`): a school's educator registered
//!   the child, or the case's owner placed the child with the school. Enrolling needs that reach first.
//! - lms: RecordLearning and CorrectLearningRecord for learners with an active enrolment at its
//!   organisation (token `agency`), and reading curricula. It reads no learner data: the default policy
//!   gives it no grant, so this rule lives here.
//! - caseworker, supervisor: read a learner's enrolments, records and progress, per their policy scope on
//!   the child (owner / agency, from the identity projection); verify passports.
//! - anyone else: PERMISSION_DENIED. A learner outside the caller's scope: NOT_FOUND.
//!
//! The service knows nothing of protection cases, so no answer, error or count can depend on one.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use haven_authz::{Authenticator, ClassSet, DataClass, Policy, Principal, RecordAttrs, Role};
use haven_platform::ServiceError;
use haven_platform::audit::{AuditEntry, AuditWriter};
use haven_proto::learning::learning_records_server::LearningRecords;
use haven_proto::learning::*;
use prost::Message as _;
use sea_orm::DatabaseConnection;
use sha2::{Digest as _, Sha256};
use tonic::{Request, Response, Status};

use crate::convert::{enrolment_view, micros_of, new_record, now_micros, record_view, timestamp};
use crate::curriculum::{outcome_key, outcome_ref};
use crate::entity::{enrolment, passport};
use crate::passport::{
    Achievement, PassportContent, PassportIssuer, Recipient, Score, TrustList, VerifiedPassport,
};
use crate::store::{
    Correction, EnrolmentChanges, EnrolmentUpdate, FrameworkImport, Imported, Learner, NewRecord,
    RequestKey, Store,
};
use crate::{curriculum, paging, validate};

const EDUCATION: ClassSet = ClassSet::of(&[DataClass::Education]);
/// The one status list of this deployment; its URL is in every passport issued here.
pub const STATUS_LIST_ID: &str = "1";
const MAX_PASSPORT_RECORDS: u64 = 1000;
const MAX_ALIGNMENTS: usize = 500;

/// The learning service.
#[derive(Debug, Clone)]
pub struct LearningService {
    pub(crate) store: Store,
    auth: Authenticator,
    pub(crate) policy: Arc<Policy>,
    pub(crate) audit: AuditWriter,
    pub(crate) issuer: Arc<PassportIssuer>,
    /// Issuers whose passports ImportPassport and VerifyPassport accept; always includes our own key.
    pub(crate) trusted: Arc<TrustList>,
}

impl Learner {
    pub(crate) fn attrs(&self) -> RecordAttrs<'_> {
        RecordAttrs {
            owner: &self.child.owner,
            agency: &self.child.agency,
            consent_for_tracing: false,
            affiliations: &self.affiliations,
            referrals: &[],
            break_glass: &[],
            assignees: &[],
            team: None,
            locations: &[],
        }
    }
}

/// Progress of one level while records are counted: the outcomes seen and when the latest scored
/// assessment happened.
type LevelTally = (SubjectProgress, HashSet<String>, i64);

impl LearningService {
    /// Needs a migrated database and a running tokio runtime (it starts the audit writer and the
    /// group-commit writers).
    pub fn new(
        db: DatabaseConnection,
        auth: Authenticator,
        policy: Arc<Policy>,
        issuer: PassportIssuer,
    ) -> Self {
        let trusted = issuer.trust_list();
        LearningService {
            audit: AuditWriter::spawn(db.clone()),
            store: Store::new(db),
            auth,
            policy,
            issuer: Arc::new(issuer),
            trusted: Arc::new(trusted),
        }
    }

    /// Also trust these issuers' passports (the deployment's trust list, e.g. from a JWKS file).
    pub fn with_trusted_issuers(mut self, issuers: TrustList) -> Self {
        let mut trusted = self.issuer.trust_list();
        trusted.extend(issuers);
        self.trusted = Arc::new(trusted);
        self
    }

    /// The service's database (for its outbox relay).
    pub fn database(&self) -> &DatabaseConnection {
        self.store.db()
    }

    pub fn issuer(&self) -> &PassportIssuer {
        &self.issuer
    }

    pub fn auth(&self) -> &Authenticator {
        &self.auth
    }

    async fn principal<T>(&self, request: &Request<T>) -> Result<Arc<Principal>, Status> {
        haven_platform::auth::caller(&self.auth, request).await
    }

    // --- coarse refusals: what a role can never do, whatever the learner -------------------------

    pub(crate) fn may_ever_read(&self, principal: &Principal) -> Result<(), ServiceError> {
        if self
            .policy
            .ever_readable(principal)
            .contains(DataClass::Education)
        {
            return Ok(());
        }
        Err(ServiceError::PermissionDenied(
            "your role may not read learning records".into(),
        ))
    }

    pub(crate) fn may_ever_write(&self, principal: &Principal) -> Result<(), ServiceError> {
        if self
            .policy
            .ever_writable(principal)
            .contains(DataClass::Education)
        {
            return Ok(());
        }
        Err(ServiceError::PermissionDenied(
            "your role may not write learning records".into(),
        ))
    }

    /// Learning platforms write records through their own rule (enrolment at their organisation).
    pub(crate) fn is_platform(&self, principal: &Principal) -> bool {
        principal.has_role(Role::Lms)
            && !self
                .policy
                .ever_writable(principal)
                .contains(DataClass::Education)
    }

    pub(crate) fn may_read_curricula(&self, principal: &Principal) -> Result<(), ServiceError> {
        let any = self
            .policy
            .ever_readable(principal)
            .union(self.policy.ever_writable(principal));
        if any.contains(DataClass::Education) || principal.has_role(Role::Lms) {
            return Ok(());
        }
        Err(ServiceError::PermissionDenied(
            "your role may not read curricula".into(),
        ))
    }

    /// Verifying a passport reads curricula, and more than a learning platform may: a verification
    /// tells whether a child's credential is genuine.
    pub(crate) fn may_verify_passports(&self, principal: &Principal) -> Result<(), ServiceError> {
        self.may_read_curricula(principal)?;
        if principal.has_role(Role::Lms)
            && !self
                .policy
                .ever_readable(principal)
                .contains(DataClass::Education)
        {
            return Err(ServiceError::PermissionDenied(
                "your role may not verify passports".into(),
            ));
        }
        Ok(())
    }

    // --- the learner decision -------------------------------------------------------------------

    /// The learner if the caller may read their education data; NOT_FOUND otherwise.
    pub(crate) async fn readable_learner(
        &self,
        principal: &Principal,
        child_id: &str,
    ) -> Result<Learner, ServiceError> {
        self.may_ever_read(principal)?;
        validate::id("child_id", child_id)?;
        let learner = self
            .store
            .learner(child_id)
            .await?
            .ok_or(ServiceError::NotFound("learner"))?;
        let access = self
            .policy
            .access(principal, &learner.attrs())
            .restricted_to(EDUCATION);
        if !access.read.contains(DataClass::Education) {
            return Err(ServiceError::NotFound("learner"));
        }
        Ok(learner)
    }

    /// Whether the caller may write this learner's records: educators through the policy, learning
    /// platforms through an active enrolment at their organisation.
    pub(crate) async fn may_write_records(
        &self,
        principal: &Principal,
        learner: &Learner,
    ) -> Result<bool, ServiceError> {
        if self.is_platform(principal) {
            return self
                .store
                .has_active_enrolment(&learner.child.child_id, &principal.agency)
                .await;
        }
        Ok(self.may_write_education(principal, learner))
    }

    pub(crate) fn may_write_education(&self, principal: &Principal, learner: &Learner) -> bool {
        self.policy
            .access(principal, &learner.attrs())
            .write
            .contains(DataClass::Education)
    }

    // --- curricula -----------------------------------------------------------------------------

    pub(crate) async fn import_framework(
        &self,
        principal: &Principal,
        request: ImportFrameworkRequest,
    ) -> Result<ImportFrameworkResponse, ServiceError> {
        self.may_ever_write(principal)?;
        let mut v = validate::Violations::default();
        if !curriculum::is_code(&request.framework_code) {
            v.add(
                "framework_code",
                "must be a code of letters, digits, '.', '-' or '_'",
            );
        }
        for (i, title) in request.titles.iter().enumerate() {
            if !curriculum::is_language_tag(&title.lang) {
                v.add(format!("titles[{i}].lang"), "must be a language tag");
            }
            validate::text(&mut v, &format!("titles[{i}].text"), &title.text, 200);
        }
        if request.csv.len() > 8 * 1024 * 1024 {
            v.add("csv", "must be at most 8 MiB");
        }
        v.finish()?;
        let (rows, errors) = curriculum::parse(&request.csv);
        let mut response = ImportFrameworkResponse {
            imported: false,
            rows: (rows.len() + errors.len()) as u32,
            outcomes_added: 0,
            labels_written: 0,
            errors: errors
                .into_iter()
                .map(|e| CsvRowError {
                    line: e.line,
                    column: e.column,
                    description: e.description,
                })
                .collect(),
        };
        let existing = self.store.framework(&request.framework_code).await?;
        if existing
            .as_ref()
            .is_some_and(|f| f.organisation != principal.agency)
        {
            return Err(ServiceError::PermissionDenied(
                "only the organisation that imported a framework may change it".into(),
            ));
        }
        if existing.is_none() && request.titles.is_empty() {
            return Err(ServiceError::invalid(
                "titles",
                "a new framework needs at least one title",
            ));
        }
        let known = self
            .store
            .framework_outcomes(&request.framework_code)
            .await?;
        let new_outcomes: HashSet<(&str, &str, &str)> = rows
            .iter()
            .map(|r| {
                (
                    r.subject_code.as_str(),
                    r.level_code.as_str(),
                    r.outcome_code.as_str(),
                )
            })
            .filter(|(s, l, o)| {
                !known.contains(&((*s).to_owned(), (*l).to_owned(), (*o).to_owned()))
            })
            .collect();
        response.outcomes_added = new_outcomes.len() as u32;
        response.labels_written = rows.len() as u32;
        if !response.errors.is_empty() || request.dry_run {
            return Ok(response);
        }
        let titles: BTreeMap<String, String> = request
            .titles
            .iter()
            .map(|t| (t.lang.clone(), t.text.clone()))
            .collect();
        self.store
            .import_framework(
                entry(
                    principal,
                    "import",
                    rpc!("ImportFramework"),
                    &request.framework_code,
                ),
                FrameworkImport {
                    code: &request.framework_code,
                    existing,
                    titles,
                    organisation: &principal.agency,
                    rows: &rows,
                    now: now_micros(),
                },
            )
            .await?;
        response.imported = true;
        Ok(response)
    }

    pub(crate) async fn get_framework(
        &self,
        principal: &Principal,
        request: GetFrameworkRequest,
    ) -> Result<Framework, ServiceError> {
        self.may_read_curricula(principal)?;
        let row = self
            .store
            .framework(&request.code)
            .await?
            .ok_or(ServiceError::NotFound("framework"))?;
        let labels = self.store.labels_of(&row.code).await?;
        let prefix = format!("{}/", row.code);
        let aligned = self.store.alignments_from_prefix(&prefix).await?;
        let mut alignments: HashMap<String, Vec<OutcomeRef>> = HashMap::new();
        for a in aligned {
            if let Some(to) = outcome_ref(&a.to_outcome) {
                alignments.entry(a.from_outcome).or_default().push(to);
            }
        }
        let mut subjects: Vec<Subject> = Vec::new();
        for l in labels {
            if subjects.last().is_none_or(|s| s.code != l.subject_code) {
                subjects.push(Subject {
                    code: l.subject_code.clone(),
                    ..Default::default()
                });
            }
            let subject = subjects
                .last_mut()
                .ok_or(ServiceError::Internal("subject".into()))?;
            add_label(&mut subject.labels, &l.lang, &l.subject_label);
            if subject
                .levels
                .last()
                .is_none_or(|lv| lv.code != l.level_code)
            {
                subject.levels.push(Level {
                    code: l.level_code.clone(),
                    ..Default::default()
                });
            }
            let level = subject
                .levels
                .last_mut()
                .ok_or(ServiceError::Internal("level".into()))?;
            add_label(&mut level.labels, &l.lang, &l.level_label);
            if level
                .outcomes
                .last()
                .is_none_or(|o| o.code != l.outcome_code)
            {
                let key = outcome_key(&row.code, &l.subject_code, &l.level_code, &l.outcome_code);
                level.outcomes.push(Outcome {
                    code: l.outcome_code.clone(),
                    labels: Vec::new(),
                    aligned_with: alignments.remove(&key).unwrap_or_default(),
                });
            }
            let outcome = level
                .outcomes
                .last_mut()
                .ok_or(ServiceError::Internal("outcome".into()))?;
            add_label(&mut outcome.labels, &l.lang, &l.outcome_label);
        }
        Ok(Framework {
            code: row.code,
            titles: titles_of(&row.titles),
            organisation: row.organisation,
            subjects,
            created_at: Some(timestamp(row.created_at_us)),
            updated_at: Some(timestamp(row.updated_at_us)),
        })
    }

    pub(crate) async fn list_frameworks(
        &self,
        principal: &Principal,
        request: ListFrameworksRequest,
    ) -> Result<ListFrameworksResponse, ServiceError> {
        self.may_read_curricula(principal)?;
        let page = request.page.unwrap_or_default();
        let size = paging::page_size(&page)?;
        let after = paging::decode_cursor(&page.page_token)?;
        let mut rows = self
            .store
            .frameworks_page(after, u64::from(size) + 1)
            .await?;
        let next_page_token = paging::finish_page(&mut rows, size, |r| r.code.as_str());
        let mut frameworks = Vec::with_capacity(rows.len());
        for row in rows {
            let outcomes = self.store.outcome_count(&row.code).await?;
            frameworks.push(FrameworkSummary {
                titles: titles_of(&row.titles),
                code: row.code,
                organisation: row.organisation,
                outcomes: outcomes as u32,
            });
        }
        Ok(ListFrameworksResponse {
            frameworks,
            next_page_token,
        })
    }

    pub(crate) async fn align_outcomes(
        &self,
        principal: &Principal,
        request: AlignOutcomesRequest,
    ) -> Result<AlignOutcomesResponse, ServiceError> {
        self.may_ever_write(principal)?;
        if request.alignments.is_empty() || request.alignments.len() > MAX_ALIGNMENTS {
            return Err(ServiceError::invalid(
                "alignments",
                format!("must have 1 to {MAX_ALIGNMENTS} entries"),
            ));
        }
        let mut pairs = Vec::with_capacity(request.alignments.len());
        let mut v = validate::Violations::default();
        for (i, a) in request.alignments.iter().enumerate() {
            let mut keys = Vec::with_capacity(2);
            for (side, r) in [("from", &a.from), ("to", &a.to)] {
                let field = format!("alignments[{i}].{side}");
                match r {
                    Some(r)
                        if self
                            .store
                            .outcome_exists(
                                &r.framework_code,
                                &r.subject_code,
                                &r.level_code,
                                Some(&r.outcome_code),
                            )
                            .await? =>
                    {
                        keys.push(outcome_key(
                            &r.framework_code,
                            &r.subject_code,
                            &r.level_code,
                            &r.outcome_code,
                        ))
                    }
                    _ => v.add(field, "is not an outcome of a known framework"),
                }
            }
            if let [from, to] = keys.as_slice() {
                if from == to {
                    v.add(format!("alignments[{i}]"), "aligns an outcome with itself");
                }
                pairs.push((from.clone(), to.clone()));
            }
        }
        v.finish()?;
        let added = self
            .store
            .align(entry(principal, "align", rpc!("AlignOutcomes"), ""), pairs)
            .await?;
        Ok(AlignOutcomesResponse { added })
    }

    // --- enrolments ----------------------------------------------------------------------------

    pub(crate) async fn enrol(
        &self,
        principal: &Principal,
        request: EnrolLearnerRequest,
    ) -> Result<Enrolment, ServiceError> {
        self.may_ever_write(principal)?;
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
        let key = RequestKey {
            principal,
            request_id: &request.request_id,
            rpc,
            body_hash: body_hash(&request),
        };
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
        self.may_ever_write(principal)?;
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
            EnrolmentUpdate::Stale(version) => Err(ServiceError::FailedPrecondition(format!(
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

    // --- learning records ----------------------------------------------------------------------

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
        if !self.is_platform(principal) {
            self.may_ever_write(principal)?;
        }
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
        let hash = body_hash(&request);
        let audit = entry(principal, "create", rpc!("RecordLearning"), &body.child_id);
        self.store
            .record(NewRecord {
                principal: Arc::clone(principal),
                request_id: request.request_id,
                body_hash: hash,
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
        if !self.is_platform(principal) {
            self.may_ever_write(principal)?;
        }
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
        let hash = body_hash(&request);
        let audit = entry(
            principal,
            "correct",
            rpc!("CorrectLearningRecord"),
            &current.child_id,
        );
        self.store
            .correct(Correction {
                principal: Arc::clone(principal),
                request_id: request.request_id,
                body_hash: hash,
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

    // --- passports -----------------------------------------------------------------------------

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
        self.may_ever_write(principal)?;
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
        self.may_ever_write(principal)?;
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
        let key = RequestKey {
            principal,
            request_id: &request.request_id,
            rpc,
            body_hash: body_hash(&request),
        };
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
        self.may_ever_write(principal)?;
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

/// The audit entry of one call about one record (a child, a framework, or none).
fn entry(
    principal: &Principal,
    action: &'static str,
    rpc: &'static str,
    record_id: &str,
) -> AuditEntry {
    AuditEntry {
        actor: principal.sub.clone(),
        roles: principal
            .roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(","),
        agency: principal.agency.clone(),
        action,
        rpc,
        record_id: record_id.to_owned(),
        classes: DataClass::Education.as_str().to_owned(),
    }
}

/// The request's hash, kept with its idempotency key so a reused key with another body is refused.
fn body_hash(message: &impl prost::Message) -> String {
    Sha256::digest(message.encode_to_vec())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn add_label(labels: &mut Vec<Label>, lang: &str, text: &str) {
    if !labels.iter().any(|l| l.lang == lang) {
        labels.push(Label {
            lang: lang.to_owned(),
            text: text.to_owned(),
        });
    }
}

fn titles_of(json: &str) -> Vec<Label> {
    serde_json::from_str::<BTreeMap<String, String>>(json)
        .unwrap_or_default()
        .into_iter()
        .map(|(lang, text)| Label { lang, text })
        .collect()
}

macro_rules! handle {
    ($self:ident, $request:ident, $method:ident) => {{
        let principal = $self.principal(&$request).await?;
        Ok(Response::new(
            $self.$method(&principal, $request.into_inner()).await?,
        ))
    }};
}

#[tonic::async_trait]
impl LearningRecords for LearningService {
    async fn import_framework(
        &self,
        request: Request<ImportFrameworkRequest>,
    ) -> Result<Response<ImportFrameworkResponse>, Status> {
        handle!(self, request, import_framework)
    }
    async fn get_framework(
        &self,
        request: Request<GetFrameworkRequest>,
    ) -> Result<Response<Framework>, Status> {
        handle!(self, request, get_framework)
    }
    async fn list_frameworks(
        &self,
        request: Request<ListFrameworksRequest>,
    ) -> Result<Response<ListFrameworksResponse>, Status> {
        handle!(self, request, list_frameworks)
    }
    async fn align_outcomes(
        &self,
        request: Request<AlignOutcomesRequest>,
    ) -> Result<Response<AlignOutcomesResponse>, Status> {
        handle!(self, request, align_outcomes)
    }
    async fn enrol_learner(
        &self,
        request: Request<EnrolLearnerRequest>,
    ) -> Result<Response<Enrolment>, Status> {
        handle!(self, request, enrol)
    }
    async fn update_enrolment(
        &self,
        request: Request<UpdateEnrolmentRequest>,
    ) -> Result<Response<Enrolment>, Status> {
        handle!(self, request, update_enrolment)
    }
    async fn list_enrolments(
        &self,
        request: Request<ListEnrolmentsRequest>,
    ) -> Result<Response<ListEnrolmentsResponse>, Status> {
        handle!(self, request, list_enrolments)
    }
    async fn record_learning(
        &self,
        request: Request<RecordLearningRequest>,
    ) -> Result<Response<LearningRecord>, Status> {
        handle!(self, request, record_learning)
    }
    async fn correct_learning_record(
        &self,
        request: Request<CorrectLearningRecordRequest>,
    ) -> Result<Response<CorrectLearningRecordResponse>, Status> {
        handle!(self, request, correct_record)
    }
    async fn list_learning_records(
        &self,
        request: Request<ListLearningRecordsRequest>,
    ) -> Result<Response<ListLearningRecordsResponse>, Status> {
        handle!(self, request, list_records)
    }
    async fn get_progress(
        &self,
        request: Request<GetProgressRequest>,
    ) -> Result<Response<Progress>, Status> {
        handle!(self, request, progress)
    }
    async fn issue_passport(
        &self,
        request: Request<IssuePassportRequest>,
    ) -> Result<Response<haven_proto::learning::Passport>, Status> {
        handle!(self, request, issue_passport)
    }
    async fn verify_passport(
        &self,
        request: Request<VerifyPassportRequest>,
    ) -> Result<Response<PassportVerification>, Status> {
        handle!(self, request, verify_passport)
    }
    async fn import_passport(
        &self,
        request: Request<ImportPassportRequest>,
    ) -> Result<Response<ImportPassportResponse>, Status> {
        handle!(self, request, import_passport)
    }
    async fn revoke_passport(
        &self,
        request: Request<RevokePassportRequest>,
    ) -> Result<Response<RevokePassportResponse>, Status> {
        handle!(self, request, revoke_passport)
    }
    async fn get_passport_status_list(
        &self,
        request: Request<GetPassportStatusListRequest>,
    ) -> Result<Response<PassportStatusList>, Status> {
        Ok(Response::new(
            self.status_list(&request.into_inner().list_id).await?,
        ))
    }
}
