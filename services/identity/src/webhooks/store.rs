//! The partners' feeds' queries and transactions: subscriptions, the delivery log and the dispatcher's
//! claims, and the change feed.

use std::collections::BTreeSet;

use haven_platform::ServiceError;
use haven_platform::consumed;
use haven_platform::idempotency::{self, IdempotencyKey, KeyUse};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait,
};

use super::{CHILD_ERASED, EVENT_TYPES, PENDING};
use crate::entity::{partner_change, referral, webhook_delivery, webhook_subscription};
use crate::store::REFERRAL_ACCEPTED;

/// What a create with an idempotency key came to.
#[derive(Debug)]
pub(crate) enum SubscriptionCreated {
    Created(webhook_subscription::Model),
    /// A retry: the subscription the first call made.
    Replayed(webhook_subscription::Model),
    KeyReused,
}

pub(crate) async fn create_subscription(
    db: &DatabaseConnection,
    key: &IdempotencyKey,
    row: webhook_subscription::Model,
) -> Result<SubscriptionCreated, ServiceError> {
    let txn = db.begin().await?;
    match idempotency::check(&txn, key).await? {
        KeyUse::Fresh => {}
        KeyUse::Retry(ids) => {
            let first = ids.into_iter().next().unwrap_or_default();
            let earlier = webhook_subscription::Entity::find_by_id(first)
                .one(&txn)
                .await?;
            txn.rollback().await?;
            // Deleted since: the retry cannot bring it back.
            let earlier = earlier.ok_or(ServiceError::NotFound("webhook subscription"))?;
            return Ok(SubscriptionCreated::Replayed(earlier));
        }
        KeyUse::Reused => {
            txn.rollback().await?;
            return Ok(SubscriptionCreated::KeyReused);
        }
    }
    webhook_subscription::Entity::insert(webhook_subscription::ActiveModel::from(row.clone()))
        .exec_without_returning(&txn)
        .await?;
    idempotency::remember(&txn, key, std::slice::from_ref(&row.id)).await?;
    txn.commit().await?;
    Ok(SubscriptionCreated::Created(row))
}

/// The subscription `id` if `owner` of `agency` owns it; anyone else's is `None`, like a missing one.
pub(crate) async fn owned_subscription(
    db: &DatabaseConnection,
    id: &str,
    owner: &str,
    agency: &str,
) -> Result<Option<webhook_subscription::Model>, ServiceError> {
    Ok(webhook_subscription::Entity::find_by_id(id.to_owned())
        .filter(webhook_subscription::Column::Owner.eq(owner))
        .filter(webhook_subscription::Column::Agency.eq(agency))
        .one(db)
        .await?)
}

pub(crate) async fn subscription(
    db: &DatabaseConnection,
    id: &str,
) -> Result<Option<webhook_subscription::Model>, ServiceError> {
    Ok(webhook_subscription::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?)
}

