//! Partner webhooks, end to end through the gateway: a partner subscribes, and a receiver (a small hyper
//! server) gets signed deliveries of the children referred to its agency, and of no other child, that
//! carry ids and versions only. Rotation, replay, a receiver that is down for a while and a Haven
//! restart in the middle of the retries; every role against every PartnerFeed RPC.

use std::collections::BTreeSet;
use std::time::Duration;

use haven_platform::config::WebhooksConfig;
use haven_proto::common::DataClass;
use haven_proto::identity::{
    Child, CreateReferralRequest, CreateWebhookSubscriptionRequest, CreatedWebhookSubscription,
    DeleteWebhookSubscriptionRequest, GetWebhookSubscriptionRequest, ListAuditEntriesRequest,
    ListChangesRequest, ListWebhookDeliveriesRequest, ListWebhookSubscriptionsRequest,
    ReferralKind, ReferralStatus, ReplayWebhookDeliveryRequest, RotateWebhookSecretRequest,
    TransitionReferralRequest, WebhookDelivery, WebhookDeliveryStatus,
};
use haven_tests::fixtures::{
    CANARY_ADDRESS, CANARY_PHONE, case_child, id_of, register, update, whereabouts,
};
use haven_tests::webhook_receiver::{Receiver, verify};
use haven_tests::{Options, TestSuite, authed};
use tonic::Code;

const ALL_TYPES: [&str; 3] = ["child.changed", "child.erased", "child.merged"];
/// How long a test waits for what must arrive before it fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(90);

fn consenting(given: &str) -> Child {
    let mut child = case_child(given, "Hooked", false);
    if let Some(consent) = child.protection.as_mut().and_then(|p| p.consent.as_mut()) {
        consent.consent_for_services = true;
        consent.disclosure_to_other_orgs = true;
    }
    child
}

fn subscribe(url: &str) -> CreateWebhookSubscriptionRequest {
    CreateWebhookSubscriptionRequest {
        request_id: uuid::Uuid::now_v7().to_string(),
        url: url.into(),
        event_types: ALL_TYPES.iter().map(|t| t.to_string()).collect(),
    }
}

/// A registered child of caseworker cw-1 at agency-a, and its version.
async fn registered(t: &TestSuite, child: Child) -> (String, i64) {
    let view = t
        .client()
        .register_child(authed(
            &t.token("caseworker", "cw-1", "agency-a"),
            register(child),
        ))
        .await
        .expect("registered")
        .into_inner();
    let version = view
        .child
        .as_ref()
        .and_then(|c| c.meta.as_ref())
        .map_or(0, |m| m.version);
    (id_of(&view), version)
}

/// Refers the child to `agency` (sharing identity), and has the agency's partner client accept when
/// `accept`. Returns the referral id.
async fn refer(t: &TestSuite, child_id: &str, agency: &str, accept: bool) -> String {
    let referral = t
        .client()
        .create_referral(authed(
            &t.token("caseworker", "cw-1", "agency-a"),
            CreateReferralRequest {
                request_id: uuid::Uuid::now_v7().to_string(),
                child_id: child_id.into(),
                to_agency: agency.into(),
                service: "case management".into(),
                kind: ReferralKind::Service as i32,
                shared_classes: vec![DataClass::Identity as i32],
                consent_override_reason: String::new(),
            },
        ))
        .await
        .expect("referred")
        .into_inner();
    if accept {
        move_referral(
            t,
            &referral.id,
            ReferralStatus::Accepted,
            &t.token("partner", "client-x", agency),
        )
        .await;
    }
    referral.id
}

async fn move_referral(t: &TestSuite, id: &str, to: ReferralStatus, token: &str) {
    t.client()
        .transition_referral(authed(
            token,
            TransitionReferralRequest {
                id: id.into(),
                to: to as i32,
            },
        ))
        .await
        .expect("referral moved");
}

/// Changes the child's whereabouts (protected data the partner must never receive); returns the new
/// version.
async fn touch(t: &TestSuite, child_id: &str, version: i64) -> i64 {
    let mut child = consenting("Unused");
    let mut place = whereabouts();
    place.caregiver_relation = format!("relation {version}");
    child.whereabouts = Some(place);
    t.client()
        .update_child(authed(
            &t.token("caseworker", "cw-1", "agency-a"),
            update(child_id, version, &["whereabouts"], child),
        ))
        .await
        .expect("updated")
        .into_inner()
        .child
        .and_then(|c| c.meta)
        .map_or(0, |m| m.version)
}

