//! REST/JSON at the gateway, over plain HTTP/1.1: routes from the proto annotations, the same auth,
//! rule table and answers as gRPC, problem+json errors, `Idempotency-Key`, and the generated OpenAPI
//! document served without a token.

use haven_proto::identity::GetChildRequest;
use haven_tests::http1::{assert_problem, request, rest_call as call};
use haven_tests::{Options, TestSuite, authed, fixtures};
use prost::Message as _;
use serde_json::{Value, json};

fn new_child(given: &str) -> Value {
    json!({
        "child": {
            "identity": { "givenName": given, "familyName": "Restfield", "sex": "SEX_FEMALE" },
            "whereabouts": { "phone": "+000 555 0199", "address": "generated address 12" }
        }
    })
}

#[tokio::test]
async fn register_get_patch_and_list_a_child_over_rest() {
    let t = TestSuite::start().await;
    let token = t.token("caseworker", "cw-rest", "agency-a");
    let key = uuid::Uuid::now_v7().to_string();
    let created = call(
        &t,
        "POST",
        "/v1/children",
        Some(&token),
        Some(&new_child("Amina")),
        &[("Idempotency-Key", &key)],
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.text());
    assert_eq!(created.header("content-type"), Some("application/json"));
    let view = created.json();
    let id = view["child"]["meta"]["id"].as_str().expect("id").to_owned();
    assert_eq!(view["child"]["identity"]["givenName"], "Amina");
    // The proto3 JSON mapping: enums by name, int64 as a string.
    assert_eq!(view["child"]["identity"]["sex"], "SEX_FEMALE");
    let version = view["child"]["meta"]["version"]
        .as_str()
        .expect("version as string");

    let got = call(
        &t,
        "GET",
        &format!("/v1/children/{id}"),
        Some(&token),
        None,
        &[],
    )
    .await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.json()["child"]["whereabouts"]["phone"], "+000 555 0199");

    let patched = call(
        &t,
        "PATCH",
        &format!("/v1/children/{id}"),
        Some(&token),
        Some(&json!({
            "expectedVersion": version,
            "child": { "identity": { "givenName": "Amani" } },
            "updateMask": "identity.givenName",
        })),
        &[],
    )
    .await;
    assert_eq!(patched.status, 200, "{}", patched.text());
    let patched = patched.json();
    assert_eq!(patched["child"]["identity"]["givenName"], "Amani");
    assert_eq!(patched["child"]["identity"]["familyName"], "Restfield");
    assert_ne!(patched["child"]["meta"]["version"], version);

    // The stale version is a conflict, the same FAILED_PRECONDITION as over gRPC.
    let stale = call(
        &t,
        "PATCH",
        &format!("/v1/children/{id}"),
        Some(&token),
        Some(&json!({
            "expectedVersion": version,
            "child": { "identity": { "givenName": "Amira" } },
            "updateMask": "identity.givenName",
        })),
        &[],
    )
    .await;
    assert_problem(&stale, 409, "FAILED_PRECONDITION");

    let listed = call(
        &t,
        "GET",
        "/v1/children?page_size=10",
        Some(&token),
        None,
        &[],
    )
    .await;
    assert_eq!(listed.status, 200, "{}", listed.text());
    let children = listed.json()["children"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        children
            .iter()
            .any(|c| c["child"]["meta"]["id"] == id.as_str())
    );

    let found = call(
        &t,
        "GET",
        "/v1/children:search?query=Amani&pageSize=5",
        Some(&token),
        None,
        &[],
    )
    .await;
    assert_eq!(found.status, 200, "{}", found.text());
    assert_eq!(
        found.json()["children"][0]["child"]["meta"]["id"],
        id.as_str()
    );
    t.stop().await;
}

