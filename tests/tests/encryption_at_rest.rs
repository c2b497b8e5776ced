//! Whereabouts and protection are stored sealed under a per-child data key: a raw look at the database
//! finds none of their values, and a ciphertext moved to another child's row does not open there.

use haven_identity::entity::child;
use haven_proto::identity::GetChildRequest;
use haven_tests::fixtures::{CANARY_PHONE, PROTECTED_CANARIES, case_child, register};
use haven_tests::{TestSuite, authed};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};
use tonic::Code;

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[tokio::test]
async fn a_raw_database_dump_holds_no_protected_value() {
    let t = TestSuite::start().await;
    let caseworker = t.token("caseworker", "cw-1", "agency-a");
    let view = t
        .client()
        .register_child(authed(
            &caseworker,
            register(case_child("Canarygiven", "Canaryfamily", true)),
        ))
        .await
        .expect("registered")
        .into_inner();
    let read = t
        .client()
        .get_child(authed(
            &caseworker,
            GetChildRequest {
                id: view.child.and_then(|c| c.meta).expect("meta").id,
            },
        ))
        .await
        .expect("read back")
        .into_inner();
    let whereabouts = read
        .child
        .and_then(|c| c.whereabouts)
        .expect("the owner reads whereabouts");
    assert_eq!(
        whereabouts.phone, CANARY_PHONE,
        "sealed values open for an allowed reader"
    );

    let db = t.identity_db().await;
    let rows = child::Entity::find().all(&db).await.expect("rows");
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert!(
        contains(&row.identity, "Canarygiven"),
        "identity is stored in clear (the scan works)"
    );
    for sealed in [row.whereabouts.as_deref(), row.protection.as_deref()] {
        let sealed = sealed.expect("stored");
        for canary in PROTECTED_CANARIES {
            assert!(
                !contains(sealed, canary),
                "a sealed column holds a protected value"
            );
        }
    }
    if haven_tests::backend() == "sqlite" {
        // Every byte SQLite wrote: the database file and its write-ahead log.
        let mut bytes = Vec::new();
        for name in ["identity.db", "identity.db-wal"] {
            if let Ok(file) = std::fs::read(t.data_dir.join(name)) {
                bytes.extend(file);
            }
        }
        assert!(
            contains(&bytes, "Canarygiven"),
            "the dump scan sees clear identity fields"
        );
        for canary in PROTECTED_CANARIES {
            assert!(
                !contains(&bytes, canary),
                "the raw database files hold {canary}"
            );
        }
    }
    t.stop().await;
}

#[tokio::test]
async fn a_ciphertext_moved_to_another_child_does_not_open() {
    let t = TestSuite::start().await;
    let caseworker = t.token("caseworker", "cw-1", "agency-a");
    let mut ids = Vec::new();
    for name in ["Firstchild", "Secondchild"] {
        let view = t
            .client()
            .register_child(authed(
                &caseworker,
                register(case_child(name, "Sealed", false)),
            ))
            .await
            .expect("registered")
            .into_inner();
        ids.push(view.child.and_then(|c| c.meta).expect("meta").id);
    }
    let db = t.identity_db().await;
    let first = child::Entity::find_by_id(ids[0].clone())
        .one(&db)
        .await
        .expect("q")
        .expect("row");
    child::Entity::update_many()
        .set(child::ActiveModel {
            whereabouts: Set(first.whereabouts.clone()),
            ..Default::default()
        })
        .filter(child::Column::Id.eq(ids[1].clone()))
        .exec(&db)
        .await
        .expect("swap ciphertext");
    let status = t
        .client()
        .get_child(authed(&caseworker, GetChildRequest { id: ids[1].clone() }))
        .await
        .expect_err("another child's ciphertext must not open");
    assert_eq!(status.code(), Code::Internal);
    assert_eq!(status.message(), "internal error");
    t.stop().await;
}
