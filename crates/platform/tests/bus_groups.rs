//! Consumer-group reading on the event bus (`Bus::read_group` and `Bus::ack`), against the in-process bus
//! and, when `HAVEN_TEST_REDIS_URL` is set, a real Redis. With `CI=true` a missing Redis URL fails the
//! tests instead of skipping Redis, so CI cannot go green without having exercised it.
//! Every test uses fresh stream names and deletes its Redis streams when it ends, even on failure.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use haven_platform::bus::{Bus, BusError, StreamEntry};

/// The Redis to test against, if any.
fn redis_url() -> Option<String> {
    let url = std::env::var("HAVEN_TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if url.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but HAVEN_TEST_REDIS_URL is unset: the Redis bus must be tested in CI"
        );
        eprintln!("note: HAVEN_TEST_REDIS_URL is unset; testing the in-process bus only");
    }
    url
}

/// One bus implementation under test.
#[derive(Debug)]
enum Backend {
    InProcess(Bus),
    Redis(String),
}

impl Backend {
    /// The in-process bus always; Redis too when a URL is given.
    fn all() -> Vec<Backend> {
        let mut backends = vec![Backend::InProcess(Bus::in_process())];
        if let Some(url) = redis_url() {
            backends.push(Backend::Redis(url));
        }
        backends
    }

    /// A bus handle on this backend. For Redis every call opens a new connection, as a restarted replica
    /// would; the in-process bus exists only as long as its handle, so it hands out clones of one bus.
    fn bus(&self) -> Bus {
        match self {
            Backend::InProcess(bus) => bus.clone(),
            Backend::Redis(url) => Bus::redis(url).expect("a Redis bus from the test URL"),
        }
    }

    /// A fresh stream name, deleted again when the returned guard drops.
    fn stream(&self, tag: &str) -> (String, Cleanup) {
        let name = format!("haven-test:bus-groups:{tag}:{}", uuid::Uuid::now_v7());
        let url = match self {
            Backend::InProcess(_) => None,
            Backend::Redis(url) => Some(url.clone()),
        };
        (name.clone(), Cleanup { url, stream: name })
    }

    fn name(&self) -> &'static str {
        match self {
            Backend::InProcess(_) => "in-process",
            Backend::Redis(_) => "redis",
        }
    }
}

/// Deletes a test stream (and with it its groups) from Redis. A blocking connection, because it runs in
/// `Drop`, which is also reached when an assertion fails.
#[derive(Debug)]
struct Cleanup {
    url: Option<String>,
    stream: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let Some(url) = &self.url else { return };
        let deleted = redis::Client::open(url.as_str())
            .and_then(|client| client.get_connection())
            .and_then(|mut conn| redis::cmd("DEL").arg(&self.stream).query::<i64>(&mut conn));
        if let Err(e) = deleted {
            eprintln!("could not delete test stream {}: {e}", self.stream);
        }
    }
}

/// Publishes `n` events `ev-0`, `ev-1`, … with payloads `payload-0`, … and returns their ids in order.
async fn publish_n(bus: &Bus, stream: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let id = format!("ev-{i}");
        bus.publish(stream, &id, format!("payload-{i}").as_bytes())
            .await
            .expect("publish");
        ids.push(id);
    }
    ids
}

fn ids(entries: &[StreamEntry]) -> Vec<String> {
    entries.iter().map(|e| e.event_id.clone()).collect()
}

fn positions(entries: &[StreamEntry]) -> Vec<String> {
    entries.iter().map(|e| e.position.clone()).collect()
}