async fn deliveries(t: &TestSuite, token: &str, subscription_id: &str) -> Vec<WebhookDelivery> {
    t.partner_feed()
        .list_webhook_deliveries(authed(
            token,
            ListWebhookDeliveriesRequest {
                subscription_id: subscription_id.into(),
                page: None,
            },
        ))
        .await
        .expect("delivery log")
        .into_inner()
        .deliveries
}

/// Waits until the delivery log holds `count` entries that satisfy `ready`.
async fn log_reaches(
    t: &TestSuite,
    token: &str,
    subscription_id: &str,
    count: usize,
    ready: impl Fn(&WebhookDelivery) -> bool,
) -> Vec<WebhookDelivery> {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let log = deliveries(t, token, subscription_id).await;
            if log.iter().filter(|d| ready(d)).count() >= count {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("the delivery log fills")
}

async fn subscribed(t: &TestSuite, token: &str, url: &str) -> CreatedWebhookSubscription {
    t.partner_feed()
        .create_webhook_subscription(authed(token, subscribe(url)))
        .await
        .expect("subscribed")
        .into_inner()
}

#[tokio::test]
async fn a_partner_gets_signed_deliveries_of_its_referred_children_only_and_no_child_data() {
    let t = TestSuite::start().await;
    let partner = t.token("partner", "ngo-1-client", "ngo-1");
    let other = t.token("partner", "ngo-2-client", "ngo-2");
    let receiver = Receiver::start().await;
    let other_receiver = Receiver::start().await;

    let request = subscribe(&receiver.url());
    let created = t
        .partner_feed()
        .create_webhook_subscription(authed(&partner, request.clone()))
        .await
        .expect("subscribed")
        .into_inner();
    let retried = t
        .partner_feed()
        .create_webhook_subscription(authed(&partner, request))
        .await
        .expect("retried")
        .into_inner();
    let subscription = created.subscription.clone().expect("subscription");
    assert_eq!(
        retried.subscription.map(|s| s.id),
        Some(subscription.id.clone()),
        "a retried create answers the first subscription"
    );
    assert_eq!(retried.secret, created.secret);
    let listed = t
        .partner_feed()
        .list_webhook_subscriptions(authed(&partner, ListWebhookSubscriptionsRequest::default()))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.subscriptions.len(), 1, "one subscription, not two");
    let other_subscription = subscribed(&t, &other, &other_receiver.url()).await;
    let other_id = other_subscription.subscription.expect("s").id;

    // Referred and accepted: delivered.
    let (shared, v) = registered(&t, consenting("Amina")).await;
    refer(&t, &shared, "ngo-1", true).await;
    let shared_v2 = touch(&t, &shared, v).await;
    // Referred, never accepted: nothing.
    let (pending, v) = registered(&t, consenting("Bahati")).await;
    refer(&t, &pending, "ngo-1", false).await;
    touch(&t, &pending, v).await;
    // No consent to refer: the referral is refused, and nothing is delivered.
    let (unconsented, v) = registered(&t, case_child("Chausiku", "Hooked", false)).await;
    let refused = t
        .client()
        .create_referral(authed(
            &t.token("caseworker", "cw-1", "agency-a"),
            CreateReferralRequest {
                request_id: uuid::Uuid::now_v7().to_string(),
                child_id: unconsented.clone(),
                to_agency: "ngo-1".into(),
                service: "case management".into(),
                kind: ReferralKind::Service as i32,
                shared_classes: vec![DataClass::Identity as i32],
                consent_override_reason: String::new(),
            },
        ))
        .await
        .expect_err("no consent");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    touch(&t, &unconsented, v).await;
    // Referred, accepted, then revoked: nothing after the revocation.
    let (ended, v) = registered(&t, consenting("Dalila")).await;
    let ended_referral = refer(&t, &ended, "ngo-1", true).await;
    move_referral(
        &t,
        &ended_referral,
        ReferralStatus::Revoked,
        &t.token("caseworker", "cw-1", "agency-a"),
    )
    .await;
    touch(&t, &ended, v).await;
    // The last event: once it is delivered, the fan-out has passed every event before it.
    let shared_v3 = touch(&t, &shared, shared_v2).await;

    let calls = receiver.distinct(2, PATIENCE).await;
    let log = log_reaches(&t, &partner, &subscription.id, 2, |d| {
        d.status == WebhookDeliveryStatus::Delivered as i32
    })
    .await;
    assert_eq!(
        log.len(),
        2,
        "two events of the referred child, nothing else: {log:?}"
    );
    let mut versions = BTreeSet::new();
    for call in calls.values() {
        assert!(verify(&created.secret, call), "the signature verifies");
        let body = call.json();
        assert_eq!(body["type"], "child.changed");
        assert_eq!(body["data"]["child_id"], shared.as_str());
        versions.insert(body["data"]["version"].as_i64().unwrap_or_default());
        let text = String::from_utf8_lossy(&call.body).into_owned();
        for secret in [
            "Amina",
            "Hooked",
            CANARY_ADDRESS,
            CANARY_PHONE,
            "agency-a",
            "cw-1",
        ] {
            assert!(!text.contains(secret), "{secret} leaked into {text}");
        }
        assert!(
            log.iter().any(|d| d.id == call.id),
            "webhook-id is the delivery's id in the log"
        );
    }
    assert_eq!(versions, BTreeSet::from([shared_v2, shared_v3]));
    assert!(
        receiver.calls().iter().all(|c| calls.contains_key(&c.id)),
        "no other call reached the receiver"
    );

    // Each delivery is in the audit log, in the partner client's name.
    let audited =
        haven_proto::identity::identity_audit_client::IdentityAuditClient::new(t.channel())
            .list_audit_entries(authed(
                &t.token("auditor", "auditor-1", "agency-a"),
                ListAuditEntriesRequest {
                    record_id: shared.clone(),
                    ..ListAuditEntriesRequest::default()
                },
            ))
            .await
            .expect("audit log")
            .into_inner();
    let delivered_to: Vec<(&str, &str)> = audited
        .entries
        .iter()
        .filter(|e| e.action == "webhook-delivered")
        .map(|e| (e.actor.as_str(), e.agency.as_str()))
        .collect();
    assert_eq!(delivered_to, vec![("ngo-1-client", "ngo-1"); 2]);

    // Another agency's partner sees nothing of ngo-1's child, nor of its subscription.
    assert!(deliveries(&t, &other, &other_id).await.is_empty());
    assert!(other_receiver.calls().is_empty());
    let changes = t
        .partner_feed()
        .list_changes(authed(&other, ListChangesRequest::default()))
        .await
        .expect("changes")
        .into_inner();
    assert!(changes.changes.is_empty());
    for status in [
        t.partner_feed()
            .get_webhook_subscription(authed(
                &other,
                GetWebhookSubscriptionRequest {
                    id: subscription.id.clone(),
                },
            ))
            .await
            .expect_err("not theirs"),
        t.partner_feed()
            .replay_webhook_delivery(authed(
                &other,
                ReplayWebhookDeliveryRequest {
                    id: log[0].id.clone(),
                },
            ))
            .await
            .expect_err("not theirs"),
        t.partner_feed()
            .list_webhook_deliveries(authed(
                &other,
                ListWebhookDeliveriesRequest {
                    subscription_id: subscription.id.clone(),
                    page: None,
                },
            ))
            .await
            .expect_err("not theirs"),
    ] {
        assert_eq!(status.code(), Code::NotFound);
    }
    t.stop().await;
}

