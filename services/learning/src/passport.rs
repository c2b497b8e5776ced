//! The learning passport: an Open Badges 3.0 `AchievementCredential` as a VC-JWT, signed by a `did:key`
//! issuer with EdDSA (Ed25519, the default) or RS256 (RSA, opt-in, the algorithm OB 3.0 requires every
//! verifier to support), and its offline verification against a trust list. Nothing here touches a
//! database, so `haven passport verify` and any school without a network run the same code.
//!
//! # Shape: one credential, one achievement, one result per learning record
//! Open Badges 3.0 puts exactly one `achievement` in an `AchievementSubject`. A learner with 200 records
//! gets one credential whose achievement is "Learning passport" (`achievementType: LearningProgram`)
//! with one `resultDescription` per record, each aligned to its curriculum outcomes (`Alignment` with
//! `targetFramework` = framework code and `targetCode` = `subject/level[/outcome]`), and the subject's
//! `result` list holds one `Result` per record. One signature covers everything, so issuing and verifying
//! stay cheap however many records there are (200 one-achievement credentials in a presentation would
//! cost 200 signatures), and every key used is defined by the OB 3.0 context, so standard verifiers read
//! it as is.
//!
//! # Verification reads the JWS itself
//! A 200-record passport is about 140 KB. The signature is checked over the compact serialization's
//! signing input as it stands (one SHA-512 or SHA-256 pass, no copy), and only then is the payload
//! decoded once and read into borrowed, typed structs that skip what a passport does not need, rather
//! than into a `serde_json::Value` tree.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
pub use haven_platform::config::PassportAlgorithm;
use rsa::pkcs1::{DecodeRsaPublicKey as _, EncodeRsaPublicKey as _};
use rsa::pkcs8::{LineEnding, SecretDocument};
use rsa::signature::Verifier as _;
use rsa::traits::PublicKeyParts as _;
use rsa::{BigUint, RsaPrivateKey, RsaPublicKey};
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::didkey::{self, DidPublicKey};

/// Clock skew allowed on `nbf` and `exp`, in seconds.
pub const LEEWAY_SECS: i64 = 60;
/// RFC 7518 §3.3: RS256 keys of fewer bits must not be used.
pub const MIN_RSA_BITS: usize = 2048;
/// The largest RSA key accepted, to keep a hostile trust list or key file from costing seconds.
pub const MAX_RSA_BITS: usize = 4096;
/// Size of a generated RSA issuer key: about the 128-bit security of Ed25519 (NIST SP 800-57).
pub const GENERATED_RSA_BITS: usize = 3072;
const VC_CONTEXT: &str = "https://www.w3.org/ns/credentials/v2";
const OB_CONTEXT: &str = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json";
/// The data dir's Ed25519 key (PKCS#8 DER) and RSA key (PKCS#8 PEM), under `<data_dir>/keys/`.
const ISSUER_KEY_FILE: &str = "passport-issuer-key.p8";
const RSA_ISSUER_KEY_FILE: &str = "passport-issuer-rsa.pem";

/// Why a passport (or a status list) does not verify, or cannot be made. Messages are safe to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PassportError {
    #[error("not a compact JWT")]
    Malformed,
    #[error("algorithm {0} is not accepted")]
    AlgorithmNotAccepted(String),
    #[error("the header names no key (kid)")]
    MissingKeyId,
    #[error("issuer key is not trusted")]
    UntrustedIssuer,
    #[error("signature does not verify")]
    BadSignature,
    #[error("issuer does not match the signing key")]
    IssuerMismatch,
    #[error("not an Open Badges 3.0 credential: {0}")]
    NotACredential(&'static str),
    #[error("not yet valid")]
    NotYetValid,
    #[error("expired")]
    Expired,
    #[error("trust list is not valid: {0}")]
    TrustList(String),
    #[error("issuer key is not valid: {0}")]
    Key(String),
    #[error("status list does not cover this credential")]
    StatusListMismatch,
}

fn rsa_size_accepted(bits: usize) -> Result<(), String> {
    if (MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
        Ok(())
    } else {
        Err(format!(
            "an RSA key of {bits} bits (accepted: {MIN_RSA_BITS} to {MAX_RSA_BITS})"
        ))
    }
}

/// The public half of an issuer key, parsed once, as verification needs it.
#[derive(Clone)]
enum PublicKey {
    Ed25519(VerifyingKey),
    Rsa(rsa::pkcs1v15::VerifyingKey<Sha256>),
}

impl PublicKey {
    /// An RSA key of an accepted size.
    fn rsa(key: RsaPublicKey) -> Result<Self, String> {
        rsa_size_accepted(key.n().bits())?;
        Ok(PublicKey::Rsa(rsa::pkcs1v15::VerifyingKey::new(key)))
    }

    fn rsa_key(key: &rsa::pkcs1v15::VerifyingKey<Sha256>) -> &RsaPublicKey {
        key.as_ref()
    }

    /// The JWS `alg` this key verifies, and only this one.
    fn algorithm(&self) -> PassportAlgorithm {
        match self {
            PublicKey::Ed25519(_) => PassportAlgorithm::EdDsa,
            PublicKey::Rsa(_) => PassportAlgorithm::Rs256,
        }
    }

    /// The did:key naming this key.
    fn did(&self) -> String {
        match self {
            PublicKey::Ed25519(key) => didkey::did_key(key.as_bytes()),
            PublicKey::Rsa(key) => {
                // A key that RsaPublicKey accepted always encodes.
                let der = Self::rsa_key(key)
                    .to_pkcs1_der()
                    .map(|der| der.as_bytes().to_vec())
                    .unwrap_or_default();
                didkey::rsa_did_key(&der)
            }
        }
    }

    /// The JWS header `kid` of an issuer signing with this key: for Ed25519 the did:key verification
    /// method (`did:key:z6Mk...#z6Mk...`), for RSA the RFC 7638 JWK thumbprint (a did:key URL of an RSA
    /// key runs to some 750 characters).
    fn issuer_kid(&self) -> String {
        match self {
            PublicKey::Ed25519(key) => didkey::key_id(key.as_bytes()),
            PublicKey::Rsa(key) => {
                // RFC 7638: SHA-256 over the required members in lexicographic order, no whitespace.
                let key = Self::rsa_key(key);
                let members = format!(
                    r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                    URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
                    URL_SAFE_NO_PAD.encode(key.n().to_bytes_be())
                );
                URL_SAFE_NO_PAD.encode(Sha256::digest(members.as_bytes()))
            }
        }
    }

    fn jwk(&self, kid: &str) -> Value {
        match self {
            PublicKey::Ed25519(key) => json!({
                "kty": "OKP",
                "crv": "Ed25519",
                "x": URL_SAFE_NO_PAD.encode(key.as_bytes()),
                "kid": kid,
                "alg": "EdDSA",
                "use": "sig",
            }),
            PublicKey::Rsa(key) => {
                let key = Self::rsa_key(key);
                json!({
                    "kty": "RSA",
                    "n": URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
                    "e": URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
                    "kid": kid,
                    "alg": "RS256",
                    "use": "sig",
                })
            }
        }
    }

    /// Whether `signature` (raw bytes) signs `signing_input` under this key. Ed25519 is checked
    /// strictly (no small-order keys or R, canonical S); RSA is PKCS#1 v1.5 with SHA-256, and a
    /// signature must be exactly as long as the modulus.
    fn verifies(&self, signing_input: &[u8], signature: &[u8]) -> bool {
        match self {
            PublicKey::Ed25519(key) => ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|s| key.verify_strict(signing_input, &s).is_ok()),
            PublicKey::Rsa(key) => rsa::pkcs1v15::Signature::try_from(signature)
                .is_ok_and(|s| key.verify(signing_input, &s).is_ok()),
        }
    }
}

fn unsupported_key() -> PassportError {
    PassportError::Key(
        "not a PKCS#8 Ed25519 or RSA private key (`openssl genpkey -algorithm ed25519` or `openssl \
         genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072` make one)"
            .into(),
    )
}

/// The private half of the issuer key.
enum IssuerSigningKey {
    Ed25519(SigningKey),
    Rsa(RsaSigningKey),
}

/// An RSA issuer key. It signs through *ring*, whose private-key operation is constant-time (both CRT
/// exponentiations are ring's `elem_exp_consttime`) and is checked against the public key before the
/// signature is released. The `rsa` crate, whose private-key operation leaks timing (RUSTSEC-2023-0071,
/// the Marvin attack), never signs with this key: it only generates keys (see
/// [`PassportIssuer::generate_rsa`]) and verifies with public keys.
struct RsaSigningKey {
    key_pair: ring::rsa::KeyPair,
    public: RsaPublicKey,
}

impl RsaSigningKey {
    /// From an unencrypted PKCS#8 DER RSA private key of 2048, 3072 or 4096 bits (two primes of a
    /// multiple of 512 bits each: the sizes *ring* signs with).
    fn from_pkcs8_der(der: &[u8]) -> Result<Self, PassportError> {
        let key_pair = ring::rsa::KeyPair::from_pkcs8(der).map_err(|rejected| {
            match rejected.to_string().as_str() {
                "InvalidEncoding" | "WrongAlgorithm" | "VersionNotSupported" => unsupported_key(),
                "TooSmall" | "TooLarge" | "PrivateModulusLenNotMultipleOf512Bits" => {
                    PassportError::Key(
                        "an RSA private key of an unsupported size (accepted: 2048, 3072 or 4096 \
                         bits)"
                            .into(),
                    )
                }
                why => PassportError::Key(format!("not a usable RSA private key ({why})")),
            }
        })?;
        // *ring* serialises the public key as a PKCS#1 RSAPublicKey, which the rsa crate reads.
        let public = RsaPublicKey::from_pkcs1_der(key_pair.public().as_ref())
            .map_err(|e| PassportError::Key(format!("RSA public key: {e}")))?;
        rsa_size_accepted(public.n().bits()).map_err(PassportError::Key)?;
        Ok(RsaSigningKey { key_pair, public })
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 (RS256): deterministic, so the same key and message always give
    /// the same signature, as long as the modulus.
    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, PassportError> {
        let mut signature = vec![0; self.key_pair.public().modulus_len()];
        self.key_pair
            .sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                signing_input,
                &mut signature,
            )
            .map_err(|_| PassportError::Key("RSA signing failed".into()))?;
        Ok(signature)
    }
}

