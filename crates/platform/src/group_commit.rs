//! Group commit for audited writes: concurrent requests of one kind share one transaction, one lock of
//! the audit chain and one commit, and each caller is answered only after that commit.
//!
//! Every write transaction starts by taking the audit chain's lock (see [`crate::audit`]), so writes to
//! one service run one at a time, and each pays a whole commit (a WAL flush on PostgreSQL) while holding
//! the lock. A [`GroupCommit`] runs the requests waiting at that moment as one batch:
//!
//! 1. begin, and take the chain's lock ([`audit::lock_chain`]);
//! 2. do every request's work. [`BatchedWrite::write_all`] may do the whole batch in a few statements;
//!    if one of its statements fails, its work is rolled back and each request is written again on its
//!    own with [`BatchedWrite::write_one`], inside its own savepoint, so a failing request rolls back
//!    only its own work and gets its own error;
//! 3. append the audit entries of the requests that succeeded, in the same transaction as their work;
//! 4. commit once, then answer each caller. If the commit fails, every request of the batch fails with
//!    UNAVAILABLE and nothing of it was written.
//!
//! Two requests with the same idempotency key never share a batch: the later one waits for the next
//! batch, where it sees what the first one committed, exactly as a retry would.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr, TransactionTrait};
use tokio::sync::{mpsc, oneshot};

use crate::audit::{self, AuditEntry};
use crate::error::ServiceError;

/// Most requests in one batch: bounds how long one transaction holds the chain's lock.
const MAX_BATCH: usize = 256;
const QUEUE: usize = 8192;

/// What one request wrote: its answer, and the audit entries describing the change (none for a replay
/// of an earlier request, which changes nothing).
#[derive(Debug)]
pub struct Written<R> {
    pub response: R,
    pub audit: Vec<AuditEntry>,
}

/// One request's outcome inside a batch: its own error leaves the other requests alone.
pub type Outcome<R> = Result<Written<R>, ServiceError>;

/// The work of one kind of write request, done inside a batch's transaction after the audit chain's
/// lock is taken. Authorization and validation that need no lock happen before a request is queued.
#[async_trait::async_trait]
pub trait BatchedWrite: Send + Sync + 'static {
    type Request: Send + Sync + 'static;
    type Response: Send + 'static;

    /// Whether [`write_all`](Self::write_all) is implemented.
    const WRITES_IN_BULK: bool = false;

    /// The request's idempotency key (including whose key it is), if it has one.
    fn key(&self, request: &Self::Request) -> Option<String>;

    /// Does one request's work on `txn`. On error the batcher rolls back everything it wrote.
    async fn write_one(
        &self,
        txn: &DatabaseTransaction,
        request: &Self::Request,
    ) -> Outcome<Self::Response>;

    /// Does the work of all `requests` (no two with the same key) in as few statements as it can, and
    /// returns one outcome per request, in order. A request refused here (say, a key reused for another
    /// request) must have written nothing. An `Err` means a statement failed: the batcher rolls back
    /// everything this call wrote and writes each request with [`write_one`](Self::write_one).
    async fn write_all(
        &self,
        txn: &DatabaseTransaction,
        requests: &[&Self::Request],
    ) -> Result<Vec<Outcome<Self::Response>>, DbErr> {
        let _ = (txn, requests);
        Err(DbErr::Custom("no bulk write".into()))
    }
}

struct Job<W: BatchedWrite> {
    request: W::Request,
    key: Option<String>,
    answer: oneshot::Sender<Result<W::Response, ServiceError>>,
}

/// Handle to the background task that writes requests of one kind in batches.
pub struct GroupCommit<W: BatchedWrite> {
    queue: mpsc::Sender<Job<W>>,
    work: Arc<W>,
}

impl<W: BatchedWrite> Clone for GroupCommit<W> {
    fn clone(&self) -> Self {
        GroupCommit {
            queue: self.queue.clone(),
            work: Arc::clone(&self.work),
        }
    }
}

impl<W: BatchedWrite> std::fmt::Debug for GroupCommit<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit")
            .field("work", &std::any::type_name::<W>())
            .finish_non_exhaustive()
    }
}

