//! Telemetry for every Haven process (DESIGN.md §1): `tracing` spans bridged to OpenTelemetry, W3C trace
//! context carried across every gRPC hop and every bus event, RED metrics per RPC, bus lag, database
//! spans, and logs that carry the trace id.
//!
//! - **Export** is OTLP over gRPC, on only when `OTEL_EXPORTER_OTLP_ENDPOINT` (or the traces- or
//!   metrics-specific variable) is set; the other standard `OTEL_*` variables apply. Without it spans
//!   still get W3C ids, so the logs of one request join up across services.
//!   `OTEL_SDK_DISABLED=true` turns spans and metrics off altogether (logs stay, without trace ids).
//! - **Spans**: [`grpc::ServerTelemetryLayer`] opens a server span per RPC, continuing the caller's
//!   `traceparent`; [`grpc::ClientTelemetry`] opens a client span per outgoing call and injects its
//!   context; [`crate::consumer`] opens a consumer span per bus event, continuing the `traceparent` the
//!   event was written with ([`current_traceparent`]); [`db`] adds a span per SQL statement.
//! - **Metrics** ([`instruments`]): `rpc.server.call.duration` and `rpc.client.call.duration` histograms
//!   (seconds; their counts are the request rate, and `rpc.grpc.status_code` splits errors out),
//!   `haven.bus.lag` (seconds from an event's commit to its consumption) and `db.client.operation.duration`.
//! - **Logs**: `HAVEN_LOG` filters; `HAVEN_LOG_FORMAT=json` writes one JSON object per line with
//!   `trace_id` and `span_id`, `text` writes for people. Unset: text on a terminal, JSON otherwise.
//!   Span and event fields never carry protected values: only ids, codes and counts (tested by
//!   `tests/tests/logs.rs` and `tests/tests/telemetry.rs`).

pub mod db;
pub mod grpc;
mod logs;

use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::sync::OnceLock;

use opentelemetry::metrics::{Histogram, MeterProvider as _};
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator as _};
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry::{Context, global};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer, Registry};

pub use logs::JsonLogLayer;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line, with `trace_id` and `span_id`: for containers and log pipelines.
    Json,
    /// Human-readable lines: for a terminal.
    Text,
}

impl LogFormat {
    /// `HAVEN_LOG_FORMAT` (`json` or `text`); unset, text when stderr is a terminal and JSON otherwise.
    pub fn from_env() -> Result<Self, TelemetryError> {
        match std::env::var("HAVEN_LOG_FORMAT").ok().as_deref() {
            Some("json") => Ok(LogFormat::Json),
            Some("text") => Ok(LogFormat::Text),
            Some(other) => Err(TelemetryError(format!(
                "HAVEN_LOG_FORMAT must be json or text, not {other:?}"
            ))),
            None if std::io::stderr().is_terminal() => Ok(LogFormat::Text),
            None => Ok(LogFormat::Json),
        }
    }
}

/// Telemetry could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("telemetry: {0}")]
pub struct TelemetryError(String);

/// Keeps the providers alive; dropping it flushes what is buffered and stops export.
#[derive(Debug)]
pub struct Telemetry {
    tracer_provider: SdkTracerProvider,
    meter_provider: SdkMeterProvider,
}

impl Telemetry {
    /// Exports what is buffered now (tests read in-memory exporters after this).
    pub fn flush(&self) {
        let _ = self.tracer_provider.force_flush();
        let _ = self.meter_provider.force_flush();
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        let _ = self.tracer_provider.shutdown();
        let _ = self.meter_provider.shutdown();
    }
}

/// `OTEL_SDK_DISABLED=true`, the standard switch: no spans, no trace ids in logs, no metrics; logs stay.
pub fn sdk_disabled() -> bool {
    std::env::var("OTEL_SDK_DISABLED").is_ok_and(|value| value.trim().eq_ignore_ascii_case("true"))
}

/// Whether the standard OTLP endpoint variables ask for export.
pub fn otlp_enabled() -> bool {
    [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    ]
    .iter()
    .any(|name| std::env::var(name).is_ok_and(|value| !value.trim().is_empty()))
}