impl IssuerSigningKey {
    /// A PKCS#8 private key, PEM (`-----BEGIN PRIVATE KEY-----`) or DER: Ed25519 or RSA.
    fn from_pkcs8(bytes: &[u8]) -> Result<Self, PassportError> {
        let der = match std::str::from_utf8(bytes) {
            Ok(pem) if pem.trim_start().starts_with("-----BEGIN") => {
                let pem = pem.trim();
                if let Ok(key) = SigningKey::from_pkcs8_pem(pem) {
                    return Ok(IssuerSigningKey::Ed25519(key));
                }
                match SecretDocument::from_pem(pem) {
                    Ok(("PRIVATE KEY", der)) => der,
                    _ => return Err(unsupported_key()),
                }
            }
            _ => {
                if let Ok(key) = SigningKey::from_pkcs8_der(bytes) {
                    return Ok(IssuerSigningKey::Ed25519(key));
                }
                SecretDocument::try_from(bytes).map_err(|_| unsupported_key())?
            }
        };
        RsaSigningKey::from_pkcs8_der(der.as_bytes()).map(IssuerSigningKey::Rsa)
    }

    fn public(&self) -> PublicKey {
        match self {
            IssuerSigningKey::Ed25519(key) => PublicKey::Ed25519(key.verifying_key()),
            IssuerSigningKey::Rsa(key) => {
                PublicKey::Rsa(rsa::pkcs1v15::VerifyingKey::new(key.public.clone()))
            }
        }
    }

    /// The raw JWS signature over `signing_input`.
    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, PassportError> {
        match self {
            IssuerSigningKey::Ed25519(key) => Ok(key.sign(signing_input).to_bytes().to_vec()),
            IssuerSigningKey::Rsa(key) => key.sign(signing_input),
        }
    }
}

/// One key of the issuer, with the names verifiers know it by.
#[derive(Clone)]
struct IssuerKey {
    public: PublicKey,
    did: String,
    kid: String,
}

impl IssuerKey {
    fn new(public: PublicKey) -> Self {
        IssuerKey {
            did: public.did(),
            kid: public.issuer_kid(),
            public,
        }
    }
}

/// The deployment's passport signing key, identified by its did:key: Ed25519 (EdDSA) by default, RSA
/// (RS256) when configured. Kept apart from the token signing key, so a passport can never pass for an
/// access token and the two rotate separately.
pub struct PassportIssuer {
    signing: IssuerSigningKey,
    key: IssuerKey,
    /// Public halves of the deployment's other passport keys (say, the Ed25519 key it signed with before
    /// switching to RS256): still published and trusted, so passports issued with them keep verifying.
    earlier: Vec<IssuerKey>,
    name: String,
    public_base: String,
}

impl fmt::Debug for PassportIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PassportIssuer")
            .field("algorithm", &self.key.public.algorithm())
            .field("did", &self.key.did)
            .field("name", &self.name)
            .field("public_base", &self.public_base)
            .finish_non_exhaustive()
    }
}

/// The JOSE header of every passport and status list.
#[derive(Serialize)]
struct JoseHeaderOut<'a> {
    typ: &'static str,
    alg: &'static str,
    kid: &'a str,
}

impl PassportIssuer {
    fn from_key(signing: IssuerSigningKey, name: &str, public_base: &str) -> Self {
        PassportIssuer {
            key: IssuerKey::new(signing.public()),
            signing,
            earlier: Vec::new(),
            name: name.to_owned(),
            public_base: public_base.trim_end_matches('/').to_owned(),
        }
    }

    /// `name` is the issuer's display name in passports; `public_base` the gateway's public URL
    /// (`https://haven.example.org`), under which status lists are published.
    pub fn from_signing_key(key: &SigningKey, name: &str, public_base: &str) -> Self {
        Self::from_key(IssuerSigningKey::Ed25519(key.clone()), name, public_base)
    }

    /// An RS256 issuer. The key must have 2048, 3072 or 4096 bits; it is handed over as PKCS#8 and
    /// signs through *ring*, never through the rsa crate.
    pub fn from_rsa_key(
        key: RsaPrivateKey,
        name: &str,
        public_base: &str,
    ) -> Result<Self, PassportError> {
        let der = rsa::pkcs8::EncodePrivateKey::to_pkcs8_der(&key)
            .map_err(|e| PassportError::Key(e.to_string()))?;
        Ok(Self::from_key(
            IssuerSigningKey::from_pkcs8(der.as_bytes())?,
            name,
            public_base,
        ))
    }

    /// From a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`): Ed25519 signs EdDSA, RSA signs
    /// RS256.
    pub fn from_pkcs8_pem(pem: &str, name: &str, public_base: &str) -> Result<Self, PassportError> {
        if !pem.trim_start().starts_with("-----BEGIN") {
            return Err(PassportError::Key("not a PEM document".into()));
        }
        Ok(Self::from_key(
            IssuerSigningKey::from_pkcs8(pem.as_bytes())?,
            name,
            public_base,
        ))
    }

    /// A fresh Ed25519 key, for tests and throwaway deployments.
    pub fn generate(name: &str, public_base: &str) -> Self {
        Self::from_signing_key(
            &SigningKey::generate(&mut rand::rngs::OsRng),
            name,
            public_base,
        )
    }

    /// A fresh RSA key of `bits` bits (2048, 3072 or 4096). Takes about a second at 3072 bits in a
    /// release build, far longer in a debug one.
    pub fn generate_rsa(bits: usize, name: &str, public_base: &str) -> Result<Self, PassportError> {
        let der = generate_rsa_pkcs8(bits)?;
        Ok(Self::from_key(
            IssuerSigningKey::from_pkcs8(der.as_bytes())?,
            name,
            public_base,
        ))
    }

    /// The embedded default with EdDSA: `<data_dir>/keys/passport-issuer-key.p8`, created (mode 0600)
    /// on first use. The same as [`PassportIssuer::load`] with EdDSA and no key path.
    pub fn load_or_create(
        data_dir: &Path,
        name: &str,
        public_base: &str,
    ) -> Result<Self, PassportError> {
        Self::load(data_dir, PassportAlgorithm::EdDsa, None, name, public_base)
    }

    /// The deployment's issuer, as configured: the key at `key_path` (PKCS#8 PEM, Ed25519 or RSA, and
    /// it must be of `algorithm`), or else the data dir's key of `algorithm`, created (mode 0600) on
    /// first use: `<data_dir>/keys/passport-issuer-key.p8` (Ed25519) or
    /// `<data_dir>/keys/passport-issuer-rsa.pem` (RSA, 3072 bits). The data dir's other passport key,
    /// if there is one, stays published and trusted (see [`PassportIssuer::jwks_json`]), so switching
    /// algorithms leaves earlier passports verifiable; delete its file to retire it.
    pub fn load(
        data_dir: &Path,
        algorithm: PassportAlgorithm,
        key_path: Option<&Path>,
        name: &str,
        public_base: &str,
    ) -> Result<Self, PassportError> {
        let keys = data_dir.join("keys");
        let ed25519_file = keys.join(ISSUER_KEY_FILE);
        let rsa_file = keys.join(RSA_ISSUER_KEY_FILE);
        let signing = match (key_path, algorithm) {
            (Some(path), _) => {
                let key =
                    IssuerSigningKey::from_pkcs8(&read_key(path)?).map_err(|e| in_file(path, e))?;
                let found = key.public().algorithm();
                if found != algorithm {
                    return Err(PassportError::Key(format!(
                        "{} holds a key for {}, but the passport algorithm is {}",
                        path.display(),
                        found,
                        algorithm
                    )));
                }
                key
            }
            (None, PassportAlgorithm::EdDsa) => load_or_create_key(&ed25519_file, || {
                let key = SigningKey::generate(&mut rand::rngs::OsRng);
                let der = key
                    .to_pkcs8_der()
                    .map_err(|e| PassportError::Key(e.to_string()))?;
                Ok((IssuerSigningKey::Ed25519(key), der.as_bytes().to_vec()))
            })?,
            (None, PassportAlgorithm::Rs256) => load_or_create_key(&rsa_file, || {
                tracing::info!(
                    bits = GENERATED_RSA_BITS,
                    path = %rsa_file.display(),
                    "generating the RS256 passport issuer key"
                );
                let der = generate_rsa_pkcs8(GENERATED_RSA_BITS)?;
                let pem = der
                    .to_pem("PRIVATE KEY", LineEnding::LF)
                    .map_err(|e| PassportError::Key(e.to_string()))?;
                Ok((
                    IssuerSigningKey::from_pkcs8(der.as_bytes())?,
                    pem.as_bytes().to_vec(),
                ))
            })?,
        };
        let mut issuer = Self::from_key(signing, name, public_base);
        for file in [&ed25519_file, &rsa_file] {
            if !file.exists() {
                continue;
            }
            let other = IssuerSigningKey::from_pkcs8(&read_key(file)?)
                .map_err(|e| in_file(file, e))?
                .public();
            let other = IssuerKey::new(other);
            if other.did != issuer.key.did {
                issuer.earlier.push(other);
            }
        }
        Ok(issuer)
    }

    /// `EdDSA` or `RS256`: how this issuer signs.
    pub fn algorithm(&self) -> PassportAlgorithm {
        self.key.public.algorithm()
    }

    /// The issuer id in its passports: `did:key:z6Mk...` (Ed25519) or `did:key:z4MX...` (RSA).
    pub fn did(&self) -> &str {
        &self.key.did
    }

    /// The JWT header `kid` and the JWKS `kid`: `did:key:z6Mk...#z6Mk...` for Ed25519, the RFC 7638
    /// thumbprint for RSA.
    pub fn kid(&self) -> &str {
        &self.key.kid
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether `issuer` (a verified passport's `iss`) is this deployment, under its current or an
    /// earlier key.
    pub fn issued_here(&self, issuer: &str) -> bool {
        self.key.did == issuer || self.earlier.iter().any(|k| k.did == issuer)
    }

    /// The public keys as a JWKS, for other deployments' trust lists and for standard JOSE tools: the
    /// signing key first, then any earlier passport key of this deployment.
    pub fn jwks_json(&self) -> String {
        let keys: Vec<Value> = std::iter::once(&self.key)
            .chain(&self.earlier)
            .map(|k| k.public.jwk(&k.kid))
            .collect();
        json!({ "keys": keys }).to_string()
    }

    /// A trust list holding only this issuer's keys, each bound to its did.
    pub fn trust_list(&self) -> TrustList {
        let mut list = TrustList::default();
        for key in std::iter::once(&self.key).chain(&self.earlier) {
            list.insert(key.kid.clone(), key.public.clone(), Some(key.did.clone()));
        }
        list
    }

    /// Where the gateway publishes a status list of this issuer.
    pub fn status_list_url(&self, list_id: &str) -> String {
        format!("{}/passports/status/{list_id}", self.public_base)
    }

    /// JWS compact serialization of `claims`, signed with the issuer key.
    fn sign(&self, claims: &impl Serialize) -> Result<String, PassportError> {
        let header = serde_json::to_vec(&JoseHeaderOut {
            typ: "JWT",
            alg: self.key.public.algorithm().as_str(),
            kid: &self.key.kid,
        })
        .map_err(|e| PassportError::Key(e.to_string()))?;
        let payload = serde_json::to_vec(claims).map_err(|e| PassportError::Key(e.to_string()))?;
        let mut jwt = String::with_capacity((header.len() + payload.len()) * 4 / 3 + 700);
        URL_SAFE_NO_PAD.encode_string(&header, &mut jwt);
        jwt.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut jwt);
        let signature = self.signing.sign(jwt.as_bytes())?;
        jwt.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut jwt);
        Ok(jwt)
    }

