//! Who may widen a school's reach over a child, through the gateway. "One child, two worlds" (DESIGN.md
//! §3) holds for every path that creates an affiliation, an enrolment, a referral or an assignment: every
//! role tries each such RPC against a consenting case, a private case and a school's learner, and the
//! table below says what each must answer. An educator enrols only a child its school already reaches: one
//! its educators registered, or one the case's owner placed with the school (an education referral, with
//! the child's consent). Anything else answers exactly as a missing child does, and widens nothing.

use std::time::Duration;

use haven_proto::common::DataClass;
use haven_proto::identity::{
    AssignCaseRequest, Child, ChildView, Consent, CreateReferralRequest, GetChildRequest,
    ListChildrenRequest, MergeChildrenRequest, ReferralKind, ReferralStatus, SearchChildrenRequest,
    TransitionReferralRequest,
};
use haven_proto::learning::learning_records_client::LearningRecordsClient;
use haven_proto::learning::{
    EnrolLearnerRequest, GetProgressRequest, IssuePassportRequest, ListEnrolmentsRequest,
    ListLearningRecordsRequest, PassportRecipient,
};
use haven_tests::fixtures::{case_child, id_of, learner, register};
use haven_tests::{TestSuite, authed};
use tonic::transport::Channel;
use tonic::{Code, Status};

/// A case whose consent covers referrals (services and disclosure to other organisations).
fn referable_case(given: &str, family: &str) -> Child {
    let mut child = case_child(given, family, true);
    if let Some(protection) = child.protection.as_mut() {
        protection.consent = Some(Consent {
            consent_for_services: true,
            disclosure_to_other_orgs: true,
            consent_for_tracing: true,
        });
    }
    child
}

fn enrol(child_id: &str) -> EnrolLearnerRequest {
    EnrolLearnerRequest {
        request_id: uuid::Uuid::now_v7().to_string(),
        child_id: child_id.into(),
        programme: "Catch-up class".into(),
        ..EnrolLearnerRequest::default()
    }
}

fn refer(
    child_id: &str,
    to_agency: &str,
    kind: ReferralKind,
    classes: &[DataClass],
) -> CreateReferralRequest {
    CreateReferralRequest {
        request_id: uuid::Uuid::now_v7().to_string(),
        child_id: child_id.into(),
        to_agency: to_agency.into(),
        service: "schooling".into(),
        kind: kind as i32,
        shared_classes: classes.iter().map(|c| *c as i32).collect(),
        consent_override_reason: String::new(),
    }
}

