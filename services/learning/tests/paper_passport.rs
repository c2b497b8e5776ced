//! A printed passport's scanned QR codes are as good as the JWT: VerifyPassport and ImportPassport take
//! the codes' text, in any order, and refuse it when a code is missing or changed.

mod common;
use common::*;
use haven_proto::learning::*;
use tonic::Code;

#[tokio::test]
async fn scanned_codes_verify_and_import_like_the_jwt_and_a_damaged_scan_is_refused() {
    let first = Harness::start().await;
    let teacher = first.token("educator", "teacher-paper", "school-paper");
    first.import_example_framework(&teacher).await;
    let child = first.child("cw-paper", "agency-paper").await;
    first.enrol(&teacher, &child).await;
    for n in 0..40 {
        record(
            &mut first.client(),
            &teacher,
            maths_assessment(&child, 40.0 + f64::from(n)),
        )
        .await
        .expect("recorded");
    }
    let passport = first
        .client()
        .issue_passport(authed(
            &teacher,
            IssuePassportRequest {
                child_id: child.clone(),
                recipient: Some(PassportRecipient {
                    given_name: "Papergiven".into(),
                    family_name: "Paperfamily".into(),
                    birth_year: 2014,
                    hashed: false,
                }),
                valid_days: 365,
            },
        ))
        .await
        .expect("issued")
        .into_inner();
    let printed = haven_learning::print::print(&passport.jwt).expect("printed");
    assert!(
        printed.codes.len() >= 2,
        "40 records take more than one code"
    );
    let mut scanned = printed.codes.clone();
    scanned.reverse();
    let scanned = scanned.join("\n");

    let verification = first
        .client()
        .verify_passport(authed(
            &teacher,
            VerifyPassportRequest {
                jwt: scanned.clone(),
            },
        ))
        .await
        .expect("verified")
        .into_inner();
    assert!(verification.valid, "{}", verification.error);
    assert_eq!(verification.credential_id, passport.credential_id);

    // One code missing: refused, naming the field.
    let partial = printed.codes[1..].join("\n");
    let refused = first
        .client()
        .verify_passport(authed(&teacher, VerifyPassportRequest { jwt: partial }))
        .await
        .expect_err("a code is missing");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(refused.message().contains("jwt"), "{}", refused.message());

    let trust =
        haven_learning::TrustList::from_jwks(&first.service.issuer().jwks_json()).expect("jwks");
    let second = Harness::start_trusting(Some(trust)).await;
    let local_teacher = second.token("educator", "teacher-there", "school-there");
    let there = second.child("cw-there", "agency-there").await;
    second.enrol(&local_teacher, &there).await;
    let imported = second
        .client()
        .import_passport(authed(
            &local_teacher,
            ImportPassportRequest {
                request_id: "paper-import".into(),
                child_id: there.clone(),
                jwt: scanned,
            },
        ))
        .await
        .expect("imported from paper")
        .into_inner();
    assert_eq!(imported.records.len(), 40, "every achievement came across");
    second.stop().await;
    first.stop().await;
}
