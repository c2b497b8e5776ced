//! What the unit tests share: a fixed Ed25519 issuer and an RSA one, synthetic passport content (never
//! a real child's data), and ways to take a compact JWS apart and sign it again.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use rsa::RsaPrivateKey;
use serde_json::Value;
use sha2::Sha256;

use crate::credential::now_secs;
use crate::{Achievement, PassportContent, PassportIssuer, Recipient, Score};

pub(crate) fn issuer() -> PassportIssuer {
    PassportIssuer::from_signing_key(
        &SigningKey::from_bytes(&[7; 32]),
        "Test School Network",
        "https://haven.example.org/",
    )
}

pub(crate) fn achievement(i: usize) -> Achievement {
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

pub(crate) fn content(n: usize, recipient: Recipient) -> PassportContent {
    PassportContent {
        credential_id: uuid::Uuid::now_v7(),
        recipient,
        achievements: (0..n).map(achievement).collect(),
        valid_from: now_secs() - 10,
        valid_until: Some(now_secs() + 3600),
        status_list_id: "1".into(),
    }
}

pub(crate) fn named() -> Recipient {
    Recipient::Named {
        given_name: "Testa".into(),
        family_name: "Example".into(),
        birth_year: Some(2015),
    }
}

pub(crate) fn segment(jwt: &str, i: usize) -> Value {
    let part = jwt.split('.').nth(i).expect("three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("json")
}

/// A 2048-bit RSA key for tests only (`openssl genpkey -algorithm RSA -pkeyopt
/// rsa_keygen_bits:2048`): generating one in a debug build takes too long for a unit test.
pub(crate) const TEST_RSA_KEY: &str = include_str!("../tests/fixtures/test-only-rsa-2048.pem");

pub(crate) fn rsa_issuer() -> PassportIssuer {
    PassportIssuer::from_pkcs8_pem(
        TEST_RSA_KEY,
        "Test RSA School Network",
        "https://rsa.example.org",
    )
    .expect("the test RSA key")
}

/// The claims of `jwt`, re-signed by `issuer` after `change`.
pub(crate) fn resigned(
    issuer: &PassportIssuer,
    jwt: &str,
    change: impl FnOnce(&mut Value),
) -> String {
    let mut payload = segment(jwt, 1);
    change(&mut payload);
    issuer.sign(&payload).expect("sign")
}

/// RS256 as the rsa crate signed it before *ring* took over (`sign_with_rng`: blinded, with the
/// same result as without), kept here only to check that the signatures did not change.
#[allow(clippy::disallowed_types, clippy::disallowed_methods)]
pub(crate) fn rsa_crate_signature(pem: &str, message: &[u8]) -> Vec<u8> {
    use rsa::pkcs8::DecodePrivateKey as _;
    use rsa::signature::{RandomizedSigner as _, SignatureEncoding as _};
    let key = RsaPrivateKey::from_pkcs8_pem(pem).expect("an RSA key");
    rsa::pkcs1v15::SigningKey::<Sha256>::new(key)
        .sign_with_rng(&mut rand::rngs::OsRng, message)
        .to_vec()
}
