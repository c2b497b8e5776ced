//! Rate limiting: token buckets by key (a principal's `agency/sub`, a caller address, a client id), in
//! Redis when configured so every gateway replica shares them, in memory for the embedded default.
//!
//! Redis is a cache here, not the source of truth. When it does not answer within [`REDIS_TIMEOUT`], each
//! replica keeps its own buckets in memory until Redis answers again (it tries again once a second),
//! so a Redis outage neither stops calls nor lifts the limits: with N replicas a caller gets at most N
//! times its share meanwhile.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// Takes `ARGV[4]` tokens (0 only looks) from the bucket at `KEYS[1]`; answers 1 when a token was there.
const BUCKET_SCRIPT: &str = r"
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - cost
  allowed = 1
end
redis.call('HSET', KEYS[1], 't', tokens, 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return allowed
";

/// How long one Redis command may take before Redis counts as unreachable.
const REDIS_TIMEOUT: Duration = Duration::from_millis(250);
/// How long the limiter keeps to its local buckets after Redis failed, before trying Redis again.
const RETRY_AFTER: Duration = Duration::from_secs(1);
const MEMORY_CAPACITY: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
    /// Seconds after `at` when the bucket is full again, and so can be forgotten.
    full_after: f64,
}

/// Buckets and remembered keys kept in this process.
#[derive(Debug, Default)]
struct Local {
    buckets: HashMap<String, Bucket>,
    remembered: HashMap<String, Instant>,
}

impl Local {
    fn take(&mut self, key: &str, rates: Rates, cost: f64) -> bool {
        let now = Instant::now();
        if self.buckets.len() >= MEMORY_CAPACITY && !self.buckets.contains_key(key) {
            self.buckets
                .retain(|_, b| now.duration_since(b.at).as_secs_f64() < b.full_after);
        }
        let bucket = self.buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: rates.burst,
            at: now,
            full_after: 0.0,
        });
        let refill = now.duration_since(bucket.at).as_secs_f64() * rates.per_second;
        bucket.tokens = (bucket.tokens + refill).min(rates.burst);
        bucket.at = now;
        let allowed = bucket.tokens >= 1.0;
        if allowed {
            bucket.tokens -= cost;
        }
        bucket.full_after = (rates.burst - bucket.tokens) / rates.per_second;
        allowed
    }

    fn remember(&mut self, key: &str, for_how_long: Duration) {
        let now = Instant::now();
        if self.remembered.len() >= MEMORY_CAPACITY {
            self.remembered.retain(|_, until| *until > now);
        }
        self.remembered.insert(key.to_owned(), now + for_how_long);
    }

    fn recalls(&self, key: &str) -> bool {
        self.remembered
            .get(key)
            .is_some_and(|until| *until > Instant::now())
    }
}

/// Whether Redis is worth asking: after a failure, calls skip Redis for [`RETRY_AFTER`], then one call
/// tries it again while the others keep to the local buckets.
#[derive(Debug)]
struct Breaker {
    origin: Instant,
    /// Milliseconds since `origin` until which Redis is not asked; 0 while Redis answers.
    closed_until_ms: AtomicU64,
}

