//! The partners' door over plain HTTP: OAuth2 client credentials at `/oauth2/token` (the same endpoint,
//! registry, secret check and limits as the gRPC `Tokens` service), the keys and metadata at
//! well-known URLs, CORS for configured origins only, and gRPC-Web through the same rule table as gRPC.

use std::net::IpAddr;
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use haven_authz::{ClientRegistry, TokenVerifier, TrustedKeys, VerifierSettings};
use haven_platform::authz_files::ClientRegistryFiles as _;
use haven_proto::auth::IssueTokenRequest;
use haven_proto::auth::tokens_client::TokensClient;
use haven_proto::identity::child_identity_client::ChildIdentityClient;
use haven_proto::identity::list_referrals_request::Direction;
use haven_proto::identity::{ChildView, ListReferralsRequest};
use haven_tests::fixtures::{case_child, id_of, register};
use haven_tests::http1::{self, Response};
use haven_tests::{Options, TestSuite, authed};
use prost::Message as _;
use tonic::Code;
use tonic::transport::Endpoint;

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");
const PARTNER_ORIGIN: &str = "https://partner.example";

/// Registered clients and their secrets.
struct Clients {
    path: PathBuf,
    ngo: String,
    suspended: String,
    two_roles: String,
}

/// `ngo-app` (partner of `ngo-1`), `ngo-suspended`, whose roles were all withdrawn, and `ngo-both`,
/// partner and lms.
fn clients() -> Clients {
    let dir = std::env::temp_dir().join(format!("haven-oauth-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("clients.toml");
    let ngo = ClientRegistry::add_to_file(&path, "ngo-app", "ngo-1", vec!["partner".into()])
        .expect("client");
    let suspended =
        ClientRegistry::add_to_file(&path, "ngo-suspended", "ngo-3", vec![]).expect("client");
    let two_roles = ClientRegistry::add_to_file(
        &path,
        "ngo-both",
        "ngo-4",
        vec!["partner".into(), "lms".into()],
    )
    .expect("client");
    Clients {
        path,
        ngo,
        suspended,
        two_roles,
    }
}

async fn suite(clients: &Clients, origins: &[&str]) -> TestSuite {
    TestSuite::start_with(Options {
        clients_path: Some(clients.path.clone()),
        cors_allowed_origins: origins.iter().map(|o| (*o).to_owned()).collect(),
        ..Options::default()
    })
    .await
}

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

async fn post_token(t: &TestSuite, headers: &[(&str, &str)], form: &str) -> Response {
    http1::request(
        t.suite.gateway_addr,
        "POST",
        "/oauth2/token",
        headers,
        Some(form.as_bytes()),
    )
    .await
}

fn assert_oauth_error(response: &Response, status: u16, error: &str) {
    assert_eq!(response.status, status, "{}", response.text());
    assert_eq!(response.json()["error"], error, "{}", response.text());
    assert_eq!(response.header("cache-control"), Some("no-store"));
    assert!(
        response.header("grpc-status").is_none(),
        "the telemetry status header never leaves the gateway"
    );
}

#[tokio::test]
async fn a_token_from_http_basic_or_post_works_over_rest_and_grpc_and_verifies_with_the_published_keys()
 {
    let clients = clients();
    let t = suite(&clients, &[]).await;
    let by_basic = post_token(
        &t,
        &[FORM, ("authorization", &basic("ngo-app", &clients.ngo))],
        "grant_type=client_credentials",
    )
    .await;
    assert_eq!(by_basic.status, 200, "{}", by_basic.text());
    assert_eq!(by_basic.header("cache-control"), Some("no-store"));
    let body = by_basic.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], t.config.auth.client_token_ttl_secs);
    assert_eq!(body["scope"], "partner");
    let basic_token = body["access_token"].as_str().expect("token").to_owned();

    let by_post = post_token(
        &t,
        &[FORM],
        &format!(
            "grant_type=client_credentials&client_id=ngo-app&client_secret={}&scope=partner",
            clients.ngo
        ),
    )
    .await;
    assert_eq!(by_post.status, 200, "{}", by_post.text());
    let post_token_text = by_post.json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_ne!(basic_token, post_token_text, "each token is its own");

    // REST: the partner's incoming referrals (none yet, but the call is admitted).
    let rest = http1::request(
        t.suite.gateway_addr,
        "GET",
        "/v1/referrals?direction=DIRECTION_INCOMING",
        &[("authorization", &format!("Bearer {basic_token}"))],
        None,
    )
    .await;
    assert_eq!(rest.status, 200, "{}", rest.text());
    // gRPC: the same call.
    let listed = t
        .client()
        .list_referrals(authed(
            &post_token_text,
            ListReferralsRequest {
                direction: Direction::Incoming as i32,
                page: None,
            },
        ))
        .await
        .expect("a token from HTTP works over gRPC");
    assert!(listed.into_inner().referrals.is_empty());

    // The published keys verify it, as any partner's resource server would.
    let jwks = http1::request(
        t.suite.gateway_addr,
        "GET",
        "/.well-known/jwks.json",
        &[],
        None,
    )
    .await;
    assert_eq!(jwks.status, 200);
    assert!(
        jwks.header("cache-control")
            .is_some_and(|v| v.starts_with("public, max-age="))
    );
    assert!(!jwks.text().contains("\"d\""), "no private member");
    let keys = TrustedKeys::from_jwks_json(&jwks.text()).expect("a JWKS");
    let verifier = TokenVerifier::new(
        keys,
        VerifierSettings {
            issuer: t.config.auth.issuer.clone(),
            audience: t.config.auth.audience.clone(),
            leeway_secs: 5,
            max_lifetime_secs: 3600,
        },
    );
    let principal = verifier.verify(&basic_token).expect("verifies");
    assert_eq!(principal.agency, "ngo-1");

    // A scope narrows the token to the roles it names, and the token carries no other.
    let narrowed = post_token(
        &t,
        &[
            FORM,
            ("authorization", &basic("ngo-both", &clients.two_roles)),
        ],
        "grant_type=client_credentials&scope=lms",
    )
    .await;
    assert_eq!(narrowed.status, 200, "{}", narrowed.text());
    assert_eq!(narrowed.json()["scope"], "lms");
    let token = narrowed.json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let principal = verifier.verify(&token).expect("verifies");
    assert_eq!(principal.roles, vec![haven_authz::Role::Lms]);
    let whole = post_token(
        &t,
        &[
            FORM,
            ("authorization", &basic("ngo-both", &clients.two_roles)),
        ],
        "grant_type=client_credentials",
    )
    .await;
    assert_eq!(whole.json()["scope"], "partner lms", "{}", whole.text());
    let status = t
        .client()
        .list_referrals(authed(
            &token,
            ListReferralsRequest {
                direction: Direction::Incoming as i32,
                page: None,
            },
        ))
        .await
        .expect_err("an lms-only token may not list referrals");
    assert_eq!(status.code(), Code::PermissionDenied);
    t.stop().await;
}

