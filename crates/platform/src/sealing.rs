//! Envelope encryption for protected record fields (whereabouts, protection concerns).
//!
//! Why envelope encryption: each child's record gets its own random 256-bit *data key*. Fields are
//! sealed with that data key (AES-256-GCM), and the data key is stored only *wrapped* (encrypted)
//! under a deployment-wide *master key*. This gives three properties the design needs:
//!
//! - **Crypto-shredding.** Destroying one child's wrapped data key makes every field sealed under it
//!   unreadable, including copies in backups, without hunting down each ciphertext.
//! - **Cheap master-key rotation.** Rotating the master key re-wraps the small data keys
//!   ([`Keyring::rewrap`]); sealed field data is never touched.
//! - **No ciphertext swapping.** Associated data binds each sealed field to its record id, field
//!   name and data-key generation, and each wrapped key to its record id and master-key version. A
//!   ciphertext copied into another row or column (by a bug or by someone with database access)
//!   fails to open instead of silently showing one child's whereabouts on another child's record.
//!
//! Every associated-data part is length-prefixed (u64 big-endian), so ("ab", "c") and ("a", "bc") never collide.
//! Nonces are 96 random bits per encryption: safe for the volumes here (far below the ~2^32
//! encryptions per key where random-nonce collisions start to matter).
//!
//! Key material is zeroized when dropped, is never printed by `Debug`, and error messages never echo
//! key text or ciphertext. Losing the master key loses every protected field: back it up.
//!
//! Byte layouts (all integers big-endian):
//!
//! - sealed field: `[format 0x01][u32 data-key generation][12-byte nonce][ciphertext + 16-byte tag]`
//! - wrapped key:  `[format 0x01][u32 master-key version][12-byte nonce][32-byte key + 16-byte tag]`
//! - master key text: `v<version>:<standard base64 of 32 bytes>`

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
use aes_gcm::{Aes256Gcm, Key};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::RngCore as _;
use zeroize::Zeroizing;

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// The one layout version of sealed fields and wrapped keys this code writes and reads.
const FORMAT_V1: u8 = 1;
/// Format byte + u32 + nonce.
const HEADER_LEN: usize = 1 + 4 + NONCE_LEN;
const WRAPPED_LEN: usize = HEADER_LEN + KEY_LEN + TAG_LEN;
/// Domain label leading every associated data; it changes if the AAD scheme ever changes.
const AAD_LABEL: &[u8] = b"haven/v1";
/// Separates the two uses of AES-GCM here, so a wrapped key can never pass for a sealed field.
const PURPOSE_FIELD: &[u8] = b"field";
const PURPOSE_DATA_KEY: &[u8] = b"data-key";

