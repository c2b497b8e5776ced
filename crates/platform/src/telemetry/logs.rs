//! JSON log lines that carry the W3C trace id, so a log search for one trace finds every line of one
//! request in every service. One object per line:
//! `{"timestamp","level","target","message","fields":{..},"span","trace_id","span_id"}`.
//! Only the event's own fields and the ids of the span it happened in are written, never span fields:
//! those name RPCs and codes, and a line is not the place to repeat them.

use std::io::Write as _;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// The W3C ids a span recorded in its `trace_id` and `span_id` fields (see [`super::adopt`]).
#[derive(Debug, Clone, Default)]
struct TraceIds {
    trace_id: Option<String>,
    span_id: Option<String>,
}

impl Visit for TraceIds {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.keep(field, value.to_owned());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.keep(field, format!("{value:?}"));
    }
}

impl TraceIds {
    fn keep(&mut self, field: &Field, value: String) {
        match field.name() {
            "trace_id" => self.trace_id = Some(value),
            "span_id" => self.span_id = Some(value),
            _ => {}
        }
    }
}

/// Collects an event's fields as JSON values.
#[derive(Default)]
struct Fields {
    message: Option<String>,
    rest: Map<String, Value>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, Value::from(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, Value::from(format!("{value:?}")));
    }
}

impl Fields {
    fn put(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            self.message = Some(match value {
                Value::String(text) => text,
                other => other.to_string(),
            });
        } else {
            self.rest.insert(field.name().to_owned(), value);
        }
    }
}

/// A `tracing` layer writing JSON lines to `W`.
#[derive(Debug)]
pub struct JsonLogLayer<W> {
    writer: W,
}

impl<W> JsonLogLayer<W> {
    pub fn new(writer: W) -> Self {
        JsonLogLayer { writer }
    }
}

impl<S, W> tracing_subscriber::Layer<S> for JsonLogLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'a> MakeWriter<'a> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut ids = TraceIds::default();
        attrs.record(&mut ids);
        span.extensions_mut().insert(ids);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(ids) = extensions.get_mut::<TraceIds>() {
            values.record(ids);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            Value::from(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        );
        let metadata = event.metadata();
        line.insert("level".into(), Value::from(metadata.level().as_str()));
        line.insert("target".into(), Value::from(metadata.target()));
        line.insert(
            "message".into(),
            Value::from(fields.message.unwrap_or_default()),
        );
        if !fields.rest.is_empty() {
            line.insert("fields".into(), Value::Object(fields.rest));
        }
        if let Some(scope) = ctx.event_scope(event) {
            let mut named = false;
            for span in scope {
                if !named {
                    line.insert("span".into(), Value::from(span.name()));
                    named = true;
                }
                let extensions = span.extensions();
                if let Some(TraceIds {
                    trace_id: Some(trace_id),
                    span_id,
                }) = extensions.get::<TraceIds>()
                {
                    line.insert("trace_id".into(), Value::from(trace_id.as_str()));
                    if let Some(span_id) = span_id {
                        line.insert("span_id".into(), Value::from(span_id.as_str()));
                    }
                    break;
                }
            }
        }
        let mut text = Value::Object(line).to_string();
        text.push('\n');
        let _ = self.writer.make_writer().write_all(text.as_bytes());
    }
}
