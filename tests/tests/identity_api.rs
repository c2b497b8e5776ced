//! The ChildIdentity API through the gateway: register, read, update, list, search; validation,
//! idempotency, version conflicts and pagination.

use haven_proto::common::PageRequest;
use haven_proto::identity::{
    Child, GetChildRequest, ListChildrenRequest, RegisterChildRequest, SearchChildrenRequest,
    UpdateChildRequest,
};
use haven_tests::fixtures::{case_child, id_of, learner, register};
use haven_tests::{TestSuite, authed};
use tonic::Code;
use tonic_types::StatusExt as _;

fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}

#[tokio::test]
async fn a_caseworker_registers_reads_and_updates_a_child() {
    let t = TestSuite::start().await;
    let cw = t.token("caseworker", "cw-1", "agency-a");
    let mut client = t.client();
    let created = client
        .register_child(authed(&cw, register(case_child("Amina", "Yusuf", false))))
        .await
        .expect("registered")
        .into_inner();
    let meta = created
        .child
        .as_ref()
        .and_then(|c| c.meta.clone())
        .expect("meta");
    assert_eq!(meta.version, 1);
    assert_eq!(meta.owner, "cw-1");
    assert_eq!(meta.agency, "agency-a");
    assert!(created.withheld.is_empty());

    let read = client
        .get_child(authed(
            &cw,
            GetChildRequest {
                id: meta.id.clone(),
            },
        ))
        .await
        .expect("read")
        .into_inner();
    assert_eq!(read.child, created.child);

    let change = Child {
        identity: Some(haven_tests::fixtures::identity("Aminah", "ignored")),
        ..Child::default()
    };
    let updated = client
        .update_child(authed(
            &cw,
            UpdateChildRequest {
                id: meta.id.clone(),
                expected_version: 1,
                child: Some(change),
                update_mask: mask(&["identity.given_name"]),
            },
        ))
        .await
        .expect("updated")
        .into_inner();
    let child = updated.child.expect("child");
    let identity = child.identity.expect("identity");
    assert_eq!(identity.given_name, "Aminah");
    assert_eq!(
        identity.family_name, "Yusuf",
        "fields outside the mask are kept"
    );
    assert_eq!(child.meta.expect("meta").version, 2);
    assert!(
        child.protection.is_some(),
        "the protection case is untouched"
    );
    t.stop().await;
}

#[tokio::test]
async fn a_retried_register_returns_the_first_child_and_a_reused_key_is_rejected() {
    let t = TestSuite::start().await;
    let cw = t.token("caseworker", "cw-1", "agency-a");
    let mut client = t.client();
    let request = register(case_child("Hodan", "Warsame", false));
    let first = client
        .register_child(authed(&cw, request.clone()))
        .await
        .expect("first")
        .into_inner();
    let retry = client
        .register_child(authed(&cw, request.clone()))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(first, retry, "a retry returns the first child");

    let listed = client
        .list_children(authed(&cw, ListChildrenRequest::default()))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(
        listed.children.len(),
        1,
        "the retry created no second record"
    );

    let different = RegisterChildRequest {
        request_id: request.request_id.clone(),
        child: Some(case_child("Other", "Child", false)),
    };
    let err = client
        .register_child(authed(&cw, different))
        .await
        .expect_err("rejected");
    assert_eq!(err.code(), Code::AlreadyExists);
    assert!(err.message().contains("request_id"));
    t.stop().await;
}

#[tokio::test]
async fn concurrent_retries_of_one_key_create_one_child() {
    let t = TestSuite::start().await;
    let cw = t.token("caseworker", "cw-1", "agency-a");
    let request = register(case_child("Bilan", "Farah", false));
    let mut calls = Vec::new();
    for _ in 0..8 {
        let mut client = t.client();
        let request = authed(&cw, request.clone());
        calls.push(tokio::spawn(
            async move { client.register_child(request).await },
        ));
    }
    let mut ids = std::collections::BTreeSet::new();
    for call in calls {
        let view = call.await.expect("task").expect("register").into_inner();
        ids.insert(view.child.and_then(|c| c.meta).expect("meta").id);
    }
    assert_eq!(ids.len(), 1, "every retry answered with the same child");
    let listed = t
        .client()
        .list_children(authed(&cw, ListChildrenRequest::default()))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.children.len(), 1);
    t.stop().await;
}

