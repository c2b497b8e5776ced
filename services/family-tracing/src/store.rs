//! Every query and transaction of family tracing (RPCs and identity feed): a write is one transaction
//! with its audit entry or consumed-event mark, and tracing data is sealed and opened by the [`Vault`].

use haven_platform::ServiceError;
use haven_platform::audit::{self, AuditEntry};
use haven_platform::consumed;
use haven_platform::idempotency::{self, IdempotencyKey, KeyUse};
use haven_proto::events::ChildChanged;
use haven_proto::family_tracing::{Decision, RequestStatus, TracingRequest};
use haven_proto::identity::Identity;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

use crate::access::RequestScope;
use crate::convert;
use crate::entity::{alert, child_profile, family_link, profile_change, review, tracing_request};
use crate::sealed::{self, RequestKey, Vault};
use crate::workflow::{SEARCHING, status_name};

#[derive(Debug, Clone)]
pub(crate) struct Store {
    db: DatabaseConnection,
    vault: Vault,
}

/// A request to file, as the handler prepared it: ids assigned, body checked.
#[derive(Debug)]
pub(crate) struct NewRequest {
    pub(crate) id: String,
    pub(crate) body: TracingRequest,
    pub(crate) owner: String,
    pub(crate) agency: String,
    /// The idempotency key: who asked, their `request_id`, and the body's hash.
    pub(crate) key: IdempotencyKey,
}

#[derive(Debug)]
pub(crate) enum Filed {
    Created(Box<tracing_request::Model>),
    /// A retry of an earlier request with the same key and body: the request it filed.
    Replayed(Box<tracing_request::Model>),
    /// The key was used before with a different body.
    KeyReused,
}

/// What a review does to the family links of its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkChange {
    /// A newly confirmed child: link it to the inquirer and its confirmed siblings.
    Link,
    /// The confirmed match was rejected: its links go.
    Unlink,
    Keep,
}

/// A review decision and the request as it stands after it.
#[derive(Debug)]
pub(crate) struct ReviewWrite<'a> {
    pub(crate) row: &'a tracing_request::Model,
    pub(crate) body: &'a TracingRequest,
    pub(crate) status: RequestStatus,
    pub(crate) sought_child_id: &'a str,
    pub(crate) child_id: &'a str,
    pub(crate) decision: Decision,
    pub(crate) reason: &'a str,
    pub(crate) score: f64,
    pub(crate) links: LinkChange,
    pub(crate) reviewed_by: &'a str,
    pub(crate) at_us: i64,
    pub(crate) entry: AuditEntry,
}

/// The error of a write that lost a race on the request's version.
pub(crate) fn stale() -> ServiceError {
    ServiceError::StaleVersion(
        "the tracing request changed meanwhile; read it again and retry".into(),
    )
}

impl Store {
    pub(crate) fn new(db: DatabaseConnection, vault: Vault) -> Self {
        Store { db, vault }
    }

    pub(crate) fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    pub(crate) fn vault(&self) -> &Vault {
        &self.vault
    }
}

/// Tracing requests: filing (with its idempotency record), reading, saving, listing.
impl Store {
    pub(crate) async fn request(
        &self,
        id: &str,
    ) -> Result<Option<tracing_request::Model>, ServiceError> {
        Ok(tracing_request::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?)
    }

    pub(crate) async fn requests(
        &self,
        ids: Vec<String>,
    ) -> Result<Vec<tracing_request::Model>, ServiceError> {
        Ok(tracing_request::Entity::find()
            .filter(tracing_request::Column::Id.is_in(ids))
            .all(&self.db)
            .await?)
    }

    /// The body of a stored request (without its header columns).
    pub(crate) async fn open(
        &self,
        row: &tracing_request::Model,
    ) -> Result<TracingRequest, ServiceError> {
        self.vault.open_request(&self.db, row).await
    }

    /// The bodies of `rows`, in row order; fails if any does not open.
    pub(crate) async fn open_all(
        &self,
        rows: &[tracing_request::Model],
    ) -> Result<Vec<TracingRequest>, ServiceError> {
        self.vault.open_requests(&self.db, rows).await
    }

