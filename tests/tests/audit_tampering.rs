//! Tampering with the audit log is detected.
//!
//! - Random single mutations (edit any column, delete, reorder, insert, truncate), each applied inside a
//!   transaction that is rolled back afterwards: the chain check alone catches every one.
//! - An insider who can write to a database rewrites history and recomputes the chain and its head, as
//!   the chain alone cannot notice: `haven audit verify` catches it in every service's log through the
//!   checkpoints each service signed and published outside its database.

use haven_cli::audit::{Outcome, ServiceVerification, VerifyOptions, verify_all};
use haven_platform::audit::checkpointer::{checkpoint_file, checkpoint_stream, read_bus};
use haven_platform::audit::{
    AnchoredReport, ChainReport, Checkpoint, CheckpointKey, CheckpointProblem, GENESIS_HASH,
    chain_hash, head, lock_chain, log, verify_chain, verify_chain_in_pages,
};
use haven_proto::family_tracing::{CreateTracingRequestRequest, Inquirer, Relation, SoughtChild};
use haven_proto::identity::GetChildRequest;
use haven_proto::learning::learning_records_client::LearningRecordsClient;
use haven_proto::learning::{ImportFrameworkRequest, Label};
use haven_tests::fixtures::{case_child, register};
use haven_tests::{TestSuite, authed};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};

/// A small deterministic generator (xorshift), so a failure can be replayed from its iteration number.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const COLUMNS: [log::Column; 11] = [
    log::Column::EntryId,
    log::Column::AtUs,
    log::Column::Actor,
    log::Column::Roles,
    log::Column::Agency,
    log::Column::Action,
    log::Column::Rpc,
    log::Column::RecordId,
    log::Column::Classes,
    log::Column::PrevHash,
    log::Column::Hash,
];

async fn mutate(txn: &DatabaseTransaction, rows: &[log::Model], rng: &mut Xorshift) -> String {
    let pick = |rng: &mut Xorshift| rows[rng.below(rows.len() as u64) as usize].clone();
    match rng.below(5) {
        0 => {
            let row = pick(rng);
            let column = COLUMNS[rng.below(COLUMNS.len() as u64) as usize];
            let value = match column {
                log::Column::AtUs => Expr::value(row.at_us + 1),
                _ => Expr::value(format!("forged-{}", rng.next())),
            };
            log::Entity::update_many()
                .col_expr(column, value)
                .filter(log::Column::Seq.eq(row.seq))
                .exec(txn)
                .await
                .expect("edit");
            format!("edit {column:?} of entry {}", row.seq)
        }
        1 => {
            let row = pick(rng);
            log::Entity::delete_many()
                .filter(log::Column::Seq.eq(row.seq))
                .exec(txn)
                .await
                .expect("delete");
            format!("delete entry {}", row.seq)
        }
        2 => {
            // Swap the contents of two entries, keeping their positions.
            let a = pick(rng);
            let mut b = pick(rng);
            while b.seq == a.seq {
                b = pick(rng);
            }
            for (target, source) in [(&a, &b), (&b, &a)] {
                let mut moved = source.clone();
                moved.seq = target.seq;
                log::ActiveModel::from(moved)
                    .reset_all()
                    .update(txn)
                    .await
                    .expect("swap");
            }
            format!("swap entries {} and {}", a.seq, b.seq)
        }
        3 => {
            // Insert a well-formed entry in the middle: later entries shift up by one.
            let at = pick(rng).seq;
            let later: Vec<&log::Model> = rows.iter().filter(|r| r.seq >= at).collect();
            for row in later.iter().rev() {
                log::Entity::update_many()
                    .col_expr(log::Column::Seq, Expr::value(row.seq + 1))
                    .filter(log::Column::Seq.eq(row.seq))
                    .exec(txn)
                    .await
                    .expect("shift");
            }
            let prev = rows
                .iter()
                .find(|r| r.seq == at - 1)
                .map(|r| r.hash.clone())
                .unwrap_or_else(|| haven_platform::audit::GENESIS_HASH.to_owned());
            let mut forged = rows[0].clone();
            forged.seq = at;
            forged.actor = "forger".into();
            forged.prev_hash = prev.clone();
            forged.hash = chain_hash(&prev, &forged);
            log::Entity::insert(log::ActiveModel::from(forged))
                .exec_without_returning(txn)
                .await
                .expect("insert");
            format!("insert before entry {at}")
        }
        _ => {
            let last = rows.iter().map(|r| r.seq).max().expect("rows");
            log::Entity::delete_many()
                .filter(log::Column::Seq.eq(last))
                .exec(txn)
                .await
                .expect("truncate");
            "drop the newest entry".into()
        }
    }
}

