//! The duplicate check at registration: a child registered again under another spelling is flagged,
//! within the registering caller's own scope, with ids, a score and reasons but no values; across
//! agencies, only as a notice naming the agency that holds the record, which the caller may ask for
//! access or a merge, and whose owner answers. Tests here try to get more out of a notice than that.

use haven_platform::streams::IDENTITY_STREAM;
use haven_proto::common::PartialDate;
use haven_proto::events::{Envelope, envelope::Event};
use haven_proto::identity::identity_audit_client::IdentityAuditClient;
use haven_proto::identity::{
    AnswerDuplicateReviewRequest, Child, ChildView, DuplicateReviewKind, DuplicateReviewStatus,
    GetChildRequest, Identity, ListAuditEntriesRequest, RequestDuplicateReviewRequest, Sex,
    identity::Birth,
};
use haven_tests::fixtures::{id_of, protection, register, whereabouts};
use haven_tests::{TestSuite, authed};
use prost::Message as _;
use tonic::Code;

fn child(given: &str, family: &str, born: i32) -> Child {
    Child {
        identity: Some(Identity {
            given_name: given.into(),
            family_name: family.into(),
            sex: Sex::Female as i32,
            birth: Some(Birth::DateOfBirth(PartialDate {
                year: born,
                month: Some(4),
                day: None,
                estimated: false,
            })),
            father_name: "Generated Father".into(),
            ..Identity::default()
        }),
        whereabouts: Some(whereabouts()),
        protection: Some(protection(false)),
        meta: None,
    }
}

#[tokio::test]
async fn a_second_registration_of_one_child_names_the_first_within_the_callers_scope() {
    let t = TestSuite::start().await;
    let mut client = t.client();
    let owner = t.token("caseworker", "cw-1", "agency-a");
    let elsewhere = t.token("caseworker", "cw-9", "agency-b");

    let first = client
        .register_child(authed(
            &owner,
            register(child("Fatima", "Yusuf Ahmed", 2014)),
        ))
        .await
        .expect("first")
        .into_inner();
    assert!(
        first.possible_duplicates.is_empty(),
        "nothing to compare with yet"
    );
    let first_id = id_of(&first);
    client
        .register_child(authed(&owner, register(child("Nasra", "Ali Hassan", 2010))))
        .await
        .expect("someone else");

    let again = client
        .register_child(authed(
            &owner,
            register(child("Faadumo", "Yuusuf Axmed", 2014)),
        ))
        .await
        .expect("again")
        .into_inner();
    assert_eq!(
        again
            .possible_duplicates
            .iter()
            .map(|d| d.child_id.as_str())
            .collect::<Vec<_>>(),
        vec![first_id.as_str()],
        "the first registration, and only it"
    );
    let duplicate = &again.possible_duplicates[0];
    assert!(duplicate.score > 0.2 && duplicate.score <= 1.0);
    assert!(
        duplicate
            .reasons
            .iter()
            .any(|r| r.starts_with("given_name:")),
        "{:?}",
        duplicate.reasons
    );
    assert!(
        duplicate.reasons.iter().all(|r| !r.contains("Fatima")),
        "reasons never carry the other record's values"
    );

    // Another agency's caseworker cannot see the first record, so it is not named to them.
    let outside = client
        .register_child(authed(
            &elsewhere,
            register(child("Fatima", "Yusuf Ahmed", 2014)),
        ))
        .await
        .expect("other agency")
        .into_inner();
    assert!(outside.possible_duplicates.is_empty());
    t.stop().await;
}

// --- across agencies (issue 16, round 4) ---

/// A protection-world caller's view of who else holds the child: the notices alone.
fn notices(view: &ChildView) -> Vec<(String, String)> {
    view.duplicate_notices
        .iter()
        .map(|n| (n.notice_id.clone(), n.owner_agency.clone()))
        .collect()
}

