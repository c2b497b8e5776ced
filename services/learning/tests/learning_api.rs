//! The learning service over gRPC: who may do what, records and corrections, progress, audit and outbox,
//! passports end to end, import between deployments, erasure.

mod common;

use base64::Engine as _;
use common::*;
use haven_proto::learning::*;
use sea_orm::{EntityTrait, PaginatorTrait};
use tonic::Code;

const SCHOOL_A: &str = "school-a";
const SCHOOL_B: &str = "school-b";
const AGENCY: &str = "agency-1";

#[tokio::test]
async fn an_educator_enrols_records_two_subjects_and_reads_progress() {
    let h = Harness::start().await;
    let teacher = h.token("educator", "teacher-1", SCHOOL_A);
    h.import_example_framework(&teacher).await;
    let child = h.child("cw-1", AGENCY).await;
    let enrolment = h.enrol(&teacher, &child).await;
    assert_eq!(enrolment.organisation, SCHOOL_A);
    assert_eq!(enrolment.status, EnrolmentStatus::Active as i32);
    let mut client = h.client();
    let maths = record(&mut client, &teacher, maths_assessment(&child, 78.0))
        .await
        .expect("maths");
    assert_eq!(maths.organisation, SCHOOL_A);
    assert_eq!(maths.recorded_by, "teacher-1");
    assert_eq!(maths.recorder_role, "educator");
    record(&mut client, &teacher, science_completion(&child))
        .await
        .expect("science");
    let progress = client
        .get_progress(authed(
            &teacher,
            GetProgressRequest {
                child_id: child.clone(),
            },
        ))
        .await
        .expect("progress")
        .into_inner();
    assert_eq!(progress.subjects.len(), 2);
    let m = &progress.subjects[0];
    assert_eq!(
        (m.subject_code.as_str(), m.level_code.as_str()),
        ("MATH", "G5")
    );
    assert_eq!(m.latest_scaled_score, Some(78.0));
    assert_eq!((m.outcomes_achieved, m.outcomes_total), (1, 2));
    assert_eq!(m.assessments_passed, 1);
    assert!(progress.subjects[1].completed);

    // Every write and read left an audit entry, and the chain holds.
    let entries = haven_platform::audit::log::Entity::find()
        .count(h.db())
        .await
        .expect("count");
    assert!(entries >= 5, "{entries} audit entries");
    assert!(matches!(
        haven_platform::audit::verify_chain(h.db())
            .await
            .expect("verify"),
        haven_platform::audit::ChainReport::Intact { .. }
    ));
    // One LearnerEnrolled and two LearningRecorded went to the outbox with the changes.
    let events = haven_platform::outbox::OutboxEntity::find()
        .all(h.db())
        .await
        .expect("outbox");
    assert_eq!(events.len(), 3);
    assert!(
        events
            .iter()
            .all(|e| e.stream == haven_learning::LEARNING_STREAM)
    );
    h.stop().await;
}

#[tokio::test]
async fn an_educator_of_another_school_cannot_see_or_write_a_learner() {
    let h = Harness::start().await;
    let a = h.token("educator", "teacher-a", SCHOOL_A);
    let b = h.token("educator", "teacher-b", SCHOOL_B);
    h.import_example_framework(&a).await;
    let child = h.child("cw-1", AGENCY).await;
    h.enrol(&a, &child).await;
    let mut client = h.client();
    record(&mut client, &a, maths_assessment(&child, 60.0))
        .await
        .expect("record");
    let list = client
        .list_learning_records(authed(
            &b,
            ListLearningRecordsRequest {
                child_id: child.clone(),
                page: None,
            },
        ))
        .await
        .expect_err("not affiliated");
    assert_eq!(list.code(), Code::NotFound);
    let write = record(&mut client, &b, maths_assessment(&child, 90.0))
        .await
        .expect_err("not affiliated");
    assert_eq!(write.code(), Code::NotFound);
    // An unknown child and a child of another school answer alike.
    let unknown = client
        .get_progress(authed(
            &b,
            GetProgressRequest {
                child_id: uuid::Uuid::now_v7().to_string(),
            },
        ))
        .await
        .expect_err("unknown");
    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(unknown.message(), list.message());
    // Once school B enrols the learner too, it reads the whole education history.
    h.enrol(&b, &child).await;
    let records = client
        .list_learning_records(authed(
            &b,
            ListLearningRecordsRequest {
                child_id: child.clone(),
                page: None,
            },
        ))
        .await
        .expect("affiliated now")
        .into_inner();
    assert_eq!(records.records.len(), 1);
    h.stop().await;
}

#[tokio::test]
async fn caseworkers_and_supervisors_read_the_education_summary_within_their_scope() {
    let h = Harness::start().await;
    let teacher = h.token("educator", "teacher-1", SCHOOL_A);
    h.import_example_framework(&teacher).await;
    let child = h.child("cw-1", AGENCY).await;
    h.enrol(&teacher, &child).await;
    let mut client = h.client();
    record(&mut client, &teacher, maths_assessment(&child, 70.0))
        .await
        .expect("record");
    let progress = |token: String| {
        let mut client = h.client();
        let child = child.clone();
        async move {
            client
                .get_progress(authed(&token, GetProgressRequest { child_id: child }))
                .await
        }
    };
    assert!(
        progress(h.token("caseworker", "cw-1", AGENCY))
            .await
            .is_ok()
    );
    assert!(
        progress(h.token("supervisor", "sup-1", AGENCY))
            .await
            .is_ok()
    );
    let other = progress(h.token("caseworker", "cw-2", AGENCY))
        .await
        .expect_err("not their case");
    assert_eq!(other.code(), Code::NotFound);
    let elsewhere = progress(h.token("supervisor", "sup-9", "agency-9"))
        .await
        .expect_err("another agency");
    assert_eq!(elsewhere.code(), Code::NotFound);
    // Read only: a caseworker never writes learning records.
    let write = record(
        &mut client,
        &h.token("caseworker", "cw-1", AGENCY),
        maths_assessment(&child, 10.0),
    )
    .await
    .expect_err("read only");
    assert_eq!(write.code(), Code::PermissionDenied);
    h.stop().await;
}

