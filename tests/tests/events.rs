//! Events: every change to a child goes out on the bus through the outbox, in commit order, carrying
//! ids and flags but no child data; an erasure sends a tombstone; and events wait in the outbox while
//! the bus is down.

use std::time::Duration;

use haven_identity::events::IDENTITY_STREAM;
use haven_platform::bus::Bus;
use haven_platform::outbox::{self, OutboxColumn, OutboxEntity};
use haven_proto::events::{Envelope, envelope::Event};
use haven_proto::identity::{Child, EraseChildRequest};
use haven_tests::fixtures::{
    CANARY_ADDRESS, CANARY_PHONE, case_child, id_of, identity, register, update,
};
use haven_tests::{TestSuite, authed};
use prost::Message as _;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

/// The events about one child after `start`, waiting up to two seconds for the relay.
async fn events_about(
    bus: &Bus,
    start: &str,
    child_id: &str,
    expected: usize,
) -> Vec<(Envelope, Vec<u8>)> {
    let mut found = Vec::new();
    for _ in 0..40 {
        found = bus
            .read_after(IDENTITY_STREAM, start, 10_000)
            .await
            .expect("read the stream")
            .into_iter()
            .filter_map(|entry| {
                let envelope = Envelope::decode(entry.payload.as_slice()).ok()?;
                let about = match &envelope.event {
                    Some(Event::ChildChanged(e)) => e.child_id.clone(),
                    Some(Event::ChildErased(e)) => e.child_id.clone(),
                    Some(Event::ChildMerged(e)) => e.from_child_id.clone(),
                    Some(Event::LearnerAffiliationChanged(e)) => e.child_id.clone(),
                    // The learning service's events travel on its own stream.
                    Some(
                        Event::LearnerEnrolled(_)
                        | Event::LearningRecorded(_)
                        | Event::DuplicateReviewRequested(_)
                        | Event::DuplicateReviewAnswered(_),
                    )
                    | None => String::new(),
                };
                (about == child_id).then_some((envelope, entry.payload))
            })
            .collect();
        if found.len() >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    found
}

#[tokio::test]
async fn changes_reach_the_bus_in_order_without_child_data_and_erasure_sends_a_tombstone() {
    let t = TestSuite::start().await;
    let mut client = t.client();
    let caseworker = t.token("caseworker", "cw-events", "agency-a");
    let admin = t.token("admin", "admin-1", "hq");
    // Other tests share the Redis stream: read only what comes after this point.
    let start = t
        .suite
        .bus
        .last_position(IDENTITY_STREAM)
        .await
        .expect("stream position");
    let view = client
        .register_child(authed(
            &caseworker,
            register(case_child("Eventgiven", "Eventfamily", true)),
        ))
        .await
        .expect("registered")
        .into_inner();
    let id = id_of(&view);
    let change = Child {
        identity: Some(identity("Eventgivenb", "Eventfamily")),
        ..Child::default()
    };
    client
        .update_child(authed(
            &caseworker,
            update(&id, 1, &["identity.given_name"], change),
        ))
        .await
        .expect("updated");
    client
        .erase_child(authed(
            &admin,
            EraseChildRequest {
                id: id.clone(),
                reason: "testing the tombstone".into(),
            },
        ))
        .await
        .expect("erased");

    let events = events_about(&t.suite.bus, &start, &id, 3).await;
    let kinds: Vec<String> = events
        .iter()
        .map(|(e, _)| match &e.event {
            Some(Event::ChildChanged(c)) => format!(
                "changed v{} registered={} tracing={}",
                c.version, c.registered, c.consent_for_tracing
            ),
            Some(Event::ChildErased(_)) => "erased".into(),
            Some(Event::ChildMerged(_)) => "merged".into(),
            Some(Event::LearnerAffiliationChanged(a)) => {
                format!("reach {} {}", a.organisation, a.affiliated)
            }
            Some(Event::LearnerEnrolled(_) | Event::LearningRecorded(_)) => "learning".into(),
            Some(Event::DuplicateReviewRequested(_) | Event::DuplicateReviewAnswered(_)) => {
                "duplicate review".into()
            }
            None => "none".into(),
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            "changed v1 registered=true tracing=true",
            "changed v2 registered=false tracing=true",
            "erased"
        ]
    );
    let ids: std::collections::BTreeSet<&str> = events.iter().map(|(e, _)| e.id.as_str()).collect();
    assert_eq!(ids.len(), 3, "every event has its own id");
    for (_, bytes) in &events {
        for canary in ["Eventgiven", "Eventfamily", CANARY_PHONE, CANARY_ADDRESS] {
            assert!(
                !bytes.windows(canary.len()).any(|w| w == canary.as_bytes()),
                "an event carries {canary}"
            );
        }
    }
    t.stop().await;
}

#[tokio::test]
async fn events_wait_in_the_outbox_while_the_bus_is_down() {
    let t = TestSuite::start().await;
    // A database of its own: the suite's relay would otherwise publish these rows itself. (The suite's
    // own outbox runs on the configured backend in the test above.)
    let db = haven_identity::connect_and_migrate(&format!(
        "sqlite://{}/outbox-only.db?mode=rwc",
        t.data_dir.display()
    ))
    .await
    .expect("outbox database");
    let stream = format!("haven:test:{}", uuid::Uuid::now_v7());
    for n in 0..3 {
        outbox::append(&db, &stream, &uuid::Uuid::now_v7().to_string(), vec![n])
            .await
            .expect("append");
    }
    // Nothing listens on port 1: the bus is down.
    let down = Bus::redis("redis://127.0.0.1:1").expect("lazy bus");
    assert_eq!(outbox::relay_once(&db, &down).await.expect("relay"), 0);
    let waiting = OutboxEntity::find()
        .filter(OutboxColumn::Stream.eq(stream.clone()))
        .filter(OutboxColumn::SentAtUs.is_null())
        .all(&db)
        .await
        .expect("outbox");
    assert_eq!(waiting.len(), 3, "nothing is lost while the bus is down");

    let up = Bus::in_process();
    outbox::relay_once(&db, &up).await.expect("relay");
    let delivered: Vec<Vec<u8>> = up
        .read_after(&stream, "", 10)
        .await
        .expect("read")
        .into_iter()
        .map(|e| e.payload)
        .collect();
    assert_eq!(
        delivered,
        vec![vec![0], vec![1], vec![2]],
        "delivered once, in order"
    );
    let unsent = OutboxEntity::find()
        .filter(OutboxColumn::Stream.eq(stream.clone()))
        .filter(OutboxColumn::SentAtUs.is_null())
        .count(&db)
        .await
        .expect("outbox");
    assert_eq!(unsent, 0, "the relayed page is marked sent");
    assert_eq!(
        outbox::relay_once(&db, &up).await.expect("relay"),
        0,
        "a marked event is not published again"
    );
    t.stop().await;
}