/// The JSON form of a gRPC answer, in the same proto3 JSON mapping the gateway uses.
fn grpc_json(view: &haven_proto::identity::ChildView) -> Value {
    let pool = prost_reflect::DescriptorPool::decode(haven_proto::FILE_DESCRIPTOR_SET)
        .expect("descriptors");
    let descriptor = pool
        .get_message_by_name("haven.identity.v1.ChildView")
        .expect("ChildView");
    let message =
        prost_reflect::DynamicMessage::decode(descriptor, view.encode_to_vec().as_slice())
            .expect("decode");
    serde_json::to_value(&message).expect("json")
}

#[tokio::test]
async fn rest_get_child_shows_what_grpc_get_child_shows_for_the_same_caller() {
    let t = TestSuite::start().await;
    let owner = t.token("caseworker", "cw-owner", "agency-a");
    let view = t
        .client()
        .register_child(authed(
            &owner,
            fixtures::register(fixtures::case_child("Hodan", "Generated", true)),
        ))
        .await
        .expect("register")
        .into_inner();
    let educator = t.token("educator", "edu-a", "agency-a");
    let learner = t
        .client()
        .register_child(authed(
            &educator,
            fixtures::register(fixtures::learner("Nasra", "Generated")),
        ))
        .await
        .expect("register learner")
        .into_inner();
    let mut outcomes = Vec::new();
    let mut partial = false;
    for id in [fixtures::id_of(&view), fixtures::id_of(&learner)] {
        for (role, sub, agency) in [
            ("caseworker", "cw-owner", "agency-a"),
            ("supervisor", "sup-a", "agency-a"),
            ("reunification_officer", "ro-a", "agency-a"),
            ("caseworker", "cw-other", "agency-b"),
            ("educator", "edu-a", "agency-a"),
            ("auditor", "aud-a", "agency-a"),
        ] {
            let token = t.token(role, sub, agency);
            let grpc = t
                .client()
                .get_child(authed(&token, GetChildRequest { id: id.clone() }))
                .await;
            let rest = call(
                &t,
                "GET",
                &format!("/v1/children/{id}"),
                Some(&token),
                None,
                &[],
            )
            .await;
            outcomes.push(rest.status);
            match grpc {
                Ok(answer) => {
                    assert_eq!(rest.status, 200, "{role}: {}", rest.text());
                    if rest.json()["withheld"]
                        .as_array()
                        .is_some_and(|w| !w.is_empty())
                    {
                        partial = true;
                    }
                    assert_eq!(
                        rest.json(),
                        grpc_json(&answer.into_inner()),
                        "{role} sees the same over REST and gRPC"
                    );
                }
                Err(status) => {
                    let problem = assert_problem(
                        &rest,
                        match status.code() {
                            tonic::Code::NotFound => 404,
                            tonic::Code::PermissionDenied => 403,
                            other => panic!("{role}: unexpected {other:?}"),
                        },
                        match status.code() {
                            tonic::Code::NotFound => "NOT_FOUND",
                            _ => "PERMISSION_DENIED",
                        },
                    );
                    assert_eq!(problem["detail"], status.message(), "{role}");
                }
            }
        }
    }
    // Seen in full, seen in part, not at all, and refused by the rule table: each case came up.
    assert!(partial, "some caller saw a record with classes withheld");
    assert!(
        outcomes.contains(&200) && outcomes.contains(&404) && outcomes.contains(&403),
        "{outcomes:?}"
    );
    t.stop().await;
}