#[tokio::test]
async fn every_random_mutation_of_the_audit_log_is_detected() {
    let t = TestSuite::start().await;
    let mut client = t.client();
    let caseworker = t.token("caseworker", "cw-audit", "agency-a");
    for name in ["Abdi", "Bahsan", "Caaliya", "Dalmar", "Ebyan"] {
        let view = client
            .register_child(authed(
                &caseworker,
                register(case_child(name, "Tamper", false)),
            ))
            .await
            .expect("register")
            .into_inner();
        let id = view.child.and_then(|c| c.meta).expect("meta").id;
        client
            .get_child(authed(&caseworker, GetChildRequest { id }))
            .await
            .expect("read");
    }
    let db = t.identity_db().await;
    let rows = log::Entity::find()
        .order_by_asc(log::Column::Seq)
        .all(&db)
        .await
        .expect("rows");
    assert_eq!(rows.len(), 10);
    assert!(matches!(
        verify_chain(&db).await.expect("verify"),
        ChainReport::Intact { entries: 10 }
    ));

    let mut rng = Xorshift(0x5eed_1234_abcd_0001);
    let iterations = 200;
    let mut detected = 0;
    for i in 0..iterations {
        let txn = db.begin().await.expect("begin");
        let what = mutate(&txn, &rows, &mut rng).await;
        // Whole, and in pages of 3 so that mutations fall on and across page boundaries.
        let whole = verify_chain(&txn).await.expect("verify");
        let paged = verify_chain_in_pages(&txn, 3).await.expect("verify");
        match (whole, paged) {
            (ChainReport::Broken { .. }, ChainReport::Broken { .. }) => detected += 1,
            _ => panic!("iteration {i}: `{what}` went undetected"),
        }
        txn.rollback().await.expect("rollback");
    }
    assert_eq!(detected, iterations, "100 % of mutations detected");
    assert!(matches!(
        verify_chain(&db).await.expect("verify"),
        ChainReport::Intact { entries: 10 }
    ));
    t.stop().await;
}

/// What an insider with write access to one database does to hide something: change the log, then
/// recompute every hash after the change and the head, so that the chain checks out again.
#[derive(Debug, Clone, Copy)]
enum Rewrite {
    /// Put someone else's name on entry `seq`.
    EditActor(i64),
    /// Remove entry `seq`; later entries move up.
    Delete(i64),
    /// Remove the newest entry.
    DropNewest,
}

