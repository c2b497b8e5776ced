//! The JWS compact serialization (RFC 7515) of passports and status lists: how the issuer signs one,
//! and how a verifier takes one apart and checks its header before any key is looked up.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use crate::PassportError;
use crate::keys::IssuerSigningKey;

/// The JOSE header of every passport and status list.
#[derive(Serialize)]
struct JoseHeaderOut<'a> {
    typ: &'static str,
    alg: &'static str,
    kid: &'a str,
}

/// `claims` as a compact JWS, signed by `signing` and naming it `kid`: the header is
/// `{"typ":"JWT","alg":...,"kid":...}` in that order, every part base64url without padding.
pub(crate) fn sign(
    signing: &IssuerSigningKey,
    kid: &str,
    claims: &impl Serialize,
) -> Result<String, PassportError> {
    let header = serde_json::to_vec(&JoseHeaderOut {
        typ: "JWT",
        alg: signing.algorithm().as_str(),
        kid,
    })
    .map_err(|e| PassportError::Key(e.to_string()))?;
    let payload = serde_json::to_vec(claims).map_err(|e| PassportError::Key(e.to_string()))?;
    let mut jwt = String::with_capacity((header.len() + payload.len()) * 4 / 3 + 700);
    URL_SAFE_NO_PAD.encode_string(&header, &mut jwt);
    jwt.push('.');
    URL_SAFE_NO_PAD.encode_string(&payload, &mut jwt);
    let signature = signing.sign(jwt.as_bytes())?;
    jwt.push('.');
    URL_SAFE_NO_PAD.encode_string(&signature, &mut jwt);
    Ok(jwt)
}

/// A compact JWS whose header passed the checks that need no key: three parts, an allowed `alg`, no
/// `crit`, a `typ` of JWT if any. Nothing here has been verified yet.
pub(crate) struct Compact<'j> {
    /// `header.payload`, exactly as received: what the signature covers.
    pub(crate) signing_input: &'j str,
    pub(crate) payload: &'j str,
    pub(crate) signature: &'j str,
    /// The header's `alg`: `EdDSA` or `RS256`.
    pub(crate) alg: String,
    /// The header's `kid`, if it names one.
    pub(crate) kid: Option<String>,
}

impl<'j> Compact<'j> {
    pub(crate) fn parse(jwt: &'j str) -> Result<Self, PassportError> {
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
        Ok(Compact {
            signing_input,
            payload,
            signature,
            alg: header.alg.into_owned(),
            kid: header.kid.map(Cow::into_owned),
        })
    }
}

/// The error for a header `alg` outside the allow-list, naming it only when it looks like an
/// algorithm name (the header is the sender's text).
pub(crate) fn not_accepted(alg: &str) -> PassportError {
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

#[cfg(test)]
mod tests {
    use crate::test_support::*;
    use crate::{PassportError, verify};

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
}
