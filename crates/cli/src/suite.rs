//! The suite in one process: every service on its own loopback port and the gateway in front, reaching
//! them over gRPC exactly as in production. Only the backends differ: SQLite files in the data dir, an
//! in-memory revocation list and limiter, and a development signing key made on first start.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use haven_authz::{
    Authenticator, DevSigningKey, KeyError, Policy, TokenVerifier, TrustedKeys, VerifierSettings,
};
use haven_gateway::RateLimiter;
use haven_platform::HavenConfig;
use haven_platform::audit::checkpoint::CheckpointKeyError;
use haven_platform::audit::checkpointer::CheckpointError;
use haven_platform::audit::{Checkpoint, CheckpointKey, CheckpointSinks, Checkpointer};
use haven_platform::authz_files::{
    ClientRegistryFiles as _, DevSigningKeyFiles as _, PolicyFiles as _, TrustedKeysFiles as _,
};
use haven_platform::bus::Bus;
use haven_platform::revocation::{RevocationList, RevocationSettings};
use haven_platform::sealing::{Keyring, MasterKey};
use haven_platform::server::{ShutdownFuture, bind, shutdown_pair};
use tokio::sync::watch;
use tokio::task::JoinHandle;

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
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("master key: {0}")]
    MasterKey(#[from] haven_platform::sealing::SealingError),
    #[error("no master key: set HAVEN_MASTER_KEY or master_key_path (HAVEN_MASTER_KEY_PATH)")]
    NoMasterKey,
    #[error(
        "no family tracing master key: set HAVEN_FAMILY_TRACING_MASTER_KEY or family_tracing.master_key_path (HAVEN_FAMILY_TRACING_MASTER_KEY_PATH)"
    )]
    NoFamilyTracingMasterKey,
    #[error("machine clients: {0}")]
    Clients(#[from] haven_authz::ClientError),
    #[error("access policy: {0}")]
    Policy(#[from] haven_authz::PolicyError),
    #[error("no trusted keys: {0}")]
    NoKeys(String),
    #[error(transparent)]
    Gateway(#[from] haven_gateway::GatewayError),
    #[error("server failed: {0}")]
    Serve(#[from] tonic::transport::Error),
    #[error("family tracing: {0}")]
    FamilyTracing(#[from] haven_platform::ServiceError),
    #[error("learning passports: {0}")]
    Passport(#[from] haven_learning::PassportError),
    #[error("trusted passport issuers at {path}: {message}")]
    TrustedIssuers { path: String, message: String },
    #[error(transparent)]
    CheckpointKey(#[from] CheckpointKeyError),
    #[error("audit checkpoint of {service}: {source}")]
    Checkpoint {
        service: &'static str,
        source: CheckpointError,
    },
    #[error(
        "auth.client_token_ttl_secs ({ttl}) is above auth.max_token_lifetime_secs ({max}): every token the endpoint issued would be refused"
    )]
    ClientTokenTtl { ttl: u64, max: u64 },
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

/// Starts `service`'s audit checkpoints: its chain head signed with `key` every
/// `audit.checkpoint_interval_secs` while it grows, appended to `<checkpoint dir>/<service>.jsonl`,
/// logged, and added to a Redis stream when Redis is configured.
pub fn spawn_audit_checkpoints(
    config: &HavenConfig,
    service: &'static str,
    db: sea_orm::DatabaseConnection,
    key: Arc<CheckpointKey>,
) -> Result<Checkpointer, SuiteError> {
    let bus = match &config.redis_url {
        Some(_) => Some(event_bus(config)?),
        None => None,
    };
    let sinks = CheckpointSinks {
        service,
        key,
        dir: Some(config.audit_checkpoint_dir()),
        bus,
    };
    Ok(Checkpointer::spawn(
        db,
        sinks,
        config.audit.checkpoint_interval(),
    ))
}

/// This deployment's passport issuer, as configured: `learning.passport_algorithm` (EdDSA by default)
/// with the key at `learning.passport_key_path`, or the data dir's key for that algorithm (created on
/// first use).
pub fn passport_issuer(config: &HavenConfig) -> Result<haven_learning::PassportIssuer, SuiteError> {
    let public_url = config
        .learning
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.gateway.listen));
    Ok(haven_learning::PassportIssuer::load(
        &config.data_dir,
        config.learning.passport_algorithm,
        config.learning.passport_key_path.as_deref(),
        &config.learning.issuer_name,
        &public_url,
    )?)
}

/// Builds the learning service with this deployment's passport issuer key and the other issuers it
/// trusts for ImportPassport.
pub async fn learning_service(
    config: &HavenConfig,
    auth: Authenticator,
    policy: Arc<Policy>,
) -> Result<haven_learning::LearningService, SuiteError> {
    let issuer = passport_issuer(config)?;
    let mut service =
        haven_learning::build(&config.learning_database_url(), auth, policy, issuer).await?;
    if let Some(path) = &config.learning.trusted_issuers_path {
        let failed = |message: String| SuiteError::TrustedIssuers {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| failed(e.to_string()))?;
        let trusted =
            haven_learning::TrustList::from_jwks(&text).map_err(|e| failed(e.to_string()))?;
        service = service.with_trusted_issuers(trusted);
    }
    Ok(service)
}

/// The learning service's background work: its outbox relay, and its projection of identity's
/// children (owner and agency, for caseworkers' and supervisors' scope), once per event.
pub fn spawn_learning_work(
    service: &haven_learning::LearningService,
    bus: Bus,
) -> Vec<JoinHandle<()>> {
    let projection = service.clone();
    vec![
        haven_platform::outbox::spawn_relay(
            service.database().clone(),
            bus.clone(),
            RELAY_INTERVAL,
        ),
        haven_platform::consumer::spawn_group_consumer(
            bus,
            haven_family_tracing::IDENTITY_STREAM,
            "learning",
            replica_name(),
            FEED_INTERVAL,
            move |payload| {
                let projection = projection.clone();
                async move { projection.apply_identity_event(&payload).await.map(|_| ()) }
            },
        ),
    ]
}

/// The identity service's consumer of enrolments: educator affiliations follow LearnerEnrolled.
pub fn spawn_identity_work(identity: &haven_identity::IdentityService, bus: Bus) -> JoinHandle<()> {
    let identity = identity.clone();
    haven_platform::consumer::spawn_group_consumer(
        bus,
        haven_identity::events::LEARNING_STREAM,
        "identity",
        replica_name(),
        FEED_INTERVAL,
        move |payload| {
            let identity = identity.clone();
            async move { identity.apply_learning_event(&payload).await }
        },
    )
}

/// How often the family tracing feed polls the bus, and its index follows the projection.
pub const FEED_INTERVAL: std::time::Duration = std::time::Duration::from_millis(200);

/// The match bands a deployment configured.
pub fn thresholds(config: &HavenConfig) -> haven_matching::Thresholds {
    haven_matching::Thresholds {
        likely: config.family_tracing.likely_threshold,
        possible: config.family_tracing.possible_threshold,
    }
}

/// Starts the family tracing service's background work: the identity event feed (once per event,
/// through the consumer group) and the index follower (every replica). `key` signs the service's own
/// token for reading consenting children's identity; the identity service must trust it.
pub fn spawn_family_tracing_work(
    service: &haven_family_tracing::FamilyTracingService,
    bus: Bus,
    identity_url: &str,
    key: Arc<DevSigningKey>,
    config: &HavenConfig,
) -> Result<Vec<JoinHandle<()>>, SuiteError> {
    let channel = haven_gateway::service_channel(
        identity_url,
        std::time::Duration::from_millis(config.gateway.request_timeout_ms),
    )?;
    let reader = haven_family_tracing::IdentityReader::new(
        channel,
        key,
        &config.auth.issuer,
        &config.auth.audience,
    );
    let feed = haven_family_tracing::Feed {
        db: service.database().clone(),
        bus,
        reader,
        matcher: service.matcher().clone(),
        vault: service.vault().clone(),
        consumer: replica_name(),
    };
    Ok(vec![
        haven_family_tracing::spawn_feed(feed, FEED_INTERVAL),
        haven_family_tracing::spawn_follower(
            service.matcher().clone(),
            service.database().clone(),
            FEED_INTERVAL,
        ),
    ])
}

/// This replica's stable name in consumer groups: the host name (a pod name in Kubernetes), so a
/// restarted replica picks up the events it had not acknowledged.
fn replica_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "haven".into())
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

/// The keyring sealing whereabouts and protection at rest: `HAVEN_MASTER_KEY`, else `master_key_path`,
/// else (embedded default only) a key created in the data dir on first start.
pub fn keyring(config: &HavenConfig, embedded: bool) -> Result<Keyring, SuiteError> {
    load_keyring(
        std::env::var("HAVEN_MASTER_KEY").ok(),
        config.master_key_path.as_deref(),
        &config.previous_master_key_paths,
        embedded.then(|| config.data_dir.join("keys").join("master.key")),
    )?
    .ok_or(SuiteError::NoMasterKey)
}

/// The keyring sealing family tracing's data at rest (inquirers, sought children, the profile
/// projection), found the same way as identity's but from its own key:
/// `HAVEN_FAMILY_TRACING_MASTER_KEY`, else `family_tracing.master_key_path`, else (embedded default
/// only) `<data_dir>/keys/family-tracing.key`, created on first start.
pub fn family_tracing_keyring(config: &HavenConfig, embedded: bool) -> Result<Keyring, SuiteError> {
    load_keyring(
        std::env::var("HAVEN_FAMILY_TRACING_MASTER_KEY").ok(),
        config.family_tracing.master_key_path.as_deref(),
        &config.family_tracing.previous_master_key_paths,
        embedded.then(|| config.data_dir.join("keys").join("family-tracing.key")),
    )?
    .ok_or(SuiteError::NoFamilyTracingMasterKey)
}

/// The key text wins over the file; with neither, the embedded default's file (created if missing).
/// `None` when there is no key at all.
fn load_keyring(
    text: Option<String>,
    path: Option<&Path>,
    previous: &[std::path::PathBuf],
    embedded_default: Option<std::path::PathBuf>,
) -> Result<Option<Keyring>, SuiteError> {
    let current = match (text, path, embedded_default) {
        (Some(text), _, _) => MasterKey::from_encoded(&text)?,
        (None, Some(path), _) => MasterKey::from_file(path)?,
        (None, None, Some(default)) => MasterKey::load_or_create(&default)?,
        (None, None, None) => return Ok(None),
    };
    let previous = previous
        .iter()
        .map(|path| MasterKey::from_file(path))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(Keyring::new(current, previous)?))
}

/// The token endpoint's issuer, when clients are configured: it signs with `key`, whose public half the
/// services trust.
pub fn token_issuer(
    config: &HavenConfig,
    key: Arc<DevSigningKey>,
) -> Result<Option<haven_gateway::TokenIssuer>, SuiteError> {
    let Some(path) = &config.auth.clients_path else {
        return Ok(None);
    };
    if config.auth.client_token_ttl_secs > config.auth.max_token_lifetime_secs {
        return Err(SuiteError::ClientTokenTtl {
            ttl: config.auth.client_token_ttl_secs,
            max: config.auth.max_token_lifetime_secs,
        });
    }
    Ok(Some(haven_gateway::TokenIssuer {
        key,
        clients: Arc::new(haven_authz::ClientRegistry::from_file(path)?),
        issuer: config.auth.issuer.clone(),
        audience: config.auth.audience.clone(),
        ttl_secs: config.auth.client_token_ttl_secs,
    }))
}

/// How often the outbox relay looks for events to publish.
pub const RELAY_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

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

pub async fn rate_limiter(config: &HavenConfig) -> Result<RateLimiter, SuiteError> {
    let g = &config.gateway;
    match &config.redis_url {
        Some(url) => RateLimiter::redis(
            url,
            &config.bus_namespace,
            g.rate_limit_per_second,
            g.rate_limit_burst,
        )
        .map_err(|e| SuiteError::Redis(e.to_string())),
        None => Ok(RateLimiter::in_memory(
            g.rate_limit_per_second,
            g.rate_limit_burst,
        )),
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
    /// Background work (outbox relay, retention), stopped with the servers.
    background: Vec<JoinHandle<()>>,
    /// Each service's audit checkpoints; the last is taken once the servers have stopped.
    checkpointers: Vec<Checkpointer>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<Result<(), SuiteError>>>,
}

impl Suite {
    /// Starts identity and gateway. Both bind before this returns, so their addresses are live.
    /// The identity service takes any free loopback port; the gateway takes `config.gateway.listen`.
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
        let policy = Arc::new(load_policy(&config)?);
        let limiter = rate_limiter(&config).await?;
        let checkpoint_key = audit_checkpoint_key(&config)?;
        let (stop, shutdown) = shutdown_pair();

        let identity = haven_identity::build(
            &config.identity_database_url(),
            auth.clone(),
            policy.clone(),
            Arc::new(keyring(&config, true)?),
        )
        .await?;
        let bus = event_bus(&config)?;
        let mut checkpointers = vec![spawn_audit_checkpoints(
            &config,
            "identity",
            identity.database().clone(),
            checkpoint_key.clone(),
        )?];
        let mut background = vec![haven_platform::outbox::spawn_relay(
            identity.database().clone(),
            bus.clone(),
            RELAY_INTERVAL,
        )];
        background.push(spawn_identity_work(&identity, bus.clone()));
        background.extend(haven_identity::spawn_retention(
            identity.clone(),
            config.identity.retention.clone(),
        ));
        let identity_listen = SocketAddr::from(([127, 0, 0, 1], 0));
        let (identity_listener, identity_addr) =
            bind(identity_listen)
                .await
                .map_err(|source| SuiteError::Bind {
                    addr: identity_listen,
                    source,
                })?;
        let max_message_bytes = config.gateway.max_message_bytes;
        let identity_shutdown: ShutdownFuture = shutdown();
        let identity_task = tokio::spawn(async move {
            haven_identity::serve(
                identity,
                identity_listener,
                max_message_bytes,
                identity_shutdown,
            )
            .await?;
            Ok(())
        });

        let family_tracing = haven_family_tracing::build(
            &config.family_tracing_database_url(),
            auth.clone(),
            policy.clone(),
            thresholds(&config),
            Arc::new(family_tracing_keyring(&config, true)?),
        )
        .await?;
        checkpointers.push(spawn_audit_checkpoints(
            &config,
            "family-tracing",
            family_tracing.database().clone(),
            checkpoint_key.clone(),
        )?);
        // The tracing service signs its own token with the data dir's key, which identity trusts when
        // embedded; with a configured JWKS the key's public half must be in it.
        let service_key = match &dev_key {
            Some(key) => key.clone(),
            None => Arc::new(DevSigningKey::load_or_create(&config.data_dir)?),
        };
        background.extend(spawn_family_tracing_work(
            &family_tracing,
            bus.clone(),
            &format!("http://{identity_addr}"),
            service_key,
            &config,
        )?);
        let tracing_listen = SocketAddr::from(([127, 0, 0, 1], 0));
        let (tracing_listener, family_tracing_addr) =
            bind(tracing_listen)
                .await
                .map_err(|source| SuiteError::Bind {
                    addr: tracing_listen,
                    source,
                })?;
        let tracing_shutdown: ShutdownFuture = shutdown();
        let tracing_task = tokio::spawn(async move {
            haven_family_tracing::serve(
                family_tracing,
                tracing_listener,
                max_message_bytes,
                tracing_shutdown,
            )
            .await?;
            Ok(())
        });

        let learning = learning_service(&config, auth.clone(), policy.clone()).await?;
        checkpointers.push(spawn_audit_checkpoints(
            &config,
            "learning",
            learning.database().clone(),
            checkpoint_key,
        )?);
        background.extend(spawn_learning_work(&learning, bus.clone()));
        let learning_listen = SocketAddr::from(([127, 0, 0, 1], 0));
        let (learning_listener, learning_addr) =
            bind(learning_listen)
                .await
                .map_err(|source| SuiteError::Bind {
                    addr: learning_listen,
                    source,
                })?;
        let learning_shutdown: ShutdownFuture = shutdown();
        let learning_task = tokio::spawn(async move {
            haven_learning::serve(
                learning,
                learning_listener,
                max_message_bytes,
                learning_shutdown,
            )
            .await?;
            Ok(())
        });

        let mut gateway_config = config.gateway.clone();
        gateway_config.identity_url = format!("http://{identity_addr}");
        gateway_config.family_tracing_url = format!("http://{family_tracing_addr}");
        gateway_config.learning_url = format!("http://{learning_addr}");
        let (gateway_listener, gateway_addr) =
            bind(config.gateway.listen)
                .await
                .map_err(|source| SuiteError::Bind {
                    addr: config.gateway.listen,
                    source,
                })?;
        let gateway_auth = auth.clone();
        let token_issuer = match &dev_key {
            Some(key) => token_issuer(&config, key.clone())?,
            None => None,
        };
        let gateway_shutdown = shutdown();
        let gateway_task = tokio::spawn(async move {
            haven_gateway::serve(
                &gateway_config,
                gateway_auth,
                policy,
                limiter,
                token_issuer,
                gateway_listener,
                gateway_shutdown,
            )
            .await?;
            Ok(())
        });

        Ok(Suite {
            gateway_addr,
            identity_addr,
            family_tracing_addr,
            learning_addr,
            auth,
            dev_key,
            bus,
            background,
            checkpointers,
            stop,
            tasks: vec![identity_task, tracing_task, learning_task, gateway_task],
        })
    }

    /// Signs and publishes every service's audit chain head now, if it moved since its last checkpoint,
    /// and answers the newest checkpoint of each (services do this every few seconds by themselves).
    pub async fn checkpoint_audit_logs(&self) -> Result<Vec<Checkpoint>, SuiteError> {
        let mut newest = Vec::with_capacity(self.checkpointers.len());
        for checkpointer in &self.checkpointers {
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
        let _ = self.stop.send(true);
        for task in &self.background {
            task.abort();
        }
        let mut outcome = Ok(());
        for task in self.tasks {
            if let Ok(Err(error)) = task.await
                && outcome.is_ok()
            {
                outcome = Err(error);
            }
        }
        for checkpointer in self.checkpointers {
            checkpointer.finish().await;
        }
        outcome
    }

    /// Waits until a server stops by itself (an error) or `signal` resolves, then shuts down.
    pub async fn run_until(
        mut self,
        signal: impl std::future::Future<Output = ()>,
    ) -> Result<(), SuiteError> {
        let tasks = std::mem::take(&mut self.tasks);
        let first = futures_first(tasks);
        tokio::select! {
            _ = signal => self.shutdown().await,
            outcome = first => {
                let _ = self.stop.send(true);
                outcome
            }
        }
    }
}

async fn futures_first(tasks: Vec<JoinHandle<Result<(), SuiteError>>>) -> Result<(), SuiteError> {
    let mut set = tokio::task::JoinSet::new();
    for task in tasks {
        set.spawn(async move { task.await.unwrap_or(Ok(())) });
    }
    match set.join_next().await {
        Some(Ok(result)) => result,
        _ => Ok(()),
    }
}