#[tokio::test]
async fn roles_without_education_are_refused_every_learning_rpc() {
    let h = Harness::start().await;
    let teacher = h.token("educator", "teacher-1", SCHOOL_A);
    h.import_example_framework(&teacher).await;
    let child = h.child("cw-1", AGENCY).await;
    h.enrol(&teacher, &child).await;
    for role in ["partner", "auditor", "admin", "reunification_officer"] {
        let token = h.token(role, "someone", AGENCY);
        let mut client = h.client();
        let codes = [
            client
                .get_progress(authed(
                    &token,
                    GetProgressRequest {
                        child_id: child.clone(),
                    },
                ))
                .await
                .map(|_| ())
                .err(),
            client
                .list_enrolments(authed(
                    &token,
                    ListEnrolmentsRequest {
                        child_id: child.clone(),
                        page: None,
                    },
                ))
                .await
                .map(|_| ())
                .err(),
            record(&mut client, &token, maths_assessment(&child, 50.0))
                .await
                .map(|_| ())
                .err(),
            client
                .enrol_learner(authed(
                    &token,
                    EnrolLearnerRequest {
                        request_id: "r1".into(),
                        child_id: child.clone(),
                        programme: "x".into(),
                        ..Default::default()
                    },
                ))
                .await
                .map(|_| ())
                .err(),
            client
                .issue_passport(authed(
                    &token,
                    IssuePassportRequest {
                        child_id: child.clone(),
                        recipient: Some(PassportRecipient {
                            given_name: "Testa".into(),
                            ..Default::default()
                        }),
                        valid_days: 0,
                    },
                ))
                .await
                .map(|_| ())
                .err(),
            client
                .get_framework(authed(
                    &token,
                    GetFrameworkRequest {
                        code: "HAVEN-COMMON".into(),
                    },
                ))
                .await
                .map(|_| ())
                .err(),
        ];
        for (i, status) in codes.iter().enumerate() {
            assert_eq!(
                status.as_ref().map(|s| s.code()),
                Some(Code::PermissionDenied),
                "{role}, call {i}"
            );
        }
    }
    let anonymous = h
        .client()
        .get_progress(GetProgressRequest { child_id: child })
        .await
        .expect_err("no token");
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    h.stop().await;
}

#[tokio::test]
async fn a_learning_platform_writes_only_for_learners_enrolled_with_its_organisation() {
    let h = Harness::start().await;
    let teacher = h.token("educator", "teacher-1", SCHOOL_A);
    h.import_example_framework(&teacher).await;
    let enrolled = h.child("cw-1", AGENCY).await;
    let stranger = h.child("cw-1", AGENCY).await;
    h.enrol(&teacher, &enrolled).await;
    let lms = h.token("lms", "lms-client-1", SCHOOL_A);
    let other_lms = h.token("lms", "lms-client-2", SCHOOL_B);
    let mut client = h.client();
    let written = record(&mut client, &lms, maths_assessment(&enrolled, 55.0))
        .await
        .expect("enrolled learner");
    assert_eq!(written.recorder_role, "lms");
    for (token, child) in [(&lms, &stranger), (&other_lms, &enrolled)] {
        let refused = record(&mut client, token, maths_assessment(child, 55.0))
            .await
            .expect_err("not its learner");
        assert_eq!(refused.code(), Code::NotFound);
    }
    // It reads curricula but no learner data.
    assert!(
        client
            .get_framework(authed(
                &lms,
                GetFrameworkRequest {
                    code: "HAVEN-COMMON".into()
                }
            ))
            .await
            .is_ok()
    );
    let read = client
        .list_learning_records(authed(
            &lms,
            ListLearningRecordsRequest {
                child_id: enrolled.clone(),
                page: None,
            },
        ))
        .await
        .expect_err("lms reads nothing");
    assert_eq!(read.code(), Code::PermissionDenied);
    h.stop().await;
}

