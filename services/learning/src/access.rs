//! Access decisions of the learning service: what a role can never do, and what the caller may do with
//! one learner.
//!
//! Who may do what. The coarse part (which roles may call an RPC at all) is the rule table in
//! `haven_authz::rules`, checked before a handler runs, at the gateway and again by this service's auth
//! layer; what follows decides per learner.
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

use haven_authz::{ClassSet, DataClass, Principal, RecordAttrs, Role};
use haven_platform::ServiceError;

use crate::service::LearningService;
use crate::store::Learner;
use crate::validate;

const EDUCATION: ClassSet = ClassSet::of(&[DataClass::Education]);

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

impl LearningService {
    // --- coarse refusals beyond the rule table (checked before any handler, by the auth layer) ---

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
}
