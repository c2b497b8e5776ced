//! The event bus: Redis Streams in production, an in-process log when embedded. Publishing appends an
//! event to a named stream; every reader reads the stream for itself from a position it keeps (the
//! matching index of each replica must see every event). Events carry record ids and flags, never
//! child data, so the bus holds nothing an erasure would have to chase.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use redis::Value;
use redis::aio::ConnectionManager;

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("event bus unavailable: {0}")]
    Unavailable(String),
    #[error("unexpected reply from the event bus: {0}")]
    Protocol(&'static str),
}

/// One event as read back: its position in the stream, its id and its encoded payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEntry {
    pub position: String,
    pub event_id: String,
    pub payload: Vec<u8>,
}

#[derive(Clone)]
pub enum Bus {
    InProcess(Arc<Mutex<HashMap<String, Vec<StreamEntry>>>>),
    Redis(ConnectionManager),
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Bus::InProcess(_) => "Bus::InProcess",
            Bus::Redis(_) => "Bus::Redis",
        })
    }
}

/// Streams are capped near this many entries; consumers that fall further behind rebuild from their
/// service's database, as DESIGN.md §6 says.
const STREAM_CAP: u64 = 100_000;

impl Bus {
    pub fn in_process() -> Self {
        Bus::InProcess(Arc::default())
    }

    /// A Redis bus that connects on first use, so a service starts while Redis is down and its outbox
    /// keeps the events until Redis is back.
    pub fn redis(url: &str) -> Result<Self, BusError> {
        let client = redis::Client::open(url).map_err(|e| BusError::Unavailable(e.to_string()))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_number_of_retries(1)
            .set_connection_timeout(Some(std::time::Duration::from_secs(2)));
        let manager = client
            .get_connection_manager_lazy(config)
            .map_err(|e| BusError::Unavailable(e.to_string()))?;
        Ok(Bus::Redis(manager))
    }

    /// Appends an event to `stream`.
    pub async fn publish(
        &self,
        stream: &str,
        event_id: &str,
        payload: &[u8],
    ) -> Result<(), BusError> {
        match self {
            Bus::InProcess(streams) => {
                let mut streams = streams.lock().unwrap_or_else(|p| p.into_inner());
                let entries = streams.entry(stream.to_owned()).or_default();
                let position = format!("{:020}", entries.len() + 1);
                entries.push(StreamEntry {
                    position,
                    event_id: event_id.to_owned(),
                    payload: payload.to_vec(),
                });
                Ok(())
            }
            Bus::Redis(manager) => {
                let mut conn = manager.clone();
                redis::cmd("XADD")
                    .arg(stream)
                    .arg("MAXLEN")
                    .arg("~")
                    .arg(STREAM_CAP)
                    .arg("*")
                    .arg("id")
                    .arg(event_id)
                    .arg("payload")
                    .arg(payload)
                    .query_async::<String>(&mut conn)
                    .await
                    .map(|_| ())
                    .map_err(|e| BusError::Unavailable(e.to_string()))
            }
        }
    }

    /// The position of the newest event of `stream` (empty when the stream is empty), so a new reader can
    /// start from now instead of replaying the stream.
    pub async fn last_position(&self, stream: &str) -> Result<String, BusError> {
        match self {
            Bus::InProcess(streams) => {
                let streams = streams.lock().unwrap_or_else(|p| p.into_inner());
                Ok(streams
                    .get(stream)
                    .and_then(|entries| entries.last())
                    .map(|e| e.position.clone())
                    .unwrap_or_default())
            }
            Bus::Redis(manager) => {
                let mut conn = manager.clone();
                let reply: Value = redis::cmd("XREVRANGE")
                    .arg(stream)
                    .arg("+")
                    .arg("-")
                    .arg("COUNT")
                    .arg(1)
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| BusError::Unavailable(e.to_string()))?;
                Ok(parse_range(reply)?
                    .pop()
                    .map(|e| e.position)
                    .unwrap_or_default())
            }
        }
    }

    /// Up to `count` events of `stream` after `after` (empty: from the start), oldest first.
    pub async fn read_after(
        &self,
        stream: &str,
        after: &str,
        count: usize,
    ) -> Result<Vec<StreamEntry>, BusError> {
        match self {
            Bus::InProcess(streams) => {
                let streams = streams.lock().unwrap_or_else(|p| p.into_inner());
                Ok(streams
                    .get(stream)
                    .map(|entries| {
                        entries
                            .iter()
                            .filter(|e| after.is_empty() || e.position.as_str() > after)
                            .take(count)
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default())
            }
            Bus::Redis(manager) => {
                let mut conn = manager.clone();
                let start = if after.is_empty() {
                    "-".to_owned()
                } else {
                    format!("({after}")
                };
                let reply: Value = redis::cmd("XRANGE")
                    .arg(stream)
                    .arg(start)
                    .arg("+")
                    .arg("COUNT")
                    .arg(count)
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| BusError::Unavailable(e.to_string()))?;
                parse_range(reply)
            }
        }
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

/// XRANGE replies with `[[position, [field, value, ...]], ...]`.
fn parse_range(reply: Value) -> Result<Vec<StreamEntry>, BusError> {
    let Value::Array(items) = reply else {
        return Err(BusError::Protocol("XRANGE did not answer an array"));
    };
    let mut entries = Vec::with_capacity(items.len());
    for item in items {
        let Value::Array(pair) = item else {
            return Err(BusError::Protocol("stream entry is not a pair"));
        };
        let [position, Value::Array(fields)] = pair.as_slice() else {
            return Err(BusError::Protocol("stream entry has no fields"));
        };
        let position = text(position).ok_or(BusError::Protocol("stream position is not text"))?;
        let mut event_id = None;
        let mut payload = None;
        for chunk in fields.chunks(2) {
            match (chunk.first().and_then(text).as_deref(), chunk.get(1)) {
                (Some("id"), Some(value)) => event_id = text(value),
                (Some("payload"), Some(Value::BulkString(bytes))) => payload = Some(bytes.clone()),
                _ => {}
            }
        }
        entries.push(StreamEntry {
            position,
            event_id: event_id.ok_or(BusError::Protocol("stream entry has no id"))?,
            payload: payload.ok_or(BusError::Protocol("stream entry has no payload"))?,
        });
    }
    Ok(entries)
}