/// What went wrong while sealing, opening or handling keys. Messages never contain key material,
/// key text, plaintext or ciphertext.
#[derive(Debug, thiserror::Error)]
pub enum SealingError {
    /// Master key text is not `v<version>:<base64 of 32 bytes>`; the reason names the part.
    #[error("master key is not valid: {0}")]
    InvalidMasterKey(&'static str),
    #[error("cannot {action} master key file {path}: {source}")]
    KeyFile {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// Two keys in one keyring claim the same version: some wrapped keys would become unreadable.
    #[error("master key version {0} appears more than once in the keyring")]
    DuplicateMasterKeyVersion(u32),
    /// The wrapped key names a master key version this keyring does not hold.
    #[error("master key version {0} is unknown to this keyring")]
    UnknownMasterKeyVersion(u32),
    /// Record id or field name is empty: binding to "" would let such ciphertexts be swapped freely.
    #[error("{0} must not be empty")]
    EmptyContext(&'static str),
    /// Stored bytes are cut short or have the wrong size; the reason names which.
    #[error("{0}")]
    Malformed(&'static str),
    #[error("unsupported sealing format {0}")]
    UnsupportedFormat(u8),
    /// Authentication failed: wrong key, wrong record/field/generation, or altered bytes. The causes
    /// are deliberately not distinguished.
    #[error("decryption failed: wrong key or context, or the data was altered")]
    Tampered,
    #[error("encryption failed")]
    EncryptionFailed,
    #[error("operating system random number generator failed: {0}")]
    Randomness(#[source] rand::Error),
}

/// Fills `buf` from the operating system's CSPRNG.
fn fill_random(buf: &mut [u8]) -> Result<(), SealingError> {
    rand::rngs::OsRng
        .try_fill_bytes(buf)
        .map_err(SealingError::Randomness)
}

fn cipher(key: &[u8; KEY_LEN]) -> Aes256Gcm {
    Aes256Gcm::new(<&Key<Aes256Gcm>>::from(key))
}

/// Builds associated data from length-prefixed parts (u64 BE length each), so no two different
/// part lists encode to the same bytes.
fn associated_data(parts: &[&[u8]]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(parts.iter().map(|p| 8 + p.len()).sum());
    for part in parts {
        // u64 holds any slice length on supported platforms, so the prefix is always exact.
        let len = u64::try_from(part.len()).unwrap_or(u64::MAX);
        aad.extend_from_slice(&len.to_be_bytes());
        aad.extend_from_slice(part);
    }
    aad
}

fn require_non_empty(value: &str, what: &'static str) -> Result<(), SealingError> {
    if value.is_empty() {
        Err(SealingError::EmptyContext(what))
    } else {
        Ok(())
    }
}

/// Splits `[format][u32][nonce][rest]`, checking the format byte and the minimum length.
fn split_header<'a>(
    bytes: &'a [u8],
    what: &'static str,
) -> Result<(u32, [u8; NONCE_LEN], &'a [u8]), SealingError> {
    let Some((&format, rest)) = bytes.split_first() else {
        return Err(SealingError::Malformed(what));
    };
    if format != FORMAT_V1 {
        return Err(SealingError::UnsupportedFormat(format));
    }
    if bytes.len() < HEADER_LEN + TAG_LEN {
        return Err(SealingError::Malformed(what));
    }
    let (number, rest) = rest.split_at(4);
    let (nonce, body) = rest.split_at(NONCE_LEN);
    let number = u32::from_be_bytes([number[0], number[1], number[2], number[3]]);
    let mut nonce_bytes = [0u8; NONCE_LEN];
    nonce_bytes.copy_from_slice(nonce);
    Ok((number, nonce_bytes, body))
}

/// A deployment master key: 32 random bytes and a version number. It only ever wraps data keys.
///
/// Deliberately not `Clone`, to keep the number of copies of the key in memory small; to hand the
/// same key to two keyrings, re-parse its [`encode`](MasterKey::encode)d form.
pub struct MasterKey {
    version: u32,
    key: Zeroizing<[u8; KEY_LEN]>,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl MasterKey {
    /// A fresh random key. Panics only if the operating system cannot supply randomness, in which
    /// case no key could be made safely anyway.
    pub fn generate(version: u32) -> Self {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        rand::rngs::OsRng.fill_bytes(key.as_mut());
        MasterKey { version, key }
    }

    /// Parses `v<version>:<standard base64 of 32 bytes>` (surrounding whitespace ignored). Errors
    /// say which part is wrong and never echo the text, which may be a real key with a typo.
    pub fn from_encoded(text: &str) -> Result<Self, SealingError> {
        let text = text.trim();
        let rest = text
            .strip_prefix('v')
            .ok_or(SealingError::InvalidMasterKey(
                "expected the form v<version>:<base64 key>",
            ))?;
        let (version, encoded) = rest.split_once(':').ok_or(SealingError::InvalidMasterKey(
            "expected the form v<version>:<base64 key>",
        ))?;
        if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SealingError::InvalidMasterKey(
                "version must be a decimal number",
            ));
        }
        let version: u32 = version.parse().map_err(|_| {
            SealingError::InvalidMasterKey("version must fit in an unsigned 32-bit number")
        })?;
        // The decode error is dropped on purpose: its message can quote bytes of the input.
        let decoded = Zeroizing::new(
            BASE64
                .decode(encoded)
                .map_err(|_| SealingError::InvalidMasterKey("key is not valid standard base64"))?,
        );
        if decoded.len() != KEY_LEN {
            return Err(SealingError::InvalidMasterKey(
                "key must decode to 32 bytes",
            ));
        }
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        key.copy_from_slice(&decoded);
        Ok(MasterKey { version, key })
    }

    /// The text form read by [`from_encoded`](MasterKey::from_encoded). The result *is* the secret:
    /// write it only to a protected file or secret store, never to a log.
    pub fn encode(&self) -> String {
        format!("v{}:{}", self.version, BASE64.encode(self.key.as_ref()))
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    /// Loads a key from a file holding its encoded form (surrounding whitespace ignored). Warns
    /// (but still loads) on Unix when the file is readable by group or others.
    pub fn from_file(path: &Path) -> Result<Self, SealingError> {
        MasterKey::from_file_bytes(path, &haven_keyfile::read(path)?)
    }

    fn from_file_bytes(path: &Path, bytes: &[u8]) -> Result<Self, SealingError> {
        let text = std::str::from_utf8(bytes).map_err(|_| SealingError::KeyFile {
            action: "read",
            path: path.to_owned(),
            source: io::Error::new(io::ErrorKind::InvalidData, "the file is not UTF-8 text"),
        })?;
        MasterKey::from_encoded(text)
    }

    /// The embedded default: loads the key at `path`, or when there is none, generates version 1
    /// and stores it there readable by the owner only (mode 0600 on Unix).
    ///
    /// Creation is atomic and never overwrites (see `haven_keyfile`): two services starting together
    /// on one data directory agree on one key, and a crash never leaves a half-written key behind.
    pub fn load_or_create(path: &Path) -> Result<Self, SealingError> {
        MasterKey::load_or_create_version(path, 1)
    }

    /// [`MasterKey::load_or_create`] with the version a new key gets: rotation needs a version the
    /// keyring does not hold yet.
    pub fn load_or_create_version(path: &Path, version: u32) -> Result<Self, SealingError> {
        let bytes = haven_keyfile::load_or_create(path, || {
            let mut text = Zeroizing::new(MasterKey::generate(version).encode());
            text.push('\n');
            Ok::<_, SealingError>(Zeroizing::new(text.as_bytes().to_vec()))
        })?;
        MasterKey::from_file_bytes(path, &bytes)
    }
}

impl From<haven_keyfile::KeyFileError> for SealingError {
    fn from(error: haven_keyfile::KeyFileError) -> Self {
        SealingError::KeyFile {
            action: error.action,
            path: error.path,
            source: error.source,
        }
    }
}

/// The current master key, which wraps every new or re-wrapped data key, plus older versions kept
/// only so data keys wrapped before a rotation can still be unwrapped (and then re-wrapped).
pub struct Keyring {
    current: MasterKey,
    older: Vec<MasterKey>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let older: Vec<u32> = self.older.iter().map(MasterKey::version).collect();
        f.debug_struct("Keyring")
            .field("current_version", &self.current.version)
            .field("older_versions", &older)
            .finish()
    }
}

impl Keyring {
    /// Fails if two keys share a version: a wrapped key names only the version, so an ambiguous
    /// version would make some data keys silently unreadable.
    pub fn new(current: MasterKey, older: Vec<MasterKey>) -> Result<Self, SealingError> {
        let mut seen = vec![current.version];
        for key in &older {
            if seen.contains(&key.version) {
                return Err(SealingError::DuplicateMasterKeyVersion(key.version));
            }
            seen.push(key.version);
        }
        Ok(Keyring { current, older })
    }

    pub fn current_version(&self) -> u32 {
        self.current.version
    }

    fn master(&self, version: u32) -> Result<&MasterKey, SealingError> {
        std::iter::once(&self.current)
            .chain(&self.older)
            .find(|key| key.version == version)
            .ok_or(SealingError::UnknownMasterKeyVersion(version))
    }

    /// A fresh random data key for `record_id`: the plaintext key for use now (memory only) and its
    /// wrapped form, which is what gets stored next to the record.
    pub fn new_data_key(&self, record_id: &str) -> Result<(DataKey, WrappedKey), SealingError> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        fill_random(key.as_mut())?;
        let data_key = DataKey { key };
        let wrapped = self.wrap(record_id, &data_key)?;
        Ok((data_key, wrapped))
    }

    /// Recovers the data key with the master key version the wrapped key names. Fails if the
    /// wrapped key belongs to another record, was altered, or its version is not in this keyring.
    pub fn unwrap(&self, record_id: &str, wrapped: &WrappedKey) -> Result<DataKey, SealingError> {
        require_non_empty(record_id, "record id")?;
        let master = self.master(wrapped.master_version)?;
        let aad = wrap_aad(record_id, wrapped.master_version);
        let plain = Zeroizing::new(
            cipher(&master.key)
                .decrypt(
                    (&wrapped.nonce).into(),
                    Payload {
                        msg: &wrapped.ciphertext,
                        aad: &aad,
                    },
                )
                .map_err(|_| SealingError::Tampered)?,
        );
        if plain.len() != KEY_LEN {
            return Err(SealingError::Malformed(
                "wrapped key holds a key of the wrong size",
            ));
        }
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        key.copy_from_slice(&plain);
        Ok(DataKey { key })
    }

    /// Rotation: unwraps under whichever version wrapped it and wraps again under the current
    /// master key. The data sealed with the data key is untouched; store the result in place of
    /// the old wrapped key, and retire an old master key once nothing is wrapped under it.
    pub fn rewrap(
        &self,
        record_id: &str,
        wrapped: &WrappedKey,
    ) -> Result<WrappedKey, SealingError> {
        let data_key = self.unwrap(record_id, wrapped)?;
        self.wrap(record_id, &data_key)
    }

    fn wrap(&self, record_id: &str, data_key: &DataKey) -> Result<WrappedKey, SealingError> {
        require_non_empty(record_id, "record id")?;
        let version = self.current.version;
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce)?;
        let aad = wrap_aad(record_id, version);
        let ciphertext = cipher(&self.current.key)
            .encrypt(
                (&nonce).into(),
                Payload {
                    msg: data_key.key.as_ref(),
                    aad: &aad,
                },
            )
            .map_err(|_| SealingError::EncryptionFailed)?;
        Ok(WrappedKey {
            master_version: version,
            nonce,
            ciphertext,
        })
    }
}

fn wrap_aad(record_id: &str, master_version: u32) -> Vec<u8> {
    associated_data(&[
        AAD_LABEL,
        PURPOSE_DATA_KEY,
        record_id.as_bytes(),
        &master_version.to_be_bytes(),
    ])
}

/// A data key as stored in the database: encrypted under one master key version. Not secret on its
/// own (it is useless without the master key); deleting every copy crypto-shreds the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    master_version: u32,
    nonce: [u8; NONCE_LEN],
    /// The encrypted 32-byte key followed by the 16-byte tag.
    ciphertext: Vec<u8>,
}

