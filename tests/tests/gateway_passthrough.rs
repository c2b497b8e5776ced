//! The gateway forwards by path prefix without knowing RPCs: a service the gateway crate has never heard
//! of (a throwaway echo service, defined only here) is reachable through it once a route and a rule name
//! it, with no change to the gateway. The rule table still refuses a role it does not allow, the auth
//! layer still refuses a missing token, and a method without a rule is never forwarded.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use haven_authz::{Permission, Policy, Requirement, RuleTable};
use haven_gateway::{Edge, RateLimiter, Route};
use haven_platform::config::GatewayConfig;
use haven_tests::TestSuite;
use tonic::server::NamedService;
use tonic::transport::Channel;
use tonic::{Code, Request, Response, Status};

/// Answers every call with its own body reversed, and counts the calls that reached it.
#[derive(Debug, Clone, Default)]
struct EchoService {
    calls: Arc<AtomicUsize>,
}

impl NamedService for EchoService {
    const NAME: &'static str = "haven.testonly.v1.Echo";
}

struct Reverse;

impl tonic::server::UnaryService<Vec<u8>> for Reverse {
    type Response = Vec<u8>;
    type Future = std::future::Ready<Result<Response<Vec<u8>>, Status>>;
    fn call(&mut self, request: Request<Vec<u8>>) -> Self::Future {
        let carried_token = request.metadata().get("authorization").is_some();
        let mut body = request.into_inner();
        body.reverse();
        body.push(u8::from(carried_token));
        std::future::ready(Ok(Response::new(body)))
    }
}

impl tower::Service<http::Request<tonic::body::Body>> for EchoService {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            Ok(tonic::server::Grpc::new(haven_tests::raw::Raw)
                .unary(Reverse, request)
                .await)
        })
    }
}

#[tokio::test]
async fn a_new_service_is_forwarded_with_a_route_and_a_rule_and_no_gateway_change() {
    let t = TestSuite::start().await;

    let echo = EchoService::default();
    let calls = echo.calls.clone();
    let (echo_listener, echo_addr) =
        haven_platform::server::bind("127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("bind");
    let echo_server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(echo)
            .serve_with_incoming(haven_platform::server::incoming(echo_listener)),
    );

    let config = GatewayConfig::default();
    let mut routes = haven_gateway::haven_routes(&config).expect("routes");
    routes.push(Route {
        prefix: "/haven.testonly.v1.".into(),
        channel: haven_gateway::service_channel(
            &format!("http://{echo_addr}"),
            std::time::Duration::from_secs(5),
        )
        .expect("channel"),
    });
    let edge = Edge {
        auth: t.suite.auth.clone(),
        policy: Arc::new(Policy::default()),
        // Only a role that may break glass may ping; nothing else is known of this service.
        rules: RuleTable::haven().with(
            "/haven.testonly.v1.Echo/Ping",
            Requirement::Has(Permission::BreakGlass),
        ),
        routes,
        limiter: RateLimiter::in_memory(1000, 1000),
        token_issuer: None,
        well_known: haven_gateway::WellKnown::default(),
    };
    let (listener, addr) = haven_platform::server::bind("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    let gateway = tokio::spawn(async move {
        haven_gateway::serve_edge(&config, edge, listener, std::future::pending()).await
    });
    let channel = Channel::from_shared(format!("http://{addr}"))
        .expect("url")
        .connect_lazy();

    let supervisor = t.token("supervisor", "sv-1", "agency-a");
    let caseworker = t.token("caseworker", "cw-1", "agency-a");
    let body = vec![1, 2, 3, 250];

    let answer = haven_tests::raw::call(
        channel.clone(),
        "/haven.testonly.v1.Echo/Ping",
        Some(&supervisor),
        body.clone(),
    )
    .await
    .expect("the supervisor's ping is forwarded");
    assert_eq!(
        answer,
        [250, 3, 2, 1, 1],
        "body forwarded unread, token carried"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    let denied = haven_tests::raw::call(
        channel.clone(),
        "/haven.testonly.v1.Echo/Ping",
        Some(&caseworker),
        body.clone(),
    )
    .await
    .expect_err("the rule refuses a caseworker");
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert_eq!(denied.message(), "your role may not call Ping");

    let anonymous = haven_tests::raw::call(
        channel.clone(),
        "/haven.testonly.v1.Echo/Ping",
        None,
        body.clone(),
    )
    .await
    .expect_err("no token");
    assert_eq!(anonymous.code(), Code::Unauthenticated);

    let unruled = haven_tests::raw::call(
        channel.clone(),
        "/haven.testonly.v1.Echo/Pong",
        Some(&supervisor),
        body,
    )
    .await
    .expect_err("no rule, no forwarding");
    assert_eq!(unruled.code(), Code::Unimplemented);

    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "refused calls never reached the service"
    );
    gateway.abort();
    echo_server.abort();
    t.stop().await;
}

#[test]
fn every_haven_rpc_has_exactly_one_rule_or_is_open_and_every_rule_names_a_real_rpc() {
    let set = <prost_types::FileDescriptorSet as prost::Message>::decode(
        haven_proto::FILE_DESCRIPTOR_SET,
    )
    .expect("descriptor set");
    let rules = RuleTable::haven();
    let mut methods = Vec::new();
    for file in &set.file {
        let package = file.package();
        if !package.starts_with("haven.") {
            continue;
        }
        for service in &file.service {
            for method in &service.method {
                methods.push(format!("/{package}.{}/{}", service.name(), method.name()));
            }
        }
    }
    let open = |path: &str| {
        haven_platform::auth::OPEN_PATHS
            .iter()
            .any(|p| path.starts_with(p))
    };
    for path in &methods {
        assert!(
            open(path) || rules.requirement(path).is_some(),
            "{path} has no rule: the gateway would refuse it"
        );
    }
    for path in rules.methods() {
        assert!(methods.iter().any(|m| m == path), "rule for unknown {path}");
        assert!(!open(path), "{path} is open and has a rule");
    }
    assert!(methods.len() > 40, "{} methods", methods.len());
}
