//! Revoked token ids (`jti`). In Redis when configured, so every replica sees a revocation; in memory for
//! the embedded default. Entries expire with the token they revoke. [`RevocationList`] is what
//! `haven_authz::Authenticator` asks on every call, through the `haven_authz::Revocations` trait.
//!
//! Redis is a cache and a bus, not the source of truth, and an outage of it must not stop reads. So each
//! process keeps a local copy of the revoked set, refreshed from Redis every [`SYNC_INTERVAL`]. While
//! Redis answers, every call is checked against Redis itself, so a revocation made anywhere takes effect
//! on the next call. When Redis does not answer within [`REDIS_TIMEOUT`], calls are checked against the
//! local copy instead, for as long as that copy is at most `max_staleness` old. Past that bound the check
//! fails closed (the caller gets UNAVAILABLE) until Redis answers again. What the copy can miss is only
//! what was revoked through Redis after its last refresh: while Redis is down, nobody can revoke.
//!
//! A Redis that restarts without persistence comes back empty. Each process notices (the epoch key
//! changed) and writes the unexpired revocations of its copy back, so a restart does not bring revoked
//! tokens back to life while any process that saw them runs.
//!
//! Redis layout, under the deployment's namespace (`bus_namespace`, `<ns>:` before every key):
//! - `haven:revoked-jti:<jti>`: one key per revoked token, expiring with it (the per-call check);
//! - `haven:revoked-jti-index`: a sorted set of revoked jtis scored by their expiry (the local copy's
//!   source);
//! - `haven:revoked-jti-version`: a counter bumped by every revocation, so a refresh that finds it
//!   unchanged reads nothing else;
//! - `haven:revoked-jti-epoch`: a random id set once; a different one means Redis lost its data.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use haven_authz::RevocationError;
use haven_authz::{RevocationFuture, Revocations};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// How often each process refreshes its local copy of the revoked set from Redis.
pub const SYNC_INTERVAL: Duration = Duration::from_secs(1);
/// How long one Redis command may take before Redis counts as unreachable.
pub const REDIS_TIMEOUT: Duration = Duration::from_millis(250);

/// How a Redis-backed revocation list names its keys and how stale its local copy may get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationSettings {
    /// Prefix of every key (`<namespace>:haven:revoked-jti:...`); empty: none.
    pub namespace: String,
    /// How old the local copy may be and still answer while Redis is unreachable. Zero: fail closed as
    /// soon as Redis does not answer.
    pub max_staleness: Duration,
}

impl Default for RevocationSettings {
    fn default() -> Self {
        RevocationSettings {
            namespace: String::new(),
            max_staleness: Duration::from_secs(60),
        }
    }
}

#[derive(Clone)]
pub enum RevocationList {
    Memory(Arc<Mutex<HashMap<String, u64>>>),
    Redis(Arc<RedisRevocations>),
}

impl std::fmt::Debug for RevocationList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RevocationList::Memory(_) => f.write_str("RevocationList::Memory"),
            RevocationList::Redis(inner) => inner.fmt(f),
        }
    }
}

/// The names of this deployment's revocation keys.
#[derive(Debug, Clone)]
struct Keys {
    prefix: String,
}

impl Keys {
    fn new(namespace: &str) -> Self {
        let prefix = if namespace.is_empty() {
            String::new()
        } else {
            format!("{namespace}:")
        };
        Keys { prefix }
    }

    fn jti(&self, jti: &str) -> String {
        format!("{}haven:revoked-jti:{jti}", self.prefix)
    }

    fn index(&self) -> String {
        format!("{}haven:revoked-jti-index", self.prefix)
    }

    fn version(&self) -> String {
        format!("{}haven:revoked-jti-version", self.prefix)
    }

    fn epoch(&self) -> String {
        format!("{}haven:revoked-jti-epoch", self.prefix)
    }
}

/// This process's copy of the revoked set.
#[derive(Debug, Default)]
struct LocalCopy {
    /// Revoked jtis and when their tokens expire.
    jtis: HashMap<String, u64>,
    /// The revocation counter the copy was read at.
    version: Option<i64>,
    /// The Redis epoch the copy was read from.
    epoch: Option<String>,
    /// When the last refresh that succeeded started: the copy holds every revocation made before it.
    synced_at: Option<Instant>,
}

/// The Redis-backed list: the connection, the local copy and whether Redis is answering.
pub struct RedisRevocations {
    manager: ConnectionManager,
    keys: Keys,
    max_staleness: Duration,
    /// Whether calls ask Redis first. Cleared by a failed or slow command, set by a refresh that works.
    redis_answers: AtomicBool,
    /// Whether calls are being refused because the copy is too old (for logging the change once).
    failing_closed: AtomicBool,
    copy: RwLock<LocalCopy>,
}

