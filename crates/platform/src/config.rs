//! Layered configuration: defaults, then an optional TOML file, then `HAVEN_*` environment variables.
//! `deploy/haven.example.toml` documents every option.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {name} is not valid: {message}")]
    Env { name: String, message: String },
    #[error("{key} is not valid: {message}")]
    Invalid { key: &'static str, message: String },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct HavenConfig {
    /// Where the embedded default keeps its SQLite files and development signing key.
    pub data_dir: PathBuf,
    /// Redis for events, token revocation and rate limits. Absent: in memory (embedded default).
    pub redis_url: Option<String>,
    /// A prefix for every key Haven keeps in Redis (event streams, revoked tokens, rate limits), for
    /// deployments that share one Redis. Empty: none.
    pub bus_namespace: String,
    /// File holding the master key that wraps every child's data key ("v<version>:<base64>"). The
    /// `HAVEN_MASTER_KEY` variable, holding the key itself, wins over it. Absent both: `haven up` creates
    /// `<data_dir>/keys/master.key`; `haven serve` refuses to start.
    pub master_key_path: Option<PathBuf>,
    /// Earlier master keys, kept while their data keys are re-wrapped under the current one.
    pub previous_master_key_paths: Vec<PathBuf>,
    pub auth: AuthConfig,
    pub gateway: GatewayConfig,
    pub identity: IdentityConfig,
    pub family_tracing: FamilyTracingConfig,
    pub learning: LearningConfig,
    pub audit: AuditConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// JWKS file with the public keys tokens are verified against. Absent: the data dir's development key.
    pub jwks_path: Option<PathBuf>,
    /// Access policy file (roles x classes x scope). Absent: the shipped default policy.
    pub policy_path: Option<PathBuf>,
    /// Machine clients (partner, lms) for the gateway's token endpoint; written by `haven client add`.
    /// Absent: the token endpoint refuses every client.
    pub clients_path: Option<PathBuf>,
    /// Lifetime of a client-credentials token, in seconds; at most `max_token_lifetime_secs`.
    pub client_token_ttl_secs: u64,
    pub issuer: String,
    pub audience: String,
    /// Allowed clock skew on exp, nbf and iat, in seconds (capped at 30).
    pub leeway_secs: u64,
    /// The longest lifetime (`exp - iat`) a token may claim, in seconds; longer ones are refused.
    pub max_token_lifetime_secs: u64,
    /// While Redis is unreachable, token revocation is checked against each process's local copy of
    /// the revoked set for at most this many seconds after that copy was last refreshed; after that,
    /// authenticated calls fail closed (UNAVAILABLE) until Redis answers. 0: fail closed at once.
    pub revocation_max_staleness_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct GatewayConfig {
    pub listen: SocketAddr,
    /// Where the gateway reaches the identity service.
    pub identity_url: String,
    /// Where the gateway reaches the family tracing service.
    pub family_tracing_url: String,
    /// Where the gateway reaches the learning service.
    pub learning_url: String,
    /// Largest request or response message, in bytes.
    pub max_message_bytes: usize,
    /// Deadline for a whole call through the gateway, in milliseconds.
    pub request_timeout_ms: u64,
    /// Sustained requests per second allowed to one principal (token `sub` + `agency`).
    pub rate_limit_per_second: u32,
    /// Requests one principal may burst above the sustained rate.
    pub rate_limit_burst: u32,
    /// A request header set by a proxy in front of the gateway (an ingress) that carries the caller's
    /// address, such as `x-forwarded-for` (the rightmost address counts). The token endpoint limits
    /// failed attempts per caller address. Absent: the TCP peer's address. Set it only when every
    /// request reaches the gateway through that proxy, or callers can claim any address.
    pub trusted_proxy_header: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct IdentityConfig {
    pub listen: SocketAddr,
    /// Absent: `sqlite://<data_dir>/identity.db`.
    pub database_url: Option<String>,
    pub retention: RetentionConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FamilyTracingConfig {
    pub listen: SocketAddr,
    /// Absent: `sqlite://<data_dir>/family-tracing.db`.
    pub database_url: Option<String>,
    /// Where the service reaches the identity service to read consenting children's identity.
    pub identity_url: String,
    /// A candidate scoring at least this is `likely`: worth acting on. Raise it where a wrong
    /// proposal costs more than a missed one.
    pub likely_threshold: f64,
    /// A candidate scoring at least this is `possible`; below it, candidates are not shown.
    pub possible_threshold: f64,
    /// File holding family tracing's own master key ("v<version>:<base64>"), which wraps each tracing
    /// request's and each child profile's data key. Not identity's key, so neither service's key opens
    /// the other's data. The `HAVEN_FAMILY_TRACING_MASTER_KEY` variable, holding the key itself, wins
    /// over it. Absent both: `haven up` creates `<data_dir>/keys/family-tracing.key`; `haven serve`
    /// refuses to start.
    pub master_key_path: Option<PathBuf>,
    /// Earlier family tracing master keys, kept while data keys are re-wrapped under the current one.
    pub previous_master_key_paths: Vec<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LearningConfig {
    pub listen: SocketAddr,
    /// Absent: `sqlite://<data_dir>/learning.db`.
    pub database_url: Option<String>,
    /// The issuer name printed in learning passports.
    pub issuer_name: String,
    /// The public base URL of the gateway, where verifiers fetch the passport status list
    /// (`<public_url>/passports/status/1`). Absent: `http://<gateway.listen>`.
    pub public_url: Option<String>,
    /// JWKS file of other deployments' passport issuers whose passports ImportPassport accepts.
    pub trusted_issuers_path: Option<PathBuf>,
    /// How passports are signed: EdDSA (Ed25519) unless a partner's verifier only takes RS256, the one
    /// algorithm Open Badges 3.0 requires of every verifier.
    pub passport_algorithm: PassportAlgorithm,
    /// PKCS#8 PEM private key that signs passports, of `passport_algorithm`. Absent: the data dir's key
    /// for that algorithm, created on first start.
    pub passport_key_path: Option<PathBuf>,
}

/// The JWS algorithm of learning passports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum PassportAlgorithm {
    /// Ed25519: small, fast, constant-time signing. The default.
    #[default]
    #[serde(rename = "EdDSA")]
    EdDsa,
    /// RSA PKCS#1 v1.5 with SHA-256, signed with ring's constant-time RSA (never the `rsa` crate, whose
    /// private-key operations are not constant-time: RUSTSEC-2023-0071). Open Badges 3.0's minimum.
    #[serde(rename = "RS256")]
    Rs256,
}

impl PassportAlgorithm {
    /// The JOSE name: `EdDSA` or `RS256`.
    pub fn as_str(self) -> &'static str {
        match self {
            PassportAlgorithm::EdDsa => "EdDSA",
            PassportAlgorithm::Rs256 => "RS256",
        }
    }
}

impl std::fmt::Display for PassportAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for PassportAlgorithm {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "EdDSA" => Ok(PassportAlgorithm::EdDsa),
            "RS256" => Ok(PassportAlgorithm::Rs256),
            other => Err(format!("{other:?} is not \"EdDSA\" or \"RS256\"")),
        }
    }
}

