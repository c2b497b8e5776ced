//! Family tracing end to end, through the gateway: children registered with consent reach the matching
//! projection through the identity service's events; a mother's request finds her son across spellings
//! and agencies with every score explained; alerts, reviews, family links, the reunification workflow,
//! and who may touch any of it. Runs on the in-process bus, and on Redis when HAVEN_TEST_REDIS_URL is set.

use std::time::Duration;

use haven_proto::common::{AgeRange, PartialDate};
use haven_proto::family_tracing::{
    CreateTracingRequestRequest, Decision, FindMatchesRequest, FindMatchesResponse,
    GetTracingRequestRequest, Inquirer, ListAlertsRequest, ListFamilyLinksRequest, MatchBand,
    RecordFollowUpRequest, Relation, RequestStatus, ReviewMatchRequest, Sex, SoughtChild,
    TracingRequest, TransitionTracingRequestRequest,
};
use haven_proto::identity::{Child, EraseChildRequest, Identity, Sex as ChildSex, identity::Birth};
use haven_tests::fixtures::{id_of, protection, register, whereabouts};
use haven_tests::{TestSuite, authed};
use tonic::Code;

fn child(given: &str, family: &str, father: &str, born: i32, consent: bool) -> Child {
    Child {
        identity: Some(Identity {
            given_name: given.into(),
            family_name: family.into(),
            sex: ChildSex::Male as i32,
            birth: Some(Birth::DateOfBirth(PartialDate {
                year: born,
                month: None,
                day: None,
                estimated: true,
            })),
            father_name: father.into(),
            ..Identity::default()
        }),
        whereabouts: Some(whereabouts()),
        protection: Some(protection(consent)),
        meta: None,
    }
}

fn sought(given: &str, family: &str, father: &str, born: i32, sex: Sex) -> SoughtChild {
    SoughtChild {
        given_name: given.into(),
        family_name: family.into(),
        sex: sex as i32,
        date_of_birth: Some(PartialDate {
            year: born,
            month: None,
            day: None,
            estimated: true,
        }),
        age_estimate: Some(AgeRange {
            min_years: 9,
            max_years: 11,
            assessed_at: None,
        }),
        father_name: father.into(),
        separated_on: Some(PartialDate {
            year: 2025,
            month: Some(3),
            day: None,
            estimated: true,
        }),
        ..SoughtChild::default()
    }
}

async fn find(
    t: &TestSuite,
    token: &str,
    request: &TracingRequest,
    index: usize,
) -> FindMatchesResponse {
    t.tracing()
        .find_matches(authed(
            token,
            FindMatchesRequest {
                tracing_request_id: request.id.clone(),
                sought_child_id: request.sought_children[index].id.clone(),
                limit: 10,
            },
        ))
        .await
        .expect("find matches")
        .into_inner()
}