#[tokio::test]
async fn a_correction_voids_and_replaces_and_both_stay_in_the_history() {
    let h = Harness::start().await;
    let teacher = h.token("educator", "teacher-1", SCHOOL_A);
    h.import_example_framework(&teacher).await;
    let child = h.child("cw-1", AGENCY).await;
    h.enrol(&teacher, &child).await;
    let mut client = h.client();
    let wrong = record(&mut client, &teacher, maths_assessment(&child, 40.0))
        .await
        .expect("record");
    let request = CorrectLearningRecordRequest {
        request_id: "fix-1".into(),
        record_id: wrong.id.clone(),
        reason: "marked against the wrong answer key".into(),
        replacement: Some(maths_assessment(&child, 80.0)),
    };
    let corrected = client
        .correct_learning_record(authed(&teacher, request.clone()))
        .await
        .expect("correct")
        .into_inner();
    let voided = corrected.voided.expect("voided");
    let replacement = corrected.replacement.expect("replacement");
    assert!(voided.voided);
    assert_eq!(replacement.replaces, wrong.id);
    // A retry answers the same, and voiding twice is refused.
    let again = client
        .correct_learning_record(authed(&teacher, request))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(
        again.replacement.map(|r| r.id),
        Some(replacement.id.clone())
    );
    let twice = client
        .correct_learning_record(authed(
            &teacher,
            CorrectLearningRecordRequest {
                request_id: "fix-2".into(),
                record_id: wrong.id.clone(),
                reason: "again".into(),
                replacement: None,
            },
        ))
        .await
        .expect_err("already voided");
    assert_eq!(twice.code(), Code::FailedPrecondition);
    let history = client
        .list_learning_records(authed(
            &teacher,
            ListLearningRecordsRequest {
                child_id: child.clone(),
                page: None,
            },
        ))
        .await
        .expect("list")
        .into_inner()
        .records;
    assert_eq!(history.len(), 2);
    let progress = client
        .get_progress(authed(&teacher, GetProgressRequest { child_id: child }))
        .await
        .expect("progress")
        .into_inner();
    assert_eq!(progress.subjects[0].latest_scaled_score, Some(80.0));
    assert_eq!(progress.subjects[0].assessments, 1);
    h.stop().await;
}

#[tokio::test]
async fn retries_replay_the_first_result_and_stale_versions_change_nothing() {
    let h = Harness::start().await;
    let teacher = h.token("educator", "teacher-1", SCHOOL_A);
    h.import_example_framework(&teacher).await;
    let child = h.child("cw-1", AGENCY).await;
    h.affiliate(&child, SCHOOL_A, true).await;
    let mut client = h.client();
    let request = EnrolLearnerRequest {
        request_id: "enrol-1".into(),
        child_id: child.clone(),
        programme: "Catch-up".into(),
        ..Default::default()
    };
    let first = client
        .enrol_learner(authed(&teacher, request.clone()))
        .await
        .expect("enrol")
        .into_inner();
    let second = client
        .enrol_learner(authed(&teacher, request.clone()))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(first.id, second.id);
    let reused = client
        .enrol_learner(authed(
            &teacher,
            EnrolLearnerRequest {
                programme: "Something else".into(),
                ..request
            },
        ))
        .await
        .expect_err("key reused");
    assert_eq!(reused.code(), Code::AlreadyExists);

    let update = |version: i64| UpdateEnrolmentRequest {
        id: first.id.clone(),
        expected_version: version,
        enrolment: Some(Enrolment {
            attendance: Some(Attendance {
                sessions_held: 20,
                sessions_attended: 18,
                as_of: None,
            }),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["attendance".into()],
        }),
    };
    let updated = client
        .update_enrolment(authed(&teacher, update(1)))
        .await
        .expect("update")
        .into_inner();
    assert_eq!(updated.version, 2);
    assert_eq!(updated.attendance.map(|a| a.sessions_attended), Some(18));
    let stale = client
        .update_enrolment(authed(&teacher, update(1)))
        .await
        .expect_err("stale");
    assert_eq!(stale.code(), Code::FailedPrecondition);
    h.stop().await;
}

#[tokio::test]
async fn a_framework_csv_with_bad_rows_is_rejected_with_a_report_per_row() {
    let h = Harness::start().await;
    let teacher = h.token("educator", "teacher-1", SCHOOL_A);
    let csv = "subject_code,level_code,outcome_code,lang,subject_label,level_label,outcome_label\n\
               MATH,G1,M1.1,en,Maths,Grade 1,Counts to 100\n\
               MATH,G1,,en,Maths,Grade 1,Adds\n\
               MATH,G1,M1.3,xx-!!,Maths,Grade 1,Subtracts\n";
    let response = h
        .client()
        .import_framework(authed(
            &teacher,
            ImportFrameworkRequest {
                framework_code: "NATIONAL-X".into(),
                titles: vec![Label {
                    lang: "en".into(),
                    text: "National curriculum X".into(),
                }],
                csv: csv.into(),
                dry_run: false,
            },
        ))
        .await
        .expect("answered")
        .into_inner();
    assert!(!response.imported);
    let errors: Vec<(u32, &str)> = response
        .errors
        .iter()
        .map(|e| (e.line, e.column.as_str()))
        .collect();
    assert_eq!(errors, vec![(3, "outcome_code"), (4, "lang")]);
    let missing = h
        .client()
        .get_framework(authed(
            &teacher,
            GetFrameworkRequest {
                code: "NATIONAL-X".into(),
            },
        ))
        .await
        .expect_err("nothing written");
    assert_eq!(missing.code(), Code::NotFound);
    h.import_example_framework(&teacher).await;
    let framework = h
        .client()
        .get_framework(authed(
            &teacher,
            GetFrameworkRequest {
                code: "HAVEN-COMMON".into(),
            },
        ))
        .await
        .expect("framework")
        .into_inner();
    assert_eq!(framework.subjects.len(), 4);
    let maths = &framework.subjects[1];
    assert_eq!(maths.code, "MATH");
    assert_eq!(maths.labels.len(), 2, "English and French");
    h.stop().await;
}

fn payload_of(jwt: &str) -> serde_json::Value {
    let part = jwt.split('.').nth(1).expect("payload");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .expect("base64url"),
    )
    .expect("json")
}

