//! Tokens that must never authenticate, tried against the gateway and against the identity service
//! directly (services verify the JWT themselves and never trust the gateway).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use haven_authz::DevSigningKey;
use haven_platform::authz_files::DevSigningKeyFiles as _;
use haven_proto::identity::child_identity_client::ChildIdentityClient;
use haven_proto::identity::{GetChildRequest, ListChildrenRequest};
use haven_tests::{Options, PrivateRedis, TestSuite, authed, now};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use tonic::{Code, Request};

/// Signs with the suite's development key under a header the test builds.
fn sign_with_header(t: &TestSuite, header: &Header, claims: &haven_authz::Claims) -> String {
    let der = std::fs::read(t.data_dir.join("keys").join("dev-signing-key.p8")).expect("dev key");
    jsonwebtoken::encode(header, claims, &EncodingKey::from_ed_der(&der)).expect("sign")
}

fn unsigned(claims: &haven_authz::Claims, kid: &str) -> String {
    let header = serde_json::json!({"alg": "none", "typ": "JWT", "kid": kid});
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(serde_json::to_string(claims).expect("claims"))
    )
}

fn public_key_bytes(jwks: &str) -> Vec<u8> {
    let value: serde_json::Value = serde_json::from_str(jwks).expect("jwks");
    let x = value["keys"][0]["x"].as_str().expect("x");
    URL_SAFE_NO_PAD.decode(x).expect("base64")
}

#[tokio::test]
async fn bad_tokens_are_unauthenticated_at_the_gateway_and_the_service() {
    let t = TestSuite::start().await;
    let key = t.suite.dev_key.clone().expect("dev key");
    let base = t.claims("supervisor", "sup-1", "agency-a");
    let now = now();

    let mut cases: Vec<(&str, Option<String>)> =
        vec![("no token", None), ("garbage", Some("not.a.jwt".into()))];
    let expired = haven_authz::Claims {
        exp: now - 120,
        iat: now - 900,
        nbf: Some(now - 900),
        ..base.clone()
    };
    cases.push(("expired beyond leeway", Some(t.sign(&expired))));
    let future = haven_authz::Claims {
        nbf: Some(now + 300),
        ..base.clone()
    };
    cases.push(("not yet valid", Some(t.sign(&future))));
    let wrong_aud = haven_authz::Claims {
        aud: "someone-else".into(),
        ..base.clone()
    };
    cases.push(("wrong audience", Some(t.sign(&wrong_aud))));
    let wrong_iss = haven_authz::Claims {
        iss: "evil-issuer".into(),
        ..base.clone()
    };
    cases.push(("wrong issuer", Some(t.sign(&wrong_iss))));
    cases.push(("alg none", Some(unsigned(&base, key.kid()))));
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some(key.kid().to_owned());
    let hs = jsonwebtoken::encode(
        &hs_header,
        &base,
        &EncodingKey::from_secret(&public_key_bytes(&key.jwks_json())),
    )
    .expect("hs256");
    cases.push(("HS256 signed with the public key", Some(hs)));
    let forever = haven_authz::Claims {
        exp: 1 << 63,
        ..base.clone()
    };
    cases.push(("exp of 2^63", Some(t.sign(&forever))));
    let two_days = haven_authz::Claims {
        exp: now + 2 * 24 * 3600,
        ..base.clone()
    };
    cases.push(("a lifetime of two days", Some(t.sign(&two_days))));
    let from_the_future = haven_authz::Claims {
        iat: now + 300,
        nbf: None,
        exp: now + 900,
        ..base.clone()
    };
    cases.push(("iat five minutes ahead", Some(t.sign(&from_the_future))));
    let header = |typ: Option<&str>, crit: Option<Vec<String>>| {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid().to_owned());
        header.typ = typ.map(str::to_owned);
        header.crit = crit;
        header
    };
    cases.push((
        "no typ",
        Some(sign_with_header(&t, &header(None, None), &base)),
    ));
    cases.push((
        "typ of another kind of JWT",
        Some(sign_with_header(&t, &header(Some("vc+jwt"), None), &base)),
    ));
    cases.push((
        "an unknown critical header",
        Some(sign_with_header(
            &t,
            &header(Some("JWT"), Some(vec!["exp".into()])),
            &base,
        )),
    ));
    let stranger_dir =
        std::env::temp_dir().join(format!("haven-stranger-{}", uuid::Uuid::now_v7()));
    let stranger = DevSigningKey::load_or_create(&stranger_dir).expect("other key");
    cases.push(("unknown kid", Some(stranger.sign(&base).expect("sign"))));
    let mut forged_header = Header::new(Algorithm::EdDSA);
    forged_header.kid = Some(key.kid().to_owned());
    let forged = stranger.sign(&base).expect("sign");
    let (_, rest) = forged.split_once('.').expect("jws");
    let with_our_kid = format!(
        "{}.{rest}",
        URL_SAFE_NO_PAD.encode(serde_json::to_string(&forged_header).expect("header"))
    );
    cases.push(("our kid, another key's signature", Some(with_our_kid)));
    let revoked = t.claims("supervisor", "sup-1", "agency-a");
    t.suite
        .auth
        .revocations()
        .revoke(&revoked.jti, revoked.exp)
        .await
        .expect("revoke");
    cases.push(("revoked jti", Some(t.sign(&revoked))));
    cases.push(("basic scheme", None));

    let service = ChildIdentityClient::connect(format!("http://{}", t.suite.identity_addr))
        .await
        .expect("service");
    for (name, token) in cases {
        for (target, mut client) in [
            ("gateway", t.client()),
            ("identity service", service.clone()),
        ] {
            let mut request = Request::new(ListChildrenRequest::default());
            match (&token, name) {
                (Some(token), _) => {
                    request = authed(token, ListChildrenRequest::default());
                }
                (None, "basic scheme") => {
                    request.metadata_mut().insert(
                        "authorization",
                        "Basic dXNlcjpwYXNz".parse().expect("ascii"),
                    );
                }
                (None, _) => {}
            }
            let status = client.list_children(request).await.expect_err(name);
            assert_eq!(
                status.code(),
                Code::Unauthenticated,
                "{name} at the {target}: {}",
                status.message()
            );
        }
    }
    std::fs::remove_dir_all(stranger_dir).ok();
    t.stop().await;
}