#[tokio::test]
async fn subscriptions_refuse_bad_urls_and_event_types_naming_the_field() {
    let t = TestSuite::start().await;
    let partner = t.token("partner", "ngo-1-client", "ngo-1");
    for (url, types, field) in [
        ("file:///etc/passwd", vec!["child.changed"], "url"),
        ("ftp://hooks.example.org/", vec!["child.changed"], "url"),
        (
            "http://user:pw@hooks.example.org/",
            vec!["child.changed"],
            "url",
        ),
        ("", vec!["child.changed"], "url"),
        ("http://hooks.example.org/", vec![], "event_types"),
        (
            "http://hooks.example.org/",
            vec!["child.read"],
            "event_types[0]",
        ),
    ] {
        let status = t
            .partner_feed()
            .create_webhook_subscription(authed(
                &partner,
                CreateWebhookSubscriptionRequest {
                    request_id: uuid::Uuid::now_v7().to_string(),
                    url: url.into(),
                    event_types: types.iter().map(|t| t.to_string()).collect(),
                },
            ))
            .await
            .expect_err("refused");
        assert_eq!(status.code(), Code::InvalidArgument, "{url} {types:?}");
        let details =
            tonic_types::StatusExt::get_details_bad_request(&status).expect("field named");
        assert_eq!(details.field_violations[0].field, field);
    }
    let listed = t
        .partner_feed()
        .list_webhook_subscriptions(authed(&partner, ListWebhookSubscriptionsRequest::default()))
        .await
        .expect("list")
        .into_inner();
    assert!(listed.subscriptions.is_empty(), "nothing was written");
    t.stop().await;
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_old_one_and_replay_keeps_the_webhook_id() {
    let t = TestSuite::start().await;
    let partner = t.token("partner", "ngo-1-client", "ngo-1");
    let receiver = Receiver::start().await;
    let created = subscribed(&t, &partner, &receiver.url()).await;
    let subscription_id = created.subscription.clone().expect("s").id;
    let (child, v) = registered(&t, consenting("Esi")).await;
    refer(&t, &child, "ngo-1", true).await;
    let v = touch(&t, &child, v).await;
    let first = receiver.distinct(1, PATIENCE).await;
    let first_call = first.values().next().expect("a call").clone();
    assert!(verify(&created.secret, &first_call));

    let rotated = t
        .partner_feed()
        .rotate_webhook_secret(authed(
            &partner,
            RotateWebhookSecretRequest {
                id: subscription_id.clone(),
            },
        ))
        .await
        .expect("rotated")
        .into_inner();
    assert_ne!(rotated.secret, created.secret);
    assert!(
        rotated
            .subscription
            .as_ref()
            .and_then(|s| s.previous_secret_expires_at.as_ref())
            .is_some(),
        "the old secret's grace period shows"
    );
    let fetched = t
        .partner_feed()
        .get_webhook_subscription(authed(
            &partner,
            GetWebhookSubscriptionRequest {
                id: subscription_id.clone(),
            },
        ))
        .await
        .expect("get")
        .into_inner();
    assert_eq!(fetched.id, subscription_id, "reads never carry the secret");
    touch(&t, &child, v).await;
    let both = receiver.distinct(2, PATIENCE).await;
    let second = both
        .values()
        .find(|c| c.id != first_call.id)
        .expect("the second delivery");
    assert!(verify(&rotated.secret, second), "the new secret verifies");
    assert!(
        verify(&created.secret, second),
        "so does the old one, during the grace period"
    );
    assert!(!verify(
        "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        second
    ));

    let replayed = t
        .partner_feed()
        .replay_webhook_delivery(authed(
            &partner,
            ReplayWebhookDeliveryRequest {
                id: first_call.id.clone(),
            },
        ))
        .await
        .expect("replayed")
        .into_inner();
    assert_eq!(replayed.status, WebhookDeliveryStatus::Pending as i32);
    let again = tokio::time::timeout(PATIENCE, async {
        loop {
            let calls = receiver.calls();
            if calls.iter().filter(|c| c.id == first_call.id).count() >= 2 {
                return calls;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the replay arrives");
    let replay = again
        .iter()
        .rev()
        .find(|c| c.id == first_call.id)
        .expect("replayed call");
    assert_eq!(replay.body, first_call.body, "the same payload");
    assert!(
        verify(&rotated.secret, replay),
        "signed with today's secret"
    );
    let log = log_reaches(&t, &partner, &subscription_id, 2, |d| {
        d.status == WebhookDeliveryStatus::Delivered as i32
    })
    .await;
    assert_eq!(log.len(), 2, "a replay adds no entry");
    let replayed_entry = log.iter().find(|d| d.id == first_call.id).expect("entry");
    assert_eq!(replayed_entry.attempts, 2);

    t.partner_feed()
        .delete_webhook_subscription(authed(
            &partner,
            DeleteWebhookSubscriptionRequest {
                id: subscription_id.clone(),
            },
        ))
        .await
        .expect("deleted");
    let gone = t
        .partner_feed()
        .get_webhook_subscription(authed(
            &partner,
            GetWebhookSubscriptionRequest {
                id: subscription_id,
            },
        ))
        .await
        .expect_err("gone");
    assert_eq!(gone.code(), Code::NotFound);
    t.stop().await;
}

/// The receiver is down for `HAVEN_TEST_WEBHOOK_DOWN_SECS` (two minutes unless set), and Haven is
/// stopped and started again while the deliveries wait for their retries. Every event arrives once it
/// is back, every signature verifies, and the log shows each event once.
#[tokio::test]
async fn a_receiver_down_for_two_minutes_and_a_haven_restart_lose_no_delivery() {
    let down_for = Duration::from_secs(
        std::env::var("HAVEN_TEST_WEBHOOK_DOWN_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(120),
    );
    let t = TestSuite::start_with(Options {
        webhooks: Some(WebhooksConfig {
            first_retry_ms: 500,
            max_retry_secs: 5,
            poll_interval_ms: 200,
            ..WebhooksConfig::default()
        }),
        ..Options::default()
    })
    .await;
    let partner = t.token("partner", "ngo-1-client", "ngo-1");
    let mut receiver = Receiver::start().await;
    let created = subscribed(&t, &partner, &receiver.url()).await;
    let subscription_id = created.subscription.clone().expect("s").id;
    let (child, mut v) = registered(&t, consenting("Farida")).await;
    refer(&t, &child, "ngo-1", true).await;

    receiver.down();
    let went_down = tokio::time::Instant::now();
    let mut versions = BTreeSet::new();
    for _ in 0..3 {
        v = touch(&t, &child, v).await;
        versions.insert(v);
    }
    // Every delivery has failed at least once: Haven stops in the middle of the retries.
    log_reaches(&t, &partner, &subscription_id, 3, |d| d.attempts >= 1).await;
    let t = t.restart().await;
    let partner = t.token("partner", "ngo-1-client", "ngo-1");
    let still_pending = deliveries(&t, &partner, &subscription_id).await;
    assert!(
        still_pending
            .iter()
            .all(|d| d.status == WebhookDeliveryStatus::Pending as i32),
        "nothing is given up while the receiver is away: {still_pending:?}"
    );
    tokio::time::sleep_until(went_down + down_for).await;
    receiver.up().await;

    let calls = receiver.distinct(3, PATIENCE).await;
    assert_eq!(calls.len(), 3);
    let delivered: BTreeSet<i64> = calls
        .values()
        .map(|c| c.json()["data"]["version"].as_i64().unwrap_or_default())
        .collect();
    assert_eq!(delivered, versions, "every event arrived");
    assert!(calls.values().all(|c| verify(&created.secret, c)));
    let log = log_reaches(&t, &partner, &subscription_id, 3, |d| {
        d.status == WebhookDeliveryStatus::Delivered as i32
    })
    .await;
    assert_eq!(log.len(), 3, "one entry per event: {log:?}");
    let events: BTreeSet<&str> = log.iter().map(|d| d.event_id.as_str()).collect();
    assert_eq!(events.len(), 3, "no event twice in the log");
    assert!(
        log.iter().all(|d| d.attempts >= 2),
        "each was retried: {log:?}"
    );
    t.stop().await;
}

#[tokio::test]
async fn only_partners_may_call_the_partner_feed() {
    let t = TestSuite::start().await;
    let unknown = uuid::Uuid::now_v7().to_string();
    for (role, agency) in [
        ("caseworker", "agency-a"),
        ("supervisor", "agency-a"),
        ("reunification_officer", "agency-a"),
        ("educator", "school-1"),
        ("partner", "ngo-1"),
        ("lms", "school-1"),
        ("auditor", "agency-a"),
        ("admin", "agency-a"),
    ] {
        let token = t.token(role, &format!("{role}-1"), agency);
        let mut feed = t.partner_feed();
        let codes = [
            (
                "CreateWebhookSubscription",
                feed.create_webhook_subscription(authed(&token, subscribe("http://127.0.0.1:9/h")))
                    .await
                    .err()
                    .map(|s| s.code()),
            ),
            (
                "ListWebhookSubscriptions",
                feed.list_webhook_subscriptions(authed(
                    &token,
                    ListWebhookSubscriptionsRequest::default(),
                ))
                .await
                .err()
                .map(|s| s.code()),
            ),
            (
                "GetWebhookSubscription",
                feed.get_webhook_subscription(authed(
                    &token,
                    GetWebhookSubscriptionRequest {
                        id: unknown.clone(),
                    },
                ))
                .await
                .err()
                .map(|s| s.code()),
            ),
            (
                "DeleteWebhookSubscription",
                feed.delete_webhook_subscription(authed(
                    &token,
                    DeleteWebhookSubscriptionRequest {
                        id: unknown.clone(),
                    },
                ))
                .await
                .err()
                .map(|s| s.code()),
            ),
            (
                "RotateWebhookSecret",
                feed.rotate_webhook_secret(authed(
                    &token,
                    RotateWebhookSecretRequest {
                        id: unknown.clone(),
                    },
                ))
                .await
                .err()
                .map(|s| s.code()),
            ),
            (
                "ListWebhookDeliveries",
                feed.list_webhook_deliveries(authed(
                    &token,
                    ListWebhookDeliveriesRequest {
                        subscription_id: unknown.clone(),
                        page: None,
                    },
                ))
                .await
                .err()
                .map(|s| s.code()),
            ),
            (
                "ReplayWebhookDelivery",
                feed.replay_webhook_delivery(authed(
                    &token,
                    ReplayWebhookDeliveryRequest {
                        id: unknown.clone(),
                    },
                ))
                .await
                .err()
                .map(|s| s.code()),
            ),
            (
                "ListChanges",
                feed.list_changes(authed(&token, ListChangesRequest::default()))
                    .await
                    .err()
                    .map(|s| s.code()),
            ),
        ];
        for (rpc, got) in codes {
            let want = match (role, rpc) {
                ("partner", "CreateWebhookSubscription")
                | ("partner", "ListWebhookSubscriptions")
                | ("partner", "ListChanges") => None,
                ("partner", _) => Some(Code::NotFound),
                _ => Some(Code::PermissionDenied),
            };
            assert_eq!(got, want, "{role} calling {rpc}");
        }
    }
    t.stop().await;
}

fn tls_file(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/webhook-tls")
        .join(name)
}

/// One https delivery to `receiver` from a suite trusting `extra_roots`; the suite's delivery log
/// after the first attempt.
async fn https_attempt(
    receiver: &Receiver,
    extra_roots: Option<std::path::PathBuf>,
) -> (CreatedWebhookSubscription, Vec<WebhookDelivery>) {
    let t = TestSuite::start_with(Options {
        webhooks: Some(WebhooksConfig {
            extra_root_certificates_path: extra_roots,
            poll_interval_ms: 200,
            ..WebhooksConfig::default()
        }),
        ..Options::default()
    })
    .await;
    let partner = t.token("partner", "ngo-1-client", "ngo-1");
    let created = subscribed(&t, &partner, &receiver.url()).await;
    let subscription_id = created.subscription.clone().expect("s").id;
    let (child, v) = registered(&t, consenting("Grace")).await;
    refer(&t, &child, "ngo-1", true).await;
    touch(&t, &child, v).await;
    let log = log_reaches(&t, &partner, &subscription_id, 1, |d| d.attempts >= 1).await;
    t.stop().await;
    (created, log)
}

#[tokio::test]
async fn https_receivers_get_deliveries_only_with_a_certificate_haven_trusts() {
    let receiver = Receiver::start_tls(&tls_file("receiver.pem"), &tls_file("receiver.key")).await;
    assert!(receiver.url().starts_with("https://127.0.0.1:"));

    let (created, log) = https_attempt(&receiver, Some(tls_file("ca.pem"))).await;
    assert_eq!(log[0].status, WebhookDeliveryStatus::Delivered as i32);
    let calls = receiver.distinct(1, PATIENCE).await;
    assert!(calls.values().all(|c| verify(&created.secret, c)));

    // A deployment that does not trust the receiver's CA never sends it the payload.
    let before = receiver.calls().len();
    let (_, log) = https_attempt(&receiver, None).await;
    assert_eq!(log[0].status, WebhookDeliveryStatus::Pending as i32);
    assert_eq!(
        log[0].last_response_code, 0,
        "no answer: the handshake failed"
    );
    assert_eq!(
        receiver.calls().len(),
        before,
        "nothing reached the receiver"
    );
}