#[tokio::test]
async fn the_metadata_names_the_token_endpoint_and_keys() {
    let clients = clients();
    let t = suite(&clients, &[]).await;
    let addr = t.suite.gateway_addr;
    let metadata = http1::request(
        addr,
        "GET",
        "/.well-known/oauth-authorization-server",
        &[],
        None,
    )
    .await;
    assert_eq!(metadata.status, 200, "{}", metadata.text());
    assert!(
        metadata
            .header("cache-control")
            .is_some_and(|v| v.starts_with("public"))
    );
    let doc = metadata.json();
    // The embedded default has no public URL: it names the Host the request came to.
    let base = format!("http://{addr}");
    assert_eq!(doc["issuer"], base.as_str());
    assert_eq!(doc["token_endpoint"], format!("{base}/oauth2/token"));
    assert_eq!(doc["jwks_uri"], format!("{base}/.well-known/jwks.json"));
    assert_eq!(doc["grant_types_supported"][0], "client_credentials");
    let methods = doc["token_endpoint_auth_methods_supported"]
        .as_array()
        .expect("methods");
    assert!(methods.contains(&"client_secret_basic".into()));
    assert!(methods.contains(&"client_secret_post".into()));
    assert!(doc["response_types_supported"].is_array());
    let openapi = http1::request(addr, "GET", "/v1/openapi.json", &[], None)
        .await
        .json();
    for path in [
        "/oauth2/token",
        "/.well-known/jwks.json",
        "/.well-known/oauth-authorization-server",
    ] {
        assert!(openapi["paths"][path].is_object(), "{path} is documented");
    }
    t.stop().await;
}

