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
use tonic::Code;

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
