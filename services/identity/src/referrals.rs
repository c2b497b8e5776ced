//! Referrals and transfers of a case to a partner agency: who may refer, what may be shared, consent,
//! and the referral's states (pending -> accepted | rejected; accepted -> done; pending | accepted ->
//! revoked). Access control reads accepted referrals as the partner scope.

use haven_authz::{ClassSet, DataClass, Permission, Principal, Role};
use haven_platform::ServiceError;
use haven_platform::idempotency::{self, IdempotencyKey};
use haven_proto::common::DataClass as WireClass;
use haven_proto::identity::list_referrals_request::Direction;
use haven_proto::identity::{
    CreateReferralRequest, ListReferralsRequest, ListReferralsResponse, Referral, ReferralKind,
    ReferralStatus, TransitionReferralRequest,
};
use sea_orm::{ColumnTrait, Condition};

use crate::entity::referral;
use crate::record::{
    CHILD_CLASSES, class_list, now_micros, parse_class_list, timestamp, wire_class,
};
use crate::service::{IdentityService, decode_cursor, encode_cursor};
use crate::store::{REFERRAL_ACCEPTED, REFERRAL_REVOKED, ReferralCreated};
use crate::validate;

const RPC_CREATE: &str = "/haven.identity.v1.ChildIdentity/CreateReferral";
const RPC_TRANSITION: &str = "/haven.identity.v1.ChildIdentity/TransitionReferral";
const RPC_LIST: &str = "/haven.identity.v1.ChildIdentity/ListReferrals";

const PENDING: &str = "pending";
const REJECTED: &str = "rejected";
const DONE: &str = "done";

fn status_name(status: ReferralStatus) -> Option<&'static str> {
    match status {
        ReferralStatus::Pending => Some(PENDING),
        ReferralStatus::Accepted => Some(REFERRAL_ACCEPTED),
        ReferralStatus::Rejected => Some(REJECTED),
        ReferralStatus::Done => Some(DONE),
        ReferralStatus::Revoked => Some(REFERRAL_REVOKED),
        ReferralStatus::Unspecified => None,
    }
}

fn status_of(name: &str) -> ReferralStatus {
    [
        ReferralStatus::Pending,
        ReferralStatus::Accepted,
        ReferralStatus::Rejected,
        ReferralStatus::Done,
        ReferralStatus::Revoked,
    ]
    .into_iter()
    .find(|s| status_name(*s) == Some(name))
    .unwrap_or(ReferralStatus::Unspecified)
}

/// The referral as the wire shows it.
pub(crate) fn to_wire(row: &referral::Model) -> Referral {
    Referral {
        id: row.id.clone(),
        child_id: row.child_id.clone(),
        from_agency: row.from_agency.clone(),
        to_agency: row.to_agency.clone(),
        service: row.service.clone(),
        kind: match row.kind.as_str() {
            "transfer" => ReferralKind::Transfer as i32,
            referral::EDUCATION => ReferralKind::Education as i32,
            _ => ReferralKind::Service as i32,
        },
        shared_classes: parse_class_list(&row.shared_classes)
            .iter()
            .map(|c| wire_class(c) as i32)
            .collect(),
        status: status_of(&row.status) as i32,
        consent_overridden: row.consent_overridden,
        created_at: Some(timestamp(row.created_at_us)),
        created_by: row.created_by.clone(),
        updated_at: Some(timestamp(row.updated_at_us)),
        updated_by: row.updated_by.clone(),
    }
}

fn classes_from_wire(classes: &[i32]) -> Result<ClassSet, ServiceError> {
    let mut set = ClassSet::EMPTY;
    for (i, class) in classes.iter().enumerate() {
        let class = match WireClass::try_from(*class) {
            Ok(WireClass::Identity) => DataClass::Identity,
            Ok(WireClass::Whereabouts) => DataClass::Whereabouts,
            Ok(WireClass::Protection) => DataClass::Protection,
            _ => {
                return Err(ServiceError::invalid(
                    format!("shared_classes[{i}]"),
                    "must be identity, whereabouts or protection",
                ));
            }
        };
        set = set.union(ClassSet::of(&[class]));
    }
    if set.is_empty() {
        return Err(ServiceError::invalid(
            "shared_classes",
            "must name at least one class",
        ));
    }
    Ok(set)
}

fn agency_name(field: &str, value: &str) -> Result<(), ServiceError> {
    if value.trim().is_empty() || value.len() > 128 {
        return Err(ServiceError::invalid(field, "must be 1 to 128 characters"));
    }
    Ok(())
}

