//! Curricula in the database: frameworks, their outcome labels and the alignments between outcomes, and
//! a cache of the outcomes known to exist per level (what RecordLearning checks every record against).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock};

use haven_platform::ServiceError;
use haven_platform::audit::{self, AuditEntry};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};

use super::Store;
use crate::curriculum::{CurriculumRow, outcome_key};
use crate::entity::{alignment, framework, label};

/// Outcome codes seen to exist, per level (`framework/subject/level/`). Curriculum labels are only ever
/// added (ImportFramework upserts; nothing deletes them), so what was once seen still exists: a hit here
/// is as good as a query, and anything not seen yet is asked of the database.
#[derive(Debug, Default)]
pub(super) struct KnownOutcomes {
    levels: RwLock<HashMap<String, Arc<HashSet<String>>>>,
}

/// Levels remembered at most; past that, the cache starts over.
const MAX_KNOWN_LEVELS: usize = 4096;

impl KnownOutcomes {
    fn get(&self, level: &str) -> Option<Arc<HashSet<String>>> {
        self.levels
            .read()
            .ok()
            .and_then(|levels| levels.get(level).cloned())
    }

    fn remember(&self, level: String, outcomes: Arc<HashSet<String>>) {
        if let Ok(mut levels) = self.levels.write() {
            if levels.len() >= MAX_KNOWN_LEVELS {
                levels.clear();
            }
            levels.insert(level, outcomes);
        }
    }
}

/// A framework import as the handler decided it: the framework as it stood, the titles to merge in, and
/// the validated label rows.
#[derive(Debug)]
pub(crate) struct FrameworkImport<'a> {
    pub(crate) code: &'a str,
    pub(crate) existing: Option<framework::Model>,
    pub(crate) titles: BTreeMap<String, String>,
    pub(crate) organisation: &'a str,
    pub(crate) rows: &'a [CurriculumRow],
    pub(crate) now: i64,
}

impl Store {
    pub(crate) async fn framework(
        &self,
        code: &str,
    ) -> Result<Option<framework::Model>, ServiceError> {
        Ok(framework::Entity::find_by_id(code.to_owned())
            .one(&self.db)
            .await?)
    }

