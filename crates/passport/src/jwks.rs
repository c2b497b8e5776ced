//! JSON Web Keys: the issuer's public keys as a JWKS for other deployments and standard JOSE tools,
//! and another issuer's JWKS read into keys a trust list can hold.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::VerifyingKey;
use rsa::pkcs1::EncodeRsaPublicKey as _;
use rsa::traits::PublicKeyParts as _;
use rsa::{BigUint, RsaPublicKey};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};

use crate::PassportError;
use crate::didkey::{self, DidPublicKey};
use crate::keys::PublicKey;

impl PublicKey {
    /// The public JWK of this key under `kid`, with its one `alg` and `use: sig`.
    pub(crate) fn jwk(&self, kid: &str) -> Value {
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

/// One key read from a JWKS: its kid, the key, and the issuer id it is bound to, if its kid is a
/// did:key URL (which must then name this very key).
pub(crate) struct JwkEntry {
    pub(crate) kid: String,
    pub(crate) public: PublicKey,
    pub(crate) issuer: Option<String>,
}

/// Reads a JWKS document. Every key needs a `kid`, must be a public Ed25519 or RSA signing key, and a
/// kid that is a did:key URL must name the key it labels.
pub(crate) fn read(text: &str) -> Result<Vec<JwkEntry>, PassportError> {
    let invalid = PassportError::TrustList;
    let set: JwkSetDoc =
        serde_json::from_str(text).map_err(|e| invalid(format!("not a JWKS: {e}")))?;
    let mut keys = Vec::with_capacity(set.keys.len());
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
                (DidPublicKey::Ed25519(named), PublicKey::Ed25519(key)) => named == key.as_bytes(),
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
        keys.push(JwkEntry {
            kid,
            public,
            issuer,
        });
    }
    Ok(keys)
}

/// An RSA public key of an accepted size, from its big-endian modulus and exponent.
pub(crate) fn rsa_public_key(n: &[u8], e: &[u8]) -> Result<PublicKey, String> {
    let key = RsaPublicKey::new(BigUint::from_bytes_be(n), BigUint::from_bytes_be(e))
        .map_err(|e| format!("not a valid RSA key: {e}"))?;
    PublicKey::rsa(key)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::test_support::*;
    use crate::{PassportIssuer, TrustList, verify};

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
}
