//! A REST call is traced and measured as the RPC it becomes: the gateway's server span and its metrics
//! are named by the gRPC method, never by the URL (which holds record ids), and carry the call's gRPC
//! status; the trace continues the caller's `traceparent` into the service.

use std::time::Duration;

use haven_tests::TestSuite;
use haven_tests::http1::request;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rest_call_is_traced_as_its_rpc() {
    let haven_tests::otel::Captured {
        spans, telemetry, ..
    } = haven_tests::otel::capture();

    let t = TestSuite::start().await;
    let token = format!("Bearer {}", t.token("caseworker", "cw-otel", "agency-a"));
    let trace = uuid::Uuid::new_v4().simple().to_string();
    let traceparent = format!(
        "00-{trace}-{}-01",
        &uuid::Uuid::new_v4().simple().to_string()[..16]
    );
    let missing = "0190f1c2-0000-7000-8000-000000000000";
    let answer = request(
        t.suite.gateway_addr,
        "GET",
        &format!("/v1/children/{missing}"),
        &[("Authorization", &token), ("traceparent", &traceparent)],
        None,
    )
    .await;
    assert_eq!(answer.status, 404, "{}", answer.text());
    assert!(
        answer.header("grpc-status").is_none(),
        "gRPC headers stay inside"
    );

    let mut ours = Vec::new();
    for _ in 0..100 {
        telemetry.flush();
        ours = spans
            .get_finished_spans()
            .expect("spans")
            .into_iter()
            .filter(|s| s.span_context.trace_id().to_string() == trace)
            .collect::<Vec<_>>();
        if ours
            .iter()
            .any(|s| s.span_kind == SpanKind::Server && attr(s, "haven.component") == "identity")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let gateway = ours
        .iter()
        .find(|s| s.span_kind == SpanKind::Server && attr(s, "haven.component") == "gateway")
        .expect("a gateway server span in the caller's trace");
    assert_eq!(gateway.name, "haven.identity.v1.ChildIdentity/GetChild");
    assert_eq!(attr(gateway, "rpc.grpc.status_code"), "5");
    assert!(
        ours.iter()
            .filter(|s| attr(s, "haven.component") == "gateway")
            .all(|s| !s.name.contains(missing)
                && s.attributes
                    .iter()
                    .all(|kv| !kv.value.to_string().contains(missing))),
        "no gateway span names the record in the URL"
    );
    t.stop().await;
}