#[tokio::test]
async fn two_consumers_of_a_group_split_entries_and_another_group_sees_all() {
    for backend in Backend::all() {
        let which = backend.name();
        let (stream, _cleanup) = backend.stream("split");
        let bus = backend.bus();
        let published = publish_n(&bus, &stream, 10).await;

        // While `a` holds four entries unacknowledged, `b` is handed only entries after them.
        let a_held = bus
            .read_group(&stream, "workers", "a", 4)
            .await
            .expect("a reads");
        let b_held = bus
            .read_group(&stream, "workers", "b", 3)
            .await
            .expect("b reads");
        assert_eq!(ids(&a_held), published[..4], "{which}");
        assert_eq!(ids(&b_held), published[4..7], "{which}");
        bus.ack(&stream, "workers", &positions(&a_held))
            .await
            .expect("a acks");
        bus.ack(&stream, "workers", &positions(&b_held))
            .await
            .expect("b acks");

        // Both poll in turns, acking each batch, until neither gets anything.
        let mut got_a: Vec<String> = ids(&a_held);
        let mut got_b: Vec<String> = ids(&b_held);
        loop {
            let a = bus
                .read_group(&stream, "workers", "a", 2)
                .await
                .expect("a reads");
            bus.ack(&stream, "workers", &positions(&a))
                .await
                .expect("a acks");
            let b = bus
                .read_group(&stream, "workers", "b", 2)
                .await
                .expect("b reads");
            bus.ack(&stream, "workers", &positions(&b))
                .await
                .expect("b acks");
            if a.is_empty() && b.is_empty() {
                break;
            }
            got_a.extend(ids(&a));
            got_b.extend(ids(&b));
        }
        let set_a: BTreeSet<&String> = got_a.iter().collect();
        let set_b: BTreeSet<&String> = got_b.iter().collect();
        assert_eq!(set_a.len(), got_a.len(), "{which}: a got an entry twice");
        assert_eq!(set_b.len(), got_b.len(), "{which}: b got an entry twice");
        assert!(
            set_a.is_disjoint(&set_b),
            "{which}: an entry went to both consumers: a={got_a:?} b={got_b:?}"
        );
        let all: BTreeSet<&String> = set_a.union(&set_b).copied().collect();
        assert_eq!(
            all,
            published.iter().collect::<BTreeSet<_>>(),
            "{which}: entries lost"
        );

        // A second group has its own progress: it sees every entry, in order, with its payload.
        let audit = bus
            .read_group(&stream, "audit", "x", 100)
            .await
            .expect("second group reads");
        assert_eq!(ids(&audit), published, "{which}");
        for (i, entry) in audit.iter().enumerate() {
            assert_eq!(
                entry.payload,
                format!("payload-{i}").into_bytes(),
                "{which}"
            );
        }
    }
}

#[tokio::test]
async fn unacked_entries_are_redelivered_to_the_same_consumer_until_acked() {
    for backend in Backend::all() {
        let which = backend.name();
        let (stream, _cleanup) = backend.stream("redeliver");
        let published = publish_n(&backend.bus(), &stream, 3).await;

        let first = backend
            .bus()
            .read_group(&stream, "g", "worker", 2)
            .await
            .expect("first read");
        assert_eq!(ids(&first), published[..2], "{which}");

        // The worker "crashes" before acking; after restart (a new bus handle) it gets the same entries.
        let bus = backend.bus();
        let again = bus
            .read_group(&stream, "g", "worker", 2)
            .await
            .expect("read after restart");
        assert_eq!(again, first, "{which}: pending entries not redelivered");

        // Another consumer of the group does not get the worker's pending entries, only the rest.
        let helper = bus
            .read_group(&stream, "g", "helper", 10)
            .await
            .expect("helper reads");
        assert_eq!(ids(&helper), published[2..], "{which}");
        bus.ack(&stream, "g", &positions(&helper))
            .await
            .expect("helper acks");

        // Acking one entry leaves only the other pending.
        bus.ack(&stream, "g", &positions(&first[..1]))
            .await
            .expect("ack first");
        let rest = bus
            .read_group(&stream, "g", "worker", 2)
            .await
            .expect("read after partial ack");
        assert_eq!(ids(&rest), published[1..2], "{which}");

        // Once everything is acked nothing comes back, until something new is published.
        bus.ack(&stream, "g", &positions(&rest))
            .await
            .expect("ack second");
        let none = bus
            .read_group(&stream, "g", "worker", 2)
            .await
            .expect("read after acks");
        assert!(
            none.is_empty(),
            "{which}: acked entries came back: {none:?}"
        );
        bus.publish(&stream, "ev-new", b"new")
            .await
            .expect("publish");
        let new = bus
            .read_group(&stream, "g", "worker", 2)
            .await
            .expect("read new");
        assert_eq!(ids(&new), ["ev-new"], "{which}");

        // An empty ack is accepted and changes nothing.
        bus.ack(&stream, "g", &[]).await.expect("empty ack");
    }
}

#[tokio::test]
async fn a_group_created_after_publishing_reads_from_the_start() {
    for backend in Backend::all() {
        let which = backend.name();
        let (stream, _cleanup) = backend.stream("late-group");
        let bus = backend.bus();
        publish_n(&bus, &stream, 5).await;

        let whole = bus.read_after(&stream, "", 100).await.expect("read_after");
        assert_eq!(whole.len(), 5, "{which}");
        let late = bus
            .read_group(&stream, "late", "c", 100)
            .await
            .expect("late group reads");
        // Same entries, positions and payloads as a replica reading the stream for itself.
        assert_eq!(late, whole, "{which}");
    }
}

#[tokio::test]
async fn count_zero_reads_nothing_and_consumes_nothing() {
    for backend in Backend::all() {
        let which = backend.name();
        let (stream, _cleanup) = backend.stream("count-zero");
        let bus = backend.bus();
        let published = publish_n(&bus, &stream, 2).await;

        let none = bus
            .read_group(&stream, "g", "c", 0)
            .await
            .expect("read zero");
        assert!(none.is_empty(), "{which}");
        let one = bus
            .read_group(&stream, "g", "c", 1)
            .await
            .expect("read one");
        assert_eq!(ids(&one), published[..1], "{which}");
    }
}