impl IdentityService {
    pub(crate) async fn create_referral_for(
        &self,
        principal: &Principal,
        request: CreateReferralRequest,
    ) -> Result<Referral, ServiceError> {
        validate::request_id(&request.request_id).map_err(ServiceError::InvalidArgument)?;
        validate::record_id("child_id", &request.child_id)
            .map_err(ServiceError::InvalidArgument)?;
        agency_name("to_agency", &request.to_agency)?;
        let kind = match ReferralKind::try_from(request.kind) {
            Ok(ReferralKind::Service) => "service",
            Ok(ReferralKind::Transfer) => "transfer",
            Ok(ReferralKind::Education) => referral::EDUCATION,
            _ => {
                return Err(ServiceError::invalid(
                    "kind",
                    "must be SERVICE, TRANSFER or EDUCATION",
                ));
            }
        };
        let education = kind == referral::EDUCATION;
        // A school may belong to the referrer's own organisation: educators never reach a case through
        // their agency alone, only through a placement.
        if request.to_agency == principal.agency && !education {
            return Err(ServiceError::invalid("to_agency", "must be another agency"));
        }
        if request.service.trim().is_empty() || request.service.chars().count() > 200 {
            return Err(ServiceError::invalid(
                "service",
                "must be 1 to 200 characters",
            ));
        }
        let shared = classes_from_wire(&request.shared_classes)?;
        if education && shared != ClassSet::of(&[DataClass::Identity]) {
            return Err(ServiceError::invalid(
                "shared_classes",
                "an education referral shares identity only",
            ));
        }
        let override_reason = request.consent_override_reason.trim().to_owned();
        if !override_reason.is_empty() && !(10..=2000).contains(&override_reason.chars().count()) {
            return Err(ServiceError::invalid(
                "consent_override_reason",
                "must be 10 to 2000 characters",
            ));
        }
        let may_override = self
            .policy
            .has_permission(principal, Permission::ConsentOverride);
        // The audit action must be known before the transaction (its entry takes the chain lock): an
        // override is announced by the reason, and checked against the child's consent inside.
        let overriding = !override_reason.is_empty();
        if overriding && !may_override {
            return Err(ServiceError::PermissionDenied(
                "a referral without the child's consent needs the consent_override permission"
                    .into(),
            ));
        }
        let body_hash = idempotency::body_hash(&request, |r| &mut r.request_id);
        let key = IdempotencyKey::new(
            principal,
            &request.request_id,
            RPC_CREATE,
            body_hash.clone(),
        );
        let id = uuid::Uuid::now_v7().to_string();
        let action = if overriding {
            "refer-consent-override"
        } else {
            "refer"
        };
        let entry = Self::entry(principal, action, RPC_CREATE, &request.child_id, shared);
        let policy = self.policy.clone();
        let now = now_micros();
        let outcome = self
            .store
            .create_referral(&request.child_id, &key, entry, |child| {
                let access = policy
                    .access(principal, &child.attrs())
                    .restricted_to(CHILD_CLASSES);
                if !access.is_visible() {
                    return Err(ServiceError::NotFound("child"));
                }
                if !access.write.contains(DataClass::Protection) {
                    return Err(ServiceError::PermissionDenied(
                        "your role may not refer this case".into(),
                    ));
                }
                if !shared.difference(access.read).is_empty() {
                    return Err(ServiceError::PermissionDenied(
                        "shared_classes may not exceed what you may read of this child".into(),
                    ));
                }
                let consent = child
                    .decode_only(ClassSet::of(&[DataClass::Protection]))?
                    .protection
                    .and_then(|p| p.consent)
                    .unwrap_or_default();
                let consented = consent.consent_for_services && consent.disclosure_to_other_orgs;
                if !consented && !overriding {
                    return Err(ServiceError::FailedPrecondition(
                        "the child's consent does not cover this referral: it needs \
                             consent_for_services and disclosure_to_other_orgs, or a \
                             consent_override_reason from a caller with consent_override"
                            .into(),
                    ));
                }
                if consented && overriding {
                    return Err(ServiceError::invalid(
                        "consent_override_reason",
                        "must be empty when the child's consent covers the referral",
                    ));
                }
                Ok(referral::Model {
                    id: id.clone(),
                    child_id: request.child_id.clone(),
                    from_agency: principal.agency.clone(),
                    to_agency: request.to_agency.clone(),
                    service: request.service.trim().to_owned(),
                    kind: kind.into(),
                    shared_classes: class_list(shared),
                    // Educators never see referrals, so a placement is in force from the start.
                    status: if education {
                        REFERRAL_ACCEPTED.into()
                    } else {
                        PENDING.into()
                    },
                    consent_overridden: overriding,
                    override_reason: override_reason.clone(),
                    request_id: request.request_id.clone(),
                    body_hash: body_hash.clone(),
                    created_at_us: now,
                    created_by: principal.sub.clone(),
                    updated_at_us: now,
                    updated_by: principal.sub.clone(),
                })
            })
            .await?;
        match outcome {
            ReferralCreated::Created(row) | ReferralCreated::Replayed(row) => Ok(to_wire(&row)),
            ReferralCreated::KeyReused => Err(idempotency::key_reused("referral")),
        }
    }

