//! Every role against every REST route: the REST door refuses exactly what the rule table refuses at the
//! gateway, for every service's routes (identity, family tracing, learning, partner feeds), and the
//! public routes refuse nobody. The routes come from the same table the gateway serves, so a new
//! annotated RPC joins this test without an edit.

use haven_authz::{Door, Policy, Role, RuleTable, Verdict, method_name};
use haven_gateway::rest::RouteTable;
use haven_tests::TestSuite;
use haven_tests::http1::request;

/// The route's path with every variable filled: a fresh UUID, which names no record, so what the
/// handler makes of the call does not matter here, only whether it got past the rule check.
fn concrete(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
        out.push_str(&uuid::Uuid::now_v7().to_string());
        rest = &rest[close..];
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn every_role_over_rest_is_refused_exactly_what_the_rule_table_refuses() {
    let t = TestSuite::start().await;
    let rules = RuleTable::haven();
    let policy = Policy::default();
    let table = RouteTable::haven().expect("routes");
    let (mut refused, mut admitted, mut public) = (0, 0, 0);
    let mut mismatches = Vec::new();
    for role in Role::ALL {
        let claims = t.claims(role.as_str(), &format!("{role}-rest"), "agency-a");
        let token = t.sign(&claims);
        let principal = t
            .suite
            .auth
            .authenticate(Some(&format!("Bearer {token}")))
            .await
            .expect("the suite trusts its own token");
        let bearer = format!("Bearer {token}");
        for route in &table.routes {
            let path = concrete(&route.template.openapi_path());
            let has_body = !matches!(
                route.method,
                http::Method::GET | http::Method::DELETE | http::Method::HEAD
            );
            let mut headers = vec![("Authorization", bearer.as_str())];
            if has_body {
                headers.push(("Content-Type", "application/json"));
            }
            let answer = request(
                t.suite.gateway_addr,
                route.method.as_str(),
                &path,
                &headers,
                has_body.then_some(&b"{}"[..]),
            )
            .await;
            let problem = answer.json();
            let was_refused = answer.status == 403
                && problem["code"] == "PERMISSION_DENIED"
                && problem["detail"]
                    == format!("your role may not call {}", method_name(&route.grpc_path));
            let expected = if route.public {
                public += 1;
                false
            } else {
                match rules.verdict(&policy, &principal, &route.grpc_path, Door::Gateway) {
                    Verdict::Denied => true,
                    Verdict::Unknown => {
                        mismatches.push(format!("{} has no rule", route.grpc_path));
                        continue;
                    }
                    _ => false,
                }
            };
            if was_refused != expected {
                mismatches.push(format!(
                    "{role} {} {path}: answered {} {}, the table says {}",
                    route.method,
                    answer.status,
                    answer.text(),
                    if expected { "refuse" } else { "admit" }
                ));
            }
            // Nothing a client sends here is our fault.
            if answer.status >= 500 && answer.status != 503 {
                mismatches.push(format!("{role} {} {path}: {}", route.method, answer.text()));
            }
            if was_refused {
                refused += 1;
            } else {
                admitted += 1;
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "REST door against the rule table:\n{}",
        mismatches.join("\n")
    );
    // Both answers occur, so the comparison above compared something.
    assert!(
        refused > 20 && admitted > 20 && public > 0,
        "{refused} refused, {admitted} admitted, {public} public"
    );
    t.stop().await;
}