impl std::fmt::Debug for RedisRevocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRevocations")
            .field("keys", &self.keys)
            .field("max_staleness", &self.max_staleness)
            .field("redis_answers", &self.redis_answers)
            .finish_non_exhaustive()
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn unavailable(error: impl ToString) -> RevocationError {
    RevocationError::Unavailable(error.to_string())
}

impl RevocationList {
    pub fn in_memory() -> Self {
        RevocationList::Memory(Arc::default())
    }

    /// A list kept in Redis at `url`. Connects lazily: a process that starts while Redis is down
    /// starts, and refuses authenticated calls (fails closed) until its first refresh succeeds. Must be
    /// called inside a Tokio runtime: it starts the refresh task, which ends when the last clone of the
    /// list is dropped.
    pub async fn redis(url: &str, settings: RevocationSettings) -> Result<Self, RevocationError> {
        let client = redis::Client::open(url).map_err(unavailable)?;
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(1)
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(REDIS_TIMEOUT));
        let manager = client
            .get_connection_manager_lazy(config)
            .map_err(unavailable)?;
        let inner = Arc::new(RedisRevocations {
            manager,
            keys: Keys::new(&settings.namespace),
            max_staleness: settings.max_staleness,
            redis_answers: AtomicBool::new(false),
            failing_closed: AtomicBool::new(false),
            copy: RwLock::new(LocalCopy::default()),
        });
        inner.refresh().await;
        tokio::spawn(refresh_loop(Arc::downgrade(&inner)));
        Ok(RevocationList::Redis(inner))
    }

    /// Revokes `jti` until `exp` (the token's own expiry; after it the token is dead anyway). Fails when
    /// Redis does not take the revocation: a revocation that was not recorded is reported, never lost
    /// silently.
    pub async fn revoke(&self, jti: &str, exp: u64) -> Result<(), RevocationError> {
        match self {
            RevocationList::Memory(map) => {
                let mut map = map.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                let now = now();
                map.retain(|_, until| *until >= now);
                map.insert(jti.to_owned(), exp);
                Ok(())
            }
            RevocationList::Redis(inner) => inner.revoke(jti, exp).await,
        }
    }

    pub async fn is_revoked(&self, jti: &str) -> Result<bool, RevocationError> {
        match self {
            RevocationList::Memory(map) => {
                let map = map.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                Ok(map.contains_key(jti))
            }
            RevocationList::Redis(inner) => inner.is_revoked(jti).await,
        }
    }
}

impl Revocations for RevocationList {
    fn is_revoked<'a>(&'a self, jti: &'a str) -> RevocationFuture<'a, bool> {
        Box::pin(RevocationList::is_revoked(self, jti))
    }

    fn revoke<'a>(&'a self, jti: &'a str, exp: u64) -> RevocationFuture<'a, ()> {
        Box::pin(RevocationList::revoke(self, jti, exp))
    }
}

async fn refresh_loop(list: Weak<RedisRevocations>) {
    let mut ticker = tokio::time::interval(SYNC_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let Some(list) = list.upgrade() else {
            return;
        };
        list.refresh().await;
    }
}

impl RedisRevocations {
    async fn revoke(&self, jti: &str, exp: u64) -> Result<(), RevocationError> {
        let now = now();
        let until = exp.max(now + 1);
        let mut conn = self.manager.clone();
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("SET")
            .arg(self.keys.jti(jti))
            .arg(1)
            .arg("EXAT")
            .arg(until)
            .ignore()
            .cmd("ZADD")
            .arg(self.keys.index())
            .arg(until)
            .arg(jti)
            .ignore()
            .cmd("ZREMRANGEBYSCORE")
            .arg(self.keys.index())
            .arg("-inf")
            .arg(format!("({now}"))
            .ignore()
            .cmd("INCR")
            .arg(self.keys.version())
            .ignore();
        let stored = tokio::time::timeout(REDIS_TIMEOUT * 4, pipe.query_async::<()>(&mut conn))
            .await
            .map_err(|_| unavailable("timed out"))?;
        stored.map_err(unavailable)?;
        let mut copy = self.copy.write().unwrap_or_else(|p| p.into_inner());
        copy.jtis.insert(jti.to_owned(), until);
        Ok(())
    }

    fn copy_holds(&self, jti: &str) -> bool {
        let copy = self.copy.read().unwrap_or_else(|p| p.into_inner());
        copy.jtis.contains_key(jti)
    }

    async fn is_revoked(&self, jti: &str) -> Result<bool, RevocationError> {
        if self.redis_answers.load(Ordering::Acquire) {
            let mut conn = self.manager.clone();
            let mut exists = redis::cmd("EXISTS");
            exists.arg(self.keys.jti(jti));
            match tokio::time::timeout(REDIS_TIMEOUT, exists.query_async::<bool>(&mut conn)).await {
                // The copy also counts: it holds what a restarted Redis may not have been given back yet.
                Ok(Ok(revoked)) => return Ok(revoked || self.copy_holds(jti)),
                Ok(Err(error)) => self.redis_failed(&error.to_string()),
                Err(_) => self.redis_failed("timed out"),
            }
        }
        self.answer_from_copy(jti)
    }

