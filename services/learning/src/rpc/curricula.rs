//! Curricula RPCs: ImportFramework, GetFramework, ListFrameworks and AlignOutcomes.

use std::collections::{BTreeMap, HashMap, HashSet};

use haven_authz::Principal;
use haven_platform::ServiceError;
use haven_proto::learning::*;

use super::entry;
use crate::convert::{now_micros, timestamp};
use crate::curriculum::{self, outcome_key, outcome_ref};
use crate::service::LearningService;
use crate::store::FrameworkImport;
use crate::{paging, validate};

const MAX_ALIGNMENTS: usize = 500;

fn add_label(labels: &mut Vec<Label>, lang: &str, text: &str) {
    if !labels.iter().any(|l| l.lang == lang) {
        labels.push(Label {
            lang: lang.to_owned(),
            text: text.to_owned(),
        });
    }
}

fn titles_of(json: &str) -> Vec<Label> {
    serde_json::from_str::<BTreeMap<String, String>>(json)
        .unwrap_or_default()
        .into_iter()
        .map(|(lang, text)| Label { lang, text })
        .collect()
}

/// The longest code of a framework, subject, level or outcome a public alignment URL may name.
const MAX_CODE_CHARS: usize = 100;

impl LearningService {
    /// A level or an outcome of a framework, for the public alignment URL. Unknown codes answer
    /// NOT_FOUND; no caller is asked for.
    pub(crate) async fn alignment_target(
        &self,
        request: GetAlignmentTargetRequest,
    ) -> Result<AlignmentTarget, ServiceError> {
        let mut violations = haven_platform::Violations::default();
        for (field, value, required) in [
            ("framework", &request.framework, true),
            ("subject", &request.subject, true),
            ("level", &request.level, true),
            ("outcome", &request.outcome, false),
        ] {
            if required && value.trim().is_empty() {
                violations.add(field, "is required");
            }
            violations.text(field, value, MAX_CODE_CHARS);
        }
        violations.finish()?;
        let row = self
            .store
            .framework(&request.framework)
            .await?
            .ok_or(ServiceError::NotFound("alignment target"))?;
        let mut target = AlignmentTarget {
            framework: row.code.clone(),
            framework_titles: titles_of(&row.titles),
            subject: request.subject.clone(),
            level: request.level.clone(),
            outcome: request.outcome.clone(),
            ..AlignmentTarget::default()
        };
        let mut found = false;
        for l in self.store.labels_of(&row.code).await? {
            if l.subject_code != request.subject || l.level_code != request.level {
                continue;
            }
            if !request.outcome.is_empty() && l.outcome_code != request.outcome {
                continue;
            }
            found = true;
            add_label(&mut target.subject_labels, &l.lang, &l.subject_label);
            add_label(&mut target.level_labels, &l.lang, &l.level_label);
            if !request.outcome.is_empty() {
                add_label(&mut target.outcome_labels, &l.lang, &l.outcome_label);
            }
        }
        if !found {
            return Err(ServiceError::NotFound("alignment target"));
        }
        Ok(target)
    }

    pub(crate) async fn import_framework(
        &self,
        principal: &Principal,
        request: ImportFrameworkRequest,
    ) -> Result<ImportFrameworkResponse, ServiceError> {
        let mut v = validate::Violations::default();
        if !curriculum::is_code(&request.framework_code) {
            v.add(
                "framework_code",
                "must be a code of letters, digits, '.', '-' or '_'",
            );
        }
        for (i, title) in request.titles.iter().enumerate() {
            if !curriculum::is_language_tag(&title.lang) {
                v.add(format!("titles[{i}].lang"), "must be a language tag");
            }
            validate::text(&mut v, &format!("titles[{i}].text"), &title.text, 200);
        }
        if request.csv.len() > 8 * 1024 * 1024 {
            v.add("csv", "must be at most 8 MiB");
        }
        v.finish()?;
        let (rows, errors) = curriculum::parse(&request.csv);
        let mut response = ImportFrameworkResponse {
            imported: false,
            rows: (rows.len() + errors.len()) as u32,
            outcomes_added: 0,
            labels_written: 0,
            errors: errors
                .into_iter()
                .map(|e| CsvRowError {
                    line: e.line,
                    column: e.column,
                    description: e.description,
                })
                .collect(),
        };
        let existing = self.store.framework(&request.framework_code).await?;
        if existing
            .as_ref()
            .is_some_and(|f| f.organisation != principal.agency)
        {
            return Err(ServiceError::PermissionDenied(
                "only the organisation that imported a framework may change it".into(),
            ));
        }
        if existing.is_none() && request.titles.is_empty() {
            return Err(ServiceError::invalid(
                "titles",
                "a new framework needs at least one title",
            ));
        }
        let known = self
            .store
            .framework_outcomes(&request.framework_code)
            .await?;
        let new_outcomes: HashSet<(&str, &str, &str)> = rows
            .iter()
            .map(|r| {
                (
                    r.subject_code.as_str(),
                    r.level_code.as_str(),
                    r.outcome_code.as_str(),
                )
            })
            .filter(|(s, l, o)| {
                !known.contains(&((*s).to_owned(), (*l).to_owned(), (*o).to_owned()))
            })
            .collect();
        response.outcomes_added = new_outcomes.len() as u32;
        response.labels_written = rows.len() as u32;
        if !response.errors.is_empty() || request.dry_run {
            return Ok(response);
        }
        let titles: BTreeMap<String, String> = request
            .titles
            .iter()
            .map(|t| (t.lang.clone(), t.text.clone()))
            .collect();
        self.store
            .import_framework(
                entry(
                    principal,
                    "import",
                    rpc!("ImportFramework"),
                    &request.framework_code,
                ),
                FrameworkImport {
                    code: &request.framework_code,
                    existing,
                    titles,
                    organisation: &principal.agency,
                    rows: &rows,
                    now: now_micros(),
                },
            )
            .await?;
        response.imported = true;
        Ok(response)
    }

