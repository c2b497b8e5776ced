//! A database connection lost under a write (a PostgreSQL restart, a failover, a killed backend) answers
//! UNAVAILABLE, never INTERNAL, so the client retries with the same `request_id`; the retry never makes
//! a second record. Runs on PostgreSQL (HAVEN_TEST_DATABASE_URL); the embedded default has no
//! connection to lose.

use std::collections::BTreeSet;
use std::time::Duration;

use haven_proto::common::PageRequest;
use haven_proto::identity::{ListChildrenRequest, RegisterChildRequest};
use haven_tests::fixtures::{case_child, id_of};
use haven_tests::{TestSuite, authed, backend};
use tonic::Code;

const CHILDREN: usize = 60;

#[tokio::test]
async fn writes_cut_off_from_the_database_answer_unavailable_and_retry_into_one_record_each() {
    let t = TestSuite::start().await;
    if t.drop_identity_connections().await.is_none() {
        eprintln!("skipped on {}: no database connection to drop", backend());
        t.stop().await;
        return;
    }
    let cw = t.token("caseworker", "cw-1", "agency-a");
    let requests: Vec<RegisterChildRequest> = (0..CHILDREN)
        .map(|i| RegisterChildRequest {
            request_id: format!("outage-{i}"),
            child: Some(case_child(&format!("Child{i}"), "Outage", false)),
        })
        .collect();

    // Writers race a loop that keeps dropping every connection of the identity service.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let killer = {
        let stop = stop.clone();
        let t = &t;
        async move {
            let mut dropped = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                dropped += t.drop_identity_connections().await.unwrap_or(0);
                tokio::time::sleep(Duration::from_millis(15)).await;
            }
            dropped
        }
    };
    let writers = async {
        let mut first_answers = Vec::new();
        for chunk in requests.chunks(6) {
            let calls: Vec<_> = chunk
                .iter()
                .map(|request| {
                    let mut client = t.client();
                    let request = authed(&cw, request.clone());
                    tokio::spawn(async move { client.register_child(request).await })
                })
                .collect();
            for call in calls {
                first_answers.push(call.await.expect("writer task").map(|r| r.into_inner()));
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        first_answers
    };
    let (first_answers, dropped) = tokio::join!(writers, killer);
    assert!(dropped > 0, "the test dropped no connection");

    let mut unavailable = 0;
    for answer in &first_answers {
        if let Err(status) = answer {
            assert_eq!(
                status.code(),
                Code::Unavailable,
                "a lost connection is UNAVAILABLE: {status:?}"
            );
            unavailable += 1;
        }
    }
    eprintln!(
        "{dropped} connections dropped; {unavailable} of {CHILDREN} first attempts answered UNAVAILABLE"
    );

    // Every client retries with its own request_id until it gets its child.
    let mut ids = BTreeSet::new();
    for (request, first) in requests.iter().zip(&first_answers) {
        let mut answer = first.clone();
        for _ in 0..50 {
            if answer.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            answer = t
                .client()
                .register_child(authed(&cw, request.clone()))
                .await
                .map(|r| r.into_inner());
        }
        let view = answer.expect("the retry succeeds");
        if first.is_ok() {
            // A retry of a write that succeeded returns the same child.
            let again = t
                .client()
                .register_child(authed(&cw, request.clone()))
                .await
                .expect("retry")
                .into_inner();
            assert_eq!(id_of(&again), id_of(&view));
        }
        ids.insert(id_of(&view));
    }
    assert_eq!(ids.len(), CHILDREN, "one child per request_id");

    // And the registry holds exactly those children: no retry made a second record.
    let mut listed = BTreeSet::new();
    let mut token = String::new();
    loop {
        let page = t
            .client()
            .list_children(authed(
                &cw,
                ListChildrenRequest {
                    page: Some(PageRequest {
                        page_size: 100,
                        page_token: token.clone(),
                    }),
                },
            ))
            .await
            .expect("list")
            .into_inner();
        listed.extend(page.children.iter().map(id_of));
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(listed, ids);
    t.stop().await;
}
