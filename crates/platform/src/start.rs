//! How a Haven service is started: with a [`Context`] (the configuration and what the components of one
//! deployment share), on a bound listener, handing back a [`Started`] service. `haven up` starts every
//! service in one process and `haven serve <service>` one per process, through the same `start` of each
//! service crate, so the two cannot drift apart.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use haven_authz::{Authenticator, Policy};
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::HavenConfig;
use crate::audit::checkpoint::CheckpointKeyError;
use crate::audit::{CheckpointKey, CheckpointSinks, Checkpointer};
use crate::bus::Bus;
use crate::sealing::{Keyring, MasterKey, SealingError};

/// How often an outbox relay looks for events to publish.
pub const RELAY_INTERVAL: Duration = Duration::from_millis(100);
/// How often a consumer polls its stream (and family tracing's index follows its projection).
pub const FEED_INTERVAL: Duration = Duration::from_millis(200);

/// Why a service could not start, or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("cannot read the listener's address: {0}")]
    Listener(std::io::Error),
    #[error("server failed: {0}")]
    Serve(#[from] tonic::transport::Error),
    #[error("master key: {0}")]
    MasterKey(#[from] SealingError),
    #[error("no {service} master key: set {variable} or {key} ({variable}_PATH)")]
    NoMasterKey {
        service: &'static str,
        variable: &'static str,
        key: &'static str,
    },
    #[error(transparent)]
    CheckpointKey(#[from] CheckpointKeyError),
    #[error(transparent)]
    SigningKey(#[from] haven_authz::KeyError),
    #[error("redis at the configured url is unavailable: {0}")]
    Redis(String),
    /// A service's own setup failed (its passport keys, its trusted issuers, its routes).
    #[error("{service}: {message}")]
    Service {
        service: &'static str,
        message: String,
    },
}

impl StartError {
    /// A service's own setup error, with the service named.
    pub fn service(service: &'static str, error: impl std::fmt::Display) -> StartError {
        StartError::Service {
            service,
            message: error.to_string(),
        }
    }
}

/// What every service of one deployment is started with.
#[derive(Debug, Clone)]
pub struct Context {
    pub config: Arc<HavenConfig>,
    pub auth: Authenticator,
    pub policy: Arc<Policy>,
    /// The event bus: Redis Streams when `redis_url` is set, else in process (shared by the services
    /// of one `haven up`).
    pub bus: Bus,
    /// Signs audit checkpoints; `None` where nothing keeps an audit log (`haven serve gateway`).
    pub checkpoint_key: Option<Arc<CheckpointKey>>,
    /// The embedded default (`haven up`): keys missing from the data dir are created on first start.
    /// A deployment (`haven serve`) must be given its keys.
    pub embedded: bool,
    /// Cancelled to stop every server and its background work; a server that fails cancels it too.
    pub stop: CancellationToken,
}

impl Context {
    /// Resolves when the deployment stops.
    pub fn shutdown(&self) -> impl Future<Output = ()> + Send + 'static {
        self.stop.clone().cancelled_owned()
    }

    /// Publishes `db`'s outbox to the bus.
    pub fn relay(&self, db: DatabaseConnection) -> JoinHandle<()> {
        crate::outbox::spawn_relay(db, self.bus.clone(), RELAY_INTERVAL)
    }

    /// Applies `stream`'s events once per event for consumer group `group`, as this replica.
    pub fn consumer<H, F, E>(
        &self,
        stream: &'static str,
        group: &'static str,
        handle: H,
    ) -> JoinHandle<()>
    where
        H: Fn(Vec<u8>) -> F + Send + Sync + 'static,
        F: Future<Output = Result<(), E>> + Send,
        E: std::fmt::Display,
    {
        crate::consumer::spawn_group_consumer(
            self.bus.clone(),
            stream,
            group,
            replica_name(),
            FEED_INTERVAL,
            handle,
        )
    }

    /// Signs `service`'s audit chain head every `audit.checkpoint_interval_secs` while it grows,
    /// appended to `<checkpoint dir>/<service>.jsonl`, logged, and added to the bus when it is Redis.
    pub fn checkpoints(
        &self,
        service: &'static str,
        db: DatabaseConnection,
    ) -> Option<Checkpointer> {
        let key = self.checkpoint_key.clone()?;
        let sinks = CheckpointSinks {
            service,
            key,
            dir: Some(self.config.audit_checkpoint_dir()),
            bus: self.config.redis_url.is_some().then(|| self.bus.clone()),
        };
        Some(Checkpointer::spawn(
            db,
            sinks,
            self.config.audit.checkpoint_interval(),
        ))
    }
}

/// Resolves when the deployment stops; what a service's `serve` is given.
pub type ShutdownSignal = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// A running service: where it listens, its server, its background work and its audit checkpoints.
#[derive(Debug)]
pub struct Started {
    pub service: &'static str,
    pub addr: SocketAddr,
    server: JoinHandle<Result<(), StartError>>,
    background: Vec<JoinHandle<()>>,
    checkpoints: Option<Checkpointer>,
}

impl Started {
    /// Runs `serve` on `listener` (given the deployment's shutdown) on its own task. A server that
    /// fails stops the whole deployment, so `haven up` never runs with a service missing.
    pub fn spawn<S, E>(
        ctx: &Context,
        service: &'static str,
        listener: TcpListener,
        background: Vec<JoinHandle<()>>,
        checkpoints: Option<Checkpointer>,
        serve: impl FnOnce(TcpListener, ShutdownSignal) -> S,
    ) -> Result<Started, StartError>
    where
        S: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<StartError>,
    {
        let addr = listener.local_addr().map_err(StartError::Listener)?;
        let stop = ctx.stop.clone();
        let served = serve(listener, Box::pin(ctx.shutdown()));
        let server = tokio::spawn(async move {
            let outcome = served.await.map_err(Into::into);
            if outcome.is_err() {
                stop.cancel();
            }
            outcome
        });
        Ok(Started {
            service,
            addr,
            server,
            background,
            checkpoints,
        })
    }

    /// Waits for the server to stop (cancel the context's `stop` first), ends the background work and
    /// takes the audit log's last checkpoint.
    pub async fn stopped(self) -> Result<(), StartError> {
        let outcome = self.server.await.unwrap_or(Ok(()));
        for task in &self.background {
            task.abort();
        }
        if let Some(checkpoints) = self.checkpoints {
            checkpoints.finish().await;
        }
        outcome
    }

    /// The audit checkpoints of this service, if it keeps an audit log.
    pub fn checkpointer(&self) -> Option<&Checkpointer> {
        self.checkpoints.as_ref()
    }
}

/// Where a service's master key comes from, in order: the key itself in an environment variable, a
/// key file, or (embedded default only) a file in the data dir created on first start.
#[derive(Debug, Clone)]
pub struct MasterKeySource<'a> {
    pub service: &'static str,
    /// `HAVEN_MASTER_KEY`: the key text, which wins over every file.
    pub variable: &'static str,
    /// The config key of the key file, for the error that says what to set.
    pub key: &'static str,
    pub path: Option<&'a Path>,
    pub previous: &'a [PathBuf],
    /// The data dir's file, used only when the deployment is embedded.
    pub embedded_default: PathBuf,
}

/// The keyring a service seals its data with at rest, from `source`.
pub fn master_keyring(source: MasterKeySource<'_>, embedded: bool) -> Result<Keyring, StartError> {
    let current = match (std::env::var(source.variable).ok(), source.path) {
        (Some(text), _) => MasterKey::from_encoded(&text)?,
        (None, Some(path)) => MasterKey::from_file(path)?,
        (None, None) if embedded => MasterKey::load_or_create(&source.embedded_default)?,
        (None, None) => {
            return Err(StartError::NoMasterKey {
                service: source.service,
                variable: source.variable,
                key: source.key,
            });
        }
    };
    let previous = source
        .previous
        .iter()
        .map(|path| MasterKey::from_file(path))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Keyring::new(current, previous)?)
}

/// This replica's stable name in consumer groups: the host name (a pod name in Kubernetes), so a
/// restarted replica picks up the events it had not acknowledged.
pub fn replica_name() -> String {
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
