//! One client call is one trace: through the gateway, into the service, down to its SQL statements, and
//! on through the bus to every consumer of the event it raised, with each span's parent the span that
//! caused it. Spans, metrics and log lines are captured in memory, on whichever backend the run uses.

use std::collections::HashMap;
use std::time::Duration;

use haven_proto::identity::GetChildRequest;
use haven_tests::fixtures::{case_child, id_of, register};
use haven_tests::{TestSuite, authed};
use opentelemetry::trace::{SpanId, SpanKind, TraceId};
use opentelemetry::{Key, Value};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, HistogramDataPoint, MetricData};
use opentelemetry_sdk::trace::SpanData;

fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key == Key::from(key.to_owned()))
        .map(|kv| &kv.value)
}

fn attr_str(span: &SpanData, key: &str) -> String {
    attr(span, key).map(|v| v.to_string()).unwrap_or_default()
}

/// A fresh W3C id pair for a caller's own span.
fn caller_ids() -> (TraceId, SpanId) {
    let trace = uuid::Uuid::new_v4().simple().to_string();
    let span = &uuid::Uuid::new_v4().simple().to_string()[..16];
    (
        TraceId::from_hex(&trace).expect("trace id"),
        SpanId::from_hex(span).expect("span id"),
    )
}

fn with_traceparent<T>(
    mut request: tonic::Request<T>,
    trace: TraceId,
    parent: SpanId,
) -> tonic::Request<T> {
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace}-{parent}-01")
            .parse()
            .expect("ascii header"),
    );
    request
}

/// The one span of `trace` matching `pick`, failing with the trace's span names otherwise.
fn only<'a>(trace: &'a [SpanData], what: &str, pick: impl Fn(&SpanData) -> bool) -> &'a SpanData {
    let found: Vec<&SpanData> = trace.iter().filter(|s| pick(s)).collect();
    assert_eq!(
        found.len(),
        1,
        "exactly one {what}; the trace holds {:?}",
        trace
            .iter()
            .map(|s| (s.name.to_string(), attr_str(s, "haven.component")))
            .collect::<Vec<_>>()
    );
    found[0]
}

/// Whether `ancestor` is `span`'s parent, grandparent, ... within the trace.
fn descends_from(trace: &[SpanData], span: &SpanData, ancestor: SpanId) -> bool {
    let by_id: HashMap<SpanId, &SpanData> = trace
        .iter()
        .map(|s| (s.span_context.span_id(), s))
        .collect();
    let mut parent = span.parent_span_id;
    while parent != SpanId::INVALID {
        if parent == ancestor {
            return true;
        }
        parent = match by_id.get(&parent) {
            Some(next) => next.parent_span_id,
            None => return false,
        };
    }
    false
}

fn histogram_points<'a>(
    metrics: &'a [opentelemetry_sdk::metrics::data::ResourceMetrics],
    name: &str,
) -> Vec<&'a HistogramDataPoint<f64>> {
    metrics
        .iter()
        .flat_map(|rm| rm.scope_metrics())
        .flat_map(|sm| sm.metrics())
        .filter(|m| m.name() == name)
        .flat_map(|m| match m.data() {
            AggregatedMetrics::F64(MetricData::Histogram(h)) => h.data_points().collect(),
            _ => Vec::new(),
        })
        .collect()
}