/// Rewrites the log of the database at `url` while the suite runs (taking the chain's lock, as a
/// writer does), recomputes the chain and its head, and shows that the chain alone is fooled. Answers
/// the number of entries left.
async fn rewrite_history(url: &str, rewrite: Rewrite) -> u64 {
    let db = haven_platform::db::connect(url).await.expect("connect");
    let txn = db.begin().await.expect("begin");
    let _lock = lock_chain(&txn).await.expect("take the chain's lock");
    let mut rows = log::Entity::find()
        .order_by_asc(log::Column::Seq)
        .all(&txn)
        .await
        .expect("rows");
    match rewrite {
        Rewrite::EditActor(seq) => {
            let row = rows.iter_mut().find(|r| r.seq == seq).expect("entry");
            row.actor = "someone-else".into();
        }
        Rewrite::Delete(seq) => rows.retain(|r| r.seq != seq),
        Rewrite::DropNewest => {
            rows.pop();
        }
    }
    let mut prev = GENESIS_HASH.to_owned();
    for (index, row) in rows.iter_mut().enumerate() {
        row.seq = index as i64 + 1;
        row.prev_hash = prev.clone();
        row.hash = chain_hash(&prev, row);
        prev = row.hash.clone();
    }
    log::Entity::delete_many()
        .exec(&txn)
        .await
        .expect("clear the log");
    if !rows.is_empty() {
        log::Entity::insert_many(rows.iter().cloned().map(log::ActiveModel::from))
            .exec_without_returning(&txn)
            .await
            .expect("write the recomputed log");
    }
    head::Entity::update_many()
        .col_expr(head::Column::Seq, Expr::value(rows.len() as i64))
        .col_expr(head::Column::Hash, Expr::value(prev))
        .filter(head::Column::Id.eq(1))
        .exec(&txn)
        .await
        .expect("move the head");
    txn.commit().await.expect("commit");
    assert_eq!(
        verify_chain(&db).await.expect("verify"),
        ChainReport::Intact {
            entries: rows.len() as u64
        },
        "{rewrite:?}: the recomputed chain passes the chain check on its own"
    );
    db.close().await.ok();
    rows.len() as u64
}

/// Audited work in every service: children registered and read (identity), tracing requests filed
/// (family tracing), curricula imported (learning). Three entries or more in each log.
async fn audited_work(t: &TestSuite) {
    let mut identity = t.client();
    let caseworker = t.token("caseworker", "cw-anchored", "agency-a");
    for name in ["Ardo", "Barwaaqo"] {
        let view = identity
            .register_child(authed(
                &caseworker,
                register(case_child(name, "Anchored", false)),
            ))
            .await
            .expect("register")
            .into_inner();
        let id = view.child.and_then(|c| c.meta).expect("meta").id;
        identity
            .get_child(authed(&caseworker, GetChildRequest { id }))
            .await
            .expect("read");
    }
    for given in ["Generated", "Synthetic", "Invented"] {
        file_tracing_request(t, given).await;
    }
    let educator = t.token("educator", "teacher-anchored", "school-1");
    let mut learning = LearningRecordsClient::new(t.channel());
    for code in ["GEN-A", "GEN-B", "GEN-C"] {
        let imported = learning
            .import_framework(authed(
                &educator,
                ImportFrameworkRequest {
                    framework_code: code.into(),
                    titles: vec![Label {
                        lang: "en".into(),
                        text: format!("Generated curriculum {code}"),
                    }],
                    csv: "subject_code,level_code,outcome_code,lang,subject_label,level_label,outcome_label\n\
                          MAT,P5,FRAC,en,Mathematics,Primary 5,Fractions\n"
                        .into(),
                    dry_run: false,
                },
            ))
            .await
            .expect("import a curriculum")
            .into_inner();
        assert!(imported.imported, "{code}: {:?}", imported.errors);
    }
}

async fn file_tracing_request(t: &TestSuite, given: &str) {
    let officer = t.token("reunification_officer", "ro-anchored", "agency-a");
    t.tracing()
        .create_tracing_request(authed(
            &officer,
            CreateTracingRequestRequest {
                request_id: uuid::Uuid::now_v7().to_string(),
                inquirer: Some(Inquirer {
                    given_name: given.into(),
                    family_name: "Inquirer".into(),
                    relation: Relation::Mother as i32,
                    contact: "via camp office".into(),
                    location: None,
                    ..Inquirer::default()
                }),
                sought_children: vec![SoughtChild {
                    given_name: given.into(),
                    family_name: "Sought".into(),
                    ..SoughtChild::default()
                }],
            },
        ))
        .await
        .expect("file a tracing request");
}

fn url_of(t: &TestSuite, service: &str) -> String {
    match service {
        "identity" => t.config.identity_database_url(),
        "family-tracing" => t.config.family_tracing_database_url(),
        _ => t.config.learning_database_url(),
    }
}

fn report<'a>(results: &'a [ServiceVerification], service: &str) -> &'a AnchoredReport {
    let result = results
        .iter()
        .find(|r| r.service == service)
        .unwrap_or_else(|| panic!("{service} is verified"));
    match &result.outcome {
        Outcome::Checked(report) => report,
        other => panic!("{service} could not be checked: {other:?}"),
    }
}

