//! The gateway's own duties: health, UNAVAILABLE when a service is down, and message size limits.

use std::sync::Arc;

use haven_authz::{Authenticator, Policy, TokenVerifier, VerifierSettings};
use haven_gateway::RateLimiter;
use haven_platform::config::GatewayConfig;
use haven_platform::revocation::RevocationList;
use haven_proto::identity::child_identity_client::ChildIdentityClient;
use haven_proto::identity::{ListChildrenRequest, SearchChildrenRequest};
use haven_tests::{Options, PrivateRedis, TestSuite, authed};
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

#[tokio::test]
async fn the_gateway_reports_serving_for_the_identity_service() {
    let t = TestSuite::start().await;
    let channel =
        tonic::transport::Channel::from_shared(format!("http://{}", t.suite.gateway_addr))
            .expect("url")
            .connect()
            .await
            .expect("connect");
    let mut health = HealthClient::new(channel);
    let status = health
        .check(HealthCheckRequest {
            service: "haven.identity.v1.ChildIdentity".into(),
        })
        .await
        .expect("health")
        .into_inner()
        .status;
    assert_eq!(status, ServingStatus::Serving as i32);
    t.stop().await;
}

#[tokio::test]
async fn a_service_that_is_down_answers_unavailable() {
    let t = TestSuite::start().await;
    // A second gateway whose identity service address has nothing listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead_addr = closed.local_addr().expect("addr");
    drop(closed);
    let keys = t.suite.dev_key.as_ref().expect("dev key").trusted_keys();
    let auth = Authenticator::new(
        TokenVerifier::new(keys, VerifierSettings::default()),
        RevocationList::in_memory(),
    );
    let config = GatewayConfig {
        identity_url: format!("http://{dead_addr}"),
        request_timeout_ms: 2_000,
        ..GatewayConfig::default()
    };
    let (listener, addr) = haven_platform::server::bind("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    let server = tokio::spawn(async move {
        haven_gateway::serve(
            &config,
            auth,
            Arc::new(Policy::default()),
            RateLimiter::in_memory(1000, 1000),
            haven_gateway::PartnerDoor::default(),
            listener,
            std::future::pending(),
        )
        .await
    });
    let mut client = ChildIdentityClient::connect(format!("http://{addr}"))
        .await
        .expect("connect");
    let token = t.token("caseworker", "cw-1", "agency-a");
    let status = client
        .list_children(authed(&token, ListChildrenRequest::default()))
        .await
        .expect_err("service down");
    assert_eq!(status.code(), Code::Unavailable);
    server.abort();
    t.stop().await;
}

#[tokio::test]
async fn an_oversized_request_is_refused() {
    let t = TestSuite::start().await;
    let token = t.token("caseworker", "cw-1", "agency-a");
    let huge = "a".repeat(2 * 1024 * 1024);
    let status = t
        .client()
        .search_children(authed(
            &token,
            SearchChildrenRequest {
                query: huge,
                page: None,
            },
        ))
        .await
        .expect_err("too large");
    // RESOURCE_EXHAUSTED is gRPC's status for a message over the limit (tonic's own is OUT_OF_RANGE).
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    t.stop().await;
}

#[tokio::test]
async fn rate_limits_still_hold_while_redis_is_down() {
    let Some(mut redis) = PrivateRedis::start().await else {
        return;
    };
    let t = TestSuite::start_with(Options {
        redis_url: Some(redis.url()),
        rate_limit_per_second: 1,
        rate_limit_burst: 3,
        ..Options::default()
    })
    .await;
    let busy = t.token("caseworker", "cw-busy", "agency-a");
    let calm = t.token("caseworker", "cw-calm", "agency-a");
    redis.kill();
    let mut client = t.client();
    let mut codes = Vec::new();
    for _ in 0..5 {
        let result = client
            .list_children(authed(&busy, ListChildrenRequest::default()))
            .await;
        codes.push(result.map(|_| Code::Ok).unwrap_or_else(|s| s.code()));
    }
    // Each replica keeps its own buckets meanwhile: calls go on, and so does the limit.
    assert_eq!(&codes[..3], &[Code::Ok, Code::Ok, Code::Ok], "{codes:?}");
    assert!(codes[3..].contains(&Code::ResourceExhausted), "{codes:?}");
    client
        .list_children(authed(&calm, ListChildrenRequest::default()))
        .await
        .expect("another principal has its own bucket");
    t.stop().await;
}
