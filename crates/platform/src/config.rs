//! Layered configuration, the same for every key: defaults, then an optional TOML file, then the
//! environment (figment). `deploy/haven.example.toml` documents every option.
//!
//! Every key `a.b.c` is also the variable `HAVEN_A__B__C` (`HAVEN_LEARNING__ISSUER_NAME` sets
//! `learning.issuer_name`; a top-level key is `HAVEN_DATA_DIR`). Lists are written `[a, b]` and
//! tables `{k = v}`; an empty value unsets an optional text or path. The variables Haven read before
//! ([`ENV_ALIASES`], such as `HAVEN_GATEWAY_LISTEN`) still work, below the `__` names, so that
//! deployments written for them keep working. `haven config dump` prints the effective configuration
//! with secrets masked ([`HavenConfig::to_masked_toml`]).

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
    /// A layer (the file or a variable) holds an unknown key or a value of the wrong kind. The message
    /// names the key as that layer spells it (`HAVEN_GATEWAY__LISTEN`, `gateway.listen`) and the
    /// layer (`TOML file /etc/haven.toml`, `` `HAVEN_*` environment variable(s)``).
    #[error("configuration is not valid: {message}")]
    Layered { message: String },
    #[error("{key} is not valid: {message}")]
    Invalid { key: &'static str, message: String },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct HavenConfig {
    /// Where the embedded default keeps its SQLite files and development signing key.
    pub data_dir: PathBuf,
    /// Redis for events, token revocation and rate limits. Absent: in memory (embedded default).
    #[serde(deserialize_with = "empty_as_none")]
    pub redis_url: Option<String>,
    /// A prefix for every key Haven keeps in Redis (event streams, revoked tokens, rate limits), for
    /// deployments that share one Redis. Empty: none.
    pub bus_namespace: String,
    /// File holding the master key that wraps every child's data key ("v<version>:<base64>"). The
    /// `HAVEN_MASTER_KEY` variable, holding the key itself, wins over it. Absent both: `haven up` creates
    /// `<data_dir>/keys/master.key`; `haven serve` refuses to start.
    #[serde(deserialize_with = "empty_as_none")]
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
    #[serde(deserialize_with = "empty_as_none")]
    pub jwks_path: Option<PathBuf>,
    /// Access policy file (roles x classes x scope). Absent: the shipped default policy.
    #[serde(deserialize_with = "empty_as_none")]
    pub policy_path: Option<PathBuf>,
    /// Machine clients (partner, lms) for the gateway's token endpoint; written by `haven client add`.
    /// Absent: the token endpoint refuses every client.
    #[serde(deserialize_with = "empty_as_none")]
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
    #[serde(deserialize_with = "empty_as_none")]
    pub trusted_proxy_header: Option<String>,
    /// The gateway's public base URL as partners reach it (`https://haven.example.org`), named in the
    /// OAuth2 metadata at `/.well-known/oauth-authorization-server` (`issuer`, `token_endpoint`,
    /// `jwks_uri`). Absent: `learning.public_url` when that is set; else only the embedded default
    /// (`haven up`) names URLs after the request's `Host`, and a deployment serves no metadata.
    #[serde(deserialize_with = "empty_as_none")]
    pub public_url: Option<String>,
    /// Which browser origins may call the gateway (REST, gRPC-Web, the token endpoint).
    pub cors: CorsConfig,
}

/// Cross-origin calls from browsers. With no allowed origin (the default) the gateway sends no CORS
/// header at all, and browsers keep pages of other origins from reading its answers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CorsConfig {
    /// Origins allowed to call, each `scheme://host[:port]` exactly as a browser sends it in `Origin`
    /// (`https://partner.example.org`). No wildcard: each origin is named.
    pub allowed_origins: Vec<String>,
    /// How long a browser may reuse a preflight answer, in seconds.
    pub max_age_secs: u64,
}