    /// Builds and signs the credential.
    pub fn issue(&self, content: &PassportContent) -> Result<IssuedPassport, PassportError> {
        let credential_id = format!("urn:uuid:{}", content.credential_id);
        let subject_id = format!("urn:uuid:{}", uuid::Uuid::new_v4());
        let (descriptions, results): (Vec<Value>, Vec<Value>) = content
            .achievements
            .iter()
            .map(|a| self.result_of(a))
            .unzip();
        let mut subject = json!({
            "id": subject_id,
            "type": ["AchievementSubject"],
            "identifier": content.recipient.identity_objects(),
            "achievement": {
                "id": format!("{credential_id}#achievement"),
                "type": ["Achievement"],
                "achievementType": "LearningProgram",
                "name": "Learning passport",
                "description": "Learning records kept by the issuing organisation, each aligned to its curriculum outcome",
                "criteria": { "narrative": "Each result was recorded by an educator or learning platform of the issuer." },
                "resultDescription": descriptions,
            },
            "result": results,
        });
        if let Some(last) = content
            .achievements
            .iter()
            .filter_map(|a| a.occurred_at)
            .max()
        {
            subject["activityEndDate"] = json!(rfc3339(last));
        }
        let mut vc = json!({
            "@context": [VC_CONTEXT, OB_CONTEXT],
            "id": credential_id,
            "type": ["VerifiableCredential", "OpenBadgeCredential"],
            "name": "Learning passport",
            "issuer": { "id": self.key.did, "type": ["Profile"], "name": self.name },
            "validFrom": rfc3339(content.valid_from),
            "credentialSubject": subject,
            "credentialStatus": {
                "id": self.status_list_url(&content.status_list_id),
                "type": "1EdTechRevocationList",
            },
        });
        let mut claims = json!({
            "iss": self.key.did,
            "jti": credential_id,
            "sub": subject_id,
            "nbf": content.valid_from,
            "vc": Value::Null,
        });
        if let Some(until) = content.valid_until {
            vc["validUntil"] = json!(rfc3339(until));
            claims["exp"] = json!(until);
        }
        claims["vc"] = vc;
        Ok(IssuedPassport {
            jwt: self.sign(&claims)?,
            credential_id,
        })
    }

    fn result_of(&self, achievement: &Achievement) -> (Value, Value) {
        let description_id = format!("urn:uuid:{}", achievement.record_id);
        let mut alignment: Vec<Value> = achievement
            .outcomes
            .iter()
            .map(|(code, label)| {
                let target = format!(
                    "{}/{}/{code}",
                    achievement.subject_code, achievement.level_code
                );
                self.alignment(&achievement.framework_code, &target, label, "ext:Outcome")
            })
            .collect();
        if alignment.is_empty() && !achievement.framework_code.is_empty() {
            let target = format!("{}/{}", achievement.subject_code, achievement.level_code);
            alignment.push(self.alignment(
                &achievement.framework_code,
                &target,
                &achievement.title,
                "ext:Level",
            ));
        }
        let mut description = json!({
            "id": description_id,
            "type": ["ResultDescription"],
            "name": achievement.title,
            "alignment": alignment,
        });
        let mut result = json!({ "type": ["Result"], "resultDescription": description_id });
        match &achievement.score {
            None => {
                description["resultType"] = json!("Status");
                result["status"] = json!("Completed");
            }
            Some(score) => {
                if let Some(scaled) = score.scaled {
                    description["resultType"] = json!("ScaledScore");
                    description["valueMin"] = json!("0");
                    description["valueMax"] = json!("100");
                    result["value"] = json!(format_number(scaled));
                } else if score.max > 0.0 {
                    description["resultType"] = json!("RawScore");
                    description["valueMin"] = json!("0");
                    description["valueMax"] = json!(format_number(score.max));
                    result["value"] = json!(format_number(score.raw));
                } else {
                    description["resultType"] = json!("LetterGrade");
                    result["value"] = json!(score.grade);
                }
                if let Some(passed) = score.passed {
                    result["status"] = json!(if passed { "Completed" } else { "Failed" });
                }
            }
        }
        (description, result)
    }

    fn alignment(&self, framework: &str, code: &str, name: &str, kind: &str) -> Value {
        json!({
            "type": ["Alignment"],
            "targetName": if name.is_empty() { code } else { name },
            "targetUrl": format!("{}/curricula/{framework}/{code}", self.public_base),
            "targetFramework": framework,
            "targetCode": code,
            "targetType": kind,
        })
    }

    /// Signs the `1EdTechRevocationList` document of one status list: the list's URL, the issuer and
    /// the revoked credential ids.
    pub fn status_list_credential(
        &self,
        list_id: &str,
        revoked: &[String],
        now: i64,
    ) -> Result<String, PassportError> {
        let claims = json!({
            "iss": self.key.did,
            "iat": now,
            "nbf": now,
            "id": self.status_list_url(list_id),
            "issuer": self.key.did,
            "revokedCredentials": revoked.iter().map(|id| json!({ "id": id })).collect::<Vec<_>>(),
        });
        self.sign(&claims)
    }
}

/// What goes into a passport; built by the service from the learner's records.
#[derive(Debug, Clone)]
pub struct PassportContent {
    pub credential_id: uuid::Uuid,
    pub recipient: Recipient,
    pub achievements: Vec<Achievement>,
    /// Seconds since the Unix epoch.
    pub valid_from: i64,
    pub valid_until: Option<i64>,
    pub status_list_id: String,
}

/// Who a passport names: the learner's name and birth year, or only a salted hash of the name.
#[derive(Debug, Clone)]
pub enum Recipient {
    Named {
        given_name: String,
        family_name: String,
        birth_year: Option<i32>,
    },
    Hashed {
        name: String,
        salt: String,
    },
}

impl Recipient {
    /// Open Badges 3.0 `IdentityObject`s. Hashed: `sha256$` + hex(SHA-256(name + salt)).
    fn identity_objects(&self) -> Value {
        match self {
            Recipient::Named {
                given_name,
                family_name,
                birth_year,
            } => {
                let name = format!("{given_name} {family_name}").trim().to_owned();
                let mut objects = vec![json!({
                    "type": "IdentityObject", "identityType": "name", "hashed": false, "identityHash": name,
                })];
                if let Some(year) = birth_year {
                    objects.push(json!({
                        "type": "IdentityObject", "identityType": "ext:birthYear", "hashed": false,
                        "identityHash": year.to_string(),
                    }));
                }
                Value::Array(objects)
            }
            Recipient::Hashed { name, salt } => json!([{
                "type": "IdentityObject",
                "identityType": "name",
                "hashed": true,
                "identityHash": hashed_identity(name, salt),
                "salt": salt,
            }]),
        }
    }
}

/// OB 3.0 hashed identity: `sha256$` + lowercase hex of SHA-256 over the identity then the salt.
pub fn hashed_identity(identity: &str, salt: &str) -> String {
    let digest = Sha256::digest(format!("{identity}{salt}").as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256${hex}")
}

/// One learning record as a passport states it.
#[derive(Debug, Clone, PartialEq)]
pub struct Achievement {
    pub record_id: String,
    pub title: String,
    pub framework_code: String,
    pub subject_code: String,
    pub level_code: String,
    /// Outcome codes with their label.
    pub outcomes: Vec<(String, String)>,
    /// Absent for completions and outcomes achieved.
    pub score: Option<Score>,
    pub occurred_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub raw: f64,
    pub max: f64,
    pub scaled: Option<f64>,
    pub passed: Option<bool>,
    pub grade: String,
}

/// A signed passport.
#[derive(Debug, Clone)]
pub struct IssuedPassport {
    pub jwt: String,
    /// `urn:uuid:...`
    pub credential_id: String,
}

#[derive(Clone)]
struct TrustedKey {
    public: PublicKey,
    /// The did:key naming this very key. A passport whose `iss` is a did:key must name this one, so a
    /// trusted key can never speak for another did:key issuer.
    did: String,
    /// The issuer id a passport signed with this key must name, when the trust list binds one (a
    /// did:key kid, a did:key list, our own keys). Unbound keys (a JWKS kid that is no did) accept a
    /// non-did `iss` or their own did, as long as the credential's `issuer.id` agrees.
    issuer: Option<String>,
}

impl TrustedKey {
    fn accepts_issuer(&self, iss: &str) -> bool {
        match &self.issuer {
            Some(bound) => bound == iss,
            None => !iss.starts_with("did:key:") || iss == self.did,
        }
    }
}

/// Issuer keys a verifier accepts, by `kid`. Only Ed25519 (EdDSA) and RSA (RS256, 2048 to 4096 bits)
/// keys: never an HMAC secret, and each key pins its algorithm, so neither `none` nor HS/RS confusion
/// can pass.
#[derive(Clone, Default)]
pub struct TrustList {
    by_kid: HashMap<String, TrustedKey>,
}

impl fmt::Debug for TrustList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustList")
            .field("kids", &self.by_kid.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// One key of a JWKS, as far as a trust list reads it.
#[derive(Deserialize)]
struct JwkDoc {
    kty: String,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    d: Option<IgnoredAny>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default, rename = "use")]
    usage: Option<String>,
}

#[derive(Deserialize)]
struct JwkSetDoc {
    keys: Vec<JwkDoc>,
}

fn rsa_public_key(n: &[u8], e: &[u8]) -> Result<PublicKey, String> {
    let key = RsaPublicKey::new(BigUint::from_bytes_be(n), BigUint::from_bytes_be(e))
        .map_err(|e| format!("not a valid RSA key: {e}"))?;
    PublicKey::rsa(key)
}

