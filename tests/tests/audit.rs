//! The audit log: every read and write of a child leaves an entry, entries are hash-chained, and they
//! never hold protected values.

use haven_platform::audit::{ChainReport, log, verify_chain};
use haven_proto::identity::{GetChildRequest, ListChildrenRequest};
use haven_tests::fixtures::{
    CANARY_ADDRESS, CANARY_NOTE_PLACE, CANARY_PHONE, case_child, register,
};
use haven_tests::{TestSuite, authed};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

#[tokio::test]
async fn reads_and_writes_are_audited_in_an_intact_chain() {
    let t = TestSuite::start().await;
    let mut client = t.client();
    let caseworker = t.token("caseworker", "cw-audit", "agency-a");
    let supervisor = t.token("supervisor", "sup-audit", "agency-a");
    let view = client
        .register_child(authed(
            &caseworker,
            register(case_child("Ladan", "Audited", false)),
        ))
        .await
        .expect("registered")
        .into_inner();
    let id = view.child.and_then(|c| c.meta).expect("meta").id;
    client
        .get_child(authed(&supervisor, GetChildRequest { id: id.clone() }))
        .await
        .expect("read");
    client
        .list_children(authed(&supervisor, ListChildrenRequest::default()))
        .await
        .expect("list");

    let db = t.identity_db().await;
    let entries = log::Entity::find()
        .filter(log::Column::RecordId.eq(id.clone()))
        .order_by_asc(log::Column::Seq)
        .all(&db)
        .await
        .expect("audit rows");
    let actions: Vec<(&str, &str, &str)> = entries
        .iter()
        .map(|e| (e.action.as_str(), e.actor.as_str(), e.classes.as_str()))
        .collect();
    assert_eq!(
        actions,
        vec![
            ("create", "cw-audit", "identity,whereabouts,protection"),
            ("read", "sup-audit", "identity,whereabouts,protection"),
            ("list", "sup-audit", "identity,whereabouts,protection"),
        ]
    );
    assert!(
        entries
            .iter()
            .all(|e| e.rpc.starts_with("/haven.identity.v1.ChildIdentity/"))
    );

    let all = log::Entity::find().all(&db).await.expect("rows");
    for entry in &all {
        let text = format!("{entry:?}");
        for canary in [
            CANARY_PHONE,
            CANARY_ADDRESS,
            CANARY_NOTE_PLACE,
            "Ladan",
            "Audited",
        ] {
            assert!(!text.contains(canary), "audit entries hold no child data");
        }
    }
    assert_eq!(
        verify_chain(&db).await.expect("verify"),
        ChainReport::Intact {
            entries: all.len() as u64
        }
    );
    t.stop().await;
}

#[tokio::test]
async fn an_edited_audit_entry_breaks_the_chain() {
    let t = TestSuite::start().await;
    let mut client = t.client();
    let caseworker = t.token("caseworker", "cw-audit", "agency-a");
    for name in ["Ayan", "Deqa", "Filsan"] {
        client
            .register_child(authed(
                &caseworker,
                register(case_child(name, "Chained", false)),
            ))
            .await
            .expect("r");
    }
    let db = t.identity_db().await;
    assert!(matches!(
        verify_chain(&db).await.expect("verify"),
        ChainReport::Intact { entries: 3 }
    ));
    log::Entity::update_many()
        .col_expr(
            log::Column::Actor,
            sea_orm::sea_query::Expr::value("someone-else"),
        )
        .filter(log::Column::Seq.eq(2))
        .exec(&db)
        .await
        .expect("tamper");
    assert_eq!(
        verify_chain(&db).await.expect("verify"),
        ChainReport::Broken {
            at_seq: 2,
            reason: "entry altered"
        }
    );
    t.stop().await;
}
