//! The suite in one process: every service on its own loopback port and the gateway in front, reaching
//! them over gRPC exactly as in production. Only the backends differ: SQLite files in the data dir, an
//! in-memory revocation list and limiter, and a development signing key made on first start.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use haven_authz::{
    Authenticator, DevSigningKey, KeyError, Policy, TokenVerifier, TrustedKeys, VerifierSettings,
};
use haven_platform::HavenConfig;
use haven_platform::audit::checkpoint::CheckpointKeyError;
use haven_platform::audit::checkpointer::CheckpointError;
use haven_platform::audit::{Checkpoint, CheckpointKey};
use haven_platform::authz_files::{
    DevSigningKeyFiles as _, PolicyFiles as _, TrustedKeysFiles as _,
};
use haven_platform::bus::Bus;
use haven_platform::revocation::{RevocationList, RevocationSettings};
use haven_platform::server::bind;
use haven_platform::start::{Context, StartError, Started};
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("redis at the configured url is unavailable: {0}")]
    Redis(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("access policy: {0}")]
    Policy(#[from] haven_authz::PolicyError),
    #[error("no trusted keys: {0}")]
    NoKeys(String),
    #[error(transparent)]
    CheckpointKey(#[from] CheckpointKeyError),
    #[error("audit checkpoint of {service}: {source}")]
    Checkpoint {
        service: &'static str,
        source: CheckpointError,
    },
    #[error(transparent)]
    Start(#[from] StartError),
}

/// The key that signs audit checkpoints: the one at `audit.checkpoint_key_path`, which must exist, or
/// else the data dir's, created on first start.
pub fn audit_checkpoint_key(config: &HavenConfig) -> Result<Arc<CheckpointKey>, SuiteError> {
    let key = match &config.audit.checkpoint_key_path {
        Some(path) => CheckpointKey::from_file(path)?,
        None => CheckpointKey::load_or_create(&config.audit_checkpoint_key_path())?,
    };
    Ok(Arc::new(key))
}

/// The token settings every component verifies against.
pub fn verifier_settings(config: &HavenConfig) -> VerifierSettings {
    VerifierSettings {
        issuer: config.auth.issuer.clone(),
        audience: config.auth.audience.clone(),
        leeway_secs: config.auth.leeway_secs,
        max_lifetime_secs: config.auth.max_token_lifetime_secs,
    }
}

/// Trusted keys from the configured JWKS file, or else from the data dir's development key.
pub fn trusted_keys(config: &HavenConfig) -> Result<TrustedKeys, SuiteError> {
    match &config.auth.jwks_path {
        Some(path) => Ok(TrustedKeys::from_jwks_file(path)?),
        None => {
            let path = DevSigningKey::jwks_path(&config.data_dir);
            if !path.exists() {
                return Err(SuiteError::NoKeys(format!(
                    "set auth.jwks_path (HAVEN_JWKS_PATH), or run `haven up` once to create {}",
                    path.display()
                )));
            }
            Ok(TrustedKeys::from_jwks_file(&path)?)
        }
    }
}

/// The event bus: Redis Streams when `redis_url` is set, else in process.
pub fn event_bus(config: &HavenConfig) -> Result<Bus, SuiteError> {
    match &config.redis_url {
        Some(url) => Bus::redis(url)
            .map(|bus| bus.with_namespace(&config.bus_namespace))
            .map_err(|e| SuiteError::Redis(e.to_string())),
        None => Ok(Bus::in_process()),
    }
}

/// The configured policy file, or the shipped default.
pub fn load_policy(config: &HavenConfig) -> Result<Policy, SuiteError> {
    match &config.auth.policy_path {
        Some(path) => Ok(Policy::from_file(path)?),
        None => Ok(Policy::default()),
    }
}

/// The revocation list: in Redis (with a local copy for outages) when `redis_url` is set, else in
/// memory.
pub async fn revocations(config: &HavenConfig) -> Result<RevocationList, SuiteError> {
    match &config.redis_url {
        Some(url) => RevocationList::redis(url, revocation_settings(config))
            .await
            .map_err(|e| SuiteError::Redis(e.to_string())),
        None => Ok(RevocationList::in_memory()),
    }
}

/// Where revocations live in Redis and how stale the local copy may get during an outage.
pub fn revocation_settings(config: &HavenConfig) -> RevocationSettings {
    RevocationSettings {
        namespace: config.bus_namespace.clone(),
        max_staleness: std::time::Duration::from_secs(config.auth.revocation_max_staleness_secs),
    }
}

fn ensure_dir(path: &Path) -> Result<(), SuiteError> {
    std::fs::create_dir_all(path).map_err(|source| SuiteError::DataDir {
        path: path.display().to_string(),
        source,
    })
}

/// A running suite. Dropping it does not stop it; call [`Suite::shutdown`].
#[derive(Debug)]
pub struct Suite {
    pub gateway_addr: SocketAddr,
    pub identity_addr: SocketAddr,
    pub family_tracing_addr: SocketAddr,
    pub learning_addr: SocketAddr,
    /// The authenticator the components share (tests revoke tokens through it).
    pub auth: Authenticator,
    /// The development signing key, when the suite trusts the data dir's key.
    pub dev_key: Option<Arc<DevSigningKey>>,
    /// The event bus the services publish to (Redis when configured, else in process).
    pub bus: Bus,
    /// The services as started, the gateway last; stopped in that order.
    started: Vec<Started>,
    stop: CancellationToken,
}

impl Suite {
    /// Starts every service on a free loopback port and the gateway on `config.gateway.listen`, each
    /// through its crate's `start`, exactly as `haven serve` starts them one per process. Every server
    /// is bound before this returns, so the addresses are live.
    pub async fn start(config: HavenConfig) -> Result<Suite, SuiteError> {
        ensure_dir(&config.data_dir)?;
        let dev_key = match &config.auth.jwks_path {
            Some(_) => None,
            None => Some(Arc::new(DevSigningKey::load_or_create(&config.data_dir)?)),
        };
        let keys = match &dev_key {
            Some(key) => key.trusted_keys(),
            None => trusted_keys(&config)?,
        };
        let auth = Authenticator::new(
            TokenVerifier::new(keys, verifier_settings(&config)),
            revocations(&config).await?,
        );
        let stop = CancellationToken::new();
        let bus = event_bus(&config)?;
        let mut ctx = Context {
            config: Arc::new(config.clone()),
            auth: auth.clone(),
            policy: Arc::new(load_policy(&config)?),
            bus: bus.clone(),
            checkpoint_key: Some(audit_checkpoint_key(&config)?),
            embedded: true,
            stop: stop.clone(),
        };
        let mut started = Vec::with_capacity(4);
        let mut suite_config = config;
        // The gateway's port first: with `--listen 127.0.0.1:0` only the bound address says where the
        // passports' public URLs (status list, alignment targets) are served. A fixed port keeps the
        // listen address as the default, as `haven serve` has it.
        let gateway_listen = suite_config.gateway.listen;
        let (gateway_listener, bound) =
            bind(gateway_listen)
                .await
                .map_err(|source| SuiteError::Bind {
                    addr: gateway_listen,
                    source,
                })?;
        if suite_config.learning.public_url.is_none() && gateway_listen.port() == 0 {
            suite_config.learning.public_url = Some(format!("http://{bound}"));
        }
        ctx.config = Arc::new(suite_config.clone());

        let identity = haven_identity::start(&ctx, loopback().await?).await;
        let identity_addr = keep(&mut started, identity, &stop).await?;
        suite_config.family_tracing.identity_url = format!("http://{identity_addr}");
        ctx.config = Arc::new(suite_config.clone());

        let family_tracing = haven_family_tracing::start(&ctx, loopback().await?).await;
        let family_tracing_addr = keep(&mut started, family_tracing, &stop).await?;
        let learning = haven_learning::start(&ctx, loopback().await?).await;
        let learning_addr = keep(&mut started, learning, &stop).await?;

        suite_config.gateway.identity_url = format!("http://{identity_addr}");
        suite_config.gateway.family_tracing_url = format!("http://{family_tracing_addr}");
        suite_config.gateway.learning_url = format!("http://{learning_addr}");
        ctx.config = Arc::new(suite_config);
        let gateway = haven_gateway::start(&ctx, gateway_listener).await;
        let gateway_addr = keep(&mut started, gateway, &stop).await?;

        Ok(Suite {
            gateway_addr,
            identity_addr,
            family_tracing_addr,
            learning_addr,
            auth,
            dev_key,
            bus,
            started,
            stop,
        })
    }

    /// Signs and publishes every service's audit chain head now, if it moved since its last checkpoint,
    /// and answers the newest checkpoint of each (services do this every few seconds by themselves).
    pub async fn checkpoint_audit_logs(&self) -> Result<Vec<Checkpoint>, SuiteError> {
        let mut newest = Vec::with_capacity(self.started.len());
        for checkpointer in self.started.iter().filter_map(Started::checkpointer) {
            newest.push(checkpointer.checkpoint_now().await.map_err(|source| {
                SuiteError::Checkpoint {
                    service: checkpointer.service(),
                    source,
                }
            })?);
        }
        Ok(newest)
    }

    /// Stops every server gracefully and waits for them, then takes each audit log's last checkpoint.
    pub async fn shutdown(self) -> Result<(), SuiteError> {
        self.stop.cancel();
        stop_all(self.started).await
    }

    /// Waits until a server stops by itself (an error stops them all) or `signal` resolves, then shuts
    /// down.
    pub async fn run_until(
        self,
        signal: impl std::future::Future<Output = ()>,
    ) -> Result<(), SuiteError> {
        tokio::select! {
            _ = signal => {}
            _ = self.stop.cancelled() => {}
        }
        self.shutdown().await
    }
}

/// A free loopback port for a service behind the gateway.
async fn loopback() -> Result<tokio::net::TcpListener, SuiteError> {
    let addr = SocketAddr::from(([127, 0, 0, 1], 0));
    let (listener, _) = bind(addr)
        .await
        .map_err(|source| SuiteError::Bind { addr, source })?;
    Ok(listener)
}

/// Keeps a started service, or, when it failed to start, stops those already running and answers its
/// error.
async fn keep(
    started: &mut Vec<Started>,
    outcome: Result<Started, StartError>,
    stop: &CancellationToken,
) -> Result<SocketAddr, SuiteError> {
    match outcome {
        Ok(service) => {
            let addr = service.addr;
            started.push(service);
            Ok(addr)
        }
        Err(error) => {
            stop.cancel();
            let _ = stop_all(std::mem::take(started)).await;
            Err(error.into())
        }
    }
}

/// Waits for every started service to stop; answers the first error.
async fn stop_all(started: Vec<Started>) -> Result<(), SuiteError> {
    let mut outcome = Ok(());
    for service in started {
        if let Err(error) = service.stopped().await
            && outcome.is_ok()
        {
            outcome = Err(error.into());
        }
    }
    outcome
}
