//! Revoked token ids (`jti`). In Redis when configured, so every gateway replica sees a revocation at
//! once; in memory for the embedded default. Entries expire with the token they revoke.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use redis::aio::ConnectionManager;

#[derive(Debug, thiserror::Error)]
pub enum RevocationError {
    #[error("revocation store unavailable: {0}")]
    Unavailable(String),
}

#[derive(Clone)]
pub enum RevocationList {
    Memory(Arc<Mutex<HashMap<String, u64>>>),
    Redis(ConnectionManager),
}

impl std::fmt::Debug for RevocationList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RevocationList::Memory(_) => f.write_str("RevocationList::Memory"),
            RevocationList::Redis(_) => f.write_str("RevocationList::Redis"),
        }
    }
}

fn key(jti: &str) -> String {
    format!("haven:revoked-jti:{jti}")
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl RevocationList {
    pub fn in_memory() -> Self {
        RevocationList::Memory(Arc::default())
    }

    pub async fn redis(url: &str) -> Result<Self, RevocationError> {
        let client =
            redis::Client::open(url).map_err(|e| RevocationError::Unavailable(e.to_string()))?;
        let manager = client
            .get_connection_manager()
            .await
            .map_err(|e| RevocationError::Unavailable(e.to_string()))?;
        Ok(RevocationList::Redis(manager))
    }

    /// Revokes `jti` until `exp` (the token's own expiry; after it the token is dead anyway).
    pub async fn revoke(&self, jti: &str, exp: u64) -> Result<(), RevocationError> {
        match self {
            RevocationList::Memory(map) => {
                let mut map = map.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                let now = now();
                map.retain(|_, until| *until >= now);
                map.insert(jti.to_owned(), exp);
                Ok(())
            }
            RevocationList::Redis(manager) => {
                let mut conn = manager.clone();
                let until = exp.max(now() + 1);
                redis::cmd("SET")
                    .arg(key(jti))
                    .arg(1)
                    .arg("EXAT")
                    .arg(until)
                    .query_async::<()>(&mut conn)
                    .await
                    .map_err(|e| RevocationError::Unavailable(e.to_string()))
            }
        }
    }

    pub async fn is_revoked(&self, jti: &str) -> Result<bool, RevocationError> {
        match self {
            RevocationList::Memory(map) => {
                let map = map.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                Ok(map.contains_key(jti))
            }
            RevocationList::Redis(manager) => {
                let mut conn = manager.clone();
                redis::cmd("EXISTS")
                    .arg(key(jti))
                    .query_async::<bool>(&mut conn)
                    .await
                    .map_err(|e| RevocationError::Unavailable(e.to_string()))
            }
        }
    }
}