/// Polls until `done` holds: events travel through the outbox relay and the bus asynchronously.
async fn eventually<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..150 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn a_mother_finds_her_son_across_spellings_and_agencies_and_every_step_is_guarded() {
    let t = TestSuite::start().await;
    let mut identity = t.client();
    let caseworker = t.token("caseworker", "cw-1", "agency-a");
    let officer = t.token("reunification_officer", "ro-b", "agency-b");
    let colleague = t.token("caseworker", "cw-9", "agency-b");
    let supervisor = t.token("supervisor", "sup-b", "agency-b");

    let register_child = |c: Child| {
        let mut identity = identity.clone();
        let token = caseworker.clone();
        async move {
            id_of(
                &identity
                    .register_child(authed(&token, register(c)))
                    .await
                    .expect("register")
                    .into_inner(),
            )
        }
    };
    let son = register_child(child(
        "Mohamed",
        "Abdullahi Hassan",
        "Abdullahi",
        2016,
        true,
    ))
    .await;
    let lookalike_without_consent = register_child(child(
        "Mohamed",
        "Abdullahi Hassan",
        "Abdullahi",
        2016,
        false,
    ))
    .await;
    let stranger = register_child(child("Mohammed", "Ali Omar", "Ali", 2016, true)).await;

    // The mother spells her son the Somali way, and seeks a daughter not registered yet.
    let created = t
        .tracing()
        .create_tracing_request(authed(
            &officer,
            CreateTracingRequestRequest {
                request_id: uuid::Uuid::now_v7().to_string(),
                inquirer: Some(Inquirer {
                    given_name: "Faadumo".into(),
                    family_name: "Cali".into(),
                    relation: Relation::Mother as i32,
                    contact: "via camp office".into(),
                    location: None,
                    ..Inquirer::default()
                }),
                sought_children: vec![
                    sought("Maxamed", "Cabdullahi Xasan", "Cabdullahi", 2016, Sex::Male),
                    sought(
                        "Xaliimo",
                        "Cabdullahi Xasan",
                        "Cabdullahi",
                        2018,
                        Sex::Female,
                    ),
                ],
            },
        ))
        .await
        .expect("create")
        .into_inner();
    assert_eq!(created.status, RequestStatus::Open as i32);
    assert_eq!(created.sought_children.len(), 2);

    // The registrations reach the projection through events.
    let tracing = &t;
    let request_for_wait = created.clone();
    let officer_for_wait = officer.clone();
    let son_for_wait = son.clone();
    eventually("the son among the candidates", || {
        let request = request_for_wait.clone();
        let token = officer_for_wait.clone();
        let son = son_for_wait.clone();
        async move {
            find(tracing, &token, &request, 0)
                .await
                .candidates
                .iter()
                .any(|c| c.child_id == son)
        }
    })
    .await;
    let found = find(&t, &officer, &created, 0).await;
    let top = &found.candidates[0];
    assert_eq!(top.child_id, son, "the son ranks first");
    let assessment = top.assessment.as_ref().expect("assessment");
    assert_eq!(assessment.band, MatchBand::Likely as i32, "{assessment:?}");
    assert!(assessment.score >= found.likely_threshold && assessment.score <= 1.0);
    assert!(
        assessment
            .evidence
            .iter()
            .any(|e| e.field == "given_name" && !e.reason.is_empty()),
        "the name's agreement is explained: {:?}",
        assessment.evidence
    );
    let shown = top
        .identity
        .as_ref()
        .expect("an officer sees identity fields");
    assert_eq!(shown.given_name, "Mohamed");
    assert!(
        found
            .candidates
            .iter()
            .all(|c| c.child_id != lookalike_without_consent),
        "a child without consent to tracing is never a candidate"
    );

    // The likely match was alerted to the officer.
    let officer_for_alerts = officer.clone();
    let son_for_alerts = son.clone();
    eventually("an alert for the son", || {
        let token = officer_for_alerts.clone();
        let son = son_for_alerts.clone();
        async move {
            tracing
                .tracing()
                .list_alerts(authed(&token, ListAlertsRequest::default()))
                .await
                .expect("alerts")
                .into_inner()
                .alerts
                .iter()
                .any(|a| a.child_id == son)
        }
    })
    .await;

    // The daughter registers later: her arrival raises an alert on the open request.
    let daughter =
        register_child(child("Halimo", "Abdullahi Hassan", "Abdullahi", 2018, true)).await;
    let officer_for_daughter = officer.clone();
    let daughter_for_wait = daughter.clone();
    eventually(
        "an alert for the daughter registered after the request",
        || {
            let token = officer_for_daughter.clone();
            let daughter = daughter_for_wait.clone();
            async move {
                tracing
                    .tracing()
                    .list_alerts(authed(&token, ListAlertsRequest::default()))
                    .await
                    .expect("alerts")
                    .into_inner()
                    .alerts
                    .iter()
                    .any(|a| a.child_id == daughter)
            }
        },
    )
    .await;

    // A rejected pair never comes back.
    let review = |child_id: &str, index: usize, decision: Decision| ReviewMatchRequest {
        tracing_request_id: created.id.clone(),
        sought_child_id: created.sought_children[index].id.clone(),
        child_id: child_id.into(),
        decision: decision as i32,
        reason: "compared with the registration interview".into(),
    };
    if find(&t, &officer, &created, 0)
        .await
        .candidates
        .iter()
        .any(|c| c.child_id == stranger)
    {
        t.tracing()
            .review_match(authed(&officer, review(&stranger, 0, Decision::Reject)))
            .await
            .expect("reject");
        assert!(
            find(&t, &officer, &created, 0)
                .await
                .candidates
                .iter()
                .all(|c| c.child_id != stranger),
            "a rejected pair is not proposed again"
        );
    }

    // Confirm the son and the daughter: the request moves on and the family is linked.
    let confirmed = t
        .tracing()
        .review_match(authed(&officer, review(&son, 0, Decision::Confirm)))
        .await
        .expect("confirm")
        .into_inner();
    assert_eq!(confirmed.decision, Decision::Confirm as i32);
    t.tracing()
        .review_match(authed(&officer, review(&daughter, 1, Decision::Confirm)))
        .await
        .expect("confirm the daughter");
    let current = t
        .tracing()
        .get_tracing_request(authed(
            &officer,
            GetTracingRequestRequest {
                id: created.id.clone(),
            },
        ))
        .await
        .expect("get")
        .into_inner();
    assert_eq!(current.status, RequestStatus::MatchProposed as i32);
    assert_eq!(current.sought_children[0].matched_child_id, son);
    let links = t
        .tracing()
        .list_family_links(authed(
            &officer,
            ListFamilyLinksRequest {
                child_id: son.clone(),
            },
        ))
        .await
        .expect("links")
        .into_inner()
        .links;
    assert!(
        links
            .iter()
            .any(|l| l.relation == "mother" && l.relative_name == "Faadumo Cali")
    );
    assert!(
        links
            .iter()
            .any(|l| l.relation == "sibling" && l.relative_child_id == daughter),
        "siblings found through one request are linked: {links:?}"
    );

    // The workflow refuses skipped steps and stale versions.
    let transition = |to: RequestStatus, version: i64| TransitionTracingRequestRequest {
        id: created.id.clone(),
        expected_version: version,
        to: to as i32,
        reason: String::new(),
    };
    let skipped = t
        .tracing()
        .transition_tracing_request(authed(
            &officer,
            transition(RequestStatus::Reunified, current.version),
        ))
        .await
        .expect_err("verification cannot be skipped");
    assert_eq!(skipped.code(), Code::FailedPrecondition);
    let early_follow_up = t
        .tracing()
        .record_follow_up(authed(
            &officer,
            RecordFollowUpRequest {
                id: created.id.clone(),
                expected_version: current.version,
                note: "visit".into(),
            },
        ))
        .await
        .expect_err("follow-ups come after reunification");
    assert_eq!(early_follow_up.code(), Code::FailedPrecondition);
    let verified = t
        .tracing()
        .transition_tracing_request(authed(
            &officer,
            transition(RequestStatus::Verified, current.version),
        ))
        .await
        .expect("verified")
        .into_inner();
    let stale = t
        .tracing()
        .transition_tracing_request(authed(
            &officer,
            transition(RequestStatus::Reunified, current.version),
        ))
        .await
        .expect_err("stale version");
    assert_eq!(stale.code(), Code::FailedPrecondition);
    let reunified = t
        .tracing()
        .transition_tracing_request(authed(
            &officer,
            transition(RequestStatus::Reunified, verified.version),
        ))
        .await
        .expect("reunified")
        .into_inner();
    let visited = t
        .tracing()
        .record_follow_up(authed(
            &officer,
            RecordFollowUpRequest {
                id: created.id.clone(),
                expected_version: reunified.version,
                note: "settled at home".into(),
            },
        ))
        .await
        .expect("follow-up")
        .into_inner();
    assert_eq!(visited.follow_ups.len(), 1);

    // Who may see the request: the agency's supervisor yes, a caseworker who does not own it no.
    let get = |token: &str| {
        authed(
            token,
            GetTracingRequestRequest {
                id: created.id.clone(),
            },
        )
    };
    t.tracing()
        .get_tracing_request(get(&supervisor))
        .await
        .expect("the agency's supervisor reads it");
    let hidden = t
        .tracing()
        .get_tracing_request(get(&colleague))
        .await
        .expect_err("not the caseworker's request");
    assert_eq!(hidden.code(), Code::NotFound);

    // The tombstone: once the son is erased, tracing keeps nothing about him.
    let admin = t.token("admin", "adm", "agency-a");
    identity
        .erase_child(authed(
            &admin,
            EraseChildRequest {
                id: son.clone(),
                reason: "retention rule".into(),
            },
        ))
        .await
        .expect("erase");
    let officer_for_erasure = officer.clone();
    let son_for_erasure = son.clone();
    eventually("the erased son's links gone", || {
        let token = officer_for_erasure.clone();
        let son = son_for_erasure.clone();
        async move {
            tracing
                .tracing()
                .list_family_links(authed(&token, ListFamilyLinksRequest { child_id: son }))
                .await
                .expect("links")
                .into_inner()
                .links
                .is_empty()
        }
    })
    .await;
    t.stop().await;
}