/// Signed checkpoints of every service's audit chain, published outside its database, so that someone
/// who can write to a database alone cannot rewrite its history unnoticed (see [`crate::audit`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// PKCS#8 PEM Ed25519 private key that signs checkpoints. Keep it away from the databases' admins.
    /// Absent: `<data_dir>/keys/audit-checkpoint.pem`, created (mode 0600) on first start.
    pub checkpoint_key_path: Option<PathBuf>,
    /// Public keys (`ed25519:<base64url>`, as `haven audit public-key` prints them) that `haven audit
    /// verify` accepts besides the signing key's own: earlier keys after a rotation, or the only keys
    /// of an auditor who verifies without the private key.
    pub trusted_checkpoint_keys: Vec<String>,
    /// Where each service appends its checkpoints, one JSON line each (`<service>.jsonl`).
    /// Absent: `<data_dir>/audit-checkpoints`.
    pub checkpoint_dir: Option<PathBuf>,
    /// Seconds between checkpoints while a log grows (1 to 60). Entries appended since the last
    /// checkpoint are the window in which a rewrite goes unnoticed.
    pub checkpoint_interval_secs: u64,
}

/// The bounds of [`AuditConfig::checkpoint_interval_secs`].
pub const CHECKPOINT_INTERVAL_SECS: std::ops::RangeInclusive<u64> = 1..=60;