impl TrustList {
    /// From a JWKS document. Every key needs a `kid`, must be a public Ed25519 or RSA signing key, and
    /// a kid that is a did:key URL must name the key it labels.
    pub fn from_jwks(text: &str) -> Result<Self, PassportError> {
        let invalid = PassportError::TrustList;
        let set: JwkSetDoc =
            serde_json::from_str(text).map_err(|e| invalid(format!("not a JWKS: {e}")))?;
        let mut list = TrustList::default();
        for jwk in &set.keys {
            let kid = jwk
                .kid
                .clone()
                .ok_or_else(|| invalid("every key needs a kid".into()))?;
            let refuse = |why: &str| invalid(format!("key {kid}: {why}"));
            if jwk.d.is_some() {
                return Err(refuse(
                    "holds private key material; publish only the public key",
                ));
            }
            if jwk.usage.as_deref().is_some_and(|u| u != "sig") {
                return Err(refuse("is not a signing key (use)"));
            }
            let base64url = |value: &Option<String>, name: &str| {
                value
                    .as_deref()
                    .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
                    .ok_or_else(|| refuse(&format!("{name} is missing or not base64url")))
            };
            let alg = jwk.alg.as_deref();
            let public = match (jwk.kty.as_str(), jwk.crv.as_deref(), alg) {
                ("OKP", Some("Ed25519"), None | Some("EdDSA")) => {
                    let x: [u8; 32] = base64url(&jwk.x, "x")?
                        .try_into()
                        .map_err(|_| refuse("x is not 32 bytes"))?;
                    PublicKey::Ed25519(
                        VerifyingKey::from_bytes(&x)
                            .map_err(|_| refuse("x is not an Ed25519 point"))?,
                    )
                }
                ("RSA", _, None | Some("RS256")) => {
                    rsa_public_key(&base64url(&jwk.n, "n")?, &base64url(&jwk.e, "e")?)
                        .map_err(|why| refuse(&why))?
                }
                _ => {
                    return Err(refuse(
                        "only Ed25519 (EdDSA) and RSA (RS256) keys are accepted",
                    ));
                }
            };
            let mut issuer = None;
            if kid.starts_with("did:key:") {
                let named = didkey::decode(&kid).map_err(|e| refuse(&e.to_string()))?;
                let same = match (&named, &public) {
                    (DidPublicKey::Ed25519(named), PublicKey::Ed25519(key)) => {
                        named == key.as_bytes()
                    }
                    (DidPublicKey::Rsa(named), PublicKey::Rsa(key)) => PublicKey::rsa_key(key)
                        .to_pkcs1_der()
                        .is_ok_and(|der| der.as_bytes() == named.as_slice()),
                    _ => false,
                };
                if !same {
                    return Err(refuse("the key is not the key the did names"));
                }
                issuer = kid.split('#').next().map(str::to_owned);
            }
            list.insert(kid, public, issuer);
        }
        if list.by_kid.is_empty() {
            return Err(invalid("the JWKS holds no keys".into()));
        }
        Ok(list)
    }

    /// From did:key identifiers (the key is in the id itself): Ed25519, or RSA of 2048 to 4096 bits,
    /// under the kid a Haven issuer of that key puts in its headers.
    pub fn from_did_keys<'a>(
        dids: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, PassportError> {
        let mut list = TrustList::default();
        for did in dids {
            let invalid = |why: String| PassportError::TrustList(format!("{did}: {why}"));
            let public = match didkey::decode(did).map_err(|e| invalid(e.to_string()))? {
                DidPublicKey::Ed25519(x) => PublicKey::Ed25519(
                    VerifyingKey::from_bytes(&x)
                        .map_err(|_| invalid("not an Ed25519 point".into()))?,
                ),
                DidPublicKey::Rsa(der) => PublicKey::rsa(
                    RsaPublicKey::from_pkcs1_der(&der)
                        .map_err(|e| invalid(format!("not an RSA public key: {e}")))?,
                )
                .map_err(invalid)?,
            };
            let did = did.split('#').next().unwrap_or(did).to_owned();
            list.insert(public.issuer_kid(), public, Some(did));
        }
        Ok(list)
    }

    fn insert(&mut self, kid: String, public: PublicKey, issuer: Option<String>) {
        let did = public.did();
        self.by_kid.insert(
            kid,
            TrustedKey {
                public,
                did,
                issuer,
            },
        );
    }

    /// Adds every key of `other`.
    pub fn extend(&mut self, other: TrustList) {
        self.by_kid.extend(other.by_kid);
    }

    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.by_kid.keys().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.by_kid.is_empty()
    }

    /// Checks a JWS compact serialization: the header's algorithm is allowed and is the one pinned to
    /// the key its `kid` names, and the signature verifies over the signing input. Returns the decoded
    /// payload (not yet parsed) with the key that signed it.
    fn verify_signature(&self, jwt: &str) -> Result<SignedPayload<'_>, PassportError> {
        let (signing_input, signature) = jwt.rsplit_once('.').ok_or(PassportError::Malformed)?;
        let (header, payload) = signing_input
            .split_once('.')
            .ok_or(PassportError::Malformed)?;
        if payload.contains('.') {
            return Err(PassportError::Malformed);
        }
        let header = URL_SAFE_NO_PAD
            .decode(header)
            .map_err(|_| PassportError::Malformed)?;
        let header: JoseHeader<'_> =
            serde_json::from_slice(&header).map_err(|_| PassportError::Malformed)?;
        if !matches!(&*header.alg, "EdDSA" | "RS256") {
            return Err(not_accepted(&header.alg));
        }
        // No extension this verifier would have to understand (RFC 7515 §4.1.11).
        if header.crit.is_some() {
            return Err(PassportError::Malformed);
        }
        if header.typ.as_deref().is_some_and(|t| t != "JWT") {
            return Err(PassportError::NotACredential("header typ is not JWT"));
        }
        let kid = header.kid.ok_or(PassportError::MissingKeyId)?;
        let (kid, key) = self
            .by_kid
            .get_key_value(&*kid)
            .ok_or(PassportError::UntrustedIssuer)?;
        if key.public.algorithm().as_str() != header.alg {
            return Err(not_accepted(&header.alg));
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| PassportError::Malformed)?;
        if !key.public.verifies(signing_input.as_bytes(), &signature) {
            return Err(PassportError::BadSignature);
        }
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| PassportError::Malformed)?;
        Ok(SignedPayload { payload, kid, key })
    }
}

/// The error for a header `alg` outside the allow-list, naming it only when it looks like an
/// algorithm name (the header is the sender's text).
fn not_accepted(alg: &str) -> PassportError {
    if alg.len() <= 16 && alg.bytes().all(|b| b.is_ascii_alphanumeric()) {
        PassportError::AlgorithmNotAccepted(alg.to_owned())
    } else {
        PassportError::Malformed
    }
}

#[derive(Deserialize)]
struct JoseHeader<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(default, borrow)]
    kid: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    typ: Option<Cow<'a, str>>,
    #[serde(default)]
    crit: Option<IgnoredAny>,
}

/// A payload whose signature verified, and the trusted key that made it.
struct SignedPayload<'t> {
    payload: Vec<u8>,
    kid: &'t str,
    key: &'t TrustedKey,
}

// --- the payload, read into borrowed typed structs ------------------------------------------------
//
// The registered claims and the credential's envelope are typed strictly: a wrong type refuses the
// passport. The achievements are read leniently, as a `Value` walk would read them: a member of an
// unexpected shape reads as absent and its result is skipped, because other issuers' OB 3.0
// credentials carry extensions this format does not describe. A duplicate member is refused anywhere.

/// The JWT claims of a passport, as read back.
#[derive(Deserialize)]
struct PassportClaims<'a> {
    #[serde(borrow)]
    iss: Cow<'a, str>,
    #[serde(default)]
    jti: Option<String>,
    #[serde(default, rename = "sub")]
    _subject: Option<String>,
    nbf: i64,
    #[serde(default)]
    exp: Option<i64>,
    #[serde(borrow)]
    vc: CredentialDoc<'a>,
}

#[derive(Deserialize)]
struct CredentialDoc<'a> {
    #[serde(default, borrow)]
    id: Text<'a>,
    #[serde(default, borrow, rename = "type")]
    types: TextList<'a>,
    #[serde(default, borrow)]
    issuer: IssuerDoc<'a>,
    #[serde(default, borrow, rename = "credentialStatus")]
    status: Lenient<StatusDoc<'a>>,
    #[serde(default, borrow, rename = "credentialSubject")]
    subject: Lenient<SubjectDoc<'a>>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct StatusDoc<'a> {
    #[serde(borrow)]
    id: Text<'a>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct ProfileDoc<'a> {
    #[serde(borrow)]
    id: Text<'a>,
    #[serde(borrow)]
    name: Text<'a>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct SubjectDoc<'a> {
    #[serde(borrow)]
    achievement: Lenient<AchievementDoc<'a>>,
    #[serde(borrow)]
    result: LenientList<Lenient<ResultDoc<'a>>>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct AchievementDoc<'a> {
    #[serde(borrow, rename = "resultDescription")]
    result_descriptions: LenientList<Lenient<ResultDescriptionDoc<'a>>>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct ResultDescriptionDoc<'a> {
    #[serde(borrow)]
    id: Text<'a>,
    #[serde(borrow)]
    name: Text<'a>,
    #[serde(borrow)]
    alignment: LenientList<Lenient<AlignmentDoc<'a>>>,
    #[serde(borrow, rename = "valueMax")]
    value_max: Text<'a>,
    #[serde(borrow, rename = "resultType")]
    result_type: Text<'a>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct AlignmentDoc<'a> {
    #[serde(borrow, rename = "targetCode")]
    target_code: Text<'a>,
    #[serde(borrow, rename = "targetFramework")]
    target_framework: Text<'a>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct ResultDoc<'a> {
    #[serde(borrow, rename = "resultDescription")]
    result_description: Text<'a>,
    #[serde(borrow)]
    value: Text<'a>,
    #[serde(borrow)]
    status: Text<'a>,
}

/// How a lenient type reads each JSON shape. Whatever a type does not override reads as its default,
/// and an object or array it does not read is drained unread.
trait ShapeRead<'de>: Sized + Default {
    fn from_str(_: Cow<'de, str>) -> Self {
        Self::default()
    }

    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        IgnoredAny.visit_map(map)?;
        Ok(Self::default())
    }

    fn from_seq<A: SeqAccess<'de>>(seq: A) -> Result<Self, A::Error> {
        IgnoredAny.visit_seq(seq)?;
        Ok(Self::default())
    }
}

/// The one visitor behind every [`ShapeRead`] type: it takes any JSON value.
struct ShapeVisitor<T>(PhantomData<T>);

impl<T> ShapeVisitor<T> {
    fn read<'de, D: Deserializer<'de>>(deserializer: D) -> Result<T, D::Error>
    where
        T: ShapeRead<'de>,
    {
        deserializer.deserialize_any(ShapeVisitor(PhantomData))
    }
}

impl<'de, T: ShapeRead<'de>> Visitor<'de> for ShapeVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<T, E> {
        Ok(T::from_str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        Ok(T::from_str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<T, E> {
        Ok(T::from_str(Cow::Owned(v)))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::from_map(map)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        T::from_seq(seq)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_none<E: de::Error>(self) -> Result<T, E> {
        Ok(T::default())
    }
}

/// A JSON string, borrowed from the payload where it has no escapes; any other value reads as absent.
#[derive(Default)]
struct Text<'a>(Option<Cow<'a, str>>);

impl Text<'_> {
    fn as_str(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl<'de: 'a, 'a> ShapeRead<'de> for Text<'a> {
    fn from_str(s: Cow<'de, str>) -> Self {
        Text(Some(s))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ShapeVisitor::read(deserializer)
    }
}

/// A string or a list of them (OB 3.0 allows either for `type`); other entries are skipped.
#[derive(Default)]
struct TextList<'a>(Vec<Cow<'a, str>>);

impl<'de: 'a, 'a> ShapeRead<'de> for TextList<'a> {
    fn from_str(s: Cow<'de, str>) -> Self {
        TextList(vec![s])
    }

    fn from_seq<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        let mut items = Vec::new();
        while let Some(Text(item)) = seq.next_element()? {
            items.extend(item);
        }
        Ok(TextList(items))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for TextList<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ShapeVisitor::read(deserializer)
    }
}

/// The credential's `issuer`: an id, or a `Profile` object with an id and a name.
#[derive(Default)]
struct IssuerDoc<'a>(ProfileDoc<'a>);