    pub(crate) async fn get_framework(
        &self,
        principal: &Principal,
        request: GetFrameworkRequest,
    ) -> Result<Framework, ServiceError> {
        self.may_read_curricula(principal)?;
        let row = self
            .store
            .framework(&request.code)
            .await?
            .ok_or(ServiceError::NotFound("framework"))?;
        let labels = self.store.labels_of(&row.code).await?;
        let prefix = format!("{}/", row.code);
        let aligned = self.store.alignments_from_prefix(&prefix).await?;
        let mut alignments: HashMap<String, Vec<OutcomeRef>> = HashMap::new();
        for a in aligned {
            if let Some(to) = outcome_ref(&a.to_outcome) {
                alignments.entry(a.from_outcome).or_default().push(to);
            }
        }
        let mut subjects: Vec<Subject> = Vec::new();
        for l in labels {
            if subjects.last().is_none_or(|s| s.code != l.subject_code) {
                subjects.push(Subject {
                    code: l.subject_code.clone(),
                    ..Default::default()
                });
            }
            let subject = subjects
                .last_mut()
                .ok_or(ServiceError::Internal("subject".into()))?;
            add_label(&mut subject.labels, &l.lang, &l.subject_label);
            if subject
                .levels
                .last()
                .is_none_or(|lv| lv.code != l.level_code)
            {
                subject.levels.push(Level {
                    code: l.level_code.clone(),
                    ..Default::default()
                });
            }
            let level = subject
                .levels
                .last_mut()
                .ok_or(ServiceError::Internal("level".into()))?;
            add_label(&mut level.labels, &l.lang, &l.level_label);
            if level
                .outcomes
                .last()
                .is_none_or(|o| o.code != l.outcome_code)
            {
                let key = outcome_key(&row.code, &l.subject_code, &l.level_code, &l.outcome_code);
                level.outcomes.push(Outcome {
                    code: l.outcome_code.clone(),
                    labels: Vec::new(),
                    aligned_with: alignments.remove(&key).unwrap_or_default(),
                });
            }
            let outcome = level
                .outcomes
                .last_mut()
                .ok_or(ServiceError::Internal("outcome".into()))?;
            add_label(&mut outcome.labels, &l.lang, &l.outcome_label);
        }
        Ok(Framework {
            code: row.code,
            titles: titles_of(&row.titles),
            organisation: row.organisation,
            subjects,
            created_at: Some(timestamp(row.created_at_us)),
            updated_at: Some(timestamp(row.updated_at_us)),
        })
    }

    pub(crate) async fn list_frameworks(
        &self,
        principal: &Principal,
        request: ListFrameworksRequest,
    ) -> Result<ListFrameworksResponse, ServiceError> {
        self.may_read_curricula(principal)?;
        let page = request.page.unwrap_or_default();
        let size = paging::page_size(&page)?;
        let after = paging::decode_cursor(&page.page_token)?;
        let mut rows = self
            .store
            .frameworks_page(after, u64::from(size) + 1)
            .await?;
        let next_page_token = paging::finish_page(&mut rows, size, |r| r.code.as_str());
        let mut frameworks = Vec::with_capacity(rows.len());
        for row in rows {
            let outcomes = self.store.outcome_count(&row.code).await?;
            frameworks.push(FrameworkSummary {
                titles: titles_of(&row.titles),
                code: row.code,
                organisation: row.organisation,
                outcomes: outcomes as u32,
            });
        }
        Ok(ListFrameworksResponse {
            frameworks,
            next_page_token,
        })
    }

    pub(crate) async fn align_outcomes(
        &self,
        principal: &Principal,
        request: AlignOutcomesRequest,
    ) -> Result<AlignOutcomesResponse, ServiceError> {
        if request.alignments.is_empty() || request.alignments.len() > MAX_ALIGNMENTS {
            return Err(ServiceError::invalid(
                "alignments",
                format!("must have 1 to {MAX_ALIGNMENTS} entries"),
            ));
        }
        let mut pairs = Vec::with_capacity(request.alignments.len());
        let mut v = validate::Violations::default();
        for (i, a) in request.alignments.iter().enumerate() {
            let mut keys = Vec::with_capacity(2);
            for (side, r) in [("from", &a.from), ("to", &a.to)] {
                let field = format!("alignments[{i}].{side}");
                match r {
                    Some(r)
                        if self
                            .store
                            .outcome_exists(
                                &r.framework_code,
                                &r.subject_code,
                                &r.level_code,
                                Some(&r.outcome_code),
                            )
                            .await? =>
                    {
                        keys.push(outcome_key(
                            &r.framework_code,
                            &r.subject_code,
                            &r.level_code,
                            &r.outcome_code,
                        ))
                    }
                    _ => v.add(field, "is not an outcome of a known framework"),
                }
            }
            if let [from, to] = keys.as_slice() {
                if from == to {
                    v.add(format!("alignments[{i}]"), "aligns an outcome with itself");
                }
                pairs.push((from.clone(), to.clone()));
            }
        }
        v.finish()?;
        let added = self
            .store
            .align(entry(principal, "align", rpc!("AlignOutcomes"), ""), pairs)
            .await?;
        Ok(AlignOutcomesResponse { added })
    }
}
