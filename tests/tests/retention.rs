//! Retention erases records unchanged past their class's period, and only those.

use haven_identity::entity::{child, child_key, erasure};
use haven_platform::config::RetentionConfig;
use haven_proto::identity::GetChildRequest;
use haven_tests::fixtures::{case_child, id_of, learner, register};
use haven_tests::{TestSuite, authed};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tonic::Code;

const DAY_US: i64 = 24 * 60 * 60 * 1_000_000;

#[tokio::test]
async fn expired_cases_and_learners_are_erased_and_recent_ones_kept() {
    let t = TestSuite::start().await;
    let mut client = t.client();
    let caseworker = t.token("caseworker", "cw-1", "agency-a");
    let teacher = t.token("educator", "teacher-1", "school-1");
    let old_case = id_of(
        &client
            .register_child(authed(
                &caseworker,
                register(case_child("Old", "Case", false)),
            ))
            .await
            .expect("r")
            .into_inner(),
    );
    let new_case = id_of(
        &client
            .register_child(authed(
                &caseworker,
                register(case_child("New", "Case", false)),
            ))
            .await
            .expect("r")
            .into_inner(),
    );
    let old_learner = id_of(
        &client
            .register_child(authed(&teacher, register(learner("Old", "Learner"))))
            .await
            .expect("r")
            .into_inner(),
    );

    let db = t.identity_db().await;
    let long_ago = |days: i64| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0)
            - days * DAY_US
    };
    for (id, days) in [(&old_case, 400), (&old_learner, 40)] {
        child::Entity::update_many()
            .col_expr(
                child::Column::UpdatedAtUs,
                sea_orm::sea_query::Expr::value(long_ago(days)),
            )
            .filter(child::Column::Id.eq(id.clone()))
            .exec(&db)
            .await
            .expect("age the record");
    }

    // A service built on the same database runs the rules once, as the scheduled task does.
    let keyring = std::sync::Arc::new(
        haven_identity::keyring(
            &haven_platform::HavenConfig {
                data_dir: t.data_dir.clone(),
                ..Default::default()
            },
            true,
        )
        .expect("keyring"),
    );
    let service = haven_identity::IdentityService::new(
        db.clone(),
        t.suite.auth.clone(),
        std::sync::Arc::new(haven_authz::Policy::default()),
        keyring,
    );
    let rules = RetentionConfig {
        case_days: Some(365),
        learner_days: Some(30),
        check_interval_secs: None,
    };
    let erased = haven_identity::enforce_retention(&service, &rules, long_ago(0))
        .await
        .expect("retention");
    assert_eq!(erased, 2);

    for id in [&old_case, &old_learner] {
        assert!(
            child::Entity::find_by_id(id.clone())
                .one(&db)
                .await
                .expect("q")
                .is_none()
        );
        assert!(
            child_key::Entity::find_by_id(id.clone())
                .one(&db)
                .await
                .expect("q")
                .is_none()
        );
        let record = erasure::Entity::find_by_id(id.clone())
            .one(&db)
            .await
            .expect("q")
            .expect("recorded");
        assert_eq!(record.erased_by, "system:retention");
        assert!(record.reason.starts_with("retention rule"));
    }
    client
        .get_child(authed(&caseworker, GetChildRequest { id: new_case }))
        .await
        .expect("recent case kept");
    let status = client
        .get_child(authed(&caseworker, GetChildRequest { id: old_case }))
        .await
        .expect_err("erased");
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(
        haven_identity::enforce_retention(&service, &rules, long_ago(0))
            .await
            .expect("again"),
        0,
        "nothing left to erase"
    );
    t.stop().await;
}
