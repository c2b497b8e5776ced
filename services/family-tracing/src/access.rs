//! Every access decision of the RPCs: a tracing request is decided on its owner and agency (class
//! `tracing`), a match candidate's identity on the consenting child's record (class `identity`). Which
//! roles may call an RPC at all is the rule table's (`haven_authz::rules`), checked by the auth layer
//! before any handler runs.

use haven_authz::{Access, ClassSet, DataClass, Principal, RecordAttrs, Scope};
use haven_platform::ServiceError;

use crate::entity::{child_profile, tracing_request};
use crate::service::FamilyTracingService;
use crate::validate::{self, Violations};

const TRACING: ClassSet = ClassSet::of(&[DataClass::Tracing]);

/// What a handler means to do with a request it loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    Read,
    Write,
}

/// A set of tracing requests a caller's grant covers; a list shows their union.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RequestScope {
    Own { owner: String, agency: String },
    Agency(String),
    All,
}

impl FamilyTracingService {
    fn access(&self, principal: &Principal, owner: &str, agency: &str) -> Access {
        let attrs = RecordAttrs {
            owner,
            agency,
            consent_for_tracing: false,
            affiliations: &[],
            referrals: &[],
            break_glass: &[],
            assignees: &[],
            team: None,
            locations: &[],
        };
        self.policy.access(principal, &attrs).restricted_to(TRACING)
    }

    /// Whether the caller may file a request of its own (it would own it, in its agency).
    pub(crate) fn may_file(&self, principal: &Principal) -> Result<(), ServiceError> {
        if self
            .access(principal, &principal.sub, &principal.agency)
            .write
            .contains(DataClass::Tracing)
        {
            Ok(())
        } else {
            Err(ServiceError::PermissionDenied(
                "your role may not file tracing requests".into(),
            ))
        }
    }

    /// Whether the caller may read `row`: family links and alerts are tracing data of their request,
    /// shown only to those who may read it.
    pub(crate) fn may_read_request(
        &self,
        principal: &Principal,
        row: &tracing_request::Model,
    ) -> bool {
        self.access(principal, &row.owner, &row.agency)
            .read
            .contains(DataClass::Tracing)
    }

    /// Loads a request the caller may read (and, with [`Need::Write`], write); anything else is
    /// NOT_FOUND, so a caller learns nothing of requests it may not see.
    pub(crate) async fn load(
        &self,
        principal: &Principal,
        id: &str,
        need: Need,
    ) -> Result<tracing_request::Model, ServiceError> {
        let mut v = Violations::default();
        validate::required_id(&mut v, "id", id);
        validate::invalid(v)?;
        let row = self
            .store
            .request(id)
            .await?
            .ok_or(ServiceError::NotFound("tracing request"))?;
        let access = self.access(principal, &row.owner, &row.agency);
        if !access.read.contains(DataClass::Tracing) {
            return Err(ServiceError::NotFound("tracing request"));
        }
        if need == Need::Write && !access.write.contains(DataClass::Tracing) {
            return Err(ServiceError::PermissionDenied(
                "you may read this tracing request but not change it".into(),
            ));
        }
        Ok(row)
    }

    /// The list twin of the read decision: the scopes a tracing grant can use on a request. Empty
    /// when no grant covers any request.
    pub(crate) fn visible_requests(&self, principal: &Principal) -> Vec<RequestScope> {
        let mut scopes = Vec::new();
        for grant in self.policy.grants_of(principal) {
            if !grant.read.contains(DataClass::Tracing) {
                continue;
            }
            scopes.push(match grant.scope {
                Scope::Own => RequestScope::Own {
                    owner: principal.sub.clone(),
                    agency: principal.agency.clone(),
                },
                Scope::Agency => RequestScope::Agency(principal.agency.clone()),
                Scope::All => RequestScope::All,
                // Assignment, team, location, affiliation, referral and break-glass scopes describe
                // children, not tracing requests: they cover none.
                _ => continue,
            });
        }
        scopes
    }

    /// Whether a match candidate's identity fields are shown: only where the caller's own policy
    /// shows them on the consenting child (officers: consenting children of any agency; others:
    /// their own agency's).
    pub(crate) fn may_see_candidate(
        &self,
        principal: &Principal,
        profile: &child_profile::Model,
    ) -> bool {
        let consenting = RecordAttrs {
            owner: &profile.owner,
            agency: &profile.agency,
            consent_for_tracing: true,
            affiliations: &[],
            referrals: &[],
            break_glass: &[],
            assignees: &[],
            team: None,
            locations: &[],
        };
        self.policy
            .access(principal, &consenting)
            .read
            .contains(DataClass::Identity)
    }
}
