//! The event bus: Redis Streams in production, an in-process log when embedded. Publishing appends an
//! event to a named stream. Events carry record ids and flags, never child data, so the bus holds nothing
//! an erasure would have to chase.
//!
//! Two kinds of consumers read in two ways (DESIGN.md §6):
//! - **Each replica for itself** ([`Bus::read_after`]): state every replica holds in memory (the matching
//!   index) must see every event, so each replica reads the whole stream from a position it keeps.
//! - **Once per event, through a consumer group** ([`Bus::read_group`] then [`Bus::ack`]): work that must
//!   happen once (re-running open tracing requests, raising an alert, updating a database projection) is
//!   shared by the replicas of a group; each entry goes to one consumer of the group, and stays pending for
//!   that consumer until it is acknowledged, so a consumer that crashes before acking gets it again on
//!   restart. Delivery is at least once, so this work must be idempotent by event id.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::Value;
use redis::aio::ConnectionManager;

/// Why a bus operation failed.
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

/// A handle on the event bus; clones share the same streams.
#[derive(Clone)]
pub enum Bus {
    /// Streams and consumer groups kept in this process (embedded mode and tests).
    InProcess(Arc<Mutex<InProcessLog>>),
    /// Redis Streams.
    Redis(RedisBus),
}

/// The state of the in-process bus: every stream's entries and every consumer group's progress.
#[derive(Debug, Default)]
pub struct InProcessLog {
    streams: HashMap<String, Vec<StreamEntry>>,
    /// Keyed by (stream, group).
    groups: HashMap<(String, String), GroupState>,
}

/// One consumer group of the in-process bus, the counterpart of a Redis group's last-delivered id and
/// pending entries list. Entries are named by their index in the stream: position `n` is index `n - 1`,
/// and the in-process bus never trims, so an index always finds its entry.
#[derive(Debug, Default)]
struct GroupState {
    /// How many entries of the stream have been handed to the group's consumers so far.
    delivered: usize,
    /// Per consumer, the entries delivered to it and not yet acknowledged, oldest first.
    pending: HashMap<String, BTreeSet<usize>>,
}

/// The index of the in-process entry at `position`, if `position` names one.
fn in_process_index(position: &str) -> Option<usize> {
    position.parse::<usize>().ok()?.checked_sub(1)
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Bus::InProcess(_) => "Bus::InProcess",
            Bus::Redis(_) => "Bus::Redis",
        })
    }
}

/// A Redis connection and the namespace its stream names live in.
#[derive(Clone)]
pub struct RedisBus {
    manager: ConnectionManager,
    namespace: String,
    claim_idle: Duration,
}

/// How long another consumer of a group may hold an entry unacknowledged before [`Bus::read_group`]
/// takes it over. Consumers are named after their host (a pod name), so a replaced pod's entries would
/// otherwise wait forever, and a tombstone among them would leave an erasure undone. A live consumer
/// that is still retrying re-reads its entries every poll, which keeps them from going idle.
pub const CLAIM_IDLE: Duration = Duration::from_secs(60);

impl std::fmt::Debug for RedisBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBus")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl RedisBus {
    fn key(&self, stream: &str) -> String {
        if self.namespace.is_empty() {
            stream.to_owned()
        } else {
            format!("{}:{stream}", self.namespace)
        }
    }
}

/// Streams are capped near this many entries; consumers that fall further behind rebuild from their
/// service's database, as DESIGN.md §6 says.
const STREAM_CAP: u64 = 100_000;

