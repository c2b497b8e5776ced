//! The in-memory candidate index of this replica, built from the profile projection at start and kept
//! current by following the projection's change log. Queries never touch the database or scan. The
//! projection is sealed at rest; profiles are opened here, so the index (memory only) holds them clear.

use std::sync::RwLock;

use haven_matching::{Band, Candidate, Index, MatchContext, Sought, Thresholds};
use haven_platform::ServiceError;
use haven_proto::identity::Identity;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::convert;
use crate::entity::{child_profile, profile_change};
use crate::sealed::Vault;

#[derive(Debug)]
pub struct Matcher {
    index: RwLock<Index>,
    /// The last change-log entry applied to the index.
    applied: tokio::sync::Mutex<i64>,
    thresholds: Thresholds,
    /// Opens the sealed profiles the index is built from.
    vault: Vault,
}

impl Matcher {
    pub fn new(thresholds: Thresholds, vault: Vault) -> Self {
        Matcher {
            index: RwLock::new(Index::new()),
            applied: tokio::sync::Mutex::new(0),
            thresholds,
            vault,
        }
    }

    pub fn thresholds(&self) -> Thresholds {
        self.thresholds
    }

    pub fn len(&self) -> usize {
        self.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn find(&self, sought: &Sought, ctx: &MatchContext, limit: usize) -> Vec<Candidate> {
        self.read().find(sought, ctx, limit)
    }

    /// The ranked candidates with their bands, decided on the list: a first candidate is committed to
    /// on its lead over the best candidate that is another child (a child registered twice is not its
    /// own rival), and the best few under `possible` are shown as weak. The search takes at least two
    /// candidates so the lead means something.
    pub fn find_banded(
        &self,
        sought: &Sought,
        ctx: &MatchContext,
        limit: usize,
    ) -> Vec<(Candidate, Option<Band>)> {
        let index = self.read();
        let ranked = index.find(sought, ctx, limit.max(2));
        let bands = index.bands_for(&self.thresholds, sought, &ranked);
        ranked.into_iter().zip(bands).collect()
    }

    pub fn score(&self, sought: &Sought, ctx: &MatchContext, child_id: &str) -> Option<Candidate> {
        let id = convert::record_id(child_id)?;
        self.read().score(sought, ctx, id)
    }

    /// Loads every profile and positions the follower at the end of the change log.
    pub async fn rebuild(&self, db: &DatabaseConnection) -> Result<usize, ServiceError> {
        let mut applied = self.applied.lock().await;
        let head = profile_change::Entity::find()
            .order_by_desc(profile_change::Column::Seq)
            .one(db)
            .await?
            .map(|c| c.seq)
            .unwrap_or(0);
        let mut index = Index::new();
        let mut after = String::new();
        loop {
            let rows = child_profile::Entity::find()
                .filter(child_profile::Column::ChildId.gt(after.clone()))
                .order_by_asc(child_profile::Column::ChildId)
                .limit(1000)
                .all(db)
                .await?;
            let Some(last) = rows.last() else {
                break;
            };
            after = last.child_id.clone();
            let identities = self.vault.open_profiles(db, &rows).await?;
            for (row, identity) in rows.iter().zip(&identities) {
                if let Some((id, person)) = indexable(row, identity.as_ref()) {
                    index.upsert(id, &person);
                }
            }
        }
        let count = index.len();
        *self.write() = index;
        *applied = head;
        Ok(count)
    }

    /// Applies the change log after where this replica stands. Returns how many changes it applied.
    pub async fn catch_up(&self, db: &DatabaseConnection) -> Result<usize, ServiceError> {
        let mut applied = self.applied.lock().await;
        let mut count = 0;
        loop {
            let changes = profile_change::Entity::find()
                .filter(profile_change::Column::Seq.gt(*applied))
                .order_by_asc(profile_change::Column::Seq)
                .limit(500)
                .all(db)
                .await?;
            let Some(last) = changes.last() else {
                return Ok(count);
            };
            let last_seq = last.seq;
            let ids: Vec<String> = changes.iter().map(|c| c.child_id.clone()).collect();
            let rows = child_profile::Entity::find()
                .filter(child_profile::Column::ChildId.is_in(ids.clone()))
                .all(db)
                .await?;
            let identities = self.vault.open_profiles(db, &rows).await?;
            let mut index = self.write();
            for id in &ids {
                let Some(record_id) = convert::record_id(id) else {
                    continue;
                };
                let found = rows
                    .iter()
                    .zip(&identities)
                    .find(|(r, _)| &r.child_id == id)
                    .and_then(|(r, identity)| indexable(r, identity.as_ref()));
                match found {
                    Some((_, person)) => index.upsert(record_id, &person),
                    None => {
                        index.remove(record_id);
                    }
                }
            }
            drop(index);
            count += changes.len();
            *applied = last_seq;
        }
    }
}

fn indexable(
    row: &child_profile::Model,
    identity: Option<&Identity>,
) -> Option<(haven_matching::RecordId, haven_matching::Person)> {
    let id = convert::record_id(&row.child_id)?;
    Some((
        id,
        convert::person(identity?, convert::day_of(row.registered_at_us)),
    ))
}

/// Keeps the replica's index following the change log, every `interval`.
pub fn spawn_follower(
    matcher: std::sync::Arc<Matcher>,
    db: DatabaseConnection,
    interval: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        loop {
            ticker.tick().await;
            if let Err(error) = matcher.catch_up(&db).await {
                tracing::warn!(%error, "matching index could not follow the projection; will retry");
            }
        }
    })
}