fn contains(bytes: &[u8], needle: &str) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn another_agency_learns_only_that_a_likely_duplicate_exists_and_who_holds_it() {
    let t = TestSuite::start().await;
    let mut client = t.client();
    let owner = t.token("caseworker", "cw-owner-1", "agency-a");
    let elsewhere = t.token("caseworker", "cw-9", "agency-b");
    let teacher = t.token("educator", "teacher-1", "school-1");

    let first = client
        .register_child(authed(
            &owner,
            register(child("Fatima", "Yusuf Ahmed", 2014)),
        ))
        .await
        .expect("first")
        .into_inner();
    let first_id = id_of(&first);
    assert!(first.duplicate_notices.is_empty());

    let again = client
        .register_child(authed(
            &elsewhere,
            register(child("Faadumo", "Yuusuf Axmed", 2014)),
        ))
        .await
        .expect("again elsewhere")
        .into_inner();
    assert!(
        again.possible_duplicates.is_empty(),
        "the record itself is never named across agencies"
    );
    let found = notices(&again);
    assert_eq!(found.len(), 1, "{:?}", again.duplicate_notices);
    let (notice_id, owner_agency) = &found[0];
    assert_eq!(owner_agency, "agency-a");
    assert_ne!(notice_id, &first_id, "the notice is not the record's id");
    // Nothing of the other record is in the answer: no id, name or owner.
    let bytes = again.encode_to_vec();
    for secret in [first_id.as_str(), "Fatima", "cw-owner-1"] {
        assert!(
            !contains(&bytes, secret),
            "{secret} leaked through a notice"
        );
    }
    // The notice id opens nothing.
    let status = client
        .get_child(authed(
            &elsewhere,
            GetChildRequest {
                id: notice_id.clone(),
            },
        ))
        .await
        .expect_err("a notice is not a record");
    assert_eq!(status.code(), Code::NotFound);

    // A retried registration gets the same notice, not a second one.
    let retry = register(child("Faadumo", "Yuusuf Axmed", 2014));
    let once = client
        .register_child(authed(&elsewhere, retry.clone()))
        .await
        .expect("once")
        .into_inner();
    let twice = client
        .register_child(authed(&elsewhere, retry))
        .await
        .expect("twice")
        .into_inner();
    assert_eq!(notices(&once), notices(&twice));

    // An educator is outside the protection world: that another agency knows the child is not theirs.
    let learner = client
        .register_child(authed(
            &teacher,
            haven_tests::fixtures::register(Child {
                whereabouts: None,
                protection: None,
                ..child("Fatima", "Yusuf Ahmed", 2014)
            }),
        ))
        .await
        .expect("learner")
        .into_inner();
    assert!(learner.duplicate_notices.is_empty());
    assert!(learner.possible_duplicates.is_empty());
    t.stop().await;
}

#[tokio::test]
async fn a_sister_registered_by_another_agency_is_not_a_duplicate() {
    let t = TestSuite::start().await;
    let mut client = t.client();
    let owner = t.token("caseworker", "cw-1", "agency-a");
    let elsewhere = t.token("caseworker", "cw-9", "agency-b");
    client
        .register_child(authed(
            &owner,
            register(child("Fatima", "Yusuf Ahmed", 2014)),
        ))
        .await
        .expect("first");
    // Same father, grandfather and family name, another given name, two years younger.
    let sister = client
        .register_child(authed(
            &elsewhere,
            register(child("Nasra", "Yusuf Ahmed", 2016)),
        ))
        .await
        .expect("sister")
        .into_inner();
    assert!(
        sister.duplicate_notices.is_empty(),
        "{:?}",
        sister.duplicate_notices
    );
    t.stop().await;
}

