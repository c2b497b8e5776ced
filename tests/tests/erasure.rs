//! Erasing a child: only with the erase_child permission and a reason; afterwards the child is gone from
//! every RPC, its data key is destroyed, and (on SQLite) no byte of its data is left in the files.

use haven_identity::entity::{child, child_key, erasure, name_key};
use haven_proto::common::DataClass;
use haven_proto::identity::{
    BreakGlassRequest, CreateReferralRequest, EraseChildRequest, GetChildRequest,
    ListChildrenRequest, ReferralKind, SearchChildrenRequest,
};
use haven_tests::fixtures::{
    CANARY_ADDRESS, CANARY_NOTE_PLACE, CANARY_PHONE, case_child, register,
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
        let mut bytes = Vec::new();
        for name in ["identity.db", "identity.db-wal"] {
            if let Ok(file) = std::fs::read(t.data_dir.join(name)) {
                bytes.extend(file);
            }
        }
        for canary in [
            "canary-glass-reason",
            "canary-override-reason",
            "Erasegiven",
            "Erasefamily",
            CANARY_PHONE,
            CANARY_ADDRESS,
            CANARY_NOTE_PLACE,
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