#[tokio::test]
async fn a_stale_version_is_refused_and_writes_nothing() {
    let t = TestSuite::start().await;
    let cw = t.token("caseworker", "cw-1", "agency-a");
    let mut client = t.client();
    let created = client
        .register_child(authed(&cw, register(case_child("Sahra", "Ali", false))))
        .await
        .expect("registered")
        .into_inner();
    let id = created.child.and_then(|c| c.meta).expect("meta").id;
    let update = |version: i64, name: &str| UpdateChildRequest {
        id: id.clone(),
        expected_version: version,
        child: Some(Child {
            identity: Some(haven_tests::fixtures::identity(name, "Ali")),
            ..Child::default()
        }),
        update_mask: mask(&["identity.given_name"]),
    };
    client
        .update_child(authed(&cw, update(1, "Sahro")))
        .await
        .expect("first update");
    let err = client
        .update_child(authed(&cw, update(1, "Stale")))
        .await
        .expect_err("stale version refused");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("expected_version"));

    let now = client
        .get_child(authed(&cw, GetChildRequest { id: id.clone() }))
        .await
        .expect("read")
        .into_inner();
    let child = now.child.expect("child");
    assert_eq!(child.identity.expect("identity").given_name, "Sahro");
    assert_eq!(
        child.meta.expect("meta").version,
        2,
        "the refused update wrote nothing"
    );
    t.stop().await;
}

#[tokio::test]
async fn invalid_input_names_the_field() {
    let t = TestSuite::start().await;
    let cw = t.token("caseworker", "cw-1", "agency-a");
    let mut client = t.client();

    let mut nameless = case_child("", "", false);
    if let Some(identity) = nameless.identity.as_mut() {
        identity.nationalities = vec!["somalia".into()];
    }
    let err = client
        .register_child(authed(&cw, register(nameless)))
        .await
        .expect_err("invalid");
    assert_eq!(err.code(), Code::InvalidArgument);
    let fields: Vec<String> = err
        .get_details_bad_request()
        .expect("bad request details")
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert!(
        fields.contains(&"child.identity.given_name".to_string()),
        "{fields:?}"
    );
    assert!(
        fields.contains(&"child.identity.nationalities[0]".to_string()),
        "{fields:?}"
    );
    assert!(
        !err.message().contains("somalia"),
        "messages never echo values"
    );

    let no_key = RegisterChildRequest {
        request_id: String::new(),
        child: Some(learner("A", "B")),
    };
    let err = client
        .register_child(authed(&cw, no_key))
        .await
        .expect_err("invalid");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("request_id"));

    let err = client
        .get_child(authed(
            &cw,
            GetChildRequest {
                id: "not-a-uuid".into(),
            },
        ))
        .await
        .expect_err("invalid");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("id"));

    let err = client
        .update_child(authed(
            &cw,
            UpdateChildRequest {
                id: uuid::Uuid::now_v7().to_string(),
                expected_version: 1,
                child: Some(Child::default()),
                update_mask: mask(&["identity.shoe_size"]),
            },
        ))
        .await
        .expect_err("invalid");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("update_mask.paths[0]"));

    let err = client
        .list_children(authed(
            &cw,
            ListChildrenRequest {
                page: Some(PageRequest {
                    page_size: 10,
                    page_token: "forged".into(),
                }),
            },
        ))
        .await
        .expect_err("invalid");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("page.page_token"));

    let err = client
        .search_children(authed(
            &cw,
            SearchChildrenRequest {
                query: " ,, ".into(),
                page: None,
            },
        ))
        .await
        .expect_err("invalid");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("query"));
    t.stop().await;
}

