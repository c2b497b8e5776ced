//! Black-box test harness: starts the whole suite on port 0 (as `haven up` does) and drives it through the
//! gateway over gRPC. SQLite in a fresh temp dir by default; PostgreSQL and Redis when
//! `HAVEN_TEST_DATABASE_URL` / `HAVEN_TEST_REDIS_URL` are set, each suite in its own PostgreSQL schema.
//! All data here is generated: no real child is ever named.

pub mod fixtures;
pub mod http1;
pub mod otel;
pub mod raw;
pub mod webhook_receiver;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use haven_authz::Claims;
use haven_cli::Suite;
use haven_platform::HavenConfig;
use haven_proto::family_tracing::family_tracing_client::FamilyTracingClient;
use haven_proto::identity::child_identity_client::ChildIdentityClient;
use haven_proto::identity::partner_feed_client::PartnerFeedClient;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use tonic::Request;
use tonic::transport::Channel;

/// A running suite plus what tests need to poke at it.
#[derive(Debug)]
pub struct TestSuite {
    pub suite: Suite,
    pub client: ChildIdentityClient<Channel>,
    channel: Channel,
    pub data_dir: PathBuf,
    /// The identity service's database, for tests that inspect what was stored.
    pub identity_db_url: String,
    /// The configuration the suite was started with (data dir, database URLs, Redis, audit keys).
    pub config: HavenConfig,
    /// The suite's `bus_namespace`: the prefix of its keys in Redis.
    pub namespace: String,
    postgres_schema: Option<(String, String)>,
}

/// Settings a test may change before the suite starts.
#[derive(Debug, Clone)]
pub struct Options {
    pub rate_limit_per_second: u32,
    pub rate_limit_burst: u32,
    /// A deployment policy file's text, in place of the shipped default.
    pub policy_toml: Option<String>,
    /// A Redis of the test's own (see [`PrivateRedis`]) in place of `HAVEN_TEST_REDIS_URL`.
    pub redis_url: Option<String>,
    /// `auth.revocation_max_staleness_secs`, when not the default.
    pub revocation_max_staleness_secs: Option<u64>,
    /// `auth.clients_path`: the machine clients the token endpoint knows.
    pub clients_path: Option<PathBuf>,
    /// `gateway.cors.allowed_origins`.
    pub cors_allowed_origins: Vec<String>,
    /// `identity.webhooks`, when not the default (retry schedule of webhook tests).
    pub webhooks: Option<haven_platform::config::WebhooksConfig>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            rate_limit_per_second: 100_000,
            rate_limit_burst: 100_000,
            policy_toml: None,
            redis_url: None,
            revocation_max_staleness_secs: None,
            clients_path: None,
            cors_allowed_origins: Vec::new(),
            webhooks: None,
        }
    }
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn unique() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// The backends in use, for test names in logs.
pub fn backend() -> &'static str {
    if std::env::var("HAVEN_TEST_DATABASE_URL").is_ok() {
        "postgres"
    } else {
        "sqlite"
    }
}

