//! The partners' change feed (`GET /v1/changes`): a partner agency sees the changes of children referred
//! to it, and only while the referral stands; pages follow an opaque cursor that stays put, and show the
//! same events the webhooks deliver.

use std::collections::BTreeSet;
use std::time::Duration;

use haven_proto::common::DataClass;
use haven_proto::identity::{
    Change, Child, CreateReferralRequest, CreateWebhookSubscriptionRequest, ListChangesRequest,
    ReferralKind, ReferralStatus, TransitionReferralRequest,
};
use haven_tests::fixtures::{case_child, id_of, register, update, whereabouts};
use haven_tests::webhook_receiver::Receiver;
use haven_tests::{TestSuite, authed, http1};
use tonic::Code;

const PATIENCE: Duration = Duration::from_secs(90);

fn consenting(given: &str) -> Child {
    let mut child = case_child(given, "Fed", false);
    if let Some(consent) = child.protection.as_mut().and_then(|p| p.consent.as_mut()) {
        consent.consent_for_services = true;
        consent.disclosure_to_other_orgs = true;
    }
    child
}

fn caseworker(t: &TestSuite) -> String {
    t.token("caseworker", "cw-1", "agency-a")
}

async fn registered(t: &TestSuite, given: &str) -> (String, i64) {
    let view = t
        .client()
        .register_child(authed(&caseworker(t), register(consenting(given))))
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

async fn refer_accepted(t: &TestSuite, child_id: &str, agency: &str) -> String {
    let referral = t
        .client()
        .create_referral(authed(
            &caseworker(t),
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
    transition(
        t,
        &referral.id,
        ReferralStatus::Accepted,
        &t.token("partner", "p", agency),
    )
    .await;
    referral.id
}

async fn transition(t: &TestSuite, id: &str, to: ReferralStatus, token: &str) {
    t.client()
        .transition_referral(authed(
            token,
            TransitionReferralRequest {
                id: id.into(),
                to: to as i32,
            },
        ))
        .await
        .expect("moved");
}

async fn touch(t: &TestSuite, child_id: &str, version: i64) -> i64 {
    let mut child = consenting("Unused");
    let mut place = whereabouts();
    place.caregiver_relation = format!("relation {version}");
    child.whereabouts = Some(place);
    t.client()
        .update_child(authed(
            &caseworker(t),
            update(child_id, version, &["whereabouts"], child),
        ))
        .await
        .expect("updated")
        .into_inner()
        .child
        .and_then(|c| c.meta)
        .map_or(0, |m| m.version)
}

async fn page(t: &TestSuite, token: &str, cursor: &str, size: u32) -> (Vec<Change>, String) {
    let answer = t
        .partner_feed()
        .list_changes(authed(
            token,
            ListChangesRequest {
                cursor: cursor.into(),
                page_size: size,
            },
        ))
        .await
        .expect("changes")
        .into_inner();
    (answer.changes, answer.next_cursor)
}

/// Reads the whole feed from the start until it holds `count` changes.
async fn feed_reaches(t: &TestSuite, token: &str, count: usize) -> Vec<Change> {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let (changes, _) = page(t, token, "", 500).await;
            if changes.len() >= count {
                return changes;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("the feed fills")
}

#[tokio::test]
async fn the_feed_pages_with_a_stable_cursor_and_shows_what_the_webhooks_deliver() {
    let t = TestSuite::start().await;
    let partner = t.token("partner", "ngo-1-client", "ngo-1");
    let other = t.token("partner", "ngo-2-client", "ngo-2");
    let receiver = Receiver::start().await;
    t.partner_feed()
        .create_webhook_subscription(authed(
            &partner,
            CreateWebhookSubscriptionRequest {
                request_id: uuid::Uuid::now_v7().to_string(),
                url: receiver.url(),
                event_types: vec!["child.changed".into()],
            },
        ))
        .await
        .expect("subscribed");

    let (shared, mut v) = registered(&t, "Gacheri").await;
    refer_accepted(&t, &shared, "ngo-1").await;
    let (not_referred, nv) = registered(&t, "Halima").await;
    let (elsewhere, ev) = registered(&t, "Imani").await;
    refer_accepted(&t, &elsewhere, "ngo-2").await;
    touch(&t, &not_referred, nv).await;
    touch(&t, &elsewhere, ev).await;
    let mut versions = Vec::new();
    for _ in 0..3 {
        v = touch(&t, &shared, v).await;
        versions.push(v);
    }

    let all = feed_reaches(&t, &partner, 3).await;
    assert_eq!(all.len(), 3, "only the referred child's changes: {all:?}");
    assert!(
        all.iter()
            .all(|c| c.child_id == shared && c.event_type == "child.changed")
    );
    assert_eq!(
        all.iter().map(|c| c.version).collect::<Vec<_>>(),
        versions,
        "oldest first"
    );

    // Pages of two follow the cursor; the end answers an empty page and a cursor that stays put.
    let (first, first_cursor) = page(&t, &partner, "", 2).await;
    let (second, cursor) = page(&t, &partner, &first_cursor, 2).await;
    let (third, end) = page(&t, &partner, &cursor, 2).await;
    assert_eq!((first.len(), second.len(), third.len()), (2, 1, 0));
    assert_eq!(end, cursor, "a cursor at the end stays where it is");
    let paged: Vec<&str> = first
        .iter()
        .chain(&second)
        .map(|c| c.event_id.as_str())
        .collect();
    let whole: Vec<&str> = all.iter().map(|c| c.event_id.as_str()).collect();
    assert_eq!(
        paged, whole,
        "paging shows the same events, in the same order"
    );
    // New changes appear after the cursor, and nothing before it moves.
    v = touch(&t, &shared, v).await;
    let after = tokio::time::timeout(PATIENCE, async {
        loop {
            let (changes, _) = page(&t, &partner, &end, 10).await;
            if !changes.is_empty() {
                return changes;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("the new change shows");
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].version, v);
    let (again, _) = page(&t, &partner, "", 2).await;
    assert_eq!(again, first, "the first page is what it was");

    // The webhooks delivered the same events.
    let calls = receiver.distinct(4, PATIENCE).await;
    let delivered: BTreeSet<String> = calls
        .values()
        .map(|c| {
            c.json()["data"]["event_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    let fed: BTreeSet<String> = feed_reaches(&t, &partner, 4)
        .await
        .into_iter()
        .map(|c| c.event_id)
        .collect();
    assert_eq!(delivered, fed);

    // The other agency sees its own child's change only.
    let theirs = feed_reaches(&t, &other, 1).await;
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].child_id, elsewhere);

    // Over REST, as a partner without gRPC reads it.
    let rest = http1::request(
        t.suite.gateway_addr,
        "GET",
        "/v1/changes?page_size=2",
        &[("authorization", &format!("Bearer {partner}"))],
        None,
    )
    .await;
    assert_eq!(rest.status, 200, "{}", rest.text());
    let body = rest.json();
    assert_eq!(body["changes"][0]["eventId"], first[0].event_id.as_str());
    assert_eq!(body["nextCursor"], first_cursor.as_str());
    t.stop().await;
}

#[tokio::test]
async fn changes_show_only_while_the_referral_stands_and_a_forged_cursor_is_refused() {
    let t = TestSuite::start().await;
    let partner = t.token("partner", "ngo-1-client", "ngo-1");
    let (child, v) = registered(&t, "Jamila").await;
    let referral = refer_accepted(&t, &child, "ngo-1").await;
    touch(&t, &child, v).await;
    let seen = feed_reaches(&t, &partner, 1).await;
    assert_eq!(seen[0].child_id, child);

    transition(&t, &referral, ReferralStatus::Revoked, &caseworker(&t)).await;
    let (after, _) = page(&t, &partner, "", 100).await;
    assert!(
        after.is_empty(),
        "a revoked referral takes the child's changes out of the feed"
    );

    for cursor in ["not-a-cursor", "Y2gxOi0x", "d3MxOjE"] {
        let status = t
            .partner_feed()
            .list_changes(authed(
                &partner,
                ListChangesRequest {
                    cursor: cursor.into(),
                    page_size: 0,
                },
            ))
            .await
            .expect_err("refused");
        assert_eq!(status.code(), Code::InvalidArgument, "{cursor}");
        assert!(status.message().contains("cursor"), "{}", status.message());
    }
    let status = t
        .partner_feed()
        .list_changes(authed(
            &partner,
            ListChangesRequest {
                cursor: String::new(),
                page_size: 501,
            },
        ))
        .await
        .expect_err("too large");
    assert_eq!(status.code(), Code::InvalidArgument);
    t.stop().await;
}

#[tokio::test]
async fn a_partner_told_of_a_child_is_told_of_its_erasure_and_of_nothing_else_after() {
    let t = TestSuite::start().await;
    let partner = t.token("partner", "ngo-1-client", "ngo-1");
    let (child, v) = registered(&t, "Kamaria").await;
    refer_accepted(&t, &child, "ngo-1").await;
    touch(&t, &child, v).await;
    feed_reaches(&t, &partner, 1).await;

    t.client()
        .erase_child(authed(
            &t.token("admin", "admin-1", "hq"),
            haven_proto::identity::EraseChildRequest {
                id: child.clone(),
                reason: "retention period for closed cases ended".into(),
            },
        ))
        .await
        .expect("erased");
    let after = tokio::time::timeout(PATIENCE, async {
        loop {
            let (changes, _) = page(&t, &partner, "", 100).await;
            if changes.iter().any(|c| c.event_type == "child.erased") {
                return changes;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("the tombstone shows");
    assert_eq!(
        after
            .iter()
            .map(|c| (c.event_type.as_str(), c.child_id.as_str()))
            .collect::<Vec<_>>(),
        vec![("child.erased", child.as_str())],
        "only the tombstone: the child is no longer referred"
    );
    let other = t.token("partner", "ngo-2-client", "ngo-2");
    assert!(page(&t, &other, "", 100).await.0.is_empty());
    t.stop().await;
}