impl Default for CorsConfig {
    fn default() -> Self {
        CorsConfig {
            allowed_origins: Vec::new(),
            max_age_secs: 600,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct IdentityConfig {
    pub listen: SocketAddr,
    /// Absent: `sqlite://<data_dir>/identity.db`.
    #[serde(deserialize_with = "empty_as_none")]
    pub database_url: Option<String>,
    pub retention: RetentionConfig,
    /// Partner webhooks: retries, timeouts, which receivers are allowed.
    pub webhooks: WebhooksConfig,
}

/// How partner webhooks are delivered (`identity.webhooks`, `HAVEN_IDENTITY__WEBHOOKS__...`). A failed
/// attempt is retried after `first_retry_ms`, doubling each time up to `max_retry_secs`, each wait drawn
/// at random from its upper half (jitter, so receivers coming back are not hit by every retry at once),
/// until `give_up_after_secs` from the event: then the delivery is marked failed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct WebhooksConfig {
    /// The wait before the first retry, in milliseconds (default 5000).
    pub first_retry_ms: u64,
    /// The longest wait between two attempts, in seconds (default 3600).
    pub max_retry_secs: u64,
    /// How long after the event a delivery is retried before it is marked failed (default 3 days).
    pub give_up_after_secs: u64,
    /// How long one attempt may take, connection included, in milliseconds (default 10000).
    pub timeout_ms: u64,
    /// How often the dispatcher looks for due deliveries, in milliseconds (default 1000).
    pub poll_interval_ms: u64,
    /// How long a rotated-out secret keeps signing beside the new one, in seconds (default 1 day).
    pub rotation_grace_secs: u64,
    /// Lets subscriptions name loopback, private and link-local addresses. Off in production, where a
    /// receiver inside the deployment's network would let a partner probe it; `haven up` allows them.
    pub allow_private_addresses: bool,
    /// A PEM file of CA certificates trusted for https receivers beside the system's own (a partner
    /// on a private PKI, or tests). Absent: the system's CA certificates only.
    #[serde(deserialize_with = "empty_as_none")]
    pub extra_root_certificates_path: Option<PathBuf>,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            first_retry_ms: 5_000,
            max_retry_secs: 3_600,
            give_up_after_secs: 3 * 24 * 3_600,
            timeout_ms: 10_000,
            poll_interval_ms: 1_000,
            rotation_grace_secs: 24 * 3_600,
            allow_private_addresses: false,
            extra_root_certificates_path: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FamilyTracingConfig {
    pub listen: SocketAddr,
    /// Absent: `sqlite://<data_dir>/family-tracing.db`.
    #[serde(deserialize_with = "empty_as_none")]
    pub database_url: Option<String>,
    /// Where the service reaches the identity service to read consenting children's identity.
    pub identity_url: String,
    /// A candidate scoring at least this is `likely`: worth acting on. Raise it where a wrong
    /// proposal costs more than a missed one.
    #[serde(deserialize_with = "exact_f64")]
    pub likely_threshold: f64,
    /// A candidate scoring at least this is `possible`; below it, candidates are not shown.
    #[serde(deserialize_with = "exact_f64")]
    pub possible_threshold: f64,
    /// File holding family tracing's own master key ("v<version>:<base64>"), which wraps each tracing
    /// request's and each child profile's data key. Not identity's key, so neither service's key opens
    /// the other's data. The `HAVEN_FAMILY_TRACING_MASTER_KEY` variable, holding the key itself, wins
    /// over it. Absent both: `haven up` creates `<data_dir>/keys/family-tracing.key`; `haven serve`
    /// refuses to start.
    #[serde(deserialize_with = "empty_as_none")]
    pub master_key_path: Option<PathBuf>,
    /// Earlier family tracing master keys, kept while data keys are re-wrapped under the current one.
    pub previous_master_key_paths: Vec<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LearningConfig {
    pub listen: SocketAddr,
    /// Absent: `sqlite://<data_dir>/learning.db`.
    #[serde(deserialize_with = "empty_as_none")]
    pub database_url: Option<String>,
    /// The issuer name printed in learning passports.
    pub issuer_name: String,
    /// The public base URL of the gateway, where verifiers fetch the passport status list
    /// (`<public_url>/passports/status/1`). Absent: `http://<gateway.listen>`.
    #[serde(deserialize_with = "empty_as_none")]
    pub public_url: Option<String>,
    /// JWKS file of other deployments' passport issuers whose passports ImportPassport accepts.
    #[serde(deserialize_with = "empty_as_none")]
    pub trusted_issuers_path: Option<PathBuf>,
    /// How passports are signed: EdDSA (Ed25519) unless a partner's verifier only takes RS256, the one
    /// algorithm Open Badges 3.0 requires of every verifier.
    pub passport_algorithm: PassportAlgorithm,
    /// PKCS#8 PEM private key that signs passports, of `passport_algorithm`. Absent: the data dir's key
    /// for that algorithm, created on first start.
    #[serde(deserialize_with = "empty_as_none")]
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
    #[serde(deserialize_with = "empty_as_none")]
    pub checkpoint_key_path: Option<PathBuf>,
    /// Public keys (`ed25519:<base64url>`, as `haven audit public-key` prints them) that `haven audit
    /// verify` accepts besides the signing key's own: earlier keys after a rotation, or the only keys
    /// of an auditor who verifies without the private key.
    pub trusted_checkpoint_keys: Vec<String>,
    /// Where each service appends its checkpoints, one JSON line each (`<service>.jsonl`).
    /// Absent: `<data_dir>/audit-checkpoints`.
    #[serde(deserialize_with = "empty_as_none")]
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
            public_url: None,
            cors: CorsConfig::default(),
        }
    }
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 50061)),
            database_url: None,
            retention: RetentionConfig::default(),
            webhooks: WebhooksConfig::default(),
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

/// The prefix of every configuration variable.
pub const ENV_PREFIX: &str = "HAVEN_";

/// The separator between key path segments in a variable name: `HAVEN_LEARNING__ISSUER_NAME` sets
/// `learning.issuer_name`.
pub const ENV_SEPARATOR: &str = "__";

/// The top-level keys that are values, not sections: `HAVEN_DATA_DIR` sets `data_dir`. Any other
/// `HAVEN_*` name without `__` is not a key path (`HAVEN_LOG`, `HAVEN_MASTER_KEY`, test variables) and
/// is left alone, unless it is one of [`ENV_ALIASES`].
const TOP_LEVEL_VALUES: &[&str] = &[
    "data_dir",
    "redis_url",
    "bus_namespace",
    "master_key_path",
    "previous_master_key_paths",
];

/// The variables Haven read before every key had a `HAVEN_<SECTION>__<KEY>` name, and the keys each
/// sets. They keep working, below the `__` names: when a key is set both ways, the `__` name wins.
/// The top-level names (`HAVEN_DATA_DIR`, `HAVEN_REDIS_URL`, `HAVEN_BUS_NAMESPACE`,
/// `HAVEN_MASTER_KEY_PATH`) are already key paths and need no alias.
pub const ENV_ALIASES: &[(&str, &[&str])] = &[
    ("HAVEN_JWKS_PATH", &["auth.jwks_path"]),
    ("HAVEN_CLIENTS_PATH", &["auth.clients_path"]),
    ("HAVEN_POLICY_PATH", &["auth.policy_path"]),
    ("HAVEN_ISSUER", &["auth.issuer"]),
    ("HAVEN_AUDIENCE", &["auth.audience"]),
    (
        "HAVEN_MAX_TOKEN_LIFETIME_SECS",
        &["auth.max_token_lifetime_secs"],
    ),
    (
        "HAVEN_REVOCATION_MAX_STALENESS_SECS",
        &["auth.revocation_max_staleness_secs"],
    ),
    ("HAVEN_GATEWAY_LISTEN", &["gateway.listen"]),
    (
        "HAVEN_IDENTITY_URL",
        &["gateway.identity_url", "family_tracing.identity_url"],
    ),
    ("HAVEN_FAMILY_TRACING_URL", &["gateway.family_tracing_url"]),
    ("HAVEN_LEARNING_URL", &["gateway.learning_url"]),
    (
        "HAVEN_RATE_LIMIT_PER_SECOND",
        &["gateway.rate_limit_per_second"],
    ),
    ("HAVEN_RATE_LIMIT_BURST", &["gateway.rate_limit_burst"]),
    (
        "HAVEN_TRUSTED_PROXY_HEADER",
        &["gateway.trusted_proxy_header"],
    ),
    ("HAVEN_IDENTITY_LISTEN", &["identity.listen"]),
    ("HAVEN_IDENTITY_DATABASE_URL", &["identity.database_url"]),
    ("HAVEN_FAMILY_TRACING_LISTEN", &["family_tracing.listen"]),
    (
        "HAVEN_FAMILY_TRACING_DATABASE_URL",
        &["family_tracing.database_url"],
    ),
    (
        "HAVEN_FAMILY_TRACING_MASTER_KEY_PATH",
        &["family_tracing.master_key_path"],
    ),
    ("HAVEN_LEARNING_LISTEN", &["learning.listen"]),
    ("HAVEN_LEARNING_DATABASE_URL", &["learning.database_url"]),
    ("HAVEN_PUBLIC_URL", &["learning.public_url"]),
    (
        "HAVEN_TRUSTED_ISSUERS_PATH",
        &["learning.trusted_issuers_path"],
    ),
    ("HAVEN_PASSPORT_ALGORITHM", &["learning.passport_algorithm"]),
    ("HAVEN_PASSPORT_KEY_PATH", &["learning.passport_key_path"]),
    (
        "HAVEN_AUDIT_CHECKPOINT_KEY_PATH",
        &["audit.checkpoint_key_path"],
    ),
    (
        "HAVEN_AUDIT_TRUSTED_CHECKPOINT_KEYS",
        &["audit.trusted_checkpoint_keys"],
    ),
    ("HAVEN_AUDIT_CHECKPOINT_DIR", &["audit.checkpoint_dir"]),
    (
        "HAVEN_AUDIT_CHECKPOINT_INTERVAL_SECS",
        &["audit.checkpoint_interval_secs"],
    ),
];

/// Aliases whose value was a comma-separated list before lists could be written `[a,b]`.
const COMMA_LIST_ALIASES: &[&str] = &["HAVEN_AUDIT_TRUSTED_CHECKPOINT_KEYS"];

/// What a masked secret prints as in [`HavenConfig::to_masked_toml`].
pub const MASK: &str = "********";

/// TOML read with the workspace's `toml` crate. figment's own `toml` feature would build a second,
/// older `toml` (0.8) beside it for the same job.
struct TomlFormat;

impl figment::providers::Format for TomlFormat {
    type Error = toml::de::Error;
    const NAME: &'static str = "TOML";