    /// Answers from the local copy while it is fresh enough; fails closed after that.
    fn answer_from_copy(&self, jti: &str) -> Result<bool, RevocationError> {
        let copy = self.copy.read().unwrap_or_else(|p| p.into_inner());
        let age = copy.synced_at.map(|at| at.elapsed());
        match age {
            Some(age) if age <= self.max_staleness => Ok(copy.jtis.contains_key(jti)),
            _ => {
                if !self.failing_closed.swap(true, Ordering::AcqRel) {
                    tracing::error!(
                        copy_age_secs = age.map(|a| a.as_secs()),
                        max_staleness_secs = self.max_staleness.as_secs(),
                        "redis unreachable and the local revocation copy is too old: refusing authenticated calls"
                    );
                }
                Err(unavailable(
                    "redis unreachable and the local revocation copy is too old",
                ))
            }
        }
    }

    fn redis_failed(&self, reason: &str) {
        if self.redis_answers.swap(false, Ordering::AcqRel) {
            tracing::warn!(
                %reason,
                max_staleness_secs = self.max_staleness.as_secs(),
                "redis unreachable: checking token revocation against the local copy"
            );
        }
    }

    /// Brings the local copy up to date, and tells whether Redis answers.
    async fn refresh(&self) {
        let started = Instant::now();
        match tokio::time::timeout(REDIS_TIMEOUT * 4, self.fetch(started)).await {
            Ok(Ok(())) => {
                self.failing_closed.store(false, Ordering::Release);
                if !self.redis_answers.swap(true, Ordering::AcqRel) {
                    tracing::info!("redis answers: checking token revocation against redis");
                }
            }
            Ok(Err(error)) => self.redis_failed(&error.to_string()),
            Err(_) => self.redis_failed("timed out"),
        }
    }

    async fn fetch(&self, started: Instant) -> redis::RedisResult<()> {
        let mut conn = self.manager.clone();
        let fresh_epoch = uuid::Uuid::now_v7().to_string();
        let (_, epoch, version): (i64, String, Option<i64>) = redis::pipe()
            .atomic()
            .cmd("SETNX")
            .arg(self.keys.epoch())
            .arg(&fresh_epoch)
            .cmd("GET")
            .arg(self.keys.epoch())
            .cmd("GET")
            .arg(self.keys.version())
            .query_async(&mut conn)
            .await?;
        let (lost, mine) = {
            let mut copy = self.copy.write().unwrap_or_else(|p| p.into_inner());
            let same_epoch = copy.epoch.as_deref() == Some(epoch.as_str());
            if same_epoch && copy.synced_at.is_some() && copy.version == version {
                copy.synced_at = Some(started);
                return Ok(());
            }
            let lost = copy.epoch.is_some() && !same_epoch;
            (
                lost,
                if lost {
                    copy.jtis.clone()
                } else {
                    HashMap::new()
                },
            )
        };
        let now = now();
        let (mut version, entries): (Option<i64>, Vec<(String, f64)>) = redis::pipe()
            .atomic()
            .cmd("GET")
            .arg(self.keys.version())
            .cmd("ZRANGEBYSCORE")
            .arg(self.keys.index())
            .arg(now)
            .arg("+inf")
            .arg("WITHSCORES")
            .query_async(&mut conn)
            .await?;
        let mut jtis: HashMap<String, u64> = entries
            .into_iter()
            .map(|(jti, exp)| (jti, exp as u64))
            .collect();
        let missing: Vec<(String, u64)> = mine
            .into_iter()
            .filter(|(jti, exp)| *exp >= now && !jtis.contains_key(jti))
            .collect();
        if lost && !missing.is_empty() {
            tracing::warn!(
                revocations = missing.len(),
                "redis lost its revocations (restarted without persistence?): writing back this process's copy"
            );
            let mut pipe = redis::pipe();
            pipe.atomic();
            for (jti, exp) in &missing {
                pipe.cmd("SET")
                    .arg(self.keys.jti(jti))
                    .arg(1)
                    .arg("EXAT")
                    .arg(*exp)
                    .ignore()
                    .cmd("ZADD")
                    .arg(self.keys.index())
                    .arg(*exp)
                    .arg(jti)
                    .ignore();
            }
            pipe.cmd("INCR").arg(self.keys.version()).ignore();
            pipe.query_async::<()>(&mut conn).await?;
            // Read everything again next time, with what others wrote back.
            version = None;
            jtis.extend(missing);
        }
        let mut copy = self.copy.write().unwrap_or_else(|p| p.into_inner());
        *copy = LocalCopy {
            jtis,
            version,
            epoch: Some(epoch),
            synced_at: Some(started),
        };
        Ok(())
    }
}
