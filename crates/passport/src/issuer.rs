//! The deployment's passport issuer: its signing key, the names verifiers know it by, the public keys
//! it publishes, and the key files under the data dir that hold it between starts.

use std::fmt;
use std::path::Path;

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey as _;
use haven_keyfile::Zeroizing;
use rsa::RsaPrivateKey;
use rsa::pkcs8::LineEnding;
use serde::Serialize;
use serde_json::{Value, json};

use crate::keys::{
    Algorithm, GENERATED_RSA_BITS, IssuerKey, IssuerSigningKey, generate_rsa_pkcs8, in_file,
    load_or_create_key, read_key,
};
use crate::{PassportError, TrustList, jws};

/// The data dir's Ed25519 key (PKCS#8 DER) and RSA key (PKCS#8 PEM), under `<data_dir>/keys/`.
const ISSUER_KEY_FILE: &str = "passport-issuer-key.p8";
pub(crate) const RSA_ISSUER_KEY_FILE: &str = "passport-issuer-rsa.pem";

/// The deployment's passport signing key, identified by its did:key: Ed25519 (EdDSA) by default, RSA
/// (RS256) when configured. Kept apart from the token signing key, so a passport can never pass for an
/// access token and the two rotate separately.
pub struct PassportIssuer {
    pub(crate) signing: IssuerSigningKey,
    pub(crate) key: IssuerKey,
    /// Public halves of the deployment's other passport keys (say, the Ed25519 key it signed with before
    /// switching to RS256): still published and trusted, so passports issued with them keep verifying.
    earlier: Vec<IssuerKey>,
    pub(crate) name: String,
    pub(crate) public_base: String,
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
        Self::load(data_dir, Algorithm::EdDsa, None, name, public_base)
    }

    /// The deployment's issuer, as configured: the key at `key_path` (PKCS#8 PEM, Ed25519 or RSA, and
    /// it must be of `algorithm`), or else the data dir's key of `algorithm`, created (mode 0600) on
    /// first use: `<data_dir>/keys/passport-issuer-key.p8` (Ed25519) or
    /// `<data_dir>/keys/passport-issuer-rsa.pem` (RSA, 3072 bits). The data dir's other passport key,
    /// if there is one, stays published and trusted (see [`PassportIssuer::jwks_json`]), so switching
    /// algorithms leaves earlier passports verifiable; delete its file to retire it.
    ///
    /// `algorithm` is an [`Algorithm`] or anything that displays as its JOSE name (`EdDSA`, `RS256`),
    /// such as the deployment configuration's `Algorithm`: that type lives in haven-platform,
    /// beside the database code this crate keeps out of its dependencies.
    pub fn load(
        data_dir: &Path,
        algorithm: impl fmt::Display,
        key_path: Option<&Path>,
        name: &str,
        public_base: &str,
    ) -> Result<Self, PassportError> {
        let algorithm: Algorithm = algorithm
            .to_string()
            .parse()
            .map_err(|why| PassportError::Key(format!("the passport algorithm {why}")))?;
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
            (None, Algorithm::EdDsa) => load_or_create_key(&ed25519_file, || {
                let der = SigningKey::generate(&mut rand::rngs::OsRng)
                    .to_pkcs8_der()
                    .map_err(|e| PassportError::Key(e.to_string()))?;
                Ok(Zeroizing::new(der.as_bytes().to_vec()))
            })?,
            (None, Algorithm::Rs256) => load_or_create_key(&rsa_file, || {
                tracing::info!(
                    bits = GENERATED_RSA_BITS,
                    path = %rsa_file.display(),
                    "generating the RS256 passport issuer key"
                );
                let der = generate_rsa_pkcs8(GENERATED_RSA_BITS)?;
                let pem = der
                    .to_pem("PRIVATE KEY", LineEnding::LF)
                    .map_err(|e| PassportError::Key(e.to_string()))?;
                Ok(Zeroizing::new(pem.as_bytes().to_vec()))
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
    pub fn algorithm(&self) -> Algorithm {
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

    /// JWS compact serialization of `claims`, signed with the issuer key.
    pub(crate) fn sign(&self, claims: &impl Serialize) -> Result<String, PassportError> {
        jws::sign(&self.signing, &self.key.kid, claims)
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::Value;

    use super::*;
    use crate::test_support::*;
    use crate::verify;

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
        let rsa = load(Algorithm::Rs256).expect("an RSA key for RS256");
        assert_eq!(rsa.did(), rsa_issuer().did());
        assert!(matches!(
            load(Algorithm::EdDsa),
            Err(PassportError::Key(why)) if why.contains("RS256")
        ));
        std::fs::write(
            &file,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .expect("write");
        assert!(load(Algorithm::Rs256).is_err());
        let missing = dir.path().join("absent.pem");
        assert!(
            PassportIssuer::load(
                dir.path(),
                Algorithm::Rs256,
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
                Algorithm::Rs256,
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
            Algorithm::Rs256,
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

    #[test]
    fn the_algorithm_is_taken_by_its_jose_name_and_an_unknown_one_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let load = |algorithm: &str| {
            PassportIssuer::load(dir.path(), algorithm, None, "School", "https://s.example")
        };
        assert_eq!(load("EdDSA").expect("EdDSA").algorithm(), Algorithm::EdDsa);
        for unknown in ["HS256", "eddsa", ""] {
            assert!(
                matches!(load(unknown), Err(PassportError::Key(why)) if why.contains("is not")),
                "{unknown:?}"
            );
        }
    }
}
