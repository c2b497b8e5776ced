//! haven-learning-load: RecordLearning throughput through the gateway. Starts an embedded suite whose
//! learning service uses PostgreSQL when HAVEN_LOAD_DATABASE_URL is set (in a fresh schema), or SQLite.
//! An educator registers and enrols one learner, then CONCURRENCY tasks record learning for SECONDS,
//! each call a new immutable record with its own idempotency key. With HAVEN_LOAD_DIRECT=1 the records go
//! straight to the learning service instead of through the gateway, to tell the two hops' costs apart.
//!
//!   HAVEN_LOAD_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//!     haven-learning-load [concurrency] [seconds]

use std::time::{Duration, Instant};

use haven_cli::Suite;
use haven_platform::HavenConfig;
use haven_proto::identity::child_identity_client::ChildIdentityClient;
use haven_proto::learning::learning_records_client::LearningRecordsClient;
use haven_proto::learning::{
    EnrolLearnerRequest, LearningRecord, RecordKind, RecordLearningRequest,
};
use haven_tests::authed;
use haven_tests::fixtures::{id_of, learner, register};
use sea_orm::ConnectionTrait as _;
use tonic::transport::Channel;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let concurrency: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(64);
    let seconds: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20);

    let data_dir = std::env::temp_dir().join(format!("haven-lload-{}", uuid::Uuid::now_v7()));
    let mut config = HavenConfig {
        data_dir,
        ..HavenConfig::default()
    };
    config.gateway.listen = "127.0.0.1:0".parse()?;
    config.gateway.rate_limit_per_second = 1_000_000;
    config.gateway.rate_limit_burst = 1_000_000;
    let mut cleanup = None;
    let backend = match std::env::var("HAVEN_LOAD_DATABASE_URL") {
        Ok(base) if !base.is_empty() => {
            let schema = format!("load_{}", uuid::Uuid::now_v7().simple());
            let admin = sea_orm::Database::connect(&base).await?;
            admin
                .execute_unprepared(&format!("CREATE SCHEMA \"{schema}\""))
                .await?;
            admin.close().await?;
            let separator = if base.contains('?') { '&' } else { '?' };
            config.learning.database_url = Some(format!(
                "{base}{separator}options%5Bsearch_path%5D={schema}"
            ));
            cleanup = Some((base.clone(), schema.clone()));
            format!("PostgreSQL (schema {schema})")
        }
        _ => "SQLite".to_owned(),
    };
    let suite = Suite::start(config).await?;
    let channel = Channel::from_shared(format!("http://{}", suite.gateway_addr))?
        .connect()
        .await?;
    let key = suite
        .dev_key
        .clone()
        .ok_or_else(|| anyhow::anyhow!("no dev key"))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let educator = key.sign(&haven_authz::Claims {
        iss: "haven-dev".into(),
        aud: "haven".into(),
        sub: "teacher-load".into(),
        exp: now + 3600,
        iat: now,
        nbf: None,
        jti: uuid::Uuid::now_v7().to_string(),
        roles: vec!["educator".into()],
        agency: "school-load".into(),
        team: None,
        locations: vec![],
    })?;
    let child_id = id_of(
        &ChildIdentityClient::new(channel.clone())
            .register_child(authed(&educator, register(learner("Generated", "Learner"))))
            .await?
            .into_inner(),
    );
    let direct = std::env::var("HAVEN_LOAD_DIRECT").is_ok_and(|v| v == "1");
    let mut learning = LearningRecordsClient::new(channel.clone());
    // The learning service learns of the child through identity's events: retry until it has.
    let enrol = EnrolLearnerRequest {
        request_id: uuid::Uuid::now_v7().to_string(),
        child_id: child_id.clone(),
        programme: "load".into(),
        ..EnrolLearnerRequest::default()
    };
    let mut attempts = 0;
    while let Err(status) = learning
        .enrol_learner(authed(&educator, enrol.clone()))
        .await
    {
        attempts += 1;
        anyhow::ensure!(attempts < 100, "enrolment kept failing: {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let (learning, path) = if direct {
        let straight = Channel::from_shared(format!("http://{}", suite.learning_addr))?
            .connect()
            .await?;
        (
            LearningRecordsClient::new(straight),
            "straight to the learning service",
        )
    } else {
        (learning, "through the gateway")
    };
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let mut client = learning.clone();
        let token = educator.clone();
        let child_id = child_id.clone();
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            while Instant::now() < deadline {
                let started = Instant::now();
                let outcome = client
                    .record_learning(authed(
                        &token,
                        RecordLearningRequest {
                            request_id: uuid::Uuid::now_v7().to_string(),
                            record: Some(LearningRecord {
                                child_id: child_id.clone(),
                                kind: RecordKind::Completion as i32,
                                title: "Generated completion".into(),
                                ..LearningRecord::default()
                            }),
                        },
                    ))
                    .await;
                match outcome {
                    Ok(_) => latencies.push(started.elapsed()),
                    Err(_) => errors += 1,
                }
            }
            (latencies, errors)
        });
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for (mut l, e) in tasks.join_all().await {
        latencies.append(&mut l);
        errors += e;
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize].as_secs_f64() * 1000.0;
    println!("backend: {backend}; concurrency {concurrency}; {seconds} s");
    println!(
        "RecordLearning {path}: {:.0} records/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
        latencies.len() as f64 / seconds as f64,
        at(0.5),
        at(0.99),
        errors
    );
    suite.shutdown().await?;
    if let Some((base, schema)) = cleanup {
        let admin = sea_orm::Database::connect(&base).await?;
        admin
            .execute_unprepared(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
            .await?;
    }
    Ok(())
}