impl WrappedKey {
    /// The master key version this was wrapped under: rotation jobs look for rows below current.
    pub fn master_version(&self) -> u32 {
        self.master_version
    }

    /// `[format 0x01][u32 BE master version][12-byte nonce][48 bytes: encrypted key + tag]`,
    /// 65 bytes in all.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(WRAPPED_LEN);
        out.push(FORMAT_V1);
        out.extend_from_slice(&self.master_version.to_be_bytes());
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.ciphertext);
        out
    }

    /// Parses [`to_bytes`](WrappedKey::to_bytes) output. Only the layout is checked here; whether
    /// the bytes are authentic is known only at [`Keyring::unwrap`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SealingError> {
        let (master_version, nonce, body) = split_header(bytes, "wrapped key is too short")?;
        if bytes.len() != WRAPPED_LEN {
            return Err(SealingError::Malformed("wrapped key has the wrong length"));
        }
        Ok(WrappedKey {
            master_version,
            nonce,
            ciphertext: body.to_vec(),
        })
    }
}

/// One record's plaintext data key (32 bytes). Lives only in memory and is zeroized on drop.
/// Deliberately not `Clone`; unwrap again when another copy is needed.
pub struct DataKey {
    key: Zeroizing<[u8; KEY_LEN]>,
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKey").finish_non_exhaustive()
    }
}

