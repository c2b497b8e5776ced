//! Referrals to partner agencies: the server checks the referrer's rights, the classes shared and the
//! child's consent; a partner sees only the shared classes of an accepted referral, and loses them on
//! the next call once the referral is revoked. A transfer hands the case over on acceptance.

use haven_platform::audit::log;
use haven_proto::common::DataClass;
use haven_proto::identity::list_referrals_request::Direction;
use haven_proto::identity::{
    Child, CreateReferralRequest, GetChildRequest, ListChildrenRequest, ListReferralsRequest,
    ReferralKind, ReferralStatus, TransitionReferralRequest,
};
use haven_tests::fixtures::{CANARY_ADDRESS, CANARY_PHONE, case_child, id_of, register, update};
use haven_tests::{TestSuite, authed};
use prost::Message as _;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tonic::Code;

fn consenting(given: &str) -> Child {
    let mut child = case_child(given, "Referred", false);
    if let Some(consent) = child.protection.as_mut().and_then(|p| p.consent.as_mut()) {
        consent.consent_for_services = true;
        consent.disclosure_to_other_orgs = true;
    }
    child
}

fn referral(
    child_id: &str,
    to: &str,
    kind: ReferralKind,
    classes: &[DataClass],
) -> CreateReferralRequest {
    CreateReferralRequest {
        request_id: uuid::Uuid::now_v7().to_string(),
        child_id: child_id.into(),
        to_agency: to.into(),
        service: "psychosocial support".into(),
        kind: kind as i32,
        shared_classes: classes.iter().map(|c| *c as i32).collect(),
        consent_override_reason: String::new(),
    }
}

fn move_to(id: &str, to: ReferralStatus) -> TransitionReferralRequest {
    TransitionReferralRequest {
        id: id.into(),
        to: to as i32,
    }
}

#[tokio::test]
async fn a_partner_sees_only_what_an_accepted_referral_shares_until_it_is_revoked() {
    let t = TestSuite::start().await;
    let mut client = t.client();
    let caseworker = t.token("caseworker", "cw-1", "agency-a");
    let partner = t.token("partner", "ngo-client", "ngo-1");
    let child = client
        .register_child(authed(&caseworker, register(consenting("Ifrah"))))
        .await
        .expect("r")
        .into_inner();
    let child_id = id_of(&child);
    let get = || GetChildRequest {
        id: child_id.clone(),
    };

    let status = client
        .get_child(authed(&partner, get()))
        .await
        .expect_err("not referred yet");
    assert_eq!(status.code(), Code::NotFound);

    let request = referral(
        &child_id,
        "ngo-1",
        ReferralKind::Service,
        &[DataClass::Identity, DataClass::Protection],
    );
    let created = client
        .create_referral(authed(&caseworker, request.clone()))
        .await
        .expect("referred")
        .into_inner();
    assert_eq!(created.status, ReferralStatus::Pending as i32);
    let retried = client
        .create_referral(authed(&caseworker, request))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(
        retried.id, created.id,
        "a retried create returns the first referral"
    );

    let status = client
        .get_child(authed(&partner, get()))
        .await
        .expect_err("pending shares nothing");
    assert_eq!(status.code(), Code::NotFound);
    let incoming = client
        .list_referrals(authed(
            &partner,
            ListReferralsRequest {
                direction: Direction::Incoming as i32,
                page: None,
            },
        ))
        .await
        .expect("incoming")
        .into_inner();
    assert_eq!(incoming.referrals.len(), 1);
    assert_eq!(incoming.referrals[0].child_id, child_id);

    client
        .transition_referral(authed(
            &partner,
            move_to(&created.id, ReferralStatus::Accepted),
        ))
        .await
        .expect("partner accepts");
    let view = client
        .get_child(authed(&partner, get()))
        .await
        .expect("shared")
        .into_inner();
    let seen = view.child.clone().expect("child");
    assert!(seen.identity.is_some() && seen.protection.is_some());
    assert!(seen.whereabouts.is_none(), "whereabouts were not shared");
    assert_eq!(view.withheld, vec![DataClass::Whereabouts as i32]);
    let bytes = view.encode_to_vec();
    for canary in [CANARY_PHONE, CANARY_ADDRESS] {
        assert!(!bytes.windows(canary.len()).any(|w| w == canary.as_bytes()));
    }
    let listed = client
        .list_children(authed(&partner, ListChildrenRequest::default()))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.children.len(), 1);
    let status = client
        .update_child(authed(
            &partner,
            update(&child_id, 1, &["protection.risk_level"], Child::default()),
        ))
        .await
        .expect_err("partners read only");
    assert_eq!(status.code(), Code::PermissionDenied);

    client
        .transition_referral(authed(
            &caseworker,
            move_to(&created.id, ReferralStatus::Revoked),
        ))
        .await
        .expect("referrer revokes");
    let status = client
        .get_child(authed(&partner, get()))
        .await
        .expect_err("revoked on the next call");
    assert_eq!(status.code(), Code::NotFound);
    let status = client
        .transition_referral(authed(
            &partner,
            move_to(&created.id, ReferralStatus::Accepted),
        ))
        .await
        .expect_err("a revoked referral stays revoked");
    assert_eq!(status.code(), Code::FailedPrecondition);
    t.stop().await;
}