    fn from_str<T: serde::de::DeserializeOwned>(string: &str) -> Result<T, Self::Error> {
        toml::from_str(string)
    }
}

/// One environment layer: each variable, the key paths it sets and its value. Read from a list of
/// variables rather than the process environment (figment's `Env`), so that tests set none, and so
/// that an error names the variable that was set (`HAVEN_GATEWAY__LISTEN`, or an alias).
struct EnvLayer {
    name: &'static str,
    entries: Vec<EnvEntry>,
}

struct EnvEntry {
    var: String,
    key: String,
    value: figment::value::Value,
}

impl EnvLayer {
    /// The old names of [`ENV_ALIASES`] that are set.
    fn aliases(vars: &[(String, String)]) -> Self {
        let mut entries = Vec::new();
        for (var, value) in vars {
            let Some((_, keys)) = ENV_ALIASES.iter().find(|(name, _)| name == var) else {
                continue;
            };
            let value = if COMMA_LIST_ALIASES.contains(&var.as_str())
                && !value.trim_start().starts_with('[')
            {
                figment::value::Value::from(
                    value
                        .split(',')
                        .map(str::trim)
                        .filter(|item| !item.is_empty())
                        .map(str::to_owned)
                        .collect::<Vec<_>>(),
                )
            } else {
                env_value(value)
            };
            for key in keys.iter() {
                entries.push(EnvEntry {
                    var: var.clone(),
                    key: (*key).to_owned(),
                    value: value.clone(),
                });
            }
        }
        EnvLayer {
            name: "legacy `HAVEN_*` alias variable(s)",
            entries,
        }
    }

    /// `HAVEN_<KEY>` for the top-level values and `HAVEN_<SECTION>__<KEY>` for the rest.
    fn key_paths(vars: &[(String, String)]) -> Self {
        let mut entries = Vec::new();
        for (var, value) in vars {
            let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let key = rest.to_ascii_lowercase();
            let nested = key.contains(ENV_SEPARATOR);
            if !nested && !TOP_LEVEL_VALUES.contains(&key.as_str()) {
                continue;
            }
            entries.push(EnvEntry {
                var: var.clone(),
                key: key.replace(ENV_SEPARATOR, "."),
                value: env_value(value),
            });
        }
        EnvLayer {
            name: "`HAVEN_*` environment variable(s)",
            entries,
        }
    }
}

/// A variable's value: a list (`[a, b]`) or table (`{k = v}`) in figment's syntax when it looks like
/// one, else the text itself. Text becomes a number or boolean only where the key wants one (figment's
/// lossy extraction), so `HAVEN_BUS_NAMESPACE=2024` stays the text "2024".
fn env_value(raw: &str) -> figment::value::Value {
    let trimmed = raw.trim();
    if trimmed.starts_with('[') || trimmed.starts_with('{') {
        let parsed: figment::value::Value = trimmed.parse().unwrap_or_else(|e| match e {});
        if !matches!(parsed, figment::value::Value::String(..)) {
            return parsed;
        }
    }
    figment::value::Value::from(raw.to_owned())
}

impl EnvLayer {
    /// The variable that set `key`, or a key below it.
    fn var_of(&self, key: &str) -> Option<String> {
        let below = format!("{key}.");
        self.entries
            .iter()
            .find(|e| e.key == key)
            .or_else(|| self.entries.iter().find(|e| e.key.starts_with(&below)))
            .map(|e| e.var.clone())
    }
}

impl figment::Provider for EnvLayer {
    fn metadata(&self) -> figment::Metadata {
        let names: Vec<(String, String)> = self
            .entries
            .iter()
            .map(|e| (e.key.clone(), e.var.clone()))
            .collect();
        figment::Metadata::named(self.name).interpolater(
            move |_: &figment::Profile, keys: &[&str]| {
                let key = keys.join(".");
                let prefix = format!("{key}.");
                names
                    .iter()
                    .find(|(k, _)| *k == key)
                    .or_else(|| names.iter().find(|(k, _)| k.starts_with(&prefix)))
                    .map(|(_, var)| var.clone())
                    .unwrap_or_else(|| {
                        format!(
                            "{ENV_PREFIX}{}",
                            keys.join(ENV_SEPARATOR).to_ascii_uppercase()
                        )
                    })
            },
        )
    }

    fn data(
        &self,
    ) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        let mut dict = figment::value::Dict::new();
        for entry in &self.entries {
            let path: Vec<&str> = entry.key.split('.').collect();
            if path.iter().any(|segment| segment.is_empty()) {
                return Err(figment::Error::from(format!(
                    "{} does not name a key path (empty segment)",
                    entry.var
                )));
            }
            insert(&mut dict, &path, entry.value.clone(), &entry.var)
                .map_err(figment::Error::from)?;
        }
        Ok(figment::Profile::Default.collect(dict))
    }
}