/// Only Redis trims streams: a pending entry whose data is gone cannot be processed, so it is acked and
/// skipped instead of blocking the consumer forever.
#[tokio::test]
async fn redis_pending_entry_whose_data_was_trimmed_is_skipped_and_acked() {
    let Some(url) = redis_url() else { return };
    let backend = Backend::Redis(url.clone());
    let (stream, _cleanup) = backend.stream("trimmed");
    let bus = backend.bus();
    let published = publish_n(&bus, &stream, 3).await;

    let held = bus
        .read_group(&stream, "g", "worker", 2)
        .await
        .expect("read");
    assert_eq!(ids(&held), published[..2]);

    let mut raw = redis::Client::open(url.as_str())
        .expect("redis client")
        .get_multiplexed_async_connection()
        .await
        .expect("redis connection");
    let deleted: i64 = redis::cmd("XDEL")
        .arg(&stream)
        .arg(&held[0].position)
        .query_async(&mut raw)
        .await
        .expect("XDEL");
    assert_eq!(deleted, 1);

    let again = bus
        .read_group(&stream, "g", "worker", 10)
        .await
        .expect("read after trim");
    assert_eq!(again, held[1..], "the trimmed entry is skipped");

    // The trimmed entry left the pending list; only the live one is still pending.
    let (pending, ..): (i64, Option<String>, Option<String>, redis::Value) = redis::cmd("XPENDING")
        .arg(&stream)
        .arg("g")
        .query_async(&mut raw)
        .await
        .expect("XPENDING");
    assert_eq!(pending, 1);

    bus.ack(&stream, "g", &positions(&again))
        .await
        .expect("ack");
    let new = bus
        .read_group(&stream, "g", "worker", 10)
        .await
        .expect("read new");
    assert_eq!(ids(&new), published[2..]);
}

#[tokio::test]
async fn redis_down_is_reported_as_unavailable_quickly() {
    // Nothing listens on port 1, so connecting is refused at once; the bus must say so, not hang.
    let bus = Bus::redis("redis://127.0.0.1:1").expect("a lazy bus does not connect yet");
    let started = Instant::now();
    let read = tokio::time::timeout(
        Duration::from_secs(10),
        bus.read_group("haven-test:down", "g", "c", 10),
    )
    .await
    .expect("read_group hung while Redis is down");
    assert!(
        matches!(read, Err(BusError::Unavailable(_))),
        "read_group: {read:?}"
    );
    let ack = tokio::time::timeout(
        Duration::from_secs(10),
        bus.ack("haven-test:down", "g", &["1-0".to_owned()]),
    )
    .await
    .expect("ack hung while Redis is down");
    assert!(matches!(ack, Err(BusError::Unavailable(_))), "ack: {ack:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_consumer_that_went_away_loses_its_unacknowledged_entries_to_a_live_one() {
    // Redis only: a consumer that is gone is another process; the in-process bus dies with its process.
    let Some(url) = redis_url() else { return };
    let backend = Backend::Redis(url.clone());
    let (stream, _cleanup) = backend.stream("takeover");
    let gone = Bus::redis(&url).expect("bus");
    let published = publish_n(&gone, &stream, 3).await;
    let held = gone
        .read_group(&stream, "workers", "pod-gone", 10)
        .await
        .expect("read");
    assert_eq!(
        ids(&held),
        published,
        "the first pod took all three, then died"
    );

    // Within the idle time a new pod does not take them: their holder may still be working on them.
    let patient = Bus::redis(&url)
        .expect("bus")
        .with_claim_idle(Duration::from_secs(3600));
    let none = patient
        .read_group(&stream, "workers", "pod-new", 10)
        .await
        .expect("read");
    assert!(none.is_empty(), "nothing taken before the idle time");

    tokio::time::sleep(Duration::from_millis(50)).await;
    let eager = Bus::redis(&url)
        .expect("bus")
        .with_claim_idle(Duration::from_millis(20));
    let taken = eager
        .read_group(&stream, "workers", "pod-new", 10)
        .await
        .expect("read");
    assert_eq!(
        ids(&taken),
        published,
        "the new pod took them over, in order"
    );
    eager
        .ack(&stream, "workers", &positions(&taken))
        .await
        .expect("ack");
    let after = eager
        .read_group(&stream, "workers", "pod-new", 10)
        .await
        .expect("read");
    assert!(after.is_empty(), "acknowledged once, delivered no more");
    let again = gone
        .read_group(&stream, "workers", "pod-gone", 10)
        .await
        .expect("read");
    assert!(again.is_empty(), "the old name holds nothing any more");
}