#[tokio::test]
async fn an_update_that_would_make_the_record_invalid_writes_nothing() {
    let t = TestSuite::start().await;
    let cw = t.token("caseworker", "cw-1", "agency-a");
    let mut client = t.client();
    let created = client
        .register_child(authed(&cw, register(case_child("Ayaan", "Nur", false))))
        .await
        .expect("registered")
        .into_inner();
    let id = created.child.and_then(|c| c.meta).expect("meta").id;
    let bad = Child {
        identity: Some(haven_tests::fixtures::identity("", "")),
        ..Child::default()
    };
    let err = client
        .update_child(authed(
            &cw,
            UpdateChildRequest {
                id: id.clone(),
                expected_version: 1,
                child: Some(bad),
                update_mask: mask(&["identity.given_name", "identity.family_name"]),
            },
        ))
        .await
        .expect_err("invalid");
    assert_eq!(err.code(), Code::InvalidArgument);
    let now = client
        .get_child(authed(&cw, GetChildRequest { id }))
        .await
        .expect("read")
        .into_inner();
    let child = now.child.expect("child");
    assert_eq!(child.meta.expect("meta").version, 1);
    assert_eq!(child.identity.expect("identity").given_name, "Ayaan");
    t.stop().await;
}

#[tokio::test]
async fn pages_are_stable_while_children_are_registered() {
    let t = TestSuite::start().await;
    let cw = t.token("caseworker", "cw-1", "agency-a");
    let mut client = t.client();
    for i in 0..7 {
        client
            .register_child(authed(&cw, register(learner_named(i))))
            .await
            .expect("registered");
    }
    let page = |token: String| ListChildrenRequest {
        page: Some(PageRequest {
            page_size: 3,
            page_token: token,
        }),
    };
    let first = client
        .list_children(authed(&cw, page(String::new())))
        .await
        .expect("p1")
        .into_inner();
    assert_eq!(first.children.len(), 3);
    assert!(!first.next_page_token.is_empty());
    // New registrations land before the cursor: they must not shift later pages.
    for i in 7..10 {
        client
            .register_child(authed(&cw, register(learner_named(i))))
            .await
            .expect("registered");
    }
    let mut seen: Vec<String> = first.children.iter().map(id_of).collect();
    let mut token = first.next_page_token;
    while !token.is_empty() {
        let next = client
            .list_children(authed(&cw, page(token)))
            .await
            .expect("page")
            .into_inner();
        seen.extend(next.children.iter().map(id_of));
        token = next.next_page_token;
    }
    assert_eq!(seen.len(), 7, "each of the original children exactly once");
    let unique: std::collections::BTreeSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), 7);
    t.stop().await;
}

fn learner_named(i: usize) -> Child {
    const NAMES: [&str; 10] = [
        "Amal", "Bashir", "Dahabo", "Elmi", "Faisal", "Gedi", "Halima", "Idil", "Jama", "Khadra",
    ];
    case_child(NAMES[i % NAMES.len()], "Generated", false)
}

#[tokio::test]
async fn search_ignores_case_diacritics_and_script() {
    let t = TestSuite::start().await;
    let cw = t.token("caseworker", "cw-1", "agency-a");
    let mut client = t.client();
    for (given, family) in [
        ("Oleksandr", "Kovalenko"),
        ("Muhammad", "Abdullahi"),
        ("José", "Müller"),
        ("Fatima", "Hassan"),
    ] {
        client
            .register_child(authed(&cw, register(case_child(given, family, false))))
            .await
            .expect("registered");
    }
    let search = |query: &str| SearchChildrenRequest {
        query: query.into(),
        page: None,
    };
    let cases = [
        ("Олександр", "Oleksandr"),
        ("Mohammed", "Muhammad"),
        ("محمد", "Muhammad"),
        ("Maxamed Cabdullahi", "Muhammad"),
        ("jose muller", "José"),
        ("FATIMAH", "Fatima"),
    ];
    for (query, expected) in cases {
        let found = client
            .search_children(authed(&cw, search(query)))
            .await
            .expect("search")
            .into_inner();
        let names: Vec<String> = found
            .children
            .iter()
            .filter_map(|v| {
                v.child
                    .as_ref()?
                    .identity
                    .as_ref()
                    .map(|i| i.given_name.clone())
            })
            .collect();
        assert_eq!(names, vec![expected.to_string()], "query {query:?}");
    }
    let none = client
        .search_children(authed(&cw, search("Mahmoud")))
        .await
        .expect("search")
        .into_inner();
    assert!(none.children.is_empty(), "Mahmoud is not Muhammad");
    let both_words = client
        .search_children(authed(&cw, search("Muhammad Kovalenko")))
        .await
        .expect("search")
        .into_inner();
    assert!(
        both_words.children.is_empty(),
        "every query word must match the same child"
    );
    t.stop().await;
}