impl DataKey {
    /// The raw key, for deriving a service-wide secret from a wrapped key (the location-tag key). Never
    /// log or store it.
    pub fn secret_bytes(&self) -> &[u8; KEY_LEN] {
        &self.key
    }

    /// Encrypts one field's value with a fresh random nonce. The associated data binds
    /// `record_id`, `field` and `key_generation` (a caller-chosen counter for this record's data
    /// key, so a record can be re-keyed later and each value says which key it needs).
    ///
    /// Output: `[format 0x01][u32 BE key generation][12-byte nonce][ciphertext + 16-byte tag]`.
    pub fn seal(
        &self,
        record_id: &str,
        field: &str,
        key_generation: u32,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, SealingError> {
        require_non_empty(record_id, "record id")?;
        require_non_empty(field, "field name")?;
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce)?;
        let aad = field_aad(record_id, field, key_generation);
        let ciphertext = cipher(&self.key)
            .encrypt(
                (&nonce).into(),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| SealingError::EncryptionFailed)?;
        let mut out = Vec::with_capacity(HEADER_LEN + ciphertext.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&key_generation.to_be_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    /// Decrypts a value from [`seal`](DataKey::seal). Fails with [`SealingError::Tampered`] if the
    /// record id, field, generation, key or any byte differs from when it was sealed.
    pub fn open(
        &self,
        record_id: &str,
        field: &str,
        sealed: &[u8],
    ) -> Result<Vec<u8>, SealingError> {
        require_non_empty(record_id, "record id")?;
        require_non_empty(field, "field name")?;
        let (key_generation, nonce, body) = split_header(sealed, "sealed value is too short")?;
        let aad = field_aad(record_id, field, key_generation);
        cipher(&self.key)
            .decrypt(
                (&nonce).into(),
                Payload {
                    msg: body,
                    aad: &aad,
                },
            )
            .map_err(|_| SealingError::Tampered)
    }
}

/// The data-key generation a sealed value claims, so a caller holding several generations of a
/// record's key can pick the right one. Unauthenticated until [`DataKey::open`] succeeds.
pub fn sealed_key_generation(sealed: &[u8]) -> Result<u32, SealingError> {
    split_header(sealed, "sealed value is too short").map(|(generation, _, _)| generation)
}

fn field_aad(record_id: &str, field: &str, key_generation: u32) -> Vec<u8> {
    associated_data(&[
        AAD_LABEL,
        PURPOSE_FIELD,
        record_id.as_bytes(),
        field.as_bytes(),
        &key_generation.to_be_bytes(),
    ])
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    const RECORD: &str = "child-0001";
    const FIELD: &str = "whereabouts";

    fn keyring(version: u32) -> Keyring {
        Keyring::new(MasterKey::generate(version), Vec::new()).expect("keyring")
    }

    fn data_key() -> DataKey {
        keyring(1).new_data_key(RECORD).expect("data key").0
    }

    /// A unique, empty directory under the system temp dir; removed by the caller.
    fn temp_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("haven-sealing-{}", uuid::Uuid::now_v7()));
        fs::create_dir_all(&dir).expect("create temp dir");
        dir
    }