/// Checkpoints every service now, and answers them by service name.
async fn checkpoints(t: &TestSuite) -> Vec<Checkpoint> {
    let newest = t.suite.checkpoint_audit_logs().await.expect("checkpoints");
    assert_eq!(newest.len(), 3, "one checkpoint task per service");
    newest
}

fn of<'a>(checkpoints: &'a [Checkpoint], service: &str) -> &'a Checkpoint {
    checkpoints
        .iter()
        .find(|c| c.service == service)
        .unwrap_or_else(|| panic!("a checkpoint of {service}"))
}

#[tokio::test]
async fn a_recomputed_chain_fools_the_chain_check_but_not_the_signed_checkpoints_in_any_service() {
    let t = TestSuite::start().await;
    audited_work(&t).await;
    let signed = checkpoints(&t).await;
    let results = verify_all(&t.config, &VerifyOptions::default())
        .await
        .expect("verify");
    assert_eq!(
        results.iter().map(|r| r.service).collect::<Vec<_>>(),
        vec!["identity", "family-tracing", "learning"],
        "`haven audit verify` covers every service's log"
    );
    for result in &results {
        let checkpoint = of(&signed, result.service);
        assert!(checkpoint.seq >= 3, "{}: {checkpoint:?}", result.service);
        let report = report(&results, result.service);
        assert!(result.is_intact(), "{}: {report:?}", result.service);
        assert_eq!(report.newest.as_ref(), Some(checkpoint));
    }

    // With Redis configured the checkpoints are in Redis too: without the files, it alone must tell.
    if t.config.redis_url.is_some() {
        for service in haven_cli::audit::SERVICES {
            let in_redis = read_bus(&t.suite.bus, service).await.expect("redis");
            assert!(in_redis.checkpoints.contains(of(&signed, service)));
        }
        std::fs::remove_dir_all(t.config.audit_checkpoint_dir()).expect("remove the files");
    }

    // One insider, one database each: a name changed, an entry removed, the newest entry removed.
    let identity_seq = of(&signed, "identity").seq;
    let tracing_seq = of(&signed, "family-tracing").seq;
    let learning_seq = of(&signed, "learning").seq;
    rewrite_history(&url_of(&t, "identity"), Rewrite::EditActor(1)).await;
    rewrite_history(&url_of(&t, "family-tracing"), Rewrite::Delete(2)).await;
    let learning_left = rewrite_history(&url_of(&t, "learning"), Rewrite::DropNewest).await;

    let results = verify_all(&t.config, &VerifyOptions::default())
        .await
        .expect("verify");
    for result in &results {
        assert!(
            !result.is_intact(),
            "{} rewrite went unnoticed",
            result.service
        );
    }
    assert!(
        report(&results, "identity")
            .problems
            .contains(&CheckpointProblem::Rewritten {
                seq: identity_seq,
                signed_at_us: of(&signed, "identity").at_us,
            }),
        "{:?}",
        report(&results, "identity")
    );
    assert_eq!(
        report(&results, "family-tracing").problems,
        vec![CheckpointProblem::Truncated {
            seq: tracing_seq,
            entries: tracing_seq as u64 - 1,
        }]
    );
    assert_eq!(
        report(&results, "learning").problems,
        vec![CheckpointProblem::Truncated {
            seq: learning_seq,
            entries: learning_left,
        }]
    );

    // The service goes on writing and checkpointing the rewritten log; the earlier checkpoint still
    // tells, now that the log is long enough again to have another entry where it was signed.
    file_tracing_request(&t, "Later").await;
    checkpoints(&t).await;
    let results = verify_all(&t.config, &VerifyOptions::default())
        .await
        .expect("verify");
    assert!(results.iter().all(|r| !r.is_intact()));
    assert!(
        report(&results, "family-tracing")
            .problems
            .contains(&CheckpointProblem::Rewritten {
                seq: tracing_seq,
                signed_at_us: of(&signed, "family-tracing").at_us,
            }),
        "{:?}",
        report(&results, "family-tracing")
    );
    t.stop().await;
}