#[tokio::test]
async fn every_malformed_token_request_is_refused_with_its_oauth2_error() {
    let clients = clients();
    let t = suite(&clients, &[]).await;
    let ngo_basic = basic("ngo-app", &clients.ngo);
    let good_post = format!("client_id=ngo-app&client_secret={}", clients.ngo);

    let missing_grant = post_token(&t, &[FORM], &good_post).await;
    assert_oauth_error(&missing_grant, 400, "invalid_request");

    let password = post_token(&t, &[FORM], &format!("grant_type=password&{good_post}")).await;
    assert_oauth_error(&password, 400, "unsupported_grant_type");

    let both = post_token(
        &t,
        &[FORM, ("authorization", &ngo_basic)],
        &format!("grant_type=client_credentials&{good_post}"),
    )
    .await;
    assert_oauth_error(&both, 400, "invalid_request");

    let two_ids = post_token(
        &t,
        &[FORM, ("authorization", &ngo_basic)],
        "grant_type=client_credentials&client_id=ngo-other",
    )
    .await;
    assert_oauth_error(&two_ids, 400, "invalid_request");

    let twice = post_token(
        &t,
        &[FORM],
        &format!("grant_type=client_credentials&{good_post}&client_id=ngo-app"),
    )
    .await;
    assert_oauth_error(&twice, 400, "invalid_request");

    let json = post_token(
        &t,
        &[("content-type", "application/json")],
        r#"{"grant_type":"client_credentials"}"#,
    )
    .await;
    assert_oauth_error(&json, 400, "invalid_request");

    let huge = format!(
        "grant_type=client_credentials&{good_post}&padding={}",
        "x".repeat(8 * 1024)
    );
    let too_large = post_token(&t, &[FORM], &huge).await;
    assert_oauth_error(&too_large, 413, "invalid_request");

    let get = http1::request(t.suite.gateway_addr, "GET", "/oauth2/token", &[], None).await;
    assert_eq!(get.status, 405);
    assert_eq!(get.header("allow"), Some("POST"));

    let nothing = post_token(&t, &[FORM], "grant_type=client_credentials").await;
    assert_oauth_error(&nothing, 401, "invalid_client");
    assert!(
        nothing
            .header("www-authenticate")
            .is_some_and(|v| v.starts_with("Basic"))
    );

    let not_basic = post_token(
        &t,
        &[FORM, ("authorization", "Bearer something")],
        "grant_type=client_credentials",
    )
    .await;
    assert_oauth_error(&not_basic, 400, "invalid_request");

    let wider = post_token(
        &t,
        &[FORM, ("authorization", &ngo_basic)],
        "grant_type=client_credentials&scope=partner%20lms",
    )
    .await;
    assert_oauth_error(&wider, 400, "invalid_scope");

    let suspended = post_token(
        &t,
        &[
            FORM,
            ("authorization", &basic("ngo-suspended", &clients.suspended)),
        ],
        "grant_type=client_credentials",
    )
    .await;
    assert_oauth_error(&suspended, 400, "unauthorized_client");
    t.stop().await;
}

/// What a caller can observe of a refusal: status, headers that matter and body.
fn observed(response: &Response) -> (u16, Option<String>, Option<String>, String) {
    (
        response.status,
        response.header("www-authenticate").map(str::to_owned),
        response.header("content-type").map(str::to_owned),
        response.text(),
    )
}

