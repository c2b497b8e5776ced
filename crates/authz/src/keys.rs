//! Signing and trusted keys. Production services trust the public keys of a JWKS file; the embedded
//! default generates an Ed25519 development key in its data directory and trusts only that.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use sha2::{Digest, Sha256};

use crate::claims::Claims;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read or write key file {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("key file {path} is not valid: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("cannot sign token: {0}")]
    Sign(jsonwebtoken::errors::Error),
}

/// A public key the verifier trusts, pinned to one algorithm.
#[derive(Clone)]
pub(crate) struct TrustedKey {
    pub(crate) algorithm: Algorithm,
    pub(crate) key: DecodingKey,
}

/// Public keys by `kid`, loaded from a JWKS. Only EdDSA (Ed25519) and RS256 keys are accepted: never an
/// HMAC secret, so a token "signed" with a public key as an HMAC secret can never verify.
#[derive(Clone, Default)]
pub struct TrustedKeys {
    pub(crate) by_kid: HashMap<String, TrustedKey>,
}

impl std::fmt::Debug for TrustedKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedKeys")
            .field("kids", &self.by_kid.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl TrustedKeys {
    pub fn from_jwks_file(path: &Path) -> Result<Self, KeyError> {
        let text = fs::read_to_string(path).map_err(|source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_jwks_json(&text).map_err(|reason| KeyError::Invalid {
            path: path.to_path_buf(),
            reason,
        })
    }

    pub fn from_jwks_json(text: &str) -> Result<Self, String> {
        let set: JwkSet = serde_json::from_str(text).map_err(|e| format!("not a JWKS: {e}"))?;
        let mut by_kid = HashMap::new();
        for jwk in &set.keys {
            let kid = jwk.common.key_id.clone().ok_or("every key needs a kid")?;
            let algorithm = match (&jwk.algorithm, jwk.common.key_algorithm) {
                (AlgorithmParameters::OctetKeyPair(params), None | Some(KeyAlgorithm::EdDSA))
                    if params.curve == EllipticCurve::Ed25519 =>
                {
                    Algorithm::EdDSA
                }
                (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Algorithm::RS256,
                _ => {
                    return Err(format!(
                        "key {kid}: only Ed25519 (EdDSA) and RSA (RS256) keys are accepted"
                    ));
                }
            };
            let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("key {kid}: {e}"))?;
            by_kid.insert(kid, TrustedKey { algorithm, key });
        }
        if by_kid.is_empty() {
            return Err("the JWKS holds no keys".into());
        }
        Ok(TrustedKeys { by_kid })
    }

    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.by_kid.keys().map(String::as_str)
    }
}

/// The embedded default's Ed25519 signing key, kept in `<data-dir>/keys/`.
pub struct DevSigningKey {
    kid: String,
    encoding: EncodingKey,
    public: [u8; 32],
}

impl std::fmt::Debug for DevSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevSigningKey")
            .field("kid", &self.kid)
            .finish()
    }
}

const PRIVATE_KEY_FILE: &str = "dev-signing-key.p8";
const JWKS_FILE: &str = "jwks.json";

impl DevSigningKey {
    /// Loads the key from `<data_dir>/keys`, creating it (and its public JWKS) on first use.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, KeyError> {
        let dir = data_dir.join("keys");
        let private_path = dir.join(PRIVATE_KEY_FILE);
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| KeyError::Io { path, source }
        };
        let signing = if private_path.exists() {
            let der = fs::read(&private_path).map_err(io_err(&private_path))?;
            SigningKey::from_pkcs8_der(&der).map_err(|e| KeyError::Invalid {
                path: private_path.clone(),
                reason: e.to_string(),
            })?
        } else {
            fs::create_dir_all(&dir).map_err(io_err(&dir))?;
            let signing = SigningKey::generate(&mut rand::rngs::OsRng);
            let der = signing.to_pkcs8_der().map_err(|e| KeyError::Invalid {
                path: private_path.clone(),
                reason: e.to_string(),
            })?;
            write_private(&private_path, der.as_bytes()).map_err(io_err(&private_path))?;
            signing
        };
        let key = Self::from_signing_key(&signing)?;
        let jwks_path = dir.join(JWKS_FILE);
        fs::write(&jwks_path, key.jwks_json()).map_err(io_err(&jwks_path))?;
        Ok(key)
    }

    fn from_signing_key(signing: &SigningKey) -> Result<Self, KeyError> {
        let der = signing.to_pkcs8_der().map_err(|e| KeyError::Invalid {
            path: PathBuf::new(),
            reason: e.to_string(),
        })?;
        let public = signing.verifying_key().to_bytes();
        Ok(DevSigningKey {
            kid: thumbprint(&public),
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
            public,
        })
    }

    /// Where `load_or_create` writes the public JWKS for this data directory.
    pub fn jwks_path(data_dir: &Path) -> PathBuf {
        data_dir.join("keys").join(JWKS_FILE)
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWKS document.
    pub fn jwks_json(&self) -> String {
        serde_json::json!({
            "keys": [{
                "kty": "OKP",
                "crv": "Ed25519",
                "x": URL_SAFE_NO_PAD.encode(self.public),
                "kid": self.kid,
                "alg": "EdDSA",
                "use": "sig",
            }]
        })
        .to_string()
    }

    pub fn trusted_keys(&self) -> TrustedKeys {
        // The JWKS we write ourselves always parses.
        TrustedKeys::from_jwks_json(&self.jwks_json()).unwrap_or_default()
    }

    /// Signs claims with EdDSA, naming this key's `kid` in the header.
    pub fn sign(&self, claims: &Claims) -> Result<String, KeyError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(KeyError::Sign)
    }

    /// Signs claims under a header the caller built (tests build bad headers with it).
    #[cfg(test)]
    pub(crate) fn sign_with_header(
        &self,
        header: &Header,
        claims: &Claims,
    ) -> Result<String, KeyError> {
        jsonwebtoken::encode(header, claims, &self.encoding).map_err(KeyError::Sign)
    }
}

/// RFC 7638 JWK thumbprint of an Ed25519 public key, used as its `kid`.
fn thumbprint(public: &[u8; 32]) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(public)
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    fs::write(path, bytes)
}
