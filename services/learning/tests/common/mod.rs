//! A learning service on port 0 with its own SQLite file (or a fresh PostgreSQL schema when
//! `HAVEN_TEST_DATABASE_URL` is set), development tokens, and generated learners. No real child anywhere.

#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::sync::Arc;

use haven_authz::{Authenticator, Claims, DevSigningKey, Policy, TokenVerifier, VerifierSettings};
use haven_learning::passport::{Achievement, PassportContent, Recipient, Score};
use haven_learning::{LearningService, PassportIssuer, TrustList};
use haven_platform::authz_files::DevSigningKeyFiles as _;
use haven_platform::revocation::RevocationList;
use haven_proto::events::{
    ChildChanged, ChildErased, Envelope, LearnerAffiliationChanged, envelope::Event,
};
use haven_proto::learning::learning_records_client::LearningRecordsClient;
use haven_proto::learning::*;
use prost::Message as _;
use sea_orm::{ConnectionTrait as _, DatabaseConnection};
use tonic::Request;
use tonic::transport::Channel;

pub struct Harness {
    pub client: LearningRecordsClient<Channel>,
    pub service: LearningService,
    pub key: DevSigningKey,
    pub dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    /// PostgreSQL base URL and schema, dropped on stop.
    schema: Option<(String, String)>,
    /// The organisation of every token this harness signed, so `enrol` knows the school.
    organisations: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

fn unique() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

async fn database_url(dir: &std::path::Path) -> (String, Option<(String, String)>) {
    match std::env::var("HAVEN_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        Some(base) => {
            let schema = format!("l_{}", unique());
            let admin = sea_orm::Database::connect(&base)
                .await
                .expect("connect to HAVEN_TEST_DATABASE_URL");
            admin
                .execute_unprepared(&format!("CREATE SCHEMA \"{schema}\""))
                .await
                .expect("create schema");
            let separator = if base.contains('?') { '&' } else { '?' };
            (
                format!("{base}{separator}options%5Bsearch_path%5D={schema}"),
                Some((base, schema)),
            )
        }
        None => (
            format!("sqlite://{}?mode=rwc", dir.join("learning.db").display()),
            None,
        ),
    }
}

impl Harness {
    pub async fn start() -> Harness {
        Self::start_trusting(None).await
    }

    /// A service that also trusts the passports of `trusted`.
    pub async fn start_trusting(trusted: Option<TrustList>) -> Harness {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = DevSigningKey::load_or_create(dir.path()).expect("dev key");
        let auth = Authenticator::new(
            TokenVerifier::new(key.trusted_keys(), VerifierSettings::default()),
            RevocationList::in_memory(),
        );
        let issuer = PassportIssuer::load_or_create(
            dir.path(),
            "Test Learning Network",
            "https://haven.test.example",
        )
        .expect("issuer key");
        let (url, schema) = database_url(dir.path()).await;
        let mut service = haven_learning::build(&url, auth, Arc::new(Policy::default()), issuer)
            .await
            .expect("service builds");
        if let Some(trusted) = trusted {
            service = service.with_trusted_issuers(trusted);
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(haven_learning::serve(
            service.clone(),
            listener,
            4 * 1024 * 1024,
            async move {
                let _ = stopped.await;
            },
        ));
        let channel = Channel::from_shared(format!("http://{addr}"))
            .expect("url")
            .connect()
            .await
            .expect("connect");
        Harness {
            client: LearningRecordsClient::new(channel),
            service,
            key,
            dir,
            stop: Some(stop),
            schema,
            organisations: Default::default(),
        }
    }

    pub fn client(&self) -> LearningRecordsClient<Channel> {
        self.client.clone()
    }

    pub fn db(&self) -> &DatabaseConnection {
        self.service.database()
    }

    pub fn token(&self, role: &str, sub: &str, agency: &str) -> String {
        let now = chrono::Utc::now().timestamp() as u64;
        let token = self
            .key
            .sign(&Claims {
                iss: "haven-dev".into(),
                aud: "haven".into(),
                sub: sub.into(),
                exp: now + 600,
                iat: now,
                nbf: Some(now),
                jti: uuid::Uuid::now_v7().to_string(),
                roles: vec![role.into()],
                agency: agency.into(),
                team: None,
                locations: vec![],
            })
            .expect("sign");
        self.organisations
            .lock()
            .expect("organisations")
            .insert(token.clone(), agency.to_owned());
        token
    }

    /// A child as identity's `ChildChanged` announces it; returns its id.
    pub async fn child(&self, owner: &str, agency: &str) -> String {
        let id = uuid::Uuid::now_v7().to_string();
        self.child_changed(&id, 1, owner, agency).await;
        id
    }

    pub async fn child_changed(&self, id: &str, version: i64, owner: &str, agency: &str) {
        let event = envelope(Event::ChildChanged(ChildChanged {
            child_id: id.into(),
            version,
            agency: agency.into(),
            consent_for_tracing: false,
            registered: version == 1,
            owner: owner.into(),
            identity_version: version,
        }));
        self.service
            .apply_identity_event(&event)
            .await
            .expect("apply");
    }

    pub async fn erase(&self, id: &str) {
        let event = envelope(Event::ChildErased(ChildErased {
            child_id: id.into(),
        }));
        self.service
            .apply_identity_event(&event)
            .await
            .expect("apply");
    }

    pub async fn import_example_framework(&self, token: &str) {
        let response = self
            .client()
            .import_framework(authed(
                token,
                ImportFrameworkRequest {
                    framework_code: haven_learning::curriculum::EXAMPLE_FRAMEWORK_CODE.into(),
                    titles: vec![Label {
                        lang: "en".into(),
                        text: "Haven common framework".into(),
                    }],
                    csv: haven_learning::curriculum::EXAMPLE_FRAMEWORK_CSV.into(),
                    dry_run: false,
                },
            ))
            .await
            .expect("import")
            .into_inner();
        assert!(response.imported, "{:?}", response.errors);
    }

    /// Identity's word that `organisation` reaches the child as a learner (an educator of it registered
    /// the child, or the case's owner placed the child there), or no longer does.
    pub async fn affiliate(&self, child_id: &str, organisation: &str, affiliated: bool) {
        let event = envelope(Event::LearnerAffiliationChanged(
            LearnerAffiliationChanged {
                child_id: child_id.into(),
                organisation: organisation.into(),
                affiliated,
            },
        ));
        self.service
            .apply_identity_event(&event)
            .await
            .expect("apply");
    }

    /// Enrols the child with the school of `token` (a token this harness signed), as the school does once
    /// identity has placed the child with it: the placement is announced first.
    pub async fn enrol(&self, token: &str, child_id: &str) -> Enrolment {
        let school = self
            .organisations
            .lock()
            .expect("organisations")
            .get(token)
            .cloned()
            .expect("a token signed by this harness");
        self.affiliate(child_id, &school, true).await;
        self.client()
            .enrol_learner(authed(
                token,
                EnrolLearnerRequest {
                    request_id: unique(),
                    child_id: child_id.into(),
                    programme: "Accelerated learning, cohort B".into(),
                    framework_code: String::new(),
                    subject_code: String::new(),
                    level_code: String::new(),
                },
            ))
            .await
            .expect("enrol")
            .into_inner()
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some((base, schema)) = self.schema.take()
            && let Ok(admin) = sea_orm::Database::connect(&base).await
        {
            admin
                .execute_unprepared(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                .await
                .map_err(|e| eprintln!("drop schema {schema}: {e}"))
                .ok();
        }
    }
}

pub fn envelope(event: Event) -> Vec<u8> {
    Envelope {
        id: uuid::Uuid::now_v7().to_string(),
        occurred_at: None,
        traceparent: String::new(),
        event: Some(event),
    }
    .encode_to_vec()
}

pub fn authed<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii token"),
    );
    request
}

