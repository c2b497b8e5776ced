//! A token request over HTTP is traced, measured and logged as the gRPC token call it shares a grant
//! with: the gateway's server span is `haven.auth.v1.Tokens/IssueToken` with the same gRPC status a gRPC
//! client would get, a refusal is logged by client id and address, and no secret reaches a log line or
//! a span.

use std::time::Duration;

use base64::Engine as _;
use haven_authz::ClientRegistry;
use haven_platform::authz_files::ClientRegistryFiles as _;
use haven_tests::http1::request;
use haven_tests::{Options, TestSuite};
use opentelemetry::Key;
use opentelemetry::trace::SpanKind;
use opentelemetry_sdk::trace::SpanData;

fn attr(span: &SpanData, key: &str) -> String {
    span.attributes
        .iter()
        .find(|kv| kv.key == Key::from(key.to_owned()))
        .map(|kv| kv.value.to_string())
        .unwrap_or_default()
}

fn traceparent() -> (String, String) {
    let trace = uuid::Uuid::new_v4().simple().to_string();
    let header = format!(
        "00-{trace}-{}-01",
        &uuid::Uuid::new_v4().simple().to_string()[..16]
    );
    (trace, header)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_request_over_http_is_traced_and_logged_as_issue_token_without_its_secret() {
    let haven_tests::otel::Captured {
        spans,
        logs,
        telemetry,
        ..
    } = haven_tests::otel::capture();
    let dir = std::env::temp_dir().join(format!("haven-oauth-otel-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).expect("dir");
    let clients = dir.join("clients.toml");
    let secret = ClientRegistry::add_to_file(&clients, "ngo-app", "ngo-1", vec!["partner".into()])
        .expect("client");
    let t = TestSuite::start_with(Options {
        clients_path: Some(clients),
        ..Options::default()
    })
    .await;
    let wrong_secret = "not-the-secret-but-still-private";
    let calls = [(secret.as_str(), 200, "0"), (wrong_secret, 401, "16")];
    for (presented, http_status, grpc_status) in calls {
        let (trace, header) = traceparent();
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("ngo-app:{presented}"))
        );
        let answer = request(
            t.suite.gateway_addr,
            "POST",
            "/oauth2/token",
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("authorization", &basic),
                ("traceparent", &header),
            ],
            Some(b"grant_type=client_credentials"),
        )
        .await;
        assert_eq!(answer.status, http_status, "{}", answer.text());
        let mut gateway = None;
        for _ in 0..100 {
            telemetry.flush();
            gateway = spans
                .get_finished_spans()
                .expect("spans")
                .into_iter()
                .find(|s| {
                    s.span_context.trace_id().to_string() == trace
                        && s.span_kind == SpanKind::Server
                        && attr(s, "haven.component") == "gateway"
                });
            if gateway.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let gateway = gateway.expect("a gateway server span in the caller's trace");
        assert_eq!(gateway.name, "haven.auth.v1.Tokens/IssueToken");
        assert_eq!(attr(&gateway, "rpc.grpc.status_code"), grpc_status);
        assert!(
            gateway
                .attributes
                .iter()
                .all(|kv| !kv.value.to_string().contains(presented)),
            "no secret on the span"
        );
    }
    telemetry.flush();
    let text = logs.text();
    assert!(
        text.contains("token request refused") && text.contains("ngo-app"),
        "the refusal is logged by client id"
    );
    assert!(!text.contains(&secret), "the secret is never logged");
    assert!(!text.contains(wrong_secret), "nor a wrong one");
    t.stop().await;
}