impl<'de: 'a, 'a> ShapeRead<'de> for IssuerDoc<'a> {
    fn from_str(id: Cow<'de, str>) -> Self {
        IssuerDoc(ProfileDoc {
            id: Text(Some(id)),
            name: Text(None),
        })
    }

    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        ProfileDoc::deserialize(de::value::MapAccessDeserializer::new(map)).map(IssuerDoc)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for IssuerDoc<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ShapeVisitor::read(deserializer)
    }
}

/// An object read as `T`; any other value reads as `T::default()`.
#[derive(Default)]
struct Lenient<T>(T);

impl<'de, T: Deserialize<'de> + Default> ShapeRead<'de> for Lenient<T> {
    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Lenient)
    }
}

impl<'de, T: Deserialize<'de> + Default> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ShapeVisitor::read(deserializer)
    }
}

/// An array read as `Vec<T>`; any other value reads as empty.
struct LenientList<T>(Vec<T>);

impl<T> Default for LenientList<T> {
    fn default() -> Self {
        LenientList(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> ShapeRead<'de> for LenientList<T> {
    fn from_seq<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(LenientList(items))
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for LenientList<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ShapeVisitor::read(deserializer)
    }
}

/// A passport that verified.
#[derive(Debug, Clone)]
pub struct VerifiedPassport {
    pub issuer: String,
    pub issuer_name: String,
    pub kid: String,
    pub credential_id: String,
    pub valid_from: i64,
    pub valid_until: Option<i64>,
    /// The `credentialStatus.id` (status list URL), when the passport has one.
    pub status_list_url: Option<String>,
    pub achievements: Vec<ImportedAchievement>,
}

/// One result of a verified passport, as an importer reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedAchievement {
    pub title: String,
    pub framework_code: String,
    pub subject_code: String,
    pub level_code: String,
    pub outcome_codes: Vec<String>,
    pub score: Option<Score>,
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Verifies a passport fully offline: signature by a trusted key (algorithm pinned to the key), the
/// issuer agreeing with the key and the credential, the validity period, and the credential's shape.
pub fn verify(jwt: &str, trusted: &TrustList) -> Result<VerifiedPassport, PassportError> {
    verify_at(jwt, trusted, now_secs())
}

/// [`verify`] at a given time (seconds since the Unix epoch).
pub fn verify_at(
    jwt: &str,
    trusted: &TrustList,
    now: i64,
) -> Result<VerifiedPassport, PassportError> {
    let signed = trusted.verify_signature(jwt.trim())?;
    let text = std::str::from_utf8(&signed.payload).map_err(|_| PassportError::Malformed)?;
    let claims: PassportClaims<'_> = serde_json::from_str(text).map_err(|e| {
        if e.is_data() {
            PassportError::NotACredential("claims")
        } else {
            PassportError::Malformed
        }
    })?;
    if !signed.key.accepts_issuer(&claims.iss) {
        return Err(PassportError::IssuerMismatch);
    }
    let vc = &claims.vc;
    let issuer = &vc.issuer.0;
    let issuer_id = issuer
        .id
        .as_str()
        .ok_or(PassportError::NotACredential("issuer"))?;
    if issuer_id != claims.iss {
        return Err(PassportError::IssuerMismatch);
    }
    let types = &vc.types.0;
    if !types.iter().any(|t| t == "VerifiableCredential")
        || !types
            .iter()
            .any(|t| t == "OpenBadgeCredential" || t == "AchievementCredential")
    {
        return Err(PassportError::NotACredential("type"));
    }
    let credential_id = vc
        .id
        .as_str()
        .or(claims.jti.as_deref())
        .ok_or(PassportError::NotACredential("id"))?;
    if claims
        .jti
        .as_deref()
        .is_some_and(|jti| jti != credential_id)
    {
        return Err(PassportError::NotACredential(
            "jti differs from the credential id",
        ));
    }
    if claims.nbf > now + LEEWAY_SECS {
        return Err(PassportError::NotYetValid);
    }
    if claims.exp.is_some_and(|exp| exp + LEEWAY_SECS < now) {
        return Err(PassportError::Expired);
    }
    Ok(VerifiedPassport {
        issuer: claims.iss.clone().into_owned(),
        issuer_name: issuer.name.as_str().unwrap_or_default().to_owned(),
        kid: signed.kid.to_owned(),
        credential_id: credential_id.to_owned(),
        valid_from: claims.nbf,
        valid_until: claims.exp,
        status_list_url: vc.status.0.id.as_str().map(str::to_owned),
        achievements: achievements_of(&vc.subject.0),
    })
}

/// Whether a verified passport is on a status list (the `1EdTechRevocationList` JWT its issuer
/// publishes), checked offline once the list has been fetched. The list must be signed by a trusted key
/// of the same issuer and be the list the passport points at.
pub fn is_revoked(
    passport: &VerifiedPassport,
    status_list_jwt: &str,
    trusted: &TrustList,
) -> Result<bool, PassportError> {
    let signed = trusted.verify_signature(status_list_jwt.trim())?;
    let payload: Value =
        serde_json::from_slice(&signed.payload).map_err(|_| PassportError::Malformed)?;
    let issuer = payload["iss"].as_str().unwrap_or_default();
    if issuer != passport.issuer || !signed.key.accepts_issuer(issuer) {
        return Err(PassportError::IssuerMismatch);
    }
    if payload["id"].as_str() != passport.status_list_url.as_deref() {
        return Err(PassportError::StatusListMismatch);
    }
    let revoked = payload["revokedCredentials"]
        .as_array()
        .ok_or(PassportError::NotACredential("revokedCredentials"))?;
    Ok(revoked
        .iter()
        .any(|entry| entry["id"].as_str() == Some(passport.credential_id.as_str())))
}

/// Reads the results back through their result descriptions and alignments. Results this format does
/// not describe are skipped rather than guessed at.
fn achievements_of(subject: &SubjectDoc<'_>) -> Vec<ImportedAchievement> {
    let descriptions: HashMap<&str, &ResultDescriptionDoc<'_>> = subject
        .achievement
        .0
        .result_descriptions
        .0
        .iter()
        .filter_map(|d| d.0.id.as_str().map(|id| (id, &d.0)))
        .collect();
    let mut out = Vec::with_capacity(subject.result.0.len());
    for Lenient(result) in &subject.result.0 {
        let Some(description) = result
            .result_description
            .as_str()
            .and_then(|id| descriptions.get(id))
        else {
            continue;
        };
        let mut framework_code = "";
        let mut subject_code = "";
        let mut level_code = "";
        let mut outcome_codes = Vec::new();
        for Lenient(alignment) in &description.alignment.0 {
            let code = alignment.target_code.as_str().unwrap_or_default();
            let mut parts = code.split('/');
            let (Some(subject), Some(level)) = (parts.next(), parts.next()) else {
                continue;
            };
            framework_code = alignment.target_framework.as_str().unwrap_or_default();
            subject_code = subject;
            level_code = level;
            if let Some(outcome) = parts.next() {
                outcome_codes.push(outcome.to_owned());
            }
        }
        let value = result.value.as_str().unwrap_or_default();
        let passed = match result.status.as_str() {
            Some("Failed") => Some(false),
            Some("Completed") => Some(true),
            _ => None,
        };
        let max = description
            .value_max
            .as_str()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        let score = match description.result_type.as_str() {
            Some("ScaledScore") => Some(Score {
                raw: 0.0,
                max: 0.0,
                scaled: value.parse().ok(),
                passed,
                grade: String::new(),
            }),
            Some("RawScore") => Some(Score {
                raw: value.parse().unwrap_or(0.0),
                max,
                scaled: None,
                passed,
                grade: String::new(),
            }),
            Some("LetterGrade") => Some(Score {
                raw: 0.0,
                max: 0.0,
                scaled: None,
                passed,
                grade: value.to_owned(),
            }),
            _ => None,
        };
        out.push(ImportedAchievement {
            title: description.name.as_str().unwrap_or_default().to_owned(),
            framework_code: framework_code.to_owned(),
            subject_code: subject_code.to_owned(),
            level_code: level_code.to_owned(),
            outcome_codes,
            score,
        });
    }
    out
}

/// A fresh RSA key of `bits` bits, as unencrypted PKCS#8 DER. *ring* cannot generate RSA keys, so the
/// rsa crate does, and hands the key over as PKCS#8 without ever signing with it. Generation is not
/// what RUSTSEC-2023-0071 (the Marvin attack) is about: that attack times many private-key operations
/// (decryptions or signatures) on inputs the attacker chooses, whereas a key is generated once, from
/// the operating system's randomness, on no one's input, before any request is served.
fn generate_rsa_pkcs8(bits: usize) -> Result<SecretDocument, PassportError> {
    let key = RsaPrivateKey::new(&mut rand::rngs::OsRng, bits)
        .map_err(|e| PassportError::Key(format!("RSA key generation failed: {e}")))?;
    rsa::pkcs8::EncodePrivateKey::to_pkcs8_der(&key).map_err(|e| PassportError::Key(e.to_string()))
}

