//! The `location` scope: a deployment may scope a role to the admin areas in its token's `locations`
//! claim. The child's location stays sealed; the scope works on keyed tags, and a get, a list and a
//! registration all honour it.

use haven_identity::entity::location_tag;
use haven_proto::common::{Location, PageRequest};
use haven_proto::identity::{Child, GetChildRequest, ListChildrenRequest};
use haven_tests::fixtures::{case_child, id_of, register, update};
use haven_tests::{Options, TestSuite, authed};
use sea_orm::EntityTrait as _;
use tonic::Code;

const POLICY: &str = r#"
[roles.caseworker]
grants = [
  { scope = "own", read = ["identity", "whereabouts", "protection"], write = ["identity", "whereabouts", "protection"] },
]
[roles.supervisor]
grants = [
  { scope = "location", read = ["identity", "whereabouts", "protection"], write = ["whereabouts"] },
]
"#;

fn child_in(given: &str, path: &[&str]) -> Child {
    let mut child = case_child(given, "Located", false);
    let whereabouts = child.whereabouts.as_mut().expect("fixture has whereabouts");
    whereabouts.current_location = Some(Location {
        admin_path: path.iter().map(|l| l.to_string()).collect(),
        description: String::new(),
    });
    child
}

#[tokio::test]
async fn a_location_scoped_supervisor_sees_only_its_areas_within_its_agency() {
    let t = TestSuite::start_with(Options {
        policy_toml: Some(POLICY.into()),
        ..Options::default()
    })
    .await;
    let mut client = t.client();
    let caseworker = t.token("caseworker", "cw-1", "agency-a");
    let elsewhere = t.token("caseworker", "cw-9", "agency-b");
    let mut claims = t.claims("supervisor", "sv-1", "agency-a");
    claims.locations = vec!["SO/Banadir".into()];
    let supervisor = t.sign(&claims);
    let unplaced = t.token("supervisor", "sv-2", "agency-a");

    let mut registered = Vec::new();
    for (token, given, path) in [
        (&caseworker, "Hodan", &["SO", "Banadir", "Hodan"][..]),
        (&caseworker, "Baidoa", &["SO", "Bay", "Baidoa"][..]),
        (&elsewhere, "Other", &["SO", "Banadir", "Hodan"][..]),
    ] {
        let view = client
            .register_child(authed(token, register(child_in(given, path))))
            .await
            .expect("register")
            .into_inner();
        registered.push(id_of(&view));
    }
    let [in_area, outside, other_agency] = [&registered[0], &registered[1], &registered[2]];

    let get = |token: &str, id: &str| authed(token, GetChildRequest { id: id.into() });
    let seen = client
        .get_child(get(&supervisor, in_area))
        .await
        .expect("in its area")
        .into_inner();
    assert!(
        seen.child
            .as_ref()
            .and_then(|c| c.protection.as_ref())
            .is_some(),
        "the grant's classes are returned"
    );
    for id in [outside, other_agency] {
        let refused = client
            .get_child(get(&supervisor, id))
            .await
            .expect_err("outside its area or agency");
        assert_eq!(refused.code(), Code::NotFound);
    }
    let refused = client
        .get_child(get(&unplaced, in_area))
        .await
        .expect_err("no locations claim, no location scope");
    assert_eq!(refused.code(), Code::NotFound);

    let list = |token: &str| {
        authed(
            token,
            ListChildrenRequest {
                page: Some(PageRequest {
                    page_size: 50,
                    page_token: String::new(),
                }),
            },
        )
    };
    let listed: Vec<String> = client
        .list_children(list(&supervisor))
        .await
        .expect("list")
        .into_inner()
        .children
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(
        listed,
        vec![in_area.clone()],
        "a list shows what a get shows"
    );
    let listed = client
        .list_children(list(&unplaced))
        .await
        .expect("list")
        .into_inner();
    assert!(listed.children.is_empty());

    // The child moves away: the supervisor loses it on the next call.
    let version = seen
        .child
        .and_then(|c| c.meta)
        .map(|m| m.version)
        .expect("version");
    client
        .update_child(authed(
            &caseworker,
            update(
                in_area,
                version,
                &["whereabouts"],
                child_in("Hodan", &["SO", "Bay", "Baidoa"]),
            ),
        ))
        .await
        .expect("move");
    let refused = client
        .get_child(get(&supervisor, in_area))
        .await
        .expect_err("moved out of its area");
    assert_eq!(refused.code(), Code::NotFound);

    // A registration by a location-scoped writer must fall inside its areas; this supervisor may not
    // write identity at all, so it is refused outright.
    let refused = client
        .register_child(authed(
            &supervisor,
            register(child_in("New", &["SO", "Banadir", "Hodan"])),
        ))
        .await
        .expect_err("supervisor may not register here");
    assert_eq!(refused.code(), Code::PermissionDenied);

    // Stored tags are opaque: no area name in clear.
    let db = t.identity_db().await;
    let rows = location_tag::Entity::find()
        .all(&db)
        .await
        .expect("read tags");
    assert!(!rows.is_empty());
    for row in rows {
        assert_eq!(row.tag.len(), 32);
        assert!(
            row.tag.chars().all(|c| c.is_ascii_hexdigit()),
            "{}",
            row.tag
        );
    }
    t.stop().await;
}

#[tokio::test]
async fn an_admin_level_holding_the_claim_separator_is_refused_by_name() {
    let t = TestSuite::start().await;
    let mut client = t.client();
    let caseworker = t.token("caseworker", "cw-1", "agency-a");
    let status = client
        .register_child(authed(
            &caseworker,
            register(child_in("Slash", &["SO", "Banadir/Hodan"])),
        ))
        .await
        .expect_err("a level with '/'");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status
            .message()
            .contains("whereabouts.current_location.admin_path[1]"),
        "{}",
        status.message()
    );
    t.stop().await;
}