#[tokio::test]
async fn unknown_clients_suspended_clients_and_wrong_secrets_are_refused_alike() {
    let clients = clients();
    let t = suite(&clients, &[]).await;
    let form = "grant_type=client_credentials";
    let wrong_secret = post_token(
        &t,
        &[FORM, ("authorization", &basic("ngo-app", "guess"))],
        form,
    )
    .await;
    let unknown = post_token(
        &t,
        &[FORM, ("authorization", &basic("no-such-client", "guess"))],
        form,
    )
    .await;
    let suspended_wrong = post_token(
        &t,
        &[FORM, ("authorization", &basic("ngo-suspended", "guess"))],
        form,
    )
    .await;
    assert_oauth_error(&wrong_secret, 401, "invalid_client");
    assert_eq!(observed(&wrong_secret), observed(&unknown));
    assert_eq!(
        observed(&wrong_secret),
        observed(&suspended_wrong),
        "without the secret, a suspended client looks like any other"
    );
    let wrong_post = post_token(
        &t,
        &[FORM],
        &format!("{form}&client_id=ngo-app&client_secret=guess"),
    )
    .await;
    let unknown_post = post_token(
        &t,
        &[FORM],
        &format!("{form}&client_id=no-such-client&client_secret=guess"),
    )
    .await;
    assert_oauth_error(&wrong_post, 400, "invalid_client");
    assert_eq!(observed(&wrong_post), observed(&unknown_post));
    t.stop().await;
}

#[tokio::test]
async fn failures_over_http_and_grpc_spend_one_budget() {
    let clients = clients();
    let t = suite(&clients, &[]).await;
    let guesser: IpAddr = "127.0.0.61".parse().expect("ip");
    let gateway = t.suite.gateway_addr;
    let wrong = basic("ngo-app", "guess");
    // Wrong secrets over HTTP until the address's budget is spent.
    let mut refused_for_limit = None;
    for _ in 0..=2 * haven_gateway::FAILURES_PER_ADDRESS {
        let response = http1::request_from(
            guesser,
            gateway,
            "POST",
            "/oauth2/token",
            &[FORM, ("authorization", &wrong)],
            Some(b"grant_type=client_credentials"),
        )
        .await;
        if response.status == 429 {
            refused_for_limit = Some(response);
            break;
        }
        assert_oauth_error(&response, 401, "invalid_client");
    }
    let limited = refused_for_limit.expect("the address's failures are limited");
    assert_oauth_error(&limited, 429, "temporarily_unavailable");
    assert!(limited.header("retry-after").is_some());

    // The gRPC door counts the same failures: the same address is refused there unchecked, even with
    // the right secret, which a known address never is.
    let channel = Endpoint::from_shared(format!("http://{gateway}"))
        .expect("url")
        .local_address(Some(guesser))
        .connect()
        .await
        .expect("connect");
    let status = TokensClient::new(channel)
        .issue_token(IssueTokenRequest {
            grant_type: "client_credentials".into(),
            client_id: "ngo-app".into(),
            client_secret: clients.ngo.clone(),
        })
        .await
        .expect_err("the address spent its budget over HTTP");
    assert_eq!(status.code(), Code::ResourceExhausted);

    // The real client, from its own address, is not kept out.
    let real = http1::request_from(
        "127.0.0.62".parse().expect("ip"),
        gateway,
        "POST",
        "/oauth2/token",
        &[FORM, ("authorization", &basic("ngo-app", &clients.ngo))],
        Some(b"grant_type=client_credentials"),
    )
    .await;
    assert_eq!(real.status, 200, "{}", real.text());
    t.stop().await;
}