#[tokio::test]
async fn the_owner_answers_a_review_and_only_then_the_asker_learns_the_record() {
    let t = TestSuite::start().await;
    let mut client = t.client();
    let owner = t.token("caseworker", "cw-1", "agency-a");
    let owner_colleague = t.token("caseworker", "cw-2", "agency-a");
    let asker = t.token("caseworker", "cw-9", "agency-b");
    let asker_colleague = t.token("caseworker", "cw-8", "agency-b");
    let third = t.token("supervisor", "sup-c", "agency-c");
    let auditor = t.token("auditor", "auditor-1", "oversight");
    let start = t
        .suite
        .bus
        .last_position(IDENTITY_STREAM)
        .await
        .expect("stream position");

    let first_id = id_of(
        &client
            .register_child(authed(
                &owner,
                register(child("Fatima", "Yusuf Ahmed", 2014)),
            ))
            .await
            .expect("first")
            .into_inner(),
    );
    let again = client
        .register_child(authed(
            &asker,
            register(child("Fatima", "Yusuf Ahmed", 2014)),
        ))
        .await
        .expect("again")
        .into_inner();
    let again_id = id_of(&again);
    let notice_id = again.duplicate_notices[0].notice_id.clone();

    let ask = |token: &str, request_id: &str, reason: &str| {
        let mut client = client.clone();
        let request = RequestDuplicateReviewRequest {
            request_id: request_id.into(),
            notice_id: notice_id.clone(),
            kind: DuplicateReviewKind::Access as i32,
            reason: reason.into(),
        };
        let token = token.to_owned();
        async move {
            client
                .request_duplicate_review(authed(&token, request))
                .await
        }
    };
    // Nobody but the caller who may write the new case can ask with its notice.
    for (who, token) in [
        ("another agency", &third),
        ("the owner's agency", &owner),
        ("a colleague without the case", &asker_colleague),
    ] {
        let status = ask(token, "probe-1", "same names and date of birth")
            .await
            .expect_err(who);
        assert_eq!(status.code(), Code::NotFound, "{who}");
    }
    let status = ask(&asker, "short-1", "short")
        .await
        .expect_err("too short");
    assert_eq!(status.code(), Code::InvalidArgument);

    let pending = ask(&asker, "ask-1", "same names and date of birth")
        .await
        .expect("asked")
        .into_inner();
    assert_eq!(pending.status, DuplicateReviewStatus::Pending as i32);
    assert_eq!(pending.owner_agency, "agency-a");
    assert_eq!(pending.child_id, again_id);
    assert!(
        pending.duplicate_child_id.is_empty(),
        "the record is not named before the owner agrees"
    );
    let retried = ask(&asker, "ask-1", "same names and date of birth")
        .await
        .expect("a retry")
        .into_inner();
    assert_eq!(retried.id, pending.id);
    let status = ask(&asker, "ask-2", "asked a second time, differently")
        .await
        .expect_err("one review per notice");
    assert_eq!(status.code(), Code::FailedPrecondition);

    // The owning agency is told, by ids only.
    let mut told = None;
    for _ in 0..40 {
        told = t
            .suite
            .bus
            .read_after(IDENTITY_STREAM, &start, 10_000)
            .await
            .expect("read")
            .into_iter()
            .filter_map(|entry| Envelope::decode(entry.payload.as_slice()).ok())
            .find_map(|envelope| match envelope.event {
                Some(Event::DuplicateReviewRequested(e)) => Some(e),
                _ => None,
            });
        if told.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let told = told.expect("the owner is notified");
    assert_eq!(told.review_id, pending.id);
    assert_eq!(told.owner_agency, "agency-a");
    assert_eq!(told.requesting_agency, "agency-b");

    let answer = |token: &str, to: DuplicateReviewStatus| {
        let mut client = client.clone();
        let request = AnswerDuplicateReviewRequest {
            id: pending.id.clone(),
            answer: to as i32,
            reason: "the records describe one child".into(),
        };
        let token = token.to_owned();
        async move {
            client
                .answer_duplicate_review(authed(&token, request))
                .await
        }
    };
    // Only someone who may write the owner's case answers.
    for (who, token) in [
        ("the asker", &asker),
        ("another agency", &third),
        (
            "a colleague of the owner without the case",
            &owner_colleague,
        ),
    ] {
        let status = answer(token, DuplicateReviewStatus::Accepted)
            .await
            .expect_err(who);
        assert_eq!(status.code(), Code::NotFound, "{who}");
    }
    let accepted = answer(&owner, DuplicateReviewStatus::Accepted)
        .await
        .expect("answered")
        .into_inner();
    assert_eq!(accepted.status, DuplicateReviewStatus::Accepted as i32);
    assert_eq!(accepted.duplicate_child_id, first_id);
    let status = answer(&owner, DuplicateReviewStatus::Declined)
        .await
        .expect_err("answered once");
    assert_eq!(status.code(), Code::FailedPrecondition);

    // Both records' trails show the request and the answer.
    let mut audit = IdentityAuditClient::new(t.channel());
    for (record, want) in [(&first_id, "cw-9"), (&again_id, "cw-9")] {
        let entries = audit
            .list_audit_entries(authed(
                &auditor,
                ListAuditEntriesRequest {
                    record_id: record.clone(),
                    ..ListAuditEntriesRequest::default()
                },
            ))
            .await
            .expect("audit")
            .into_inner()
            .entries;
        let actions: Vec<(String, String)> = entries
            .iter()
            .map(|e| (e.actor.clone(), e.action.clone()))
            .collect();
        assert!(
            actions.contains(&(want.to_owned(), "duplicate-review-request".to_owned())),
            "{actions:?}"
        );
        assert!(
            actions.contains(&("cw-1".to_owned(), "duplicate-review-answer".to_owned())),
            "{actions:?}"
        );
    }
    t.stop().await;
}
