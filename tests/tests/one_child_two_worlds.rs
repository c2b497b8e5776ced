//! "One child, two worlds" (DESIGN.md §3): an educator can never obtain a whereabouts or protection
//! field, nor tell whether a learner has a protection case, by any RPC, error, version or count.

use haven_proto::identity::{
    Child, GetChildRequest, ListChildrenRequest, SearchChildrenRequest, UpdateChildRequest,
};
use haven_tests::fixtures::{
    CANARY_ADDRESS, CANARY_NOTE_PLACE, CANARY_PHONE, case_child, id_of, learner, protection,
    register, whereabouts,
};
use haven_tests::{TestSuite, authed};
use prost::Message as _;
use tonic::Code;

fn assert_no_canary(bytes: &[u8], context: &str) {
    let text = String::from_utf8_lossy(bytes);
    for canary in [CANARY_PHONE, CANARY_ADDRESS, CANARY_NOTE_PLACE] {
        assert!(!text.contains(canary), "{context} leaked a protected value");
    }
}

#[tokio::test]
async fn an_educator_cannot_tell_that_a_learner_gained_a_protection_case() {
    let t = TestSuite::start().await;
    let mut client = t.client();
    let teacher = t.token("educator", "teacher-1", "school-1");
    // A supervisor of the same organisation runs its protection programme.
    let supervisor = t.token("supervisor", "sup-1", "school-1");
    let with_case = client
        .register_child(authed(&teacher, register(learner("Ubah", "Twoworlds"))))
        .await
        .expect("r")
        .into_inner();
    let without_case = client
        .register_child(authed(&teacher, register(learner("Idil", "Twoworlds"))))
        .await
        .expect("r")
        .into_inner();

    let snapshot =
        |client: &mut haven_proto::identity::child_identity_client::ChildIdentityClient<_>| {
            let mut client = client.clone();
            let teacher = teacher.clone();
            let ids = [id_of(&with_case), id_of(&without_case)];
            async move {
                let mut bytes = Vec::new();
                for id in ids {
                    let view = client
                        .get_child(authed(&teacher, GetChildRequest { id }))
                        .await
                        .expect("read")
                        .into_inner();
                    bytes.push(view.encode_to_vec());
                }
                let list = client
                    .list_children(authed(&teacher, ListChildrenRequest::default()))
                    .await
                    .expect("list")
                    .into_inner();
                bytes.push(list.encode_to_vec());
                let search = client
                    .search_children(authed(
                        &teacher,
                        SearchChildrenRequest {
                            query: "Twoworlds".into(),
                            page: None,
                        },
                    ))
                    .await
                    .expect("search")
                    .into_inner();
                bytes.push(search.encode_to_vec());
                bytes
            }
        };
    let before = snapshot(&mut client).await;

    let current = client
        .get_child(authed(
            &supervisor,
            GetChildRequest {
                id: id_of(&with_case),
            },
        ))
        .await
        .expect("supervisor sees the learner")
        .into_inner();
    let version = current.child.and_then(|c| c.meta).expect("meta").version;
    client
        .update_child(authed(
            &supervisor,
            UpdateChildRequest {
                id: id_of(&with_case),
                expected_version: version,
                child: Some(Child {
                    whereabouts: Some(whereabouts()),
                    protection: Some(protection(true)),
                    ..Child::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["whereabouts".into(), "protection".into()],
                }),
            },
        ))
        .await
        .expect("supervisor opens a case");

    let after = snapshot(&mut client).await;
    assert_eq!(
        before, after,
        "the educator's every response is byte-identical before and after the case opened"
    );
    for bytes in &after {
        assert_no_canary(bytes, "an educator read");
    }

    // Writing protection is refused by role, with the same words for both learners.
    let mut messages = Vec::new();
    for view in [&with_case, &without_case] {
        let status = client
            .update_child(authed(
                &teacher,
                UpdateChildRequest {
                    id: id_of(view),
                    expected_version: 1,
                    child: Some(Child {
                        protection: Some(protection(false)),
                        ..Child::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["protection.consent".into()],
                    }),
                },
            ))
            .await
            .expect_err("educators never write protection");
        assert_eq!(status.code(), Code::PermissionDenied);
        messages.push(status.message().to_owned());
    }
    assert_eq!(messages[0], messages[1]);
    t.stop().await;
}

#[tokio::test]
async fn a_case_outside_the_educators_school_is_indistinguishable_from_no_record() {
    let t = TestSuite::start().await;
    let mut client = t.client();
    let caseworker = t.token("caseworker", "cw-1", "agency-a");
    let teacher = t.token("educator", "teacher-1", "school-1");
    let case = client
        .register_child(authed(
            &caseworker,
            register(case_child("Warsan", "Hidden", true)),
        ))
        .await
        .expect("case")
        .into_inner();
    let existing = client
        .get_child(authed(&teacher, GetChildRequest { id: id_of(&case) }))
        .await
        .expect_err("not in the educator's scope");
    let missing = client
        .get_child(authed(
            &teacher,
            GetChildRequest {
                id: uuid::Uuid::now_v7().to_string(),
            },
        ))
        .await
        .expect_err("no such child");
    assert_eq!(existing.code(), Code::NotFound);
    assert_eq!(
        (existing.code(), existing.message()),
        (missing.code(), missing.message())
    );

    let update = |id: String| UpdateChildRequest {
        id,
        expected_version: 1,
        child: Some(learner("Warsan", "Hidden")),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["identity.given_name".into()],
        }),
    };
    let existing = client
        .update_child(authed(&teacher, update(id_of(&case))))
        .await
        .expect_err("hidden");
    let missing = client
        .update_child(authed(&teacher, update(uuid::Uuid::now_v7().to_string())))
        .await
        .expect_err("missing");
    assert_eq!(
        (existing.code(), existing.message()),
        (missing.code(), missing.message())
    );

    let found = client
        .search_children(authed(
            &teacher,
            SearchChildrenRequest {
                query: "Warsan Hidden".into(),
                page: None,
            },
        ))
        .await
        .expect("search")
        .into_inner();
    assert!(
        found.children.is_empty(),
        "search never reveals a case to an educator"
    );
    let listed = client
        .list_children(authed(&teacher, ListChildrenRequest::default()))
        .await
        .expect("list")
        .into_inner();
    assert!(listed.children.is_empty());
    t.stop().await;
}