#[tokio::test]
async fn roles_outside_the_protection_world_get_nothing_from_tracing() {
    let t = TestSuite::start().await;
    for (role, sub, agency) in [
        ("educator", "teacher-1", "school-1"),
        ("lms", "lms-client", "school-1"),
        ("auditor", "aud", "agency-a"),
        ("admin", "adm", "agency-a"),
        ("partner", "ngo-client", "agency-p"),
        (
            "tracing_service",
            "service:family-tracing",
            "haven:family-tracing",
        ),
    ] {
        let token = t.token(role, sub, agency);
        let create = t
            .tracing()
            .create_tracing_request(authed(
                &token,
                CreateTracingRequestRequest {
                    request_id: uuid::Uuid::now_v7().to_string(),
                    inquirer: Some(Inquirer {
                        given_name: "Generated".into(),
                        ..Inquirer::default()
                    }),
                    sought_children: vec![sought("A", "B", "", 2015, Sex::Female)],
                },
            ))
            .await
            .expect_err("may not file");
        assert_eq!(create.code(), Code::PermissionDenied, "{role} create");
        let alerts = t
            .tracing()
            .list_alerts(authed(&token, ListAlertsRequest::default()))
            .await
            .expect_err("may not read");
        assert_eq!(alerts.code(), Code::PermissionDenied, "{role} alerts");
        let matches = t
            .tracing()
            .find_matches(authed(
                &token,
                FindMatchesRequest {
                    tracing_request_id: uuid::Uuid::now_v7().to_string(),
                    sought_child_id: uuid::Uuid::now_v7().to_string(),
                    limit: 5,
                },
            ))
            .await
            .expect_err("may not match");
        assert_eq!(matches.code(), Code::PermissionDenied, "{role} matches");
    }
    // Bad input is refused by name, and a retry with the same key files nothing new.
    let officer = t.token("reunification_officer", "ro-a", "agency-a");
    let bad = t
        .tracing()
        .create_tracing_request(authed(
            &officer,
            CreateTracingRequestRequest {
                request_id: "k-1".into(),
                inquirer: None,
                sought_children: vec![],
            },
        ))
        .await
        .expect_err("invalid");
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(bad.message().contains("inquirer") && bad.message().contains("sought_children"));
    let request = CreateTracingRequestRequest {
        request_id: "k-2".into(),
        inquirer: Some(Inquirer {
            given_name: "Generated".into(),
            relation: Relation::Father as i32,
            ..Inquirer::default()
        }),
        sought_children: vec![sought("Sergiy", "Petrenko", "", 2014, Sex::Male)],
    };
    let first = t
        .tracing()
        .create_tracing_request(authed(&officer, request.clone()))
        .await
        .expect("first")
        .into_inner();
    let retry = t
        .tracing()
        .create_tracing_request(authed(&officer, request.clone()))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(first.id, retry.id, "a retry returns the first request");
    let mut changed = request;
    changed.sought_children[0].given_name = "Other".into();
    let reused = t
        .tracing()
        .create_tracing_request(authed(&officer, changed))
        .await
        .expect_err("same key, other body");
    assert_eq!(reused.code(), Code::AlreadyExists);
    t.stop().await;
}