/// Puts `value` at `path` in `dict`, making the tables on the way.
fn insert(
    dict: &mut figment::value::Dict,
    path: &[&str],
    value: figment::value::Value,
    var: &str,
) -> Result<(), String> {
    let (first, rest) = path.split_first().expect("a key path is never empty");
    if rest.is_empty() {
        if let Some(figment::value::Value::Dict(..)) = dict.get(*first) {
            return Err(format!("{var}: `{first}` is a section, not a value"));
        }
        dict.insert((*first).to_owned(), value);
        return Ok(());
    }
    let child = dict
        .entry((*first).to_owned())
        .or_insert_with(|| figment::value::Value::from(figment::value::Dict::new()));
    match child {
        figment::value::Value::Dict(_, inner) => insert(inner, rest, value, var),
        _ => Err(format!("{var}: `{first}` is a value, not a section")),
    }
}

/// Reads an optional text or path setting where an empty value means unset, so that an empty
/// variable (`HAVEN_REDIS_URL=`) or `""` in the file turns an option off.
fn empty_as_none<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: From<String>,
{
    let text: Option<String> = Option::deserialize(deserializer)?;
    Ok(text.filter(|t| !t.is_empty()).map(T::from))
}

/// Reads a fraction without losing digits. figment turns the text of a variable such as `0.9` into an
/// `f32` when it has few digits (its `Num` parser), which widens to 0.8999999761581421; text is parsed
/// as `f64` here instead, and an `f32` is widened through its shortest decimal form.
fn exact_f64<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    struct Fraction;

    impl serde::de::Visitor<'_> for Fraction {
        type Value = f64;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a number")
        }

        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<f64, E> {
            Ok(v)
        }

        fn visit_f32<E: serde::de::Error>(self, v: f32) -> Result<f64, E> {
            v.to_string().parse().map_err(E::custom)
        }

        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<f64, E> {
            Ok(v as f64)
        }

        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<f64, E> {
            Ok(v as f64)
        }

        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<f64, E> {
            v.trim()
                .parse()
                .map_err(|_| E::invalid_value(serde::de::Unexpected::Str(v), &self))
        }
    }

    deserializer.deserialize_any(Fraction)
}

/// An origin as browsers send it: scheme, host and optional port, nothing after (`Origin` never carries a
/// path, so an entry with one, or a trailing slash, could never match).
fn check_origin(origin: &str) -> Result<(), &'static str> {
    let Some(rest) = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
    else {
        return Err("is not an origin: it must start with https:// or http://");
    };
    let host_chars =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']');
    if rest.is_empty() || !rest.chars().all(host_chars) {
        return Err(
            "is not an origin: scheme://host[:port] with nothing after (no path, no slash)",
        );
    }
    Ok(())
}

impl HavenConfig {
    /// Defaults, then `file` if given, then `HAVEN_*` variables from the process environment (see
    /// [`HavenConfig::load_from`]).
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let vars = std::env::vars_os().filter_map(|(name, value)| {
            Some((name.into_string().ok()?, value.into_string().ok()?))
        });
        Self::load_from(file, vars)
    }

    /// Defaults, then `file` if given, then the legacy [`ENV_ALIASES`] among `vars`, then the
    /// key-path variables among `vars`: `HAVEN_<KEY>` for a top-level value, `HAVEN_<SECTION>__<KEY>`
    /// (and `__` again for each level) for the rest. Later layers win, key by key.
    ///
    /// Each layer is checked alone first, so that an unknown key or a bad value is reported with the
    /// file or the variable it came from. A `HAVEN_*` name without `__` that is neither a top-level
    /// key nor an alias is not Haven configuration and is ignored (`HAVEN_LOG`, `HAVEN_MASTER_KEY`).
    pub fn load_from(
        file: Option<&Path>,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let vars: Vec<(String, String)> = vars
            .into_iter()
            .filter(|(name, _)| name.starts_with(ENV_PREFIX))
            .collect();
        let mut figment = figment::Figment::new();
        if let Some(path) = file {
            let layer = Self::file_layer(path)?;
            check_layer(&layer, &|_| None)?;
            figment = figment.merge(layer);
        }
        let aliases = EnvLayer::aliases(&vars);
        check_layer(&aliases, &|key| aliases.var_of(key))?;
        let key_paths = EnvLayer::key_paths(&vars);
        check_layer(&key_paths, &|key| key_paths.var_of(key))?;
        let config: HavenConfig = figment
            .merge(aliases)
            .merge(key_paths)
            .extract_lossy()
            .map_err(ConfigError::from)?;
        config.validate()?;
        Ok(config)
    }

    /// Refuses values that parse but make no sense.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let webhooks = &self.identity.webhooks;
        for (key, value) in [
            ("identity.webhooks.first_retry_ms", webhooks.first_retry_ms),
            ("identity.webhooks.max_retry_secs", webhooks.max_retry_secs),
            ("identity.webhooks.timeout_ms", webhooks.timeout_ms),
            (
                "identity.webhooks.poll_interval_ms",
                webhooks.poll_interval_ms,
            ),
        ] {
            if value == 0 {
                return Err(ConfigError::Invalid {
                    key,
                    message: "must be above zero".into(),
                });
            }
        }
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
        for origin in &self.gateway.cors.allowed_origins {
            check_origin(origin).map_err(|message| ConfigError::Invalid {
                key: "gateway.cors.allowed_origins",
                message: format!("{origin:?} {message}"),
            })?;
        }
        if let Some(url) = &self.gateway.public_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(ConfigError::Invalid {
                key: "gateway.public_url",
                message: format!("{url:?} is not an http(s) URL"),
            });
        }
        Ok(())
    }

    /// Defaults, then `path`, without the environment.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let layer = Self::file_layer(path)?;
        figment::Figment::from(layer)
            .extract_lossy()
            .map_err(ConfigError::from)
    }

    /// The file as a layer. A file that is named but missing is an error (figment alone would skip it).
    fn file_layer(path: &Path) -> Result<figment::providers::Data<TomlFormat>, ConfigError> {
        std::fs::File::open(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(<TomlFormat as figment::providers::Format>::file_exact(path))
    }

    /// The configuration as TOML, as `haven config dump` prints it, with secrets masked: the value of
    /// any key naming a password, secret, token or key (`*_key`, not `*_key_path`), and the user
    /// information and password-like query parameters of every `*_url`.
    pub fn to_masked_toml(&self) -> String {
        let mut value = toml::Value::try_from(self).expect("the configuration serializes to TOML");
        mask_secrets(&mut value, "");
        toml::to_string_pretty(&value).expect("a TOML value prints")
    }
}

