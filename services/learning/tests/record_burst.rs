//! RecordLearning and CorrectLearningRecord under bursts of concurrent calls, which the service commits
//! in groups: each caller still gets its own answer, a request_id yields at most one record, a refused
//! request leaves nothing, and every record has its audit entry and outbox event.

mod common;

use std::collections::{HashMap, HashSet};

use common::*;
use haven_platform::audit::{ChainReport, log, verify_chain};
use haven_proto::events::{Envelope, envelope::Event};
use haven_proto::learning::*;
use prost::Message as _;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tonic::Code;

const SCHOOL_A: &str = "school-a";
const SCHOOL_B: &str = "school-b";
const AGENCY: &str = "agency-1";
const RECORD_LEARNING: &str = "/haven.learning.v1.LearningRecords/RecordLearning";
const CORRECT: &str = "/haven.learning.v1.LearningRecords/CorrectLearningRecord";

/// What one call in the burst must get back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A record (new, or the one its key first made).
    Record,
    /// One of a pair sharing a key with different bodies: a record, or ALREADY_EXISTS.
    RecordOrTaken,
    Refused(Code),
}

struct Call {
    token: String,
    request: RecordLearningRequest,
    expect: Expect,
}

fn completion(child_id: &str, title: &str) -> LearningRecord {
    LearningRecord {
        child_id: child_id.into(),
        kind: RecordKind::Completion as i32,
        title: title.into(),
        ..Default::default()
    }
}

fn call(token: &str, request_id: &str, record: LearningRecord, expect: Expect) -> Call {
    Call {
        token: token.to_owned(),
        request: RecordLearningRequest {
            request_id: request_id.into(),
            record: Some(record),
        },
        expect,
    }
}

/// The outbox's LearningRecorded events, by the record they announce.
async fn recorded_events(h: &Harness) -> HashMap<String, usize> {
    let mut events = HashMap::new();
    for row in haven_platform::outbox::OutboxEntity::find()
        .all(h.db())
        .await
        .expect("outbox")
    {
        let envelope = Envelope::decode(row.payload.as_slice()).expect("envelope");
        if let Some(Event::LearningRecorded(recorded)) = envelope.event {
            *events.entry(recorded.record_id).or_insert(0) += 1;
        }
    }
    events
}

async fn audit_entries(h: &Harness, rpc: &str) -> Vec<log::Model> {
    log::Entity::find()
        .filter(log::Column::Rpc.eq(rpc))
        .all(h.db())
        .await
        .expect("audit")
}