impl AuditConfig {
    /// The interval between checkpoints, held inside [`CHECKPOINT_INTERVAL_SECS`] (a configuration
    /// loaded from file and environment is refused outside it).
    pub fn checkpoint_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.checkpoint_interval_secs.clamp(
            *CHECKPOINT_INTERVAL_SECS.start(),
            *CHECKPOINT_INTERVAL_SECS.end(),
        ))
    }
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            checkpoint_key_path: None,
            trusted_checkpoint_keys: Vec::new(),
            checkpoint_dir: None,
            checkpoint_interval_secs: 5,
        }
    }
}

/// How long records are kept after their last change, per record class. A scheduled task erases
/// expired records (crypto-shredding them, as EraseChild does). Absent: kept until erased by hand.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Children with a protection case.
    pub case_days: Option<u32>,
    /// Children known only as learners (identity, no case).
    pub learner_days: Option<u32>,
    /// How often the task looks for expired records, in seconds (default 3600).
    pub check_interval_secs: Option<u64>,
}

impl Default for HavenConfig {
    fn default() -> Self {
        HavenConfig {
            data_dir: PathBuf::from(".haven"),
            redis_url: None,
            bus_namespace: String::new(),
            master_key_path: None,
            previous_master_key_paths: Vec::new(),
            auth: AuthConfig::default(),
            gateway: GatewayConfig::default(),
            identity: IdentityConfig::default(),
            family_tracing: FamilyTracingConfig::default(),
            learning: LearningConfig::default(),
            audit: AuditConfig::default(),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            jwks_path: None,
            policy_path: None,
            clients_path: None,
            client_token_ttl_secs: 300,
            issuer: "haven-dev".into(),
            audience: "haven".into(),
            leeway_secs: 10,
            max_token_lifetime_secs: 24 * 3600,
            revocation_max_staleness_secs: 60,
        }
    }
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            identity_url: "http://127.0.0.1:50061".into(),
            family_tracing_url: "http://127.0.0.1:50062".into(),
            learning_url: "http://127.0.0.1:50063".into(),
            max_message_bytes: 1024 * 1024,
            request_timeout_ms: 10_000,
            rate_limit_per_second: 50,
            rate_limit_burst: 200,
            trusted_proxy_header: None,
        }
    }
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 50061)),
            database_url: None,
            retention: RetentionConfig::default(),
        }
    }
}

impl Default for FamilyTracingConfig {
    fn default() -> Self {
        FamilyTracingConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 50062)),
            database_url: None,
            identity_url: "http://127.0.0.1:50061".into(),
            likely_threshold: 0.80,
            possible_threshold: 0.20,
            master_key_path: None,
            previous_master_key_paths: Vec::new(),
        }
    }
}

impl Default for LearningConfig {
    fn default() -> Self {
        LearningConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 50063)),
            database_url: None,
            issuer_name: "Haven (development)".into(),
            public_url: None,
            trusted_issuers_path: None,
            passport_algorithm: PassportAlgorithm::EdDsa,
            passport_key_path: None,
        }
    }
}

