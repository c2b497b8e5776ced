//! The fields officers record (issue 16): the name chain field by field, a nickname, a date of birth
//! beside an assessed age, the separation's causes and story, where the child was last seen. They are
//! stored, returned by class, validated by name, matched where they help, and older clients that know
//! only the `birth` oneof and one separation cause keep working.

use std::time::Duration;

use haven_proto::common::{AgeRange, PartialDate};
use haven_proto::family_tracing::{
    CreateTracingRequestRequest, FindMatchesRequest, FindMatchesResponse, Inquirer, MatchBand,
    Relation, SeparationCause as SoughtCause, Sex, SoughtChild, TracingRequest,
};
use haven_proto::identity::{
    Child, GetChildRequest, Identity, ListChildrenRequest, SeparationCause, identity::Birth,
};
use haven_tests::fixtures::{
    CANARY_CIRCUMSTANCES, CANARY_LAST_SEEN, PROTECTED_CANARIES, case_child, id_of, protection,
    recorded_identity, register, update, whereabouts,
};
use haven_tests::{TestSuite, authed};
use prost::Message as _;
use tonic::Code;
use tonic_types::StatusExt as _;

fn recorded_child(consent: bool) -> Child {
    Child {
        identity: Some(recorded_identity(
            "Xaliimo",
            "Cabdullahi",
            "Xasan",
            "Reer Generated",
        )),
        whereabouts: Some(whereabouts()),
        protection: Some(protection(consent)),
        meta: None,
    }
}