    /// Files a request, or recognises a retry of one by its idempotency key.
    pub(crate) async fn file(
        &self,
        new: NewRequest,
        by: &str,
        entry: AuditEntry,
    ) -> Result<Filed, ServiceError> {
        let txn = self.db.begin().await?;
        // First statement: takes the audit chain's lock, which also serialises retries of one key.
        audit::append(&txn, &[entry]).await?;
        match idempotency::check(&txn, &new.key).await? {
            KeyUse::Fresh => {}
            KeyUse::Retry(ids) => {
                txn.rollback().await?;
                let first = ids.into_iter().next().unwrap_or_default();
                let row = self
                    .request(&first)
                    .await?
                    .ok_or(ServiceError::NotFound("tracing request"))?;
                return Ok(Filed::Replayed(Box::new(row)));
            }
            KeyUse::Reused => {
                txn.rollback().await?;
                return Ok(Filed::KeyReused);
            }
        }
        let now = crate::now_micros();
        let key = self.vault.request_key(&txn, &new.id).await?;
        let row = tracing_request::Model {
            id: new.id.clone(),
            version: 1,
            owner: new.owner,
            agency: new.agency,
            status: status_name(RequestStatus::Open).to_owned(),
            body: key.seal_body(&new.body)?,
            sealed: true,
            created_at_us: now,
            created_by: by.to_owned(),
            updated_at_us: now,
            updated_by: by.to_owned(),
        };
        tracing_request::Entity::insert(tracing_request::ActiveModel::from(row.clone()))
            .exec_without_returning(&txn)
            .await?;
        idempotency::remember(&txn, &new.key, std::slice::from_ref(&new.id)).await?;
        txn.commit().await?;
        Ok(Filed::Created(Box::new(row)))
    }

    /// Writes `updated` over `row` if nobody changed it meanwhile, with the audit entry, in one
    /// transaction.
    pub(crate) async fn save(
        &self,
        row: &tracing_request::Model,
        updated: &TracingRequest,
        status: RequestStatus,
        by: &str,
        entry: AuditEntry,
    ) -> Result<tracing_request::Model, ServiceError> {
        let txn = self.db.begin().await?;
        audit::append(&txn, &[entry]).await?;
        let key = self.vault.request_key(&txn, &row.id).await?;
        let Some(saved) =
            overwrite(&txn, &key, row, updated, status, by, crate::now_micros()).await?
        else {
            txn.rollback().await?;
            return Err(stale());
        };
        txn.commit().await?;
        Ok(saved)
    }

    /// A page of the requests in `scopes`, newest first, `limit` at most, after the cursor `after`.
    pub(crate) async fn requests_page(
        &self,
        scopes: &[RequestScope],
        status: Option<RequestStatus>,
        after: Option<String>,
        limit: u64,
    ) -> Result<Vec<tracing_request::Model>, ServiceError> {
        let mut visible = Condition::any();
        for scope in scopes {
            visible = visible.add(match scope {
                RequestScope::Own { owner, agency } => Condition::all()
                    .add(tracing_request::Column::Owner.eq(owner.clone()))
                    .add(tracing_request::Column::Agency.eq(agency.clone())),
                RequestScope::Agency(agency) => {
                    Condition::all().add(tracing_request::Column::Agency.eq(agency.clone()))
                }
                RequestScope::All => Condition::all(),
            });
        }
        let mut condition = Condition::all().add(visible);
        if let Some(after) = after {
            condition = condition.add(tracing_request::Column::Id.lt(after));
        }
        if let Some(status) = status {
            condition = condition.add(tracing_request::Column::Status.eq(status_name(status)));
        }
        Ok(tracing_request::Entity::find()
            .filter(condition)
            .order_by_desc(tracing_request::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?)
    }
}

/// Overwrites a request inside `conn`'s transaction if its version is still `row`'s; `None` if
/// somebody changed it meanwhile (the caller rolls back).
async fn overwrite<C: ConnectionTrait>(
    conn: &C,
    key: &RequestKey,
    row: &tracing_request::Model,
    updated: &TracingRequest,
    status: RequestStatus,
    by: &str,
    now: i64,
) -> Result<Option<tracing_request::Model>, ServiceError> {
    let saved = tracing_request::Model {
        version: row.version + 1,
        status: status_name(status).to_owned(),
        body: key.seal_body(updated)?,
        sealed: true,
        updated_at_us: now,
        updated_by: by.to_owned(),
        ..row.clone()
    };
    let result = tracing_request::Entity::update_many()
        .set(tracing_request::ActiveModel::from(saved.clone()).reset_all())
        .filter(tracing_request::Column::Id.eq(row.id.clone()))
        .filter(tracing_request::Column::Version.eq(row.version))
        .exec(conn)
        .await?;
    Ok((result.rows_affected == 1).then_some(saved))
}

/// Matching: the profiled children and the reviews of candidates.
impl Store {
    /// Whether the child is in the projection, i.e. consents to tracing.
    pub(crate) async fn is_profiled(&self, child_id: &str) -> Result<bool, ServiceError> {
        Ok(child_profile::Entity::find_by_id(child_id.to_owned())
            .one(&self.db)
            .await?
            .is_some())
    }

