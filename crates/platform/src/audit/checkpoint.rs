//! Signed checkpoints of an audit chain: what anchors the chain outside its database.
//!
//! The hash chain alone only stops someone who cannot recompute it: an insider who can write to the
//! database can edit rows, recompute every later hash and the head, and the chain checks out. A
//! checkpoint is the chain's head at one moment (`seq`, `hash`), signed with an Ed25519 key that is not
//! in the database and published where the database's users cannot rewrite it. Since every entry's hash
//! commits to all entries before it, one checkpoint pins the whole chain up to its `seq`: a recomputed
//! chain has another hash there, and a truncated one does not reach it.
//!
//! This module holds the format, the keys and the signature; [`super::checkpointer`] signs and
//! publishes, and [`super::verify_anchored`] checks a chain against what was published.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// Names what a checkpoint signature covers, so no other Haven signature can pass for one.
const SIGNING_CONTEXT: &str = "haven-audit-checkpoint/1";

/// The one format version written and read.
const VERSION: u32 = 1;

/// A service's audit chain head at one moment, signed. `seq` is also the number of entries the chain
/// held: entries are numbered from 1 without gaps, and `seq` 0 with the genesis hash is the empty chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub v: u32,
    /// `identity`, `family-tracing` or `learning`.
    pub service: String,
    pub seq: i64,
    /// The hash of entry `seq` (hex SHA-256), or the genesis hash when `seq` is 0.
    pub hash: String,
    /// When it was signed, microseconds since the epoch.
    pub at_us: i64,
    /// Which key signed it: [`CheckpointPublicKey::kid`].
    pub kid: String,
    /// Ed25519 over the fields above, base64url without padding.
    pub sig: String,
}

impl Checkpoint {
    /// One JSON line, as published.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// What the signature covers: every field but the signature, length-prefixed so that no two
    /// different checkpoints serialise alike.
    fn signed_bytes(service: &str, seq: i64, hash: &str, at_us: i64, kid: &str) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(160);
        for part in [
            SIGNING_CONTEXT,
            service,
            &seq.to_string(),
            hash,
            &at_us.to_string(),
            kid,
        ] {
            bytes.extend_from_slice(&(part.len() as u64).to_be_bytes());
            bytes.extend_from_slice(part.as_bytes());
        }
        bytes
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointKeyError {
    #[error("cannot {action} audit checkpoint key {path}: {source}")]
    File {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("audit checkpoint key {path} is not a PKCS#8 PEM Ed25519 private key")]
    NotEd25519 { path: PathBuf },
    #[error("audit checkpoint public key {0:?} is not \"ed25519:\" and 32 bytes in base64url")]
    BadPublicKey(String),
}

/// The private key that signs checkpoints. Kept in a file outside the database (a mounted Secret in
/// production); never logged.
pub struct CheckpointKey {
    signing: SigningKey,
    public: CheckpointPublicKey,
}

impl std::fmt::Debug for CheckpointKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointKey")
            .field("kid", &self.public.kid)
            .finish_non_exhaustive()
    }
}

impl CheckpointKey {
    pub fn generate() -> Self {
        Self::from_signing_key(SigningKey::generate(&mut rand::rngs::OsRng))
    }

    fn from_signing_key(signing: SigningKey) -> Self {
        let public = CheckpointPublicKey::new(signing.verifying_key());
        CheckpointKey { signing, public }
    }

    /// Reads a PKCS#8 PEM Ed25519 key, as `openssl genpkey -algorithm ed25519` writes one. Warns (but
    /// still loads) on Unix when the file is readable by group or others.
    pub fn from_file(path: &Path) -> Result<Self, CheckpointKeyError> {
        Self::from_pem_bytes(path, &haven_keyfile::read(path)?)
    }

    fn from_pem_bytes(path: &Path, bytes: &[u8]) -> Result<Self, CheckpointKeyError> {
        let not_ed25519 = || CheckpointKeyError::NotEd25519 {
            path: path.to_owned(),
        };
        let text = std::str::from_utf8(bytes).map_err(|_| not_ed25519())?;
        SigningKey::from_pkcs8_pem(text.trim())
            .map(Self::from_signing_key)
            .map_err(|_| not_ed25519())
    }

