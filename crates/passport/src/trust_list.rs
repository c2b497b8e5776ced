//! Trust lists: the issuer keys a verifier accepts (from a JWKS, a list of did:key ids, or an issuer's
//! own keys), each pinned to its algorithm and bound to the issuer it may speak for, and the check of a
//! compact JWS's signature against them.

use std::collections::HashMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::VerifyingKey;
use rsa::RsaPublicKey;
use rsa::pkcs1::DecodeRsaPublicKey as _;

use crate::PassportError;
use crate::didkey::{self, DidPublicKey};
use crate::jwks;
use crate::jws::{Compact, not_accepted};
use crate::keys::PublicKey;

/// A key a trust list holds, with the issuer it may speak for.
#[derive(Clone)]
pub(crate) struct TrustedKey {
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
    pub(crate) fn accepts_issuer(&self, iss: &str) -> bool {
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

impl TrustList {
    /// From a JWKS document. Every key needs a `kid`, must be a public Ed25519 or RSA signing key, and
    /// a kid that is a did:key URL must name the key it labels.
    pub fn from_jwks(text: &str) -> Result<Self, PassportError> {
        let mut list = TrustList::default();
        for key in jwks::read(text)? {
            list.insert(key.kid, key.public, key.issuer);
        }
        if list.by_kid.is_empty() {
            return Err(PassportError::TrustList("the JWKS holds no keys".into()));
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

    pub(crate) fn insert(&mut self, kid: String, public: PublicKey, issuer: Option<String>) {
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
    pub(crate) fn verify_signature(&self, jwt: &str) -> Result<SignedPayload<'_>, PassportError> {
        let Compact {
            signing_input,
            payload,
            signature,
            alg,
            kid,
        } = Compact::parse(jwt)?;
        let kid = kid.ok_or(PassportError::MissingKeyId)?;
        let (kid, key) = self
            .by_kid
            .get_key_value(&kid)
            .ok_or(PassportError::UntrustedIssuer)?;
        if key.public.algorithm().as_str() != alg {
            return Err(not_accepted(&alg));
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

/// A payload whose signature verified, and the trusted key that made it.
pub(crate) struct SignedPayload<'t> {
    pub(crate) payload: Vec<u8>,
    pub(crate) kid: &'t str,
    pub(crate) key: &'t TrustedKey,
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;

    use super::*;
    use crate::test_support::*;
    use crate::{PassportIssuer, verify};

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
}