    /// The profiles of `child_ids` still in the projection, each with its identity opened (`None`
    /// where it does not open).
    pub(crate) async fn profiles(
        &self,
        child_ids: Vec<String>,
    ) -> Result<Vec<(child_profile::Model, Option<Identity>)>, ServiceError> {
        let profiles = child_profile::Entity::find()
            .filter(child_profile::Column::ChildId.is_in(child_ids))
            .all(&self.db)
            .await?;
        let identities = self.vault.open_profiles(&self.db, &profiles).await?;
        Ok(profiles.into_iter().zip(identities).collect())
    }

    /// The rejected pairs of `request_ids`, read in one query.
    pub(crate) async fn rejections(
        &self,
        request_ids: &[String],
    ) -> Result<Vec<review::Model>, ServiceError> {
        Ok(review::Entity::find()
            .filter(review::Column::TracingRequestId.is_in(request_ids.iter().cloned()))
            .filter(review::Column::Decision.eq("reject"))
            .all(&self.db)
            .await?)
    }

    /// Records a review in one transaction: its audit entry, the review (replacing an earlier one of
    /// the pair), the pair's alert gone, the family links it makes or unmakes, and the request saved
    /// if nobody changed it meanwhile.
    pub(crate) async fn record_review(&self, write: ReviewWrite<'_>) -> Result<(), ServiceError> {
        let ReviewWrite {
            row,
            body,
            status,
            sought_child_id,
            child_id,
            decision,
            reason,
            score,
            links,
            reviewed_by,
            at_us,
            entry,
        } = write;
        let txn = self.db.begin().await?;
        audit::append(&txn, &[entry]).await?;
        let key = self.vault.request_key(&txn, &row.id).await?;
        let decision_name = if decision == Decision::Confirm {
            "confirm"
        } else {
            "reject"
        };
        review::Entity::insert(review::ActiveModel {
            tracing_request_id: Set(row.id.clone()),
            sought_child_id: Set(sought_child_id.to_owned()),
            child_id: Set(child_id.to_owned()),
            decision: Set(decision_name.into()),
            reason: Set(String::new()),
            reviewed_by: Set(reviewed_by.to_owned()),
            reviewed_at_us: Set(at_us),
            score: Set(score),
            reason_sealed: Set(Some(key.seal_review_reason(reason)?)),
        })
        .on_conflict(
            OnConflict::columns([
                review::Column::TracingRequestId,
                review::Column::SoughtChildId,
                review::Column::ChildId,
            ])
            .update_columns([
                review::Column::Decision,
                review::Column::Reason,
                review::Column::ReviewedBy,
                review::Column::ReviewedAtUs,
                review::Column::Score,
                review::Column::ReasonSealed,
            ])
            .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        // A reviewed pair needs no alert any more.
        alert::Entity::delete_many()
            .filter(alert::Column::TracingRequestId.eq(row.id.clone()))
            .filter(alert::Column::SoughtChildId.eq(sought_child_id.to_owned()))
            .filter(alert::Column::ChildId.eq(child_id.to_owned()))
            .exec(&txn)
            .await?;
        match links {
            LinkChange::Link => link_family(&txn, &key, body, child_id, at_us).await?,
            LinkChange::Unlink => {
                family_link::Entity::delete_many()
                    .filter(family_link::Column::TracingRequestId.eq(row.id.clone()))
                    .filter(
                        Condition::any()
                            .add(family_link::Column::ChildId.eq(child_id.to_owned()))
                            .add(family_link::Column::RelativeChildId.eq(child_id.to_owned())),
                    )
                    .exec(&txn)
                    .await?;
            }
            LinkChange::Keep => {}
        }
        if overwrite(&txn, &key, row, body, status, reviewed_by, at_us)
            .await?
            .is_none()
        {
            txn.rollback().await?;
            return Err(stale());
        }
        txn.commit().await?;
        Ok(())
    }
}

/// Links a confirmed child to the inquirer, and to the children already confirmed for the same
/// request (siblings found through one request).
async fn link_family<C: ConnectionTrait>(
    conn: &C,
    key: &RequestKey,
    request: &TracingRequest,
    child_id: &str,
    now: i64,
) -> Result<(), ServiceError> {
    let inquirer = request.inquirer.clone().unwrap_or_default();
    let relative_name = format!(
        "{} {}",
        inquirer.given_name.trim(),
        inquirer.family_name.trim()
    );
    let mut links = vec![family_link::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        child_id: Set(child_id.to_owned()),
        relative_child_id: Set(String::new()),
        relative_name: Set(String::new()),
        relation: Set(convert::relation_name(inquirer.relation).to_owned()),
        tracing_request_id: Set(request.id.clone()),
        linked_at_us: Set(now),
        relative_name_sealed: Set(Some(key.seal_relative_name(relative_name.trim())?)),
    }];
    for sibling in request
        .sought_children
        .iter()
        .map(|c| c.matched_child_id.as_str())
        .filter(|m| !m.is_empty() && *m != child_id)
    {
        for (from, to) in [(child_id, sibling), (sibling, child_id)] {
            links.push(family_link::ActiveModel {
                id: Set(uuid::Uuid::now_v7().to_string()),
                child_id: Set(from.to_owned()),
                relative_child_id: Set(to.to_owned()),
                relative_name: Set(String::new()),
                relation: Set("sibling".into()),
                tracing_request_id: Set(request.id.clone()),
                linked_at_us: Set(now),
                relative_name_sealed: Set(None),
            });
        }
    }
    family_link::Entity::insert_many(links)
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Family links and alerts, as their lists read them.
impl Store {
    /// The first 200 links of a child, by id.
    pub(crate) async fn links_of(
        &self,
        child_id: &str,
    ) -> Result<Vec<family_link::Model>, ServiceError> {
        Ok(family_link::Entity::find()
            .filter(family_link::Column::ChildId.eq(child_id.to_owned()))
            .order_by_asc(family_link::Column::Id)
            .limit(200)
            .all(&self.db)
            .await?)
    }

