//! Per-principal rate limiting: a token bucket per `agency/sub`, in Redis when configured so every
//! gateway replica shares it, in memory for the embedded default.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use redis::aio::ConnectionManager;

const BUCKET_SCRIPT: &str = r"
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 't', tokens, 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return allowed
";

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Clone)]
enum Backend {
    Memory(Arc<Mutex<HashMap<String, Bucket>>>),
    Redis(ConnectionManager, Arc<redis::Script>),
}

/// A token bucket per principal: `per_second` sustained, `burst` at most at once.
#[derive(Clone)]
pub struct RateLimiter {
    backend: Backend,
    per_second: f64,
    burst: f64,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let backend = match self.backend {
            Backend::Memory(_) => "memory",
            Backend::Redis(..) => "redis",
        };
        f.debug_struct("RateLimiter")
            .field("backend", &backend)
            .field("per_second", &self.per_second)
            .field("burst", &self.burst)
            .finish()
    }
}

const MEMORY_CAPACITY: usize = 100_000;

impl RateLimiter {
    pub fn in_memory(per_second: u32, burst: u32) -> Self {
        RateLimiter {
            backend: Backend::Memory(Arc::default()),
            per_second: f64::from(per_second.max(1)),
            burst: f64::from(burst.max(1)),
        }
    }

    pub async fn redis(url: &str, per_second: u32, burst: u32) -> Result<Self, redis::RedisError> {
        let manager = redis::Client::open(url)?.get_connection_manager().await?;
        Ok(RateLimiter {
            backend: Backend::Redis(manager, Arc::new(redis::Script::new(BUCKET_SCRIPT))),
            per_second: f64::from(per_second.max(1)),
            burst: f64::from(burst.max(1)),
        })
    }

    /// Takes one token for `principal`. When Redis cannot be reached the call is let through (and
    /// logged): a caseworker on a bad day should not lose access because the limiter is down.
    pub async fn allow(&self, principal: &str) -> bool {
        match &self.backend {
            Backend::Memory(buckets) => {
                let now = Instant::now();
                let mut buckets = buckets.lock().unwrap_or_else(|p| p.into_inner());
                if buckets.len() >= MEMORY_CAPACITY && !buckets.contains_key(principal) {
                    let full_after = self.burst / self.per_second;
                    buckets.retain(|_, b| now.duration_since(b.at).as_secs_f64() < full_after);
                }
                let bucket = buckets.entry(principal.to_owned()).or_insert(Bucket {
                    tokens: self.burst,
                    at: now,
                });
                let refill = now.duration_since(bucket.at).as_secs_f64() * self.per_second;
                bucket.tokens = (bucket.tokens + refill).min(self.burst);
                bucket.at = now;
                if bucket.tokens >= 1.0 {
                    bucket.tokens -= 1.0;
                    true
                } else {
                    false
                }
            }
            Backend::Redis(manager, script) => {
                let mut conn = manager.clone();
                let now_ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis() as u64)
                    .unwrap_or(0);
                let outcome: Result<i64, _> = script
                    .key(format!("haven:ratelimit:{principal}"))
                    .arg(self.per_second)
                    .arg(self.burst)
                    .arg(now_ms)
                    .invoke_async(&mut conn)
                    .await;
                match outcome {
                    Ok(allowed) => allowed == 1,
                    Err(error) => {
                        tracing::warn!(%error, "rate limiter unavailable; letting the call through");
                        true
                    }
                }
            }
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
}
