//! Break-glass: a supervisor reads a case outside their scope only with a reason, read only, until the
//! grant expires; it is audited and alerted to the supervisors of both agencies.

use haven_identity::entity::break_glass;
use haven_platform::audit::log;
use haven_proto::identity::{
    BreakGlassRequest, Child, GetChildRequest, ListBreakGlassAlertsRequest, ListChildrenRequest,
};
use haven_tests::fixtures::{case_child, register, update};
use haven_tests::{TestSuite, authed};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tonic::Code;

#[tokio::test]
async fn a_supervisor_breaks_the_glass_with_a_reason_and_everyone_concerned_is_told() {
    let t = TestSuite::start().await;
    let mut client = t.client();
    let caseworker = t.token("caseworker", "cw-a", "agency-a");
    let outsider = t.token("supervisor", "sup-b", "agency-b");
    let colleague = t.token("supervisor", "sup-b2", "agency-b");
    let owner_supervisor = t.token("supervisor", "sup-a", "agency-a");
    let unrelated = t.token("supervisor", "sup-c", "agency-c");
    let child_id = client
        .register_child(authed(
            &caseworker,
            register(case_child("Hibo", "Glass", false)),
        ))
        .await
        .expect("r")
        .into_inner()
        .child
        .and_then(|c| c.meta)
        .expect("meta")
        .id;
    let get = || GetChildRequest {
        id: child_id.clone(),
    };
    let open = |reason: &str| BreakGlassRequest {
        child_id: child_id.clone(),
        reason: reason.into(),
    };

    assert_eq!(
        client
            .get_child(authed(&outsider, get()))
            .await
            .expect_err("out of scope")
            .code(),
        Code::NotFound
    );
    assert_eq!(
        client
            .break_glass(authed(&outsider, open("urgent")))
            .await
            .expect_err("reason too short")
            .code(),
        Code::InvalidArgument
    );
    assert_eq!(
        client
            .break_glass(authed(
                &caseworker,
                open("caseworkers cannot break the glass")
            ))
            .await
            .expect_err("no permission")
            .code(),
        Code::PermissionDenied
    );
    let grant = client
        .break_glass(authed(
            &outsider,
            open("child found alone at the border post tonight"),
        ))
        .await
        .expect("granted")
        .into_inner();
    let expires =
        grant.expires_at.expect("expiry").seconds - grant.granted_at.expect("granted").seconds;
    assert_eq!(expires, 3600, "the grant is time-boxed to an hour");

    let view = client
        .get_child(authed(&outsider, get()))
        .await
        .expect("opened")
        .into_inner();
    let child = view.child.expect("child");
    assert!(child.identity.is_some() && child.whereabouts.is_some() && child.protection.is_some());
    let listed = client
        .list_children(authed(&outsider, ListChildrenRequest::default()))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.children.len(), 1);
    let status = client
        .update_child(authed(
            &outsider,
            update(&child_id, 1, &["protection.risk_level"], Child::default()),
        ))
        .await
        .expect_err("break-glass is read only");
    assert_eq!(status.code(), Code::PermissionDenied);

    for (who, token, expected) in [
        ("holder's colleague", &colleague, 1),
        ("case owner's supervisor", &owner_supervisor, 1),
        ("unrelated agency", &unrelated, 0),
    ] {
        let alerts = client
            .list_break_glass_alerts(authed(token, ListBreakGlassAlertsRequest::default()))
            .await
            .expect("alerts")
            .into_inner();
        assert_eq!(alerts.grants.len(), expected, "{who}");
        if expected == 1 {
            assert_eq!(alerts.grants[0].holder, "sup-b");
            assert_eq!(
                alerts.grants[0].reason,
                "child found alone at the border post tonight"
            );
        }
    }

    let db = t.identity_db().await;
    let audited = log::Entity::find()
        .filter(log::Column::RecordId.eq(child_id.clone()))
        .filter(log::Column::Action.eq("break-glass"))
        .all(&db)
        .await
        .expect("audit");
    assert_eq!(audited.len(), 1);
    assert!(
        !format!("{:?}", audited[0]).contains("border"),
        "the reason stays out of the audit log"
    );

    // Once the grant expires, the case is out of reach again.
    break_glass::Entity::update_many()
        .col_expr(
            break_glass::Column::ExpiresAtUs,
            sea_orm::sea_query::Expr::value(1_i64),
        )
        .filter(break_glass::Column::ChildId.eq(child_id.clone()))
        .exec(&db)
        .await
        .expect("expire");
    assert_eq!(
        client
            .get_child(authed(&outsider, get()))
            .await
            .expect_err("expired")
            .code(),
        Code::NotFound
    );
    t.stop().await;
}