#[tokio::test]
async fn revoking_a_token_cuts_access_on_the_next_call_even_after_caching() {
    let t = TestSuite::start().await;
    let claims = t.claims("caseworker", "cw-1", "agency-a");
    let token = t.sign(&claims);
    let mut client = t.client();
    client
        .list_children(authed(&token, ListChildrenRequest::default()))
        .await
        .expect("valid token works (and is now cached)");
    t.suite
        .auth
        .revocations()
        .revoke(&claims.jti, claims.exp)
        .await
        .expect("revoke");
    let status = client
        .get_child(authed(
            &token,
            GetChildRequest {
                id: uuid::Uuid::now_v7().to_string(),
            },
        ))
        .await
        .expect_err("revoked");
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "token revoked");
    t.stop().await;
}

#[tokio::test]
async fn a_token_within_the_leeway_still_works_and_leeway_is_small() {
    let t = TestSuite::start().await;
    let now = now();
    let just_expired = haven_authz::Claims {
        exp: now - 5,
        ..t.claims("caseworker", "cw-1", "agency-a")
    };
    t.client()
        .list_children(authed(
            &t.sign(&just_expired),
            ListChildrenRequest::default(),
        ))
        .await
        .expect("5 s past exp is inside the 10 s leeway");
    let long_expired = haven_authz::Claims {
        exp: now - 31,
        ..t.claims("caseworker", "cw-1", "agency-a")
    };
    let status = t
        .client()
        .list_children(authed(
            &t.sign(&long_expired),
            ListChildrenRequest::default(),
        ))
        .await
        .expect_err("31 s past exp is beyond any allowed leeway");
    assert_eq!(status.code(), Code::Unauthenticated);
    t.stop().await;
}