#[tokio::test]
async fn consent_and_rights_are_checked_by_the_server() {
    let t = TestSuite::start().await;
    let mut client = t.client();
    let caseworker = t.token("caseworker", "cw-1", "agency-a");
    let supervisor = t.token("supervisor", "sup-1", "agency-a");
    let colleague = t.token("caseworker", "cw-2", "agency-a");
    let child = client
        .register_child(authed(
            &caseworker,
            register(case_child("Kaltun", "Noconsent", false)),
        ))
        .await
        .expect("r")
        .into_inner();
    let child_id = id_of(&child);
    let shared = [DataClass::Identity, DataClass::Protection];

    let status = client
        .create_referral(authed(
            &caseworker,
            referral(&child_id, "ngo-1", ReferralKind::Service, &shared),
        ))
        .await
        .expect_err("no disclosure consent");
    assert_eq!(status.code(), Code::FailedPrecondition);

    let mut overriding = referral(&child_id, "ngo-1", ReferralKind::Service, &shared);
    overriding.consent_override_reason = "immediate risk of harm; the child cannot be asked".into();
    let status = client
        .create_referral(authed(&caseworker, overriding.clone()))
        .await
        .expect_err("no permission");
    assert_eq!(status.code(), Code::PermissionDenied);
    let created = client
        .create_referral(authed(&supervisor, overriding))
        .await
        .expect("supervisor overrides")
        .into_inner();
    assert!(created.consent_overridden);
    let db = t.identity_db().await;
    let actions: Vec<String> = log::Entity::find()
        .filter(log::Column::RecordId.eq(child_id.clone()))
        .all(&db)
        .await
        .expect("audit")
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(
        actions.contains(&"refer-consent-override".to_string()),
        "{actions:?}"
    );

    let status = client
        .create_referral(authed(
            &colleague,
            referral(&child_id, "ngo-1", ReferralKind::Service, &shared),
        ))
        .await
        .expect_err("not the colleague's case");
    assert_eq!(status.code(), Code::NotFound);
    let status = client
        .create_referral(authed(
            &caseworker,
            referral(
                &child_id,
                "ngo-1",
                ReferralKind::Service,
                &[DataClass::Identity, DataClass::Tracing],
            ),
        ))
        .await
        .expect_err("tracing is not the identity service's to share");
    assert_eq!(status.code(), Code::InvalidArgument);
    for role in [
        "educator",
        "partner",
        "reunification_officer",
        "lms",
        "auditor",
        "admin",
    ] {
        let token = t.token(role, "someone", "agency-a");
        let status = client
            .create_referral(authed(
                &token,
                referral(&child_id, "ngo-1", ReferralKind::Service, &shared),
            ))
            .await
            .expect_err("role may not refer");
        assert_eq!(status.code(), Code::PermissionDenied, "{role}");
    }
    t.stop().await;
}

#[tokio::test]
async fn accepting_a_transfer_hands_the_case_over() {
    let t = TestSuite::start().await;
    let mut client = t.client();
    let sender = t.token("caseworker", "cw-a", "agency-a");
    let receiver = t.token("caseworker", "cw-b", "agency-b");
    let child = client
        .register_child(authed(&sender, register(consenting("Sagal"))))
        .await
        .expect("r")
        .into_inner();
    let child_id = id_of(&child);
    let all = [
        DataClass::Identity,
        DataClass::Whereabouts,
        DataClass::Protection,
    ];
    let transfer = client
        .create_referral(authed(
            &sender,
            referral(&child_id, "agency-b", ReferralKind::Transfer, &all),
        ))
        .await
        .expect("transfer")
        .into_inner();
    client
        .transition_referral(authed(
            &receiver,
            move_to(&transfer.id, ReferralStatus::Accepted),
        ))
        .await
        .expect("accepted");
    let view = client
        .get_child(authed(
            &receiver,
            GetChildRequest {
                id: child_id.clone(),
            },
        ))
        .await
        .expect("now theirs")
        .into_inner();
    let meta = view.child.and_then(|c| c.meta).expect("meta");
    assert_eq!(
        (meta.owner.as_str(), meta.agency.as_str()),
        ("cw-b", "agency-b")
    );
    let status = client
        .get_child(authed(&sender, GetChildRequest { id: child_id }))
        .await
        .expect_err("the sender no longer owns it");
    assert_eq!(status.code(), Code::NotFound);
    t.stop().await;
}
