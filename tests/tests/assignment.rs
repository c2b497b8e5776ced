//! Case assignment: a caseworker assigned to a case works it like its owner until unassigned.

use haven_proto::identity::{AssignCaseRequest, Child, GetChildRequest};
use haven_tests::fixtures::{case_child, id_of, protection, register, update};
use haven_tests::{TestSuite, authed};
use tonic::Code;

#[tokio::test]
async fn an_assigned_caseworker_works_the_case_until_unassigned() {
    let t = TestSuite::start().await;
    let mut client = t.client();
    let owner = t.token("caseworker", "cw-1", "agency-a");
    let colleague = t.token("caseworker", "cw-2", "agency-a");
    let stranger = t.token("caseworker", "cw-3", "agency-a");
    let teacher = t.token("educator", "teacher-1", "school-1");
    let id = id_of(
        &client
            .register_child(authed(
                &owner,
                register(case_child("Assigned", "Case", false)),
            ))
            .await
            .expect("r")
            .into_inner(),
    );
    let get = || GetChildRequest { id: id.clone() };
    let assign = |unassign: bool| AssignCaseRequest {
        child_id: id.clone(),
        assignee: "cw-2".into(),
        unassign,
    };

    assert_eq!(
        client
            .get_child(authed(&colleague, get()))
            .await
            .expect_err("not yet")
            .code(),
        Code::NotFound
    );
    assert_eq!(
        client
            .assign_case(authed(&stranger, assign(false)))
            .await
            .expect_err("not theirs")
            .code(),
        Code::NotFound
    );
    assert_eq!(
        client
            .assign_case(authed(&teacher, assign(false)))
            .await
            .expect_err("educators")
            .code(),
        Code::PermissionDenied
    );

    let assigned = client
        .assign_case(authed(&owner, assign(false)))
        .await
        .expect("assigned")
        .into_inner();
    assert_eq!(assigned.assignees, vec!["cw-2".to_string()]);
    let view = client
        .get_child(authed(&colleague, get()))
        .await
        .expect("assigned sees it")
        .into_inner();
    assert!(view.child.and_then(|c| c.protection).is_some());
    let change = Child {
        protection: Some(protection(true)),
        ..Child::default()
    };
    client
        .update_child(authed(
            &colleague,
            update(&id, 1, &["protection.consent"], change),
        ))
        .await
        .expect("assigned writes it");

    let unassigned = client
        .assign_case(authed(&owner, assign(true)))
        .await
        .expect("unassigned")
        .into_inner();
    assert!(unassigned.assignees.is_empty());
    assert_eq!(
        client
            .get_child(authed(&colleague, get()))
            .await
            .expect_err("no longer")
            .code(),
        Code::NotFound
    );
    t.stop().await;
}

#[tokio::test]
async fn a_case_assigned_across_agencies_stays_closed_and_a_namesake_elsewhere_sees_nothing() {
    let t = TestSuite::start().await;
    let mut client = t.client();
    let owner = t.token("caseworker", "cw-1", "agency-a");
    let elsewhere = t.token("caseworker", "cw-x", "agency-b");
    let namesake = t.token("caseworker", "cw-1", "agency-b");
    let id = id_of(
        &client
            .register_child(authed(
                &owner,
                register(case_child("Shared", "Sideways", false)),
            ))
            .await
            .expect("r")
            .into_inner(),
    );
    client
        .assign_case(authed(
            &owner,
            AssignCaseRequest {
                child_id: id.clone(),
                assignee: "cw-x".into(),
                unassign: false,
            },
        ))
        .await
        .expect("the assignment is recorded");
    for token in [&elsewhere, &namesake] {
        let status = client
            .get_child(authed(token, GetChildRequest { id: id.clone() }))
            .await
            .expect_err("sharing across agencies goes through referrals");
        assert_eq!(status.code(), Code::NotFound);
    }
    t.stop().await;
}
