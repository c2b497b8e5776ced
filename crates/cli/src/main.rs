//! `haven`: runs the suite, one service, migrations, or issues development tokens. Wiring only; the
//! work lives in the library crates.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand, ValueEnum};
use haven_authz::{Authenticator, Claims, DevSigningKey, Policy, TokenVerifier};
use haven_cli::audit::VerifyOptions;
use haven_cli::suite::{self, Suite};
use haven_platform::HavenConfig;
use haven_platform::audit::CheckpointPublicKey;
use haven_platform::authz_files::{
    ClientRegistryFiles as _, DevSigningKeyFiles as _, PolicyFiles as _,
};
use haven_platform::server::{bind, shutdown_signal};
use haven_platform::start::Context;
use tokio_util::sync::CancellationToken;

// glibc malloc showed up as about a tenth of the gateway's CPU per request under load (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Haven: case management for children on the move. Child identity and protection, family tracing and
/// learning records, behind one gRPC gateway with JWT authentication and role-based redaction.
///
/// Configuration comes from defaults, then --config FILE (TOML, see deploy/haven.example.toml, which lists
/// every option), then HAVEN_* environment variables: every key a.b.c is HAVEN_A__B__C, for example
/// HAVEN_DATA_DIR, HAVEN_LEARNING__ISSUER_NAME, HAVEN_GATEWAY__RATE_LIMIT_PER_SECOND,
/// HAVEN_IDENTITY__DATABASE_URL; lists are written [a,b]. The earlier names (HAVEN_GATEWAY_LISTEN,
/// HAVEN_IDENTITY_DATABASE_URL, HAVEN_JWKS_PATH, ...) still work; a __ name set too wins.
/// HAVEN_MASTER_KEY and HAVEN_FAMILY_TRACING_MASTER_KEY hold the master keys themselves and win over
/// master_key_path and family_tracing.master_key_path. HAVEN_LOG sets the log filter (default info).
/// `haven config dump` prints the effective configuration with secrets masked.
#[derive(Debug, Parser)]
#[command(name = "haven", version)]
struct Cli {
    /// TOML configuration file.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole suite in one process on the embedded default: SQLite files in the data dir,
    /// in-memory revocation and rate limits, and a development signing key made on first start.
    Up {
        /// Where SQLite files and the development key live.
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// The gateway's address, the suite's one public port.
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
    },
    /// Run one service alone, as in production (configured by file and HAVEN_* variables).
    Serve {
        #[arg(value_enum)]
        service: ServiceName,
    },
    /// Apply pending database migrations for every service (or one).
    Migrate {
        #[arg(value_enum)]
        service: Option<ServiceName>,
    },
    /// Check every service's audit log: its hash chain, and its signed checkpoints published outside the
    /// database, so that a rewritten, truncated or recomputed log is reported.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Create a master key file (mode 0600) for `master_key_path`; refuses to overwrite one.
    Keygen {
        /// Where to write the key.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The key's version: one above the current key's when rotating.
        #[arg(long, default_value_t = 1)]
        version: u32,
    },
    /// Re-wrap every data key under the current master key, after adding a new key as
    /// `master_key_path` and the old one under `previous_master_key_paths` (identity), or under
    /// `family_tracing.master_key_path` / `family_tracing.previous_master_key_paths` (family tracing).
    /// Data is not rewritten. Without a service: identity and family tracing.
    Rewrap {
        #[arg(value_enum)]
        service: Option<ServiceName>,
    },
    /// Register a machine client (partner or lms) for the token endpoint. Prints its secret once.
    Client {
        #[command(subcommand)]
        command: ClientCommand,
    },
    /// Validate an access policy file and print what each role may do.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Learning passports: verify one offline, print one on paper with its QR codes, or print this
    /// deployment's issuer key for others to trust.
    Passport {
        #[command(subcommand)]
        command: PassportCommand,
    },
    /// Revoke a token by its `jti` in the shared Redis revocation list (needs redis_url), until `exp`.
    Revoke {
        #[arg(long)]
        jti: String,
        /// The token's expiry (seconds since the epoch); the entry lapses then. Default: 24 hours.
        #[arg(long)]
        exp: Option<u64>,
    },
    /// Show the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Print a development token signed with the data dir's key. The token alone is the last line.
    Token {
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// Role(s): caseworker, supervisor, reunification_officer, educator, partner, lms, auditor, admin.
        #[arg(long = "role", required = true, value_name = "ROLE")]
        roles: Vec<String>,
        /// The subject: who the caller is.
        #[arg(long)]
        sub: String,
        /// The caller's agency (or organisation).
        #[arg(long)]
        agency: String,
        #[arg(long)]
        team: Option<String>,
        /// Lifetime, such as 90s, 15m, 8h (at most 24h).
        #[arg(long, default_value = "15m", value_parser = parse_ttl)]
        ttl: Duration,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration (defaults, then --config FILE, then HAVEN_* variables) as
    /// TOML that `--config` reads back, with secrets masked: passwords in database and Redis URLs, and
    /// whether HAVEN_MASTER_KEY / HAVEN_FAMILY_TRACING_MASTER_KEY are set, never their values.
    Dump,
}

#[derive(Debug, Subcommand)]
enum ClientCommand {
    /// Add a client to the clients file (auth.clients_path, or --clients).
    Add {
        #[arg(long)]
        id: String,
        #[arg(long)]
        agency: String,
        /// partner or lms.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// The clients file; default: auth.clients_path.
        #[arg(long, value_name = "FILE")]
        clients: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Parse and validate FILE; exits 1 with the reason if it is refused.
    Check { file: PathBuf },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check the audit logs of identity, family tracing and learning: each chain is recomputed, and
    /// checked against every checkpoint its service signed and published (its file in the checkpoint
    /// dir, and the Redis stream when redis_url is set): each checkpoint must be signed by a trusted
    /// key, match the chain's entry at its sequence number, and lie within the chain. Reports per
    /// service; exits 1 if any log is broken or cannot be checked.
    Verify {
        /// A checkpoint public key to trust (`ed25519:...`, from `haven audit public-key`), besides
        /// the configured signing key and `audit.trusted_checkpoint_keys`. Repeatable.
        #[arg(long = "public-key", value_name = "KEY")]
        public_keys: Vec<String>,
        /// A file of log lines (or checkpoint lines) exported from the log pipeline; the checkpoints
        /// in it are checked too. Repeatable.
        #[arg(long = "checkpoints", value_name = "FILE")]
        exports: Vec<PathBuf>,
    },
    /// Print the public half of the key that signs audit checkpoints, for auditors to trust
    /// (`audit.trusted_checkpoint_keys`, or `haven audit verify --public-key`).
    PublicKey,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ServiceName {
    Gateway,
    Identity,
    FamilyTracing,
    Learning,
}

impl ServiceName {
    /// The name `serve` takes, which also names the process in traces (`haven-<name>`).
    fn name(self) -> &'static str {
        match self {
            ServiceName::Gateway => "gateway",
            ServiceName::Identity => "identity",
            ServiceName::FamilyTracing => "family-tracing",
            ServiceName::Learning => "learning",
        }
    }
}

#[derive(Debug, Subcommand)]
enum PassportCommand {
    /// Verify a passport fully offline against the issuers in a JWKS file: prints the issuer, the
    /// validity and the achievements, or why it is refused (tampered, untrusted, expired). FILE holds
    /// the VC-JWT, or the text of a printed passport's QR codes, one `HVN1:` code per line in any order.
    Verify {
        file: PathBuf,
        #[arg(long, value_name = "ISSUERS.jwks")]
        trust: PathBuf,
    },
    /// Print a passport (FILE as for verify) as a one-page A4 PDF for a child who travels with paper
    /// only: the learner, the achievements, and QR codes carrying the whole signed credential.
    ///
    /// With --trust the passport is verified first and an invalid one is not printed. Without it the
    /// passport is printed as read, and the page looks the same: it never claims validity, since anyone
    /// can print a page; a school verifies the codes with `haven passport verify`.
    Print {
        file: PathBuf,
        /// Where to write the PDF.
        #[arg(long, value_name = "PASSPORT.pdf")]
        out: PathBuf,
        #[arg(long, value_name = "ISSUERS.jwks")]
        trust: Option<PathBuf>,
    },
    /// Print this deployment's passport issuer key as a JWKS, for other deployments to trust.
    IssuerJwks,
}

/// A token lifetime: `90s`, `15m`, `1h`, `1h 30m` (humantime's units), or a bare number of minutes.
fn parse_ttl(text: &str) -> Result<Duration, String> {
    let ttl = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let minutes: u64 = text
            .parse()
            .map_err(|_| format!("{text:?} is not a duration like 15m"))?;
        Duration::from_secs(minutes.saturating_mul(60))
    } else {
        humantime::parse_duration(text)
            .map_err(|e| format!("{text:?} is not a duration like 15m: {e}"))?
    };
    if ttl < Duration::from_secs(1) || ttl > Duration::from_secs(24 * 3600) {
        return Err("ttl must be between 1s and 24h".into());
    }
    Ok(ttl)
}

/// `haven config dump`: where the configuration came from, whether the master keys are given as
/// values (never the values), then the configuration as TOML with secrets masked.
fn config_dump(config: &HavenConfig, file: Option<&std::path::Path>) -> String {
    let mut out = String::from(
        "# Effective Haven configuration: defaults, then the file, then HAVEN_* variables.\n",
    );
    match file {
        Some(path) => out.push_str(&format!("# File: {}\n", path.display())),
        None => out.push_str("# File: none\n"),
    }
    for (var, key) in [
        ("HAVEN_MASTER_KEY", "master_key_path"),
        (
            "HAVEN_FAMILY_TRACING_MASTER_KEY",
            "family_tracing.master_key_path",
        ),
    ] {
        if std::env::var_os(var).is_some() {
            out.push_str(&format!(
                "# {var} is set ({}); it wins over {key}.\n",
                haven_platform::config::MASK
            ));
        }
    }
    out.push('\n');
    out.push_str(&config.to_masked_toml());
    out
}

/// Logs, spans and metrics for a long-running command (see `haven_platform::telemetry`); the guard
/// flushes buffered spans when the command ends.
fn init_telemetry(service_name: &str) -> anyhow::Result<haven_platform::telemetry::Telemetry> {
    Ok(haven_platform::telemetry::init(service_name)?)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut config = HavenConfig::load(cli.config.as_deref()).context("loading configuration")?;
    match cli.command {
        Command::Up { data_dir, listen } => {
            let _telemetry = init_telemetry("haven")?;
            if let Some(dir) = data_dir {
                config.data_dir = dir;
            }
            if let Some(addr) = listen {
                config.gateway.listen = addr;
            }
            let suite = Suite::start(config.clone()).await?;
            println!("haven: gateway listening on {}", suite.gateway_addr);
            println!(
                "haven: identity service on {} (reached through the gateway)",
                suite.identity_addr
            );
            println!("haven: data in {}", config.data_dir.display());
            suite.run_until(shutdown_signal()).await?;
        }
        Command::Serve { service } => {
            let _telemetry = init_telemetry(&format!("haven-{}", service.name()))?;
            serve(service, config).await?;
        }
        Command::Migrate { service } => {
            let _telemetry = init_telemetry("haven-migrate")?;
            match service {
                None => {
                    haven_identity::connect_and_migrate(&config.identity_database_url()).await?;
                    println!("identity: migrations applied");
                    haven_family_tracing::connect_and_migrate(
                        &config.family_tracing_database_url(),
                    )
                    .await?;
                    println!("family-tracing: migrations applied");
                    haven_learning::connect_and_migrate(&config.learning_database_url()).await?;
                    println!("learning: migrations applied");
                }
                Some(ServiceName::Identity) => {
                    haven_identity::connect_and_migrate(&config.identity_database_url()).await?;
                    println!("identity: migrations applied");
                }
                Some(ServiceName::Learning) => {
                    haven_learning::connect_and_migrate(&config.learning_database_url()).await?;
                    println!("learning: migrations applied");
                }
                Some(ServiceName::FamilyTracing) => {
                    haven_family_tracing::connect_and_migrate(
                        &config.family_tracing_database_url(),
                    )
                    .await?;
                    println!("family-tracing: migrations applied");
                }
                Some(ServiceName::Gateway) => println!("gateway: no database"),
            }
        }
        Command::Audit {
            command:
                AuditCommand::Verify {
                    public_keys,
                    exports,
                },
        } => {
            let public_keys = public_keys
                .iter()
                .map(|text| text.parse::<CheckpointPublicKey>())
                .collect::<Result<Vec<_>, _>>()?;
            let options = VerifyOptions {
                public_keys,
                exports,
            };
            let results = haven_cli::audit::verify_all(&config, &options).await?;
            let interval = config.audit.checkpoint_interval();
            for result in &results {
                for line in result.describe(interval) {
                    println!("{line}");
                }
            }
            if !results.iter().all(|r| r.is_intact()) {
                std::process::exit(1);
            }
        }
        Command::Audit {
            command: AuditCommand::PublicKey,
        } => {
            let path = config.audit_checkpoint_key_path();
            if !path.exists() {
                bail!(
                    "no audit checkpoint key at {}: set audit.checkpoint_key_path, or start a service once",
                    path.display()
                );
            }
            let key = haven_platform::audit::CheckpointKey::from_file(&path)?;
            eprintln!("# kid {}", key.public_key().kid());
            println!("{}", key.public_key());
        }
        Command::Policy {
            command: PolicyCommand::Check { file },
        } => match Policy::from_file(&file) {
            Ok(policy) => {
                println!("{}: valid", file.display());
                for role in haven_authz::Role::ALL {
                    let grants = policy.grants(role);
                    if grants.is_empty() {
                        println!("  {role}: nothing");
                    }
                    for grant in grants {
                        println!(
                            "  {role}: {} read {:?} write {:?}",
                            grant.scope.as_str(),
                            grant.read,
                            grant.write
                        );
                    }
                }
            }
            Err(error) => {
                println!("{}: refused: {error}", file.display());
                std::process::exit(1);
            }
        },
        Command::Rewrap { service } => {
            if matches!(service, Some(ServiceName::Gateway | ServiceName::Learning)) {
                bail!("only identity and family-tracing hold data keys");
            }
            if matches!(service, None | Some(ServiceName::Identity)) {
                let keyring = haven_identity::keyring(&config, false)?;
                let db =
                    haven_identity::connect_and_migrate(&config.identity_database_url()).await?;
                let count = haven_identity::rewrap_data_keys(&db, &keyring).await?;
                println!(
                    "identity: {count} data keys re-wrapped under master key version {}",
                    keyring.current_version()
                );
            }
            if matches!(service, None | Some(ServiceName::FamilyTracing)) {
                let keyring = haven_family_tracing::keyring(&config, false)?;
                let db = haven_family_tracing::connect_and_migrate(
                    &config.family_tracing_database_url(),
                )
                .await?;
                let count = haven_family_tracing::rewrap_data_keys(&db, &keyring).await?;
                println!(
                    "family-tracing: {count} data keys re-wrapped under master key version {}",
                    keyring.current_version()
                );
            }
        }
        Command::Client {
            command:
                ClientCommand::Add {
                    id,
                    agency,
                    roles,
                    clients,
                },
        } => {
            let Some(path) = clients.or(config.auth.clients_path.clone()) else {
                bail!("give --clients FILE or set auth.clients_path (HAVEN_CLIENTS_PATH)");
            };
            let secret = haven_authz::ClientRegistry::add_to_file(&path, &id, &agency, roles)?;
            eprintln!(
                "# client {id} added to {}; the secret is shown only now",
                path.display()
            );
            println!("{secret}");
        }
        Command::Keygen { out, version } => {
            if out.exists() {
                bail!(
                    "{} exists; a master key is never overwritten",
                    out.display()
                );
            }
            let key = haven_platform::sealing::MasterKey::load_or_create_version(&out, version)?;
            println!(
                "wrote master key version {} to {}; back it up apart from the database",
                key.version(),
                out.display()
            );
        }
        Command::Passport {
            command: PassportCommand::Verify { file, trust },
        } => {
            let jwt = read_passport(&file)?;
            let trusted = read_trust_list(&trust)?;
            match haven_learning::passport::verify(&jwt, &trusted) {
                Ok(passport) => {
                    println!("valid passport {}", passport.credential_id);
                    println!("issuer: {} ({})", passport.issuer_name, passport.issuer);
                    println!(
                        "valid from {}{}",
                        utc_date_time(passport.valid_from),
                        passport
                            .valid_until
                            .map(|u| format!(" until {}", utc_date_time(u)))
                            .unwrap_or_default()
                    );
                    for achievement in &passport.achievements {
                        if achievement.framework_code.is_empty() {
                            println!("- {}", achievement.title);
                        } else {
                            println!(
                                "- {} ({}/{}/{})",
                                achievement.title,
                                achievement.framework_code,
                                achievement.subject_code,
                                achievement.level_code
                            );
                        }
                    }
                    if let Some(url) = &passport.status_list_url {
                        println!("revocation is published at {url}");
                    }
                }
                Err(error) => bail!("passport refused: {error}"),
            }
        }
        Command::Passport {
            command: PassportCommand::Print { file, out, trust },
        } => {
            let jwt = read_passport(&file)?;
            match &trust {
                Some(trust) => {
                    if let Err(error) =
                        haven_learning::passport::verify(&jwt, &read_trust_list(trust)?)
                    {
                        bail!("passport refused, not printed: {error}");
                    }
                }
                None => eprintln!(
                    "# not verified (no --trust): printed as read; a school verifies the codes"
                ),
            }
            let printed = haven_learning::print::print(&jwt)?;
            std::fs::write(&out, &printed.pdf)
                .with_context(|| format!("writing {}", out.display()))?;
            let codes = printed.codes.len();
            println!(
                "wrote {}: one page, {codes} QR code{}",
                out.display(),
                if codes == 1 { "" } else { "s" }
            );
        }
        Command::Passport {
            command: PassportCommand::IssuerJwks,
        } => {
            // The same issuer the learning service signs with: algorithm and key from the config.
            let issuer = haven_learning::passport_issuer(&config)?;
            println!("{}", issuer.jwks_json());
        }
        Command::Revoke { jti, exp } => {
            let Some(url) = &config.redis_url else {
                bail!(
                    "revocation across processes needs redis_url (HAVEN_REDIS_URL); the embedded default keeps revocations in memory"
                );
            };
            let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
            let list = haven_platform::revocation::RevocationList::redis(
                url,
                suite::revocation_settings(&config),
            )
            .await?;
            list.revoke(&jti, exp.unwrap_or(now + 24 * 3600)).await?;
            println!("revoked {jti}");
        }
        Command::Config {
            command: ConfigCommand::Dump,
        } => {
            print!("{}", config_dump(&config, cli.config.as_deref()));
        }
        Command::Token {
            data_dir,
            roles,
            sub,
            agency,
            team,
            ttl,
        } => {
            if let Some(dir) = data_dir {
                config.data_dir = dir;
            }
            if ttl.as_secs() > config.auth.max_token_lifetime_secs {
                bail!(
                    "ttl {}s is above auth.max_token_lifetime_secs ({}s): the token would be refused",
                    ttl.as_secs(),
                    config.auth.max_token_lifetime_secs
                );
            }
            let key = DevSigningKey::load_or_create(&config.data_dir)?;
            for role in &roles {
                if role.parse::<haven_authz::Role>().is_err() {
                    bail!("unknown role {role:?}");
                }
            }
            let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
            let claims = Claims {
                iss: config.auth.issuer.clone(),
                aud: config.auth.audience.clone(),
                sub,
                exp: now + ttl.as_secs(),
                iat: now,
                nbf: Some(now),
                jti: uuid::Uuid::now_v7().to_string(),
                roles,
                agency,
                team,
                locations: vec![],
            };
            eprintln!(
                "# development token, kid {}, expires in {}s",
                key.kid(),
                ttl.as_secs()
            );
            println!("{}", key.sign(&claims)?);
        }
    }
    Ok(())
}

/// Seconds since the epoch as a UTC date and time a person reads (`2026-11-23 20:06 UTC`).
fn utc_date_time(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| seconds.to_string())
}

