//! Every role against every LearningRecords RPC, through the gateway: who may call what is refused
//! with PERMISSION_DENIED for everyone else, and the status list needs no token at all. Record-level
//! decisions (which learner) are tested in services/learning/tests/learning_api.rs.

use haven_proto::learning::learning_records_client::LearningRecordsClient;
use haven_proto::learning::*;
use haven_tests::{TestSuite, authed};
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

const ROLES: [(&str, &str); 9] = [
    ("caseworker", "agency-a"),
    ("supervisor", "agency-a"),
    ("reunification_officer", "agency-a"),
    ("educator", "school-1"),
    ("partner", "agency-p"),
    ("lms", "school-1"),
    ("auditor", "agency-a"),
    ("admin", "agency-a"),
    ("tracing_service", "haven:family-tracing"),
];

/// The roles that may call each RPC (DESIGN.md §3: education belongs to educators; learning platforms
/// write records and read curricula; caseworkers and supervisors read a child's education).
fn allowed(rpc: &str) -> &'static [&'static str] {
    match rpc {
        "ImportFramework" | "AlignOutcomes" | "EnrolLearner" | "UpdateEnrolment"
        | "IssuePassport" | "ImportPassport" | "RevokePassport" => &["educator"],
        "GetFramework" | "ListFrameworks" => &["educator", "caseworker", "supervisor", "lms"],
        "ListEnrolments" | "ListLearningRecords" | "GetProgress" | "VerifyPassport" => {
            &["educator", "caseworker", "supervisor"]
        }
        "RecordLearning" | "CorrectLearningRecord" => &["educator", "lms"],
        // Public: a school abroad follows a passport's alignment URL with no token.
        "GetAlignmentTarget" => &[
            "caseworker",
            "supervisor",
            "reunification_officer",
            "educator",
            "partner",
            "lms",
            "auditor",
            "admin",
            "tracing_service",
        ],
        other => panic!("no expectation for {other}"),
    }
}

async fn call(
    client: &mut LearningRecordsClient<Channel>,
    rpc: &str,
    token: &str,
) -> Result<(), Status> {
    macro_rules! send {
        ($method:ident, $message:expr) => {
            client.$method(authed(token, $message)).await.map(|_| ())
        };
    }
    match rpc {
        "ImportFramework" => send!(import_framework, ImportFrameworkRequest::default()),
        "GetFramework" => send!(get_framework, GetFrameworkRequest::default()),
        "ListFrameworks" => send!(list_frameworks, ListFrameworksRequest::default()),
        "AlignOutcomes" => send!(align_outcomes, AlignOutcomesRequest::default()),
        "EnrolLearner" => send!(enrol_learner, EnrolLearnerRequest::default()),
        "UpdateEnrolment" => send!(update_enrolment, UpdateEnrolmentRequest::default()),
        "ListEnrolments" => send!(list_enrolments, ListEnrolmentsRequest::default()),
        "RecordLearning" => send!(record_learning, RecordLearningRequest::default()),
        "CorrectLearningRecord" => {
            send!(
                correct_learning_record,
                CorrectLearningRecordRequest::default()
            )
        }
        "ListLearningRecords" => {
            send!(list_learning_records, ListLearningRecordsRequest::default())
        }
        "GetProgress" => send!(get_progress, GetProgressRequest::default()),
        "IssuePassport" => send!(issue_passport, IssuePassportRequest::default()),
        "VerifyPassport" => send!(verify_passport, VerifyPassportRequest::default()),
        "ImportPassport" => send!(import_passport, ImportPassportRequest::default()),
        "RevokePassport" => send!(revoke_passport, RevokePassportRequest::default()),
        "GetAlignmentTarget" => send!(get_alignment_target, GetAlignmentTargetRequest::default()),
        other => panic!("unknown rpc {other}"),
    }
}

const RPCS: [&str; 16] = [
    "ImportFramework",
    "GetFramework",
    "ListFrameworks",
    "AlignOutcomes",
    "EnrolLearner",
    "UpdateEnrolment",
    "ListEnrolments",
    "RecordLearning",
    "CorrectLearningRecord",
    "ListLearningRecords",
    "GetProgress",
    "IssuePassport",
    "VerifyPassport",
    "ImportPassport",
    "RevokePassport",
    "GetAlignmentTarget",
];

#[tokio::test]
async fn every_role_against_every_learning_rpc() {
    let t = TestSuite::start().await;
    let mut client = LearningRecordsClient::new(t.channel());
    let mut mismatches = Vec::new();
    let mut cells = 0;
    for (role, agency) in ROLES {
        let token = t.token(role, &format!("{role}-1"), agency);
        for rpc in RPCS {
            cells += 1;
            let outcome = call(&mut client, rpc, &token).await;
            let denied = matches!(&outcome, Err(s) if s.code() == Code::PermissionDenied);
            let expect_allowed = allowed(rpc).contains(&role);
            if denied == expect_allowed {
                mismatches.push(format!(
                    "{role} {rpc}: expected {}, got {:?}",
                    if expect_allowed {
                        "admitted"
                    } else {
                        "PERMISSION_DENIED"
                    },
                    outcome.as_ref().map_err(|s| s.code())
                ));
            }
            if let Err(status) = &outcome {
                assert_ne!(status.code(), Code::Unauthenticated, "{role} {rpc}");
                assert_ne!(status.code(), Code::Internal, "{role} {rpc}: {status:?}");
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{cells} cells, mismatches:\n{}",
        mismatches.join("\n")
    );

    // Unauthenticated callers are refused everywhere but the public status list.
    let refused = client
        .list_frameworks(Request::new(ListFrameworksRequest::default()))
        .await
        .expect_err("no token");
    assert_eq!(refused.code(), Code::Unauthenticated);
    let list = client
        .get_passport_status_list(Request::new(GetPassportStatusListRequest {
            list_id: haven_learning::STATUS_LIST_ID.into(),
        }))
        .await
        .expect("a verifier anywhere reads the status list without a token")
        .into_inner();
    assert!(list.jwt.split('.').count() == 3, "a signed JWT: {list:?}");
    t.stop().await;
}
