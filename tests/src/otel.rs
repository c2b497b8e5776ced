//! Telemetry captured in memory for a test process: spans, metrics and JSON log lines, installed once
//! as the process's telemetry (a test binary that asserts on traces holds one such test).

use haven_platform::telemetry::{LogFormat, Telemetry, install};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};

use crate::CapturedLogs;

/// What a test reads back; `telemetry.flush()` before reading metrics.
#[derive(Debug)]
pub struct Captured {
    pub spans: InMemorySpanExporter,
    pub metrics: InMemoryMetricExporter,
    pub logs: CapturedLogs,
    pub telemetry: Telemetry,
}

/// Installs in-memory exporters and a JSON log capture as this process's telemetry.
pub fn capture() -> Captured {
    let spans = InMemorySpanExporter::default();
    let metrics = InMemoryMetricExporter::default();
    let logs = CapturedLogs::default();
    let log_writer = logs.clone();
    let telemetry = install(
        SdkTracerProvider::builder()
            .with_simple_exporter(spans.clone())
            .build(),
        SdkMeterProvider::builder()
            .with_periodic_exporter(metrics.clone())
            .build(),
        LogFormat::Json,
        move || log_writer.clone(),
    )
    .expect("telemetry installed");
    Captured {
        spans,
        metrics,
        logs,
        telemetry,
    }
}