fn keys_of(value: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                out.insert(k.clone());
                keys_of(v, out);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| keys_of(v, out)),
        _ => {}
    }
}

async fn issue(
    h: &Harness,
    token: &str,
    child: &str,
    hashed: bool,
) -> Result<haven_proto::learning::Passport, tonic::Status> {
    h.client()
        .issue_passport(authed(
            token,
            IssuePassportRequest {
                child_id: child.into(),
                recipient: Some(PassportRecipient {
                    given_name: "Testa".into(),
                    family_name: "Example".into(),
                    birth_year: 2015,
                    hashed,
                }),
                valid_days: 365,
            },
        ))
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn an_issued_passport_holds_only_education_and_the_chosen_recipient_fields() {
    let h = Harness::start().await;
    let teacher = h.token("educator", "teacher-1", SCHOOL_A);
    h.import_example_framework(&teacher).await;
    let child = h.child("cw-1", AGENCY).await;
    h.enrol(&teacher, &child).await;
    let mut client = h.client();
    record(&mut client, &teacher, maths_assessment(&child, 78.0))
        .await
        .expect("maths");
    record(&mut client, &teacher, science_completion(&child))
        .await
        .expect("science");
    let passport = issue(&h, &teacher, &child, false).await.expect("issue");
    assert_eq!(passport.achievements, 2);
    let payload = payload_of(&passport.jwt);
    let mut keys = std::collections::BTreeSet::new();
    keys_of(&payload, &mut keys);
    let allowed = [
        "@context",
        "achievement",
        "achievementType",
        "activityEndDate",
        "alignment",
        "credentialStatus",
        "credentialSubject",
        "criteria",
        "description",
        "exp",
        "hashed",
        "id",
        "identifier",
        "identityHash",
        "identityType",
        "iss",
        "issuer",
        "jti",
        "name",
        "narrative",
        "nbf",
        "result",
        "resultDescription",
        "resultType",
        "salt",
        "status",
        "sub",
        "targetCode",
        "targetFramework",
        "targetName",
        "targetType",
        "targetUrl",
        "type",
        "validFrom",
        "validUntil",
        "value",
        "valueMax",
        "valueMin",
        "vc",
    ];
    let unexpected: Vec<&String> = keys
        .iter()
        .filter(|k| !allowed.contains(&k.as_str()))
        .collect();
    assert!(unexpected.is_empty(), "unexpected keys {unexpected:?}");
    let text = payload.to_string();
    // Nothing that identifies the child inside Haven, nor any case or whereabouts: not the child id,
    // not the caseworker, not the agency.
    for forbidden in [child.as_str(), "cw-1", AGENCY] {
        assert!(!text.contains(forbidden), "the passport leaks {forbidden}");
    }
    assert!(text.contains("Testa Example") && text.contains("2015"));

    let hashed = issue(&h, &teacher, &child, true)
        .await
        .expect("issue hashed");
    let text = payload_of(&hashed.jwt).to_string();
    assert!(!text.contains("Testa") && !text.contains("2015"));
    assert!(text.contains("sha256$"));
    h.stop().await;
}

#[tokio::test]
async fn a_passport_verifies_until_revoked_and_the_status_list_says_so() {
    let h = Harness::start().await;
    let teacher = h.token("educator", "teacher-1", SCHOOL_A);
    h.import_example_framework(&teacher).await;
    let child = h.child("cw-1", AGENCY).await;
    h.enrol(&teacher, &child).await;
    record(&mut h.client(), &teacher, maths_assessment(&child, 78.0))
        .await
        .expect("maths");
    let passport = issue(&h, &teacher, &child, false).await.expect("issue");
    assert_eq!(
        passport.status_list_url,
        "https://haven.test.example/passports/status/1"
    );
    let caseworker = h.token("caseworker", "cw-1", AGENCY);
    let verify = |jwt: String| {
        let mut client = h.client();
        let token = caseworker.clone();
        async move {
            client
                .verify_passport(authed(&token, VerifyPassportRequest { jwt }))
                .await
                .expect("verify")
                .into_inner()
        }
    };
    let ok = verify(passport.jwt.clone()).await;
    assert!(ok.valid, "{}", ok.error);
    assert_eq!(ok.issuer, passport.issuer);
    assert!(ok.revocation_checked && !ok.revoked);
    let mut tampered = passport.jwt.clone().into_bytes();
    let middle = tampered.len() / 2;
    tampered[middle] = if tampered[middle] == b'a' { b'b' } else { b'a' };
    let bad = verify(String::from_utf8(tampered).expect("ascii")).await;
    assert!(!bad.valid);

    // Only the issuing organisation revokes.
    let other = h.token("educator", "teacher-b", SCHOOL_B);
    let revoke = |token: String| {
        let mut client = h.client();
        let id = passport.credential_id.clone();
        async move {
            client
                .revoke_passport(authed(
                    &token,
                    RevokePassportRequest {
                        credential_id: id,
                        reason: "issued with the wrong term".into(),
                    },
                ))
                .await
        }
    };
    assert_eq!(
        revoke(other).await.expect_err("not theirs").code(),
        Code::NotFound
    );
    revoke(teacher.clone()).await.expect("revoke");
    let revoked = verify(passport.jwt.clone()).await;
    assert!(!revoked.valid && revoked.revoked);

    // The public status list needs no token, and an offline verifier reads it.
    let list = h
        .client()
        .get_passport_status_list(GetPassportStatusListRequest {
            list_id: "1".into(),
        })
        .await
        .expect("status list")
        .into_inner();
    assert_eq!(list.revoked, 1);
    let trusted = h.service.issuer().trust_list();
    let verified = haven_learning::passport::verify(&passport.jwt, &trusted).expect("signature ok");
    assert_eq!(
        haven_learning::passport::is_revoked(&verified, &list.jwt, &trusted),
        Ok(true)
    );
    h.stop().await;
}

#[tokio::test]
async fn a_second_deployment_imports_a_trusted_passport_aligned_to_its_curriculum() {
    let first = Harness::start().await;
    let teacher = first.token("educator", "teacher-1", SCHOOL_A);
    first.import_example_framework(&teacher).await;
    let child = first.child("cw-1", AGENCY).await;
    first.enrol(&teacher, &child).await;
    record(
        &mut first.client(),
        &teacher,
        maths_assessment(&child, 78.0),
    )
    .await
    .expect("maths");
    record(&mut first.client(), &teacher, science_completion(&child))
        .await
        .expect("science");
    let passport = issue(&first, &teacher, &child, false).await.expect("issue");

    // Untrusted: the second deployment refuses the passport.
    let untrusting = Harness::start().await;
    let other_teacher = untrusting.token("educator", "teacher-9", "school-z");
    let there = untrusting.child("cw-9", "agency-9").await;
    untrusting.enrol(&other_teacher, &there).await;
    let refused = untrusting
        .client()
        .import_passport(authed(
            &other_teacher,
            ImportPassportRequest {
                request_id: "imp-1".into(),
                child_id: there.clone(),
                jwt: passport.jwt.clone(),
            },
        ))
        .await
        .expect_err("untrusted");
    assert_eq!(refused.code(), Code::InvalidArgument);
    untrusting.stop().await;

    // Trusted through the first deployment's JWKS; its national curriculum aligns maths, not science.
    let trust =
        haven_learning::TrustList::from_jwks(&first.service.issuer().jwks_json()).expect("jwks");
    let second = Harness::start_trusting(Some(trust)).await;
    let local_teacher = second.token("educator", "teacher-2", "school-z");
    let csv = "subject_code,level_code,outcome_code,lang,subject_label,level_label,outcome_label\n\
               MAT,P5,FRAC,en,Mathematics,Primary 5,Fractions\n";
    let imported = second
        .client()
        .import_framework(authed(
            &local_teacher,
            ImportFrameworkRequest {
                framework_code: "NATIONAL-Z".into(),
                titles: vec![Label {
                    lang: "en".into(),
                    text: "National curriculum Z".into(),
                }],
                csv: csv.into(),
                dry_run: false,
            },
        ))
        .await
        .expect("framework")
        .into_inner();
    assert!(imported.imported);
    // The common framework is known here too (only its maths outcome is aligned below).
    second
        .client()
        .align_outcomes(authed(
            &local_teacher,
            AlignOutcomesRequest {
                alignments: vec![OutcomeAlignment {
                    from: Some(OutcomeRef {
                        framework_code: "NATIONAL-Z".into(),
                        subject_code: "MAT".into(),
                        level_code: "P5".into(),
                        outcome_code: "FRAC".into(),
                    }),
                    to: Some(OutcomeRef {
                        framework_code: "NATIONAL-Z".into(),
                        subject_code: "MAT".into(),
                        level_code: "P5".into(),
                        outcome_code: "FRAC".into(),
                    }),
                }],
            },
        ))
        .await
        .expect_err("an outcome cannot align with itself");
    let learner = second.child("cw-7", "agency-7").await;
    second.enrol(&local_teacher, &learner).await;
    let response = second
        .client()
        .import_passport(authed(
            &local_teacher,
            ImportPassportRequest {
                request_id: "imp-1".into(),
                child_id: learner.clone(),
                jwt: passport.jwt.clone(),
            },
        ))
        .await
        .expect("import")
        .into_inner();
    assert_eq!(response.records.len(), 2);
    assert_eq!(response.issuer, passport.issuer);
    for r in &response.records {
        let provenance = r.provenance.as_ref().expect("provenance");
        assert_eq!(provenance.credential_id, passport.credential_id);
        assert_eq!(r.recorder_role, "import");
    }
    // Neither result is known to the local curriculum without alignments.
    assert_eq!((response.aligned, response.unaligned), (0, 2));
    let maths = response
        .records
        .iter()
        .find(|r| r.kind == RecordKind::Assessment as i32)
        .expect("maths");
    assert_eq!(
        maths.assessment.as_ref().and_then(|a| a.scaled_score),
        Some(78.0)
    );
    second.stop().await;
    first.stop().await;
}

#[tokio::test]
async fn an_imported_outcome_lands_on_the_local_outcome_it_is_aligned_with() {
    let first = Harness::start().await;
    let teacher = first.token("educator", "teacher-1", SCHOOL_A);
    first.import_example_framework(&teacher).await;
    let child = first.child("cw-1", AGENCY).await;
    first.enrol(&teacher, &child).await;
    record(
        &mut first.client(),
        &teacher,
        maths_assessment(&child, 78.0),
    )
    .await
    .expect("maths");
    let passport = issue(&first, &teacher, &child, true).await.expect("issue");

    let trust =
        haven_learning::TrustList::from_did_keys([first.service.issuer().did()]).expect("did");
    let second = Harness::start_trusting(Some(trust)).await;
    let local = second.token("educator", "teacher-2", "school-z");
    second.import_example_framework(&local).await;
    let csv = "subject_code,level_code,outcome_code,lang,subject_label,level_label,outcome_label\n\
               MAT,P5,FRAC,en,Mathematics,Primary 5,Fractions\n";
    second
        .client()
        .import_framework(authed(
            &local,
            ImportFrameworkRequest {
                framework_code: "NATIONAL-Z".into(),
                titles: vec![Label {
                    lang: "en".into(),
                    text: "National curriculum Z".into(),
                }],
                csv: csv.into(),
                dry_run: false,
            },
        ))
        .await
        .expect("framework");
    let added = second
        .client()
        .align_outcomes(authed(
            &local,
            AlignOutcomesRequest {
                alignments: vec![OutcomeAlignment {
                    from: Some(OutcomeRef {
                        framework_code: "NATIONAL-Z".into(),
                        subject_code: "MAT".into(),
                        level_code: "P5".into(),
                        outcome_code: "FRAC".into(),
                    }),
                    to: Some(OutcomeRef {
                        framework_code: "HAVEN-COMMON".into(),
                        subject_code: "MATH".into(),
                        level_code: "G5".into(),
                        outcome_code: "M5.1".into(),
                    }),
                }],
            },
        ))
        .await
        .expect("align")
        .into_inner();
    assert_eq!(added.added, 1);
    let learner = second.child("cw-7", "agency-7").await;
    second.enrol(&local, &learner).await;
    let response = second
        .client()
        .import_passport(authed(
            &local,
            ImportPassportRequest {
                request_id: "imp-1".into(),
                child_id: learner,
                jwt: passport.jwt,
            },
        ))
        .await
        .expect("import")
        .into_inner();
    // HAVEN-COMMON exists here, so the record is placed as is.
    assert_eq!((response.aligned, response.unaligned), (1, 0));
    assert_eq!(response.records[0].framework_code, "HAVEN-COMMON");
    let framework = second
        .client()
        .get_framework(authed(
            &local,
            GetFrameworkRequest {
                code: "NATIONAL-Z".into(),
            },
        ))
        .await
        .expect("framework")
        .into_inner();
    let outcome = &framework.subjects[0].levels[0].outcomes[0];
    assert_eq!(outcome.aligned_with[0].outcome_code, "M5.1");
    second.stop().await;
    first.stop().await;
}

#[tokio::test]
async fn an_erased_child_leaves_nothing_behind_and_replayed_events_change_nothing() {
    let h = Harness::start().await;
    let teacher = h.token("educator", "teacher-1", SCHOOL_A);
    h.import_example_framework(&teacher).await;
    let child = h.child("cw-1", AGENCY).await;
    h.enrol(&teacher, &child).await;
    record(&mut h.client(), &teacher, maths_assessment(&child, 78.0))
        .await
        .expect("maths");
    let passport = issue(&h, &teacher, &child, false).await.expect("issue");

    // An older ChildChanged after a newer one is ignored: the caseworker of version 2 keeps the case.
    h.child_changed(&child, 3, "cw-2", AGENCY).await;
    h.child_changed(&child, 2, "cw-1", AGENCY).await;
    let cw2 = h.token("caseworker", "cw-2", AGENCY);
    assert!(
        h.client()
            .get_progress(authed(
                &cw2,
                GetProgressRequest {
                    child_id: child.clone()
                }
            ))
            .await
            .is_ok()
    );
    // What the child's writes created, whose idempotency keys must go with them.
    let created: Vec<String> = {
        use haven_learning::entity::{enrolment, record as records};
        let mut ids: Vec<String> = records::Entity::find()
            .all(h.db())
            .await
            .expect("records")
            .into_iter()
            .map(|r| r.id)
            .collect();
        ids.extend(
            enrolment::Entity::find()
                .all(h.db())
                .await
                .expect("enrolments")
                .into_iter()
                .map(|e| e.id),
        );
        ids
    };
    let keys_of_child = |rows: Vec<haven_platform::idempotency::IdempotencyRow>| {
        rows.into_iter()
            .filter(|row| {
                row.result_ids
                    .split(',')
                    .any(|id| created.iter().any(|c| c == id))
            })
            .count()
    };
    assert!(
        keys_of_child(
            haven_platform::idempotency::IdempotencyEntity::find()
                .all(h.db())
                .await
                .expect("keys")
        ) >= 2,
        "the enrolment and the record were written under idempotency keys"
    );
    let erased = envelope(haven_proto::events::envelope::Event::ChildErased(
        haven_proto::events::ChildErased {
            child_id: child.clone(),
        },
    ));
    assert_eq!(
        h.service
            .apply_identity_event(&erased)
            .await
            .expect("erase"),
        haven_learning::Applied::ChildErased
    );
    assert_eq!(
        keys_of_child(
            haven_platform::idempotency::IdempotencyEntity::find()
                .all(h.db())
                .await
                .expect("keys")
        ),
        0,
        "erasure leaves no idempotency key naming what the child's writes created"
    );
    assert_eq!(
        h.service
            .apply_identity_event(&erased)
            .await
            .expect("again"),
        haven_learning::Applied::Ignored
    );
    let gone = h
        .client()
        .list_learning_records(authed(
            &teacher,
            ListLearningRecordsRequest {
                child_id: child.clone(),
                page: None,
            },
        ))
        .await
        .expect_err("erased");
    assert_eq!(gone.code(), Code::NotFound);
    use haven_learning::entity::{affiliation, enrolment, passport as issued, record as records};
    assert_eq!(
        records::Entity::find().count(h.db()).await.expect("count"),
        0
    );
    assert_eq!(
        enrolment::Entity::find()
            .count(h.db())
            .await
            .expect("count"),
        0
    );
    assert_eq!(
        affiliation::Entity::find()
            .count(h.db())
            .await
            .expect("count"),
        0
    );
    let kept = issued::Entity::find_by_id(passport.credential_id.clone())
        .one(h.db())
        .await
        .expect("read")
        .expect("the issuance row stays for the status list");
    assert_eq!(kept.child_id, None);
    h.stop().await;
}

#[tokio::test]
async fn lists_page_with_opaque_tokens() {
    let h = Harness::start().await;
    let teacher = h.token("educator", "teacher-1", SCHOOL_A);
    h.import_example_framework(&teacher).await;
    let child = h.child("cw-1", AGENCY).await;
    h.enrol(&teacher, &child).await;
    for score in [10.0, 20.0, 30.0, 40.0, 50.0] {
        record(&mut h.client(), &teacher, maths_assessment(&child, score))
            .await
            .expect("record");
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = h
            .client()
            .list_learning_records(authed(
                &teacher,
                ListLearningRecordsRequest {
                    child_id: child.clone(),
                    page: Some(haven_proto::common::PageRequest {
                        page_size: 2,
                        page_token: token.clone(),
                    }),
                },
            ))
            .await
            .expect("page")
            .into_inner();
        seen.extend(page.records.into_iter().map(|r| r.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen.len(), 5);
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted);
    h.stop().await;
}

#[tokio::test]
async fn an_educator_cannot_tell_a_child_with_a_case_from_one_without() {
    let h = Harness::start().await;
    let teacher = h.token("educator", "teacher-1", SCHOOL_A);
    h.import_example_framework(&teacher).await;
    // One child registered by a caseworker's agency (a protection case exists), one registered by the
    // school itself; the educator's answers must not differ in anything but ids.
    let with_case = h.child("cw-1", AGENCY).await;
    let school_only = h.child("teacher-1", SCHOOL_A).await;
    let mut answers = Vec::new();
    for child in [&with_case, &school_only] {
        let before = h
            .client()
            .get_progress(authed(
                &teacher,
                GetProgressRequest {
                    child_id: child.clone(),
                },
            ))
            .await
            .expect_err("not enrolled yet");
        let enrolment = h.enrol(&teacher, child).await;
        let recorded = record(&mut h.client(), &teacher, maths_assessment(child, 70.0))
            .await
            .expect("record");
        let progress = h
            .client()
            .get_progress(authed(
                &teacher,
                GetProgressRequest {
                    child_id: child.clone(),
                },
            ))
            .await
            .expect("progress")
            .into_inner();
        answers.push((
            before.code(),
            before.message().to_owned(),
            (enrolment.version, enrolment.organisation, enrolment.status),
            (recorded.organisation, recorded.voided),
            progress.subjects,
        ));
    }
    assert_eq!(answers[0].0, answers[1].0);
    assert_eq!(answers[0].1, answers[1].1);
    assert_eq!(answers[0].2, answers[1].2);
    assert_eq!(answers[0].3, answers[1].3);
    let strip = |mut s: Vec<SubjectProgress>| {
        s.iter_mut().for_each(|p| p.last_activity = None);
        s
    };
    assert_eq!(strip(answers[0].4.clone()), strip(answers[1].4.clone()));
    h.stop().await;
}

#[tokio::test]
async fn invalid_records_are_refused_naming_the_field() {
    let h = Harness::start().await;
    let teacher = h.token("educator", "teacher-1", SCHOOL_A);
    h.import_example_framework(&teacher).await;
    let child = h.child("cw-1", AGENCY).await;
    h.enrol(&teacher, &child).await;
    let mut bad = maths_assessment(&child, 70.0);
    if let Some(a) = bad.assessment.as_mut() {
        a.scaled_score = Some(140.0);
    }
    let status = record(&mut h.client(), &teacher, bad)
        .await
        .expect_err("scaled score out of range");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("record.assessment.scaled_score"));
    let mut unknown = maths_assessment(&child, 70.0);
    unknown.outcome_codes = vec!["M9.9".into()];
    let status = record(&mut h.client(), &teacher, unknown)
        .await
        .expect_err("unknown outcome");
    assert!(status.message().contains("record.outcome_codes[0]"));
    h.stop().await;
}

#[tokio::test]
async fn a_merged_duplicates_learning_history_moves_to_the_kept_child() {
    let h = Harness::start().await;
    let teacher = h.token("educator", "teacher-1", SCHOOL_A);
    h.import_example_framework(&teacher).await;
    let kept = h.child("cw-1", AGENCY).await;
    let duplicate = h.child("cw-1", AGENCY).await;
    h.enrol(&teacher, &duplicate).await;
    record(
        &mut h.client(),
        &teacher,
        maths_assessment(&duplicate, 64.0),
    )
    .await
    .expect("recorded against the duplicate");
    let merged = envelope(haven_proto::events::envelope::Event::ChildMerged(
        haven_proto::events::ChildMerged {
            from_child_id: duplicate.clone(),
            into_child_id: kept.clone(),
        },
    ));
    assert_eq!(
        h.service
            .apply_identity_event(&merged)
            .await
            .expect("merge"),
        haven_learning::Applied::ChildMerged
    );
    let history = h
        .client()
        .list_learning_records(authed(
            &teacher,
            ListLearningRecordsRequest {
                child_id: kept.clone(),
                page: None,
            },
        ))
        .await
        .expect("the kept child's records, with the school's access carried over")
        .into_inner();
    assert_eq!(history.records.len(), 1);
    assert_eq!(history.records[0].child_id, kept);
    let gone = h
        .client()
        .list_learning_records(authed(
            &teacher,
            ListLearningRecordsRequest {
                child_id: duplicate.clone(),
                page: None,
            },
        ))
        .await
        .expect_err("the duplicate is no more");
    assert_eq!(gone.code(), Code::NotFound);
    h.stop().await;
}

#[tokio::test]
async fn an_educator_enrols_only_a_child_its_school_reaches() {
    let h = Harness::start().await;
    let teacher = h.token("educator", "teacher-1", SCHOOL_A);
    let intruder = h.token("educator", "teacher-b", SCHOOL_B);
    let case = h.child("cw-1", AGENCY).await;
    let pupil = h.child("teacher-1", SCHOOL_A).await;
    h.enrol(&teacher, &pupil).await;
    let mut client = h.client();
    let enrol = |child_id: &str| EnrolLearnerRequest {
        request_id: uuid::Uuid::now_v7().to_string(),
        child_id: child_id.into(),
        programme: "Catch-up".into(),
        ..Default::default()
    };
    let missing = client
        .enrol_learner(authed(&intruder, enrol(&uuid::Uuid::now_v7().to_string())))
        .await
        .expect_err("no such child");
    assert_eq!(missing.code(), Code::NotFound);
    // A caseworker's case and another school's pupil answer exactly as a missing child does.
    for child in [&case, &pupil] {
        let refused = client
            .enrol_learner(authed(&intruder, enrol(child)))
            .await
            .expect_err("out of reach");
        assert_eq!(
            (refused.code(), refused.message()),
            (missing.code(), missing.message())
        );
        let read = client
            .list_enrolments(authed(
                &intruder,
                ListEnrolmentsRequest {
                    child_id: child.clone(),
                    page: None,
                },
            ))
            .await
            .expect_err("still out of reach");
        assert_eq!(read.code(), Code::NotFound);
    }
    let affiliations = haven_learning::entity::affiliation::Entity::find()
        .all(h.db())
        .await
        .expect("affiliations");
    assert!(
        affiliations.iter().all(|a| a.organisation != SCHOOL_B),
        "a refused enrolment leaves no affiliation"
    );

    // Once identity places the case with school B, B may enrol it; a withdrawn placement ends that
    // reach, unless B enrolled the child meanwhile.
    h.affiliate(&case, SCHOOL_B, true).await;
    client
        .enrol_learner(authed(&intruder, enrol(&case)))
        .await
        .expect("placed with school B");
    h.affiliate(&case, SCHOOL_B, false).await;
    client
        .list_enrolments(authed(
            &intruder,
            ListEnrolmentsRequest {
                child_id: case.clone(),
                page: None,
            },
        ))
        .await
        .expect("an enrolled pupil stays the school's");
    let other = h.child("cw-1", AGENCY).await;
    h.affiliate(&other, SCHOOL_B, true).await;
    h.affiliate(&other, SCHOOL_B, false).await;
    let withdrawn = client
        .enrol_learner(authed(&intruder, enrol(&other)))
        .await
        .expect_err("placement withdrawn before any enrolment");
    assert_eq!(withdrawn.code(), Code::NotFound);
    h.stop().await;
}

#[tokio::test]
async fn a_learning_platform_corrects_only_the_records_it_wrote() {
    let h = Harness::start().await;
    let teacher = h.token("educator", "teacher-1", SCHOOL_A);
    h.import_example_framework(&teacher).await;
    let child = h.child("cw-1", AGENCY).await;
    h.enrol(&teacher, &child).await;
    let lms = h.token("lms", "lms-client-1", SCHOOL_A);
    let other_lms = h.token("lms", "lms-client-2", SCHOOL_A);
    let mut client = h.client();
    let by_teacher = record(&mut client, &teacher, maths_assessment(&child, 40.0))
        .await
        .expect("teacher's record");
    let by_lms = record(&mut client, &lms, maths_assessment(&child, 45.0))
        .await
        .expect("platform's record");
    let correct = |record_id: &str| CorrectLearningRecordRequest {
        request_id: uuid::Uuid::now_v7().to_string(),
        record_id: record_id.into(),
        reason: "entered against the wrong learner".into(),
        replacement: None,
    };
    for (token, record_id) in [(&lms, &by_teacher.id), (&other_lms, &by_lms.id)] {
        let refused = client
            .correct_learning_record(authed(token, correct(record_id)))
            .await
            .expect_err("not its record");
        assert_eq!(refused.code(), Code::PermissionDenied);
    }
    let records = client
        .list_learning_records(authed(
            &teacher,
            ListLearningRecordsRequest {
                child_id: child.clone(),
                page: None,
            },
        ))
        .await
        .expect("list")
        .into_inner()
        .records;
    assert!(records.iter().all(|r| !r.voided), "nothing was voided");
    let corrected = client
        .correct_learning_record(authed(&lms, correct(&by_lms.id)))
        .await
        .expect("its own record")
        .into_inner();
    assert!(corrected.voided.expect("voided").voided);
    client
        .correct_learning_record(authed(&teacher, correct(&by_teacher.id)))
        .await
        .expect("the educator corrects its own organisation's record");
    h.stop().await;
}