#[tokio::test]
async fn an_invalid_argument_is_a_400_problem_naming_the_field() {
    let t = TestSuite::start().await;
    let token = t.token("caseworker", "cw-rest", "agency-a");
    let long = "n".repeat(500);
    let answer = call(
        &t,
        "POST",
        "/v1/children",
        Some(&token),
        Some(&new_child(&long)),
        &[("Idempotency-Key", "k-invalid-1")],
    )
    .await;
    let problem = assert_problem(&answer, 400, "INVALID_ARGUMENT");
    let errors = problem["errors"].as_array().expect("errors");
    assert!(
        errors.iter().any(|e| e["field"]
            .as_str()
            .is_some_and(|f| f.ends_with("given_name"))
            && e["jsonField"]
                .as_str()
                .is_some_and(|f| f.ends_with("givenName"))),
        "{problem}"
    );
    assert!(!answer.text().contains(&long), "the value is not echoed");

    // No request id at all: the service names the field the header fills.
    let answer = call(
        &t,
        "POST",
        "/v1/children",
        Some(&token),
        Some(&new_child("Asha")),
        &[],
    )
    .await;
    let problem = assert_problem(&answer, 400, "INVALID_ARGUMENT");
    assert_eq!(problem["errors"][0]["field"], "request_id");

    // JSON the mapping cannot read is refused before any call, naming where.
    let answer = call(
        &t,
        "POST",
        "/v1/children",
        Some(&token),
        Some(&json!({ "child": { "identity": { "favouriteColour": "x" } } })),
        &[("Idempotency-Key", "k-invalid-2")],
    )
    .await;
    let problem = assert_problem(&answer, 400, "INVALID_ARGUMENT");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("favouriteColour"))
    );

    let answer = call(
        &t,
        "GET",
        "/v1/children?colour=blue",
        Some(&token),
        None,
        &[],
    )
    .await;
    let problem = assert_problem(&answer, 400, "INVALID_ARGUMENT");
    assert_eq!(problem["errors"][0]["field"], "colour");

    // A body over the limit is 413, never read whole.
    let huge = format!(
        r#"{{"child":{{"identity":{{"givenName":"{}"}}}}}}"#,
        "x".repeat(4 * 1024 * 1024 + 16)
    );
    let bearer = format!("Bearer {token}");
    let answer = request(
        t.suite.gateway_addr,
        "POST",
        "/v1/children",
        &[
            ("Authorization", &bearer),
            ("Content-Type", "application/json"),
        ],
        Some(huge.as_bytes()),
    )
    .await;
    assert_problem(&answer, 413, "RESOURCE_EXHAUSTED");
    t.stop().await;
}

#[tokio::test]
async fn no_token_is_401_and_a_refused_role_is_403() {
    let t = TestSuite::start().await;
    let answer = call(&t, "GET", "/v1/children", None, None, &[]).await;
    assert_problem(&answer, 401, "UNAUTHENTICATED");
    let answer = call(&t, "GET", "/v1/children", Some("not-a-jwt"), None, &[]).await;
    assert_problem(&answer, 401, "UNAUTHENTICATED");

    // The rule table: an auditor may never read a child, whatever the record.
    let auditor = t.token("auditor", "aud-1", "agency-a");
    let answer = call(
        &t,
        "GET",
        "/v1/children/0190f1c2-0000-7000-8000-000000000000",
        Some(&auditor),
        None,
        &[],
    )
    .await;
    let problem = assert_problem(&answer, 403, "PERMISSION_DENIED");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("GetChild"))
    );
    // As over gRPC, the rule table answers before the body is read: a refused role's garbage is a 403.
    let bearer = format!("Bearer {auditor}");
    let answer = request(
        t.suite.gateway_addr,
        "POST",
        "/v1/children",
        &[
            ("Authorization", &bearer),
            ("Content-Type", "application/json"),
        ],
        Some(b"{not json"),
    )
    .await;
    assert_problem(&answer, 403, "PERMISSION_DENIED");
    let answer = request(
        t.suite.gateway_addr,
        "POST",
        "/v1/children",
        &[],
        Some(b"{not json"),
    )
    .await;
    assert_problem(&answer, 401, "UNAUTHENTICATED");

    // Paths and methods the contract does not bind (public knowledge: the OpenAPI document lists them).
    let token = t.token("caseworker", "cw-rest", "agency-a");
    let answer = call(&t, "GET", "/v1/nowhere", Some(&token), None, &[]).await;
    assert_problem(&answer, 404, "NOT_FOUND");
    let answer = call(&t, "GET", "/v1/nowhere", None, None, &[]).await;
    assert_problem(&answer, 404, "NOT_FOUND");
    let answer = call(&t, "DELETE", "/v1/children/x", Some(&token), None, &[]).await;
    assert_eq!(answer.status, 405);
    assert_eq!(answer.header("allow"), Some("GET, PATCH"));
    t.stop().await;
}

