//! Signing and trusted keys. Production services trust the public keys of a JWKS file; the embedded
//! default generates an Ed25519 development key in its data directory and trusts only that. This module
//! parses and serialises them; the files live in `haven_platform::authz_files`.

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::claims::Claims;

/// Why a key could not be loaded or used. `Io` and `Invalid` come from the key file loaders in
/// `haven_platform::authz_files`.
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

impl DevSigningKey {
    /// A new random key, as the PKCS#8 DER its key file holds.
    pub fn generate_pkcs8_der() -> Result<Zeroizing<Vec<u8>>, String> {
        let der = SigningKey::generate(&mut rand::rngs::OsRng)
            .to_pkcs8_der()
            .map_err(|e| e.to_string())?;
        Ok(Zeroizing::new(der.as_bytes().to_vec()))
    }

    /// The key held in PKCS#8 DER (the key file's bytes). Its `kid` is the RFC 7638 thumbprint of its
    /// public key, so the same file always gives the same `kid`.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, String> {
        let signing = SigningKey::from_pkcs8_der(der).map_err(|e| e.to_string())?;
        // Re-encoded rather than taken from `der`: jsonwebtoken reads the form ed25519-dalek writes.
        let der = signing.to_pkcs8_der().map_err(|e| e.to_string())?;
        let public = signing.verifying_key().to_bytes();
        Ok(DevSigningKey {
            kid: thumbprint(&public),
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
            public,
        })
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