    /// Every (subject, level, outcome) the framework has a label for.
    pub(crate) async fn framework_outcomes(
        &self,
        code: &str,
    ) -> Result<HashSet<(String, String, String)>, ServiceError> {
        Ok(label::Entity::find()
            .filter(label::Column::FrameworkCode.eq(code))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|l| (l.subject_code, l.level_code, l.outcome_code))
            .collect())
    }

    /// Creates the framework or merges the titles into it, and upserts its labels, with the audit entry.
    pub(crate) async fn import_framework(
        &self,
        entry: AuditEntry,
        import: FrameworkImport<'_>,
    ) -> Result<(), ServiceError> {
        let FrameworkImport {
            code,
            existing,
            titles,
            organisation,
            rows,
            now,
        } = import;
        let txn = self.db.begin().await?;
        audit::append(&txn, &[entry]).await?;
        match existing {
            None => {
                framework::Entity::insert(framework::ActiveModel {
                    code: Set(code.to_owned()),
                    titles: Set(serde_json::to_string(&titles).unwrap_or_default()),
                    organisation: Set(organisation.to_owned()),
                    created_at_us: Set(now),
                    updated_at_us: Set(now),
                })
                .exec_without_returning(&txn)
                .await?;
            }
            Some(row) => {
                let mut merged: BTreeMap<String, String> =
                    serde_json::from_str(&row.titles).unwrap_or_default();
                merged.extend(titles);
                framework::Entity::update_many()
                    .col_expr(
                        framework::Column::Titles,
                        Expr::value(serde_json::to_string(&merged).unwrap_or_default()),
                    )
                    .col_expr(framework::Column::UpdatedAtUs, Expr::value(now))
                    .filter(framework::Column::Code.eq(code))
                    .exec(&txn)
                    .await?;
            }
        }
        for chunk in rows.chunks(500) {
            let models = chunk.iter().map(|r| label::ActiveModel {
                framework_code: Set(code.to_owned()),
                subject_code: Set(r.subject_code.clone()),
                level_code: Set(r.level_code.clone()),
                outcome_code: Set(r.outcome_code.clone()),
                lang: Set(r.lang.clone()),
                subject_label: Set(r.subject_label.clone()),
                level_label: Set(r.level_label.clone()),
                outcome_label: Set(r.outcome_label.clone()),
            });
            label::Entity::insert_many(models)
                .on_conflict(
                    OnConflict::columns([
                        label::Column::FrameworkCode,
                        label::Column::SubjectCode,
                        label::Column::LevelCode,
                        label::Column::OutcomeCode,
                        label::Column::Lang,
                    ])
                    .update_columns([
                        label::Column::SubjectLabel,
                        label::Column::LevelLabel,
                        label::Column::OutcomeLabel,
                    ])
                    .to_owned(),
                )
                .exec_without_returning(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// The framework's labels in curriculum order: subject, level, outcome, language.
    pub(crate) async fn labels_of(&self, code: &str) -> Result<Vec<label::Model>, ServiceError> {
        Ok(label::Entity::find()
            .filter(label::Column::FrameworkCode.eq(code))
            .order_by_asc(label::Column::SubjectCode)
            .order_by_asc(label::Column::LevelCode)
            .order_by_asc(label::Column::OutcomeCode)
            .order_by_asc(label::Column::Lang)
            .all(&self.db)
            .await?)
    }

    /// The alignments from outcomes whose key starts with `prefix` (`framework/` for a framework's).
    pub(crate) async fn alignments_from_prefix(
        &self,
        prefix: &str,
    ) -> Result<Vec<alignment::Model>, ServiceError> {
        Ok(alignment::Entity::find()
            .filter(alignment::Column::FromOutcome.starts_with(prefix))
            .all(&self.db)
            .await?)
    }

    /// The alignments from one outcome (by `framework/subject/level/outcome` key).
    pub(crate) async fn alignments_from(
        &self,
        outcome: &str,
    ) -> Result<Vec<alignment::Model>, ServiceError> {
        Ok(alignment::Entity::find()
            .filter(alignment::Column::FromOutcome.eq(outcome))
            .all(&self.db)
            .await?)
    }

    /// Up to `limit` frameworks by code, after `after`.
    pub(crate) async fn frameworks_page(
        &self,
        after: Option<String>,
        limit: u64,
    ) -> Result<Vec<framework::Model>, ServiceError> {
        let mut query = framework::Entity::find().order_by_asc(framework::Column::Code);
        if let Some(after) = after {
            query = query.filter(framework::Column::Code.gt(after));
        }
        Ok(query.limit(limit).all(&self.db).await?)
    }

    /// How many distinct outcomes the framework has.
    pub(crate) async fn outcome_count(&self, code: &str) -> Result<usize, ServiceError> {
        Ok(label::Entity::find()
            .select_only()
            .column(label::Column::SubjectCode)
            .column(label::Column::LevelCode)
            .column(label::Column::OutcomeCode)
            .distinct()
            .filter(label::Column::FrameworkCode.eq(code))
            .into_tuple::<(String, String, String)>()
            .all(&self.db)
            .await?
            .len())
    }

    /// Whether the level (or, given one, the outcome of that level) has a label.
    pub(crate) async fn outcome_exists(
        &self,
        framework: &str,
        subject: &str,
        level: &str,
        outcome: Option<&str>,
    ) -> Result<bool, ServiceError> {
        let mut query = label::Entity::find()
            .filter(label::Column::FrameworkCode.eq(framework))
            .filter(label::Column::SubjectCode.eq(subject))
            .filter(label::Column::LevelCode.eq(level));
        if let Some(outcome) = outcome {
            query = query.filter(label::Column::OutcomeCode.eq(outcome));
        }
        Ok(query.one(&self.db).await?.is_some())
    }

    /// Stores each pair both ways, skipping those already there, with the audit entry. Returns how many
    /// pairs were new in the direction asked.
    pub(crate) async fn align(
        &self,
        entry: AuditEntry,
        pairs: Vec<(String, String)>,
    ) -> Result<u32, ServiceError> {
        let txn = self.db.begin().await?;
        audit::append(&txn, &[entry]).await?;
        let mut added = 0;
        for (from, to) in pairs {
            for (a, b) in [(&from, &to), (&to, &from)] {
                let exists = alignment::Entity::find_by_id((a.clone(), b.clone()))
                    .one(&txn)
                    .await?
                    .is_some();
                if exists {
                    continue;
                }
                alignment::Entity::insert(alignment::ActiveModel {
                    from_outcome: Set(a.clone()),
                    to_outcome: Set(b.clone()),
                })
                .exec_without_returning(&txn)
                .await?;
                if a == &from {
                    added += 1;
                }
            }
        }
        txn.commit().await?;
        Ok(added)
    }

    /// Every outcome code of a level; none means the level is unknown.
    pub(crate) async fn outcomes_of_level(
        &self,
        framework: &str,
        subject: &str,
        level: &str,
    ) -> Result<HashSet<String>, ServiceError> {
        // One query for the whole level.
        Ok(label::Entity::find()
            .select_only()
            .column(label::Column::OutcomeCode)
            .distinct()
            .filter(label::Column::FrameworkCode.eq(framework))
            .filter(label::Column::SubjectCode.eq(subject))
            .filter(label::Column::LevelCode.eq(level))
            .into_tuple::<String>()
            .all(&self.db)
            .await?
            .into_iter()
            .collect())
    }

    /// The level's outcome codes from the cache when it holds every one of `wanted`, else from the
    /// database (remembered unless empty: an unknown level may yet be imported).
    pub(crate) async fn known_outcomes(
        &self,
        framework: &str,
        subject: &str,
        level: &str,
        wanted: &[String],
    ) -> Result<Arc<HashSet<String>>, ServiceError> {
        let key = outcome_key(framework, subject, level, "");
        if let Some(known) = self.known_outcomes.get(&key)
            && wanted.iter().all(|c| known.contains(c))
        {
            return Ok(known);
        }
        let known = Arc::new(self.outcomes_of_level(framework, subject, level).await?);
        if !known.is_empty() {
            self.known_outcomes.remember(key, Arc::clone(&known));
        }
        Ok(known)
    }

    /// The labels of the given frameworks, all languages.
    pub(crate) async fn labels_of_frameworks(
        &self,
        frameworks: &HashSet<String>,
    ) -> Result<Vec<label::Model>, ServiceError> {
        Ok(label::Entity::find()
            .filter(label::Column::FrameworkCode.is_in(frameworks.iter().map(String::as_str)))
            .all(&self.db)
            .await?)
    }
}