impl Breaker {
    fn new() -> Self {
        Breaker {
            origin: Instant::now(),
            closed_until_ms: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn retry_at(&self) -> u64 {
        self.now_ms()
            .saturating_add(RETRY_AFTER.as_millis() as u64)
            .max(1)
    }

    fn may_ask(&self) -> bool {
        let until = self.closed_until_ms.load(Ordering::Acquire);
        if until == 0 {
            return true;
        }
        if self.now_ms() < until {
            return false;
        }
        // This call probes Redis; the others wait for its outcome.
        self.closed_until_ms
            .compare_exchange(until, self.retry_at(), Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    fn answered(&self) {
        if self.closed_until_ms.swap(0, Ordering::AcqRel) != 0 {
            tracing::info!("redis answers: rate limits are shared by every replica again");
        }
    }

    fn failed(&self, reason: &str) {
        if self.closed_until_ms.swap(self.retry_at(), Ordering::AcqRel) == 0 {
            tracing::warn!(%reason, "redis unreachable: rate limits are kept per replica until it answers");
        }
    }
}

struct RedisBackend {
    manager: ConnectionManager,
    script: redis::Script,
    prefix: String,
    breaker: Breaker,
}

#[derive(Clone)]
enum Backend {
    Memory,
    Redis(Arc<RedisBackend>),
}

#[derive(Debug, Clone, Copy)]
struct Rates {
    per_second: f64,
    burst: f64,
}

/// Token buckets by key: `per_second` sustained, `burst` at most at once. Clones share the buckets.
#[derive(Clone)]
pub struct RateLimiter {
    backend: Backend,
    /// Kept in every mode: the buckets while Redis is down, and remembered keys as a second copy.
    local: Arc<Mutex<Local>>,
    rates: Rates,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let backend = match self.backend {
            Backend::Memory => "memory",
            Backend::Redis(..) => "redis",
        };
        f.debug_struct("RateLimiter")
            .field("backend", &backend)
            .field("per_second", &self.rates.per_second)
            .field("burst", &self.rates.burst)
            .finish()
    }
}

fn rates(per_second: f64, burst: f64) -> Rates {
    Rates {
        per_second: per_second.max(1e-6),
        burst: burst.max(1.0),
    }
}

impl RateLimiter {
    pub fn in_memory(per_second: u32, burst: u32) -> Self {
        RateLimiter {
            backend: Backend::Memory,
            local: Arc::default(),
            rates: rates(f64::from(per_second), f64::from(burst)),
        }
    }

    /// Buckets in Redis at `url`, their keys under `namespace` (`<namespace>:haven:ratelimit:...`).
    /// Connects lazily, so the gateway starts while Redis is down.
    pub fn redis(
        url: &str,
        namespace: &str,
        per_second: u32,
        burst: u32,
    ) -> Result<Self, redis::RedisError> {
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(1)
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(REDIS_TIMEOUT));
        let manager = redis::Client::open(url)?.get_connection_manager_lazy(config)?;
        let prefix = if namespace.is_empty() {
            String::new()
        } else {
            format!("{namespace}:")
        };
        Ok(RateLimiter {
            backend: Backend::Redis(Arc::new(RedisBackend {
                manager,
                script: redis::Script::new(BUCKET_SCRIPT),
                prefix,
                breaker: Breaker::new(),
            })),
            local: Arc::default(),
            rates: rates(f64::from(per_second), f64::from(burst)),
        })
    }

    /// The same buckets and connection with other rates, for keys of another kind.
    pub fn with_rates(&self, per_second: f64, burst: f64) -> Self {
        RateLimiter {
            rates: rates(per_second, burst),
            ..self.clone()
        }
    }

    /// Takes one token for `key`; false when its bucket is empty.
    pub async fn allow(&self, key: &str) -> bool {
        self.take(key, 1.0).await
    }

    /// Whether `key`'s bucket holds a token, without taking it.
    pub async fn has_room(&self, key: &str) -> bool {
        self.take(key, 0.0).await
    }

    async fn take(&self, key: &str, cost: f64) -> bool {
        if let Backend::Redis(redis) = &self.backend {
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0);
            let mut conn = redis.manager.clone();
            let mut invocation = redis
                .script
                .key(format!("{}haven:ratelimit:{key}", redis.prefix));
            invocation
                .arg(self.rates.per_second)
                .arg(self.rates.burst)
                .arg(now_ms)
                .arg(cost);
            if let Some(allowed) = ask(redis, invocation.invoke_async::<i64>(&mut conn)).await {
                return allowed == 1;
            }
        }
        let mut local = self.local.lock().unwrap_or_else(|p| p.into_inner());
        local.take(key, self.rates, cost)
    }

    /// Remembers `key` for `for_how_long` (across replicas when in Redis).
    pub async fn remember(&self, key: &str, for_how_long: Duration) {
        {
            let mut local = self.local.lock().unwrap_or_else(|p| p.into_inner());
            local.remember(key, for_how_long);
        }
        if let Backend::Redis(redis) = &self.backend {
            let mut conn = redis.manager.clone();
            let mut set = redis::cmd("SET");
            set.arg(format!("{}haven:remembered:{key}", redis.prefix))
                .arg(1)
                .arg("EX")
                .arg(for_how_long.as_secs().max(1));
            ask(redis, set.query_async::<()>(&mut conn)).await;
        }
    }

    /// Whether `key` was remembered and has not expired, here or (when in Redis) by another replica.
    pub async fn recalls(&self, key: &str) -> bool {
        {
            let local = self.local.lock().unwrap_or_else(|p| p.into_inner());
            if local.recalls(key) {
                return true;
            }
        }
        let Backend::Redis(redis) = &self.backend else {
            return false;
        };
        let mut conn = redis.manager.clone();
        let mut exists = redis::cmd("EXISTS");
        exists.arg(format!("{}haven:remembered:{key}", redis.prefix));
        ask(redis, exists.query_async::<bool>(&mut conn))
            .await
            .unwrap_or(false)
    }
}

/// Runs a Redis command unless Redis is known to be down; `None` when it was not asked or did not
/// answer in time.
async fn ask<T>(
    redis: &RedisBackend,
    command: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> Option<T> {
    if !redis.breaker.may_ask() {
        return None;
    }
    match tokio::time::timeout(REDIS_TIMEOUT, command).await {
        Ok(Ok(value)) => {
            redis.breaker.answered();
            Some(value)
        }
        Ok(Err(error)) => {
            redis.breaker.failed(&error.to_string());
            None
        }
        Err(_) => {
            redis.breaker.failed("timed out");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_burst_beyond_the_bucket_is_refused_per_principal() {
        let limiter = RateLimiter::in_memory(1, 3);
        for _ in 0..3 {
            assert!(limiter.allow("a/cw1").await);
        }
        assert!(!limiter.allow("a/cw1").await);
        assert!(
            limiter.allow("a/cw2").await,
            "another principal has its own bucket"
        );
    }

    #[tokio::test]
    async fn looking_at_a_bucket_takes_nothing() {
        let limiter = RateLimiter::in_memory(1, 2);
        for _ in 0..5 {
            assert!(limiter.has_room("k").await);
        }
        assert!(limiter.allow("k").await);
        assert!(limiter.allow("k").await);
        assert!(!limiter.has_room("k").await);
    }

    #[tokio::test]
    async fn other_rates_share_nothing_but_the_store() {
        let limiter = RateLimiter::in_memory(1000, 1000);
        let strict = limiter.with_rates(1.0 / 60.0, 1.0);
        assert!(strict.allow("failures/x").await);
        assert!(!strict.allow("failures/x").await);
        assert!(limiter.allow("a/cw1").await);
    }

    #[tokio::test]
    async fn a_remembered_key_is_recalled_until_it_expires() {
        let limiter = RateLimiter::in_memory(1, 1);
        assert!(!limiter.recalls("known").await);
        limiter.remember("known", Duration::from_secs(60)).await;
        assert!(limiter.recalls("known").await);
        limiter.remember("brief", Duration::from_millis(1)).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(!limiter.recalls("brief").await);
    }

    #[tokio::test]
    async fn with_redis_unreachable_the_limits_still_hold_per_replica() {
        // Nothing listens on port 1: every Redis command fails at once.
        let limiter = RateLimiter::redis("redis://127.0.0.1:1", "t", 1, 3).expect("lazy");
        for _ in 0..3 {
            assert!(limiter.allow("a/cw1").await);
        }
        assert!(
            !limiter.allow("a/cw1").await,
            "an unreachable Redis must not lift the limit"
        );
        assert!(limiter.allow("a/cw2").await);
    }
}