#[tokio::test]
async fn calls_beyond_the_rate_limit_are_refused_per_principal() {
    let t = TestSuite::start_with(haven_tests::Options {
        rate_limit_per_second: 1,
        rate_limit_burst: 3,
        ..haven_tests::Options::default()
    })
    .await;
    let busy = t.token("caseworker", "cw-busy", "agency-a");
    let calm = t.token("caseworker", "cw-calm", "agency-a");
    let mut client = t.client();
    let mut codes = Vec::new();
    for _ in 0..5 {
        let result = client
            .list_children(authed(&busy, ListChildrenRequest::default()))
            .await;
        codes.push(result.map(|_| Code::Ok).unwrap_or_else(|s| s.code()));
    }
    assert_eq!(&codes[..3], &[Code::Ok, Code::Ok, Code::Ok]);
    assert!(codes[3..].contains(&Code::ResourceExhausted), "{codes:?}");
    client
        .list_children(authed(&calm, ListChildrenRequest::default()))
        .await
        .expect("another principal is not limited by the first");
    t.stop().await;
}

#[tokio::test]
async fn a_token_the_suite_mints_at_the_longest_allowed_ttl_still_works() {
    let t = TestSuite::start().await;
    let now = now();
    let day = haven_authz::Claims {
        exp: now + 24 * 3600,
        ..t.claims("caseworker", "cw-1", "agency-a")
    };
    t.client()
        .list_children(authed(&t.sign(&day), ListChildrenRequest::default()))
        .await
        .expect("24 h, the longest `haven token --ttl`, is within the default maximum");
    let typed = {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = t.suite.dev_key.as_ref().map(|k| k.kid().to_owned());
        header.typ = Some("at+jwt".into());
        sign_with_header(&t, &header, &t.claims("caseworker", "cw-1", "agency-a"))
    };
    t.client()
        .list_children(authed(&typed, ListChildrenRequest::default()))
        .await
        .expect("an RFC 9068 access token type is an access token");
    t.stop().await;
}

#[tokio::test]
async fn revocations_stay_inside_their_namespace() {
    // Two deployments (here two suites, each with its own bus_namespace) share one Redis.
    let Some(redis) = PrivateRedis::start().await else {
        return;
    };
    let options = || Options {
        redis_url: Some(redis.url()),
        ..Options::default()
    };
    let a = TestSuite::start_with(options()).await;
    let b = TestSuite::start_with(options()).await;
    let jti = uuid::Uuid::now_v7().to_string();
    let in_a = haven_authz::Claims {
        jti: jti.clone(),
        ..a.claims("caseworker", "cw-a", "agency-a")
    };
    let in_b = haven_authz::Claims {
        jti: jti.clone(),
        ..b.claims("caseworker", "cw-b", "agency-b")
    };
    a.suite
        .auth
        .revocations()
        .revoke(&in_a.jti, in_a.exp)
        .await
        .expect("revoke in a");
    let status = a
        .client()
        .list_children(authed(&a.sign(&in_a), ListChildrenRequest::default()))
        .await
        .expect_err("revoked in a");
    assert_eq!(status.code(), Code::Unauthenticated);
    b.client()
        .list_children(authed(&b.sign(&in_b), ListChildrenRequest::default()))
        .await
        .expect("a revocation in a's namespace does not touch b's token with the same jti");

    let mut conn = redis::Client::open(redis.url())
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("*revoked-jti:{jti}"))
        .query_async(&mut conn)
        .await
        .expect("keys");
    assert_eq!(
        keys,
        vec![format!("{}:haven:revoked-jti:{jti}", a.namespace)],
        "the key lives under a's namespace only"
    );
    a.stop().await;
    b.stop().await;
}