impl Bus {
    /// An empty bus that lives in this process.
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
        Ok(Bus::Redis(RedisBus {
            manager,
            claim_idle: CLAIM_IDLE,
            namespace: String::new(),
        }))
    }

    /// This bus with every stream name prefixed by `namespace` (Redis only), so that deployments, or
    /// test suites, sharing one Redis never read each other's events. The in-process bus is private to
    /// its process already.
    /// Sets how long a pending entry must sit idle before another consumer takes it over (Redis only;
    /// the in-process bus lives and dies with its one process). Default [`CLAIM_IDLE`].
    pub fn with_claim_idle(self, idle: Duration) -> Self {
        match self {
            Bus::Redis(redis) => Bus::Redis(RedisBus {
                claim_idle: idle,
                ..redis
            }),
            other => other,
        }
    }

    pub fn with_namespace(self, namespace: &str) -> Self {
        match self {
            Bus::Redis(redis) => Bus::Redis(RedisBus {
                namespace: namespace.to_owned(),
                ..redis
            }),
            other => other,
        }
    }

    /// Deletes `stream` with its consumer groups (test suites clean up their namespace with it).
    pub async fn delete_stream(&self, stream: &str) -> Result<(), BusError> {
        match self {
            Bus::InProcess(log) => {
                let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
                log.streams.remove(stream);
                log.groups.retain(|(name, _), _| name != stream);
                Ok(())
            }
            Bus::Redis(redis) => {
                let mut conn = redis.manager.clone();
                let _: Value = redis::cmd("DEL")
                    .arg(redis.key(stream))
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| BusError::Unavailable(e.to_string()))?;
                Ok(())
            }
        }
    }

    /// Appends an event to `stream`.
    pub async fn publish(
        &self,
        stream: &str,
        event_id: &str,
        payload: &[u8],
    ) -> Result<(), BusError> {
        match self {
            Bus::InProcess(log) => {
                let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
                let entries = log.streams.entry(stream.to_owned()).or_default();
                let position = format!("{:020}", entries.len() + 1);
                entries.push(StreamEntry {
                    position,
                    event_id: event_id.to_owned(),
                    payload: payload.to_vec(),
                });
                Ok(())
            }
            Bus::Redis(redis) => {
                let manager = &redis.manager;
                let namespaced = redis.key(stream);
                let stream = namespaced.as_str();
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
            Bus::InProcess(log) => {
                let log = log.lock().unwrap_or_else(|p| p.into_inner());
                Ok(log
                    .streams
                    .get(stream)
                    .and_then(|entries| entries.last())
                    .map(|e| e.position.clone())
                    .unwrap_or_default())
            }
            Bus::Redis(redis) => {
                let manager = &redis.manager;
                let namespaced = redis.key(stream);
                let stream = namespaced.as_str();
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
            Bus::InProcess(log) => {
                let log = log.lock().unwrap_or_else(|p| p.into_inner());
                Ok(log
                    .streams
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
            Bus::Redis(redis) => {
                let manager = &redis.manager;
                let namespaced = redis.key(stream);
                let stream = namespaced.as_str();
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

    /// Reads up to `count` entries of `stream` for consumer group `group`, as consumer `consumer`.
    ///
    /// The group is created on first use at the start of the stream, so a group set up after events were
    /// published still does the work for them. This consumer's own pending entries (delivered, not yet
    /// acknowledged) come first, so a consumer that crashed before acking gets them again after restart;
    /// only when it has none does it get entries no consumer of the group has seen. Never blocks: callers
    /// poll. `count == 0` reads nothing.
    pub async fn read_group(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        count: usize,
    ) -> Result<Vec<StreamEntry>, BusError> {
        if count == 0 {
            // Redis reads COUNT 0 as "no limit"; nothing is what the caller asked for.
            return Ok(Vec::new());
        }
        match self {
            Bus::InProcess(log) => {
                let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
                let InProcessLog { streams, groups } = &mut *log;
                let entries = streams.get(stream).map(Vec::as_slice).unwrap_or_default();
                let GroupState { delivered, pending } = groups
                    .entry((stream.to_owned(), group.to_owned()))
                    .or_default();
                let own = pending.entry(consumer.to_owned()).or_default();
                let again: Vec<StreamEntry> = own
                    .iter()
                    .take(count)
                    .filter_map(|&index| entries.get(index).cloned())
                    .collect();
                if !again.is_empty() {
                    return Ok(again);
                }
                let fresh: Vec<StreamEntry> = entries
                    .iter()
                    .skip(*delivered)
                    .take(count)
                    .cloned()
                    .collect();
                own.extend(*delivered..*delivered + fresh.len());
                *delivered += fresh.len();
                Ok(fresh)
            }
            Bus::Redis(redis) => {
                let manager = &redis.manager;
                let namespaced = redis.key(stream);
                let stream = namespaced.as_str();
                let mut conn = manager.clone();
                // "0" reads this consumer's pending entries list. Entries trimmed from the stream since
                // they were delivered come back without data: nobody can process them any more, so they
                // are acked and the read repeats until it finds live entries or the list is empty (each
                // round acks at least one entry, so this ends).
                loop {
                    let own =
                        redis_read_group(&mut conn, stream, group, consumer, count, "0").await?;
                    if !own.live.is_empty() {
                        redis_ack(&mut conn, stream, group, &own.trimmed).await?;
                        return Ok(own.live);
                    }
                    if own.trimmed.is_empty() {
                        break;
                    }
                    redis_ack(&mut conn, stream, group, &own.trimmed).await?;
                }
                // Entries another consumer has held too long: it is gone (a replaced pod) or stuck.
                let claimed =
                    redis_claim_stale(&mut conn, stream, group, consumer, count, redis.claim_idle)
                        .await?;
                redis_ack(&mut conn, stream, group, &claimed.trimmed).await?;
                if !claimed.live.is_empty() {
                    tracing::info!(
                        stream,
                        group,
                        claimed = claimed.live.len(),
                        "took over events another consumer left unacknowledged"
                    );
                    return Ok(claimed.live);
                }
                // ">" hands out entries never delivered to this group.
                let fresh =
                    redis_read_group(&mut conn, stream, group, consumer, count, ">").await?;
                redis_ack(&mut conn, stream, group, &fresh.trimmed).await?;
                Ok(fresh.live)
            }
        }
    }

    /// Acknowledges entries of `stream` (by [`StreamEntry::position`]) for `group`, so they are not
    /// delivered to any consumer of the group again. Unknown positions are ignored.
    pub async fn ack(
        &self,
        stream: &str,
        group: &str,
        positions: &[String],
    ) -> Result<(), BusError> {
        match self {
            Bus::InProcess(log) => {
                let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(state) = log.groups.get_mut(&(stream.to_owned(), group.to_owned())) {
                    // Acks belong to the group, not to a consumer (as in Redis): whoever holds the
                    // entry pending loses it.
                    for index in positions.iter().filter_map(|p| in_process_index(p)) {
                        for own in state.pending.values_mut() {
                            own.remove(&index);
                        }
                    }
                }
                Ok(())
            }
            Bus::Redis(redis) => {
                let manager = &redis.manager;
                let namespaced = redis.key(stream);
                let stream = namespaced.as_str();
                let mut conn = manager.clone();
                redis_ack(&mut conn, stream, group, positions).await
            }
        }
    }
}

fn unavailable(e: redis::RedisError) -> BusError {
    BusError::Unavailable(e.to_string())
}

/// What one XREADGROUP answered: entries with their data, and positions whose data was trimmed away.
#[derive(Debug, Default)]
struct GroupBatch {
    live: Vec<StreamEntry>,
    trimmed: Vec<String>,
}

/// `XREADGROUP GROUP group consumer COUNT count STREAMS stream from`, creating the group when Redis says
/// it does not exist. Asking Redis first and creating on NOGROUP keeps the usual poll at one round trip,
/// and also re-creates a group whose stream was deleted.
async fn redis_read_group(
    conn: &mut ConnectionManager,
    stream: &str,
    group: &str,
    consumer: &str,
    count: usize,
    from: &str,
) -> Result<GroupBatch, BusError> {
    let mut cmd = redis::cmd("XREADGROUP");
    cmd.arg("GROUP")
        .arg(group)
        .arg(consumer)
        .arg("COUNT")
        .arg(count)
        .arg("STREAMS")
        .arg(stream)
        .arg(from);
    let reply: Value = match cmd.query_async(conn).await {
        Ok(reply) => reply,
        Err(e) if e.code() == Some("NOGROUP") => {
            redis_create_group(conn, stream, group).await?;
            cmd.query_async(conn).await.map_err(unavailable)?
        }
        Err(e) => return Err(unavailable(e)),
    };
    parse_group_reply(reply)
}

/// `XAUTOCLAIM stream group consumer min-idle 0-0 COUNT count`: moves entries that other consumers have
/// left pending for at least `idle` to `consumer`. A group that does not exist yet has nothing to claim.
async fn redis_claim_stale(
    conn: &mut ConnectionManager,
    stream: &str,
    group: &str,
    consumer: &str,
    count: usize,
    idle: Duration,
) -> Result<GroupBatch, BusError> {
    let reply: Value = match redis::cmd("XAUTOCLAIM")
        .arg(stream)
        .arg(group)
        .arg(consumer)
        .arg(idle.as_millis() as u64)
        .arg("0-0")
        .arg("COUNT")
        .arg(count)
        .query_async(conn)
        .await
    {
        Ok(reply) => reply,
        Err(e) if e.code() == Some("NOGROUP") => return Ok(GroupBatch::default()),
        Err(e) => return Err(unavailable(e)),
    };
    // [next cursor, [entries], (Redis 7: ids of entries deleted meanwhile, already dropped)]
    let items = match reply {
        Value::Array(parts) => match parts.into_iter().nth(1) {
            Some(Value::Array(items)) => items,
            Some(Value::Nil) | None => Vec::new(),
            Some(_) => return Err(BusError::Protocol("XAUTOCLAIM entries are not an array")),
        },
        _ => return Err(BusError::Protocol("XAUTOCLAIM did not answer an array")),
    };
    let mut batch = GroupBatch::default();
    for item in items {
        if matches!(item, Value::Nil) {
            continue;
        }
        match parse_entry(item)? {
            ParsedEntry::Live(entry) => batch.live.push(entry),
            ParsedEntry::Trimmed(position) => batch.trimmed.push(position),
        }
    }
    Ok(batch)
}

/// `XGROUP CREATE stream group 0 MKSTREAM`: the group starts at the beginning of the stream (creating an
/// empty stream if needed). BUSYGROUP means another replica created it first, which is just as good.
async fn redis_create_group(
    conn: &mut ConnectionManager,
    stream: &str,
    group: &str,
) -> Result<(), BusError> {
    match redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(stream)
        .arg(group)
        .arg("0")
        .arg("MKSTREAM")
        .query_async::<Value>(conn)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
        Err(e) => Err(unavailable(e)),
    }
}

/// `XACK stream group position...`; XACK needs at least one id, so an empty list sends nothing.
async fn redis_ack(
    conn: &mut ConnectionManager,
    stream: &str,
    group: &str,
    positions: &[String],
) -> Result<(), BusError> {
    if positions.is_empty() {
        return Ok(());
    }
    redis::cmd("XACK")
        .arg(stream)
        .arg(group)
        .arg(positions)
        .query_async::<Value>(conn)
        .await
        .map(|_| ())
        .map_err(unavailable)
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

/// One stream entry of a reply: with its data, or only its position when the data was trimmed (XREADGROUP
/// answers `[position, nil]` for a pending entry that no longer exists).
enum ParsedEntry {
    Live(StreamEntry),
    Trimmed(String),
}

/// A stream entry is `[position, [field, value, ...]]`, with the fields `publish` writes.
fn parse_entry(item: Value) -> Result<ParsedEntry, BusError> {
    let Value::Array(pair) = item else {
        return Err(BusError::Protocol("stream entry is not a pair"));
    };
    let [position, fields] = pair.as_slice() else {
        return Err(BusError::Protocol("stream entry is not a pair"));
    };
    let position = text(position).ok_or(BusError::Protocol("stream position is not text"))?;
    let fields = match fields {
        Value::Array(fields) => fields,
        Value::Nil => return Ok(ParsedEntry::Trimmed(position)),
        _ => return Err(BusError::Protocol("stream entry has no fields")),
    };
    let mut event_id = None;
    let mut payload = None;
    for chunk in fields.chunks(2) {
        match (chunk.first().and_then(text).as_deref(), chunk.get(1)) {
            (Some("id"), Some(value)) => event_id = text(value),
            (Some("payload"), Some(Value::BulkString(bytes))) => payload = Some(bytes.clone()),
            _ => {}
        }
    }
    Ok(ParsedEntry::Live(StreamEntry {
        position,
        event_id: event_id.ok_or(BusError::Protocol("stream entry has no id"))?,
        payload: payload.ok_or(BusError::Protocol("stream entry has no payload"))?,
    }))
}

/// XRANGE replies with `[[position, [field, value, ...]], ...]`.
fn parse_range(reply: Value) -> Result<Vec<StreamEntry>, BusError> {
    let Value::Array(items) = reply else {
        return Err(BusError::Protocol("XRANGE did not answer an array"));
    };
    let mut entries = Vec::with_capacity(items.len());
    for item in items {
        // XRANGE only lists entries that exist, so a trimmed one cannot appear; skipping is enough.
        if let ParsedEntry::Live(entry) = parse_entry(item)? {
            entries.push(entry);
        }
    }
    Ok(entries)
}

/// XREADGROUP for one stream replies nil when there is nothing new, else that stream's entries:
/// `[[stream, [entry, ...]]]` over RESP2, `{stream: [entry, ...]}` over RESP3.
fn parse_group_reply(reply: Value) -> Result<GroupBatch, BusError> {
    let entries = match reply {
        Value::Nil => None,
        Value::Array(streams) => match streams.into_iter().next() {
            None => None,
            Some(Value::Array(pair)) => pair.into_iter().nth(1),
            Some(_) => return Err(BusError::Protocol("XREADGROUP stream is not a pair")),
        },
        Value::Map(streams) => streams.into_iter().next().map(|(_, entries)| entries),
        _ => return Err(BusError::Protocol("XREADGROUP did not answer an array")),
    };
    let items = match entries {
        None | Some(Value::Nil) => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(BusError::Protocol("XREADGROUP entries are not an array")),
    };
    let mut batch = GroupBatch::default();
    for item in items {
        match parse_entry(item)? {
            ParsedEntry::Live(entry) => batch.live.push(entry),
            ParsedEntry::Trimmed(position) => batch.trimmed.push(position),
        }
    }
    Ok(batch)
}