#[tokio::test]
async fn cors_answers_allowed_origins_only() {
    let clients = clients();
    let t = suite(&clients, &[PARTNER_ORIGIN]).await;
    let addr = t.suite.gateway_addr;
    let preflight = |origin: &'static str| async move {
        http1::request(
            addr,
            "OPTIONS",
            "/v1/children",
            &[
                ("origin", origin),
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    "authorization, content-type, idempotency-key",
                ),
            ],
            None,
        )
        .await
    };
    let allowed = preflight(PARTNER_ORIGIN).await;
    assert_eq!(allowed.status, 204, "a preflight needs no token");
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some(PARTNER_ORIGIN)
    );
    let methods = allowed
        .header("access-control-allow-methods")
        .expect("methods");
    assert!(methods.contains("POST") && methods.contains("PATCH"));
    let headers = allowed
        .header("access-control-allow-headers")
        .expect("headers");
    for name in [
        "authorization",
        "content-type",
        "idempotency-key",
        "if-match",
        "x-grpc-web",
    ] {
        assert!(headers.contains(name), "{name}");
    }
    assert!(allowed.header("vary").is_some_and(|v| v.contains("origin")));

    let refused = preflight("https://partner.example.evil").await;
    assert_eq!(refused.status, 403);
    assert!(refused.header("access-control-allow-origin").is_none());

    // Actual requests: the allowed origin is echoed with the readable headers; another is not.
    let simple = |origin: &'static str| async move {
        http1::request(addr, "GET", "/v1/openapi.json", &[("origin", origin)], None).await
    };
    let from_partner = simple(PARTNER_ORIGIN).await;
    assert_eq!(from_partner.status, 200);
    assert_eq!(
        from_partner.header("access-control-allow-origin"),
        Some(PARTNER_ORIGIN)
    );
    let exposed = from_partner
        .header("access-control-expose-headers")
        .expect("exposed");
    for name in [
        "etag",
        "location",
        "retry-after",
        "grpc-status",
        "grpc-message",
    ] {
        assert!(exposed.contains(name), "{name}");
    }
    assert!(
        from_partner
            .header("vary")
            .is_some_and(|v| v.contains("origin"))
    );
    let from_elsewhere = simple("https://elsewhere.example").await;
    assert_eq!(from_elsewhere.status, 200);
    assert!(
        from_elsewhere
            .header("access-control-allow-origin")
            .is_none()
    );
    assert!(
        from_elsewhere
            .header("vary")
            .is_some_and(|v| v.contains("origin"))
    );

    // A refused call still tells the allowed page why (its problem+json is readable).
    let unauthenticated = http1::request(
        addr,
        "GET",
        "/v1/children",
        &[("origin", PARTNER_ORIGIN)],
        None,
    )
    .await;
    assert_eq!(unauthenticated.status, 401);
    assert_eq!(
        unauthenticated.header("access-control-allow-origin"),
        Some(PARTNER_ORIGIN)
    );
    t.stop().await;
}

#[tokio::test]
async fn without_configured_origins_no_cors_header_is_sent() {
    let t = TestSuite::start().await;
    let addr = t.suite.gateway_addr;
    let preflight = http1::request(
        addr,
        "OPTIONS",
        "/v1/children",
        &[
            ("origin", PARTNER_ORIGIN),
            ("access-control-request-method", "POST"),
        ],
        None,
    )
    .await;
    assert_ne!(preflight.status / 100, 2, "no preflight is granted");
    let simple = http1::request(
        addr,
        "GET",
        "/v1/openapi.json",
        &[("origin", PARTNER_ORIGIN)],
        None,
    )
    .await;
    for response in [&preflight, &simple] {
        assert!(
            response
                .headers
                .iter()
                .all(|(name, _)| !name.starts_with("access-control-")),
            "{:?}",
            response.headers
        );
    }
    t.stop().await;
}

/// One gRPC-Web data frame holding `message`.
fn frame(message: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8];
    out.extend_from_slice(&u32::try_from(message.len()).expect("len").to_be_bytes());
    out.extend_from_slice(message);
    out
}

/// The data frames' messages and the trailer frame's text of a gRPC-Web answer.
fn frames(mut body: &[u8]) -> (Vec<Vec<u8>>, String) {
    let (mut messages, mut trailers) = (Vec::new(), String::new());
    while body.len() >= 5 {
        let flag = body[0];
        let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
        let payload = &body[5..5 + len];
        if flag & 0x80 == 0 {
            messages.push(payload.to_vec());
        } else {
            trailers.push_str(&String::from_utf8_lossy(payload));
        }
        body = &body[5 + len..];
    }
    (messages, trailers)
}

/// Base64 as gRPC-Web text answers it: chunks, each padded on its own, so decoded four characters at a
/// time.
fn decode_text(text: &[u8]) -> Vec<u8> {
    text.chunks(4)
        .flat_map(|group| STANDARD.decode(group).expect("base64 group"))
        .collect()
}

