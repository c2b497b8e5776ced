//! Partner machine clients: client credentials at the gateway's token endpoint give a short-lived token
//! with the client's agency and roles, and nothing more.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use haven_authz::{Claims, ClientRegistry};
use haven_cli::Suite;
use haven_platform::HavenConfig;
use haven_platform::authz_files::ClientRegistryFiles as _;
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

/// Wrong secrets for one client id, sent without pause by eight tasks in the background.
struct Guessing {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
    workers: tokio::task::JoinSet<(usize, usize)>,
}

impl Guessing {
    /// Starts guessing; `forwarded_for` gives the n-th guess's `x-forwarded-for`, if any.
    fn start(
        guesser: &TokensClient<Channel>,
        id: &str,
        forwarded_for: impl Fn(usize) -> Option<String> + Clone + Send + 'static,
    ) -> Guessing {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicUsize::new(0));
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (mut client, id, stop, sent) =
                (guesser.clone(), id.to_owned(), stop.clone(), sent.clone());
            let forwarded_for = forwarded_for.clone();
            workers.spawn(async move {
                let (mut checked, mut refused) = (0, 0);
                while !stop.load(Ordering::Relaxed) {
                    let n = sent.fetch_add(1, Ordering::Relaxed);
                    let request = ask(&id, &format!("wrong-{n}"), forwarded_for(n).as_deref());
                    let status = client
                        .issue_token(request)
                        .await
                        .expect_err("a wrong secret never works");
                    match status.code() {
                        Code::Unauthenticated => checked += 1,
                        Code::ResourceExhausted => refused += 1,
                        other => panic!("unexpected {other:?}: {}", status.message()),
                    }
                }
                (checked, refused)
            });
        }
        Guessing {
            stop,
            sent,
            workers,
        }
    }

    /// Waits until at least `count` guesses were sent.
    async fn until_sent(&self, count: usize) {
        while self.sent.load(Ordering::Relaxed) < count {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops; returns how many guesses were checked (UNAUTHENTICATED) and refused unchecked or over
    /// the budget (RESOURCE_EXHAUSTED).
    async fn stop(mut self) -> (usize, usize) {
        self.stop.store(true, Ordering::Relaxed);
        let (mut checked, mut refused) = (0, 0);
        while let Some(outcome) = self.workers.join_next().await {
            let (c, r) = outcome.expect("guessing task");
            checked += c;
            refused += r;
        }
        (checked, refused)
    }
}

/// While 300 guesses and more are being sent, the real client asks five times; every ask must work.
async fn real_client_served_while_guessing(
    guessing: &Guessing,
    real: &TokensClient<Channel>,
    secret: &str,
    forwarded_for: Option<&str>,
    why: &str,
) {
    guessing.until_sent(300).await;
    for _ in 0..5 {
        if let Err(status) = real
            .clone()
            .issue_token(ask("ngo-app", secret, forwarded_for))
            .await
        {
            panic!("{why}: {status:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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
    let real = tokens_from(&suite, "127.0.0.1").await;
    real.clone()
        .issue_token(ask("ngo-app", &secret, None))
        .await
        .expect("the real client gets a token");

    // Guessing from another address: the address is cut off after its budget, and the real client
    // keeps getting tokens for as long as the guessing lasts.
    let guesser = tokens_from(&suite, "127.0.0.2").await;
    let guessing = Guessing::start(&guesser, "ngo-app", |_| None);
    real_client_served_while_guessing(
        &guessing,
        &real,
        &secret,
        None,
        "locked out by a guesser at another address",
    )
    .await;
    let (checked, refused) = guessing.stop().await;
    assert!(checked <= CHECKED_AT_MOST, "{checked} guesses were checked");
    assert!(refused >= 300 - CHECKED_AT_MOST, "only {refused} refused");
    // The guessing address is refused for other clients too, even with their right secret: it is the
    // address that is throttled.
    let status = guesser
        .clone()
        .issue_token(ask("ngo-other", &other_secret, None))
        .await
        .expect_err("the guessing address is throttled");
    assert_eq!(status.code(), Code::ResourceExhausted);

    // Guessing from the real client's own address: that address's budget runs out too, yet the real
    // client, known at that address, is still served.
    let same_address = tokens_from(&suite, "127.0.0.1").await;
    let guessing = Guessing::start(&same_address, "ngo-app", |_| None);
    real_client_served_while_guessing(
        &guessing,
        &real,
        &secret,
        None,
        "locked out by a guesser at its own address",
    )
    .await;
    let (_, refused) = guessing.stop().await;
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
    let guessing = Guessing::start(&guesser, "ngo-app", |n| {
        Some(format!("198.51.100.{}", n % 250))
    });
    guessing.until_sent(100).await;
    let (checked, _) = guessing.stop().await;
    assert!(checked <= CHECKED_AT_MOST, "{checked} guesses were checked");
    suite.shutdown().await.expect("shutdown");
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn behind_a_proxy_the_trusted_header_names_the_caller() {
    let (suite, secret, _, dir) = suite_with_clients(Some("X-Forwarded-For")).await;
    // Everything arrives from the proxy's address (here 127.0.0.1); the proxy appends the caller's.
    let proxy = tokens_from(&suite, "127.0.0.1").await;
    let guessing = Guessing::start(&proxy, "ngo-app", |_| {
        Some("192.0.2.10, 203.0.113.7".into())
    });
    // Another caller behind the same proxy, on its first request, is not held back by the guesser.
    real_client_served_while_guessing(
        &guessing,
        &proxy,
        &secret,
        Some("198.51.100.20"),
        "a caller behind the proxy locked out by another",
    )
    .await;
    let (checked, _) = guessing.stop().await;
    assert!(checked <= CHECKED_AT_MOST, "{checked} guesses were checked");
    suite.shutdown().await.expect("shutdown");
    std::fs::remove_dir_all(dir).ok();
}