    /// The relative's name on each link, in link order. Opened only for the links a caller is
    /// shown, so a filtered-out link's name is never unsealed.
    pub(crate) async fn open_link_names(
        &self,
        links: &[family_link::Model],
    ) -> Result<Vec<String>, ServiceError> {
        self.vault.open_link_names(&self.db, links).await
    }

    /// A page of an agency's alerts, newest first, `limit` at most, after the cursor `after`.
    pub(crate) async fn alerts_page(
        &self,
        agency: &str,
        after: Option<String>,
        limit: u64,
    ) -> Result<Vec<alert::Model>, ServiceError> {
        let mut condition = Condition::all().add(alert::Column::Agency.eq(agency.to_owned()));
        if let Some(after) = after {
            condition = condition.add(alert::Column::Id.lt(after));
        }
        Ok(alert::Entity::find()
            .filter(condition)
            .order_by_desc(alert::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?)
    }

    /// Raises an alert for a likely pair, once: a pair already alerted keeps its first alert.
    pub(crate) async fn raise_alert(
        &self,
        row: &tracing_request::Model,
        sought_child_id: &str,
        child_id: &str,
        score: f64,
    ) -> Result<(), ServiceError> {
        alert::Entity::insert(alert::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            tracing_request_id: Set(row.id.clone()),
            sought_child_id: Set(sought_child_id.to_owned()),
            child_id: Set(child_id.to_owned()),
            score: Set(score),
            raised_at_us: Set(crate::now_micros()),
            owner: Set(row.owner.clone()),
            agency: Set(row.agency.clone()),
        })
        .on_conflict(
            OnConflict::columns([
                alert::Column::TracingRequestId,
                alert::Column::SoughtChildId,
                alert::Column::ChildId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        Ok(())
    }

    /// A page of the requests still searching, by id after `after`, each with its body or why it
    /// does not open (background work skips a bad row rather than stopping).
    pub(crate) async fn searching_after(
        &self,
        after: &str,
        limit: u64,
    ) -> Result<Vec<(tracing_request::Model, Result<TracingRequest, ServiceError>)>, ServiceError>
    {
        let rows = tracing_request::Entity::find()
            .filter(tracing_request::Column::Status.is_in(SEARCHING.map(status_name)))
            .filter(tracing_request::Column::Id.gt(after.to_owned()))
            .order_by_asc(tracing_request::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?;
        let bodies = self.vault.open_each(&self.db, &rows).await?;
        Ok(rows.into_iter().zip(bodies).collect())
    }
}

/// The projection of consenting children, as the identity feed changes it. Each change is one
/// transaction with its change-log entry (every replica's index follows the log) and the event's
/// consumed mark, so an event is applied once or not at all.
impl Store {
    pub(crate) async fn is_consumed(&self, event_id: &str) -> Result<bool, ServiceError> {
        Ok(consumed::already_applied(&self.db, event_id).await?)
    }

    /// Writes (or refreshes) a consenting child's profile with its identity sealed. A profile keeps
    /// the time it was first registered at.
    pub(crate) async fn profile(
        &self,
        event_id: &str,
        changed: &ChildChanged,
        identity: &Identity,
        at_us: i64,
    ) -> Result<(), ServiceError> {
        let txn = self.db.begin().await?;
        let registered_at_us = child_profile::Entity::find_by_id(changed.child_id.clone())
            .one(&txn)
            .await?
            .map(|p| p.registered_at_us)
            .unwrap_or(at_us);
        let sealed_identity = self
            .vault
            .seal_profile(&txn, &changed.child_id, identity)
            .await?;
        child_profile::Entity::insert(child_profile::ActiveModel {
            child_id: Set(changed.child_id.clone()),
            identity_version: Set(changed.identity_version),
            owner: Set(changed.owner.clone()),
            agency: Set(changed.agency.clone()),
            identity: Set(sealed_identity),
            registered_at_us: Set(registered_at_us),
            sealed: Set(true),
        })
        .on_conflict(
            OnConflict::column(child_profile::Column::ChildId)
                .update_columns([
                    child_profile::Column::IdentityVersion,
                    child_profile::Column::Owner,
                    child_profile::Column::Agency,
                    child_profile::Column::Identity,
                    child_profile::Column::Sealed,
                ])
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        log_change(&txn, &changed.child_id).await?;
        mark_consumed(&txn, event_id).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Drops a child's profile and its key (consent withdrawn, or no identity to read).
    pub(crate) async fn drop_profile(
        &self,
        event_id: &str,
        child_id: &str,
    ) -> Result<(), ServiceError> {
        let txn = self.db.begin().await?;
        child_profile::Entity::delete_by_id(child_id.to_owned())
            .exec(&txn)
            .await?;
        sealed::delete_profile_key(&txn, child_id).await?;
        log_change(&txn, child_id).await?;
        mark_consumed(&txn, event_id).await?;
        txn.commit().await?;
        Ok(())
    }

    /// The tombstone: nothing about the child stays here (profile, key, reviews, alerts, links).
    pub(crate) async fn erase_child(
        &self,
        event_id: &str,
        child_id: &str,
    ) -> Result<(), ServiceError> {
        let txn = self.db.begin().await?;
        let id = child_id.to_owned();
        child_profile::Entity::delete_by_id(id.clone())
            .exec(&txn)
            .await?;
        sealed::delete_profile_key(&txn, &id).await?;
        review::Entity::delete_many()
            .filter(review::Column::ChildId.eq(id.clone()))
            .exec(&txn)
            .await?;
        alert::Entity::delete_many()
            .filter(alert::Column::ChildId.eq(id.clone()))
            .exec(&txn)
            .await?;
        family_link::Entity::delete_many()
            .filter(
                Condition::any()
                    .add(family_link::Column::ChildId.eq(id.clone()))
                    .add(family_link::Column::RelativeChildId.eq(id.clone())),
            )
            .exec(&txn)
            .await?;
        log_change(&txn, &id).await?;
        mark_consumed(&txn, event_id).await?;
        txn.commit().await?;
        // Deleted pages must not linger in the write-ahead log either.
        haven_platform::db::purge_wal(&self.db).await?;
        Ok(())
    }

    /// A duplicate registration merged into the kept record: what this service holds about the
    /// duplicate (confirmed matches, reviews, family links) now names the kept record, and the
    /// duplicate's profile goes. The kept record's own events keep its profile current.
    pub(crate) async fn merge_children(
        &self,
        event_id: &str,
        from: &str,
        into: &str,
    ) -> Result<(), ServiceError> {
        let txn = self.db.begin().await?;
        child_profile::Entity::delete_by_id(from.to_owned())
            .exec(&txn)
            .await?;
        sealed::delete_profile_key(&txn, from).await?;
        let reviews = review::Entity::find()
            .filter(review::Column::ChildId.eq(from))
            .all(&txn)
            .await?;
        for old in reviews {
            let confirmed = old.decision == "confirm";
            let request_id = old.tracing_request_id.clone();
            review::Entity::delete_by_id((
                old.tracing_request_id.clone(),
                old.sought_child_id.clone(),
                old.child_id.clone(),
            ))
            .exec(&txn)
            .await?;
            let kept_has_one = review::Entity::find_by_id((
                old.tracing_request_id.clone(),
                old.sought_child_id.clone(),
                into.to_owned(),
            ))
            .one(&txn)
            .await?
            .is_some();
            if !kept_has_one {
                review::Entity::insert(review::ActiveModel {
                    child_id: Set(into.to_owned()),
                    ..review::ActiveModel::from(old)
                })
                .exec_without_returning(&txn)
                .await?;
            }
            if confirmed
                && let Some(row) = tracing_request::Entity::find_by_id(request_id)
                    .one(&txn)
                    .await?
                && let Ok(mut body) = self.vault.open_request(&txn, &row).await
            {
                for sought in &mut body.sought_children {
                    if sought.matched_child_id == from {
                        sought.matched_child_id = into.to_owned();
                    }
                }
                let key = self.vault.request_key(&txn, &row.id).await?;
                tracing_request::Entity::update_many()
                    .col_expr(
                        tracing_request::Column::Body,
                        Expr::value(key.seal_body(&body)?),
                    )
                    .col_expr(tracing_request::Column::Sealed, Expr::value(true))
                    .col_expr(
                        tracing_request::Column::Version,
                        Expr::value(row.version + 1),
                    )
                    .filter(tracing_request::Column::Id.eq(row.id.clone()))
                    .exec(&txn)
                    .await?;
            }
        }
        alert::Entity::delete_many()
            .filter(alert::Column::ChildId.eq(from))
            .exec(&txn)
            .await?;
        family_link::Entity::update_many()
            .col_expr(family_link::Column::ChildId, Expr::value(into.to_owned()))
            .filter(family_link::Column::ChildId.eq(from))
            .exec(&txn)
            .await?;
        family_link::Entity::update_many()
            .col_expr(
                family_link::Column::RelativeChildId,
                Expr::value(into.to_owned()),
            )
            .filter(family_link::Column::RelativeChildId.eq(from))
            .exec(&txn)
            .await?;
        log_change(&txn, from).await?;
        mark_consumed(&txn, event_id).await?;
        txn.commit().await?;
        haven_platform::db::purge_wal(&self.db).await?;
        Ok(())
    }
}

async fn log_change<C: ConnectionTrait>(conn: &C, child_id: &str) -> Result<(), ServiceError> {
    profile_change::Entity::insert(profile_change::ActiveModel {
        child_id: Set(child_id.to_owned()),
        ..Default::default()
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

async fn mark_consumed<C: ConnectionTrait>(conn: &C, event_id: &str) -> Result<(), ServiceError> {
    consumed::mark_applied(conn, event_id).await?;
    Ok(())
}
