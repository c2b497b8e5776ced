//! Key material of passport issuers: the Ed25519 and RSA keys, how they are read from PKCS#8 and
//! generated, the one JWS algorithm each key signs, and the names (did:key, kid) it goes by.

use std::fmt;
use std::path::Path;

use haven_keyfile::Zeroizing;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::DecodePrivateKey as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use rsa::pkcs1::{DecodeRsaPublicKey as _, EncodeRsaPublicKey as _};
use rsa::pkcs8::SecretDocument;
use rsa::signature::Verifier as _;
use rsa::traits::PublicKeyParts as _;
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::{Digest as _, Sha256};

use crate::PassportError;
use crate::didkey;

/// The JWS algorithm of passports and status lists: the JOSE `alg` of the key that signs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Algorithm {
    /// Ed25519: small, fast, constant-time signing. The default.
    #[default]
    EdDsa,
    /// RSA PKCS#1 v1.5 with SHA-256, signed with ring's constant-time RSA (never the `rsa` crate, whose
    /// private-key operations are not constant-time: RUSTSEC-2023-0071). Open Badges 3.0's minimum.
    Rs256,
}

impl Algorithm {
    /// The JOSE name: `EdDSA` or `RS256`.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::EdDsa => "EdDSA",
            Algorithm::Rs256 => "RS256",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Algorithm {
    type Err = String;

    /// From the JOSE name, exactly as written (`EdDSA` or `RS256`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "EdDSA" => Ok(Algorithm::EdDsa),
            "RS256" => Ok(Algorithm::Rs256),
            other => Err(format!("{other:?} is not \"EdDSA\" or \"RS256\"")),
        }
    }
}

/// RFC 7518 §3.3: RS256 keys of fewer bits must not be used.
pub const MIN_RSA_BITS: usize = 2048;
/// The largest RSA key accepted, to keep a hostile trust list or key file from costing seconds.
pub const MAX_RSA_BITS: usize = 4096;
/// Size of a generated RSA issuer key: about the 128-bit security of Ed25519 (NIST SP 800-57).
pub const GENERATED_RSA_BITS: usize = 3072;

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
pub(crate) enum PublicKey {
    Ed25519(VerifyingKey),
    Rsa(rsa::pkcs1v15::VerifyingKey<Sha256>),
}

impl PublicKey {
    /// An RSA key of an accepted size.
    pub(crate) fn rsa(key: RsaPublicKey) -> Result<Self, String> {
        rsa_size_accepted(key.n().bits())?;
        Ok(PublicKey::Rsa(rsa::pkcs1v15::VerifyingKey::new(key)))
    }

    pub(crate) fn rsa_key(key: &rsa::pkcs1v15::VerifyingKey<Sha256>) -> &RsaPublicKey {
        key.as_ref()
    }

    /// The JWS `alg` this key verifies, and only this one.
    pub(crate) fn algorithm(&self) -> Algorithm {
        match self {
            PublicKey::Ed25519(_) => Algorithm::EdDsa,
            PublicKey::Rsa(_) => Algorithm::Rs256,
        }
    }