    #[test]
    fn sealed_field_opens_to_the_original_plaintext() {
        let key = data_key();
        let sealed = key
            .seal(RECORD, FIELD, 1, b"shelter 4, room 12")
            .expect("seal");
        let opened = key.open(RECORD, FIELD, &sealed).expect("open");
        assert_eq!(opened, b"shelter 4, room 12");
    }

    #[test]
    fn empty_plaintext_round_trips() {
        let key = data_key();
        let sealed = key.seal(RECORD, FIELD, 1, b"").expect("seal");
        assert_eq!(sealed.len(), HEADER_LEN + TAG_LEN);
        assert!(key.open(RECORD, FIELD, &sealed).expect("open").is_empty());
    }

    #[test]
    fn sealing_the_same_plaintext_twice_gives_different_bytes() {
        let key = data_key();
        let first = key.seal(RECORD, FIELD, 1, b"same").expect("seal");
        let second = key.seal(RECORD, FIELD, 1, b"same").expect("seal");
        assert_ne!(first, second);
        assert_ne!(first[5..HEADER_LEN], second[5..HEADER_LEN], "nonces differ");
    }

    #[test]
    fn sealed_layout_is_format_generation_nonce_ciphertext_tag() {
        let key = data_key();
        let sealed = key.seal(RECORD, FIELD, 0x0102_0304, b"abc").expect("seal");
        assert_eq!(sealed[0], FORMAT_V1);
        assert_eq!(sealed[1..5], [1, 2, 3, 4]);
        assert_eq!(sealed.len(), 1 + 4 + 12 + 3 + 16);
        assert_eq!(
            sealed_key_generation(&sealed).expect("generation"),
            0x0102_0304
        );
    }

    #[test]
    fn ciphertext_moved_to_another_record_fails_to_open() {
        let key = data_key();
        let sealed = key.seal(RECORD, FIELD, 1, b"secret").expect("seal");
        assert!(matches!(
            key.open("child-0002", FIELD, &sealed),
            Err(SealingError::Tampered)
        ));
    }

    #[test]
    fn ciphertext_moved_to_another_field_fails_to_open() {
        let key = data_key();
        let sealed = key.seal(RECORD, FIELD, 1, b"secret").expect("seal");
        assert!(matches!(
            key.open(RECORD, "protection_concerns", &sealed),
            Err(SealingError::Tampered)
        ));
    }

