//! The group-committed writes: RecordLearning and CorrectLearningRecord requests that passed their
//! checks wait here for a batch, and are written many to a transaction (see
//! `haven_platform::group_commit`), each still under its own idempotency key.

use std::collections::HashMap;
use std::sync::Arc;

use haven_authz::Principal;
use haven_platform::ServiceError;
use haven_platform::audit::AuditEntry;
use haven_platform::group_commit::{self, BatchedWrite, Written};
use haven_platform::idempotency::{self, IdempotencyKey, KeyUse};
use haven_platform::outbox;
use haven_proto::learning::{CorrectLearningRecordResponse, LearningRecord};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, IntoActiveModel as _,
    QueryFilter,
};

use super::{KEY_MADE, replay};
use crate::convert::{new_record, now_micros, record_view};
use crate::entity::record;
use crate::events::{self, LEARNING_STREAM};

/// A RecordLearning request that passed authorization and validation, waiting for its batch.
#[derive(Debug)]
pub(crate) struct NewRecord {
    pub(crate) principal: Arc<Principal>,
    pub(crate) key: IdempotencyKey,
    /// The caller's record, validated; the server-set fields are filled in when it is written.
    pub(crate) body: LearningRecord,
    /// Appended only if the record is written (a replay changes nothing).
    pub(crate) audit: AuditEntry,
}

/// RecordLearning's part of a batch: the idempotency check, the record, its outbox event and its key.
#[derive(Debug)]
pub(super) struct RecordWrites;

