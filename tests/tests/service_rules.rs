//! The services apply the gateway's rule table themselves: a caller who reaches a service directly (a
//! misrouted network policy, a compromised pod next door) is refused exactly what the gateway would
//! refuse, from the same table, before the handler reads the body.

use haven_authz::{Door, Policy, Role, RuleTable, Verdict, method_name};
use haven_tests::TestSuite;
use tonic::Code;
use tonic::transport::Channel;

fn channel(addr: std::net::SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("url")
        .connect_lazy()
}

#[tokio::test]
async fn every_role_reaching_a_service_directly_is_refused_what_the_rule_table_refuses() {
    let t = TestSuite::start().await;
    let rules = RuleTable::haven();
    let policy = Policy::default();
    let services = [
        ("/haven.identity.v1.", channel(t.suite.identity_addr)),
        (
            "/haven.family_tracing.v1.",
            channel(t.suite.family_tracing_addr),
        ),
        ("/haven.learning.v1.", channel(t.suite.learning_addr)),
    ];
    let mut methods: Vec<&str> = rules.methods().collect();
    methods.sort_unstable();
    let (mut refused, mut admitted) = (0, 0);
    for role in Role::ALL {
        let claims = t.claims(role.as_str(), &format!("{role}-1"), "agency-a");
        let token = t.sign(&claims);
        let principal = t
            .suite
            .auth
            .authenticate(Some(&format!("Bearer {token}")))
            .await
            .expect("the suite trusts its own token");
        for &path in &methods {
            let (_, channel) = services
                .iter()
                .find(|(prefix, _)| path.starts_with(prefix))
                .expect("every rule names a method of a Haven service");
            // An empty body is a valid empty message: what the handler makes of it does not matter
            // here, only whether the call got past the rule check.
            let outcome =
                haven_tests::raw::call(channel.clone(), path, Some(&token), Vec::new()).await;
            let refusal = format!("your role may not call {}", method_name(path));
            let was_refused = matches!(
                &outcome,
                Err(status) if status.code() == Code::PermissionDenied && status.message() == refusal
            );
            let verdict = rules.verdict(&policy, &principal, path, Door::Service);
            assert_eq!(
                was_refused,
                verdict == Verdict::Denied,
                "{role} calling {path} directly: {outcome:?}"
            );
            if was_refused {
                refused += 1;
            } else {
                admitted += 1;
            }
            // The gateway's door differs only for the tracing service's own principal.
            let at_gateway = rules.verdict(&policy, &principal, path, Door::Gateway);
            if role == Role::TracingService {
                assert_eq!(at_gateway, Verdict::Denied, "{path}");
            } else {
                assert_eq!(at_gateway, verdict, "{role} {path}");
            }
        }
    }
    // Both answers occur, so the check above compared something.
    assert!(
        refused > 50 && admitted > 50,
        "{refused} refused, {admitted} admitted"
    );

    // A method no rule names is not served by a service either, even to an administrator.
    let admin = t.token("admin", "admin-1", "agency-a");
    let unknown = haven_tests::raw::call(
        services[0].1.clone(),
        "/haven.identity.v1.ChildIdentity/NoSuchMethod",
        Some(&admin),
        Vec::new(),
    )
    .await
    .expect_err("no rule, no call");
    assert_eq!(unknown.code(), Code::Unimplemented);
    t.stop().await;
}

#[tokio::test]
async fn the_tracing_services_own_principal_still_reads_identity_directly() {
    let t = TestSuite::start().await;
    let token = t.token("tracing_service", "family-tracing", "haven");
    let outcome = haven_tests::raw::call(
        channel(t.suite.identity_addr),
        "/haven.identity.v1.ChildIdentity/GetChild",
        Some(&token),
        Vec::new(),
    )
    .await
    .expect_err("an empty request names no child");
    assert_eq!(
        outcome.code(),
        Code::InvalidArgument,
        "past the rule check, the handler answered: {outcome:?}"
    );
    t.stop().await;
}
