//! The public URLs an issued passport names, answered over plain HTTP GET on the gateway's port with no
//! token: the status list at `credentialStatus.id` and the curriculum point at each alignment's
//! `targetUrl`. A school abroad follows them with a browser or `curl`.

use base64::Engine as _;
use haven_proto::learning::learning_records_client::LearningRecordsClient;
use haven_proto::learning::{
    EnrolLearnerRequest, ImportFrameworkRequest, IssuePassportRequest, Label, LearningRecord,
    PassportRecipient, RecordKind, RecordLearningRequest,
};
use haven_tests::fixtures::{learner, register};
use haven_tests::http1::{Response, request};
use haven_tests::{TestSuite, authed};
use serde_json::Value;

/// Every string at a key named `key`, anywhere in `value`.
fn strings_at(value: &Value, key: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == key
                    && let Some(text) = v.as_str()
                {
                    out.push(text.to_owned());
                }
                strings_at(v, key, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| strings_at(v, key, out)),
        _ => {}
    }
}

/// GET of an absolute URL that must name this gateway, with no token.
async fn get_public(t: &TestSuite, url: &str) -> Response {
    let base = format!("http://{}", t.suite.gateway_addr);
    let path = url
        .strip_prefix(&base)
        .unwrap_or_else(|| panic!("{url} is not served by this gateway ({base})"));
    request(t.suite.gateway_addr, "GET", path, &[], None).await
}

#[tokio::test]
async fn a_passports_status_list_and_alignment_targets_answer_a_plain_get() {
    let t = TestSuite::start().await;
    let teacher = t.token("educator", "teacher-public", "school-public");
    let mut learning = LearningRecordsClient::new(t.channel());
    learning
        .import_framework(authed(
            &teacher,
            ImportFrameworkRequest {
                framework_code: haven_learning::curriculum::EXAMPLE_FRAMEWORK_CODE.into(),
                titles: vec![Label {
                    lang: "en".into(),
                    text: "Haven common framework".into(),
                }],
                csv: haven_learning::curriculum::EXAMPLE_FRAMEWORK_CSV.into(),
                dry_run: false,
            },
        ))
        .await
        .expect("import the example framework");
    let child = t
        .client()
        .register_child(authed(
            &teacher,
            register(learner("Generated", "Publicpupil")),
        ))
        .await
        .expect("register")
        .into_inner()
        .child
        .and_then(|c| c.meta)
        .expect("meta")
        .id;
    // The learning service learns of the child from identity's events: enrol once it has.
    let enrol = EnrolLearnerRequest {
        request_id: uuid::Uuid::now_v7().to_string(),
        child_id: child.clone(),
        programme: "Grade 4".into(),
        ..EnrolLearnerRequest::default()
    };
    let mut enrolled = None;
    for _ in 0..200 {
        match learning
            .enrol_learner(authed(&teacher, enrol.clone()))
            .await
        {
            Err(status) if status.code() == tonic::Code::NotFound => {
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            }
            other => {
                enrolled = Some(other);
                break;
            }
        }
    }
    enrolled
        .expect("the learning service saw the child")
        .expect("enrol");
    learning
        .record_learning(authed(
            &teacher,
            RecordLearningRequest {
                request_id: uuid::Uuid::now_v7().to_string(),
                record: Some(LearningRecord {
                    child_id: child.clone(),
                    kind: RecordKind::Completion as i32,
                    framework_code: haven_learning::curriculum::EXAMPLE_FRAMEWORK_CODE.into(),
                    subject_code: "MATH".into(),
                    level_code: "G4".into(),
                    outcome_codes: vec!["M4.1".into()],
                    title: "Grade 4 mathematics".into(),
                    ..LearningRecord::default()
                }),
            },
        ))
        .await
        .expect("record");
    let passport = learning
        .issue_passport(authed(
            &teacher,
            IssuePassportRequest {
                child_id: child,
                recipient: Some(PassportRecipient {
                    given_name: "Generated".into(),
                    family_name: "Publicpupil".into(),
                    birth_year: 0,
                    hashed: true,
                }),
                valid_days: 0,
            },
        ))
        .await
        .expect("issue")
        .into_inner();
    let payload = passport.jwt.split('.').nth(1).expect("a compact JWT");
    let payload: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64url"),
    )
    .expect("JSON");

    // The status list at credentialStatus.id: the signed list, cacheable by anyone.
    let mut statuses = Vec::new();
    if let Some(status) = payload
        .pointer("/vc/credentialStatus")
        .or(payload.get("credentialStatus"))
    {
        strings_at(status, "id", &mut statuses);
    }
    let status_url = statuses.first().expect("credentialStatus.id");
    let answer = get_public(&t, status_url).await;
    assert_eq!(answer.status, 200, "{status_url}: {}", answer.text());
    assert_eq!(answer.header("cache-control"), Some("public, max-age=60"));
    let list = answer.json();
    assert_eq!(list["jwt"].as_str().map(|j| j.split('.').count()), Some(3));

    // Each alignment's targetUrl: the curriculum point, its labels in every language.
    let mut targets = Vec::new();
    strings_at(&payload, "targetUrl", &mut targets);
    assert!(!targets.is_empty(), "the passport names alignment targets");
    for url in &targets {
        let answer = get_public(&t, url).await;
        assert_eq!(answer.status, 200, "{url}: {}", answer.text());
        assert_eq!(answer.header("cache-control"), Some("public, max-age=60"));
        let target = answer.json();
        assert_eq!(target["framework"], "HAVEN-COMMON");
        assert_eq!(target["subject"], "MATH");
        assert_eq!(target["level"], "G4");
        let langs: Vec<&str> = target["levelLabels"]
            .as_array()
            .expect("level labels")
            .iter()
            .filter_map(|l| l["lang"].as_str())
            .collect();
        assert!(langs.contains(&"en") && langs.contains(&"fr"), "{target}");
        if target["outcome"] == "M4.1" {
            assert!(
                target["outcomeLabels"][0]["text"]
                    .as_str()
                    .is_some_and(|t| !t.is_empty())
            );
        }
        // Nothing about any child.
        assert!(!answer.text().contains("Publicpupil"));
    }

    // An unknown point is a 404 problem, also without a token.
    let missing = request(
        t.suite.gateway_addr,
        "GET",
        "/curricula/HAVEN-COMMON/MATH/G9/none",
        &[],
        None,
    )
    .await;
    assert_eq!(missing.status, 404, "{}", missing.text());
    assert_eq!(
        missing.header("content-type"),
        Some("application/problem+json")
    );
    t.stop().await;
}