impl HavenConfig {
    /// Defaults, then `file` if given, then `HAVEN_*` variables from the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut config = match file {
            Some(path) => Self::from_file(path)?,
            None => HavenConfig::default(),
        };
        config.apply_env(|name| std::env::var(name).ok())?;
        config.validate()?;
        Ok(config)
    }

    /// Refuses values that parse but make no sense.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !CHECKPOINT_INTERVAL_SECS.contains(&self.audit.checkpoint_interval_secs) {
            return Err(ConfigError::Invalid {
                key: "audit.checkpoint_interval_secs",
                message: format!(
                    "must be between {} and {} seconds",
                    CHECKPOINT_INTERVAL_SECS.start(),
                    CHECKPOINT_INTERVAL_SECS.end()
                ),
            });
        }
        Ok(())
    }

    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// Applies overrides from `HAVEN_*` variables, read through `lookup` so tests need no process env.
    pub fn apply_env(
        &mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        fn parse<T: std::str::FromStr>(name: &str, value: String) -> Result<T, ConfigError>
        where
            T::Err: std::fmt::Display,
        {
            value.parse().map_err(|e: T::Err| ConfigError::Env {
                name: name.into(),
                message: e.to_string(),
            })
        }
        if let Some(v) = lookup("HAVEN_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = lookup("HAVEN_REDIS_URL") {
            self.redis_url = Some(v).filter(|v| !v.is_empty());
        }
        if let Some(v) = lookup("HAVEN_BUS_NAMESPACE") {
            self.bus_namespace = v;
        }
        if let Some(v) = lookup("HAVEN_MASTER_KEY_PATH") {
            self.master_key_path = Some(PathBuf::from(v));
        }
        if let Some(v) = lookup("HAVEN_JWKS_PATH") {
            self.auth.jwks_path = Some(PathBuf::from(v));
        }
        if let Some(v) = lookup("HAVEN_CLIENTS_PATH") {
            self.auth.clients_path = Some(PathBuf::from(v));
        }
        if let Some(v) = lookup("HAVEN_POLICY_PATH") {
            self.auth.policy_path = Some(PathBuf::from(v));
        }
        if let Some(v) = lookup("HAVEN_ISSUER") {
            self.auth.issuer = v;
        }
        if let Some(v) = lookup("HAVEN_AUDIENCE") {
            self.auth.audience = v;
        }
        if let Some(v) = lookup("HAVEN_MAX_TOKEN_LIFETIME_SECS") {
            self.auth.max_token_lifetime_secs = parse("HAVEN_MAX_TOKEN_LIFETIME_SECS", v)?;
        }
        if let Some(v) = lookup("HAVEN_REVOCATION_MAX_STALENESS_SECS") {
            self.auth.revocation_max_staleness_secs =
                parse("HAVEN_REVOCATION_MAX_STALENESS_SECS", v)?;
        }
        if let Some(v) = lookup("HAVEN_TRUSTED_PROXY_HEADER") {
            self.gateway.trusted_proxy_header = Some(v).filter(|v| !v.is_empty());
        }
        if let Some(v) = lookup("HAVEN_GATEWAY_LISTEN") {
            self.gateway.listen = parse("HAVEN_GATEWAY_LISTEN", v)?;
        }
        if let Some(v) = lookup("HAVEN_IDENTITY_URL") {
            self.gateway.identity_url = v.clone();
            self.family_tracing.identity_url = v;
        }
        if let Some(v) = lookup("HAVEN_FAMILY_TRACING_URL") {
            self.gateway.family_tracing_url = v;
        }
        if let Some(v) = lookup("HAVEN_LEARNING_URL") {
            self.gateway.learning_url = v;
        }
        if let Some(v) = lookup("HAVEN_FAMILY_TRACING_LISTEN") {
            self.family_tracing.listen = parse("HAVEN_FAMILY_TRACING_LISTEN", v)?;
        }
        if let Some(v) = lookup("HAVEN_FAMILY_TRACING_DATABASE_URL") {
            self.family_tracing.database_url = Some(v);
        }
        if let Some(v) = lookup("HAVEN_FAMILY_TRACING_MASTER_KEY_PATH") {
            self.family_tracing.master_key_path = Some(PathBuf::from(v));
        }
        if let Some(v) = lookup("HAVEN_LEARNING_LISTEN") {
            self.learning.listen = parse("HAVEN_LEARNING_LISTEN", v)?;
        }
        if let Some(v) = lookup("HAVEN_LEARNING_DATABASE_URL") {
            self.learning.database_url = Some(v);
        }
        if let Some(v) = lookup("HAVEN_PUBLIC_URL") {
            self.learning.public_url = Some(v).filter(|v| !v.is_empty());
        }
        if let Some(v) = lookup("HAVEN_TRUSTED_ISSUERS_PATH") {
            self.learning.trusted_issuers_path = Some(PathBuf::from(v));
        }
        if let Some(v) = lookup("HAVEN_PASSPORT_ALGORITHM") {
            self.learning.passport_algorithm = parse("HAVEN_PASSPORT_ALGORITHM", v)?;
        }
        if let Some(v) = lookup("HAVEN_PASSPORT_KEY_PATH") {
            self.learning.passport_key_path =
                Some(PathBuf::from(v)).filter(|p| !p.as_os_str().is_empty());
        }
        if let Some(v) = lookup("HAVEN_RATE_LIMIT_PER_SECOND") {
            self.gateway.rate_limit_per_second = parse("HAVEN_RATE_LIMIT_PER_SECOND", v)?;
        }
        if let Some(v) = lookup("HAVEN_RATE_LIMIT_BURST") {
            self.gateway.rate_limit_burst = parse("HAVEN_RATE_LIMIT_BURST", v)?;
        }
        if let Some(v) = lookup("HAVEN_IDENTITY_LISTEN") {
            self.identity.listen = parse("HAVEN_IDENTITY_LISTEN", v)?;
        }
        if let Some(v) = lookup("HAVEN_IDENTITY_DATABASE_URL") {
            self.identity.database_url = Some(v);
        }
        if let Some(v) = lookup("HAVEN_AUDIT_CHECKPOINT_KEY_PATH") {
            self.audit.checkpoint_key_path =
                Some(PathBuf::from(v)).filter(|p| !p.as_os_str().is_empty());
        }
        if let Some(v) = lookup("HAVEN_AUDIT_TRUSTED_CHECKPOINT_KEYS") {
            self.audit.trusted_checkpoint_keys = v
                .split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(str::to_owned)
                .collect();
        }
        if let Some(v) = lookup("HAVEN_AUDIT_CHECKPOINT_DIR") {
            self.audit.checkpoint_dir =
                Some(PathBuf::from(v)).filter(|p| !p.as_os_str().is_empty());
        }
        if let Some(v) = lookup("HAVEN_AUDIT_CHECKPOINT_INTERVAL_SECS") {
            self.audit.checkpoint_interval_secs = parse("HAVEN_AUDIT_CHECKPOINT_INTERVAL_SECS", v)?;
        }
        Ok(())
    }

    /// The identity service's database: configured, or a SQLite file in the data dir.
    pub fn identity_database_url(&self) -> String {
        self.database_url(&self.identity.database_url, "identity.db")
    }

    /// The family tracing service's database: configured, or a SQLite file in the data dir.
    pub fn family_tracing_database_url(&self) -> String {
        self.database_url(&self.family_tracing.database_url, "family-tracing.db")
    }

    /// The learning service's database: configured, or a SQLite file in the data dir.
    pub fn learning_database_url(&self) -> String {
        self.database_url(&self.learning.database_url, "learning.db")
    }

    /// The key that signs audit checkpoints: configured, or the data dir's.
    pub fn audit_checkpoint_key_path(&self) -> PathBuf {
        self.audit
            .checkpoint_key_path
            .clone()
            .unwrap_or_else(|| self.data_dir.join("keys").join("audit-checkpoint.pem"))
    }

    /// Where services append their audit checkpoints: configured, or a folder in the data dir.
    pub fn audit_checkpoint_dir(&self) -> PathBuf {
        self.audit
            .checkpoint_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("audit-checkpoints"))
    }

    fn database_url(&self, configured: &Option<String>, file: &str) -> String {
        configured
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", self.data_dir.join(file).display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_file_values() {
        let mut config: HavenConfig =
            toml::from_str("[gateway]\nlisten = \"127.0.0.1:7000\"\n").expect("parses");
        assert_eq!(config.gateway.listen.port(), 7000);
        config
            .apply_env(|name| match name {
                "HAVEN_GATEWAY_LISTEN" => Some("127.0.0.1:7001".into()),
                "HAVEN_IDENTITY_DATABASE_URL" => Some("postgres://x/y".into()),
                _ => None,
            })
            .expect("applies");
        assert_eq!(config.gateway.listen.port(), 7001);
        assert_eq!(config.identity_database_url(), "postgres://x/y");
    }

    #[test]
    fn token_lifetime_revocation_staleness_and_proxy_header_come_from_env() {
        let mut config = HavenConfig::default();
        assert_eq!(config.auth.max_token_lifetime_secs, 24 * 3600);
        assert_eq!(config.auth.revocation_max_staleness_secs, 60);
        assert_eq!(config.gateway.trusted_proxy_header, None);
        config
            .apply_env(|name| match name {
                "HAVEN_MAX_TOKEN_LIFETIME_SECS" => Some("3600".into()),
                "HAVEN_REVOCATION_MAX_STALENESS_SECS" => Some("0".into()),
                "HAVEN_TRUSTED_PROXY_HEADER" => Some("x-forwarded-for".into()),
                _ => None,
            })
            .expect("applies");
        assert_eq!(config.auth.max_token_lifetime_secs, 3600);
        assert_eq!(config.auth.revocation_max_staleness_secs, 0);
        assert_eq!(
            config.gateway.trusted_proxy_header.as_deref(),
            Some("x-forwarded-for")
        );
        config
            .apply_env(|name| (name == "HAVEN_TRUSTED_PROXY_HEADER").then(String::new))
            .expect("applies");
        assert_eq!(config.gateway.trusted_proxy_header, None, "empty unsets it");
    }

    #[test]
    fn a_bad_env_value_names_the_variable() {
        let mut config = HavenConfig::default();
        let err = config
            .apply_env(|name| (name == "HAVEN_GATEWAY_LISTEN").then(|| "nope".to_string()))
            .expect_err("rejected");
        assert!(err.to_string().contains("HAVEN_GATEWAY_LISTEN"));
    }

    #[test]
    fn the_passport_algorithm_is_eddsa_unless_set_to_rs256() {
        assert_eq!(
            HavenConfig::default().learning.passport_algorithm,
            PassportAlgorithm::EdDsa
        );
        let mut config: HavenConfig =
            toml::from_str("[learning]\npassport_algorithm = \"RS256\"\n").expect("parses");
        assert_eq!(config.learning.passport_algorithm, PassportAlgorithm::Rs256);
        config
            .apply_env(|name| match name {
                "HAVEN_PASSPORT_ALGORITHM" => Some("EdDSA".into()),
                "HAVEN_PASSPORT_KEY_PATH" => Some("/etc/haven/passport.pem".into()),
                _ => None,
            })
            .expect("applies");
        assert_eq!(config.learning.passport_algorithm, PassportAlgorithm::EdDsa);
        assert_eq!(
            config.learning.passport_key_path.as_deref(),
            Some(Path::new("/etc/haven/passport.pem"))
        );
        assert!(
            toml::from_str::<HavenConfig>("[learning]\npassport_algorithm = \"HS256\"\n").is_err()
        );
        let err = config
            .apply_env(|name| (name == "HAVEN_PASSPORT_ALGORITHM").then(|| "rs256".to_string()))
            .expect_err("names are case-sensitive, as in JOSE");
        assert!(err.to_string().contains("HAVEN_PASSPORT_ALGORITHM"));
    }

    #[test]
    fn audit_checkpoints_are_configured_by_file_and_env_within_bounds() {
        let mut config: HavenConfig = toml::from_str(
            "[audit]\ncheckpoint_interval_secs = 2\ntrusted_checkpoint_keys = [\"ed25519:a\"]\n",
        )
        .expect("parses");
        assert_eq!(config.audit.checkpoint_interval_secs, 2);
        config
            .apply_env(|name| match name {
                "HAVEN_AUDIT_CHECKPOINT_KEY_PATH" => Some("/etc/haven/audit.pem".into()),
                "HAVEN_AUDIT_TRUSTED_CHECKPOINT_KEYS" => Some("ed25519:b, ed25519:c".into()),
                "HAVEN_AUDIT_CHECKPOINT_DIR" => Some("/var/log/haven".into()),
                "HAVEN_AUDIT_CHECKPOINT_INTERVAL_SECS" => Some("10".into()),
                _ => None,
            })
            .expect("applies");
        assert_eq!(
            config.audit_checkpoint_key_path(),
            Path::new("/etc/haven/audit.pem")
        );
        assert_eq!(
            config.audit.trusted_checkpoint_keys,
            vec!["ed25519:b".to_owned(), "ed25519:c".to_owned()]
        );
        assert_eq!(config.audit_checkpoint_dir(), Path::new("/var/log/haven"));
        assert_eq!(
            config.audit.checkpoint_interval(),
            std::time::Duration::from_secs(10)
        );
        config.validate().expect("10 s is within bounds");

        config.audit.checkpoint_interval_secs = 0;
        let err = config.validate().expect_err("0 s is refused");
        assert!(err.to_string().contains("audit.checkpoint_interval_secs"));
        config.audit.checkpoint_interval_secs = 3600;
        assert!(config.validate().is_err(), "an hour-long window is refused");
        assert_eq!(
            config.audit.checkpoint_interval(),
            std::time::Duration::from_secs(60)
        );

        let defaults = HavenConfig::default();
        assert_eq!(
            defaults.audit_checkpoint_key_path(),
            Path::new(".haven/keys/audit-checkpoint.pem")
        );
        assert_eq!(
            defaults.audit_checkpoint_dir(),
            Path::new(".haven/audit-checkpoints")
        );
    }

    #[test]
    fn unknown_keys_are_rejected() {
        assert!(toml::from_str::<HavenConfig>("colour = \"blue\"\n").is_err());
    }
}

#[cfg(test)]
mod example_file {
    use super::*;

    #[test]
    fn the_documented_example_parses_to_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/haven.example.toml");
        let config = HavenConfig::from_file(&path).expect("example parses");
        assert_eq!(config, HavenConfig::default());
    }
}