/// Checks one layer alone against the config struct (every key there is optional). `var_of` names the
/// variable that set a key path, for the environment layers.
fn check_layer(
    layer: &impl figment::Provider,
    var_of: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    figment::Figment::from(layer)
        .extract_lossy::<HavenConfig>()
        .map(drop)
        .map_err(|e| layered(e, var_of))
}

fn layered(error: figment::Error, var_of: &dyn Fn(&str) -> Option<String>) -> ConfigError {
    ConfigError::Layered {
        message: error
            .into_iter()
            .map(|e| describe(&e, var_of))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// One figment error, with an unknown key spelled out as its whole path and, from the environment, as
/// the variable that set it (figment reports the enclosing table only).
fn describe(error: &figment::Error, var_of: &dyn Fn(&str) -> Option<String>) -> String {
    let figment::error::Kind::UnknownField(field, expected) = &error.kind else {
        return error.to_string();
    };
    let mut path: Vec<&str> = error.path.iter().map(String::as_str).collect();
    if path.last() != Some(&field.as_str()) {
        path.push(field);
    }
    let key = path.join(".");
    let expected = expected.join(", ");
    if let Some(var) = var_of(&key) {
        return format!(
            "unknown variable {var}: `{key}` is not a configuration key (`{field}` is not one of: \
             {expected})"
        );
    }
    let place = match &error.metadata {
        Some(metadata) => match &metadata.source {
            Some(source) => format!(" in {} {source}", metadata.name),
            None => format!(" in {}", metadata.name),
        },
        None => String::new(),
    };
    format!("unknown key `{key}`{place} (`{field}` is not one of: {expected})")
}

impl From<figment::Error> for ConfigError {
    fn from(error: figment::Error) -> Self {
        layered(error, &|_| None)
    }
}

/// Whether a key's text value is a secret in itself.
fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["password", "secret", "token", "credential"]
        .iter()
        .any(|word| key.contains(word))
        || key == "key"
        || key.ends_with("_key")
}

fn mask_secrets(value: &mut toml::Value, key: &str) {
    match value {
        toml::Value::Table(table) => {
            for (k, v) in table.iter_mut() {
                mask_secrets(v, k);
            }
        }
        toml::Value::Array(items) => {
            for item in items {
                mask_secrets(item, key);
            }
        }
        toml::Value::String(text) if is_secret_key(key) => *text = MASK.to_owned(),
        toml::Value::String(text) if key.to_ascii_lowercase().ends_with("url") => {
            *text = mask_url(text)
        }
        _ => {}
    }
}

/// `postgres://user:pw@host/db?password=x` -> `postgres://********@host/db?password=********`.
pub fn mask_url(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(at) => url.split_at(at + 3),
        None => ("", url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => format!("{MASK}{}", &authority[at..]),
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let (query, fragment) = match query.split_once('#') {
                Some((q, f)) => (q, format!("#{f}")),
                None => (query, String::new()),
            };
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((name, _)) if is_secret_key(name) || name.eq_ignore_ascii_case("pass") => {
                        format!("{name}={MASK}")
                    }
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}?{}{fragment}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}{authority}{tail}")
}

impl HavenConfig {
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

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn env(pairs: &[(&str, &str)]) -> Result<HavenConfig, ConfigError> {
        HavenConfig::load_from(None, vars(pairs))
    }

    /// A config file in a fresh temporary directory, removed when the guard drops.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(name: &str, text: &str) -> Self {
            let dir = std::env::temp_dir().join(format!(
                "haven-config-{}-{}",
                std::process::id(),
                uuid::Uuid::now_v7()
            ));
            std::fs::create_dir_all(&dir).expect("temp dir");
            let path = dir.join(name);
            std::fs::write(&path, text).expect("write config");
            TempFile(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            if let Some(dir) = self.0.parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }

    #[test]
    fn no_file_and_no_variables_give_the_defaults() {
        assert_eq!(env(&[]).expect("loads"), HavenConfig::default());
    }

    #[test]
    fn the_environment_overrides_the_file_which_overrides_the_defaults() {
        let file = TempFile::new(
            "haven.toml",
            "[gateway]\nlisten = \"127.0.0.1:7000\"\nrate_limit_burst = 7\n\
             [learning]\nissuer_name = \"From the file\"\n",
        );
        let config = HavenConfig::load_from(Some(&file.0), vec![]).expect("file alone");
        assert_eq!(config.gateway.listen.port(), 7000);
        assert_eq!(config.gateway.rate_limit_burst, 7);
        assert_eq!(config.learning.issuer_name, "From the file");

        let config = HavenConfig::load_from(
            Some(&file.0),
            vars(&[
                ("HAVEN_GATEWAY__LISTEN", "0.0.0.0:7001"),
                (
                    "HAVEN_LEARNING__ISSUER_NAME",
                    "Haven Uganda, Kampala office",
                ),
                ("HAVEN_IDENTITY__DATABASE_URL", "postgres://x/y"),
            ]),
        )
        .expect("file and env");
        assert_eq!(config.gateway.listen.port(), 7001);
        assert_eq!(
            config.gateway.rate_limit_burst, 7,
            "the file's, not set again"
        );
        assert_eq!(config.learning.issuer_name, "Haven Uganda, Kampala office");
        assert_eq!(config.identity_database_url(), "postgres://x/y");
        assert_eq!(
            config.gateway.rate_limit_per_second, 50,
            "neither: the default"
        );
    }

