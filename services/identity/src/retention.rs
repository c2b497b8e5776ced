//! Retention: records unchanged for longer than their class's period are erased by a scheduled task,
//! exactly as EraseChild erases them (data key destroyed, identity removed, erasure recorded).

use std::time::Duration;

use haven_platform::ServiceError;
use haven_platform::audit::AuditEntry;
use haven_platform::config::RetentionConfig;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::entity::child;
use crate::record::{CHILD_CLASSES, now_micros};
use crate::service::IdentityService;

const DAY_MICROS: i64 = 24 * 60 * 60 * 1_000_000;
const BATCH: u64 = 200;

/// Erases every record past its retention period as of `now_us`; returns how many were erased.
pub async fn enforce_retention(
    service: &IdentityService,
    rules: &RetentionConfig,
    now_us: i64,
) -> Result<u64, ServiceError> {
    let mut expired = Condition::any();
    let mut any_rule = false;
    if let Some(days) = rules.case_days {
        expired = expired.add(
            Condition::all()
                .add(child::Column::Protection.is_not_null())
                .add(child::Column::UpdatedAtUs.lt(now_us - i64::from(days) * DAY_MICROS)),
        );
        any_rule = true;
    }
    if let Some(days) = rules.learner_days {
        expired = expired.add(
            Condition::all()
                .add(child::Column::Protection.is_null())
                .add(child::Column::UpdatedAtUs.lt(now_us - i64::from(days) * DAY_MICROS)),
        );
        any_rule = true;
    }
    if !any_rule {
        return Ok(0);
    }
    let mut erased = 0;
    loop {
        let batch = child::Entity::find()
            .filter(expired.clone())
            .order_by_asc(child::Column::Id)
            .limit(BATCH)
            .all(service.database())
            .await?;
        if batch.is_empty() {
            return Ok(erased);
        }
        for row in batch {
            let (rule, days) = if row.protection.is_some() {
                ("case_days", rules.case_days.unwrap_or_default())
            } else {
                ("learner_days", rules.learner_days.unwrap_or_default())
            };
            let entry = AuditEntry {
                actor: "system:retention".into(),
                roles: "system".into(),
                agency: String::new(),
                action: "erase",
                rpc: "retention",
                record_id: row.id.clone(),
                classes: crate::record::class_list(CHILD_CLASSES),
            };
            let reason = format!("retention rule {rule}: no change for {days} days");
            if service.store.erase(&row.id, reason, entry).await?.is_some() {
                erased += 1;
            }
        }
    }
}

/// Runs [`enforce_retention`] now and then every `check_interval_secs`, if any rule is set.
pub fn spawn_retention(
    service: IdentityService,
    rules: RetentionConfig,
) -> Option<tokio::task::JoinHandle<()>> {
    if rules.case_days.is_none() && rules.learner_days.is_none() {
        return None;
    }
    let interval = Duration::from_secs(rules.check_interval_secs.unwrap_or(3600).max(1));
    Some(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        loop {
            ticker.tick().await;
            match enforce_retention(&service, &rules, now_micros()).await {
                Ok(0) => {}
                Ok(count) => tracing::info!(count, "retention erased expired records"),
                Err(error) => tracing::warn!(%error, "retention run failed; will retry"),
            }
        }
    }))
}