/// Sets up telemetry for a process named `service_name` (`OTEL_SERVICE_NAME` overrides it): logs to
/// stderr in the format [`LogFormat::from_env`] picks, and OTLP export when [`otlp_enabled`]. Call it
/// once, inside the Tokio runtime, and keep the guard until the process ends.
pub fn init(service_name: &str) -> Result<Telemetry, TelemetryError> {
    let export = (otlp_enabled() && !sdk_disabled()).then_some(Otlp::FromEnvironment);
    setup(service_name, export)
}

/// As [`init`], but exporting to `endpoint` (`http://host:4317`) whatever the environment says.
pub fn init_exporting_to(service_name: &str, endpoint: &str) -> Result<Telemetry, TelemetryError> {
    setup(service_name, Some(Otlp::To(endpoint.to_owned())))
}

enum Otlp {
    FromEnvironment,
    To(String),
}

fn setup(service_name: &str, export: Option<Otlp>) -> Result<Telemetry, TelemetryError> {
    use opentelemetry_otlp::WithExportConfig as _;
    let format = LogFormat::from_env()?;
    let resource = resource(service_name);
    let mut tracer = SdkTracerProvider::builder().with_resource(resource.clone());
    let mut meter = SdkMeterProvider::builder().with_resource(resource);
    if let Some(export) = export {
        let mut spans = opentelemetry_otlp::SpanExporter::builder().with_tonic();
        let mut metrics = opentelemetry_otlp::MetricExporter::builder().with_tonic();
        if let Otlp::To(endpoint) = export {
            spans = spans.with_endpoint(endpoint.clone());
            metrics = metrics.with_endpoint(endpoint);
        }
        let spans = spans
            .build()
            .map_err(|e| TelemetryError(format!("OTLP span exporter: {e}")))?;
        let metrics = metrics
            .build()
            .map_err(|e| TelemetryError(format!("OTLP metric exporter: {e}")))?;
        tracer = tracer.with_batch_exporter(spans);
        meter = meter.with_periodic_exporter(metrics);
    }
    install(tracer.build(), meter.build(), format, std::io::stderr)
}

/// The resource every span and metric carries: `service.name` plus what `OTEL_RESOURCE_ATTRIBUTES`
/// adds.
pub fn resource(service_name: &str) -> Resource {
    let name = std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| service_name.to_owned());
    Resource::builder().with_service_name(name).build()
}

/// Installs the given providers as the process's telemetry and the global `tracing` subscriber, with
/// logs written to `writer`. [`init`] uses it with OTLP; tests use it with in-memory exporters.
pub fn install<W>(
    tracer_provider: SdkTracerProvider,
    meter_provider: SdkMeterProvider,
    format: LogFormat,
    writer: W,
) -> Result<Telemetry, TelemetryError>
where
    W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_env("HAVEN_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let mut layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = Vec::new();
    if !sdk_disabled() {
        global::set_tracer_provider(tracer_provider.clone());
        global::set_meter_provider(meter_provider.clone());
        let _ = INSTRUMENTS.set(Instruments::new(&meter_provider.meter("haven")));
        let _ = STATEMENT_TRACER.set(tracer_provider.tracer("haven.db"));
        // Spans go to OpenTelemetry at INFO whatever HAVEN_LOG says: a quiet log must not cut traces.
        layers.push(
            tracing_opentelemetry::layer()
                .with_tracer(tracer_provider.tracer("haven"))
                .with_tracked_inactivity(false)
                .with_filter(tracing_subscriber::filter::LevelFilter::INFO)
                .boxed(),
        );
    }
    let log_lines = match format {
        LogFormat::Json => JsonLogLayer::new(writer).with_filter(filter).boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .with_filter(filter)
            .boxed(),
    };
    layers.push(log_lines);
    tracing_subscriber::registry()
        .with(layers)
        .try_init()
        .map_err(|e| TelemetryError(e.to_string()))?;
    Ok(Telemetry {
        tracer_provider,
        meter_provider,
    })
}

/// The metric instruments every component records to.
#[derive(Debug)]
pub struct Instruments {
    /// Server-side RPC duration in seconds, by `rpc.service`, `rpc.method`, `rpc.grpc.status_code` and
    /// `haven.component`. Its count is the request rate; non-zero status codes are the errors.
    pub rpc_server_duration: Histogram<f64>,
    /// Client-side duration of calls to other Haven services, same attributes.
    pub rpc_client_duration: Histogram<f64>,
    /// Seconds from an event's commit (its `occurred_at`) to a consumer applying it, by stream and group.
    pub bus_lag: Histogram<f64>,
    /// SQL statement duration in seconds, by `db.system.name` and `db.operation.name`.
    pub db_duration: Histogram<f64>,
}

