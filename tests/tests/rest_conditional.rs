//! HTTP conditional requests over REST: the `ETag` is the record's version, `If-Match` on an update is
//! its `expected_version` (412 and nothing written when the record moved on), `If-None-Match` on a read
//! answers 304, and a malformed or misplaced condition is a 400 that names the header.

use haven_tests::TestSuite;
use haven_tests::http1::{Response, assert_problem, rest_call};
use serde_json::{Value, json};

/// The ETag of an answer, checked to be the quoted version the body shows at `version`.
fn etag_of(response: &Response, version: &Value) -> String {
    let etag = response.header("etag").expect("an ETag").to_owned();
    let version = version.as_str().expect("int64 as a string");
    assert_eq!(etag, format!("\"{version}\""));
    etag
}

fn rename(given: &str) -> Value {
    json!({
        "child": { "identity": { "givenName": given } },
        "updateMask": "identity.givenName",
    })
}

#[tokio::test]
async fn a_child_updated_with_if_match_and_read_with_if_none_match() {
    let t = TestSuite::start().await;
    let token = t.token("caseworker", "cw-etag", "agency-a");
    let created = rest_call(
        &t,
        "POST",
        "/v1/children",
        Some(&token),
        Some(&json!({
            "child": { "identity": { "givenName": "Generated", "familyName": "Etagfield" } }
        })),
        &[("Idempotency-Key", &uuid::Uuid::now_v7().to_string())],
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.text());
    assert_eq!(created.header("cache-control"), Some("no-store"));
    let view = created.json();
    let id = view["child"]["meta"]["id"].as_str().expect("id").to_owned();
    let first = etag_of(&created, &view["child"]["meta"]["version"]);
    let path = format!("/v1/children/{id}");

    // A copy that is current is not sent again; one that is not is.
    let unchanged = rest_call(
        &t,
        "GET",
        &path,
        Some(&token),
        None,
        &[("If-None-Match", &first)],
    )
    .await;
    assert_eq!(unchanged.status, 304, "{}", unchanged.text());
    assert!(unchanged.body.is_empty());
    assert_eq!(unchanged.header("etag"), Some(first.as_str()));
    let weak = format!("W/{first}");
    let unchanged = rest_call(
        &t,
        "GET",
        &path,
        Some(&token),
        None,
        &[("If-None-Match", &weak)],
    )
    .await;
    assert_eq!(unchanged.status, 304, "a weak tag matches If-None-Match");

    // Update with the ETag read: written, and the answer carries the new ETag.
    let updated = rest_call(
        &t,
        "PATCH",
        &path,
        Some(&token),
        Some(&rename("Amani")),
        &[("If-Match", &first)],
    )
    .await;
    assert_eq!(updated.status, 200, "{}", updated.text());
    let body = updated.json();
    assert_eq!(body["child"]["identity"]["givenName"], "Amani");
    let second = etag_of(&updated, &body["child"]["meta"]["version"]);
    assert_ne!(first, second);

    let changed = rest_call(
        &t,
        "GET",
        &path,
        Some(&token),
        None,
        &[("If-None-Match", &first)],
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.text());
    assert_eq!(changed.header("etag"), Some(second.as_str()));

    // A stale ETag, and a weak one, are 412 and write nothing.
    for stale in [first.as_str(), &format!("W/{second}")] {
        let refused = rest_call(
            &t,
            "PATCH",
            &path,
            Some(&token),
            Some(&rename("Amira")),
            &[("If-Match", stale)],
        )
        .await;
        let problem = assert_problem(&refused, 412, "FAILED_PRECONDITION");
        assert_eq!(problem["status"], 412);
    }
    let now = rest_call(&t, "GET", &path, Some(&token), None, &[]).await;
    assert_eq!(now.json()["child"]["identity"]["givenName"], "Amani");
    assert_eq!(now.header("etag"), Some(second.as_str()));

    // If-Match on a read: the record at that version, or 412.
    let at = rest_call(
        &t,
        "GET",
        &path,
        Some(&token),
        None,
        &[("If-Match", &second)],
    )
    .await;
    assert_eq!(at.status, 200, "{}", at.text());
    let not_at = rest_call(
        &t,
        "GET",
        &path,
        Some(&token),
        None,
        &[("If-Match", &first)],
    )
    .await;
    assert_problem(&not_at, 412, "FAILED_PRECONDITION");

    // A condition that names no version, is malformed, or contradicts the body is a 400 naming it.
    for (header, value, field) in [
        ("If-Match", "*", "If-Match"),
        ("If-Match", "\"2\", \"3\"", "If-Match"),
        ("If-Match", "2", "If-Match"),
        ("If-None-Match", "\"2", "If-None-Match"),
    ] {
        let refused = rest_call(
            &t,
            "PATCH",
            &path,
            Some(&token),
            Some(&rename("Amira")),
            &[(header, value)],
        )
        .await;
        let problem = assert_problem(&refused, 400, "INVALID_ARGUMENT");
        assert_eq!(problem["errors"][0]["field"], field, "{header}: {value}");
    }
    let mut contradicting = rename("Amira");
    contradicting["expectedVersion"] = json!("1");
    let refused = rest_call(
        &t,
        "PATCH",
        &path,
        Some(&token),
        Some(&contradicting),
        &[("If-Match", &second)],
    )
    .await;
    let problem = assert_problem(&refused, 400, "INVALID_ARGUMENT");
    assert_eq!(problem["errors"][0]["field"], "expected_version");
    let listed = rest_call(
        &t,
        "GET",
        "/v1/children?page_size=5",
        Some(&token),
        None,
        &[("If-None-Match", &second)],
    )
    .await;
    let problem = assert_problem(&listed, 400, "INVALID_ARGUMENT");
    assert_eq!(problem["errors"][0]["field"], "If-None-Match");
    assert!(
        listed.header("etag").is_none(),
        "a list holds no single record"
    );

    let now = rest_call(&t, "GET", &path, Some(&token), None, &[]).await;
    assert_eq!(
        now.json()["child"]["identity"]["givenName"],
        "Amani",
        "no refused call wrote anything"
    );
    t.stop().await;
}

