//! Logs never carry protected values: every log line the suite writes at TRACE level during a full
//! round of registering, reading, searching, updating, refused calls, break-glass and erasure is scanned
//! for the child's names and the canary values.

use haven_proto::identity::{
    BreakGlassRequest, Child, EraseChildRequest, GetChildRequest, SearchChildrenRequest,
};
use haven_tests::fixtures::{
    CANARY_ADDRESS, CANARY_CIRCUMSTANCES, CANARY_LAST_SEEN, CANARY_NOTE_PLACE, CANARY_PHONE,
    case_child, id_of, protection, register, update,
};
use haven_tests::{CapturedLogs, TestSuite, authed};

#[tokio::test]
async fn no_log_line_holds_a_protected_value() {
    let captured = CapturedLogs::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let t = TestSuite::start().await;
    let mut client = t.client();
    let caseworker = t.token("caseworker", "cw-logs", "agency-a");
    let outsider = t.token("supervisor", "sup-b", "agency-b");
    let admin = t.token("admin", "admin-1", "hq");
    let id = id_of(
        &client
            .register_child(authed(
                &caseworker,
                register(case_child("Loggiven", "Logfamily", true)),
            ))
            .await
            .expect("registered")
            .into_inner(),
    );
    client
        .get_child(authed(&caseworker, GetChildRequest { id: id.clone() }))
        .await
        .expect("read");
    client
        .search_children(authed(
            &caseworker,
            SearchChildrenRequest {
                query: "Loggiven".into(),
                page: None,
            },
        ))
        .await
        .expect("search");
    let change = Child {
        protection: Some(protection(false)),
        ..Child::default()
    };
    client
        .update_child(authed(&caseworker, update(&id, 1, &["protection"], change)))
        .await
        .expect("update");
    client
        .get_child(authed("garbage", GetChildRequest { id: id.clone() }))
        .await
        .expect_err("bad token");
    client
        .get_child(authed(&outsider, GetChildRequest { id: id.clone() }))
        .await
        .expect_err("out of scope");
    client
        .break_glass(authed(
            &outsider,
            BreakGlassRequest {
                child_id: id.clone(),
                reason: "Loggiven was seen at the canary-reason crossing".into(),
            },
        ))
        .await
        .expect("break-glass");
    client
        .erase_child(authed(
            &admin,
            EraseChildRequest {
                id: id.clone(),
                reason: "Logfamily asked for erasure".into(),
            },
        ))
        .await
        .expect("erase");
    t.stop().await;

    let logs = captured.text();
    assert!(
        logs.contains("break-glass grant taken"),
        "the capture sees the suite's logs"
    );
    for secret in [
        "Loggiven",
        "Logfamily",
        "canary-reason",
        CANARY_PHONE,
        CANARY_ADDRESS,
        CANARY_NOTE_PLACE,
        CANARY_CIRCUMSTANCES,
        CANARY_LAST_SEEN,
    ] {
        assert!(!logs.contains(secret), "a log line holds {secret}");
    }
}