static INSTRUMENTS: OnceLock<Instruments> = OnceLock::new();

/// The tracer statement spans are made with, once [`install`] has run (made once, not per statement).
static STATEMENT_TRACER: OnceLock<opentelemetry_sdk::trace::SdkTracer> = OnceLock::new();

pub(crate) fn statement_tracer() -> Option<&'static opentelemetry_sdk::trace::SdkTracer> {
    STATEMENT_TRACER.get()
}

const SECONDS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

impl Instruments {
    fn new(meter: &opentelemetry::metrics::Meter) -> Self {
        let seconds = |name: &'static str, description: &'static str| {
            meter
                .f64_histogram(name)
                .with_unit("s")
                .with_description(description)
                .with_boundaries(SECONDS.to_vec())
                .build()
        };
        Instruments {
            rpc_server_duration: seconds(
                "rpc.server.call.duration",
                "Duration of RPCs this component served",
            ),
            rpc_client_duration: seconds(
                "rpc.client.call.duration",
                "Duration of RPCs this component made to other Haven services",
            ),
            bus_lag: seconds(
                "haven.bus.lag",
                "Seconds from an event's commit to a consumer applying it",
            ),
            db_duration: seconds("db.client.operation.duration", "Duration of SQL statements"),
        }
    }
}

/// The instruments, bound to the installed meter provider; before [`install`], to a no-op one.
pub fn instruments() -> &'static Instruments {
    INSTRUMENTS.get_or_init(|| Instruments::new(&global::meter("haven")))
}

/// The W3C `traceparent` of the current span, for an event written in this span's transaction; empty
/// outside any trace.
pub fn current_traceparent() -> String {
    let cx = tracing::Span::current().context();
    if !cx.span().span_context().is_valid() {
        return String::new();
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    carrier.remove("traceparent").unwrap_or_default()
}

/// The context a `traceparent` (and optional `tracestate`) names; an empty context when it is absent or
/// malformed, so a bad header starts a new trace instead of failing the call.
pub fn context_from_traceparent(traceparent: &str) -> Context {
    let mut carrier = HashMap::new();
    if !traceparent.is_empty() {
        carrier.insert("traceparent".to_owned(), traceparent.to_owned());
    }
    TraceContextPropagator::new().extract(&carrier)
}

/// Makes `span` a child of `parent` (when it is valid) and records its W3C ids as the span's
/// `trace_id` and `span_id` fields, which JSON log lines carry. The span must declare both fields.
pub fn adopt(span: &tracing::Span, parent: Context) {
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
    let cx = span.context();
    let ids = cx.span().span_context().clone();
    if ids.is_valid() {
        span.record("trace_id", tracing::field::display(ids.trace_id()));
        span.record("span_id", tracing::field::display(ids.span_id()));
    }
}

/// Reads W3C headers from HTTP/2 request headers (gRPC metadata).
pub(crate) struct HeaderExtractor<'a>(pub(crate) &'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|key| key.as_str()).collect()
    }
}

/// Writes W3C headers into outgoing request headers.
pub(crate) struct HeaderInjector<'a>(pub(crate) &'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::header::HeaderName::from_bytes(key.as_bytes()),
            http::header::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceparent_round_trips_and_a_bad_one_starts_afresh() {
        let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let cx = context_from_traceparent(header);
        let ids = cx.span().span_context().clone();
        assert!(ids.is_valid());
        assert_eq!(
            ids.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(ids.span_id().to_string(), "00f067aa0ba902b7");
        assert!(ids.is_remote());
        for bad in [
            "",
            "garbage",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        ] {
            let cx = context_from_traceparent(bad);
            assert!(
                !cx.span().span_context().is_valid(),
                "{bad:?} must not name a parent"
            );
        }
    }

    #[test]
    fn outside_any_trace_there_is_no_traceparent() {
        assert_eq!(current_traceparent(), "");
    }
}