#[tokio::test]
async fn an_idempotency_key_retried_gives_one_child() {
    let t = TestSuite::start().await;
    let token = t.token("caseworker", "cw-idem", "agency-a");
    let key = uuid::Uuid::now_v7().to_string();
    let body = new_child("Idil");
    let first = call(
        &t,
        "POST",
        "/v1/children",
        Some(&token),
        Some(&body),
        &[("Idempotency-Key", &key)],
    )
    .await;
    let second = call(
        &t,
        "POST",
        "/v1/children",
        Some(&token),
        Some(&body),
        &[("Idempotency-Key", &key)],
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(second.status, 200, "{}", second.text());
    assert_eq!(
        first.json()["child"]["meta"]["id"],
        second.json()["child"]["meta"]["id"]
    );
    let listed = call(&t, "GET", "/v1/children", Some(&token), None, &[]).await;
    let idils = listed.json()["children"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c["child"]["identity"]["givenName"] == "Idil")
        .count();
    assert_eq!(idils, 1);

    // The same key with another body is a conflict, as over gRPC.
    let other = call(
        &t,
        "POST",
        "/v1/children",
        Some(&token),
        Some(&new_child("Iman")),
        &[("Idempotency-Key", &key)],
    )
    .await;
    assert_problem(&other, 409, "ALREADY_EXISTS");
    // A body that names another request id than the header is refused.
    let mut mismatched = new_child("Idil");
    mismatched["requestId"] = json!("another-key");
    let answer = call(
        &t,
        "POST",
        "/v1/children",
        Some(&token),
        Some(&mismatched),
        &[("Idempotency-Key", &key)],
    )
    .await;
    let problem = assert_problem(&answer, 400, "INVALID_ARGUMENT");
    assert_eq!(problem["errors"][0]["field"], "request_id");
    t.stop().await;
}

#[tokio::test]
async fn the_openapi_document_and_docs_page_are_served_without_a_token() {
    let t = TestSuite::start().await;
    let answer = call(&t, "GET", "/v1/openapi.json", None, None, &[]).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let doc = answer.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let checked_in: Value = serde_json::from_str(include_str!("../../openapi/haven.v1.json"))
        .expect("checked-in document");
    assert_eq!(doc, checked_in, "the served document is the checked-in one");
    let get = &doc["paths"]["/v1/children/{id}"]["get"];
    assert_eq!(
        get["x-grpc-method"],
        "/haven.identity.v1.ChildIdentity/GetChild"
    );

    let page = call(&t, "GET", "/v1/docs", None, None, &[]).await;
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .is_some_and(|c| c.starts_with("text/html"))
    );
    assert!(page.text().contains(
        "/v1/tracing-requests/{tracing_request_id}/sought-children/{sought_child_id}/matches"
    ));
    assert!(!page.text().contains("<script"));
    t.stop().await;
}