    #[test]
    fn every_level_of_nesting_and_every_kind_of_value_can_be_set() {
        let config = env(&[
            ("HAVEN_DATA_DIR", "/var/lib/haven"),
            ("HAVEN_BUS_NAMESPACE", "2024"),
            (
                "HAVEN_PREVIOUS_MASTER_KEY_PATHS",
                "[/keys/v1.key, /keys/v2.key]",
            ),
            ("HAVEN_AUTH__LEEWAY_SECS", "5"),
            ("HAVEN_AUTH__CLIENT_TOKEN_TTL_SECS", "120"),
            ("HAVEN_GATEWAY__RATE_LIMIT_PER_SECOND", "9"),
            ("HAVEN_GATEWAY__REQUEST_TIMEOUT_MS", "2500"),
            ("HAVEN_IDENTITY__RETENTION__CASE_DAYS", "3650"),
            ("HAVEN_IDENTITY__RETENTION__CHECK_INTERVAL_SECS", "60"),
            ("HAVEN_IDENTITY__WEBHOOKS__MAX_RETRY_SECS", "120"),
            ("HAVEN_IDENTITY__WEBHOOKS__ALLOW_PRIVATE_ADDRESSES", "true"),
            ("HAVEN_FAMILY_TRACING__LIKELY_THRESHOLD", "0.9"),
            ("HAVEN_FAMILY_TRACING__POSSIBLE_THRESHOLD", "0.25"),
            (
                "HAVEN_FAMILY_TRACING__PREVIOUS_MASTER_KEY_PATHS",
                "[/keys/ft-v1.key]",
            ),
            ("HAVEN_LEARNING__PASSPORT_ALGORITHM", "RS256"),
            (
                "HAVEN_AUDIT__TRUSTED_CHECKPOINT_KEYS",
                "[ed25519:abc-_, \"ed25519:d,e\"]",
            ),
        ])
        .expect("loads");
        assert_eq!(config.data_dir, Path::new("/var/lib/haven"));
        assert_eq!(
            config.bus_namespace, "2024",
            "digits stay text for a text key"
        );
        assert_eq!(
            config.previous_master_key_paths,
            vec![PathBuf::from("/keys/v1.key"), PathBuf::from("/keys/v2.key")]
        );
        assert_eq!(config.auth.leeway_secs, 5);
        assert_eq!(config.auth.client_token_ttl_secs, 120);
        assert_eq!(config.gateway.rate_limit_per_second, 9);
        assert_eq!(config.gateway.request_timeout_ms, 2500);
        assert_eq!(config.identity.retention.case_days, Some(3650));
        assert_eq!(config.identity.retention.check_interval_secs, Some(60));
        assert_eq!(config.identity.webhooks.max_retry_secs, 120);
        assert!(config.identity.webhooks.allow_private_addresses);
        assert_eq!(
            config.family_tracing.likely_threshold, 0.9,
            "not 0.8999999761581421, figment's f32"
        );
        assert_eq!(config.family_tracing.possible_threshold, 0.25);
        assert_eq!(
            config.family_tracing.previous_master_key_paths,
            vec![PathBuf::from("/keys/ft-v1.key")]
        );
        assert_eq!(config.learning.passport_algorithm, PassportAlgorithm::Rs256);
        assert_eq!(
            config.audit.trusted_checkpoint_keys,
            vec!["ed25519:abc-_".to_owned(), "ed25519:d,e".to_owned()]
        );
    }

    #[test]
    fn variables_that_are_not_key_paths_are_left_alone() {
        let config = env(&[
            ("HAVEN_LOG", "debug"),
            ("HAVEN_LOG_FORMAT", "json"),
            ("HAVEN_MASTER_KEY", "v1:c2VjcmV0"),
            ("HAVEN_FAMILY_TRACING_MASTER_KEY", "v1:c2VjcmV0"),
            ("HAVEN_TEST_DATABASE_URL", "postgres://t/t"),
            ("OTHER__THING", "x"),
        ])
        .expect("loads");
        assert_eq!(config, HavenConfig::default());
    }

    /// Every old name and its `__` name give the same configuration.
    #[test]
    fn every_alias_sets_what_its_key_path_sets() {
        let samples: &[(&str, &str)] = &[
            ("auth.jwks_path", "/etc/haven/jwks.json"),
            ("auth.clients_path", "/etc/haven/clients.toml"),
            ("auth.policy_path", "/etc/haven/policy.toml"),
            ("auth.issuer", "https://idp.example"),
            ("auth.audience", "haven-prod"),
            ("auth.max_token_lifetime_secs", "3600"),
            ("auth.revocation_max_staleness_secs", "0"),
            ("gateway.listen", "0.0.0.0:8443"),
            ("gateway.identity_url", "http://identity:50061"),
            ("gateway.family_tracing_url", "http://ft:50062"),
            ("gateway.learning_url", "http://learning:50063"),
            ("gateway.rate_limit_per_second", "11"),
            ("gateway.rate_limit_burst", "22"),
            ("gateway.trusted_proxy_header", "x-forwarded-for"),
            ("identity.listen", "0.0.0.0:1"),
            ("identity.database_url", "postgres://a/identity"),
            ("family_tracing.listen", "0.0.0.0:2"),
            ("family_tracing.database_url", "postgres://a/ft"),
            ("family_tracing.master_key_path", "/k/ft.key"),
            ("learning.listen", "0.0.0.0:3"),
            ("learning.database_url", "postgres://a/learning"),
            ("learning.public_url", "https://haven.example"),
            ("learning.trusted_issuers_path", "/etc/haven/issuers.json"),
            ("learning.passport_algorithm", "RS256"),
            ("learning.passport_key_path", "/k/passport.pem"),
            ("audit.checkpoint_key_path", "/k/audit.pem"),
            ("audit.trusted_checkpoint_keys", "[ed25519:a,ed25519:b]"),
            ("audit.checkpoint_dir", "/var/log/haven"),
            ("audit.checkpoint_interval_secs", "10"),
        ];
        for (alias, keys) in ENV_ALIASES {
            let key = keys[0];
            let (_, value) = samples
                .iter()
                .find(|(k, _)| *k == key)
                .unwrap_or_else(|| panic!("no sample value for {key} ({alias})"));
            let new_name = format!("HAVEN_{}", key.replace('.', "__").to_ascii_uppercase());
            let by_alias = env(&[(alias, value)]).unwrap_or_else(|e| panic!("{alias}: {e}"));
            let mut by_name = vars(&[(&new_name, value)]);
            // The one alias that sets two keys: set both by their `__` names.
            for extra in &keys[1..] {
                by_name.push((
                    format!("HAVEN_{}", extra.replace('.', "__").to_ascii_uppercase()),
                    (*value).to_owned(),
                ));
            }
            let by_name =
                HavenConfig::load_from(None, by_name).unwrap_or_else(|e| panic!("{new_name}: {e}"));
            assert_eq!(by_alias, by_name, "{alias} and {new_name}");
            assert_ne!(by_alias, HavenConfig::default(), "{alias} changed nothing");
        }
    }

    #[test]
    fn the_key_path_name_wins_over_its_alias() {
        let both = [
            ("HAVEN_GATEWAY__LISTEN", "127.0.0.1:7002"),
            ("HAVEN_GATEWAY_LISTEN", "127.0.0.1:7001"),
        ];
        assert_eq!(env(&both).expect("loads").gateway.listen.port(), 7002);
        let mut reversed = both;
        reversed.reverse();
        assert_eq!(
            env(&reversed).expect("loads").gateway.listen.port(),
            7002,
            "whatever the order of the environment"
        );
    }