impl TestSuite {
    pub async fn start() -> TestSuite {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> TestSuite {
        let data_dir = std::env::temp_dir().join(format!("haven-test-{}", unique()));
        std::fs::create_dir_all(&data_dir).expect("temp data dir");
        let mut config = HavenConfig {
            data_dir: data_dir.clone(),
            ..HavenConfig::default()
        };
        config.gateway.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        config.gateway.rate_limit_per_second = options.rate_limit_per_second;
        config.gateway.rate_limit_burst = options.rate_limit_burst;
        if let Some(policy) = &options.policy_toml {
            let path = data_dir.join("policy.toml");
            std::fs::write(&path, policy).expect("write policy file");
            config.auth.policy_path = Some(path);
        }
        config.redis_url = options.redis_url.clone().or_else(|| {
            std::env::var("HAVEN_TEST_REDIS_URL")
                .ok()
                .filter(|u| !u.is_empty())
        });
        config.auth.clients_path = options.clients_path.clone();
        config.gateway.cors.allowed_origins = options.cors_allowed_origins.clone();
        if let Some(secs) = options.revocation_max_staleness_secs {
            config.auth.revocation_max_staleness_secs = secs;
        }
        if let Some(webhooks) = &options.webhooks {
            config.identity.webhooks = webhooks.clone();
        }
        // Test suites share one Redis: each gets its own streams, so one suite's consumers never take
        // another's events.
        config.bus_namespace = format!("haven-test-{}", unique());
        let namespace = config.bus_namespace.clone();

        let mut postgres_schema = None;
        if let Some(base) = std::env::var("HAVEN_TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            // One schema per service, as production has one database (or schema) per service.
            let schema = format!("t_{}", unique());
            let admin = sea_orm::Database::connect(&base)
                .await
                .expect("connect to HAVEN_TEST_DATABASE_URL");
            for name in [
                schema.clone(),
                format!("{schema}_ft"),
                format!("{schema}_ln"),
            ] {
                admin
                    .execute_unprepared(&format!("CREATE SCHEMA \"{name}\""))
                    .await
                    .expect("create test schema");
            }
            admin.close().await.ok();
            let separator = if base.contains('?') { '&' } else { '?' };
            config.identity.database_url = Some(format!(
                "{base}{separator}options%5Bsearch_path%5D={schema}&application_name={schema}"
            ));
            config.family_tracing.database_url = Some(format!(
                "{base}{separator}options%5Bsearch_path%5D={schema}_ft&application_name={schema}_ft"
            ));
            config.learning.database_url = Some(format!(
                "{base}{separator}options%5Bsearch_path%5D={schema}_ln&application_name={schema}_ln"
            ));
            postgres_schema = Some((base, schema));
        }
        let identity_db_url = config.identity_database_url();
        let suite = Suite::start(config.clone()).await.expect("suite starts");
        let channel = Channel::from_shared(format!("http://{}", suite.gateway_addr))
            .expect("gateway url")
            .connect()
            .await
            .expect("connect to gateway");
        TestSuite {
            suite,
            client: ChildIdentityClient::new(channel.clone()),
            channel,
            data_dir,
            identity_db_url,
            config,
            namespace,
            postgres_schema,
        }
    }

    /// On PostgreSQL, drops every open connection of the identity service (its pool's connections carry
    /// the schema as `application_name`), as a server restart would; returns how many were dropped, or
    /// `None` on the embedded default.
    pub async fn drop_identity_connections(&self) -> Option<u64> {
        let (base, schema) = self.postgres_schema.as_ref()?;
        let admin = sea_orm::Database::connect(base.as_str()).await.ok()?;
        let dropped = admin
            .query_all_raw(sea_orm::Statement::from_sql_and_values(
                sea_orm::DatabaseBackend::Postgres,
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = $1 AND pid <> pg_backend_pid()",
                [schema.clone().into()],
            ))
            .await
            .map(|rows| rows.len() as u64)
            .ok();
        admin.close().await.ok();
        dropped
    }

    /// Claims for a development token; tests change fields to build bad tokens.
    pub fn claims(&self, role: &str, sub: &str, agency: &str) -> Claims {
        let now = now();
        Claims {
            iss: "haven-dev".into(),
            aud: "haven".into(),
            sub: sub.into(),
            exp: now + 600,
            iat: now,
            nbf: Some(now),
            jti: uuid::Uuid::now_v7().to_string(),
            roles: vec![role.into()],
            agency: agency.into(),
            team: None,
            locations: vec![],
        }
    }

    pub fn sign(&self, claims: &Claims) -> String {
        self.suite
            .dev_key
            .as_ref()
            .expect("the test suite trusts its dev key")
            .sign(claims)
            .expect("sign")
    }

    pub fn token(&self, role: &str, sub: &str, agency: &str) -> String {
        self.sign(&self.claims(role, sub, agency))
    }

    /// A client for the gateway (cheap to clone: one HTTP/2 connection).
    pub fn client(&self) -> ChildIdentityClient<Channel> {
        self.client.clone()
    }

    /// A family tracing client through the gateway.
    /// The partners' feeds (webhook subscriptions, deliveries, changes), through the gateway.
    pub fn partner_feed(&self) -> PartnerFeedClient<Channel> {
        PartnerFeedClient::new(self.channel.clone())
    }

    pub fn tracing(&self) -> FamilyTracingClient<Channel> {
        FamilyTracingClient::new(self.channel.clone())
    }

    /// The gateway connection, for clients of its other services.
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// A connection to the identity database, to look at what was stored.
    pub async fn identity_db(&self) -> DatabaseConnection {
        haven_platform::db::connect(&self.identity_db_url)
            .await
            .expect("identity db")
    }

    /// A connection to the family tracing database, to look at what was stored.
    pub async fn family_tracing_db(&self) -> DatabaseConnection {
        haven_platform::db::connect(&self.config.family_tracing_database_url())
            .await
            .expect("family tracing db")
    }

    /// Stops the suite and starts it again on the same data (data dir, databases, Redis namespace),
    /// as a restarted deployment: every service rebuilds what it keeps in memory from its database.
    pub async fn restart(self) -> TestSuite {
        let TestSuite {
            suite,
            data_dir,
            identity_db_url,
            config,
            namespace,
            postgres_schema,
            ..
        } = self;
        suite.shutdown().await.expect("clean shutdown");
        let suite = Suite::start(config.clone()).await.expect("suite restarts");
        let channel = Channel::from_shared(format!("http://{}", suite.gateway_addr))
            .expect("gateway url")
            .connect()
            .await
            .expect("connect to gateway");
        TestSuite {
            suite,
            client: ChildIdentityClient::new(channel.clone()),
            channel,
            data_dir,
            identity_db_url,
            config,
            namespace,
            postgres_schema,
        }
    }

    pub async fn stop(self) {
        let bus = self.suite.bus.clone();
        self.suite.shutdown().await.expect("clean shutdown");
        for stream in [
            haven_identity::events::IDENTITY_STREAM,
            haven_identity::events::LEARNING_STREAM,
        ] {
            bus.delete_stream(stream).await.ok();
        }
        for service in haven_cli::audit::SERVICES {
            bus.delete_stream(&haven_platform::audit::checkpointer::checkpoint_stream(
                service,
            ))
            .await
            .ok();
        }
        if let Some((base, schema)) = self.postgres_schema
            && let Ok(admin) = sea_orm::Database::connect(&base).await
        {
            for name in [
                schema.clone(),
                format!("{schema}_ft"),
                format!("{schema}_ln"),
            ] {
                admin
                    .execute_unprepared(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"))
                    .await
                    .ok();
            }
        }
        std::fs::remove_dir_all(&self.data_dir).ok();
    }
}

/// Wraps a message with a bearer token.
pub fn authed<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii token"),
    );
    request
}