#[tokio::test]
async fn a_burst_with_retries_reused_keys_and_refusals_answers_each_caller_on_its_own() {
    let h = Harness::start().await;
    let teacher = h.token("educator", "teacher-1", SCHOOL_A);
    let colleague = h.token("educator", "teacher-2", SCHOOL_A);
    h.import_example_framework(&teacher).await;
    let child = h.child("cw-1", AGENCY).await;
    h.enrol(&teacher, &child).await;
    // A learner of another school only: school A's educators may not write for them.
    let stranger = h.child("cw-2", AGENCY).await;
    h.enrol(&h.token("educator", "teacher-b", SCHOOL_B), &stranger)
        .await;
    let mut client = h.client();
    // Before the burst: a committed record whose request the burst retries, and a key used by
    // EnrolLearner.
    let earlier = client
        .record_learning(authed(
            &teacher,
            RecordLearningRequest {
                request_id: "earlier".into(),
                record: Some(completion(&child, "earlier")),
            },
        ))
        .await
        .expect("earlier record")
        .into_inner();
    let other = h.child("cw-3", AGENCY).await;
    h.affiliate(&other, SCHOOL_A, true).await;
    client
        .enrol_learner(authed(
            &teacher,
            EnrolLearnerRequest {
                request_id: "used-by-enrol".into(),
                child_id: other,
                programme: "Catch-up".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("enrol");

    let mut calls = Vec::new();
    for i in 0..120 {
        calls.push(call(
            &teacher,
            &format!("fresh-{i}"),
            if i % 2 == 0 {
                LearningRecord {
                    title: format!("fresh {i}"),
                    ..maths_assessment(&child, 50.0 + f64::from(i % 40))
                }
            } else {
                completion(&child, &format!("fresh {i}"))
            },
            Expect::Record,
        ));
    }
    // The same keys from another caller are another caller's keys.
    for i in 0..10 {
        calls.push(call(
            &colleague,
            &format!("fresh-{i}"),
            completion(&child, &format!("colleague {i}")),
            Expect::Record,
        ));
    }
    for k in 0..10 {
        for _ in 0..3 {
            calls.push(call(
                &teacher,
                &format!("retried-{k}"),
                completion(&child, &format!("retried {k}")),
                Expect::Record,
            ));
        }
        for body in ["first", "second"] {
            calls.push(call(
                &teacher,
                &format!("reused-{k}"),
                completion(&child, &format!("reused {k} {body}")),
                Expect::RecordOrTaken,
            ));
        }
    }
    for _ in 0..5 {
        calls.push(call(
            &teacher,
            "earlier",
            completion(&child, "earlier"),
            Expect::Record,
        ));
        calls.push(call(
            &teacher,
            "earlier",
            completion(&child, "not what was first sent"),
            Expect::Refused(Code::AlreadyExists),
        ));
        calls.push(call(
            &teacher,
            "used-by-enrol",
            completion(&child, "a record"),
            Expect::Refused(Code::AlreadyExists),
        ));
    }
    for i in 0..10 {
        let mut unknown_outcome = maths_assessment(&child, 60.0);
        unknown_outcome.outcome_codes = vec!["M5.404".into()];
        calls.push(call(
            &teacher,
            &format!("unknown-outcome-{i}"),
            unknown_outcome,
            Expect::Refused(Code::InvalidArgument),
        ));
        calls.push(call(
            &teacher,
            &format!("stranger-{i}"),
            completion(&stranger, "not ours"),
            Expect::Refused(Code::NotFound),
        ));
    }

    let mut burst = tokio::task::JoinSet::new();
    for (i, c) in calls.iter().enumerate() {
        let mut client = h.client();
        let request = authed(&c.token, c.request.clone());
        burst.spawn(async move { (i, client.record_learning(request).await) });
    }
    let answers: HashMap<usize, Result<LearningRecord, tonic::Status>> = burst
        .join_all()
        .await
        .into_iter()
        .map(|(i, answer)| (i, answer.map(|r| r.into_inner())))
        .collect();

    // Each caller's own answer; one record per (caller, request_id).
    let mut record_of: HashMap<(String, String), String> = HashMap::new();
    let mut taken: HashMap<String, usize> = HashMap::new();
    for (i, c) in calls.iter().enumerate() {
        let key = (c.token.clone(), c.request.request_id.clone());
        match (&answers[&i], c.expect) {
            (Ok(record), Expect::Record | Expect::RecordOrTaken) => {
                let sent = c.request.record.as_ref().expect("record");
                assert_eq!(record.title, sent.title, "call {i} got another's record");
                assert_eq!(record.child_id, child);
                let first = record_of.entry(key).or_insert_with(|| record.id.clone());
                assert_eq!(*first, record.id, "{}: two records", c.request.request_id);
            }
            (Err(status), Expect::RecordOrTaken) if status.code() == Code::AlreadyExists => {
                *taken.entry(c.request.request_id.clone()).or_insert(0) += 1;
            }
            (Err(status), Expect::Refused(code)) => {
                assert_eq!(status.code(), code, "call {i}: {status:?}");
            }
            (answer, expect) => panic!("call {i} expected {expect:?}, got {answer:?}"),
        }
    }
    assert_eq!(
        record_of[&(teacher.clone(), "earlier".to_owned())],
        earlier.id,
        "a retry of a committed request replays its record"
    );
    for k in 0..10 {
        assert_eq!(
            taken.get(&format!("reused-{k}")),
            Some(&1),
            "of two bodies under one key, exactly one is refused"
        );
    }

    // What was stored: exactly the records answered, each with one audit entry and one event.
    let stored: HashSet<String> = haven_learning::entity::record::Entity::find()
        .all(h.db())
        .await
        .expect("records")
        .into_iter()
        .map(|r| {
            assert_eq!(r.child_id, child, "nothing was written for the stranger");
            r.id
        })
        .collect();
    let answered: HashSet<String> = record_of.values().cloned().collect();
    assert_eq!(answered.len(), 120 + 10 + 10 + 10 + 1);
    assert_eq!(stored, answered, "no refused request left a record");
    let events = recorded_events(&h).await;
    assert_eq!(
        events.keys().cloned().collect::<HashSet<_>>(),
        stored,
        "one event per record"
    );
    assert!(events.values().all(|n| *n == 1), "one event per record");
    let entries = audit_entries(&h, RECORD_LEARNING).await;
    assert_eq!(entries.len(), stored.len(), "one audit entry per record");
    assert!(
        matches!(
            verify_chain(h.db()).await.expect("verify"),
            ChainReport::Intact { .. }
        ),
        "the audit chain verifies"
    );
    // Entries of one group commit share their timestamp: the burst was committed in groups.
    let mut per_commit: HashMap<i64, usize> = HashMap::new();
    for entry in &entries {
        *per_commit.entry(entry.at_us).or_insert(0) += 1;
    }
    assert!(
        per_commit.values().any(|n| *n > 1),
        "the burst shared commits"
    );
    h.stop().await;
}

#[tokio::test]
async fn concurrent_corrections_void_each_record_once() {
    let h = Harness::start().await;
    let teacher = h.token("educator", "teacher-1", SCHOOL_A);
    h.import_example_framework(&teacher).await;
    let child = h.child("cw-1", AGENCY).await;
    h.enrol(&teacher, &child).await;
    let mut client = h.client();
    let mut records = Vec::new();
    for i in 0..10 {
        records.push(
            record(
                &mut client,
                &teacher,
                maths_assessment(&child, f64::from(40 + i)),
            )
            .await
            .expect("record"),
        );
    }
    // Each record corrected by three different requests at once, one of them sent twice.
    let mut burst = tokio::task::JoinSet::new();
    for (r, wrong) in records.iter().enumerate() {
        for attempt in 0..4 {
            let mut client = h.client();
            let request = CorrectLearningRecordRequest {
                request_id: format!("fix-{r}-{}", attempt.min(2)),
                record_id: wrong.id.clone(),
                reason: "marked against the wrong answer key".into(),
                replacement: Some(maths_assessment(&child, 90.0)),
            };
            let token = teacher.clone();
            burst.spawn(async move {
                (
                    r,
                    request.request_id.clone(),
                    client
                        .correct_learning_record(authed(&token, request))
                        .await
                        .map(|a| a.into_inner()),
                )
            });
        }
    }
    let mut winners: HashMap<usize, HashSet<String>> = HashMap::new();
    let mut replacements: HashMap<String, HashSet<String>> = HashMap::new();
    for (r, request_id, answer) in burst.join_all().await {
        match answer {
            Ok(corrected) => {
                assert_eq!(corrected.voided.map(|v| v.id), Some(records[r].id.clone()));
                let replacement = corrected.replacement.expect("replacement");
                winners.entry(r).or_default().insert(request_id.clone());
                replacements
                    .entry(request_id)
                    .or_default()
                    .insert(replacement.id);
            }
            Err(status) => assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}"),
        }
    }
    for r in 0..records.len() {
        assert_eq!(
            winners.get(&r).map(HashSet::len),
            Some(1),
            "record {r} is voided by exactly one request"
        );
    }
    assert!(
        replacements.values().all(|ids| ids.len() == 1),
        "a retried correction answers the same replacement"
    );
    let stored = haven_learning::entity::record::Entity::find()
        .all(h.db())
        .await
        .expect("records");
    assert_eq!(stored.len(), 20, "ten records and one replacement each");
    assert_eq!(stored.iter().filter(|r| r.voided).count(), 10);
    assert_eq!(audit_entries(&h, CORRECT).await.len(), 10);
    assert_eq!(recorded_events(&h).await.len(), 20);
    assert!(matches!(
        verify_chain(h.db()).await.expect("verify"),
        ChainReport::Intact { .. }
    ));
    h.stop().await;
}