/// The gRPC status of a gRPC-Web answer: in the headers (a trailers-only answer) or the trailer frame.
fn web_status(response: &Response, trailers: &str) -> Option<String> {
    response
        .header("grpc-status")
        .map(str::to_owned)
        .or_else(|| {
            trailers
                .lines()
                .find_map(|line| line.trim().strip_prefix("grpc-status:"))
                .map(|v| v.trim().to_owned())
        })
}

#[tokio::test]
async fn grpc_web_binary_and_text_reach_the_service_through_the_rule_table() {
    let t = TestSuite::start_with(Options {
        cors_allowed_origins: vec![PARTNER_ORIGIN.into()],
        ..Options::default()
    })
    .await;
    let addr = t.suite.gateway_addr;
    let caseworker = format!("Bearer {}", t.token("caseworker", "cw-web", "agency-a"));
    let path = "/haven.identity.v1.ChildIdentity/RegisterChild";

    // Binary, over HTTP/1.1.
    let request = register(case_child("Webba", "Binary", false)).encode_to_vec();
    let binary = http1::request(
        addr,
        "POST",
        path,
        &[
            ("content-type", "application/grpc-web+proto"),
            ("x-grpc-web", "1"),
            ("authorization", &caseworker),
            ("origin", PARTNER_ORIGIN),
        ],
        Some(&frame(&request)),
    )
    .await;
    assert_eq!(binary.status, 200, "{}", binary.text());
    assert!(
        binary
            .header("content-type")
            .is_some_and(|v| v.starts_with("application/grpc-web"))
    );
    assert_eq!(
        binary.header("access-control-allow-origin"),
        Some(PARTNER_ORIGIN)
    );
    let (messages, trailers) = frames(&binary.body);
    assert_eq!(web_status(&binary, &trailers).as_deref(), Some("0"));
    let view = ChildView::decode(messages.first().expect("a message").as_slice()).expect("view");
    let child_id = id_of(&view);

    // Text (base64), over HTTP/1.1: the child registered over gRPC-Web is there over gRPC too.
    let request = register(case_child("Webba", "Text", false)).encode_to_vec();
    let text = http1::request(
        addr,
        "POST",
        path,
        &[
            ("content-type", "application/grpc-web-text"),
            ("accept", "application/grpc-web-text"),
            ("authorization", &caseworker),
        ],
        Some(STANDARD.encode(frame(&request)).as_bytes()),
    )
    .await;
    assert_eq!(text.status, 200, "{}", text.text());
    let (messages, trailers) = frames(&decode_text(&text.body));
    assert_eq!(
        web_status(&text, &trailers).as_deref(),
        Some("0"),
        "{:?} {trailers}",
        text.headers
    );
    let second = ChildView::decode(messages.first().expect("a message").as_slice()).expect("view");
    assert_ne!(id_of(&second), child_id);
    let mut grpc = ChildIdentityClient::new(t.channel());
    let caseworker_token = t.token("caseworker", "cw-web", "agency-a");
    let fetched = grpc
        .get_child(authed(
            &caseworker_token,
            haven_proto::identity::GetChildRequest {
                id: child_id.clone(),
            },
        ))
        .await
        .expect("the child registered over gRPC-Web")
        .into_inner();
    assert_eq!(id_of(&fetched), child_id);

    // A role the rule table refuses is refused over gRPC-Web too, and no token is refused as such.
    let auditor = format!("Bearer {}", t.token("auditor", "au-web", "agency-a"));
    let request = register(case_child("Webba", "Refused", false)).encode_to_vec();
    for (authorization, expected) in [
        (Some(auditor.as_str()), Code::PermissionDenied),
        (None, Code::Unauthenticated),
    ] {
        let mut headers = vec![("content-type", "application/grpc-web+proto")];
        if let Some(value) = authorization {
            headers.push(("authorization", value));
        }
        let refused = http1::request(addr, "POST", path, &headers, Some(&frame(&request))).await;
        let (messages, trailers) = frames(&refused.body);
        assert!(messages.is_empty(), "nothing is answered");
        assert_eq!(
            web_status(&refused, &trailers),
            Some((expected as i32).to_string()),
            "{:?}",
            refused.headers
        );
    }
    t.stop().await;
}