impl<W: BatchedWrite> GroupCommit<W> {
    /// Starts the writer task on the current runtime. It ends when the last handle is dropped.
    pub fn spawn(db: DatabaseConnection, work: W) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE);
        let work = Arc::new(work);
        tokio::spawn(run(db, Arc::clone(&work), receiver));
        GroupCommit { queue, work }
    }

    /// Writes one request and waits until its batch has committed.
    pub async fn write(&self, request: W::Request) -> Result<W::Response, ServiceError> {
        let key = self.work.key(&request);
        let (answer, answered) = oneshot::channel();
        self.queue
            .send(Job {
                request,
                key,
                answer,
            })
            .await
            .map_err(|_| unavailable())?;
        answered.await.map_err(|_| unavailable())?
    }
}

fn unavailable() -> ServiceError {
    ServiceError::Unavailable("database unavailable: nothing was written".into())
}

async fn run<W: BatchedWrite>(
    db: DatabaseConnection,
    work: Arc<W>,
    mut receiver: mpsc::Receiver<Job<W>>,
) {
    let mut waiting: VecDeque<Job<W>> = VecDeque::new();
    loop {
        if waiting.is_empty() {
            match receiver.recv().await {
                Some(job) => waiting.push_back(job),
                None => return,
            }
        }
        while waiting.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => waiting.push_back(job),
                Err(_) => break,
            }
        }
        let batch = take_batch(&mut waiting);
        if batch.is_empty() {
            continue;
        }
        let outcomes = match commit(&db, work.as_ref(), &batch).await {
            Ok(outcomes) => outcomes,
            Err(error) => {
                tracing::error!(%error, requests = batch.len(), "write batch failed; nothing written");
                batch.iter().map(|_| Err(unavailable())).collect()
            }
        };
        for (job, outcome) in batch.into_iter().zip(outcomes) {
            let _ = job.answer.send(outcome);
        }
    }
}

/// The next batch, oldest first: at most [`MAX_BATCH`] requests, no key twice. A request whose key is
/// already in the batch stays waiting, in order, for the next one. A request whose caller has gone
/// away is dropped unwritten, as a transaction is rolled back when its caller goes away before commit.
fn take_batch<W: BatchedWrite>(waiting: &mut VecDeque<Job<W>>) -> Vec<Job<W>> {
    let mut batch = Vec::new();
    let mut keys = HashSet::new();
    let mut later = VecDeque::new();
    while let Some(job) = waiting.pop_front() {
        if job.answer.is_closed() {
            continue;
        }
        let fits =
            batch.len() < MAX_BATCH && job.key.as_ref().is_none_or(|key| keys.insert(key.clone()));
        if fits {
            batch.push(job);
        } else {
            later.push_back(job);
        }
    }
    *waiting = later;
    batch
}

/// One transaction for the whole batch. `Err` only when the transaction itself failed: then nothing of
/// the batch was written.
async fn commit<W: BatchedWrite>(
    db: &DatabaseConnection,
    work: &W,
    batch: &[Job<W>],
) -> Result<Vec<Result<W::Response, ServiceError>>, DbErr> {
    let txn = db.begin().await?;
    let head = audit::lock_chain(&txn).await?;
    let outcomes = if let [only] = batch {
        // A batch of one needs no savepoint: if it fails, the whole transaction is rolled back.
        let outcome = work.write_one(&txn, &only.request).await;
        if outcome.is_err() {
            txn.rollback().await?;
            return Ok(vec![outcome.map(|written| written.response)]);
        }
        vec![outcome]
    } else {
        let requests: Vec<&W::Request> = batch.iter().map(|job| &job.request).collect();
        match bulk(&txn, work, &requests).await? {
            Some(outcomes) => outcomes,
            None => each(&txn, work, &requests).await?,
        }
    };
    let entries: Vec<AuditEntry> = outcomes
        .iter()
        .filter_map(|outcome| outcome.as_ref().ok())
        .flat_map(|written| written.audit.iter().cloned())
        .collect();
    audit::append_locked(&txn, head, &entries).await?;
    txn.commit().await?;
    Ok(outcomes
        .into_iter()
        .map(|outcome| outcome.map(|written| written.response))
        .collect())
}