fn point_has(point: &HistogramDataPoint<f64>, key: &str, value: &str) -> bool {
    point
        .attributes()
        .any(|kv| kv.key.as_str() == key && kv.value.to_string() == value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_call_is_one_trace_from_the_gateway_to_the_database_and_every_consumer() {
    let haven_tests::otel::Captured {
        spans,
        metrics,
        logs,
        telemetry,
    } = haven_tests::otel::capture();

    let t = TestSuite::start().await;
    let caseworker = t.token("caseworker", "cw-otel", "agency-a");
    let (trace, caller_span) = caller_ids();
    let child = t
        .client()
        .register_child(with_traceparent(
            authed(
                &caseworker,
                register(case_child("Otelgiven", "Otelfamily", true)),
            ),
            trace,
            caller_span,
        ))
        .await
        .expect("registered")
        .into_inner();
    let child_id = id_of(&child);

    // The event reaches family tracing (which then reads the consenting child's identity back from the
    // identity service) and learning asynchronously: wait for both consumers' spans.
    let mut ours = Vec::new();
    for _ in 0..200 {
        telemetry.flush();
        ours = spans
            .get_finished_spans()
            .expect("spans")
            .into_iter()
            .filter(|s| s.span_context.trace_id() == trace)
            .collect::<Vec<_>>();
        let reads_back = ours.iter().any(|s| {
            s.span_kind == SpanKind::Server
                && attr_str(s, "rpc.method") == "GetChild"
                && attr_str(s, "haven.component") == "identity"
        });
        let consumers = ours
            .iter()
            .filter(|s| s.span_kind == SpanKind::Consumer)
            .map(|s| attr_str(s, "messaging.consumer.group.name"))
            .collect::<Vec<_>>();
        if reads_back
            && consumers.iter().any(|g| g == "family-tracing")
            && consumers.iter().any(|g| g == "learning")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Gateway: a server span whose parent is the caller's span, then a client span to identity.
    let gateway = only(&ours, "gateway server span", |s| {
        s.span_kind == SpanKind::Server && attr_str(s, "haven.component") == "gateway"
    });
    assert_eq!(
        gateway.name,
        "haven.identity.v1.ChildIdentity/RegisterChild"
    );
    assert_eq!(gateway.parent_span_id, caller_span, "continues the caller");
    assert!(gateway.parent_span_is_remote);
    assert_eq!(attr_str(gateway, "rpc.grpc.status_code"), "0");
    let hop = only(&ours, "gateway client span", |s| {
        s.span_kind == SpanKind::Client && attr_str(s, "haven.component") == "gateway"
    });
    assert_eq!(hop.parent_span_id, gateway.span_context.span_id());
    assert_eq!(attr_str(hop, "rpc.method"), "RegisterChild");

    // Identity: its server span is the child of the gateway's client span, across the network hop.
    let identity = only(&ours, "identity RegisterChild span", |s| {
        s.span_kind == SpanKind::Server
            && attr_str(s, "haven.component") == "identity"
            && attr_str(s, "rpc.method") == "RegisterChild"
    });
    assert_eq!(identity.parent_span_id, hop.span_context.span_id());
    assert!(identity.parent_span_is_remote, "reached through headers");

    // Database: the statements of the registration are children of the identity span.
    let statements: Vec<&SpanData> = ours
        .iter()
        .filter(|s| {
            s.span_kind == SpanKind::Client
                && attr(s, "db.system.name").is_some()
                && s.parent_span_id == identity.span_context.span_id()
        })
        .collect();
    assert!(
        statements
            .iter()
            .any(|s| attr_str(s, "db.operation.name") == "INSERT"),
        "the registration's INSERTs are in the trace"
    );
    let system = attr_str(statements[0], "db.system.name");
    assert_eq!(
        system,
        if haven_tests::backend() == "postgres" {
            "postgresql"
        } else {
            "sqlite"
        }
    );
    for statement in &statements {
        assert!(
            statement.start_time >= identity.start_time && statement.end_time <= identity.end_time,
            "a statement runs within its RPC"
        );
    }

    // The bus: each consumer's span descends from the identity span that wrote the event.
    for group in ["family-tracing", "learning"] {
        let consumer = ours
            .iter()
            .find(|s| {
                s.span_kind == SpanKind::Consumer
                    && attr_str(s, "messaging.consumer.group.name") == group
            })
            .unwrap_or_else(|| panic!("{group} consumed the event in this trace"));
        assert!(
            descends_from(&ours, consumer, identity.span_context.span_id()),
            "{group}'s consumer span descends from the RPC that raised the event"
        );
        assert!(
            ours.iter().any(|s| s.span_kind == SpanKind::Client
                && attr(s, "db.system.name").is_some()
                && s.parent_span_id == consumer.span_context.span_id()),
            "{group} wrote to its database within the consumer span"
        );
    }
    // Family tracing's read-back is a client call whose server span at identity is in the same trace.
    let read_back = ours
        .iter()
        .find(|s| {
            s.span_kind == SpanKind::Server
                && attr_str(s, "haven.component") == "identity"
                && attr_str(s, "rpc.method") == "GetChild"
        })
        .expect("identity served the read-back in this trace");
    let read_back_client = ours
        .iter()
        .find(|s| s.span_context.span_id() == read_back.parent_span_id)
        .expect("the read-back's parent is in the trace");
    assert_eq!(read_back_client.span_kind, SpanKind::Client);
    assert_eq!(
        attr_str(read_back_client, "haven.component"),
        "family-tracing"
    );

    // No span of the trace points at a parent outside it, except the gateway's at the caller.
    let ids: Vec<SpanId> = ours.iter().map(|s| s.span_context.span_id()).collect();
    for span in &ours {
        if span.span_context.span_id() != gateway.span_context.span_id() {
            assert!(
                ids.contains(&span.parent_span_id),
                "{} has a parent in the trace",
                span.name
            );
        }
    }

    // A refused call: its own trace, an error status in the metrics, and a JSON log line carrying its
    // trace id.
    let (refused_trace, refused_parent) = caller_ids();
    let refused = t
        .client()
        .get_child(with_traceparent(
            tonic::Request::new(GetChildRequest {
                id: child_id.clone(),
            }),
            refused_trace,
            refused_parent,
        ))
        .await
        .expect_err("no token");
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);

    telemetry.flush();
    let exported = metrics.get_finished_metrics().expect("metrics");
    let rpc = histogram_points(&exported, "rpc.server.call.duration");
    for component in ["gateway", "identity"] {
        assert!(
            rpc.iter()
                .any(|p| point_has(p, "rpc.method", "RegisterChild")
                    && point_has(p, "haven.component", component)
                    && point_has(p, "rpc.grpc.status_code", "0")
                    && p.count() >= 1),
            "{component} recorded RegisterChild's duration"
        );
    }
    assert!(
        rpc.iter().any(|p| point_has(p, "rpc.method", "GetChild")
            && point_has(p, "haven.component", "gateway")
            && point_has(p, "rpc.grpc.status_code", "16")),
        "the refused call counts as an error by its status code"
    );
    assert!(
        histogram_points(&exported, "rpc.client.call.duration")
            .iter()
            .any(|p| point_has(p, "haven.component", "family-tracing")),
        "family tracing's calls to identity are measured"
    );
    assert!(
        histogram_points(&exported, "haven.bus.lag")
            .iter()
            .any(
                |p| point_has(p, "messaging.consumer.group.name", "family-tracing")
                    && p.count() >= 1
            ),
        "bus lag is recorded per consumer group"
    );
    assert!(
        !histogram_points(&exported, "db.client.operation.duration").is_empty(),
        "statement durations are recorded"
    );

    let text = logs.text();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("every log line is one JSON object"))
        .collect();
    let refusal = lines
        .iter()
        .find(|line| line["message"] == "unauthenticated call refused")
        .expect("the refusal was logged");
    assert_eq!(refusal["trace_id"], refused_trace.to_string());
    assert_eq!(refusal["level"], "INFO");
    assert!(refusal["span_id"].as_str().is_some_and(|s| s.len() == 16));
    assert!(
        !text.contains("Otelgiven") && !text.contains("Otelfamily"),
        "no log line names the child"
    );
    t.stop().await;
}