#[tokio::test]
async fn a_tracing_request_updated_with_a_stale_etag_is_412() {
    let t = TestSuite::start().await;
    let officer = t.token("reunification_officer", "ro-etag", "agency-a");
    let created = rest_call(
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
    let body = created.json();
    let id = body["id"].as_str().expect("id").to_owned();
    let first = etag_of(&created, &body["version"]);
    let path = format!("/v1/tracing-requests/{id}");
    let note = |family: &str| {
        json!({
            "tracingRequest": {
                "inquirer": { "givenName": "Generated", "familyName": family, "relation": "RELATION_MOTHER" }
            },
            "updateMask": "inquirer",
        })
    };
    let updated = rest_call(
        &t,
        "PATCH",
        &path,
        Some(&officer),
        Some(&note("Inquirerone")),
        &[("If-Match", &first)],
    )
    .await;
    assert_eq!(updated.status, 200, "{}", updated.text());
    let second = etag_of(&updated, &updated.json()["version"]);
    assert_ne!(first, second);
    let stale = rest_call(
        &t,
        "PATCH",
        &path,
        Some(&officer),
        Some(&note("Inquirertwo")),
        &[("If-Match", &first)],
    )
    .await;
    assert_problem(&stale, 412, "FAILED_PRECONDITION");
    // Without If-Match a stale version in the body stays the 409 it always was.
    let mut in_body = note("Inquirertwo");
    in_body["expectedVersion"] = json!(body["version"]);
    let conflict = rest_call(&t, "PATCH", &path, Some(&officer), Some(&in_body), &[]).await;
    assert_problem(&conflict, 409, "FAILED_PRECONDITION");
    let now = rest_call(&t, "GET", &path, Some(&officer), None, &[]).await;
    assert_eq!(now.header("etag"), Some(second.as_str()));
    t.stop().await;
}
