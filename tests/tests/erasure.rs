//! Erasing a child: only with the erase_child permission and a reason; afterwards the child is gone from
//! every RPC, its data key is destroyed, and (on SQLite) no byte of its data is left in the files.

use haven_identity::entity::{child, child_key, erasure, name_key};
use haven_proto::common::DataClass;
use haven_proto::family_tracing::{
    CreateTracingRequestRequest, FindMatchesRequest, Inquirer, SoughtChild,
};
use haven_proto::identity::{
    BreakGlassRequest, CreateReferralRequest, EraseChildRequest, GetChildRequest,
    ListChildrenRequest, MergeChildrenRequest, ReferralKind, SearchChildrenRequest,
};
use haven_tests::fixtures::{
    CANARY_ADDRESS, CANARY_CIRCUMSTANCES, CANARY_LAST_SEEN, CANARY_NOTE_PLACE, CANARY_PHONE,
    case_child, register,
};
use haven_tests::{TestSuite, authed};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tonic::Code;

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[tokio::test]
async fn an_erased_child_is_gone_everywhere_and_its_key_is_destroyed() {
    let t = TestSuite::start().await;
    let mut client = t.client();
    let caseworker = t.token("caseworker", "cw-1", "agency-a");
    let admin = t.token("admin", "admin-1", "hq");
    let view = client
        .register_child(authed(
            &caseworker,
            register(case_child("Erasegiven", "Erasefamily", true)),
        ))
        .await
        .expect("registered")
        .into_inner();
    let id = view.child.and_then(|c| c.meta).expect("meta").id;
    // The child consented to tracing: wait until family tracing holds its identity, so the erasure
    // below has a copy elsewhere to chase.
    let officer = t.token("reunification_officer", "ro-1", "agency-b");
    let request = t
        .tracing()
        .create_tracing_request(authed(
            &officer,
            CreateTracingRequestRequest {
                request_id: uuid::Uuid::now_v7().to_string(),
                inquirer: Some(Inquirer {
                    given_name: "Generated".into(),
                    ..Inquirer::default()
                }),
                // Spelled as an inquirer might: the request is the family's record, not the child's,
                // and must not trip the canary scan below.
                sought_children: vec![SoughtChild {
                    given_name: "Erasegivan".into(),
                    family_name: "Erasefamili".into(),
                    ..SoughtChild::default()
                }],
            },
        ))
        .await
        .expect("tracing request")
        .into_inner();
    let traced = |present: bool| {
        let mut tracing = t.tracing();
        let officer = officer.clone();
        let request = request.clone();
        let id = id.clone();
        async move {
            for _ in 0..100 {
                let found = tracing
                    .find_matches(authed(
                        &officer,
                        FindMatchesRequest {
                            tracing_request_id: request.id.clone(),
                            sought_child_id: request.sought_children[0].id.clone(),
                            limit: 10,
                        },
                    ))
                    .await
                    .expect("find")
                    .into_inner()
                    .candidates
                    .iter()
                    .any(|c| c.child_id == id);
                if found == present {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            panic!("family tracing never reached present={present}");
        }
    };
    traced(true).await;
    let db = t.identity_db().await;
    let wrapped = child_key::Entity::find_by_id(id.clone())
        .one(&db)
        .await
        .expect("q")
        .expect("key")
        .wrapped;

    // Free text about the child elsewhere: a break-glass reason and a consent-override reason.
    let outsider = t.token("supervisor", "sup-b", "agency-b");
    client
        .break_glass(authed(
            &outsider,
            BreakGlassRequest {
                child_id: id.clone(),
                reason: "canary-glass-reason seen near the river".into(),
            },
        ))
        .await
        .expect("break-glass");
    let supervisor = t.token("supervisor", "sup-a", "agency-a");
    client
        .create_referral(authed(
            &supervisor,
            CreateReferralRequest {
                request_id: "erasure-referral".into(),
                child_id: id.clone(),
                to_agency: "ngo-1".into(),
                service: "shelter".into(),
                kind: ReferralKind::Service as i32,
                shared_classes: vec![DataClass::Identity as i32],
                consent_override_reason: "canary-override-reason urgent shelter".into(),
            },
        ))
        .await
        .expect("referral");
    // A duplicate merged into the child leaves a merge record whose reason describes the child.
    let duplicate = client
        .register_child(authed(
            &caseworker,
            register(case_child("Otherdup", "Record", false)),
        ))
        .await
        .expect("duplicate")
        .into_inner();
    client
        .merge_children(authed(
            &caseworker,
            MergeChildrenRequest {
                keep_id: id.clone(),
                duplicate_id: duplicate.child.and_then(|c| c.meta).expect("meta").id,
                reason: "canary-merge-reason registered twice".into(),
            },
        ))
        .await
        .expect("merge");
    let erase = |reason: &str| EraseChildRequest {
        id: id.clone(),
        reason: reason.into(),
    };
    let status = client
        .erase_child(authed(&caseworker, erase("the family asked for erasure")))
        .await
        .expect_err("caseworkers may not erase");
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = client
        .erase_child(authed(&admin, erase("short")))
        .await
        .expect_err("needs a reason");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("reason"));

    client
        .erase_child(authed(
            &admin,
            erase("retention period for closed cases ended"),
        ))
        .await
        .expect("admin erases");
    // The tombstone reaches family tracing, which drops its copy.
    traced(false).await;
    let status = client
        .erase_child(authed(
            &admin,
            erase("retention period for closed cases ended"),
        ))
        .await
        .expect_err("already gone");
    assert_eq!(status.code(), Code::NotFound);

    let status = client
        .get_child(authed(&caseworker, GetChildRequest { id: id.clone() }))
        .await
        .expect_err("gone");
    assert_eq!(status.code(), Code::NotFound);
    let listed = client
        .list_children(authed(&caseworker, ListChildrenRequest::default()))
        .await
        .expect("list")
        .into_inner();
    assert!(listed.children.is_empty());
    let found = client
        .search_children(authed(
            &caseworker,
            SearchChildrenRequest {
                query: "Erasegiven".into(),
                page: None,
            },
        ))
        .await
        .expect("search")
        .into_inner();
    assert!(found.children.is_empty());

    assert!(
        child::Entity::find_by_id(id.clone())
            .one(&db)
            .await
            .expect("q")
            .is_none()
    );
    assert!(
        child_key::Entity::find_by_id(id.clone())
            .one(&db)
            .await
            .expect("q")
            .is_none(),
        "the data key is destroyed"
    );
    let keys = name_key::Entity::find()
        .filter(name_key::Column::ChildId.eq(id.clone()))
        .all(&db)
        .await
        .expect("q");
    assert!(keys.is_empty());
    let record = erasure::Entity::find_by_id(id.clone())
        .one(&db)
        .await
        .expect("q")
        .expect("erasure recorded");
    assert_eq!(record.erased_by, "admin-1");
    assert_eq!(record.reason, "retention period for closed cases ended");

    if haven_tests::backend() == "sqlite" {
        db.close().await.ok();
        // Every service's database files: identity's, and family tracing's copy of the identity.
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(&t.data_dir).expect("data dir") {
            let path = entry.expect("entry").path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if name.contains(".db") {
                bytes.extend(std::fs::read(&path).expect("read database file"));
            }
        }
        for canary in [
            "canary-glass-reason",
            "canary-override-reason",
            "canary-merge-reason",
            "Erasegiven",
            "Erasefamily",
            CANARY_PHONE,
            CANARY_ADDRESS,
            CANARY_NOTE_PLACE,
            CANARY_CIRCUMSTANCES,
            CANARY_LAST_SEEN,
        ] {
            assert!(
                !contains(&bytes, canary.as_bytes()),
                "{canary} survives in the database files"
            );
        }
        assert!(
            !contains(&bytes, &wrapped),
            "the wrapped data key survives in the database files"
        );
    }
    t.stop().await;
}