/// A Grade 5 maths assessment against the example framework.
pub fn maths_assessment(child_id: &str, scaled: f64) -> LearningRecord {
    LearningRecord {
        child_id: child_id.into(),
        kind: RecordKind::Assessment as i32,
        framework_code: "HAVEN-COMMON".into(),
        subject_code: "MATH".into(),
        level_code: "G5".into(),
        outcome_codes: vec!["M5.1".into()],
        assessment: Some(Assessment {
            raw_score: scaled / 2.0,
            max_score: 50.0,
            scaled_score: Some(scaled),
            passed: Some(scaled >= 50.0),
            grade: String::new(),
            grade_scale: String::new(),
        }),
        title: "Grade 5 mathematics, end of term".into(),
        evidence: "term test paper 3".into(),
        ..Default::default()
    }
}

pub fn science_completion(child_id: &str) -> LearningRecord {
    LearningRecord {
        child_id: child_id.into(),
        kind: RecordKind::Completion as i32,
        framework_code: "HAVEN-COMMON".into(),
        subject_code: "SCI".into(),
        level_code: "G5".into(),
        title: "Grade 5 science completed".into(),
        ..Default::default()
    }
}

pub async fn record(
    client: &mut LearningRecordsClient<Channel>,
    token: &str,
    record: LearningRecord,
) -> Result<LearningRecord, tonic::Status> {
    client
        .record_learning(authed(
            token,
            RecordLearningRequest {
                request_id: unique(),
                record: Some(record),
            },
        ))
        .await
        .map(|r| r.into_inner())
}

pub fn temp_path(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

/// A one-record passport signed by `issuer`, valid for an hour, for a learner with the given birth year.
pub fn one_record_passport(issuer: &PassportIssuer, birth_year: Option<i32>) -> String {
    let now = chrono::Utc::now().timestamp();
    let content = PassportContent {
        credential_id: uuid::Uuid::now_v7(),
        recipient: Recipient::Named {
            given_name: "Testa".into(),
            family_name: "Example".into(),
            birth_year,
        },
        achievements: vec![Achievement {
            record_id: uuid::Uuid::now_v7().to_string(),
            title: "Grade 5 mathematics".into(),
            framework_code: "HAVEN-COMMON".into(),
            subject_code: "MATH".into(),
            level_code: "G5".into(),
            outcomes: vec![("M5.1".into(), "Fractions".into())],
            score: Some(Score {
                raw: 39.0,
                max: 50.0,
                scaled: Some(78.0),
                passed: Some(true),
                grade: String::new(),
            }),
            occurred_at: Some(now),
        }],
        valid_from: now - 5,
        valid_until: Some(now + 3600),
        status_list_id: "1".into(),
    };
    issuer.issue(&content).expect("issue").jwt
}