/// `owner`'s subscriptions after `after`, oldest first.
pub(crate) async fn subscriptions_page(
    db: &DatabaseConnection,
    owner: &str,
    agency: &str,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<webhook_subscription::Model>, ServiceError> {
    let mut query = webhook_subscription::Entity::find()
        .filter(webhook_subscription::Column::Owner.eq(owner))
        .filter(webhook_subscription::Column::Agency.eq(agency));
    if let Some(after) = after {
        query = query.filter(webhook_subscription::Column::Id.gt(after));
    }
    Ok(query
        .order_by_asc(webhook_subscription::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// Removes a subscription and its delivery log together.
pub(crate) async fn delete_subscription(
    db: &DatabaseConnection,
    id: &str,
) -> Result<(), ServiceError> {
    let txn = db.begin().await?;
    webhook_delivery::Entity::delete_many()
        .filter(webhook_delivery::Column::SubscriptionId.eq(id))
        .exec(&txn)
        .await?;
    webhook_subscription::Entity::delete_by_id(id.to_owned())
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

/// Puts a new secret in place, keeping the one it replaces (`previous`) until `previous_expires_at_us`.
/// Only if the subscription is still at `from_generation`: two rotations racing cannot both win.
pub(crate) async fn rotate_secret(
    db: &DatabaseConnection,
    id: &str,
    from_generation: i32,
    secret: Vec<u8>,
    previous: Vec<u8>,
    previous_expires_at_us: i64,
) -> Result<bool, ServiceError> {
    let updated = webhook_subscription::Entity::update_many()
        .col_expr(
            webhook_subscription::Column::SecretGeneration,
            Expr::value(from_generation + 1),
        )
        .col_expr(webhook_subscription::Column::Secret, Expr::value(secret))
        .col_expr(
            webhook_subscription::Column::PreviousSecret,
            Expr::value(Some(previous)),
        )
        .col_expr(
            webhook_subscription::Column::PreviousExpiresAtUs,
            Expr::value(Some(previous_expires_at_us)),
        )
        .filter(webhook_subscription::Column::Id.eq(id))
        .filter(webhook_subscription::Column::SecretGeneration.eq(from_generation))
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Re-wraps every subscription's secrets under the keyring's current master key (master-key rotation).
/// Returns how many secrets changed.
pub(crate) async fn rewrap_secrets(
    db: &DatabaseConnection,
    keyring: &haven_platform::sealing::Keyring,
) -> Result<u64, ServiceError> {
    let mut rewrapped = 0;
    for row in webhook_subscription::Entity::find().all(db).await? {
        let secret =
            super::signing::rewrapped(keyring, &row.id, row.secret_generation, &row.secret)?;
        let previous = match &row.previous_secret {
            Some(previous) => {
                super::signing::rewrapped(keyring, &row.id, row.secret_generation - 1, previous)?
            }
            None => None,
        };
        if secret.is_none() && previous.is_none() {
            continue;
        }
        rewrapped += u64::from(secret.is_some()) + u64::from(previous.is_some());
        let mut update = webhook_subscription::Entity::update_many()
            .filter(webhook_subscription::Column::Id.eq(row.id.clone()))
            // A rotation in between changed the secrets: leave them, they are under the current key.
            .filter(webhook_subscription::Column::SecretGeneration.eq(row.secret_generation));
        if let Some(secret) = secret {
            update = update.col_expr(webhook_subscription::Column::Secret, Expr::value(secret));
        }
        if let Some(previous) = previous {
            update = update.col_expr(
                webhook_subscription::Column::PreviousSecret,
                Expr::value(Some(previous)),
            );
        }
        update.exec(db).await?;
    }
    Ok(rewrapped)
}

/// A subscription's delivery log, newest first, before `before`.
pub(crate) async fn deliveries_page(
    db: &DatabaseConnection,
    subscription_id: &str,
    before: Option<&str>,
    limit: u64,
) -> Result<Vec<webhook_delivery::Model>, ServiceError> {
    let mut query = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::SubscriptionId.eq(subscription_id));
    if let Some(before) = before {
        query = query.filter(webhook_delivery::Column::Id.lt(before));
    }
    Ok(query
        .order_by_desc(webhook_delivery::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

pub(crate) async fn delivery(
    db: &DatabaseConnection,
    id: &str,
) -> Result<Option<webhook_delivery::Model>, ServiceError> {
    Ok(webhook_delivery::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?)
}

/// Makes a delivery due now again, with a fresh retry window from `now`.
pub(crate) async fn replay(
    db: &DatabaseConnection,
    id: &str,
    now: i64,
) -> Result<(), ServiceError> {
    webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::Status, Expr::value(PENDING))
        .col_expr(webhook_delivery::Column::NextAttemptAtUs, Expr::value(now))
        .col_expr(webhook_delivery::Column::RetrySinceUs, Expr::value(now))
        .col_expr(webhook_delivery::Column::ClaimedUntilUs, Expr::value(0i64))
        .col_expr(webhook_delivery::Column::UpdatedAtUs, Expr::value(now))
        .filter(webhook_delivery::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// The agency's changes after `after_seq`, oldest first, of children referred to it now, and the
/// erasures of children it was told of.
pub(crate) async fn changes_page(
    db: &DatabaseConnection,
    agency: &str,
    after_seq: i64,
    limit: u64,
) -> Result<Vec<partner_change::Model>, ServiceError> {
    Ok(partner_change::Entity::find()
        .filter(partner_change::Column::Agency.eq(agency))
        .filter(partner_change::Column::Seq.gt(after_seq))
        .filter(
            sea_orm::Condition::any()
                .add(
                    partner_change::Column::ChildId
                        .in_subquery(crate::scope::referred_children(agency)),
                )
                // A merge shows while the kept record is referred (the duplicate's referrals moved
                // there); an erasure's tombstone shows to the agencies it was fanned out to.
                .add(
                    partner_change::Column::MergedInto
                        .in_subquery(crate::scope::referred_children(agency)),
                )
                .add(partner_change::Column::EventType.eq(CHILD_ERASED)),
        )
        .order_by_asc(partner_change::Column::Seq)
        .limit(limit)
        .all(db)
        .await?)
}

/// The agencies an accepted (non-education) referral of one of `child_ids` reaches: the partner scope.
/// With `accepted_by_us`, only referrals accepted by then: an accepted referral's last change is its
/// acceptance, so an event that happened before it (the registration, say, fanned out a moment after
/// the partner accepted) is not the partner's to hear about.
async fn referred_agencies<C: ConnectionTrait>(
    conn: &C,
    child_ids: &[String],
    accepted_by_us: Option<i64>,
) -> Result<BTreeSet<String>, ServiceError> {
    let mut query = referral::Entity::find()
        .filter(referral::Column::ChildId.is_in(child_ids.iter().cloned()))
        .filter(referral::Column::Status.eq(REFERRAL_ACCEPTED))
        .filter(referral::Column::Kind.ne(referral::EDUCATION));
    if let Some(at) = accepted_by_us {
        query = query.filter(referral::Column::UpdatedAtUs.lte(at));
    }
    let rows = query.all(conn).await?;
    Ok(rows.into_iter().map(|r| r.to_agency).collect())
}

/// The agencies the change feed already named `child_id` to.
async fn agencies_told_of<C: ConnectionTrait>(
    conn: &C,
    child_id: &str,
) -> Result<BTreeSet<String>, ServiceError> {
    let rows = partner_change::Entity::find()
        .filter(partner_change::Column::ChildId.eq(child_id))
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(|r| r.agency).collect())
}

/// Whether `agency` may still see `child_id` (an accepted referral stands).
pub(crate) async fn still_referred(
    db: &DatabaseConnection,
    agency: &str,
    child_id: &str,
) -> Result<bool, ServiceError> {
    Ok(referred_agencies(db, &[child_id.to_owned()], None)
        .await?
        .contains(agency))
}

/// One identity event as the feeds see it.
#[derive(Debug, Clone)]
pub(crate) struct FeedEvent {
    pub(crate) event_id: String,
    pub(crate) event_type: &'static str,
    pub(crate) child_id: String,
    pub(crate) version: i64,
    pub(crate) merged_into: String,
    pub(crate) occurred_at_us: i64,
    /// The children whose referrals decide who sees the event (both records of a merge).
    pub(crate) referred_via: Vec<String>,
}

/// Fans one event out, once: change rows for every agency that may see the child, delivery rows for
/// their subscriptions to this event type, and the event's consumed mark, in one transaction.
/// `payload` builds the body one delivery carries. Returns how many deliveries it added.
pub(crate) async fn fan_out(
    db: &DatabaseConnection,
    event: &FeedEvent,
    payload: &str,
    now: i64,
) -> Result<usize, ServiceError> {
    let txn = db.begin().await?;
    if consumed::already_applied(&txn, &event.event_id).await? {
        txn.rollback().await?;
        return Ok(0);
    }
    let mut agencies =
        referred_agencies(&txn, &event.referred_via, Some(event.occurred_at_us)).await?;
    if event.event_type == CHILD_ERASED {
        // The erasure took the child's referrals with it. The agencies already told of the child are
        // told it is gone, so they can delete what they hold; the tombstone names nothing else.
        agencies.extend(agencies_told_of(&txn, &event.child_id).await?);
    }
    // Whose referral decides whether a delivery may still go out: a merge's kept record carries them.
    let referral_subject = if event.merged_into.is_empty() {
        event.child_id.clone()
    } else {
        event.merged_into.clone()
    };
    let mut added = 0;
    if !agencies.is_empty() {
        // Positions are handed out in commit order: a second fan-out that read the same last position
        // fails on the primary key once the first commits, and its event is applied again on the next
        // round. So a cursor on `seq` never passes a row that commits later.
        let next_seq = partner_change::Entity::find()
            .order_by_desc(partner_change::Column::Seq)
            .one(&txn)
            .await?
            .map_or(1, |row| row.seq + 1);
        let changes: Vec<partner_change::ActiveModel> = agencies
            .iter()
            .zip(next_seq..)
            .map(|(agency, seq)| partner_change::ActiveModel {
                seq: Set(seq),
                agency: Set(agency.clone()),
                event_id: Set(event.event_id.clone()),
                event_type: Set(event.event_type.to_owned()),
                child_id: Set(event.child_id.clone()),
                version: Set(event.version),
                merged_into: Set(event.merged_into.clone()),
                occurred_at_us: Set(event.occurred_at_us),
            })
            .collect();
        partner_change::Entity::insert_many(changes)
            .exec_without_returning(&txn)
            .await?;
        let subscriptions = webhook_subscription::Entity::find()
            .filter(webhook_subscription::Column::Agency.is_in(agencies.iter().cloned()))
            .all(&txn)
            .await?;
        let deliveries: Vec<webhook_delivery::ActiveModel> = subscriptions
            .iter()
            .filter(|s| wants(s, event.event_type))
            .map(|s| webhook_delivery::ActiveModel {
                id: Set(uuid::Uuid::now_v7().to_string()),
                subscription_id: Set(s.id.clone()),
                event_id: Set(event.event_id.clone()),
                event_type: Set(event.event_type.to_owned()),
                child_id: Set(referral_subject.clone()),
                payload: Set(payload.to_owned()),
                status: Set(PENDING.to_owned()),
                attempts: Set(0),
                next_attempt_at_us: Set(now),
                retry_since_us: Set(now),
                claimed_until_us: Set(0),
                last_response_code: Set(0),
                last_error: Set(String::new()),
                created_at_us: Set(now),
                delivered_at_us: Set(None),
                updated_at_us: Set(now),
            })
            .collect();
        added = deliveries.len();
        if !deliveries.is_empty() {
            webhook_delivery::Entity::insert_many(deliveries)
                .on_conflict(
                    OnConflict::columns([
                        webhook_delivery::Column::SubscriptionId,
                        webhook_delivery::Column::EventId,
                    ])
                    .do_nothing()
                    .to_owned(),
                )
                .exec_without_returning(&txn)
                .await?;
        }
    }
    consumed::mark_applied(&txn, &event.event_id).await?;
    txn.commit().await?;
    Ok(added)
}

fn wants(subscription: &webhook_subscription::Model, event_type: &str) -> bool {
    subscription
        .event_types
        .split(',')
        .any(|t| t == event_type && EVENT_TYPES.contains(&t))
}

/// Claims up to `limit` due deliveries until `claimed_until_us`. On PostgreSQL the rows are locked
/// with SKIP LOCKED while the claim is written, so replicas claiming at once take different rows; on
/// SQLite the database has a single writer, so the transaction alone serialises the claims. A claim
/// whose dispatcher died lapses at `claimed_until_us` and the delivery is taken again.
pub(crate) async fn claim_due(
    db: &DatabaseConnection,
    now: i64,
    claimed_until_us: i64,
    limit: u64,
) -> Result<Vec<webhook_delivery::Model>, ServiceError> {
    let txn = db.begin().await?;
    let mut query = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::Status.eq(PENDING))
        .filter(webhook_delivery::Column::NextAttemptAtUs.lte(now))
        .filter(webhook_delivery::Column::ClaimedUntilUs.lt(now))
        .order_by_asc(webhook_delivery::Column::NextAttemptAtUs)
        .limit(limit);
    if db.get_database_backend() == DatabaseBackend::Postgres {
        query = query.lock_with_behavior(
            sea_orm::sea_query::LockType::Update,
            sea_orm::sea_query::LockBehavior::SkipLocked,
        );
    }
    let due = query.all(&txn).await?;
    if due.is_empty() {
        txn.rollback().await?;
        return Ok(due);
    }
    webhook_delivery::Entity::update_many()
        .col_expr(
            webhook_delivery::Column::ClaimedUntilUs,
            Expr::value(claimed_until_us),
        )
        .filter(webhook_delivery::Column::Id.is_in(due.iter().map(|d| d.id.clone())))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(due)
}

/// What became of one attempt.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub(crate) status: &'static str,
    pub(crate) attempts: i32,
    pub(crate) next_attempt_at_us: i64,
    pub(crate) response_code: i32,
    pub(crate) error: String,
    pub(crate) delivered_at_us: Option<i64>,
}

/// Records an attempt's outcome and releases the claim. Only while the delivery is still held by this
/// claim (`claimed_until_us`): a replay or a newer claim in between wins.
pub(crate) async fn record_outcome(
    db: &DatabaseConnection,
    id: &str,
    claimed_until_us: i64,
    outcome: Outcome,
    now: i64,
) -> Result<(), ServiceError> {
    webhook_delivery::Entity::update_many()
        .col_expr(
            webhook_delivery::Column::Status,
            Expr::value(outcome.status),
        )
        .col_expr(
            webhook_delivery::Column::Attempts,
            Expr::value(outcome.attempts),
        )
        .col_expr(
            webhook_delivery::Column::NextAttemptAtUs,
            Expr::value(outcome.next_attempt_at_us),
        )
        .col_expr(webhook_delivery::Column::ClaimedUntilUs, Expr::value(0i64))
        .col_expr(
            webhook_delivery::Column::LastResponseCode,
            Expr::value(outcome.response_code),
        )
        .col_expr(
            webhook_delivery::Column::LastError,
            Expr::value(outcome.error),
        )
        .col_expr(
            webhook_delivery::Column::DeliveredAtUs,
            Expr::value(outcome.delivered_at_us),
        )
        .col_expr(webhook_delivery::Column::UpdatedAtUs, Expr::value(now))
        .filter(webhook_delivery::Column::Id.eq(id))
        .filter(webhook_delivery::Column::ClaimedUntilUs.eq(claimed_until_us))
        .exec(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use sea_orm::{EntityTrait, Set};
    use sea_orm_migration::MigratorTrait as _;

    use super::*;

    async fn database() -> (DatabaseConnection, std::path::PathBuf) {
        let path = std::env::temp_dir().join(format!("haven-feed-{}.db", uuid::Uuid::now_v7()));
        let db = haven_platform::db::connect(&format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .expect("db");
        crate::Migrator::up(&db, None).await.expect("migrate");
        (db, path)
    }

    async fn referred(db: &DatabaseConnection, child_id: &str, agency: &str, accepted_at: i64) {
        referral::Entity::insert(referral::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            child_id: Set(child_id.into()),
            from_agency: Set("agency-a".into()),
            to_agency: Set(agency.into()),
            service: Set("shelter".into()),
            kind: Set("service".into()),
            shared_classes: Set("identity".into()),
            status: Set(REFERRAL_ACCEPTED.into()),
            consent_overridden: Set(false),
            override_reason: Set(String::new()),
            request_id: Set(uuid::Uuid::now_v7().to_string()),
            body_hash: Set(String::new()),
            created_at_us: Set(accepted_at),
            created_by: Set("cw-1".into()),
            updated_at_us: Set(accepted_at),
            updated_by: Set("p-1".into()),
        })
        .exec_without_returning(db)
        .await
        .expect("referral");
    }

    async fn subscribed(db: &DatabaseConnection, agency: &str, types: &str) -> String {
        let id = uuid::Uuid::now_v7().to_string();
        webhook_subscription::Entity::insert(webhook_subscription::ActiveModel {
            id: Set(id.clone()),
            owner: Set(format!("{agency}-client")),
            agency: Set(agency.into()),
            url: Set("http://127.0.0.1:9/".into()),
            event_types: Set(types.into()),
            secret_generation: Set(1),
            secret: Set(vec![1]),
            previous_secret: Set(None),
            previous_expires_at_us: Set(None),
            created_at_us: Set(1),
        })
        .exec_without_returning(db)
        .await
        .expect("subscription");
        id
    }

    fn changed(child_id: &str, at: i64) -> FeedEvent {
        FeedEvent {
            event_id: uuid::Uuid::now_v7().to_string(),
            event_type: super::super::CHILD_CHANGED,
            child_id: child_id.into(),
            version: 2,
            merged_into: String::new(),
            occurred_at_us: at,
            referred_via: vec![child_id.into()],
        }
    }

    #[tokio::test]
    async fn an_event_fanned_out_twice_is_delivered_and_listed_once() {
        let (db, path) = database().await;
        referred(&db, "c-1", "ngo-1", 10).await;
        subscribed(&db, "ngo-1", "child.changed").await;
        subscribed(&db, "ngo-1", "child.erased").await;
        subscribed(&db, "ngo-2", "child.changed").await;
        let event = changed("c-1", 20);
        assert_eq!(fan_out(&db, &event, "{}", 30).await.expect("first"), 1);
        assert_eq!(fan_out(&db, &event, "{}", 31).await.expect("again"), 0);
        let deliveries = webhook_delivery::Entity::find()
            .all(&db)
            .await
            .expect("read");
        assert_eq!(deliveries.len(), 1, "one subscription wants it, once");
        let changes = partner_change::Entity::find().all(&db).await.expect("read");
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].agency, "ngo-1", "ngo-2 has no referral");
        std::fs::remove_file(path).ok();
    }

    #[tokio::test]
    async fn an_event_from_before_the_referral_was_accepted_is_not_the_partners() {
        let (db, path) = database().await;
        referred(&db, "c-1", "ngo-1", 50).await;
        subscribed(&db, "ngo-1", "child.changed").await;
        fan_out(&db, &changed("c-1", 40), "{}", 60)
            .await
            .expect("fan out");
        assert!(
            webhook_delivery::Entity::find()
                .all(&db)
                .await
                .expect("read")
                .is_empty()
        );
        assert!(
            changes_page(&db, "ngo-1", 0, 10)
                .await
                .expect("page")
                .is_empty()
        );
        fan_out(&db, &changed("c-1", 55), "{}", 60)
            .await
            .expect("fan out");
        assert_eq!(
            changes_page(&db, "ngo-1", 0, 10).await.expect("page").len(),
            1
        );
        std::fs::remove_file(path).ok();
    }

    #[tokio::test]
    async fn an_erasure_reaches_the_agencies_told_of_the_child_and_a_merge_follows_the_kept_record()
    {
        let (db, path) = database().await;
        referred(&db, "c-1", "ngo-1", 10).await;
        fan_out(&db, &changed("c-1", 20), "{}", 30)
            .await
            .expect("fan out");
        // The erasure deletes the referral in its own transaction.
        referral::Entity::delete_many()
            .exec(&db)
            .await
            .expect("erased");
        let erased = FeedEvent {
            event_type: CHILD_ERASED,
            version: 0,
            ..changed("c-1", 40)
        };
        fan_out(&db, &erased, "{}", 50).await.expect("fan out");
        let feed = changes_page(&db, "ngo-1", 0, 10).await.expect("page");
        assert_eq!(
            feed.iter()
                .map(|c| c.event_type.as_str())
                .collect::<Vec<_>>(),
            vec![CHILD_ERASED],
            "the tombstone shows; the change of a child no longer referred does not"
        );
        assert!(
            changes_page(&db, "ngo-2", 0, 10)
                .await
                .expect("page")
                .is_empty()
        );

        referred(&db, "kept", "ngo-1", 60).await;
        subscribed(&db, "ngo-1", "child.merged").await;
        let merged = FeedEvent {
            event_type: super::super::CHILD_MERGED,
            merged_into: "kept".into(),
            referred_via: vec!["dup".into(), "kept".into()],
            ..changed("dup", 70)
        };
        assert_eq!(fan_out(&db, &merged, "{}", 80).await.expect("fan out"), 1);
        let feed = changes_page(&db, "ngo-1", 0, 10).await.expect("page");
        assert_eq!(feed.last().map(|c| c.merged_into.as_str()), Some("kept"));
        let delivery = webhook_delivery::Entity::find()
            .one(&db)
            .await
            .expect("read")
            .expect("one delivery");
        assert_eq!(
            delivery.child_id, "kept",
            "the kept record's referral decides whether it still goes out"
        );
        std::fs::remove_file(path).ok();
    }

    #[tokio::test]
    async fn a_claimed_delivery_is_not_claimed_again_until_its_claim_lapses() {
        let (db, path) = database().await;
        referred(&db, "c-1", "ngo-1", 10).await;
        subscribed(&db, "ngo-1", "child.changed").await;
        fan_out(&db, &changed("c-1", 20), "{}", 30)
            .await
            .expect("fan out");
        assert_eq!(claim_due(&db, 40, 100, 10).await.expect("claim").len(), 1);
        assert!(claim_due(&db, 50, 200, 10).await.expect("claim").is_empty());
        assert_eq!(
            claim_due(&db, 101, 300, 10).await.expect("claim").len(),
            1,
            "a dispatcher that died leaves the delivery to the next"
        );
        std::fs::remove_file(path).ok();
    }
}