/// A log writer that keeps what is written, for tests that read the suite's log lines.
#[derive(Debug, Clone, Default)]
pub struct CapturedLogs(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// Everything written so far, as text.
    pub fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A Redis server of a test's own, listening only on a Unix socket in a temp dir (so no port can clash),
/// without persistence. A test stops, kills and restarts it without disturbing the Redis other tests
/// share.
#[derive(Debug)]
pub struct PrivateRedis {
    child: std::process::Child,
    dir: PathBuf,
    socket: PathBuf,
}

impl PrivateRedis {
    /// Starts one. `None` when `redis-server` is not installed, except under CI (`CI=true`), where
    /// that fails the test: CI installs it.
    pub async fn start() -> Option<PrivateRedis> {
        let dir = std::env::temp_dir().join(format!("haven-redis-{}", unique()));
        std::fs::create_dir_all(&dir).expect("redis temp dir");
        let socket = dir.join("redis.sock");
        let child = match Self::spawn(&socket) {
            Ok(child) => child,
            Err(error) if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!("redis-server cannot start under CI: {error}")
            }
            Err(error) => {
                eprintln!("skipped: redis-server cannot start here ({error})");
                std::fs::remove_dir_all(&dir).ok();
                return None;
            }
        };
        let redis = PrivateRedis { child, dir, socket };
        redis.wait_until_ready().await;
        Some(redis)
    }

    fn spawn(socket: &std::path::Path) -> std::io::Result<std::process::Child> {
        std::process::Command::new("redis-server")
            .args(["--port", "0", "--unixsocket"])
            .arg(socket)
            .args([
                "--unixsocketperm",
                "700",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
    }

    async fn wait_until_ready(&self) {
        use std::io::{Read as _, Write as _};
        for _ in 0..200 {
            if let Ok(mut stream) = std::os::unix::net::UnixStream::connect(&self.socket) {
                let mut reply = [0u8; 7];
                stream
                    .set_read_timeout(Some(std::time::Duration::from_millis(200)))
                    .ok();
                if stream.write_all(b"PING\r\n").is_ok()
                    && stream.read_exact(&mut reply).is_ok()
                    && &reply == b"+PONG\r\n"
                {
                    return;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!(
            "private redis-server did not answer on {}",
            self.socket.display()
        );
    }

    /// The URL Haven connects with.
    pub fn url(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Freezes the server (SIGSTOP): connections stay open and nothing answers, the hardest outage.
    pub fn pause(&self) {
        self.signal("STOP");
    }

    /// Lets a paused server go on (SIGCONT).
    pub fn resume(&self) {
        self.signal("CONT");
    }

    /// Kills the server (SIGKILL): connections are refused until [`PrivateRedis::restart`]. Its data
    /// is gone, as with a Redis without persistence.
    pub fn kill(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
        std::fs::remove_file(&self.socket).ok();
    }

    /// Starts a fresh, empty server on the same socket.
    pub async fn restart(&mut self) {
        self.child = Self::spawn(&self.socket).expect("restart redis-server");
        self.wait_until_ready().await;
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        // SIGKILL ends a stopped process too.
        self.child.kill().ok();
        self.child.wait().ok();
        std::fs::remove_dir_all(&self.dir).ok();
    }
}