    #[test]
    fn the_identity_url_alias_sets_both_callers_of_identity() {
        let config = env(&[
            ("HAVEN_IDENTITY_URL", "http://identity:50061"),
            ("HAVEN_FAMILY_TRACING__IDENTITY_URL", "http://other:50061"),
        ])
        .expect("loads");
        assert_eq!(config.gateway.identity_url, "http://identity:50061");
        assert_eq!(config.family_tracing.identity_url, "http://other:50061");
    }

    #[test]
    fn legacy_lists_are_comma_separated() {
        let config = env(&[(
            "HAVEN_AUDIT_TRUSTED_CHECKPOINT_KEYS",
            "ed25519:b, ed25519:c,",
        )])
        .expect("loads");
        assert_eq!(
            config.audit.trusted_checkpoint_keys,
            vec!["ed25519:b".to_owned(), "ed25519:c".to_owned()]
        );
    }

    #[test]
    fn an_empty_value_unsets_an_optional_setting() {
        let file = TempFile::new(
            "haven.toml",
            "redis_url = \"redis://r:6379\"\n[gateway]\ntrusted_proxy_header = \"x-real-ip\"\n\
             [learning]\npassport_key_path = \"/k/p.pem\"\n",
        );
        let config = HavenConfig::load_from(
            Some(&file.0),
            vars(&[
                ("HAVEN_REDIS_URL", ""),
                ("HAVEN_TRUSTED_PROXY_HEADER", ""),
                ("HAVEN_LEARNING__PASSPORT_KEY_PATH", ""),
                ("HAVEN_BUS_NAMESPACE", ""),
            ]),
        )
        .expect("loads");
        assert_eq!(config.redis_url, None);
        assert_eq!(config.gateway.trusted_proxy_header, None);
        assert_eq!(config.learning.passport_key_path, None);
        assert_eq!(config.bus_namespace, "");
    }

