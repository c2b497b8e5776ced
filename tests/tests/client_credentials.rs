//! Partner machine clients: client credentials at the gateway's token endpoint give a short-lived token
//! with the client's agency and roles, and nothing more.

use std::net::SocketAddr;

use haven::Suite;
use haven_authz::{Claims, ClientRegistry};
use haven_platform::HavenConfig;
use haven_proto::auth::IssueTokenRequest;
use haven_proto::auth::tokens_client::TokensClient;
use haven_proto::identity::child_identity_client::ChildIdentityClient;
use haven_proto::identity::list_referrals_request::Direction;
use haven_proto::identity::{ListReferralsRequest, RegisterChildRequest};
use haven_tests::authed;
use haven_tests::fixtures::{case_child, register};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request};

/// A suite whose token endpoint knows `ngo-app` and `ngo-other`; returns it with their secrets.
async fn suite_with_clients(
    trusted_proxy_header: Option<&str>,
) -> (Suite, String, String, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("haven-clients-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).expect("dir");
    let clients = dir.join("clients.toml");
    let secret = ClientRegistry::add_to_file(&clients, "ngo-app", "ngo-1", vec!["partner".into()])
        .expect("client");
    let other = ClientRegistry::add_to_file(&clients, "ngo-other", "ngo-2", vec!["partner".into()])
        .expect("client");
    let mut config = HavenConfig {
        data_dir: dir.clone(),
        ..HavenConfig::default()
    };
    config.gateway.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    config.gateway.trusted_proxy_header = trusted_proxy_header.map(str::to_owned);
    config.auth.clients_path = Some(clients);
    let suite = Suite::start(config).await.expect("suite");
    (suite, secret, other, dir)
}

/// A token endpoint client whose connection comes from `local` (any 127/8 address is this machine).
async fn tokens_from(suite: &Suite, local: &str) -> TokensClient<Channel> {
    let channel = Endpoint::from_shared(format!("http://{}", suite.gateway_addr))
        .expect("url")
        .local_address(Some(local.parse().expect("ip")))
        .connect()
        .await
        .expect("connect");
    TokensClient::new(channel)
}

fn ask(id: &str, secret: &str, forwarded_for: Option<&str>) -> Request<IssueTokenRequest> {
    let mut request = Request::new(IssueTokenRequest {
        grant_type: "client_credentials".into(),
        client_id: id.into(),
        client_secret: secret.into(),
    });
    if let Some(address) = forwarded_for {
        request
            .metadata_mut()
            .insert("x-forwarded-for", address.parse().expect("ascii"));
    }
    request
}

/// Sends `count` wrong secrets for `id`, `BATCH` at a time, asking `between` after every batch; returns
/// how many guesses were answered UNAUTHENTICATED (checked) and RESOURCE_EXHAUSTED (refused).
async fn guess(
    guesser: &TokensClient<Channel>,
    id: &str,
    count: usize,
    forwarded_for: impl Fn(usize) -> Option<String>,
    mut between: impl AsyncFnMut(),
) -> (usize, usize) {
    const BATCH: usize = 50;
    let (mut checked, mut refused) = (0, 0);
    for batch in 0..count.div_ceil(BATCH) {
        let mut set = tokio::task::JoinSet::new();
        for i in batch * BATCH..((batch + 1) * BATCH).min(count) {
            let mut client = guesser.clone();
            let request = ask(id, &format!("wrong-{i}"), forwarded_for(i).as_deref());
            set.spawn(async move { client.issue_token(request).await });
        }
        while let Some(outcome) = set.join_next().await {
            let status = outcome
                .expect("task")
                .expect_err("a wrong secret never works");
            match status.code() {
                Code::Unauthenticated => checked += 1,
                Code::ResourceExhausted => refused += 1,
                other => panic!("unexpected {other:?}: {}", status.message()),
            }
        }
        between().await;
    }
    (checked, refused)
}

/// Guesses the budget may have let through: the burst, plus what refilled while the test ran.
const CHECKED_AT_MOST: usize = haven_gateway::FAILURES_PER_ADDRESS as usize + 2;

#[tokio::test]
async fn a_partner_client_trades_its_secret_for_a_short_lived_partner_token() {
    let dir = std::env::temp_dir().join(format!("haven-clients-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).expect("dir");
    let clients = dir.join("clients.toml");
    let secret = ClientRegistry::add_to_file(&clients, "ngo-app", "ngo-1", vec!["partner".into()])
        .expect("client");
    let mut config = HavenConfig {
        data_dir: dir.clone(),
        ..HavenConfig::default()
    };
    config.gateway.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    config.auth.clients_path = Some(clients);
    let suite = Suite::start(config).await.expect("suite");
    let url = format!("http://{}", suite.gateway_addr);
    let mut tokens = TokensClient::connect(url.clone()).await.expect("connect");
    let ask = |id: &str, secret: &str, grant: &str| IssueTokenRequest {
        grant_type: grant.into(),
        client_id: id.into(),
        client_secret: secret.into(),
    };

    let wrong = tokens
        .issue_token(ask("ngo-app", "not-the-secret", "client_credentials"))
        .await
        .expect_err("wrong secret");
    let unknown = tokens
        .issue_token(ask("nobody", &secret, "client_credentials"))
        .await
        .expect_err("unknown client");
    assert_eq!(wrong.code(), Code::Unauthenticated);
    assert_eq!(
        (wrong.code(), wrong.message()),
        (unknown.code(), unknown.message()),
        "no hint which was wrong"
    );
    let status = tokens
        .issue_token(ask("ngo-app", &secret, "password"))
        .await
        .expect_err("only client credentials");
    assert_eq!(status.code(), Code::InvalidArgument);

    let issued = tokens
        .issue_token(ask("ngo-app", &secret, "client_credentials"))
        .await
        .expect("issued")
        .into_inner();
    assert_eq!(issued.token_type, "Bearer");
    assert_eq!(issued.expires_in, 300);
    let claims: Claims = jsonwebtoken::dangerous::insecure_decode(&issued.access_token)
        .expect("jwt")
        .claims;
    assert_eq!(
        (claims.sub.as_str(), claims.agency.as_str()),
        ("client:ngo-app", "ngo-1")
    );
    assert_eq!(claims.roles, vec!["partner".to_string()]);
    assert_eq!(claims.exp - claims.iat, 300);

    let mut client = ChildIdentityClient::connect(url).await.expect("connect");
    client
        .list_referrals(authed(
            &issued.access_token,
            ListReferralsRequest {
                direction: Direction::Incoming as i32,
                page: None,
            },
        ))
        .await
        .expect("the token works as a partner's");
    let request: RegisterChildRequest = register(case_child("Not", "Allowed", false));
    let status = client
        .register_child(authed(&issued.access_token, request))
        .await
        .expect_err("partners cannot register");
    assert_eq!(status.code(), Code::PermissionDenied);
    suite.shutdown().await.expect("shutdown");
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn guessing_a_clients_secret_never_locks_the_real_client_out() {
    let (suite, secret, other_secret, dir) = suite_with_clients(None).await;
    let mut real = tokens_from(&suite, "127.0.0.1").await;
    real.issue_token(ask("ngo-app", &secret, None))
        .await
        .expect("the real client gets a token");

    // 300 wrong secrets from another address: the address is cut off after its budget, and the real
    // client keeps getting tokens throughout.
    let guesser = tokens_from(&suite, "127.0.0.2").await;
    let (checked, refused) = guess(
        &guesser,
        "ngo-app",
        300,
        |_| None,
        async || {
            real.clone()
                .issue_token(ask("ngo-app", &secret, None))
                .await
                .expect("the real client is not locked out while another address guesses");
        },
    )
    .await;
    assert!(checked <= CHECKED_AT_MOST, "{checked} guesses were checked");
    assert_eq!(checked + refused, 300);
    // The guessing address is refused for other clients too, even with their right secret: it is the
    // address that is throttled.
    let status = guesser
        .clone()
        .issue_token(ask("ngo-other", &other_secret, None))
        .await
        .expect_err("the guessing address is throttled");
    assert_eq!(status.code(), Code::ResourceExhausted);

    // 300 wrong secrets from the real client's own address: its budget runs out too, yet the real
    // client, known at that address, is still served.
    let same_address = tokens_from(&suite, "127.0.0.1").await;
    let (_, refused) = guess(
        &same_address,
        "ngo-app",
        300,
        |_| None,
        async || {
            real.clone()
                .issue_token(ask("ngo-app", &secret, None))
                .await
                .expect("the real client is not locked out by a guesser at its own address");
        },
    )
    .await;
    assert!(refused >= 300 - CHECKED_AT_MOST, "only {refused} refused");

    // Neither guesser used up the client's own budget: the real client can come from a new address.
    tokens_from(&suite, "127.0.0.3")
        .await
        .issue_token(ask("ngo-app", &secret, None))
        .await
        .expect("a new address of the real client");
    suite.shutdown().await.expect("shutdown");
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn an_unconfigured_forwarding_header_is_ignored() {
    let (suite, _, _, dir) = suite_with_clients(None).await;
    let guesser = tokens_from(&suite, "127.0.0.2").await;
    // Claiming a new address per guess does not help: without a trusted proxy header, the peer counts.
    let (checked, _) = guess(
        &guesser,
        "ngo-app",
        100,
        |i| Some(format!("198.51.100.{}", i % 250)),
        async || {},
    )
    .await;
    assert!(checked <= CHECKED_AT_MOST, "{checked} guesses were checked");
    suite.shutdown().await.expect("shutdown");
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn behind_a_proxy_the_trusted_header_names_the_caller() {
    let (suite, secret, _, dir) = suite_with_clients(Some("X-Forwarded-For")).await;
    // Everything arrives from the proxy's address (here 127.0.0.1).
    let proxy = tokens_from(&suite, "127.0.0.1").await;
    let (checked, _) = guess(
        &proxy,
        "ngo-app",
        300,
        |_| Some("192.0.2.10, 203.0.113.7".into()),
        async || {},
    )
    .await;
    assert!(checked <= CHECKED_AT_MOST, "{checked} guesses were checked");
    // Another caller behind the same proxy, on its first request, is not held back by the guesser.
    proxy
        .clone()
        .issue_token(ask("ngo-app", &secret, Some("198.51.100.20")))
        .await
        .expect("another caller behind the proxy");
    suite.shutdown().await.expect("shutdown");
    std::fs::remove_dir_all(dir).ok();
}