    /// The did:key naming this key.
    pub(crate) fn did(&self) -> String {
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
    pub(crate) fn issuer_kid(&self) -> String {
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

    /// Whether `signature` (raw bytes) signs `signing_input` under this key. Ed25519 is checked
    /// strictly (no small-order keys or R, canonical S); RSA is PKCS#1 v1.5 with SHA-256, and a
    /// signature must be exactly as long as the modulus.
    pub(crate) fn verifies(&self, signing_input: &[u8], signature: &[u8]) -> bool {
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
pub(crate) enum IssuerSigningKey {
    Ed25519(SigningKey),
    Rsa(RsaSigningKey),
}

/// An RSA issuer key. It signs through *ring*, whose private-key operation is constant-time (both CRT
/// exponentiations are ring's `elem_exp_consttime`) and is checked against the public key before the
/// signature is released. The `rsa` crate, whose private-key operation leaks timing (RUSTSEC-2023-0071,
/// the Marvin attack), never signs with this key: it only generates keys (see
/// [`crate::PassportIssuer::generate_rsa`]) and verifies with public keys.
pub(crate) struct RsaSigningKey {
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
    pub(crate) fn from_pkcs8(bytes: &[u8]) -> Result<Self, PassportError> {
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

    pub(crate) fn public(&self) -> PublicKey {
        match self {
            IssuerSigningKey::Ed25519(key) => PublicKey::Ed25519(key.verifying_key()),
            IssuerSigningKey::Rsa(key) => {
                PublicKey::Rsa(rsa::pkcs1v15::VerifyingKey::new(key.public.clone()))
            }
        }
    }

    /// The one JWS `alg` this key signs.
    pub(crate) fn algorithm(&self) -> Algorithm {
        match self {
            IssuerSigningKey::Ed25519(_) => Algorithm::EdDsa,
            IssuerSigningKey::Rsa(_) => Algorithm::Rs256,
        }
    }

    /// The raw JWS signature over `signing_input`.
    pub(crate) fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, PassportError> {
        match self {
            IssuerSigningKey::Ed25519(key) => Ok(key.sign(signing_input).to_bytes().to_vec()),
            IssuerSigningKey::Rsa(key) => key.sign(signing_input),
        }
    }
}

/// One key of the issuer, with the names verifiers know it by.
#[derive(Clone)]
pub(crate) struct IssuerKey {
    pub(crate) public: PublicKey,
    pub(crate) did: String,
    pub(crate) kid: String,
}

impl IssuerKey {
    pub(crate) fn new(public: PublicKey) -> Self {
        IssuerKey {
            did: public.did(),
            kid: public.issuer_kid(),
            public,
        }
    }
}

/// A fresh RSA key of `bits` bits, as unencrypted PKCS#8 DER. *ring* cannot generate RSA keys, so the
/// rsa crate does, and hands the key over as PKCS#8 without ever signing with it. Generation is not
/// what RUSTSEC-2023-0071 (the Marvin attack) is about: that attack times many private-key operations
/// (decryptions or signatures) on inputs the attacker chooses, whereas a key is generated once, from
/// the operating system's randomness, on no one's input, before any request is served.
pub(crate) fn generate_rsa_pkcs8(bits: usize) -> Result<SecretDocument, PassportError> {
    let key = RsaPrivateKey::new(&mut rand::rngs::OsRng, bits)
        .map_err(|e| PassportError::Key(format!("RSA key generation failed: {e}")))?;
    rsa::pkcs8::EncodePrivateKey::to_pkcs8_der(&key).map_err(|e| PassportError::Key(e.to_string()))
}

/// The bytes of a private key file (warning, but still loading, when group or others may read it).
pub(crate) fn read_key(path: &Path) -> Result<Zeroizing<Vec<u8>>, PassportError> {
    Ok(haven_keyfile::read(path)?)
}

pub(crate) fn in_file(path: &Path, error: PassportError) -> PassportError {
    match error {
        PassportError::Key(why) => PassportError::Key(format!("{}: {why}", path.display())),
        other => other,
    }
}

/// The key in `path`, or a new one from `create` (the file's bytes) written there, mode 0600, atomically
/// and never over another process's key (see `haven_keyfile`).
pub(crate) fn load_or_create_key(
    path: &Path,
    create: impl FnOnce() -> Result<Zeroizing<Vec<u8>>, PassportError>,
) -> Result<IssuerSigningKey, PassportError> {
    let bytes = haven_keyfile::load_or_create(path, create)?;
    IssuerSigningKey::from_pkcs8(&bytes).map_err(|e| in_file(path, e))
}

impl From<haven_keyfile::KeyFileError> for PassportError {
    fn from(error: haven_keyfile::KeyFileError) -> Self {
        PassportError::Key(format!("{}: {}", error.path.display(), error.source))
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;
    use crate::PassportIssuer;
    use crate::jwks::rsa_public_key;
    use crate::test_support::*;

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
}