/// Inserts rows a few hundred at a time, so no statement exceeds a backend's limit on bound parameters.
async fn insert_in_chunks<A>(txn: &DatabaseTransaction, rows: Vec<A>) -> Result<(), DbErr>
where
    A: ActiveModelTrait + Send,
{
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(500).collect();
        <A::Entity as EntityTrait>::insert_many(chunk)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

impl RecordWrites {
    /// The stored record and its outbox event, with the answer and audit entry.
    fn prepare(
        request: &NewRecord,
        now: i64,
    ) -> Result<(PreparedRecord, Written<LearningRecord>), ServiceError> {
        let row = new_record(&request.principal, request.body.clone(), "", now);
        let response = record_view(&row)?;
        // The batch inserts its events itself, so only the envelope is built here.
        let (event_id, event) = outbox::envelope(events::learning_recorded(
            &row.id,
            &row.child_id,
            &row.organisation,
            "",
            now,
        ));
        let audit = vec![request.audit.clone()];
        let event = outbox::OutboxRow {
            event_id,
            stream: LEARNING_STREAM.to_owned(),
            payload: event,
            created_at_us: now,
            sent_at_us: None,
        };
        Ok((PreparedRecord { row, event }, Written { response, audit }))
    }
}

struct PreparedRecord {
    row: record::Model,
    event: outbox::OutboxRow,
}

#[async_trait::async_trait]
impl BatchedWrite for RecordWrites {
    type Request = NewRecord;
    type Response = LearningRecord;

    const WRITES_IN_BULK: bool = true;

    fn key(&self, request: &NewRecord) -> Option<String> {
        Some(request.key.group_key())
    }

    async fn write_one(
        &self,
        txn: &DatabaseTransaction,
        request: &NewRecord,
    ) -> group_commit::Outcome<LearningRecord> {
        if let Some(ids) = replay(txn, &request.key).await? {
            let row = record::Entity::find_by_id(ids.first().cloned().unwrap_or_default())
                .one(txn)
                .await?
                .ok_or(ServiceError::NotFound("learning record"))?;
            return Ok(Written {
                response: record_view(&row)?,
                audit: Vec::new(),
            });
        }
        let (prepared, written) = Self::prepare(request, now_micros())?;
        let ids = vec![prepared.row.id.clone()];
        record::Entity::insert(prepared.row.into_active_model())
            .exec_without_returning(txn)
            .await?;
        outbox::OutboxEntity::insert(prepared.event.into_active_model())
            .exec_without_returning(txn)
            .await?;
        idempotency::remember(txn, &request.key, &ids).await?;
        Ok(written)
    }

    /// The whole batch in a handful of statements. The keys are claimed first, with one insert that
    /// skips keys already used (it goes through the primary key, whatever the planner thinks of the
    /// table); only the requests whose key was taken read the earlier use, to replay or refuse. Then
    /// one multi-row insert each for the new records and their events.
    async fn write_all(
        &self,
        txn: &DatabaseTransaction,
        requests: &[&NewRecord],
    ) -> Result<Vec<group_commit::Outcome<LearningRecord>>, DbErr> {
        let now = now_micros();
        let prepared: Vec<_> = requests
            .iter()
            .map(|request| Self::prepare(request, now))
            .collect();
        let keys: Vec<(&IdempotencyKey, Vec<String>)> = requests
            .iter()
            .zip(&prepared)
            .filter_map(|(request, candidate)| {
                let (record, _) = candidate.as_ref().ok()?;
                Some((&request.key, vec![record.row.id.clone()]))
            })
            .collect();
        let claimed = idempotency::claim_many(txn, &keys).await?;
        let is_claimed = |request: &NewRecord| claimed.contains(&request.key.id());
        let taken: Vec<&IdempotencyKey> = requests
            .iter()
            .zip(&prepared)
            .filter(|(request, candidate)| candidate.is_ok() && !is_claimed(request))
            .map(|(request, _)| &request.key)
            .collect();
        let earlier = idempotency::earlier_uses(txn, &taken).await?;
        let uses: HashMap<_, KeyUse> = taken
            .iter()
            .filter_map(|key| {
                let row = earlier.get(&key.id())?;
                Some((key.id(), idempotency::classify(key, row)))
            })
            .collect();
        let replayed_ids: Vec<String> = uses
            .values()
            .filter_map(|key_use| match key_use {
                KeyUse::Retry(ids) => ids.first().cloned(),
                _ => None,
            })
            .collect();
        let replayed: HashMap<String, record::Model> = if replayed_ids.is_empty() {
            HashMap::new()
        } else {
            record::Entity::find()
                .filter(record::Column::Id.is_in(replayed_ids))
                .all(txn)
                .await?
                .into_iter()
                .map(|row| (row.id.clone(), row))
                .collect()
        };
        let mut outcomes = Vec::with_capacity(requests.len());
        let (mut rows, mut events) = (Vec::new(), Vec::new());
        for (request, candidate) in requests.iter().zip(prepared) {
            let (record, written) = match candidate {
                Ok(candidate) => candidate,
                Err(error) => {
                    outcomes.push(Err(error));
                    continue;
                }
            };
            if is_claimed(request) {
                rows.push(record.row.into_active_model());
                events.push(record.event.into_active_model());
                outcomes.push(Ok(written));
                continue;
            }
            outcomes.push(match uses.get(&request.key.id()) {
                Some(KeyUse::Retry(ids)) => {
                    let first = ids.first().cloned().unwrap_or_default();
                    replayed
                        .get(&first)
                        .ok_or(ServiceError::NotFound("learning record"))
                        .and_then(record_view)
                        .map(|response| Written {
                            response,
                            audit: Vec::new(),
                        })
                }
                Some(KeyUse::Reused) => Err(idempotency::key_reused(KEY_MADE)),
                // Neither claimed nor found: something else is wrong; write this one on its own.
                Some(KeyUse::Fresh) | None => {
                    return Err(DbErr::Custom("idempotency key neither new nor used".into()));
                }
            });
        }
        insert_in_chunks(txn, rows).await?;
        insert_in_chunks(txn, events).await?;
        Ok(outcomes)
    }
}

/// A CorrectLearningRecord request that passed authorization and validation, waiting for its batch.
#[derive(Debug)]
pub(crate) struct Correction {
    pub(crate) principal: Arc<Principal>,
    pub(crate) key: IdempotencyKey,
    /// The record to void, as read when the request was checked.
    pub(crate) current: record::Model,
    pub(crate) reason: String,
    pub(crate) replacement: Option<LearningRecord>,
    /// Appended only if the correction is written (a replay changes nothing).
    pub(crate) audit: AuditEntry,
}

/// CorrectLearningRecord's part of a batch: each correction in its own savepoint (corrections are rare;
/// they gain from sharing the commit, not from bulk statements).
#[derive(Debug)]
pub(super) struct CorrectionWrites;

#[async_trait::async_trait]
impl BatchedWrite for CorrectionWrites {
    type Request = Correction;
    type Response = CorrectLearningRecordResponse;

    fn key(&self, request: &Correction) -> Option<String> {
        Some(request.key.group_key())
    }

    async fn write_one(
        &self,
        txn: &DatabaseTransaction,
        request: &Correction,
    ) -> group_commit::Outcome<CorrectLearningRecordResponse> {
        let principal = request.principal.as_ref();
        let current = &request.current;
        if let Some(ids) = replay(txn, &request.key).await? {
            let mut response = CorrectLearningRecordResponse::default();
            for (i, id) in ids.iter().enumerate() {
                let row = record::Entity::find_by_id(id.clone())
                    .one(txn)
                    .await?
                    .ok_or(ServiceError::NotFound("learning record"))?;
                if i == 0 {
                    response.voided = Some(record_view(&row)?);
                } else {
                    response.replacement = Some(record_view(&row)?);
                }
            }
            return Ok(Written {
                response,
                audit: Vec::new(),
            });
        }
        let now = now_micros();
        let voided = record::Entity::update_many()
            .col_expr(record::Column::Voided, Expr::value(true))
            .col_expr(
                record::Column::VoidReason,
                Expr::value(request.reason.clone()),
            )
            .col_expr(record::Column::VoidedAtUs, Expr::value(now))
            .col_expr(record::Column::VoidedBy, Expr::value(principal.sub.clone()))
            .filter(record::Column::Id.eq(current.id.as_str()))
            .filter(record::Column::Voided.eq(false))
            .exec(txn)
            .await?;
        if voided.rows_affected == 0 {
            return Err(ServiceError::FailedPrecondition(
                "the record is already voided".into(),
            ));
        }
        let mut ids = vec![current.id.clone()];
        let mut replacement_row = None;
        if let Some(r) = &request.replacement {
            let row = new_record(principal, r.clone(), &current.id, now);
            record::Entity::insert(record::ActiveModel::from(row.clone()))
                .exec_without_returning(txn)
                .await?;
            ids.push(row.id.clone());
            replacement_row = Some(row);
        }
        let event_record = replacement_row
            .as_ref()
            .map(|r| r.id.as_str())
            .unwrap_or(&current.id);
        outbox::enqueue(
            txn,
            LEARNING_STREAM,
            events::learning_recorded(
                event_record,
                &current.child_id,
                &current.organisation,
                &current.id,
                now,
            ),
        )
        .await?;
        idempotency::remember(txn, &request.key, &ids).await?;
        let voided_row = record::Entity::find_by_id(current.id.clone())
            .one(txn)
            .await?
            .ok_or(ServiceError::NotFound("learning record"))?;
        Ok(Written {
            response: CorrectLearningRecordResponse {
                voided: Some(record_view(&voided_row)?),
                replacement: replacement_row.as_ref().map(record_view).transpose()?,
            },
            audit: vec![request.audit.clone()],
        })
    }
}