#[tokio::test]
async fn checkpoints_outside_the_database_survive_the_published_ones_being_removed_and_forgeries_are_refused()
 {
    let t = TestSuite::start().await;
    audited_work(&t).await;
    let signed = checkpoints(&t).await;
    let dir = t.config.audit_checkpoint_dir();

    // What the log pipeline kept: the JSON log lines of the checkpoints.
    let export = t.data_dir.join("log-export.jsonl");
    let published = std::fs::read_to_string(checkpoint_file(&dir, "identity")).expect("file");
    let lines: String = published
        .lines()
        .map(|line| {
            serde_json::json!({
                "level": "INFO",
                "message": "audit checkpoint",
                "fields": {"service": "identity", "checkpoint": line},
            })
            .to_string()
                + "\n"
        })
        .collect();
    std::fs::write(&export, lines).expect("export");

    // Someone with the database and every place the service publishes to: the checkpoints go, the log
    // is rewritten, and the service signs the rewritten head on its next round.
    std::fs::remove_file(checkpoint_file(&dir, "identity")).expect("remove the file");
    t.suite
        .bus
        .delete_stream(&checkpoint_stream("identity"))
        .await
        .expect("remove the stream");
    let left = rewrite_history(&url_of(&t, "identity"), Rewrite::EditActor(1)).await;
    let resigned = checkpoints(&t).await;
    assert_eq!(of(&resigned, "identity").seq, left as i64);
    let results = verify_all(&t.config, &VerifyOptions::default())
        .await
        .expect("verify");
    assert!(
        results.iter().all(ServiceVerification::is_intact),
        "with every copy it can reach rewritten, the rewrite passes: why the log line must leave the host"
    );

    // The copy the log pipeline kept tells.
    let with_export = VerifyOptions {
        exports: vec![export],
        ..VerifyOptions::default()
    };
    let results = verify_all(&t.config, &with_export).await.expect("verify");
    assert!(!results[0].is_intact());
    assert!(
        report(&results, "identity")
            .problems
            .iter()
            .any(|p| matches!(p, CheckpointProblem::Rewritten { seq, .. } if *seq == of(&signed, "identity").seq)),
        "{:?}",
        report(&results, "identity")
    );
    assert!(results[1].is_intact() && results[2].is_intact());

    // Without the key, a checkpoint cannot be forged: another key's is refused, and so is an edited one.
    let learning_file = checkpoint_file(&dir, "learning");
    let real = of(&signed, "learning");
    let foreign = CheckpointKey::generate().sign("learning", real.seq, &real.hash, real.at_us);
    let mut edited = real.clone();
    edited.seq -= 1;
    let mut text = std::fs::read_to_string(&learning_file).expect("file");
    text.push_str(&format!("{}\n{}\n", foreign.to_json(), edited.to_json()));
    std::fs::write(&learning_file, text).expect("append forgeries");
    let results = verify_all(&t.config, &VerifyOptions::default())
        .await
        .expect("verify");
    let problems = &report(&results, "learning").problems;
    assert!(
        problems.contains(&CheckpointProblem::UnknownKey {
            seq: real.seq,
            kid: foreign.kid.clone()
        }),
        "{problems:?}"
    );
    assert!(
        problems.contains(&CheckpointProblem::BadSignature { seq: real.seq - 1 }),
        "{problems:?}"
    );

    // Removing every checkpoint of a log that has entries is noticed too.
    std::fs::remove_file(checkpoint_file(&dir, "family-tracing")).expect("remove");
    t.suite
        .bus
        .delete_stream(&checkpoint_stream("family-tracing"))
        .await
        .expect("remove the stream");
    let results = verify_all(&t.config, &VerifyOptions::default())
        .await
        .expect("verify");
    assert_eq!(
        report(&results, "family-tracing").problems,
        vec![CheckpointProblem::NoCheckpoint {
            entries: of(&signed, "family-tracing").seq as u64
        }]
    );
    t.stop().await;
}