fn code_of<T>(result: &Result<T, Status>) -> Code {
    match result {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

/// Waits until the learning service holds `child_id` as `token` may see it (ListEnrolments answers).
async fn until_learning_sees(
    learning: &mut LearningRecordsClient<Channel>,
    token: &str,
    child_id: &str,
) {
    for _ in 0..200 {
        let seen = learning
            .list_enrolments(authed(
                token,
                ListEnrolmentsRequest {
                    child_id: child_id.into(),
                    ..ListEnrolmentsRequest::default()
                },
            ))
            .await;
        if seen.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the learning service never saw the child");
}

/// The three children each caller tries its hand on, registered afresh for every caller so one caller's
/// success never changes what the next may do.
struct Children {
    consenting: String,
    private: String,
    learner: String,
}

async fn children(t: &TestSuite, n: usize) -> Children {
    let client = t.client();
    let owner = t.token("caseworker", "cw-owner", "agency-a");
    let teacher = t.token("educator", "teacher-1", "school-1");
    let register_as = |token: String, child: Child| {
        let mut client = client.clone();
        async move {
            id_of(
                &client
                    .register_child(authed(&token, register(child)))
                    .await
                    .expect("register")
                    .into_inner(),
            )
        }
    };
    let consenting =
        register_as(owner.clone(), referable_case("Hodan", &format!("Reach{n}"))).await;
    let private = register_as(
        owner.clone(),
        case_child("Sahra", &format!("Reach{n}"), false),
    )
    .await;
    let learner = register_as(teacher.clone(), learner("Faadumo", &format!("Reach{n}"))).await;
    let mut learning = LearningRecordsClient::new(t.channel());
    until_learning_sees(&mut learning, &owner, &consenting).await;
    until_learning_sees(&mut learning, &owner, &private).await;
    until_learning_sees(&mut learning, &teacher, &learner).await;
    Children {
        consenting,
        private,
        learner,
    }
}

/// One caller and what it must get from each RPC that widens somebody's reach.
struct Row {
    role: &'static str,
    sub: &'static str,
    agency: &'static str,
    /// EnrolLearner on the consenting case, the private case and school-1's learner.
    enrol: [Code; 3],
    /// CreateReferral of the consenting case: a service referral to agency-p, a placement with school-9.
    refer: [Code; 2],
    /// AssignCase of the consenting case to cw-colleague.
    assign: Code,
    /// MergeChildren of school-1's learner into the consenting case (which would carry the school's
    /// affiliation onto the case).
    merge: Code,
}

fn rows() -> Vec<Row> {
    use Code::{NotFound as Hidden, Ok, PermissionDenied as Denied};
    let row = |role, sub, agency, enrol, refer, assign| Row {
        role,
        sub,
        agency,
        enrol,
        refer,
        assign,
        // Nobody here may write both records: the case's side cannot see the learner, and the school's
        // side may not write protection.
        merge: if assign == Ok || assign == Hidden {
            Hidden
        } else {
            Denied
        },
    };
    vec![
        row(
            "caseworker",
            "cw-owner",
            "agency-a",
            [Denied; 3],
            [Ok, Ok],
            Ok,
        ),
        row(
            "caseworker",
            "cw-colleague",
            "agency-a",
            [Denied; 3],
            [Hidden, Hidden],
            Hidden,
        ),
        row("supervisor", "sup-a", "agency-a", [Denied; 3], [Ok, Ok], Ok),
        row(
            "supervisor",
            "sup-b",
            "agency-b",
            [Denied; 3],
            [Hidden, Hidden],
            Hidden,
        ),
        row(
            "reunification_officer",
            "ro-a",
            "agency-a",
            [Denied; 3],
            [Denied, Denied],
            Denied,
        ),
        row(
            "reunification_officer",
            "ro-b",
            "agency-b",
            [Denied; 3],
            [Denied, Denied],
            Denied,
        ),
        row(
            "educator",
            "teacher-2",
            "school-1",
            [Hidden, Hidden, Ok],
            [Denied, Denied],
            Denied,
        ),
        row(
            "educator",
            "teacher-9",
            "school-9",
            [Hidden; 3],
            [Denied, Denied],
            Denied,
        ),
        // An educator whose organisation is the case's own agency reaches no case through it.
        row(
            "educator",
            "teacher-a",
            "agency-a",
            [Hidden; 3],
            [Denied, Denied],
            Denied,
        ),
        row(
            "partner",
            "ngo-client",
            "agency-p",
            [Denied; 3],
            [Denied, Denied],
            Denied,
        ),
        row(
            "lms",
            "lms-client",
            "school-1",
            [Denied; 3],
            [Denied, Denied],
            Denied,
        ),
        row(
            "auditor",
            "aud",
            "agency-a",
            [Denied; 3],
            [Denied, Denied],
            Denied,
        ),
        row(
            "admin",
            "adm",
            "agency-a",
            [Denied; 3],
            [Denied, Denied],
            Denied,
        ),
        row(
            "tracing_service",
            "service:family-tracing",
            "haven:family-tracing",
            [Denied; 3],
            [Denied, Denied],
            Denied,
        ),
    ]
}

#[tokio::test]
async fn every_role_against_every_rpc_that_widens_reach() {
    let t = TestSuite::start().await;
    let mut identity = t.client();
    let mut learning = LearningRecordsClient::new(t.channel());
    let mut failures = Vec::new();
    let mut cells = 0;
    for (n, row) in rows().into_iter().enumerate() {
        let kids = children(&t, n).await;
        let token = t.token(row.role, row.sub, row.agency);
        let who = format!("{} {} ({})", row.role, row.sub, row.agency);
        let missing = learning
            .enrol_learner(authed(&token, enrol(&uuid::Uuid::now_v7().to_string())))
            .await;
        for (i, child) in [&kids.consenting, &kids.private, &kids.learner]
            .into_iter()
            .enumerate()
        {
            cells += 1;
            let got = learning.enrol_learner(authed(&token, enrol(child))).await;
            if code_of(&got) != row.enrol[i] {
                failures.push(format!(
                    "{who}: EnrolLearner #{i} gave {:?}, want {:?}",
                    code_of(&got),
                    row.enrol[i]
                ));
            }
            // Refused for want of reach: exactly the answer for a child that does not exist.
            if let (Err(refused), Err(absent)) = (&got, &missing)
                && refused.code() == Code::NotFound
                && (refused.code(), refused.message()) != (absent.code(), absent.message())
            {
                failures.push(format!(
                    "{who}: EnrolLearner #{i} answers unlike a missing child"
                ));
            }
        }
        for (i, request) in [
            refer(
                &kids.consenting,
                "agency-p",
                ReferralKind::Service,
                &[DataClass::Identity],
            ),
            refer(
                &kids.consenting,
                "school-9",
                ReferralKind::Education,
                &[DataClass::Identity],
            ),
        ]
        .into_iter()
        .enumerate()
        {
            cells += 1;
            let got = identity.create_referral(authed(&token, request)).await;
            if code_of(&got) != row.refer[i] {
                failures.push(format!(
                    "{who}: CreateReferral #{i} gave {:?}, want {:?}",
                    code_of(&got),
                    row.refer[i]
                ));
            }
        }
        cells += 1;
        let got = identity
            .assign_case(authed(
                &token,
                AssignCaseRequest {
                    child_id: kids.consenting.clone(),
                    assignee: "cw-colleague".into(),
                    unassign: false,
                },
            ))
            .await;
        if code_of(&got) != row.assign {
            failures.push(format!(
                "{who}: AssignCase gave {:?}, want {:?}",
                code_of(&got),
                row.assign
            ));
        }
        cells += 1;
        let got = identity
            .merge_children(authed(
                &token,
                MergeChildrenRequest {
                    keep_id: kids.consenting.clone(),
                    duplicate_id: kids.learner.clone(),
                    reason: "same child registered twice, per the caregiver".into(),
                },
            ))
            .await;
        if code_of(&got) != row.merge {
            failures.push(format!(
                "{who}: MergeChildren gave {:?}, want {:?}",
                code_of(&got),
                row.merge
            ));
        }
        for result in [&missing] {
            if let Err(status) = result {
                assert_ne!(status.code(), Code::Internal, "{who}: {status:?}");
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {cells} cells wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    t.stop().await;
}

/// What `token` can learn of `id` through the identity RPCs: the classes returned, or NOT_FOUND, and
/// whether list and search show it.
async fn identity_reach(t: &TestSuite, token: &str, id: &str, name: &str) -> (Code, bool, bool) {
    let mut client = t.client();
    let got = client
        .get_child(authed(token, GetChildRequest { id: id.into() }))
        .await;
    let listed = client
        .list_children(authed(token, ListChildrenRequest::default()))
        .await
        .expect("list")
        .into_inner()
        .children
        .iter()
        .any(|view| id_of(view) == id);
    let found = client
        .search_children(authed(
            token,
            SearchChildrenRequest {
                query: name.into(),
                page: None,
            },
        ))
        .await
        .expect("search")
        .into_inner()
        .children
        .iter()
        .any(|view| id_of(view) == id);
    (code_of(&got), listed, found)
}

#[tokio::test]
async fn a_refused_enrolment_widens_nothing_even_after_the_events_settle() {
    let t = TestSuite::start().await;
    let mut client = t.client();
    let mut learning = LearningRecordsClient::new(t.channel());
    let caseworker = t.token("caseworker", "cw-1", "agency-a");
    let intruder = t.token("educator", "edu-t", "school-t");
    let teacher = t.token("educator", "teacher-1", "school-1");
    let case = id_of(
        &client
            .register_child(authed(
                &caseworker,
                register(case_child("Nasteho", "Outofreach", true)),
            ))
            .await
            .expect("case")
            .into_inner(),
    );
    let pupil = id_of(
        &client
            .register_child(authed(&teacher, register(learner("Ayaan", "Otherschool"))))
            .await
            .expect("learner")
            .into_inner(),
    );
    until_learning_sees(&mut learning, &caseworker, &case).await;
    until_learning_sees(&mut learning, &teacher, &pupil).await;
    learning
        .enrol_learner(authed(&teacher, enrol(&pupil)))
        .await
        .expect("school-1 enrols its own learner");

    for id in [&case, &pupil] {
        let refused = learning
            .enrol_learner(authed(&intruder, enrol(id)))
            .await
            .expect_err("out of reach");
        assert_eq!(refused.code(), Code::NotFound);
    }
    // Give the bus time to carry whatever a wrongly accepted enrolment would have raised.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        identity_reach(&t, &intruder, &case, "Nasteho Outofreach").await,
        (Code::NotFound, false, false)
    );
    assert_eq!(
        identity_reach(&t, &intruder, &pupil, "Ayaan Otherschool").await,
        (Code::NotFound, false, false)
    );
    let records = learning
        .list_learning_records(authed(
            &intruder,
            ListLearningRecordsRequest {
                child_id: pupil.clone(),
                page: None,
            },
        ))
        .await
        .expect_err("another school's learner");
    assert_eq!(records.code(), Code::NotFound);
    let progress = learning
        .get_progress(authed(
            &intruder,
            GetProgressRequest {
                child_id: pupil.clone(),
            },
        ))
        .await
        .expect_err("another school's learner");
    assert_eq!(progress.code(), Code::NotFound);
    let passport = learning
        .issue_passport(authed(
            &intruder,
            IssuePassportRequest {
                child_id: pupil.clone(),
                recipient: Some(PassportRecipient {
                    given_name: "Ayaan".into(),
                    family_name: "Otherschool".into(),
                    birth_year: 0,
                    hashed: false,
                }),
                valid_days: 0,
            },
        ))
        .await
        .expect_err("another school's learner");
    assert_eq!(passport.code(), Code::NotFound);
    t.stop().await;
}

fn classes_of(view: &ChildView) -> (bool, bool, bool) {
    let child = view.child.clone().unwrap_or_default();
    (
        child.identity.is_some(),
        child.whereabouts.is_some(),
        child.protection.is_some(),
    )
}

#[tokio::test]
async fn a_caseworker_places_a_child_with_a_school_which_may_then_enrol_it() {
    let t = TestSuite::start().await;
    let mut client = t.client();
    let mut learning = LearningRecordsClient::new(t.channel());
    let owner = t.token("caseworker", "cw-1", "agency-a");
    let teacher = t.token("educator", "teacher-s", "school-s");
    let partner = t.token("partner", "ngo-s", "school-s");
    let case = id_of(
        &client
            .register_child(authed(&owner, register(referable_case("Qamar", "Placed"))))
            .await
            .expect("case")
            .into_inner(),
    );
    let unconsenting = id_of(
        &client
            .register_child(authed(
                &owner,
                register(case_child("Khadra", "Placed", true)),
            ))
            .await
            .expect("case")
            .into_inner(),
    );

    // A placement shares identity only, and needs the child's consent like any referral.
    let wider = client
        .create_referral(authed(
            &owner,
            refer(
                &case,
                "school-s",
                ReferralKind::Education,
                &[DataClass::Identity, DataClass::Whereabouts],
            ),
        ))
        .await
        .expect_err("identity only");
    assert_eq!(wider.code(), Code::InvalidArgument);
    assert!(
        wider.message().contains("shared_classes"),
        "{}",
        wider.message()
    );
    let no_consent = client
        .create_referral(authed(
            &owner,
            refer(
                &unconsenting,
                "school-s",
                ReferralKind::Education,
                &[DataClass::Identity],
            ),
        ))
        .await
        .expect_err("no consent to disclose");
    assert_eq!(no_consent.code(), Code::FailedPrecondition);

    let placement = client
        .create_referral(authed(
            &owner,
            refer(
                &case,
                "school-s",
                ReferralKind::Education,
                &[DataClass::Identity],
            ),
        ))
        .await
        .expect("placed")
        .into_inner();
    assert_eq!(
        placement.status,
        ReferralStatus::Accepted as i32,
        "in force at once"
    );
    assert_eq!(placement.kind, ReferralKind::Education as i32);

    // The school's educators see the child's identity only; the school's partner clients gain nothing.
    let view = client
        .get_child(authed(&teacher, GetChildRequest { id: case.clone() }))
        .await
        .expect("the school reaches the child")
        .into_inner();
    assert_eq!(classes_of(&view), (true, false, false));
    let partner_view = client
        .get_child(authed(&partner, GetChildRequest { id: case.clone() }))
        .await
        .expect_err("a placement is no partner referral");
    assert_eq!(partner_view.code(), Code::NotFound);
    assert_eq!(
        identity_reach(&t, &teacher, &unconsenting, "Khadra Placed").await,
        (Code::NotFound, false, false)
    );

    until_learning_sees(&mut learning, &teacher, &case).await;
    learning
        .enrol_learner(authed(&teacher, enrol(&case)))
        .await
        .expect("the school enrols the placed child");

    // Revoking the placement after the enrolment leaves the school its pupil.
    client
        .transition_referral(authed(
            &owner,
            TransitionReferralRequest {
                id: placement.id.clone(),
                to: ReferralStatus::Revoked as i32,
            },
        ))
        .await
        .expect("revoked");
    // Identity hears of the enrolment through the bus, in whichever order it meets the revocation.
    let mut still = Code::Unknown;
    for _ in 0..200 {
        still = code_of(
            &client
                .get_child(authed(&teacher, GetChildRequest { id: case.clone() }))
                .await,
        );
        if still == Code::Ok {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(still, Code::Ok, "still the school's pupil");
    t.stop().await;
}

#[tokio::test]
async fn a_revoked_placement_ends_the_schools_reach_before_any_enrolment() {
    let t = TestSuite::start().await;
    let mut client = t.client();
    let mut learning = LearningRecordsClient::new(t.channel());
    let owner = t.token("caseworker", "cw-1", "agency-a");
    let receiving_caseworker = t.token("caseworker", "cw-s", "school-s");
    let teacher = t.token("educator", "teacher-s", "school-s");
    let case = id_of(
        &client
            .register_child(authed(
                &owner,
                register(referable_case("Ilhan", "Withdrawn")),
            ))
            .await
            .expect("case")
            .into_inner(),
    );
    let placement = client
        .create_referral(authed(
            &owner,
            refer(
                &case,
                "school-s",
                ReferralKind::Education,
                &[DataClass::Identity],
            ),
        ))
        .await
        .expect("placed")
        .into_inner();
    until_learning_sees(&mut learning, &teacher, &case).await;

    // Nobody on the receiving side moves a placement; only its referrer ends it.
    let accepted = client
        .transition_referral(authed(
            &receiving_caseworker,
            TransitionReferralRequest {
                id: placement.id.clone(),
                to: ReferralStatus::Done as i32,
            },
        ))
        .await
        .expect_err("the referrer's to end");
    assert_eq!(accepted.code(), Code::FailedPrecondition);

    client
        .transition_referral(authed(
            &owner,
            TransitionReferralRequest {
                id: placement.id.clone(),
                to: ReferralStatus::Revoked as i32,
            },
        ))
        .await
        .expect("revoked");
    assert_eq!(
        identity_reach(&t, &teacher, &case, "Ilhan Withdrawn").await,
        (Code::NotFound, false, false)
    );
    // The learning service hears of it through the bus: wait until the school no longer reads the child
    // there, then its enrolment is refused as for a missing child.
    for _ in 0..200 {
        let reads = learning
            .list_enrolments(authed(
                &teacher,
                ListEnrolmentsRequest {
                    child_id: case.clone(),
                    ..ListEnrolmentsRequest::default()
                },
            ))
            .await;
        if code_of(&reads) == Code::NotFound {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let refused = learning.enrol_learner(authed(&teacher, enrol(&case))).await;
    let refused = refused.err();
    let refused = refused.expect("a withdrawn placement no longer lets the school enrol");
    let missing = learning
        .enrol_learner(authed(&teacher, enrol(&uuid::Uuid::now_v7().to_string())))
        .await
        .expect_err("missing");
    assert_eq!(
        (refused.code(), refused.message()),
        (missing.code(), missing.message())
    );
    t.stop().await;
}