    #[test]
    fn changed_generation_fails_to_open() {
        let key = data_key();
        let mut sealed = key.seal(RECORD, FIELD, 1, b"secret").expect("seal");
        sealed[1..5].copy_from_slice(&2u32.to_be_bytes());
        assert!(matches!(
            key.open(RECORD, FIELD, &sealed),
            Err(SealingError::Tampered)
        ));
    }

    #[test]
    fn record_and_field_boundaries_are_unambiguous() {
        let key = data_key();
        let sealed = key.seal("ab", "c", 1, b"secret").expect("seal");
        assert!(key.open("a", "bc", &sealed).is_err());
        assert_ne!(field_aad("ab", "c", 1), field_aad("a", "bc", 1));
    }

    #[test]
    fn another_records_data_key_cannot_open() {
        let ring = keyring(1);
        let (key_a, _) = ring.new_data_key(RECORD).expect("data key");
        let (key_b, _) = ring.new_data_key(RECORD).expect("data key");
        let sealed = key_a.seal(RECORD, FIELD, 1, b"secret").expect("seal");
        assert!(matches!(
            key_b.open(RECORD, FIELD, &sealed),
            Err(SealingError::Tampered)
        ));
    }

    #[test]
    fn flipping_any_byte_of_a_sealed_value_fails_to_open() {
        let key = data_key();
        let sealed = key.seal(RECORD, FIELD, 7, b"camp B").expect("seal");
        for index in 0..sealed.len() {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut altered = sealed.clone();
                altered[index] ^= mask;
                assert!(
                    key.open(RECORD, FIELD, &altered).is_err(),
                    "byte {index} xor {mask:#x} still opened"
                );
            }
        }
    }

    #[test]
    fn truncated_or_extended_sealed_values_fail_to_open() {
        let key = data_key();
        let sealed = key.seal(RECORD, FIELD, 1, b"camp B").expect("seal");
        for len in 0..sealed.len() {
            assert!(
                key.open(RECORD, FIELD, &sealed[..len]).is_err(),
                "len {len}"
            );
        }
        let mut longer = sealed.clone();
        longer.push(0);
        assert!(key.open(RECORD, FIELD, &longer).is_err());
    }

    #[test]
    fn empty_record_id_or_field_is_rejected() {
        let key = data_key();
        assert!(matches!(
            key.seal("", FIELD, 1, b"x"),
            Err(SealingError::EmptyContext(_))
        ));
        assert!(matches!(
            key.seal(RECORD, "", 1, b"x"),
            Err(SealingError::EmptyContext(_))
        ));
        assert!(matches!(
            keyring(1).new_data_key(""),
            Err(SealingError::EmptyContext(_))
        ));
    }

    #[test]
    fn unwrapped_data_key_opens_what_the_original_sealed() {
        let ring = keyring(1);
        let (key, wrapped) = ring.new_data_key(RECORD).expect("data key");
        let sealed = key.seal(RECORD, FIELD, 1, b"secret").expect("seal");
        let stored = WrappedKey::from_bytes(&wrapped.to_bytes()).expect("parse");
        assert_eq!(stored, wrapped);
        let unwrapped = ring.unwrap(RECORD, &stored).expect("unwrap");
        assert_eq!(
            unwrapped.open(RECORD, FIELD, &sealed).expect("open"),
            b"secret"
        );
    }

    #[test]
    fn wrapped_key_layout_is_format_version_nonce_ciphertext_tag() {
        let ring = keyring(0x0a0b_0c0d);
        let (_, wrapped) = ring.new_data_key(RECORD).expect("data key");
        let bytes = wrapped.to_bytes();
        assert_eq!(bytes.len(), 65);
        assert_eq!(bytes[0], FORMAT_V1);
        assert_eq!(bytes[1..5], [0x0a, 0x0b, 0x0c, 0x0d]);
        assert_eq!(wrapped.master_version(), 0x0a0b_0c0d);
    }

    #[test]
    fn wrapped_key_moved_to_another_record_fails_to_unwrap() {
        let ring = keyring(1);
        let (_, wrapped) = ring.new_data_key(RECORD).expect("data key");
        assert!(matches!(
            ring.unwrap("child-0002", &wrapped),
            Err(SealingError::Tampered)
        ));
    }

    #[test]
    fn flipping_any_byte_of_a_wrapped_key_fails_to_unwrap() {
        // Versions 1 and 2 are both held, so a flipped version byte can land on a known version.
        let ring =
            Keyring::new(MasterKey::generate(1), vec![MasterKey::generate(0)]).expect("keyring");
        let (_, wrapped) = ring.new_data_key(RECORD).expect("data key");
        let bytes = wrapped.to_bytes();
        for index in 0..bytes.len() {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut altered = bytes.clone();
                altered[index] ^= mask;
                let result = WrappedKey::from_bytes(&altered).and_then(|w| ring.unwrap(RECORD, &w));
                assert!(
                    result.is_err(),
                    "byte {index} xor {mask:#x} still unwrapped"
                );
            }
        }
        for len in 0..bytes.len() {
            assert!(WrappedKey::from_bytes(&bytes[..len]).is_err(), "len {len}");
        }
    }

    #[test]
    fn wrapped_key_cannot_unwrap_under_a_different_master_key_of_the_same_version() {
        let (_, wrapped) = keyring(1).new_data_key(RECORD).expect("data key");
        assert!(matches!(
            keyring(1).unwrap(RECORD, &wrapped),
            Err(SealingError::Tampered)
        ));
    }

    #[test]
    fn rotation_rewraps_under_the_current_version_and_old_data_still_opens() {
        let v1_text = MasterKey::generate(1).encode();
        let before = Keyring::new(MasterKey::from_encoded(&v1_text).expect("v1"), Vec::new())
            .expect("keyring");
        let (key, wrapped_v1) = before.new_data_key(RECORD).expect("data key");
        let sealed = key.seal(RECORD, FIELD, 1, b"pre-rotation").expect("seal");
        drop(key);

        let after = Keyring::new(
            MasterKey::generate(2),
            vec![MasterKey::from_encoded(&v1_text).expect("v1")],
        )
        .expect("keyring");
        assert_eq!(after.current_version(), 2);
        let wrapped_v2 = after.rewrap(RECORD, &wrapped_v1).expect("rewrap");
        assert_eq!(wrapped_v2.master_version(), 2);
        assert_ne!(wrapped_v2.to_bytes(), wrapped_v1.to_bytes());

        let only_v2 = Keyring::new(
            MasterKey::from_encoded(&after.current.encode()).expect("v2"),
            Vec::new(),
        )
        .expect("keyring");
        let key = only_v2.unwrap(RECORD, &wrapped_v2).expect("unwrap v2");
        assert_eq!(
            key.open(RECORD, FIELD, &sealed).expect("open"),
            b"pre-rotation"
        );

        let error = only_v2.unwrap(RECORD, &wrapped_v1).expect_err("v1 is gone");
        assert!(matches!(error, SealingError::UnknownMasterKeyVersion(1)));
        let message = error.to_string();
        assert!(message.contains("version 1"), "{message}");
        assert!(message.contains("unknown"), "{message}");
        let v1_base64 = v1_text.split_once(':').expect("encoded").1;
        assert!(!message.contains(v1_base64));
        assert!(!format!("{error:?}").contains(v1_base64));
    }

    #[test]
    fn keyring_rejects_duplicate_versions() {
        let result = Keyring::new(
            MasterKey::generate(3),
            vec![MasterKey::generate(2), MasterKey::generate(3)],
        );
        assert!(matches!(
            result,
            Err(SealingError::DuplicateMasterKeyVersion(3))
        ));
        let result = Keyring::new(
            MasterKey::generate(3),
            vec![MasterKey::generate(2), MasterKey::generate(2)],
        );
        assert!(matches!(
            result,
            Err(SealingError::DuplicateMasterKeyVersion(2))
        ));
    }

    #[test]
    fn master_key_encoding_round_trips() {
        let key = MasterKey::generate(42);
        let text = key.encode();
        assert!(text.starts_with("v42:"));
        let parsed = MasterKey::from_encoded(&text).expect("parse");
        assert_eq!(parsed.version(), 42);
        assert_eq!(*parsed.key, *key.key);
        assert_eq!(parsed.encode(), text);
        let padded = MasterKey::from_encoded(&format!("  {text}\n")).expect("trimmed");
        assert_eq!(*padded.key, *key.key);
    }

    #[test]
    fn malformed_master_keys_are_rejected_without_echoing_the_input() {
        let good = MasterKey::generate(5).encode();
        let base64 = good.split_once(':').expect("encoded").1.to_owned();
        let short = BASE64.encode([7u8; 31]);
        let long = BASE64.encode([7u8; 33]);
        let cases = [
            String::new(),
            base64.clone(),
            format!("x5:{base64}"),
            format!("V5:{base64}"),
            format!("5:{base64}"),
            format!("v:{base64}"),
            format!("v-5:{base64}"),
            format!("v+5:{base64}"),
            format!("v99999999999:{base64}"),
            format!("v5{base64}"),
            format!("v5:{short}"),
            format!("v5:{long}"),
            format!("v5:{}", &base64[..base64.len() - 1]),
            format!("v5:{}!", &base64[..base64.len() - 1]),
            format!("v5:{}", base64.replace('=', "")),
            format!("v5:{base64}{base64}"),
        ];
        for input in cases {
            let error = MasterKey::from_encoded(&input).expect_err("must be rejected");
            assert!(
                matches!(error, SealingError::InvalidMasterKey(_)),
                "{input}"
            );
            let message = error.to_string();
            if !input.is_empty() {
                assert!(!message.contains(&input), "message echoes input: {message}");
            }
            assert!(
                !message.contains(&base64[..8]),
                "message echoes key: {message}"
            );
            assert!(!format!("{error:?}").contains(&base64[..8]));
        }
    }

    #[test]
    fn debug_output_never_shows_key_material() {
        let master = MasterKey::generate(9);
        let encoded = master.encode();
        let base64 = encoded.split_once(':').expect("encoded").1.to_owned();
        let secret_forms = |bytes: &[u8; KEY_LEN]| {
            [
                BASE64.encode(bytes),
                format!("{bytes:?}"),
                hex::encode(bytes),
            ]
        };
        let shown = format!("{master:?} {master:#?}");
        assert!(shown.contains('9'), "{shown}");
        for form in secret_forms(&master.key) {
            assert!(!shown.contains(&form), "{shown}");
        }
        assert!(!shown.contains(&base64));

        let ring = Keyring::new(master, vec![MasterKey::generate(8)]).expect("keyring");
        let (data, wrapped) = ring.new_data_key(RECORD).expect("data key");
        let shown = format!("{ring:?} {data:?} {data:#?} {wrapped:?}");
        for form in secret_forms(&ring.current.key)
            .into_iter()
            .chain(secret_forms(&ring.older[0].key))
            .chain(secret_forms(&data.key))
        {
            assert!(!shown.contains(&form), "{shown}");
        }
    }

    #[test]
    fn load_or_create_creates_a_private_file_and_reloads_the_same_key() {
        let dir = temp_dir();
        let path = dir.join("nested").join("master.key");
        let created = MasterKey::load_or_create(&path).expect("create");
        assert_eq!(created.version(), 1);
        // The file format existing deployments hold: the encoded key and a newline.
        assert_eq!(
            fs::read_to_string(&path).expect("key file"),
            format!("{}\n", created.encode())
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&path).expect("metadata").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let loaded = MasterKey::load_or_create(&path).expect("load");
        assert_eq!(*loaded.key, *created.key);
        assert_eq!(loaded.version(), created.version());
        let from_file = MasterKey::from_file(&path).expect("from_file");
        assert_eq!(*from_file.key, *created.key);
        let leftovers: Vec<_> = fs::read_dir(path.parent().expect("parent"))
            .expect("read dir")
            .collect();
        assert_eq!(leftovers.len(), 1, "no temporary files remain");
        fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn concurrent_load_or_create_agrees_on_one_key() {
        let dir = temp_dir();
        let path = dir.join("master.key");
        let encoded: Vec<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| MasterKey::load_or_create(&path).expect("load").encode()))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("thread"))
                .collect()
        });
        assert!(encoded.windows(2).all(|pair| pair[0] == pair[1]));
        fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn from_file_reports_a_missing_or_malformed_file_without_its_contents() {
        let dir = temp_dir();
        let missing = dir.join("absent.key");
        assert!(matches!(
            MasterKey::from_file(&missing),
            Err(SealingError::KeyFile { action: "read", .. })
        ));
        let bad = dir.join("bad.key");
        fs::write(&bad, "v1:not-a-key-SECRETISH").expect("write");
        let error = MasterKey::from_file(&bad).expect_err("malformed");
        assert!(!error.to_string().contains("SECRETISH"));
        fs::remove_dir_all(&dir).expect("cleanup");
    }
}
