//! The audit log: every read and write of a child leaves an entry, entries are hash-chained, and they
//! never hold protected values.

use haven_platform::audit::{ChainReport, log, verify_chain};
use haven_proto::identity::{GetChildRequest, ListChildrenRequest};
use haven_tests::fixtures::{
    CANARY_ADDRESS, CANARY_CIRCUMSTANCES, CANARY_LAST_SEEN, CANARY_NOTE_PLACE, CANARY_PHONE,
    case_child, register,
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
            CANARY_CIRCUMSTANCES,
            CANARY_LAST_SEEN,
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

#[tokio::test]
async fn an_auditor_sees_who_touched_a_child_and_what_a_user_read_but_no_child_data() {
    use haven_proto::identity::ListAuditEntriesRequest;
    use haven_proto::identity::identity_audit_client::IdentityAuditClient;
    use prost::Message as _;

    let t = TestSuite::start().await;
    let mut client = t.client();
    let caseworker = t.token("caseworker", "cw-watched", "agency-a");
    let supervisor = t.token("supervisor", "sup-watched", "agency-a");
    let auditor = t.token("auditor", "auditor-1", "oversight");
    let view = client
        .register_child(authed(
            &caseworker,
            register(case_child("Nasra", "Watched", false)),
        ))
        .await
        .expect("registered")
        .into_inner();
    let id = view.child.and_then(|c| c.meta).expect("meta").id;
    for _ in 0..3 {
        client
            .get_child(authed(&supervisor, GetChildRequest { id: id.clone() }))
            .await
            .expect("read");
    }

    let mut audit = IdentityAuditClient::new(t.channel());
    let by_record = audit
        .list_audit_entries(authed(
            &auditor,
            ListAuditEntriesRequest {
                record_id: id.clone(),
                ..ListAuditEntriesRequest::default()
            },
        ))
        .await
        .expect("auditor reads the log")
        .into_inner();
    let who: Vec<(String, String)> = by_record
        .entries
        .iter()
        .map(|e| (e.actor.clone(), e.action.clone()))
        .collect();
    assert_eq!(
        who,
        vec![
            ("cw-watched".to_string(), "create".to_string()),
            ("sup-watched".to_string(), "read".to_string()),
            ("sup-watched".to_string(), "read".to_string()),
            ("sup-watched".to_string(), "read".to_string()),
        ]
    );
    let bytes = by_record.encode_to_vec();
    for canary in [CANARY_PHONE, CANARY_ADDRESS, CANARY_NOTE_PLACE, "Nasra"] {
        assert!(
            !bytes.windows(canary.len()).any(|w| w == canary.as_bytes()),
            "no child data in the audit answer"
        );
    }

    // What one user read, a page at a time.
    let first = audit
        .list_audit_entries(authed(
            &auditor,
            ListAuditEntriesRequest {
                actor: "sup-watched".into(),
                page: Some(haven_proto::common::PageRequest {
                    page_size: 2,
                    page_token: String::new(),
                }),
                ..ListAuditEntriesRequest::default()
            },
        ))
        .await
        .expect("page 1")
        .into_inner();
    assert_eq!(first.entries.len(), 2);
    let second = audit
        .list_audit_entries(authed(
            &auditor,
            ListAuditEntriesRequest {
                actor: "sup-watched".into(),
                page: Some(haven_proto::common::PageRequest {
                    page_size: 2,
                    page_token: first.next_page_token,
                }),
                ..ListAuditEntriesRequest::default()
            },
        ))
        .await
        .expect("page 2")
        .into_inner();
    assert_eq!(second.entries.len(), 1);
    assert!(second.next_page_token.is_empty());

    // A query with no subject is refused; the auditor's own queries are logged.
    let status = audit
        .list_audit_entries(authed(&auditor, ListAuditEntriesRequest::default()))
        .await
        .expect_err("needs a subject");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    let own = audit
        .list_audit_entries(authed(
            &auditor,
            ListAuditEntriesRequest {
                actor: "auditor-1".into(),
                ..ListAuditEntriesRequest::default()
            },
        ))
        .await
        .expect("auditor's own trail")
        .into_inner();
    assert!(
        own.entries
            .iter()
            .filter(|e| e.action == "audit-read")
            .count()
            >= 3
    );
    t.stop().await;
}
