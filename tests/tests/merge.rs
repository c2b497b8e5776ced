//! MergeChildren: a duplicate registration is folded into the record that is kept. The duplicate is
//! gone (its data key destroyed), a retried registration of it answers with the kept child, and family
//! tracing moves a confirmed match from the duplicate to the kept record through ChildMerged.

use std::time::Duration;

use haven_proto::family_tracing::{
    CreateTracingRequestRequest, Decision, FindMatchesRequest, GetTracingRequestRequest, Inquirer,
    ListFamilyLinksRequest, Relation, ReviewMatchRequest, SoughtChild,
};
use haven_proto::identity::{GetChildRequest, MergeChildrenRequest};
use haven_tests::fixtures::{case_child, id_of, register};
use haven_tests::{TestSuite, authed};
use tonic::Code;

#[tokio::test]
async fn a_merged_duplicate_disappears_and_its_confirmed_match_moves_to_the_kept_child() {
    let t = TestSuite::start().await;
    let mut identity = t.client();
    let caseworker = t.token("caseworker", "cw-1", "agency-a");
    let stranger = t.token("caseworker", "cw-9", "agency-b");
    let officer = t.token("reunification_officer", "ro-1", "agency-b");
    let educator = t.token("educator", "teacher-1", "school-1");

    let keep = id_of(
        &identity
            .register_child(authed(
                &caseworker,
                register(case_child("Amina", "Yusuf", true)),
            ))
            .await
            .expect("kept record")
            .into_inner(),
    );
    let duplicate_request = register(case_child("Aamina", "Yuusuf", true));
    let duplicate = id_of(
        &identity
            .register_child(authed(&caseworker, duplicate_request.clone()))
            .await
            .expect("duplicate")
            .into_inner(),
    );

    // A mother's request is confirmed against the duplicate before anyone notices it is one.
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
                    ..Inquirer::default()
                }),
                sought_children: vec![SoughtChild {
                    given_name: "Aamina".into(),
                    family_name: "Yuusuf".into(),
                    ..SoughtChild::default()
                }],
            },
        ))
        .await
        .expect("request")
        .into_inner();
    let find = FindMatchesRequest {
        tracing_request_id: request.id.clone(),
        sought_child_id: request.sought_children[0].id.clone(),
        limit: 10,
    };
    let mut offered = false;
    for _ in 0..100 {
        offered = t
            .tracing()
            .find_matches(authed(&officer, find.clone()))
            .await
            .expect("find")
            .into_inner()
            .candidates
            .iter()
            .any(|c| c.child_id == duplicate);
        if offered {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(offered, "the duplicate reached family tracing");
    t.tracing()
        .review_match(authed(
            &officer,
            ReviewMatchRequest {
                tracing_request_id: request.id.clone(),
                sought_child_id: request.sought_children[0].id.clone(),
                child_id: duplicate.clone(),
                decision: Decision::Confirm as i32,
                reason: "mother recognised the registration".into(),
            },
        ))
        .await
        .expect("confirm");

    let merge = |keep_id: &str, duplicate_id: &str, reason: &str| MergeChildrenRequest {
        keep_id: keep_id.into(),
        duplicate_id: duplicate_id.into(),
        reason: reason.into(),
    };
    let refused = identity
        .merge_children(authed(
            &stranger,
            merge(&keep, &duplicate, "same child registered twice"),
        ))
        .await
        .expect_err("another agency cannot see either record");
    assert_eq!(refused.code(), Code::NotFound);
    let refused = identity
        .merge_children(authed(
            &educator,
            merge(&keep, &duplicate, "same child registered twice"),
        ))
        .await
        .expect_err("educators never merge cases");
    assert_eq!(refused.code(), Code::PermissionDenied);
    let invalid = identity
        .merge_children(authed(
            &caseworker,
            merge(&keep, &keep, "same child registered twice"),
        ))
        .await
        .expect_err("a record is not its own duplicate");
    assert_eq!(invalid.code(), Code::InvalidArgument);
    let invalid = identity
        .merge_children(authed(&caseworker, merge(&keep, &duplicate, "short")))
        .await
        .expect_err("a reason is required");
    assert_eq!(invalid.code(), Code::InvalidArgument);

    let kept = identity
        .merge_children(authed(
            &caseworker,
            merge(
                &keep,
                &duplicate,
                "same child registered twice at two sites",
            ),
        ))
        .await
        .expect("merge")
        .into_inner();
    assert_eq!(id_of(&kept), keep);
    let gone = identity
        .get_child(authed(
            &caseworker,
            GetChildRequest {
                id: duplicate.clone(),
            },
        ))
        .await
        .expect_err("the duplicate is gone");
    assert_eq!(gone.code(), Code::NotFound);
    let retried = identity
        .register_child(authed(&caseworker, duplicate_request))
        .await
        .expect("a retried registration of the duplicate")
        .into_inner();
    assert_eq!(id_of(&retried), keep, "answers with the kept child");
    let again = identity
        .merge_children(authed(
            &caseworker,
            merge(
                &keep,
                &duplicate,
                "same child registered twice at two sites",
            ),
        ))
        .await
        .expect_err("already merged");
    assert_eq!(again.code(), Code::NotFound);

    // Family tracing follows ChildMerged: the confirmed match and the family link name the kept child.
    let mut moved = false;
    for _ in 0..100 {
        let current = t
            .tracing()
            .get_tracing_request(authed(
                &officer,
                GetTracingRequestRequest {
                    id: request.id.clone(),
                },
            ))
            .await
            .expect("get")
            .into_inner();
        moved = current.sought_children[0].matched_child_id == keep;
        if moved {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(moved, "the confirmed match moved to the kept child");
    let links = t
        .tracing()
        .list_family_links(authed(
            &officer,
            ListFamilyLinksRequest {
                child_id: keep.clone(),
            },
        ))
        .await
        .expect("links")
        .into_inner()
        .links;
    assert!(links.iter().any(|l| l.relation == "mother"), "{links:?}");
    let candidates = t
        .tracing()
        .find_matches(authed(&officer, find))
        .await
        .expect("find")
        .into_inner()
        .candidates;
    assert!(candidates.iter().all(|c| c.child_id != duplicate));
    t.stop().await;
}