    /// The embedded default: the key at `path`, or a new one stored there readable by the owner only
    /// (mode 0600 on Unix). Creation never overwrites and is atomic (see `haven_keyfile`), so services
    /// starting together on one data dir agree on one key.
    pub fn load_or_create(path: &Path) -> Result<Self, CheckpointKeyError> {
        let pem = haven_keyfile::load_or_create(path, || {
            let pem = Self::generate()
                .signing
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| CheckpointKeyError::File {
                    action: "create",
                    path: path.to_owned(),
                    source: io::Error::other(e.to_string()),
                })?;
            Ok::<_, CheckpointKeyError>(zeroize::Zeroizing::new(pem.as_bytes().to_vec()))
        })?;
        Self::from_pem_bytes(path, &pem)
    }

    pub fn public_key(&self) -> &CheckpointPublicKey {
        &self.public
    }

    /// Signs `service`'s chain head (`seq`, `hash`) as of `at_us`.
    pub fn sign(&self, service: &str, seq: i64, hash: &str, at_us: i64) -> Checkpoint {
        let bytes = Checkpoint::signed_bytes(service, seq, hash, at_us, &self.public.kid);
        let signature = self.signing.sign(&bytes);
        Checkpoint {
            v: VERSION,
            service: service.to_owned(),
            seq,
            hash: hash.to_owned(),
            at_us,
            kid: self.public.kid.clone(),
            sig: URL_SAFE_NO_PAD.encode(signature.to_bytes()),
        }
    }
}

impl From<haven_keyfile::KeyFileError> for CheckpointKeyError {
    fn from(error: haven_keyfile::KeyFileError) -> Self {
        CheckpointKeyError::File {
            action: error.action,
            path: error.path,
            source: error.source,
        }
    }
}

/// A checkpoint key's public half, written `ed25519:<base64url of 32 bytes>`.
#[derive(Clone, PartialEq, Eq)]
pub struct CheckpointPublicKey {
    key: VerifyingKey,
    kid: String,
}

impl std::fmt::Debug for CheckpointPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CheckpointPublicKey({self})")
    }
}

impl std::fmt::Display for CheckpointPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ed25519:{}", URL_SAFE_NO_PAD.encode(self.key.as_bytes()))
    }
}

impl std::str::FromStr for CheckpointPublicKey {
    type Err = CheckpointKeyError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || CheckpointKeyError::BadPublicKey(text.to_owned());
        let encoded = text.trim().strip_prefix("ed25519:").ok_or_else(bad)?;
        let bytes: [u8; 32] = URL_SAFE_NO_PAD
            .decode(encoded)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(bad)?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| bad())?;
        Ok(CheckpointPublicKey::new(key))
    }
}

impl CheckpointPublicKey {
    fn new(key: VerifyingKey) -> Self {
        // The RFC 7638 thumbprint of the key as a JWK, as the token keys' `kid`s are made.
        let canonical = format!(
            r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
            URL_SAFE_NO_PAD.encode(key.as_bytes())
        );
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
        CheckpointPublicKey { key, kid }
    }

    /// The key's id, named in every checkpoint it signs.
    pub fn kid(&self) -> &str {
        &self.kid
    }
}

/// Why a checkpoint's signature is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureProblem {
    /// Signed by a key that is not trusted (or claims to be).
    UnknownKey,
    /// The named key did not sign these fields.
    Invalid,
}

/// The public keys whose checkpoints are accepted, by kid.
#[derive(Debug, Clone, Default)]
pub struct TrustedCheckpointKeys {
    by_kid: HashMap<String, CheckpointPublicKey>,
}

