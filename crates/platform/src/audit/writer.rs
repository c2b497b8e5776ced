//! Group commit for read audit entries: a read is answered only after its entry is committed, and many
//! reads share one transaction, so auditing every read does not cap read throughput at the database's
//! commit rate.

use sea_orm::{DatabaseConnection, TransactionTrait};
use tokio::sync::{mpsc, oneshot};

use super::{AuditEntry, append};
use crate::error::ServiceError;

const MAX_BATCH: usize = 512;
const QUEUE: usize = 8192;

struct Pending {
    entries: Vec<AuditEntry>,
    done: oneshot::Sender<Result<(), String>>,
}

/// Handle to the background task that commits read entries.
#[derive(Debug, Clone)]
pub struct AuditWriter {
    queue: mpsc::Sender<Pending>,
}

impl AuditWriter {
    /// Starts the writer task on the current runtime.
    pub fn spawn(db: DatabaseConnection) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE);
        tokio::spawn(run(db, receiver));
        AuditWriter { queue }
    }

    /// Records entries and waits until they are committed. A failure means the read must not be
    /// answered: no read of child data goes unaudited.
    pub async fn record(&self, entries: Vec<AuditEntry>) -> Result<(), ServiceError> {
        if entries.is_empty() {
            return Ok(());
        }
        let (done, committed) = oneshot::channel();
        self.queue
            .send(Pending { entries, done })
            .await
            .map_err(|_| ServiceError::Unavailable("audit log unavailable".into()))?;
        match committed.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(reason)) => {
                tracing::error!(%reason, "audit batch failed");
                Err(ServiceError::Unavailable("audit log unavailable".into()))
            }
            Err(_) => Err(ServiceError::Unavailable("audit log unavailable".into())),
        }
    }
}

async fn run(db: DatabaseConnection, mut receiver: mpsc::Receiver<Pending>) {
    while let Some(first) = receiver.recv().await {
        let mut batch = vec![first];
        let mut size = batch[0].entries.len();
        while size < MAX_BATCH {
            match receiver.try_recv() {
                Ok(next) => {
                    size += next.entries.len();
                    batch.push(next);
                }
                Err(_) => break,
            }
        }
        let entries: Vec<AuditEntry> = batch
            .iter()
            .flat_map(|p| p.entries.iter().cloned())
            .collect();
        let outcome = write(&db, &entries).await.map_err(|e| e.to_string());
        for pending in batch {
            let _ = pending.done.send(outcome.clone());
        }
    }
}

async fn write(db: &DatabaseConnection, entries: &[AuditEntry]) -> Result<(), sea_orm::DbErr> {
    let txn = db.begin().await?;
    append(&txn, entries).await?;
    txn.commit().await
}