    pub(crate) async fn transition_referral_for(
        &self,
        principal: &Principal,
        request: TransitionReferralRequest,
    ) -> Result<Referral, ServiceError> {
        validate::record_id("id", &request.id).map_err(ServiceError::InvalidArgument)?;
        let target = ReferralStatus::try_from(request.to)
            .ok()
            .filter(|s| !matches!(s, ReferralStatus::Unspecified | ReferralStatus::Pending))
            .ok_or_else(|| {
                ServiceError::invalid("to", "must be ACCEPTED, REJECTED, DONE or REVOKED")
            })?;
        let row = self
            .store
            .referral(&request.id)
            .await?
            .ok_or(ServiceError::NotFound("referral"))?;
        let receiving = row.to_agency == principal.agency
            && [Role::Partner, Role::Caseworker, Role::Supervisor]
                .iter()
                .any(|r| principal.has_role(*r));
        let referring = row.from_agency == principal.agency
            && (row.created_by == principal.sub || principal.has_role(Role::Supervisor));
        if !receiving && !referring {
            return Err(ServiceError::NotFound("referral"));
        }
        let from = row.status.as_str();
        let placement = row.kind == referral::EDUCATION;
        let legal = match target {
            // A placement with a school is in force from the start; only its referrer ends it.
            _ if placement => {
                target == ReferralStatus::Revoked && referring && from == REFERRAL_ACCEPTED
            }
            ReferralStatus::Accepted | ReferralStatus::Rejected => receiving && from == PENDING,
            ReferralStatus::Done => receiving && from == REFERRAL_ACCEPTED,
            ReferralStatus::Revoked => referring && (from == PENDING || from == REFERRAL_ACCEPTED),
            ReferralStatus::Pending | ReferralStatus::Unspecified => false,
        };
        if !legal {
            return Err(ServiceError::FailedPrecondition(format!(
                "a {from} referral cannot be moved to {} by your side",
                status_name(target).unwrap_or("that state")
            )));
        }
        let to = status_name(target).unwrap_or(PENDING);
        let transfer_to = (target == ReferralStatus::Accepted && row.kind == "transfer")
            .then(|| (principal.sub.clone(), principal.agency.clone()));
        let entry = Self::entry(
            principal,
            "referral-transition",
            RPC_TRANSITION,
            &row.child_id,
            parse_class_list(&row.shared_classes),
        );
        let moved = self
            .store
            .transition_referral(&row.id, from, to, &principal.sub, transfer_to, entry)
            .await?;
        Ok(to_wire(&moved))
    }

    pub(crate) async fn list_referrals_for(
        &self,
        principal: &Principal,
        request: ListReferralsRequest,
    ) -> Result<ListReferralsResponse, ServiceError> {
        let page = request.page.unwrap_or_default();
        let size = haven_platform::paging::page_size(&page, 25, 100)?;
        let after = decode_cursor(&page.page_token)?;
        let condition = match Direction::try_from(request.direction) {
            Ok(Direction::Incoming) => {
                Condition::all().add(referral::Column::ToAgency.eq(principal.agency.clone()))
            }
            Ok(Direction::Outgoing) => {
                let mine =
                    Condition::all().add(referral::Column::FromAgency.eq(principal.agency.clone()));
                // A caseworker sees the referrals they made; a supervisor, their agency's.
                if principal.has_role(Role::Supervisor) {
                    mine
                } else {
                    mine.add(referral::Column::CreatedBy.eq(principal.sub.clone()))
                }
            }
            _ => {
                return Err(ServiceError::invalid(
                    "direction",
                    "must be INCOMING or OUTGOING",
                ));
            }
        };
        let mut rows = self
            .store
            .referrals_page(condition, after.as_deref(), u64::from(size) + 1)
            .await?;
        let next_page_token =
            haven_platform::paging::finish_page(&mut rows, size, |r| encode_cursor(&r.id));
        let entries = rows
            .iter()
            .map(|row| {
                Self::entry(
                    principal,
                    "list-referrals",
                    RPC_LIST,
                    &row.child_id,
                    ClassSet::of(&[DataClass::Protection]),
                )
            })
            .collect();
        self.audit.record(entries).await?;
        Ok(ListReferralsResponse {
            referrals: rows.iter().map(to_wire).collect(),
            next_page_token,
        })
    }
}