fn read_key(path: &Path) -> Result<Vec<u8>, PassportError> {
    std::fs::read(path).map_err(|e| PassportError::Key(format!("{}: {e}", path.display())))
}

fn in_file(path: &Path, error: PassportError) -> PassportError {
    match error {
        PassportError::Key(why) => PassportError::Key(format!("{}: {why}", path.display())),
        other => other,
    }
}

/// The key in `path`, or a new one from `create` (key and file bytes) written there, mode 0600.
fn load_or_create_key(
    path: &Path,
    create: impl FnOnce() -> Result<(IssuerSigningKey, Vec<u8>), PassportError>,
) -> Result<IssuerSigningKey, PassportError> {
    if path.exists() {
        return IssuerSigningKey::from_pkcs8(&read_key(path)?).map_err(|e| in_file(path, e));
    }
    let io = |e: std::io::Error| PassportError::Key(format!("{}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let (key, bytes) = create()?;
    write_private(path, &bytes).map_err(io)?;
    Ok(key)
}

fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn format_number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer() -> PassportIssuer {
        PassportIssuer::from_signing_key(
            &SigningKey::from_bytes(&[7; 32]),
            "Test School Network",
            "https://haven.example.org/",
        )
    }

    fn achievement(i: usize) -> Achievement {
        Achievement {
            record_id: uuid::Uuid::now_v7().to_string(),
            title: format!("Mathematics G5 unit {i}"),
            framework_code: "HAVEN-COMMON".into(),
            subject_code: "MATH".into(),
            level_code: "G5".into(),
            outcomes: vec![(format!("M5.{i}"), "Fractions".into())],
            score: i.is_multiple_of(2).then(|| Score {
                raw: 42.0,
                max: 50.0,
                scaled: Some(84.0),
                passed: Some(true),
                grade: "B".into(),
            }),
            occurred_at: Some(1_780_000_000),
        }
    }

    fn content(n: usize, recipient: Recipient) -> PassportContent {
        PassportContent {
            credential_id: uuid::Uuid::now_v7(),
            recipient,
            achievements: (0..n).map(achievement).collect(),
            valid_from: now_secs() - 10,
            valid_until: Some(now_secs() + 3600),
            status_list_id: "1".into(),
        }
    }

    fn named() -> Recipient {
        Recipient::Named {
            given_name: "Testa".into(),
            family_name: "Example".into(),
            birth_year: Some(2015),
        }
    }

    fn segment(jwt: &str, i: usize) -> Value {
        let part = jwt.split('.').nth(i).expect("three parts");
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("json")
    }

    /// A 2048-bit RSA key for tests only (`openssl genpkey -algorithm RSA -pkeyopt
    /// rsa_keygen_bits:2048`): generating one in a debug build takes too long for a unit test.
    const TEST_RSA_KEY: &str = include_str!("../tests/fixtures/test-only-rsa-2048.pem");

    fn rsa_issuer() -> PassportIssuer {
        PassportIssuer::from_pkcs8_pem(
            TEST_RSA_KEY,
            "Test RSA School Network",
            "https://rsa.example.org",
        )
        .expect("the test RSA key")
    }

    /// The claims of `jwt`, re-signed by `issuer` after `change`.
    fn resigned(issuer: &PassportIssuer, jwt: &str, change: impl FnOnce(&mut Value)) -> String {
        let mut payload = segment(jwt, 1);
        change(&mut payload);
        issuer.sign(&payload).expect("sign")
    }

    #[test]
    fn an_issued_passport_names_its_did_key_and_verifies() {
        let issuer = issuer();
        let issued = issuer.issue(&content(3, named())).expect("issue");
        let header = segment(&issued.jwt, 0);
        assert_eq!(header["alg"], "EdDSA");
        assert_eq!(header["typ"], "JWT");
        assert_eq!(header["kid"], issuer.kid());
        assert!(issuer.kid().starts_with(&format!("{}#z6Mk", issuer.did())));
        let verified = verify(&issued.jwt, &issuer.trust_list()).expect("verifies");
        assert_eq!(verified.issuer, issuer.did());
        assert_eq!(verified.issuer_name, "Test School Network");
        assert_eq!(verified.credential_id, issued.credential_id);
        assert_eq!(
            verified.status_list_url.as_deref(),
            Some("https://haven.example.org/passports/status/1")
        );
        assert_eq!(verified.achievements.len(), 3);
        assert_eq!(verified.achievements[0].outcome_codes, vec!["M5.0"]);
        assert_eq!(
            verified.achievements[0]
                .score
                .as_ref()
                .and_then(|s| s.scaled),
            Some(84.0)
        );
    }

    #[test]
    fn the_credential_has_the_open_badges_shape() {
        let issued = issuer().issue(&content(2, named())).expect("issue");
        let payload = segment(&issued.jwt, 1);
        let vc = &payload["vc"];
        assert_eq!(vc["@context"], json!([VC_CONTEXT, OB_CONTEXT]));
        assert_eq!(
            vc["type"],
            json!(["VerifiableCredential", "OpenBadgeCredential"])
        );
        assert_eq!(vc["issuer"]["type"], json!(["Profile"]));
        assert_eq!(
            vc["credentialSubject"]["type"],
            json!(["AchievementSubject"])
        );
        assert_eq!(vc["credentialStatus"]["type"], "1EdTechRevocationList");
        assert_eq!(payload["jti"], vc["id"]);
        assert_eq!(payload["iss"], vc["issuer"]["id"]);
        assert!(
            payload["sub"]
                .as_str()
                .is_some_and(|s| s.starts_with("urn:uuid:"))
        );
    }

    #[test]
    fn a_hashed_recipient_leaves_no_name_or_birth_year_in_the_passport() {
        let recipient = Recipient::Hashed {
            name: "Testa Example".into(),
            salt: "s4lt".into(),
        };
        let issued = issuer().issue(&content(1, recipient)).expect("issue");
        let payload = segment(&issued.jwt, 1).to_string();
        assert!(!payload.contains("Testa"));
        assert!(!payload.contains("2015"));
        assert!(payload.contains(&hashed_identity("Testa Example", "s4lt")));
        assert!(hashed_identity("a", "b").starts_with("sha256$"));
    }

    #[test]
    fn tampering_with_any_byte_is_rejected() {
        let issuer = issuer();
        let trusted = issuer.trust_list();
        let issued = issuer.issue(&content(1, named())).expect("issue");
        let bytes = issued.jwt.as_bytes();
        let payload_start = issued.jwt.find('.').expect("header") + 1;
        let signature_start = issued.jwt.rfind('.').expect("signature") + 1;
        // Every byte of the header and the signature, and of the payload its ends and every 11th byte
        // between (each payload change costs a signature check, slow in debug builds).
        let positions = (0..bytes.len()).filter(|&i| {
            i < payload_start
                || i >= signature_start
                || i < payload_start + 24
                || i + 24 >= signature_start
                || i % 11 == 0
        });
        for i in positions {
            if bytes[i] == b'.' {
                continue;
            }
            let mut forged = bytes.to_vec();
            forged[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let forged = String::from_utf8(forged).expect("ascii");
            assert!(
                verify(&forged, &trusted).is_err(),
                "a change at byte {i} of {} went unnoticed",
                bytes.len()
            );
        }
    }

    /// RS256 as the rsa crate signed it before *ring* took over (`sign_with_rng`: blinded, with the
    /// same result as without), kept here only to check that the signatures did not change.
    #[allow(clippy::disallowed_types, clippy::disallowed_methods)]
    fn rsa_crate_signature(pem: &str, message: &[u8]) -> Vec<u8> {
        use rsa::pkcs8::DecodePrivateKey as _;
        use rsa::signature::{RandomizedSigner as _, SignatureEncoding as _};
        let key = RsaPrivateKey::from_pkcs8_pem(pem).expect("an RSA key");
        rsa::pkcs1v15::SigningKey::<Sha256>::new(key)
            .sign_with_rng(&mut rand::rngs::OsRng, message)
            .to_vec()
    }

    #[test]
    fn rs256_signatures_are_byte_for_byte_those_the_rsa_crate_made() {
        let issuer = rsa_issuer();
        let passport = issuer.issue(&content(200, named())).expect("issue").jwt;
        let (signing_input, _) = passport.rsplit_once('.').expect("three parts");
        for message in [
            &b""[..],
            b"eyJhbGciOiJSUzI1NiJ9.e30",
            signing_input.as_bytes(),
        ] {
            let signature = issuer.signing.sign(message).expect("sign");
            assert_eq!(signature.len(), 256, "as long as the 2048-bit modulus");
            assert_eq!(signature, rsa_crate_signature(TEST_RSA_KEY, message));
        }
        // Deterministic: the same passport signs to the same signature twice.
        assert_eq!(
            issuer.signing.sign(signing_input.as_bytes()),
            issuer.signing.sign(signing_input.as_bytes())
        );
    }

    /// *ring* signs with two-prime keys of 2048, 3072 or 4096 bits. Fixtures made with `openssl genpkey
    /// -algorithm RSA -pkeyopt rsa_keygen_bits:N`, test use only.
    #[test]
    fn an_rsa_key_of_a_size_ring_cannot_sign_with_is_refused_with_the_sizes_it_can() {
        for pem in [
            include_str!("../tests/fixtures/test-only-rsa-1024.pem"),
            include_str!("../tests/fixtures/test-only-rsa-2560.pem"),
        ] {
            assert!(matches!(
                PassportIssuer::from_pkcs8_pem(pem, "School", "https://s.example"),
                Err(PassportError::Key(why)) if why.contains("2048, 3072 or 4096 bits")
            ));
        }
        let not_rsa = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n";
        assert!(matches!(
            PassportIssuer::from_pkcs8_pem(not_rsa, "School", "https://s.example"),
            Err(PassportError::Key(why)) if why.contains("not a PKCS#8 Ed25519 or RSA private key")
        ));
    }

    #[test]
    fn an_rs256_passport_names_its_rsa_did_key_and_thumbprint_and_verifies() {
        let issuer = rsa_issuer();
        assert_eq!(issuer.algorithm(), PassportAlgorithm::Rs256);
        let issued = issuer.issue(&content(3, named())).expect("issue");
        let header = segment(&issued.jwt, 0);
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["typ"], "JWT");
        assert_eq!(header["kid"], issuer.kid());
        // A 2048-bit RSA did:key starts z4MX; the kid is a SHA-256 thumbprint, 43 base64url characters.
        assert!(issuer.did().starts_with("did:key:z4MX"), "{}", issuer.did());
        assert_eq!(issuer.kid().len(), 43);
        assert_eq!(segment(&issued.jwt, 1)["iss"], issuer.did());
        for trusted in [
            issuer.trust_list(),
            TrustList::from_jwks(&issuer.jwks_json()).expect("jwks"),
            TrustList::from_did_keys([issuer.did()]).expect("did list"),
        ] {
            let verified = verify(&issued.jwt, &trusted).expect("verifies");
            assert_eq!(verified.issuer, issuer.did());
            assert_eq!(verified.kid, issuer.kid());
            assert_eq!(verified.issuer_name, "Test RSA School Network");
            assert_eq!(verified.achievements.len(), 3);
        }
        let jwks: Value = serde_json::from_str(&issuer.jwks_json()).expect("json");
        assert_eq!(jwks["keys"][0]["kty"], "RSA");
        assert_eq!(jwks["keys"][0]["alg"], "RS256");
        assert_eq!(jwks["keys"][0]["e"], "AQAB");
        assert!(jwks["keys"][0].get("d").is_none());
        // Blinded signing is randomised, but PKCS#1 v1.5 is deterministic: the same input, the same bytes.
        assert_eq!(
            issuer.sign(&json!({"a": 1})).expect("sign"),
            issuer.sign(&json!({"a": 1})).expect("sign")
        );
    }

    /// RFC 7638 §3.1: the thumbprint of the example RSA key.
    #[test]
    fn the_rsa_kid_is_the_rfc_7638_thumbprint() {
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let key = rsa_public_key(&URL_SAFE_NO_PAD.decode(n).expect("n"), &[1, 0, 1])
            .expect("a 2048-bit key");
        assert_eq!(
            key.issuer_kid(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    /// Flips bytes in each part of the compact form, for both algorithms. A changed header fails
    /// however it fails; a changed payload or signature must fail the signature check (or base64), never
    /// get as far as the payload being read.
    #[test]
    fn a_change_in_the_header_the_payload_or_the_signature_is_refused_for_both_algorithms() {
        for issuer in [issuer(), rsa_issuer()] {
            let trusted = issuer.trust_list();
            let jwt = issuer.issue(&content(2, named())).expect("issue").jwt;
            assert!(verify(&jwt, &trusted).is_ok());
            let bytes = jwt.as_bytes();
            let payload_start = jwt.find('.').expect("header") + 1;
            let signature_start = jwt.rfind('.').expect("signature") + 1;
            let mut refused = [0usize; 3];
            for i in 0..bytes.len() {
                let class = match i {
                    i if i + 1 == payload_start || i + 1 == signature_start => continue,
                    i if i < payload_start => 0,
                    i if i < signature_start => 1,
                    _ => 2,
                };
                // Every header and signature byte; the payload at its ends and every 17th byte.
                if class == 1 && i > payload_start + 8 && i + 8 < signature_start && i % 17 != 0 {
                    continue;
                }
                let mut forged = bytes.to_vec();
                forged[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
                let forged = String::from_utf8(forged).expect("ascii");
                let outcome = verify(&forged, &trusted);
                match class {
                    0 => assert!(outcome.is_err(), "header byte {i} changed unnoticed"),
                    _ => assert!(
                        matches!(
                            outcome,
                            Err(PassportError::BadSignature | PassportError::Malformed)
                        ),
                        "{} byte {i}: {outcome:?}",
                        issuer.algorithm()
                    ),
                }
                refused[class] += 1;
            }
            assert!(refused.iter().all(|n| *n > 8), "{refused:?}");
            // Cut, padded, split or joined forms.
            let (rest, signature) = jwt.rsplit_once('.').expect("three parts");
            for forged in [
                rest.to_owned(),
                format!("{rest}."),
                format!("{jwt}."),
                format!("{jwt}="),
                format!("{rest}.{signature}.{signature}"),
                format!("{rest}.{}", &signature[..signature.len() - 1]),
                format!("{rest}.{signature}{signature}"),
                format!("{rest}.{} ", &signature[..4]) + &signature[4..],
            ] {
                assert!(verify(&forged, &trusted).is_err(), "{forged:.40}");
            }
        }
    }

    #[test]
    fn an_rs256_passport_is_refused_by_a_list_trusting_only_the_ed25519_key() {
        let rsa = rsa_issuer();
        let jwt = rsa.issue(&content(1, named())).expect("issue").jwt;
        let ed25519_only = TrustList::from_jwks(&issuer().jwks_json()).expect("jwks");
        assert_eq!(
            verify(&jwt, &ed25519_only).err(),
            Some(PassportError::UntrustedIssuer)
        );
        assert_eq!(
            verify(&jwt, &issuer().trust_list()).err(),
            Some(PassportError::UntrustedIssuer)
        );
        // The RSA key's kid with another algorithm: EdDSA, or HS256 keyed with the public key's bytes.
        let parts: Vec<&str> = jwt.split('.').collect();
        let trusted = rsa.trust_list();
        for alg in ["EdDSA", "HS256", "PS256", "none"] {
            let header = URL_SAFE_NO_PAD.encode(format!(
                r#"{{"typ":"JWT","alg":"{alg}","kid":"{}"}}"#,
                rsa.kid()
            ));
            let forged = format!("{header}.{}.{}", parts[1], parts[2]);
            assert_eq!(
                verify(&forged, &trusted).err(),
                Some(PassportError::AlgorithmNotAccepted(alg.into())),
                "{alg}"
            );
        }
    }

    #[test]
    fn a_trusted_key_cannot_speak_for_another_did_key_issuer() {
        let rsa = rsa_issuer();
        let ed25519 = issuer();
        let jwt = rsa.issue(&content(1, named())).expect("issue").jwt;
        // Trusted through a JWKS whose kid is a thumbprint: the key is bound to no issuer id ...
        let mut trusted = TrustList::from_jwks(&rsa.jwks_json()).expect("jwks");
        trusted.extend(ed25519.trust_list());
        let as_other = resigned(&rsa, &jwt, |p| {
            p["iss"] = json!(ed25519.did());
            p["vc"]["issuer"]["id"] = json!(ed25519.did());
        });
        // ... yet a did:key iss must be its own did, never another trusted issuer's.
        assert_eq!(
            verify(&as_other, &trusted).err(),
            Some(PassportError::IssuerMismatch)
        );
        // A non-did issuer id is the key holder's to choose, as long as the credential agrees.
        let as_url = resigned(&rsa, &jwt, |p| {
            p["iss"] = json!("https://school.example.org");
            p["vc"]["issuer"]["id"] = json!("https://school.example.org");
        });
        assert!(verify(&as_url, &trusted).is_ok());
        // The deployment's own list binds the key to its did.
        assert_eq!(
            verify(&as_url, &rsa.trust_list()).err(),
            Some(PassportError::IssuerMismatch)
        );
    }

    #[test]
    fn a_jwks_refuses_private_keys_small_rsa_keys_and_encryption_keys() {
        let rsa = rsa_issuer();
        let jwk = |change: &dyn Fn(&mut Value)| {
            let mut jwks: Value = serde_json::from_str(&rsa.jwks_json()).expect("json");
            change(&mut jwks["keys"][0]);
            TrustList::from_jwks(&jwks.to_string())
        };
        assert!(jwk(&|_| {}).is_ok());
        assert!(jwk(&|k| k["d"] = json!("c2VjcmV0")).is_err());
        assert!(jwk(&|k| k["use"] = json!("enc")).is_err());
        assert!(jwk(&|k| k["alg"] = json!("RS512")).is_err());
        assert!(jwk(&|k| k["n"] = json!("ud6zkBsmYDLEF6AXMOo4l7Gqy5J4O_l19GigXVLn37TBvG69aGS-w36C4clie81YNYTBgkXgdhaiBaBk2ZcArqtJLCgq7MEQIY8OFDpI3zzLVxsE6EbTAGLJItX_2_7FmmA8rFJxBdIuVPVFS1jb0An51S_5n_tnYdGyOHe0IKs")).is_err());
        // A kid naming another key's did:key.
        assert!(jwk(&|k| k["kid"] = json!(issuer().kid())).is_err());
        // The RSA did:key as the kid binds the key to it.
        let did = rsa.did().to_owned();
        let bound = jwk(&|k| k["kid"] = json!(did)).expect("a did kid");
        assert_eq!(bound.kids().collect::<Vec<_>>(), vec![rsa.did()]);
    }

    #[test]
    fn the_issuer_key_file_holds_either_algorithm_and_must_match_the_configuration() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("passport.pem");
        std::fs::write(&file, TEST_RSA_KEY).expect("write");
        let load = |algorithm| {
            PassportIssuer::load(
                dir.path(),
                algorithm,
                Some(&file),
                "School",
                "https://s.example",
            )
        };
        let rsa = load(PassportAlgorithm::Rs256).expect("an RSA key for RS256");
        assert_eq!(rsa.did(), rsa_issuer().did());
        assert!(matches!(
            load(PassportAlgorithm::EdDsa),
            Err(PassportError::Key(why)) if why.contains("RS256")
        ));
        std::fs::write(
            &file,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .expect("write");
        assert!(load(PassportAlgorithm::Rs256).is_err());
        let missing = dir.path().join("absent.pem");
        assert!(
            PassportIssuer::load(
                dir.path(),
                PassportAlgorithm::Rs256,
                Some(&missing),
                "School",
                "https://s.example"
            )
            .is_err()
        );
    }

    /// The first start with RS256 and no key path generates a 3072-bit key in the data dir (a few
    /// seconds in a debug build), mode 0600; later starts load it.
    #[test]
    fn an_rs256_deployment_generates_its_key_once_in_the_data_dir() {
        let dir = tempfile::tempdir().expect("temp dir");
        let load = || {
            PassportIssuer::load(
                dir.path(),
                PassportAlgorithm::Rs256,
                None,
                "School",
                "https://s.example",
            )
            .expect("rsa issuer")
        };
        let first = load();
        let file = dir.path().join("keys").join(RSA_ISSUER_KEY_FILE);
        let pem = std::fs::read_to_string(&file).expect("key file");
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&file).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = load();
        assert_eq!(again.did(), first.did());
        let jwks: Value = serde_json::from_str(&again.jwks_json()).expect("json");
        assert_eq!(jwks["keys"].as_array().map(Vec::len), Some(1));
        let jwt = first.issue(&content(1, named())).expect("issue").jwt;
        assert!(verify(&jwt, &again.trust_list()).is_ok());
        // The generated key signs as the rsa crate would have.
        let (signing_input, signature) = jwt.rsplit_once('.').expect("three parts");
        assert_eq!(
            URL_SAFE_NO_PAD.decode(signature).expect("base64url"),
            rsa_crate_signature(&pem, signing_input.as_bytes())
        );
    }

    #[test]
    fn switching_to_rs256_keeps_the_earlier_ed25519_passports_verifiable() {
        let dir = tempfile::tempdir().expect("temp dir");
        let before = PassportIssuer::load_or_create(dir.path(), "School", "https://s.example")
            .expect("ed25519 key");
        let old = before.issue(&content(1, named())).expect("issue").jwt;
        let file = dir.path().join("passport.pem");
        std::fs::write(&file, TEST_RSA_KEY).expect("write");
        let after = PassportIssuer::load(
            dir.path(),
            PassportAlgorithm::Rs256,
            Some(&file),
            "School",
            "https://s.example",
        )
        .expect("rsa key");
        let new = after.issue(&content(1, named())).expect("issue").jwt;
        assert_eq!(segment(&new, 0)["alg"], "RS256");
        let own = after.trust_list();
        let published = TrustList::from_jwks(&after.jwks_json()).expect("jwks");
        for trusted in [&own, &published] {
            assert_eq!(verify(&old, trusted).expect("old").issuer, before.did());
            assert_eq!(verify(&new, trusted).expect("new").issuer, after.did());
        }
        assert!(after.issued_here(before.did()) && after.issued_here(after.did()));
        assert!(!after.issued_here(issuer().did()));
        // The data dir's own key is the signer again once the configuration goes back to EdDSA.
        let back = PassportIssuer::load_or_create(dir.path(), "School", "https://s.example")
            .expect("ed25519 key");
        assert_eq!(back.did(), before.did());
        assert!(verify(&old, &back.trust_list()).is_ok());
    }

    /// Another issuer's credential with shapes this format does not use: what can be read is read, a
    /// result whose description is missing or malformed is skipped, and strings with escapes survive.
    #[test]
    fn an_unusual_but_valid_credential_reads_leniently() {
        let issuer = issuer();
        let jwt = issuer.issue(&content(1, named())).expect("issue").jwt;
        let odd = resigned(&issuer, &jwt, |p| {
            p["vc"]["type"] = json!(["VerifiableCredential", 7, "AchievementCredential"]);
            p["vc"]["issuer"] = json!(issuer.did());
            p["vc"]["credentialStatus"] = json!(["not", "an", "object"]);
            p["vc"]["extension"] = json!({ "deep": [{ "x": [1, 2, { "y": null }] }] });
            let subject = &mut p["vc"]["credentialSubject"];
            subject["achievement"]["resultDescription"] = json!([
                { "id": "urn:d1", "name": "Quoted \"title\" \u{e9}\n", "resultType": "RawScore",
                  "valueMax": 50, "alignment": { "targetCode": "MATH/G5" } },
                { "id": "urn:d2", "name": 3, "resultType": "LetterGrade",
                  "alignment": [ "odd", { "targetCode": "SCI/G4/S1", "targetFramework": "F" },
                                 { "targetCode": "nolevel" } ] },
                "not an object",
                { "name": "no id" },
            ]);
            subject["result"] = json!([
                { "resultDescription": "urn:d1", "value": "42" },
                { "resultDescription": "urn:d2", "value": "B", "status": "Failed" },
                { "resultDescription": "urn:missing" },
                { "resultDescription": 5 },
                null,
            ]);
        });
        let verified = verify(&odd, &issuer.trust_list()).expect("verifies");
        assert_eq!(verified.issuer_name, "");
        assert_eq!(verified.status_list_url, None);
        let a = &verified.achievements;
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].title, "Quoted \"title\" \u{e9}\n");
        assert_eq!(a[0].framework_code, "");
        let first = a[0].score.as_ref().expect("raw score");
        assert_eq!((first.raw, first.max), (42.0, 0.0));
        assert_eq!(a[1].title, "");
        assert_eq!(
            (
                a[1].framework_code.as_str(),
                a[1].subject_code.as_str(),
                a[1].level_code.as_str()
            ),
            ("F", "SCI", "G4")
        );
        assert_eq!(a[1].outcome_codes, vec!["S1"]);
        let second = a[1].score.as_ref().expect("grade");
        assert_eq!((second.grade.as_str(), second.passed), ("B", Some(false)));
    }

    #[test]
    fn claims_of_the_wrong_type_and_duplicate_members_are_refused() {
        let issuer = issuer();
        let trusted = issuer.trust_list();
        let jwt = issuer.issue(&content(1, named())).expect("issue").jwt;
        for change in [
            (|p: &mut Value| p["nbf"] = json!("1700000000")) as fn(&mut Value),
            |p| p["exp"] = json!(1.5),
            |p| p["iss"] = json!(["did:key:z6Mk"]),
            |p| p["jti"] = json!(7),
            |p| p["vc"] = json!("a credential"),
            |p| p["vc"]["issuer"] = json!({ "name": "no id" }),
            |p| p["vc"]["type"] = json!("VerifiableCredential"),
            |p| p["vc"]["id"] = json!("urn:uuid:another"),
        ] {
            let forged = resigned(&issuer, &jwt, change);
            assert!(
                matches!(
                    verify(&forged, &trusted),
                    Err(PassportError::NotACredential(_) | PassportError::IssuerMismatch)
                ),
                "{}",
                segment(&forged, 1)
            );
        }
        // The same member twice, as a differential parser might read either.
        let payload = URL_SAFE_NO_PAD.encode(segment(&jwt, 1).to_string().replacen(
            "{",
            r#"{"iss":"did:key:z6MkSomeoneElse","#,
            1,
        ));
        let header = jwt.split('.').next().expect("header");
        let input = format!("{header}.{payload}");
        let signature = match &issuer.signing {
            IssuerSigningKey::Ed25519(key) => key.sign(input.as_bytes()).to_bytes(),
            IssuerSigningKey::Rsa(_) => unreachable!("an Ed25519 issuer"),
        };
        let duplicated = format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature));
        assert_eq!(
            verify(&duplicated, &trusted).err(),
            Some(PassportError::NotACredential("claims"))
        );
    }

    #[test]
    fn an_unknown_key_a_none_algorithm_and_a_foreign_issuer_are_refused() {
        let issuer = issuer();
        let issued = issuer.issue(&content(1, named())).expect("issue");
        let stranger = PassportIssuer::generate("Other", "https://other.example.org");
        assert_eq!(
            verify(&issued.jwt, &stranger.trust_list()).err(),
            Some(PassportError::UntrustedIssuer)
        );
        let parts: Vec<&str> = issued.jwt.split('.').collect();
        let none_header = URL_SAFE_NO_PAD.encode(format!(
            r#"{{"alg":"none","typ":"JWT","kid":"{}"}}"#,
            issuer.kid()
        ));
        let unsigned = format!("{none_header}.{}.", parts[1]);
        assert!(verify(&unsigned, &issuer.trust_list()).is_err());
        // A credential that claims another issuer than the key's did.
        let mut payload = segment(&issued.jwt, 1);
        payload["iss"] = json!(stranger.did());
        payload["vc"]["issuer"]["id"] = json!(stranger.did());
        let forged = issuer.sign(&payload).expect("sign");
        assert_eq!(
            verify(&forged, &issuer.trust_list()).err(),
            Some(PassportError::IssuerMismatch)
        );
    }

    #[test]
    fn validity_is_checked_with_a_small_leeway() {
        let issuer = issuer();
        let mut c = content(1, named());
        c.valid_from = 1_000_000;
        c.valid_until = Some(2_000_000);
        let issued = issuer.issue(&c).expect("issue");
        let trusted = issuer.trust_list();
        assert_eq!(
            verify_at(&issued.jwt, &trusted, 900_000).err(),
            Some(PassportError::NotYetValid)
        );
        assert!(verify_at(&issued.jwt, &trusted, 1_500_000).is_ok());
        assert!(verify_at(&issued.jwt, &trusted, 2_000_030).is_ok());
        assert_eq!(
            verify_at(&issued.jwt, &trusted, 2_000_100).err(),
            Some(PassportError::Expired)
        );
    }

    #[test]
    fn a_jwks_and_a_did_key_list_trust_the_same_issuer() {
        let issuer = issuer();
        let issued = issuer.issue(&content(1, named())).expect("issue");
        let from_jwks = TrustList::from_jwks(&issuer.jwks_json()).expect("jwks");
        assert!(verify(&issued.jwt, &from_jwks).is_ok());
        let from_did = TrustList::from_did_keys([issuer.did()]).expect("did list");
        assert!(verify(&issued.jwt, &from_did).is_ok());
        // A JWKS whose kid names a different did:key than its x is refused.
        let other = PassportIssuer::generate("Other", "https://other.example.org");
        let mut jwk = issuer.key.public.jwk(issuer.kid());
        jwk["kid"] = json!(other.kid());
        let lying = json!({ "keys": [jwk] }).to_string();
        assert!(TrustList::from_jwks(&lying).is_err());
        let hmac = r#"{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"h","alg":"HS256"}]}"#;
        assert!(TrustList::from_jwks(hmac).is_err());
    }

    #[test]
    fn a_revoked_passport_is_on_its_signed_status_list() {
        let issuer = issuer();
        let trusted = issuer.trust_list();
        let issued = issuer.issue(&content(1, named())).expect("issue");
        let verified = verify(&issued.jwt, &trusted).expect("verifies");
        let empty = issuer
            .status_list_credential("1", &[], now_secs())
            .expect("sign");
        assert_eq!(is_revoked(&verified, &empty, &trusted), Ok(false));
        let listed = issuer
            .status_list_credential("1", std::slice::from_ref(&issued.credential_id), now_secs())
            .expect("sign");
        assert_eq!(is_revoked(&verified, &listed, &trusted), Ok(true));
        let other_list = issuer
            .status_list_credential("2", std::slice::from_ref(&issued.credential_id), now_secs())
            .expect("sign");
        assert_eq!(
            is_revoked(&verified, &other_list, &trusted),
            Err(PassportError::StatusListMismatch)
        );
    }

    #[test]
    fn a_passport_of_two_hundred_achievements_issues_and_verifies_whole() {
        // How long this takes is measured by haven-passport-bench (BENCHMARKS.md), not here.
        let issuer = issuer();
        let trusted = issuer.trust_list();
        let c = content(200, named());
        let issued = issuer.issue(&c).expect("issue");
        let verified = verify(&issued.jwt, &trusted).expect("verifies");
        assert_eq!(verified.achievements.len(), 200);
        let titles: Vec<_> = verified
            .achievements
            .iter()
            .map(|a| a.title.clone())
            .collect();
        let expected: Vec<_> = c.achievements.iter().map(|a| a.title.clone()).collect();
        assert_eq!(titles, expected, "every achievement comes back, in order");
    }
}
