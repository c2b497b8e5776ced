//! A span and a duration sample for every SQL statement, from sea-orm's per-statement callback. The span
//! is a child of whatever span ran the statement (an RPC, an event consumer), with the start time
//! set back by the statement's duration. It names the operation and the table, never the statement
//! text or its values: parameters can hold child data.

use std::time::SystemTime;

use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, SpanKind, Status, TraceContextExt as _, Tracer as _};
use sea_orm::{DatabaseConnection, DbBackend};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::instruments;

/// Reports every statement `db` runs (in or out of a transaction) as a span and a metric sample.
pub fn instrument(db: &mut DatabaseConnection) {
    let system = match db.get_database_backend() {
        DbBackend::Postgres => "postgresql",
        DbBackend::Sqlite => "sqlite",
        _ => "other_sql",
    };
    db.set_metric_callback(move |info| record(system, info));
}

fn record(system: &'static str, info: &sea_orm::metric::Info<'_>) {
    let (operation, table) = summarise(&info.statement.sql);
    instruments().db_duration.record(
        info.elapsed.as_secs_f64(),
        &[
            KeyValue::new("db.system.name", system),
            KeyValue::new("db.operation.name", operation.clone()),
        ],
    );
    let Some(tracer) = super::statement_tracer() else {
        return;
    };
    let parent = tracing::Span::current().context();
    if !parent.span().span_context().is_valid() {
        return;
    }
    let end = SystemTime::now();
    let start = end.checked_sub(info.elapsed).unwrap_or(end);
    let name = match &table {
        Some(table) => format!("{operation} {table}"),
        None => operation.clone(),
    };
    let mut attributes = vec![
        KeyValue::new("db.system.name", system),
        KeyValue::new("db.operation.name", operation),
    ];
    if let Some(table) = table {
        attributes.push(KeyValue::new("db.collection.name", table));
    }
    let mut span = tracer
        .span_builder(name)
        .with_kind(SpanKind::Client)
        .with_start_time(start)
        .with_attributes(attributes)
        .start_with_context(tracer, &parent);
    if info.failed {
        span.set_status(Status::error("statement failed"));
    }
    span.end_with_timestamp(end);
}

/// The statement's operation keyword and, when it names one plainly, its table: identifiers only.
fn summarise(sql: &str) -> (String, Option<String>) {
    let mut words = sql.split_whitespace();
    let operation = words
        .next()
        .unwrap_or("SQL")
        .trim_matches(|c: char| !c.is_ascii_alphabetic())
        .to_ascii_uppercase();
    let marker = match operation.as_str() {
        "SELECT" | "DELETE" => "FROM",
        "INSERT" => "INTO",
        "UPDATE" => "",
        _ => return (operation, None),
    };
    let table = if marker.is_empty() {
        sql.split_whitespace().nth(1)
    } else {
        let mut rest = sql.split_whitespace();
        rest.by_ref()
            .find(|word| word.eq_ignore_ascii_case(marker))
            .and_then(|_| rest.next())
    };
    let table = table
        .map(|word| word.trim_matches(|c| c == '"' || c == '`' || c == '(' || c == ','))
        .filter(|word| {
            !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        })
        .map(str::to_owned);
    (operation, table)
}

#[cfg(test)]
mod tests {
    use super::summarise;

    #[test]
    fn statements_reduce_to_operation_and_table_and_nothing_else() {
        assert_eq!(
            summarise(r#"SELECT "a"."id" FROM "children" WHERE "id" = $1"#),
            ("SELECT".into(), Some("children".into()))
        );
        assert_eq!(
            summarise(r#"INSERT INTO "outbox" ("event_id") VALUES ($1)"#),
            ("INSERT".into(), Some("outbox".into()))
        );
        assert_eq!(
            summarise(r#"UPDATE "audit_head" SET "seq" = "seq" + $1"#),
            ("UPDATE".into(), Some("audit_head".into()))
        );
        assert_eq!(
            summarise("PRAGMA wal_checkpoint(TRUNCATE)"),
            ("PRAGMA".into(), None)
        );
        // A value written inline never becomes a table name.
        assert_eq!(
            summarise("DELETE FROM 'Testgiven Testfamily' WHERE 1"),
            ("DELETE".into(), None)
        );
    }
}
