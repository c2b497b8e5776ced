//! Master-key rotation re-wraps each child's data key without touching the sealed data: after a rewrap,
//! the new key alone opens every record and the old key alone opens none.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use haven_cli::Suite;
use haven_platform::HavenConfig;
use haven_platform::sealing::MasterKey;
use haven_proto::family_tracing::family_tracing_client::FamilyTracingClient;
use haven_proto::family_tracing::{
    CreateTracingRequestRequest, GetTracingRequestRequest, Inquirer, SoughtChild,
};
use haven_proto::identity::GetChildRequest;
use haven_proto::identity::child_identity_client::ChildIdentityClient;
use haven_tests::fixtures::{CANARY_PHONE, case_child, register};
use haven_tests::{authed, now};
use sea_orm::EntityTrait as _;
use tonic::Code;

fn write_key(path: &Path, version: u32) {
    std::fs::write(path, MasterKey::generate(version).encode()).expect("write key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
}

fn config(dir: &Path, current: &str, previous: &[&str]) -> HavenConfig {
    let mut config = HavenConfig {
        data_dir: dir.to_path_buf(),
        master_key_path: Some(dir.join(current)),
        previous_master_key_paths: previous.iter().map(|p| dir.join(p)).collect(),
        ..HavenConfig::default()
    };
    config.gateway.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    config
}

async fn read_phone(config: HavenConfig, id: &str, token: &str) -> Result<String, tonic::Status> {
    let suite = Suite::start(config).await.expect("suite");
    let mut client = ChildIdentityClient::connect(format!("http://{}", suite.gateway_addr))
        .await
        .expect("connect");
    let result = client
        .get_child(authed(token, GetChildRequest { id: id.into() }))
        .await
        .map(|r| {
            r.into_inner()
                .child
                .and_then(|c| c.whereabouts)
                .map(|w| w.phone)
                .unwrap_or_default()
        });
    suite.shutdown().await.expect("shutdown");
    result
}

#[tokio::test]
async fn rotation_rewraps_data_keys_and_the_old_key_is_no_longer_needed() {
    let dir = std::env::temp_dir().join(format!("haven-rotation-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).expect("dir");
    write_key(&dir.join("v1.key"), 1);

    let suite = Suite::start(config(&dir, "v1.key", &[]))
        .await
        .expect("suite");
    let key = suite.dev_key.clone().expect("dev key");
    let claims = haven_authz::Claims {
        iss: "haven-dev".into(),
        aud: "haven".into(),
        sub: "cw-rotate".into(),
        exp: now() + 600,
        iat: now(),
        nbf: None,
        jti: uuid::Uuid::now_v7().to_string(),
        roles: vec!["caseworker".into()],
        agency: "agency-a".into(),
        team: None,
        locations: vec![],
    };
    let token = key.sign(&claims).expect("token");
    let mut client = ChildIdentityClient::connect(format!("http://{}", suite.gateway_addr))
        .await
        .expect("connect");
    let id = client
        .register_child(authed(
            &token,
            register(case_child("Rotated", "Keys", false)),
        ))
        .await
        .expect("registered")
        .into_inner()
        .child
        .and_then(|c| c.meta)
        .expect("meta")
        .id;
    suite.shutdown().await.expect("shutdown");

    write_key(&dir.join("v2.key"), 2);
    let rotating = config(&dir, "v2.key", &["v1.key"]);
    let keyring = Arc::new(haven_identity::keyring(&rotating, false).expect("keyring"));
    let db = haven_identity::connect_and_migrate(&rotating.identity_database_url())
        .await
        .expect("db");
    let row_before = haven_identity::entity::child::Entity::find_by_id(id.clone())
        .one(&db)
        .await
        .expect("q")
        .expect("row");
    assert_eq!(
        haven_identity::rewrap_data_keys(&db, &keyring)
            .await
            .expect("rewrap"),
        2,
        "the child's data key and the location-tag service key"
    );
    assert_eq!(
        haven_identity::rewrap_data_keys(&db, &keyring)
            .await
            .expect("again"),
        0,
        "idempotent"
    );
    let row_after = haven_identity::entity::child::Entity::find_by_id(id.clone())
        .one(&db)
        .await
        .expect("q")
        .expect("row");
    assert_eq!(
        row_before.whereabouts, row_after.whereabouts,
        "sealed data is not rewritten"
    );
    db.close().await.ok();

    let phone = read_phone(config(&dir, "v2.key", &[]), &id, &token)
        .await
        .expect("the new key alone opens it");
    assert_eq!(phone, CANARY_PHONE);
    let status = read_phone(config(&dir, "v1.key", &[]), &id, &token)
        .await
        .expect_err("the old key alone does not");
    assert_eq!(status.code(), Code::Internal);
    std::fs::remove_dir_all(dir).ok();
}

fn tracing_config(dir: &Path, current: &str, previous: &[&str]) -> HavenConfig {
    let mut config = HavenConfig {
        data_dir: dir.to_path_buf(),
        ..HavenConfig::default()
    };
    config.gateway.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    config.family_tracing.master_key_path = Some(dir.join(current));
    config.family_tracing.previous_master_key_paths =
        previous.iter().map(|p| dir.join(p)).collect();
    config
}

async fn read_contact(config: HavenConfig, id: &str, token: &str) -> Result<String, tonic::Status> {
    let suite = Suite::start(config).await.expect("suite");
    let mut client = FamilyTracingClient::connect(format!("http://{}", suite.gateway_addr))
        .await
        .expect("connect");
    let result = client
        .get_tracing_request(authed(token, GetTracingRequestRequest { id: id.into() }))
        .await
        .map(|r| {
            r.into_inner()
                .inquirer
                .map(|i| i.contact)
                .unwrap_or_default()
        });
    suite.shutdown().await.expect("shutdown");
    result
}

#[tokio::test]
async fn family_tracing_rotation_rewraps_request_keys_under_its_own_master_key() {
    let dir = std::env::temp_dir().join(format!("haven-ft-rotation-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).expect("dir");
    write_key(&dir.join("ft-v1.key"), 1);

    let suite = Suite::start(tracing_config(&dir, "ft-v1.key", &[]))
        .await
        .expect("suite");
    let key = suite.dev_key.clone().expect("dev key");
    let claims = haven_authz::Claims {
        iss: "haven-dev".into(),
        aud: "haven".into(),
        sub: "ro-rotate".into(),
        exp: now() + 600,
        iat: now(),
        nbf: None,
        jti: uuid::Uuid::now_v7().to_string(),
        roles: vec!["reunification_officer".into()],
        agency: "agency-b".into(),
        team: None,
        locations: vec![],
    };
    let token = key.sign(&claims).expect("token");
    let mut client = FamilyTracingClient::connect(format!("http://{}", suite.gateway_addr))
        .await
        .expect("connect");
    let id = client
        .create_tracing_request(authed(
            &token,
            CreateTracingRequestRequest {
                request_id: uuid::Uuid::now_v7().to_string(),
                inquirer: Some(Inquirer {
                    given_name: "Rotated".into(),
                    contact: "generated-contact-rotation".into(),
                    ..Inquirer::default()
                }),
                sought_children: vec![SoughtChild {
                    given_name: "Generated".into(),
                    family_name: "Sought".into(),
                    ..SoughtChild::default()
                }],
            },
        ))
        .await
        .expect("created")
        .into_inner()
        .id;
    suite.shutdown().await.expect("shutdown");

    write_key(&dir.join("ft-v2.key"), 2);
    let rotating = tracing_config(&dir, "ft-v2.key", &["ft-v1.key"]);
    let keyring = haven_family_tracing::keyring(&rotating, false).expect("keyring");
    let db = haven_family_tracing::connect_and_migrate(&rotating.family_tracing_database_url())
        .await
        .expect("db");
    let row_before = haven_family_tracing::entity::tracing_request::Entity::find_by_id(id.clone())
        .one(&db)
        .await
        .expect("q")
        .expect("row");
    assert_eq!(
        haven_family_tracing::rewrap_data_keys(&db, &keyring)
            .await
            .expect("rewrap"),
        1,
        "the request's data key"
    );
    assert_eq!(
        haven_family_tracing::rewrap_data_keys(&db, &keyring)
            .await
            .expect("again"),
        0,
        "idempotent"
    );
    let row_after = haven_family_tracing::entity::tracing_request::Entity::find_by_id(id.clone())
        .one(&db)
        .await
        .expect("q")
        .expect("row");
    assert_eq!(
        row_before.body, row_after.body,
        "sealed data is not rewritten"
    );
    db.close().await.ok();

    let contact = read_contact(tracing_config(&dir, "ft-v2.key", &[]), &id, &token)
        .await
        .expect("the new key alone opens it");
    assert_eq!(contact, "generated-contact-rotation");
    let status = read_contact(tracing_config(&dir, "ft-v1.key", &[]), &id, &token)
        .await
        .expect_err("the old key alone does not");
    assert_eq!(status.code(), Code::Internal);
    std::fs::remove_dir_all(dir).ok();
}
