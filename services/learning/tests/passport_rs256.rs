//! RS256 passports between deployments, over gRPC: a deployment that trusts only an Ed25519 issuer
//! refuses an RS256 passport, and one that trusts the RSA issuer's published JWKS verifies and imports
//! it. The passport is signed in process with a fixed test key (crates/passport/tests/fixtures), as an
//! RS256 deployment would sign it.

mod common;

use common::*;
use haven_learning::{PassportIssuer, TrustList};
use haven_proto::learning::*;
use tonic::Code;

fn rs256_issuer() -> PassportIssuer {
    PassportIssuer::from_pkcs8_pem(
        include_str!("../../../crates/passport/tests/fixtures/test-only-rsa-2048.pem"),
        "RSA Learning Network",
        "https://rsa.test.example",
    )
    .expect("the test RSA key")
}

async fn verify_and_import(
    h: &Harness,
    jwt: &str,
) -> (
    PassportVerification,
    Result<ImportPassportResponse, tonic::Status>,
) {
    let teacher = h.token("educator", "teacher-2", "school-z");
    let learner = h.child("cw-2", "agency-2").await;
    h.enrol(&teacher, &learner).await;
    let verification = h
        .client()
        .verify_passport(authed(&teacher, VerifyPassportRequest { jwt: jwt.into() }))
        .await
        .expect("verify answers")
        .into_inner();
    let imported = h
        .client()
        .import_passport(authed(
            &teacher,
            ImportPassportRequest {
                request_id: "imp-rs256".into(),
                child_id: learner,
                jwt: jwt.into(),
            },
        ))
        .await
        .map(tonic::Response::into_inner);
    (verification, imported)
}

#[tokio::test]
async fn a_deployment_trusting_only_an_ed25519_issuer_refuses_an_rs256_passport() {
    let issuer = rs256_issuer();
    let jwt = one_record_passport(&issuer, None);
    let ed25519 = PassportIssuer::generate("Ed25519 Network", "https://ed.test.example");
    let h = Harness::start_trusting(Some(
        TrustList::from_jwks(&ed25519.jwks_json()).expect("jwks"),
    ))
    .await;
    let (verification, imported) = verify_and_import(&h, &jwt).await;
    assert!(!verification.valid);
    assert_eq!(verification.error, "issuer key is not trusted");
    assert_eq!(
        imported.expect_err("untrusted").code(),
        Code::InvalidArgument
    );
    h.stop().await;
}

#[tokio::test]
async fn a_deployment_trusting_the_rsa_issuers_jwks_verifies_and_imports_its_passport() {
    let issuer = rs256_issuer();
    let jwt = one_record_passport(&issuer, None);
    let h = Harness::start_trusting(Some(
        TrustList::from_jwks(&issuer.jwks_json()).expect("jwks"),
    ))
    .await;
    let (verification, imported) = verify_and_import(&h, &jwt).await;
    assert!(verification.valid, "{}", verification.error);
    assert_eq!(verification.issuer, issuer.did());
    assert_eq!(verification.kid, issuer.kid());
    assert_eq!(verification.achievements, 1);
    // Another issuer's passport: this deployment cannot know whether it is revoked.
    assert!(!verification.revocation_checked);
    let imported = imported.expect("import");
    assert_eq!(imported.issuer, issuer.did());
    assert_eq!(imported.records.len(), 1);
    h.stop().await;
}