/// The batch through [`BatchedWrite::write_all`] inside a savepoint; `None` (with the savepoint rolled
/// back) when the work must be done request by request.
async fn bulk<W: BatchedWrite>(
    txn: &DatabaseTransaction,
    work: &W,
    requests: &[&W::Request],
) -> Result<Option<Vec<Outcome<W::Response>>>, DbErr> {
    if !W::WRITES_IN_BULK {
        return Ok(None);
    }
    let savepoint = txn.begin().await?;
    match work.write_all(&savepoint, requests).await {
        Ok(outcomes) if outcomes.len() == requests.len() => {
            savepoint.commit().await?;
            Ok(Some(outcomes))
        }
        Ok(_) => {
            tracing::error!("bulk write answered the wrong number of requests");
            savepoint.rollback().await?;
            Ok(None)
        }
        Err(error) => {
            tracing::warn!(%error, requests = requests.len(), "bulk write failed; writing each request on its own");
            savepoint.rollback().await?;
            Ok(None)
        }
    }
}

/// Each request in its own savepoint: a failure rolls back that request's work only.
async fn each<W: BatchedWrite>(
    txn: &DatabaseTransaction,
    work: &W,
    requests: &[&W::Request],
) -> Result<Vec<Outcome<W::Response>>, DbErr> {
    let mut outcomes = Vec::with_capacity(requests.len());
    for request in requests {
        let savepoint = txn.begin().await?;
        let outcome = work.write_one(&savepoint, request).await;
        if outcome.is_ok() {
            savepoint.commit().await?;
        } else {
            savepoint.rollback().await?;
        }
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{ChainReport, log, verify_chain};
    use sea_orm::sea_query::{Alias, Expr, ExprTrait as _, Query};
    use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait as _};
    use sea_orm_migration::{MigrationTrait, MigratorTrait};

    struct AuditOnly;

    impl MigratorTrait for AuditOnly {
        fn migrations() -> Vec<Box<dyn MigrationTrait>> {
            vec![Box::new(crate::audit::CreateAuditLog)]
        }
    }

    /// A fresh database with the audit tables and two probe tables: `probe` refuses a negative `n`
    /// (a failing statement), and `probe.parent` must name a `probe_parent` row at commit (a failing
    /// commit). SQLite in a temp file, or a fresh PostgreSQL schema when `HAVEN_TEST_DATABASE_URL` is set.
    async fn database() -> (DatabaseConnection, Option<(String, String)>) {
        let unique = uuid::Uuid::now_v7().simple().to_string();
        let (url, schema) = match std::env::var("HAVEN_TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            Some(base) => {
                let schema = format!("gc_{unique}");
                let admin = sea_orm::Database::connect(&base).await.expect("connect");
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
            None => {
                let path = std::env::temp_dir().join(format!("haven-gc-{unique}.db"));
                (format!("sqlite://{}?mode=rwc", path.display()), None)
            }
        };
        let db = crate::db::connect(&url).await.expect("connect");
        AuditOnly::up(&db, None).await.expect("migrate");
        db.execute_unprepared("CREATE TABLE probe_parent (id VARCHAR(64) PRIMARY KEY)")
            .await
            .expect("probe_parent");
        db.execute_unprepared(
            "CREATE TABLE probe (id VARCHAR(64) PRIMARY KEY, n INTEGER NOT NULL CHECK (n >= 0), \
             parent VARCHAR(64) NULL REFERENCES probe_parent (id) DEFERRABLE INITIALLY DEFERRED)",
        )
        .await
        .expect("probe");
        (db, schema)
    }

    async fn drop_schema(schema: Option<(String, String)>) {
        if let Some((base, schema)) = schema
            && let Ok(admin) = sea_orm::Database::connect(&base).await
        {
            admin
                .execute_unprepared(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                .await
                .ok();
        }
    }

    #[derive(Debug, Clone)]
    struct Probe {
        id: String,
        n: i32,
        parent: Option<String>,
        /// Refused by the work itself, after it has written its row.
        refuse: bool,
    }

    impl Probe {
        fn new(id: &str) -> Probe {
            Probe {
                id: id.to_owned(),
                n: 1,
                parent: None,
                refuse: false,
            }
        }
    }

    /// Writes a probe row unless one with its id exists (then it replays: "again"); each written row
    /// gets one audit entry naming it.
    #[derive(Debug)]
    struct ProbeWrites;

    fn entry(probe: &Probe) -> AuditEntry {
        AuditEntry {
            actor: "tester".into(),
            roles: String::new(),
            agency: String::new(),
            action: "create",
            rpc: "probe",
            record_id: probe.id.clone(),
            classes: String::new(),
        }
    }

    async fn exists(txn: &DatabaseTransaction, id: &str) -> Result<bool, DbErr> {
        let query = Query::select()
            .expr(Expr::col(Alias::new("id")))
            .from(Alias::new("probe"))
            .and_where(Expr::col(Alias::new("id")).eq(id))
            .to_owned();
        Ok(txn.query_one(&query).await?.is_some())
    }

    fn insert(probes: &[&Probe]) -> sea_orm::sea_query::InsertStatement {
        let mut insert = Query::insert();
        insert.into_table(Alias::new("probe")).columns([
            Alias::new("id"),
            Alias::new("n"),
            Alias::new("parent"),
        ]);
        for probe in probes {
            insert.values_panic([
                probe.id.clone().into(),
                probe.n.into(),
                probe.parent.clone().into(),
            ]);
        }
        insert.to_owned()
    }

    #[async_trait::async_trait]
    impl BatchedWrite for ProbeWrites {
        type Request = Probe;
        type Response = &'static str;

        const WRITES_IN_BULK: bool = true;

        fn key(&self, request: &Probe) -> Option<String> {
            Some(request.id.clone())
        }

        async fn write_one(
            &self,
            txn: &DatabaseTransaction,
            request: &Probe,
        ) -> Outcome<&'static str> {
            if exists(txn, &request.id).await? {
                return Ok(Written {
                    response: "again",
                    audit: Vec::new(),
                });
            }
            txn.execute(&insert(&[request])).await?;
            if request.refuse {
                return Err(ServiceError::FailedPrecondition("refused".into()));
            }
            Ok(Written {
                response: "written",
                audit: vec![entry(request)],
            })
        }

        async fn write_all(
            &self,
            txn: &DatabaseTransaction,
            requests: &[&Probe],
        ) -> Result<Vec<Outcome<&'static str>>, DbErr> {
            let mut outcomes = Vec::new();
            let mut rows = Vec::new();
            for request in requests {
                if exists(txn, &request.id).await? {
                    outcomes.push(Ok(Written {
                        response: "again",
                        audit: Vec::new(),
                    }));
                } else if request.refuse {
                    outcomes.push(Err(ServiceError::FailedPrecondition("refused".into())));
                } else {
                    rows.push(*request);
                    outcomes.push(Ok(Written {
                        response: "written",
                        audit: vec![entry(request)],
                    }));
                }
            }
            if !rows.is_empty() {
                txn.execute(&insert(&rows)).await?;
            }
            Ok(outcomes)
        }
    }

    async fn probe_ids(db: &DatabaseConnection) -> Vec<String> {
        let query = Query::select()
            .expr(Expr::col(Alias::new("id")))
            .from(Alias::new("probe"))
            .order_by(Alias::new("id"), sea_orm::Order::Asc)
            .to_owned();
        db.query_all(&query)
            .await
            .expect("probe rows")
            .iter()
            .map(|row| row.try_get::<String>("", "id").expect("id"))
            .collect()
    }

    async fn audited_ids(db: &DatabaseConnection) -> Vec<String> {
        let mut ids: Vec<String> = log::Entity::find()
            .all(db)
            .await
            .expect("audit rows")
            .into_iter()
            .map(|row| row.record_id)
            .collect();
        ids.sort();
        ids
    }

    /// Sends every request before the writer task runs (the test runtime has one thread), so they all
    /// wait in the queue at once and the writer takes them as batches.
    async fn burst(
        writer: &GroupCommit<ProbeWrites>,
        probes: Vec<Probe>,
    ) -> Vec<Result<&'static str, ServiceError>> {
        let mut calls = tokio::task::JoinSet::new();
        for (i, probe) in probes.into_iter().enumerate() {
            let writer = writer.clone();
            calls.spawn(async move { (i, writer.write(probe).await) });
        }
        let mut answers: Vec<_> = calls.join_all().await;
        answers.sort_by_key(|(i, _)| *i);
        answers.into_iter().map(|(_, answer)| answer).collect()
    }

    #[tokio::test]
    async fn in_one_burst_each_request_gets_its_own_answer_and_a_failure_leaves_nothing() {
        let (db, schema) = database().await;
        let writer = GroupCommit::spawn(db.clone(), ProbeWrites);
        let mut probes = Vec::new();
        for i in 0..40 {
            probes.push(Probe::new(&format!("ok-{i:02}")));
        }
        for _ in 0..3 {
            probes.push(Probe::new("twice"));
        }
        probes.push(Probe {
            refuse: true,
            ..Probe::new("refused")
        });
        // A statement that fails: the bulk insert is rolled back and each request written on its own.
        probes.push(Probe {
            n: -1,
            ..Probe::new("negative")
        });
        let answers = burst(&writer, probes).await;

        for (i, answer) in answers.iter().enumerate().take(40) {
            assert!(matches!(answer, Ok("written")), "ok-{i}: {answer:?}");
        }
        let twice: Vec<_> = answers[40..43]
            .iter()
            .map(|a| *a.as_ref().expect("twice"))
            .collect();
        assert_eq!(
            twice,
            vec!["written", "again", "again"],
            "a repeated key is written once and replayed after"
        );
        assert!(matches!(
            answers[43],
            Err(ServiceError::FailedPrecondition(_))
        ));
        assert!(matches!(answers[44], Err(ServiceError::Internal(_))));

        let mut expected: Vec<String> = (0..40).map(|i| format!("ok-{i:02}")).collect();
        expected.push("twice".into());
        expected.sort();
        assert_eq!(
            probe_ids(&db).await,
            expected,
            "no failed request left a row"
        );
        assert_eq!(
            audited_ids(&db).await,
            expected,
            "one audit entry per written row, none for a replay or a failure"
        );
        assert_eq!(
            verify_chain(&db).await.expect("verify"),
            ChainReport::Intact { entries: 41 }
        );
        let batches: HashSet<i64> = log::Entity::find()
            .all(&db)
            .await
            .expect("audit rows")
            .into_iter()
            .map(|row| row.at_us)
            .collect();
        assert!(batches.len() < 41, "the burst shared transactions");
        drop_schema(schema).await;
    }

    #[tokio::test]
    async fn a_failed_commit_fails_every_request_of_its_batch_and_writes_nothing() {
        let (db, schema) = database().await;
        let writer = GroupCommit::spawn(db.clone(), ProbeWrites);
        let answers = burst(&writer, vec![Probe::new("before")]).await;
        assert!(matches!(answers[0], Ok("written")));

        let mut probes: Vec<Probe> = (0..10).map(|i| Probe::new(&format!("b-{i}"))).collect();
        // Its parent does not exist: the deferred check fails the commit, not the insert.
        probes.push(Probe {
            parent: Some("missing".into()),
            ..Probe::new("orphan")
        });
        let answers = burst(&writer, probes).await;
        for answer in &answers {
            assert!(
                matches!(answer, Err(ServiceError::Unavailable(_))),
                "{answer:?}"
            );
        }
        assert_eq!(probe_ids(&db).await, vec!["before".to_owned()]);
        assert_eq!(audited_ids(&db).await, vec!["before".to_owned()]);
        assert_eq!(
            verify_chain(&db).await.expect("verify"),
            ChainReport::Intact { entries: 1 }
        );

        // The writer carries on with the next batch.
        let answers = burst(&writer, vec![Probe::new("after"), Probe::new("after-2")]).await;
        assert!(
            answers.iter().all(|a| matches!(a, Ok("written"))),
            "{answers:?}"
        );
        assert_eq!(log::Entity::find().count(&db).await.expect("count"), 3);
        assert_eq!(
            verify_chain(&db).await.expect("verify"),
            ChainReport::Intact { entries: 3 }
        );
        drop_schema(schema).await;
    }
}