    #[test]
    fn a_bad_value_names_the_variable_it_came_from() {
        for name in ["HAVEN_GATEWAY_LISTEN", "HAVEN_GATEWAY__LISTEN"] {
            let err = env(&[(name, "nope")]).expect_err("rejected");
            assert!(err.to_string().contains(name), "{name}: {err}");
        }
        let err = env(&[("HAVEN_FAMILY_TRACING__LIKELY_THRESHOLD", "high")]).expect_err("rejected");
        assert!(
            err.to_string()
                .contains("HAVEN_FAMILY_TRACING__LIKELY_THRESHOLD"),
            "{err}"
        );
        let err = env(&[("HAVEN_AUTH__LEEWAY_SECS", "ten")]).expect_err("rejected");
        assert!(err.to_string().contains("HAVEN_AUTH__LEEWAY_SECS"), "{err}");
        let err = env(&[("HAVEN_PASSPORT_ALGORITHM", "rs256")])
            .expect_err("names are case-sensitive, as in JOSE");
        assert!(
            err.to_string().contains("HAVEN_PASSPORT_ALGORITHM"),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_variable_under_a_section_is_refused_by_name() {
        for name in [
            "HAVEN_GATEWAY__RATE_LIMIT_PER_SECONDS",
            "HAVEN_IDENTITY__RETENTION__CASE_YEARS",
            "HAVEN_GATWAY__LISTEN",
        ] {
            let err = env(&[(name, "1")]).expect_err("refused");
            assert!(err.to_string().contains(name), "{name}: {err}");
        }
        let err = env(&[("HAVEN_DATA_DIR__X", "1")]).expect_err("refused");
        assert!(err.to_string().contains("HAVEN_DATA_DIR__X"), "{err}");
        // A key set both as a value and as a section is refused whatever the order of the environment.
        for pair in [
            [("HAVEN_DATA_DIR", "/d"), ("HAVEN_DATA_DIR__X", "1")],
            [("HAVEN_DATA_DIR__X", "1"), ("HAVEN_DATA_DIR", "/d")],
        ] {
            let err = env(&pair).expect_err("refused");
            assert!(err.to_string().contains("HAVEN_DATA_DIR"), "{err}");
        }
    }

    #[test]
    fn an_unknown_or_bad_key_in_the_file_is_refused_naming_file_and_key() {
        let file = TempFile::new("haven.toml", "[gateway]\ncolour = \"blue\"\n");
        let err = HavenConfig::load_from(Some(&file.0), vec![]).expect_err("refused");
        let text = err.to_string();
        assert!(text.contains("colour"), "{text}");
        assert!(text.contains("haven.toml"), "{text}");
        assert!(
            HavenConfig::from_file(&file.0).is_err(),
            "from_file is as strict"
        );

        let file = TempFile::new("bad.toml", "[learning]\npassport_algorithm = \"HS256\"\n");
        let err = HavenConfig::load_from(Some(&file.0), vec![]).expect_err("refused");
        assert!(err.to_string().contains("HS256"), "{err}");

        let file = TempFile::new("broken.toml", "[gateway\n");
        let err = HavenConfig::load_from(Some(&file.0), vec![]).expect_err("refused");
        assert!(err.to_string().contains("broken.toml"), "{err}");

        let missing = Path::new("/nonexistent/haven.toml");
        let err = HavenConfig::load_from(Some(missing), vec![]).expect_err("refused");
        assert!(matches!(err, ConfigError::Read { .. }), "{err}");
    }

    #[test]
    fn cors_origins_and_the_public_url_are_set_by_file_and_env_and_checked() {
        let file = TempFile::new(
            "haven.toml",
            "[gateway]\npublic_url = \"https://haven.example.org\"\n[gateway.cors]\nallowed_origins = [\"https://a.example\"]\n",
        );
        let config = HavenConfig::load_from(Some(&file.0), vec![]).expect("loads");
        assert_eq!(
            config.gateway.public_url.as_deref(),
            Some("https://haven.example.org")
        );
        assert_eq!(
            config.gateway.cors.allowed_origins,
            vec!["https://a.example"]
        );
        let config = env(&[
            (
                "HAVEN_GATEWAY__CORS__ALLOWED_ORIGINS",
                "[https://a.example, http://127.0.0.1:8080]",
            ),
            ("HAVEN_GATEWAY__CORS__MAX_AGE_SECS", "60"),
        ])
        .expect("applies");
        assert_eq!(
            config.gateway.cors.allowed_origins,
            vec!["https://a.example", "http://127.0.0.1:8080"]
        );
        assert_eq!(config.gateway.cors.max_age_secs, 60);
        assert!(
            HavenConfig::default()
                .gateway
                .cors
                .allowed_origins
                .is_empty()
        );
        for bad in [
            "https://a.example/",
            "https://a.example/app",
            "a.example",
            "*",
        ] {
            let err = env(&[(
                "HAVEN_GATEWAY__CORS__ALLOWED_ORIGINS",
                &format!("[{bad:?}]"),
            )])
            .expect_err(bad);
            assert!(
                err.to_string().contains("gateway.cors.allowed_origins"),
                "{bad}: {err}"
            );
        }
        let err =
            env(&[("HAVEN_GATEWAY__PUBLIC_URL", "haven.example.org")]).expect_err("no scheme");
        assert!(err.to_string().contains("gateway.public_url"));
    }

    #[test]
    fn audit_checkpoints_are_configured_by_file_and_env_within_bounds() {
        let file = TempFile::new(
            "haven.toml",
            "[audit]\ncheckpoint_interval_secs = 2\ntrusted_checkpoint_keys = [\"ed25519:a\"]\n",
        );
        let config = HavenConfig::load_from(Some(&file.0), vec![]).expect("loads");
        assert_eq!(config.audit.checkpoint_interval_secs, 2);
        assert_eq!(config.audit.trusted_checkpoint_keys, vec!["ed25519:a"]);
        let mut config = HavenConfig::load_from(
            Some(&file.0),
            vars(&[
                ("HAVEN_AUDIT_CHECKPOINT_KEY_PATH", "/etc/haven/audit.pem"),
                (
                    "HAVEN_AUDIT_TRUSTED_CHECKPOINT_KEYS",
                    "ed25519:b, ed25519:c",
                ),
                ("HAVEN_AUDIT_CHECKPOINT_DIR", "/var/log/haven"),
                ("HAVEN_AUDIT_CHECKPOINT_INTERVAL_SECS", "10"),
            ]),
        )
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

        let err = env(&[("HAVEN_AUDIT__CHECKPOINT_INTERVAL_SECS", "0")]).expect_err("0 s");
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
    fn the_dump_masks_secrets_and_reads_back() {
        let defaults = HavenConfig::default();
        let dumped = defaults.to_masked_toml();
        let file = TempFile::new("dump.toml", &dumped);
        assert_eq!(
            HavenConfig::from_file(&file.0).expect("the dump is a config file"),
            defaults
        );

        let config = env(&[
            ("HAVEN_REDIS_URL", "redis://:hunter2@redis:6379/0"),
            (
                "HAVEN_IDENTITY__DATABASE_URL",
                "postgres://haven:s3cret@db:5432/identity?sslmode=require&password=p4ss",
            ),
            ("HAVEN_LEARNING__DATABASE_URL", "postgres://db/learning"),
            ("HAVEN_LEARNING__ISSUER_NAME", "Haven Uganda"),
        ])
        .expect("loads");
        let dumped = config.to_masked_toml();
        for secret in ["hunter2", "s3cret", "p4ss", "haven:"] {
            assert!(!dumped.contains(secret), "{secret} leaked:\n{dumped}");
        }
        assert!(dumped.contains("redis://********@redis:6379/0"), "{dumped}");
        assert!(
            dumped
                .contains("postgres://********@db:5432/identity?sslmode=require&password=********"),
            "{dumped}"
        );
        assert!(dumped.contains("postgres://db/learning"), "{dumped}");
        assert!(
            dumped.contains("issuer_name = \"Haven Uganda\""),
            "{dumped}"
        );
        assert!(dumped.contains("[identity.retention]"), "{dumped}");
    }

    #[test]
    fn secret_looking_keys_are_masked() {
        for key in [
            "password",
            "client_secret",
            "master_key",
            "key",
            "api_token",
        ] {
            assert!(is_secret_key(key), "{key}");
        }
        for key in ["master_key_path", "trusted_checkpoint_keys", "issuer_name"] {
            assert!(!is_secret_key(key), "{key}");
        }
        assert_eq!(
            mask_url("sqlite://.haven/identity.db?mode=rwc"),
            "sqlite://.haven/identity.db?mode=rwc"
        );
        assert_eq!(mask_url("redis://user@h"), "redis://********@h");
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

    /// Every key path, optional ones included (every option set).
    fn every_key() -> Vec<String> {
        let mut config = HavenConfig::default();
        let path = || Some(PathBuf::from("/x"));
        let text = || Some("x".to_owned());
        config.redis_url = text();
        config.master_key_path = path();
        config.auth.jwks_path = path();
        config.auth.policy_path = path();
        config.auth.clients_path = path();
        config.gateway.trusted_proxy_header = text();
        config.gateway.public_url = text();
        config.identity.database_url = text();
        config.identity.retention = RetentionConfig {
            case_days: Some(1),
            learner_days: Some(1),
            check_interval_secs: Some(1),
        };
        config.family_tracing.database_url = text();
        config.family_tracing.master_key_path = path();
        config.learning.database_url = text();
        config.learning.public_url = text();
        config.learning.trusted_issuers_path = path();
        config.learning.passport_key_path = path();
        config.audit.checkpoint_key_path = path();
        config.audit.checkpoint_dir = path();
        fn walk(table: &toml::Table, prefix: &str, out: &mut Vec<String>) {
            for (key, value) in table {
                let path = format!("{prefix}{key}");
                match value {
                    toml::Value::Table(inner) => walk(inner, &format!("{path}."), out),
                    _ => out.push(path),
                }
            }
        }
        let mut keys = Vec::new();
        walk(
            &toml::Table::try_from(&config).expect("serializes"),
            "",
            &mut keys,
        );
        keys
    }

    /// The chart check (deploy/check_chart.py) takes the variables Haven reads from this file, and
    /// operators take the options from it: each key is there, set or commented out, in its table.
    #[test]
    fn the_documented_example_names_every_key() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/haven.example.toml");
        let text = std::fs::read_to_string(path).expect("example reads");
        let mut documented = std::collections::BTreeSet::new();
        let mut table = String::new();
        for line in text.lines() {
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                table = format!("{name}.");
                continue;
            }
            let line = line.strip_prefix('#').unwrap_or(line).trim_start();
            if let Some((key, _)) = line.split_once('=') {
                let key = key.trim();
                if !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                    documented.insert(format!("{table}{key}"));
                }
            }
        }
        let keys = every_key();
        assert!(keys.len() > 40, "{keys:?}");
        for key in keys {
            assert!(
                documented.contains(&key),
                "{key} is not in deploy/haven.example.toml"
            );
        }
    }
}
