//! With an OTLP endpoint configured, the process exports its spans and RED metrics over OTLP/gRPC, the
//! way `haven serve` does when `OTEL_EXPORTER_OTLP_ENDPOINT` is set. A receiver on a local port stands
//! in for the OpenTelemetry collector.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use haven_proto::identity::ListChildrenRequest;
use haven_tests::{TestSuite, authed};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use tonic::{Request, Response, Status};

#[derive(Clone, Default)]
struct Collector {
    traces: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
    metrics: Arc<Mutex<Vec<ExportMetricsServiceRequest>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.traces.lock().expect("lock").push(request.into_inner());
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Collector {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        self.metrics
            .lock()
            .expect("lock")
            .push(request.into_inner());
        Ok(Response::new(ExportMetricsServiceResponse::default()))
    }
}

fn service_name(resource: Option<&opentelemetry_proto::tonic::resource::v1::Resource>) -> String {
    resource
        .into_iter()
        .flat_map(|r| r.attributes.iter())
        .find(|kv| kv.key == "service.name")
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| match &v.value {
            Some(Value::StringValue(name)) => Some(name.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_and_metrics_reach_an_otlp_collector() {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let serving = collector.clone();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(serving.clone()))
            .add_service(MetricsServiceServer::new(serving))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await
            .expect("collector serves");
    });
    let telemetry = haven_platform::telemetry::init_exporting_to(
        "haven-otlp-test",
        &format!("http://{address}"),
    )
    .expect("telemetry");

    let t = TestSuite::start().await;
    let supervisor = t.token("supervisor", "sup-otlp", "agency-a");
    t.client()
        .list_children(authed(&supervisor, ListChildrenRequest::default()))
        .await
        .expect("listed");

    let mut span_names = Vec::new();
    let mut metric_names = Vec::new();
    for _ in 0..100 {
        telemetry.flush();
        let traces = collector.traces.lock().expect("lock").clone();
        span_names = traces
            .iter()
            .flat_map(|r| r.resource_spans.iter())
            .filter(|rs| service_name(rs.resource.as_ref()) == "haven-otlp-test")
            .flat_map(|rs| rs.scope_spans.iter())
            .flat_map(|ss| ss.spans.iter())
            .map(|s| s.name.clone())
            .collect::<Vec<_>>();
        metric_names = collector
            .metrics
            .lock()
            .expect("lock")
            .iter()
            .flat_map(|r| r.resource_metrics.iter())
            .filter(|rm| service_name(rm.resource.as_ref()) == "haven-otlp-test")
            .flat_map(|rm| rm.scope_metrics.iter())
            .flat_map(|sm| sm.metrics.iter())
            .map(|m| m.name.clone())
            .collect::<Vec<_>>();
        if span_names
            .iter()
            .any(|n| n == "haven.identity.v1.ChildIdentity/ListChildren")
            && metric_names.iter().any(|n| n == "rpc.server.call.duration")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        span_names
            .iter()
            .filter(|n| *n == "haven.identity.v1.ChildIdentity/ListChildren")
            .count()
            >= 2,
        "the gateway's and identity's spans arrived: {span_names:?}"
    );
    assert!(
        span_names.iter().any(|n| n.starts_with("SELECT ")),
        "statement spans arrived: {span_names:?}"
    );
    for name in ["rpc.server.call.duration", "db.client.operation.duration"] {
        assert!(
            metric_names.iter().any(|n| n == name),
            "{name} arrived: {metric_names:?}"
        );
    }
    t.stop().await;
}