fn violation_fields(status: &tonic::Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn recorded_fields_round_trip_and_the_oneof_still_shows_the_birth() {
    let t = TestSuite::start().await;
    let cw = t.token("caseworker", "cw-1", "agency-a");
    let mut client = t.client();
    let sent = recorded_child(false);
    let created = client
        .register_child(authed(&cw, register(sent.clone())))
        .await
        .expect("registered")
        .into_inner();
    let read = client
        .get_child(authed(
            &cw,
            GetChildRequest {
                id: id_of(&created),
            },
        ))
        .await
        .expect("read")
        .into_inner();
    let child = read.child.expect("child");
    let identity = child.identity.expect("identity");
    let wanted = sent.identity.expect("identity");
    assert_eq!(identity.father_name, "Cabdullahi");
    assert_eq!(identity.grandfather_name, "Xasan");
    assert_eq!(identity.nickname, wanted.nickname);
    assert_eq!(
        identity.date_of_birth_recorded,
        wanted.date_of_birth_recorded
    );
    assert_eq!(identity.assessed_age, wanted.assessed_age);
    assert_eq!(
        identity.birth,
        wanted.date_of_birth_recorded.map(Birth::DateOfBirth),
        "an old client reads the date in the oneof"
    );
    let protection = child.protection.expect("protection");
    assert_eq!(
        protection.separation_causes,
        [
            SeparationCause::Displacement as i32,
            SeparationCause::LostInCrowdOrTransit as i32
        ]
    );
    assert_eq!(
        protection.separation_cause,
        SeparationCause::Displacement as i32
    );
    assert_eq!(protection.separation_circumstances, CANARY_CIRCUMSTANCES);
    assert_eq!(protection.last_seen_place, CANARY_LAST_SEEN);
    assert_eq!(
        protection
            .last_seen_location
            .expect("last seen location")
            .admin_path,
        ["XX", "Region 2"]
    );
}

#[tokio::test]
async fn an_old_client_keeps_registering_and_updating_with_the_oneof_and_one_cause() {
    let t = TestSuite::start().await;
    let cw = t.token("caseworker", "cw-1", "agency-a");
    let mut client = t.client();
    // The fixture's identity is what an old client sends: an age estimate in the oneof, no new field.
    let mut old = case_child("Amina", "Yusuf", false);
    if let Some(p) = old.protection.as_mut() {
        p.separation_causes.clear();
        p.separation_circumstances.clear();
        p.last_seen_place.clear();
        p.last_seen_location = None;
    }
    let created = client
        .register_child(authed(&cw, register(old)))
        .await
        .expect("an old client registers")
        .into_inner();
    let child = created.child.clone().expect("child");
    let identity = child.identity.expect("identity");
    let Some(Birth::AgeEstimate(age)) = identity.birth else {
        panic!("the age stays in the oneof: {:?}", identity.birth);
    };
    assert_eq!((age.min_years, age.max_years), (8, 10));
    assert_eq!(
        identity.assessed_age.map(|a| (a.min_years, a.max_years)),
        Some((8, 10))
    );
    assert!(
        identity.assessed_age.and_then(|a| a.assessed_at).is_some(),
        "an age without a time was assessed at registration"
    );
    assert_eq!(
        child.protection.expect("protection").separation_causes,
        [SeparationCause::Displacement as i32]
    );

    // The old client corrects the birth with its oneof path: the recorded date follows.
    let date = PartialDate {
        year: 2015,
        month: Some(7),
        day: None,
        estimated: false,
    };
    let change = Child {
        identity: Some(Identity {
            birth: Some(Birth::DateOfBirth(date)),
            ..Identity::default()
        }),
        protection: Some(haven_proto::identity::ProtectionCase {
            separation_cause: SeparationCause::Abduction as i32,
            ..Default::default()
        }),
        ..Child::default()
    };
    let updated = client
        .update_child(authed(
            &cw,
            update(
                &id_of(&created),
                1,
                &["identity.date_of_birth", "protection.separation_cause"],
                change,
            ),
        ))
        .await
        .expect("an old client updates")
        .into_inner();
    let child = updated.child.expect("child");
    let identity = child.identity.expect("identity");
    assert_eq!(identity.birth, Some(Birth::DateOfBirth(date)));
    assert_eq!(identity.date_of_birth_recorded, Some(date));
    assert_eq!(
        identity.assessed_age.map(|a| a.min_years),
        Some(8),
        "the age is kept beside the date"
    );
    assert_eq!(
        child.protection.expect("protection").separation_causes,
        [SeparationCause::Abduction as i32]
    );
}

#[tokio::test]
async fn bad_recorded_fields_are_refused_by_name_and_write_nothing() {
    let t = TestSuite::start().await;
    let cw = t.token("caseworker", "cw-1", "agency-a");
    let mut client = t.client();
    let mut bad = recorded_child(false);
    if let Some(identity) = bad.identity.as_mut() {
        identity.nickname = "   ".into();
        // The oneof and the recorded date disagree.
        identity.birth = Some(Birth::DateOfBirth(PartialDate {
            year: 2012,
            month: None,
            day: None,
            estimated: false,
        }));
        identity.languages = vec!["so".into(), "so maali".into()];
    }
    if let Some(p) = bad.protection.as_mut() {
        p.separation_causes = vec![SeparationCause::Abduction as i32, 99];
        p.last_seen_place = "x".repeat(3000);
    }
    let status = client
        .register_child(authed(&cw, register(bad)))
        .await
        .expect_err("refused");
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields = violation_fields(&status);
    for field in [
        "child.identity.nickname",
        "child.identity.date_of_birth_recorded",
        "child.identity.languages[1]",
        "child.protection.separation_causes[1]",
        "child.protection.separation_cause",
        "child.protection.last_seen_place",
    ] {
        assert!(fields.iter().any(|f| f == field), "{field} in {fields:?}");
    }
    assert!(
        !status.message().contains("so maali"),
        "the message never echoes a value"
    );
    let listed = client
        .list_children(authed(&cw, ListChildrenRequest::default()))
        .await
        .expect("list")
        .into_inner();
    assert!(listed.children.is_empty(), "nothing was written");
}

async fn find(t: &TestSuite, token: &str, request: &TracingRequest) -> FindMatchesResponse {
    t.tracing()
        .find_matches(authed(
            token,
            FindMatchesRequest {
                tracing_request_id: request.id.clone(),
                sought_child_id: request.sought_children[0].id.clone(),
                limit: 10,
            },
        ))
        .await
        .expect("find matches")
        .into_inner()
}

#[tokio::test]
async fn a_child_recorded_field_by_field_is_found_by_nickname_and_chain_and_shows_no_separation() {
    let t = TestSuite::start().await;
    let cw = t.token("caseworker", "cw-1", "agency-a");
    let officer = t.token("reunification_officer", "ro-b", "agency-b");
    let mut client = t.client();
    let registered = id_of(
        &client
            .register_child(authed(&cw, register(recorded_child(true))))
            .await
            .expect("registered")
            .into_inner(),
    );
    // A sister with the same chain, born years later, is the hard negative.
    let mut sister = recorded_child(true);
    if let Some(identity) = sister.identity.as_mut() {
        identity.given_name = "Hodan".into();
        identity.nickname = "Hodo".into();
        identity.date_of_birth_recorded = Some(PartialDate {
            year: 2020,
            month: None,
            day: None,
            estimated: true,
        });
        identity.assessed_age = None;
    }
    let sister = id_of(
        &client
            .register_child(authed(&cw, register(sister)))
            .await
            .expect("registered")
            .into_inner(),
    );

    // The mother gives the nickname as the given name, the chain packed into the family name the old
    // way, and the age the child had when they were separated.
    let request = t
        .tracing()
        .create_tracing_request(authed(
            &officer,
            CreateTracingRequestRequest {
                request_id: uuid::Uuid::now_v7().to_string(),
                inquirer: Some(Inquirer {
                    given_name: "Generated".into(),
                    family_name: "Mother".into(),
                    relation: Relation::Mother as i32,
                    sex: Sex::Female as i32,
                    languages: vec!["so".into()],
                    ..Inquirer::default()
                }),
                sought_children: vec![SoughtChild {
                    given_name: "Xalo".into(),
                    family_name: "Cabdullahi Xasan".into(),
                    sex: Sex::Female as i32,
                    separated_on: Some(PartialDate {
                        year: 2022,
                        month: Some(6),
                        day: None,
                        estimated: false,
                    }),
                    age_at_separation: Some(AgeRange {
                        min_years: 5,
                        max_years: 6,
                        assessed_at: None,
                    }),
                    separation_causes: vec![SoughtCause::LostInCrowdOrTransit as i32],
                    last_seen_place: "the crossing".into(),
                    languages: vec!["so".into()],
                    nationalities: vec!["SO".into()],
                    ..SoughtChild::default()
                }],
            },
        ))
        .await
        .expect("request filed")
        .into_inner();
    let stored = &request.sought_children[0];
    assert_eq!(stored.age_at_separation.map(|a| a.max_years), Some(6));
    assert_eq!(stored.last_seen_place, "the crossing");

    let mut found = FindMatchesResponse::default();
    for _ in 0..150 {
        found = find(&t, &officer, &request).await;
        if found.candidates.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let top = found.candidates.first().expect("candidates");
    assert_eq!(top.child_id, registered, "{found:?}");
    let band = top.assessment.as_ref().expect("assessment").band;
    assert!(
        band == MatchBand::Likely as i32 || band == MatchBand::Possible as i32,
        "the nickname and the chain carry the match: {found:?}"
    );
    if let Some(sister_at) = found.candidates.iter().find(|c| c.child_id == sister) {
        assert_ne!(
            sister_at.assessment.as_ref().expect("assessment").band,
            MatchBand::Likely as i32,
            "the younger sister is not a likely match"
        );
    }
    let shown = top.identity.as_ref().expect("identity fields");
    assert_eq!(shown.nickname, "Xalo");
    assert_eq!(shown.grandfather_name, "Xasan");
    let bytes = found.encode_to_vec();
    for canary in PROTECTED_CANARIES {
        assert!(
            !bytes.windows(canary.len()).any(|w| w == canary.as_bytes()),
            "{canary} reached a reunification officer before a match was confirmed"
        );
    }
}
