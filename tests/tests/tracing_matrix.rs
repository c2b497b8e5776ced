//! Every role against every FamilyTracing RPC, through the gateway. Tracing is protection-world data:
//! supervisors and reunification officers write it, caseworkers read it, and nobody else gets any
//! answer but PERMISSION_DENIED. Record-level decisions are in family_tracing.rs.

use haven_proto::family_tracing::family_tracing_client::FamilyTracingClient;
use haven_proto::family_tracing::*;
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

const WRITES: [&str; 5] = [
    "CreateTracingRequest",
    "UpdateTracingRequest",
    "TransitionTracingRequest",
    "RecordFollowUp",
    "ReviewMatch",
];
const READS: [&str; 5] = [
    "GetTracingRequest",
    "ListTracingRequests",
    "FindMatches",
    "ListFamilyLinks",
    "ListAlerts",
];

fn allowed(rpc: &str) -> &'static [&'static str] {
    if WRITES.contains(&rpc) {
        &["supervisor", "reunification_officer"]
    } else {
        &["caseworker", "supervisor", "reunification_officer"]
    }
}

async fn call(
    client: &mut FamilyTracingClient<Channel>,
    rpc: &str,
    token: &str,
) -> Result<(), Status> {
    macro_rules! send {
        ($method:ident, $message:expr) => {
            client.$method(authed(token, $message)).await.map(|_| ())
        };
    }
    match rpc {
        "CreateTracingRequest" => send!(
            create_tracing_request,
            CreateTracingRequestRequest::default()
        ),
        "UpdateTracingRequest" => send!(
            update_tracing_request,
            UpdateTracingRequestRequest::default()
        ),
        "TransitionTracingRequest" => send!(
            transition_tracing_request,
            TransitionTracingRequestRequest::default()
        ),
        "RecordFollowUp" => send!(record_follow_up, RecordFollowUpRequest::default()),
        "ReviewMatch" => send!(review_match, ReviewMatchRequest::default()),
        "GetTracingRequest" => send!(get_tracing_request, GetTracingRequestRequest::default()),
        "ListTracingRequests" => {
            send!(list_tracing_requests, ListTracingRequestsRequest::default())
        }
        "FindMatches" => send!(find_matches, FindMatchesRequest::default()),
        "ListFamilyLinks" => send!(list_family_links, ListFamilyLinksRequest::default()),
        "ListAlerts" => send!(list_alerts, ListAlertsRequest::default()),
        other => panic!("unknown rpc {other}"),
    }
}

#[tokio::test]
async fn every_role_against_every_tracing_rpc() {
    let t = TestSuite::start().await;
    let mut client = FamilyTracingClient::new(t.channel());
    let mut mismatches = Vec::new();
    let mut cells = 0;
    for (role, agency) in ROLES {
        let token = t.token(role, &format!("{role}-1"), agency);
        for rpc in WRITES.iter().chain(READS.iter()) {
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
                assert_ne!(status.code(), Code::Internal, "{role} {rpc}: {status:?}");
            }
        }
    }
    assert_eq!(cells, 90);
    assert!(
        mismatches.is_empty(),
        "{cells} cells, mismatches:\n{}",
        mismatches.join("\n")
    );
    let refused = client
        .list_alerts(Request::new(ListAlertsRequest::default()))
        .await
        .expect_err("no token");
    assert_eq!(refused.code(), Code::Unauthenticated);
    t.stop().await;
}