impl TrustedCheckpointKeys {
    pub fn new(keys: impl IntoIterator<Item = CheckpointPublicKey>) -> Self {
        TrustedCheckpointKeys {
            by_kid: keys.into_iter().map(|key| (key.kid.clone(), key)).collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.by_kid.is_empty()
    }

    /// Checks `checkpoint`'s signature: strict Ed25519 (no malleable or weak-key signatures).
    pub fn check(&self, checkpoint: &Checkpoint) -> Result<(), SignatureProblem> {
        let key = self
            .by_kid
            .get(&checkpoint.kid)
            .ok_or(SignatureProblem::UnknownKey)?;
        let signature: [u8; 64] = URL_SAFE_NO_PAD
            .decode(&checkpoint.sig)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(SignatureProblem::Invalid)?;
        let bytes = Checkpoint::signed_bytes(
            &checkpoint.service,
            checkpoint.seq,
            &checkpoint.hash,
            checkpoint.at_us,
            &checkpoint.kid,
        );
        key.key
            .verify_strict(&bytes, &Signature::from_bytes(&signature))
            .map_err(|_| SignatureProblem::Invalid)
    }
}

/// A line that should hold a checkpoint and does not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableLine {
    /// Where it was read: a file path, or `redis:<stream>`.
    pub source: String,
    /// 1-based line (or stream entry) number.
    pub line: usize,
}

/// How strictly a source's lines are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A file or stream that only checkpoints are written to: every line must be one (of this service).
    Published,
    /// An export of log lines: lines that carry no checkpoint are skipped. Checkpoints are found as a
    /// JSON line of their own, or in the `checkpoint` field of a JSON log line.
    LogExport,
}

/// What reading one source found, for one service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadCheckpoints {
    pub checkpoints: Vec<Checkpoint>,
    pub unreadable: Vec<UnreadableLine>,
}

impl ReadCheckpoints {
    pub fn extend(&mut self, other: ReadCheckpoints) {
        self.checkpoints.extend(other.checkpoints);
        self.unreadable.extend(other.unreadable);
    }
}

/// Reads `service`'s checkpoints from lines of text. In a [`Source::Published`] source a line that is
/// not a checkpoint of `service` is reported: someone wrote there who should not have.
pub fn read_lines(text: &str, service: &str, source: &str, kind: Source) -> ReadCheckpoints {
    let mut read = ReadCheckpoints::default();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        read_one(line.as_bytes(), index + 1, service, source, kind, &mut read);
    }
    read
}

/// Reads one line or stream payload into `read`.
pub(crate) fn read_one(
    bytes: &[u8],
    line: usize,
    service: &str,
    source: &str,
    kind: Source,
    read: &mut ReadCheckpoints,
) {
    match (parse_checkpoint(bytes), kind) {
        (Some(checkpoint), _) if checkpoint.service == service => read.checkpoints.push(checkpoint),
        (Some(_), Source::LogExport) | (None, Source::LogExport) => {}
        (Some(_), Source::Published) | (None, Source::Published) => {
            read.unreadable.push(UnreadableLine {
                source: source.to_owned(),
                line,
            })
        }
    }
}