/// A passport from a file: a bare JWT, or the text of its printed QR codes.
fn read_passport(file: &std::path::Path) -> anyhow::Result<String> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    haven_learning::print::qr::credential_from_text(&text)
        .with_context(|| format!("{}: not a readable passport", file.display()))
}

fn read_trust_list(file: &std::path::Path) -> anyhow::Result<haven_learning::TrustList> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    Ok(haven_learning::TrustList::from_jwks(&text)?)
}

async fn serve(service: ServiceName, config: HavenConfig) -> anyhow::Result<()> {
    let auth = Authenticator::new(
        TokenVerifier::new(
            suite::trusted_keys(&config)?,
            suite::verifier_settings(&config),
        ),
        suite::revocations(&config).await?,
    );
    let checkpoint_key = match service {
        ServiceName::Gateway => None,
        _ => {
            if config.audit.checkpoint_key_path.is_none() {
                tracing::warn!(
                    path = %config.audit_checkpoint_key_path().display(),
                    "audit checkpoints are signed with the data dir's key: set audit.checkpoint_key_path \
                     (HAVEN_AUDIT_CHECKPOINT_KEY_PATH) so every replica signs with one key kept apart \
                     from the database"
                );
            }
            Some(suite::audit_checkpoint_key(&config)?)
        }
    };
    let stop = CancellationToken::new();
    let ctx = Context {
        policy: Arc::new(suite::load_policy(&config)?),
        bus: suite::event_bus(&config)?,
        config: Arc::new(config),
        auth,
        checkpoint_key,
        embedded: false,
        stop: stop.clone(),
    };
    let listen = match service {
        ServiceName::Identity => ctx.config.identity.listen,
        ServiceName::FamilyTracing => ctx.config.family_tracing.listen,
        ServiceName::Learning => ctx.config.learning.listen,
        ServiceName::Gateway => ctx.config.gateway.listen,
    };
    let (listener, _) = bind(listen).await?;
    let started = match service {
        ServiceName::Identity => haven_identity::start(&ctx, listener).await?,
        ServiceName::FamilyTracing => haven_family_tracing::start(&ctx, listener).await?,
        ServiceName::Learning => haven_learning::start(&ctx, listener).await?,
        ServiceName::Gateway => haven_gateway::start(&ctx, listener).await?,
    };
    println!("haven: {} listening on {}", started.service, started.addr);
    tokio::select! {
        _ = shutdown_signal() => {}
        _ = stop.cancelled() => {}
    }
    stop.cancel();
    started.stopped().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_lifetime_takes_units_or_bare_minutes_within_a_day() {
        assert_eq!(parse_ttl("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_ttl("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_ttl("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_ttl("20"), Ok(Duration::from_secs(1200)));
        assert!(parse_ttl("25h").is_err());
        assert!(parse_ttl("0s").is_err());
        assert!(parse_ttl("").is_err());
        assert!(parse_ttl("soon").is_err());
    }
}