#[tokio::test]
async fn tracing_requests_and_matches_over_rest() {
    let t = TestSuite::start().await;
    let officer = t.token("reunification_officer", "ro-1", "agency-a");
    let created = call(
        &t,
        "POST",
        "/v1/tracing-requests",
        Some(&officer),
        Some(&json!({
            "inquirer": { "givenName": "Generated", "familyName": "Inquirer", "relation": "RELATION_MOTHER" },
            "soughtChildren": [{ "givenName": "Hodan", "familyName": "Generated" }]
        })),
        &[("Idempotency-Key", &uuid::Uuid::now_v7().to_string())],
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.text());
    let request = created.json();
    let id = request["id"].as_str().expect("id").to_owned();
    let sought = request["soughtChildren"][0]["id"]
        .as_str()
        .expect("sought id")
        .to_owned();
    let got = call(
        &t,
        "GET",
        &format!("/v1/tracing-requests/{id}"),
        Some(&officer),
        None,
        &[],
    )
    .await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.json()["id"], id.as_str());
    let matches = call(
        &t,
        "GET",
        &format!("/v1/tracing-requests/{id}/sought-children/{sought}/matches?limit=5"),
        Some(&officer),
        None,
        &[],
    )
    .await;
    assert_eq!(matches.status, 200, "{}", matches.text());
    assert!(matches.json()["likelyThreshold"].is_number());

    // An enum query parameter by name, and a paging field one level down.
    let listed = call(
        &t,
        "GET",
        "/v1/tracing-requests?status=REQUEST_STATUS_OPEN&page_size=5",
        Some(&officer),
        None,
        &[],
    )
    .await;
    assert_eq!(listed.status, 200, "{}", listed.text());
    assert_eq!(listed.json()["tracingRequests"][0]["id"], id.as_str());
    let none = call(
        &t,
        "GET",
        "/v1/tracing-requests?status=REQUEST_STATUS_CLOSED",
        Some(&officer),
        None,
        &[],
    )
    .await;
    assert_eq!(none.status, 200, "{}", none.text());
    assert!(none.json()["tracingRequests"].is_null());
    let wrong = call(
        &t,
        "GET",
        "/v1/tracing-requests?status=REQUEST_STATUS_LOST",
        Some(&officer),
        None,
        &[],
    )
    .await;
    let problem = assert_problem(&wrong, 400, "INVALID_ARGUMENT");
    assert_eq!(problem["errors"][0]["field"], "status");
    assert!(
        !wrong.text().contains("REQUEST_STATUS_LOST"),
        "never echoed"
    );
    let wrong = call(
        &t,
        "GET",
        "/v1/tracing-requests?page_size=many",
        Some(&officer),
        None,
        &[],
    )
    .await;
    let problem = assert_problem(&wrong, 400, "INVALID_ARGUMENT");
    assert_eq!(problem["errors"][0]["field"], "page.page_size");
    t.stop().await;
}

#[tokio::test]
async fn a_request_wrong_in_many_places_is_a_400_that_names_some_fields() {
    let t = TestSuite::start().await;
    let officer = t.token("reunification_officer", "ro-1", "agency-a");
    let bad_child = json!({
        "dateOfBirth": { "year": 1, "month": 99, "day": 99 },
        "separatedOn": { "year": 1, "month": 99, "day": 99 },
        "ageEstimate": { "minYears": 900, "maxYears": 1 },
        "otherNames": ["", "", "", ""]
    });
    let answer = call(
        &t,
        "POST",
        "/v1/tracing-requests",
        Some(&officer),
        Some(&json!({
            "inquirer": { "givenName": "Generated", "familyName": "Inquirer" },
            "soughtChildren": vec![bad_child; 40],
        })),
        &[("Idempotency-Key", "many-wrongs")],
    )
    .await;
    // Every violation would not fit in the status headers; the answer names the first ones.
    let problem = assert_problem(&answer, 400, "INVALID_ARGUMENT");
    let errors = problem["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), haven_platform::error::MAX_VIOLATIONS);
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("more"))
    );
    t.stop().await;
}

#[tokio::test]
async fn the_rate_limit_is_a_429_with_retry_after() {
    let t = TestSuite::start_with(Options {
        rate_limit_per_second: 1,
        rate_limit_burst: 2,
        ..Options::default()
    })
    .await;
    let token = t.token("caseworker", "cw-busy", "agency-a");
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let answer = call(&t, "GET", "/v1/children", Some(&token), None, &[]).await;
        statuses.push(answer.status);
        if answer.status == 429 {
            assert_problem(&answer, 429, "RESOURCE_EXHAUSTED");
            assert!(
                answer
                    .header("retry-after")
                    .is_some_and(|v| v.parse::<u32>().is_ok())
            );
        }
    }
    assert_eq!(statuses[0], 200);
    assert!(statuses.contains(&429), "{statuses:?}");
    t.stop().await;
}