/// A checkpoint on its own, or in the `checkpoint` field of a JSON log line (top level or under
/// `fields`, as [`crate::telemetry`] writes it).
fn parse_checkpoint(bytes: &[u8]) -> Option<Checkpoint> {
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let nested = value
        .get("fields")
        .and_then(|fields| fields.get("checkpoint"))
        .or_else(|| value.get("checkpoint"));
    let checkpoint: Checkpoint = match nested {
        Some(serde_json::Value::String(text)) => serde_json::from_str(text).ok()?,
        Some(_) => return None,
        None => serde_json::from_value(value).ok()?,
    };
    (checkpoint.v == VERSION).then_some(checkpoint)
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    const HASH: &str = "5feceb66ffc86f38d952786c6d696c79c2dbc239dd4e91b46729d73a27fb57e9";

    #[test]
    fn a_checkpoint_verifies_under_its_key_and_no_field_can_change() {
        let key = CheckpointKey::generate();
        let trusted = TrustedCheckpointKeys::new([key.public_key().clone()]);
        let checkpoint = key.sign("identity", 42, HASH, 1_700_000_000_000_000);
        assert_eq!(trusted.check(&checkpoint), Ok(()));

        type Edit = fn(&mut Checkpoint);
        let edits: [(&str, Edit); 5] = [
            ("service", |c| c.service = "learning".into()),
            ("seq", |c| c.seq += 1),
            ("hash", |c| c.hash = HASH.replace('5', "6")),
            ("at_us", |c| c.at_us -= 1),
            ("sig", |c| {
                let mut bytes = URL_SAFE_NO_PAD.decode(&c.sig).expect("base64url");
                bytes[0] ^= 1;
                c.sig = URL_SAFE_NO_PAD.encode(bytes);
            }),
        ];
        for (field, edit) in edits {
            let mut forged = checkpoint.clone();
            edit(&mut forged);
            assert_eq!(
                trusted.check(&forged),
                Err(SignatureProblem::Invalid),
                "an edited {field} is refused"
            );
        }
    }

    #[test]
    fn a_checkpoint_signed_by_another_key_is_refused_even_when_it_names_a_trusted_kid() {
        let ours = CheckpointKey::generate();
        let theirs = CheckpointKey::generate();
        let trusted = TrustedCheckpointKeys::new([ours.public_key().clone()]);
        let foreign = theirs.sign("identity", 1, HASH, 1);
        assert_eq!(trusted.check(&foreign), Err(SignatureProblem::UnknownKey));
        let mut impostor = foreign.clone();
        impostor.kid = ours.public_key().kid().to_owned();
        assert_eq!(trusted.check(&impostor), Err(SignatureProblem::Invalid));
    }

    #[test]
    fn a_public_key_round_trips_through_its_text_form() {
        let key = CheckpointKey::generate();
        let text = key.public_key().to_string();
        assert!(text.starts_with("ed25519:"));
        let parsed: CheckpointPublicKey = text.parse().expect("parses");
        assert_eq!(&parsed, key.public_key());
        for bad in [
            "",
            "ed25519:",
            "rsa:AAAA",
            "ed25519:not-base64!",
            "ed25519:AAAA",
        ] {
            assert!(bad.parse::<CheckpointPublicKey>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn load_or_create_makes_a_private_pem_file_and_reloads_the_same_key() {
        let dir = std::env::temp_dir().join(format!("haven-ckpt-{}", uuid::Uuid::now_v7()));
        let path = dir.join("keys").join("audit-checkpoint.pem");
        let made = CheckpointKey::load_or_create(&path).expect("created");
        let again = CheckpointKey::load_or_create(&path).expect("loaded");
        assert_eq!(made.public_key(), again.public_key());
        let text = fs::read_to_string(&path).expect("key file");
        assert!(text.starts_with("-----BEGIN PRIVATE KEY-----"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&path).expect("metadata").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let leftovers = fs::read_dir(path.parent().expect("dir"))
            .expect("list")
            .count();
        assert_eq!(leftovers, 1, "no staging file is left behind");

        fs::write(&path, "not a key").expect("overwrite");
        let err = CheckpointKey::from_file(&path).expect_err("refused");
        assert!(err.to_string().contains("audit-checkpoint.pem"));
        fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn lines_are_read_strictly_where_published_and_leniently_from_a_log_export() {
        let key = CheckpointKey::generate();
        let ours = key.sign("identity", 3, HASH, 10);
        let other = key.sign("learning", 5, HASH, 11);
        let log_line = serde_json::json!({
            "timestamp": "2026-12-03T10:00:00Z",
            "level": "INFO",
            "message": "audit checkpoint",
            "fields": {"service": "identity", "checkpoint": ours.to_json()},
        })
        .to_string();
        let text = format!(
            "{}\n\n{}\nnot json\n{log_line}\n{{\"v\":2}}\n",
            ours.to_json(),
            other.to_json()
        );

        let published = read_lines(&text, "identity", "f", Source::Published);
        assert_eq!(published.checkpoints, vec![ours.clone(), ours.clone()]);
        let lines: Vec<usize> = published.unreadable.iter().map(|u| u.line).collect();
        assert_eq!(
            lines,
            vec![3, 4, 6],
            "another service's, garbage, an unknown version"
        );

        let export = read_lines(&text, "identity", "f", Source::LogExport);
        assert_eq!(export.checkpoints, vec![ours.clone(), ours]);
        assert!(export.unreadable.is_empty());
    }
}
