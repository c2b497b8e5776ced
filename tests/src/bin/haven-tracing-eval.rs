//! haven-tracing-eval: matching quality and latency measured through the public API, on an embedded
//! suite (SQLite, in-process bus) started by this program. Children are registered with RegisterChild,
//! requests filed with CreateTracingRequest and candidates read with FindMatches, all through the
//! gateway, exactly as a client would.
//!
//!   haven-tracing-eval synthetic [households] [seed]
//!       The seeded multi-script population of haven-population: recall@1/@10, precision, recall and F1
//!       of `likely`, the false-`likely` rate on requests with no true match, dedup pairwise F1 (from
//!       RegisterChild's possible duplicates), and FindMatches latency through the gateway.
//!   haven-tracing-eval febrl DIR
//!       FEBRL4 (link A to B) and FEBRL3 (dedup) from CSVs written by tests/eval/febrl_export.py, names
//!       and date of birth only.
//!
//!   haven-tracing-eval scale CHILDREN [REQUESTS]
//!       FindMatches latency through the gateway over a large index: writes CHILDREN synthetic profiles
//!       straight into a fresh family tracing database (registering a million children one call at a
//!       time would take hours), starts the suite, which rebuilds its index from them, then times
//!       FindMatches for REQUESTS synthetic requests (default 300).
//!
//! HAVEN_EVAL_POSSIBLE sets the deployment's `possible` threshold (default 0.2). FindMatches hides
//! candidates below it, so recall@10 measures what an officer is shown; with 0 it measures the ranking.
//!
//! HAVEN_EVAL_RECORDED (a share in [0, 1], default 0) sends that share of registrations and sought
//! children through the fields officers record (issue 16): a name chain split into father's,
//! grandfather's and family name, an East Slavic patronymic apart, a nickname given as the given name
//! sent as `nickname` with the full name as given name, and an age the inquirer gave for the day of the
//! separation sent as `age_at_separation`. With 0 every call is what an older client sends.
//! The synthetic report breaks tracing figures down by community and by noise type.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use haven_cli::Suite;
use haven_platform::HavenConfig;
use haven_population as population;
use haven_proto::common::{AgeRange, PartialDate};
use haven_proto::family_tracing::family_tracing_client::FamilyTracingClient;
use haven_proto::family_tracing::{
    CreateTracingRequestRequest, FindMatchesRequest, Inquirer, MatchBand, Relation, Sex,
    SoughtChild, TracingRequest,
};
use haven_proto::identity::child_identity_client::ChildIdentityClient;
use haven_proto::identity::{
    Child, Consent, Identity, ProtectionCase, RegisterChildRequest, Sex as ChildSex,
    identity::Birth,
};
use haven_tests::authed;
use tonic::transport::Channel;

/// Concurrent calls in flight while loading.
const IN_FLIGHT: usize = 16;

struct Eval {
    suite: Suite,
    identity: ChildIdentityClient<Channel>,
    tracing: FamilyTracingClient<Channel>,
    caseworker: String,
    officer: String,
}

impl Eval {
    async fn start() -> anyhow::Result<Eval> {
        let data_dir = std::env::temp_dir().join(format!("haven-eval-{}", uuid::Uuid::now_v7()));
        Self::start_in(data_dir).await
    }

    async fn start_in(data_dir: std::path::PathBuf) -> anyhow::Result<Eval> {
        let mut config = HavenConfig {
            data_dir,
            ..HavenConfig::default()
        };
        config.gateway.listen = "127.0.0.1:0".parse()?;
        config.gateway.rate_limit_per_second = 1_000_000;
        config.gateway.rate_limit_burst = 1_000_000;
        if let Some(possible) = std::env::var("HAVEN_EVAL_POSSIBLE")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            config.family_tracing.possible_threshold = possible;
        }
        let suite = Suite::start(config).await?;
        let channel = Channel::from_shared(format!("http://{}", suite.gateway_addr))?
            .connect()
            .await?;
        let key = suite
            .dev_key
            .clone()
            .ok_or_else(|| anyhow::anyhow!("no dev key"))?;
        let token = |role: &str, sub: &str, agency: &str| -> anyhow::Result<String> {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_secs();
            Ok(key.sign(&haven_authz::Claims {
                iss: "haven-dev".into(),
                aud: "haven".into(),
                sub: sub.into(),
                exp: now + 24 * 3600,
                iat: now,
                nbf: None,
                jti: uuid::Uuid::now_v7().to_string(),
                roles: vec![role.into()],
                agency: agency.into(),
                team: None,
                locations: vec![],
            })?)
        };
        Ok(Eval {
            identity: ChildIdentityClient::new(channel.clone()),
            tracing: FamilyTracingClient::new(channel),
            // One registering caseworker, so that the duplicate check sees the whole registry; the
            // officer works for another agency, so candidates are seen as across agencies.
            caseworker: token("caseworker", "eval-cw", "agency-registry")?,
            officer: token("reunification_officer", "eval-ro", "agency-tracing")?,
            suite,
        })
    }

    /// Registers children (in order, `IN_FLIGHT` at a time); returns their ids and, for each, the ids
    /// named as possible duplicates with their scores.
    async fn register(
        &self,
        children: Vec<Child>,
    ) -> anyhow::Result<(Vec<String>, Vec<Vec<(String, f64)>>)> {
        let started = Instant::now();
        let total = children.len();
        let mut ids = Vec::with_capacity(total);
        let mut duplicates = Vec::with_capacity(total);
        let mut children = children.into_iter();
        loop {
            let batch: Vec<Child> = children.by_ref().take(IN_FLIGHT).collect();
            if batch.is_empty() {
                break;
            }
            let mut set = tokio::task::JoinSet::new();
            for (i, child) in batch.into_iter().enumerate() {
                let mut client = self.identity.clone();
                let token = self.caseworker.clone();
                set.spawn(async move {
                    let view = client
                        .register_child(authed(
                            &token,
                            RegisterChildRequest {
                                request_id: uuid::Uuid::now_v7().to_string(),
                                child: Some(child),
                            },
                        ))
                        .await
                        .map(|r| r.into_inner());
                    (i, view)
                });
            }
            let mut results: Vec<_> = set.join_all().await;
            results.sort_by_key(|(i, _)| *i);
            for (_, view) in results {
                let view = view?;
                ids.push(
                    view.child
                        .as_ref()
                        .and_then(|c| c.meta.as_ref())
                        .map(|m| m.id.clone())
                        .unwrap_or_default(),
                );
                duplicates.push(
                    view.possible_duplicates
                        .iter()
                        .map(|d| (d.child_id.clone(), d.score))
                        .collect(),
                );
            }
        }
        let took = started.elapsed().as_secs_f64();
        println!(
            "registered {total} children in {took:.1} s ({:.0}/s)",
            total as f64 / took
        );
        Ok((ids, duplicates))
    }

    async fn file(&self, request: CreateTracingRequestRequest) -> anyhow::Result<TracingRequest> {
        Ok(self
            .tracing
            .clone()
            .create_tracing_request(authed(&self.officer, request))
            .await?
            .into_inner())
    }

    /// Waits until the child registered last is a candidate for a request naming it exactly: events
    /// arrive in order, so every earlier registration is then indexed too.
    async fn wait_until_indexed(&self, last: &Child, last_id: &str) -> anyhow::Result<()> {
        let identity = last.identity.clone().unwrap_or_default();
        let request = self
            .file(CreateTracingRequestRequest {
                request_id: uuid::Uuid::now_v7().to_string(),
                inquirer: Some(Inquirer {
                    given_name: "Eval".into(),
                    family_name: "Sentinel".into(),
                    relation: Relation::Other as i32,
                    ..Inquirer::default()
                }),
                sought_children: vec![SoughtChild {
                    given_name: identity.given_name,
                    family_name: identity.family_name,
                    ..SoughtChild::default()
                }],
            })
            .await?;
        let started = Instant::now();
        loop {
            let (found, _) = self.find(&request, 0, 50).await?;
            if found.iter().any(|(id, _, _)| id == last_id) {
                println!(
                    "projection caught up {:.1} s after the last registration",
                    started.elapsed().as_secs_f64()
                );
                return Ok(());
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(600),
                "the projection did not catch up"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Candidates (id, score, likely?) for one sought child, and the call's latency.
    async fn find(
        &self,
        request: &TracingRequest,
        index: usize,
        limit: u32,
    ) -> anyhow::Result<(Vec<(String, f64, bool)>, Duration)> {
        let started = Instant::now();
        let response = self
            .tracing
            .clone()
            .find_matches(authed(
                &self.officer,
                FindMatchesRequest {
                    tracing_request_id: request.id.clone(),
                    sought_child_id: request.sought_children[index].id.clone(),
                    limit,
                },
            ))
            .await?
            .into_inner();
        let took = started.elapsed();
        Ok((
            response
                .candidates
                .into_iter()
                .map(|c| {
                    let assessment = c.assessment.unwrap_or_default();
                    (
                        c.child_id,
                        assessment.score,
                        assessment.band == MatchBand::Likely as i32,
                    )
                })
                .collect(),
            took,
        ))
    }
}

/// Counts for recall@k and the `likely` band over sought children.
#[derive(Default)]
struct LinkCounts {
    with_truth: usize,
    hit_at_1: usize,
    hit_at_10: usize,
    true_pairs: usize,
    likely_pairs: usize,
    likely_correct: usize,
    without_truth: usize,
    false_likely: usize,
    latencies: Vec<Duration>,
}

impl LinkCounts {
    fn add(&mut self, truth: &HashSet<String>, found: &[(String, f64, bool)], took: Duration) {
        self.latencies.push(took);
        let likely: Vec<&String> = found.iter().filter(|c| c.2).map(|c| &c.0).collect();
        self.likely_pairs += likely.len();
        self.likely_correct += likely.iter().filter(|id| truth.contains(**id)).count();
        self.true_pairs += truth.len();
        if truth.is_empty() {
            self.without_truth += 1;
            if !likely.is_empty() {
                self.false_likely += 1;
            }
            return;
        }
        self.with_truth += 1;
        if found.first().is_some_and(|c| truth.contains(&c.0)) {
            self.hit_at_1 += 1;
        }
        if found.iter().take(10).any(|c| truth.contains(&c.0)) {
            self.hit_at_10 += 1;
        }
    }

    /// One line of a slice: its size, recall@1, recall@10, likely recall and false likely.
    fn report_line(&self, name: &str) {
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        println!(
            "{name:<32} with match {:>5}: r@1 {:.3} r@10 {:.3} likely recall {:.3} precision {:.3} | without {:>5}: false likely {:.2} %",
            self.with_truth,
            ratio(self.hit_at_1, self.with_truth),
            ratio(self.hit_at_10, self.with_truth),
            ratio(self.likely_correct, self.true_pairs),
            ratio(self.likely_correct, self.likely_pairs),
            self.without_truth,
            100.0 * ratio(self.false_likely, self.without_truth),
        );
    }

    fn report(&mut self, name: &str) {
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let precision = ratio(self.likely_correct, self.likely_pairs);
        let recall = ratio(self.likely_correct, self.true_pairs);
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        println!("== {name}");
        println!(
            "sought children with a true match {}: recall@1 {:.3}, recall@10 {:.3}",
            self.with_truth,
            ratio(self.hit_at_1, self.with_truth),
            ratio(self.hit_at_10, self.with_truth)
        );
        println!(
            "likely: precision {precision:.3}, recall {recall:.3}, F1 {f1:.3} ({} proposed, {} true pairs)",
            self.likely_pairs, self.true_pairs
        );
        if self.without_truth > 0 {
            println!(
                "false likely on sought children with no true match: {:.2} % ({}/{})",
                100.0 * ratio(self.false_likely, self.without_truth),
                self.false_likely,
                self.without_truth
            );
        }
        self.latencies.sort();
        if !self.latencies.is_empty() {
            let at = |q: f64| {
                self.latencies[((self.latencies.len() - 1) as f64 * q) as usize].as_secs_f64()
                    * 1000.0
            };
            println!(
                "FindMatches through the gateway: median {:.2} ms, p95 {:.2} ms, max {:.2} ms ({} calls)",
                at(0.5),
                at(0.95),
                at(1.0),
                self.latencies.len()
            );
        }
    }
}

/// Pairwise precision, recall and F1 of flagged duplicates against the true pairs.
fn dedup_report(name: &str, flagged: &HashSet<(usize, usize)>, truth: &HashSet<(usize, usize)>) {
    let correct = flagged.intersection(truth).count();
    let precision = if flagged.is_empty() {
        0.0
    } else {
        correct as f64 / flagged.len() as f64
    };
    let recall = if truth.is_empty() {
        0.0
    } else {
        correct as f64 / truth.len() as f64
    };
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    println!(
        "== {name} dedup: pairwise precision {precision:.3}, recall {recall:.3}, F1 {f1:.3} ({} flagged, {} true)",
        flagged.len(),
        truth.len()
    );
}

fn micros(day: population::Day) -> prost_types::Timestamp {
    let date = chrono::NaiveDate::from_ymd_opt(day.year, u32::from(day.month), u32::from(day.day))
        .unwrap_or_default();
    prost_types::Timestamp {
        seconds: date
            .and_hms_opt(12, 0, 0)
            .unwrap_or_default()
            .and_utc()
            .timestamp(),
        nanos: 0,
    }
}

fn partial(day: &population::PartialDay) -> PartialDate {
    PartialDate {
        year: day.year,
        month: day.month.map(i32::from),
        day: day.day.map(i32::from),
        estimated: day.estimated,
    }
}

fn with_consent(identity: Identity, consent_for_tracing: bool) -> Child {
    Child {
        identity: Some(identity),
        whereabouts: None,
        protection: Some(ProtectionCase {
            consent: Some(Consent {
                consent_for_services: true,
                disclosure_to_other_orgs: consent_for_tracing,
                consent_for_tracing,
            }),
            ..ProtectionCase::default()
        }),
        meta: None,
    }
}

/// Whether record `i` goes through the recorded fields: a deterministic share of records.
fn recorded(i: usize) -> bool {
    let share: f64 = std::env::var("HAVEN_EVAL_RECORDED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    // A multiplicative hash spreads the share over cultures and noise.
    let spread = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
    (spread as f64 / f64::from(1u32 << 24)) < share
}

const PATRONYMIC_ENDINGS: &[&str] = &[
    "ovych", "evych", "ovich", "evich", "ivna", "ovna", "evna", "yivna", "owycz", "owna", "ich",
];

/// A chain as an officer would write it field by field: (father, grandfather, family, patronymic),
/// or `None` when the family field holds no chain to split.
fn split_chain(
    culture: population::Culture,
    family: &str,
) -> Option<(String, String, String, String)> {
    let tokens: Vec<&str> = family.split_whitespace().collect();
    match culture {
        population::Culture::UkrainianRussian => {
            let (patronymic, rest): (Vec<&str>, Vec<&str>) = tokens.iter().partition(|t| {
                let lower = t.to_lowercase();
                lower.chars().count() >= 7 && PATRONYMIC_ENDINGS.iter().any(|e| lower.ends_with(e))
            });
            (!patronymic.is_empty()).then(|| {
                (
                    String::new(),
                    String::new(),
                    rest.join(" "),
                    patronymic.join(" "),
                )
            })
        }
        population::Culture::Arabic
        | population::Culture::Tigrinya
        | population::Culture::Somali
            if tokens.len() >= 2 =>
        {
            Some((
                tokens[0].to_owned(),
                tokens[1].to_owned(),
                tokens[2..].join(" "),
                String::new(),
            ))
        }
        _ => None,
    }
}

fn registered_as_recorded(i: usize, child: &population::RegisteredChild) -> Child {
    let mut sent = registered(child);
    if !recorded(i) {
        return sent;
    }
    if let (Some(identity), Some((father, grandfather, family, patronymic))) = (
        sent.identity.as_mut(),
        split_chain(child.culture, &child.family_name),
    ) {
        let father_agrees = identity.father_name.is_empty()
            || identity
                .father_name
                .split_whitespace()
                .next()
                .is_some_and(|f| f.eq_ignore_ascii_case(&father));
        if father_agrees {
            if identity.father_name.is_empty() {
                identity.father_name = father;
            }
            identity.grandfather_name = grandfather;
            identity.family_name = family;
            identity.patronymic = patronymic;
        }
    }
    sent
}

fn registered(child: &population::RegisteredChild) -> Child {
    let birth = match &child.birth {
        Some(population::Birth::Date(day)) => Some(Birth::DateOfBirth(partial(day))),
        Some(population::Birth::AgeEstimate {
            min_years,
            max_years,
            assessed_on,
        }) => Some(Birth::AgeEstimate(AgeRange {
            min_years: *min_years,
            max_years: *max_years,
            assessed_at: Some(micros(*assessed_on)),
        })),
        None => None,
    };
    with_consent(
        Identity {
            given_name: child.given_name.clone(),
            family_name: child.family_name.clone(),
            other_names: child.other_names.clone(),
            sex: match child.sex {
                population::Sex::Female => ChildSex::Female,
                population::Sex::Male => ChildSex::Male,
                population::Sex::Unknown => ChildSex::Unknown,
            } as i32,
            birth,
            father_name: child.father_name.clone().unwrap_or_default(),
            mother_name: child.mother_name.clone().unwrap_or_default(),
            ..Identity::default()
        },
        child.consent_for_tracing,
    )
}

/// The request as a recording client sends it, for the share HAVEN_EVAL_RECORDED picks (by the
/// request's position `r`).
fn tracing_request_as_recorded(
    r: usize,
    request: &population::TracingRequest,
    population: &population::Population,
) -> CreateTracingRequestRequest {
    let mut sent = tracing_request(request);
    if !recorded(r) {
        return sent;
    }
    for (child, described) in sent.sought_children.iter_mut().zip(&request.sought) {
        let culture = population.people[described.individual].culture;
        if let Some((father, grandfather, family, patronymic)) =
            split_chain(culture, &described.family_name)
        {
            child.father_name = father;
            child.grandfather_name = grandfather;
            child.family_name = family;
            child.patronymic = patronymic;
        }
        if described
            .noise
            .contains(&population::Noise::NicknameAsGiven)
            && let Some(full) = described.other_names.first()
        {
            child.nickname = std::mem::replace(&mut child.given_name, full.clone());
            child.other_names.retain(|n| n != &child.given_name);
        }
        // The inquirer's form asks for the age when separated: an age given for that day goes there.
        if described
            .noise
            .contains(&population::Noise::AgeAtSeparation)
            && child.separated_on.is_some()
        {
            child.age_at_separation = child.age_estimate.take().map(|a| AgeRange {
                assessed_at: None,
                ..a
            });
        }
    }
    sent
}

fn tracing_request(request: &population::TracingRequest) -> CreateTracingRequestRequest {
    let relation = match request.inquirer.relation {
        population::Relation::Mother => Relation::Mother,
        population::Relation::Father => Relation::Father,
        population::Relation::Sibling => Relation::Sibling,
        population::Relation::Grandparent => Relation::Grandparent,
        population::Relation::Aunt | population::Relation::Uncle => Relation::AuntOrUncle,
        population::Relation::Other => Relation::Other,
    };
    CreateTracingRequestRequest {
        request_id: uuid::Uuid::now_v7().to_string(),
        inquirer: Some(Inquirer {
            given_name: request.inquirer.given_name.clone(),
            family_name: request.inquirer.family_name.clone(),
            relation: relation as i32,
            ..Inquirer::default()
        }),
        sought_children: request
            .sought
            .iter()
            .map(|s| SoughtChild {
                given_name: s.given_name.clone(),
                family_name: s.family_name.clone(),
                other_names: s.other_names.clone(),
                sex: match s.sex {
                    population::Sex::Female => Sex::Female,
                    population::Sex::Male => Sex::Male,
                    population::Sex::Unknown => Sex::Unknown,
                } as i32,
                age_estimate: s.age_estimate.map(|(min, max)| AgeRange {
                    min_years: min,
                    max_years: max,
                    assessed_at: Some(micros(request.filed_on)),
                }),
                date_of_birth: s.birth_date.as_ref().map(partial),
                separated_on: s.separated_on.as_ref().map(partial),
                ..SoughtChild::default()
            })
            .collect(),
    }
}

async fn synthetic(households: usize, seed: u64) -> anyhow::Result<()> {
    let today = chrono::Utc::now().date_naive();
    let config = population::Config {
        seed,
        households,
        today: population::Day {
            year: chrono::Datelike::year(&today),
            month: chrono::Datelike::month(&today) as u8,
            day: chrono::Datelike::day(&today) as u8,
        },
        ..population::Config::default()
    };
    let population = population::generate(&config);
    println!(
        "population seed {seed}: {households} households, {} registrations, {} requests",
        population.children.len(),
        population.requests.len()
    );
    let eval = Eval::start().await?;
    let children: Vec<Child> = population
        .children
        .iter()
        .enumerate()
        .map(|(i, c)| registered_as_recorded(i, c))
        .collect();
    let last = children.last().cloned();
    let (ids, duplicates) = eval.register(children).await?;
    if let (Some(last), Some(last_id)) = (last, ids.last()) {
        eval.wait_until_indexed(&last, last_id).await?;
    }
    let position: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();

    let mut counts = LinkCounts::default();
    let mut slices: std::collections::BTreeMap<String, LinkCounts> = Default::default();
    for (r, request) in population.requests.iter().enumerate() {
        let filed = eval
            .file(tracing_request_as_recorded(r, request, &population))
            .await?;
        for s in 0..request.sought.len() {
            let truth: HashSet<String> = population
                .true_matches_with_consent(r, s)
                .into_iter()
                .map(|i| ids[i].clone())
                .collect();
            let (found, took) = eval.find(&filed, s, 10).await?;
            counts.add(&truth, &found, took);
            let described = &request.sought[s];
            let culture = population.people[described.individual].culture;
            let mut keys = vec![format!("community {culture:?}")];
            keys.extend(
                described
                    .noise
                    .iter()
                    .map(|n| format!("noise {}", n.as_str())),
            );
            if described.noise.is_empty() {
                keys.push("noise none".into());
            }
            for key in keys {
                slices.entry(key).or_default().add(&truth, &found, took);
            }
        }
    }
    counts.report("synthetic tracing");
    println!(
        "== synthetic tracing by slice (sought with a match: recall@1, recall@10, likely recall; without: false likely)"
    );
    for (slice, counts) in &slices {
        counts.report_line(slice);
    }

    let thresholds = haven_matching::Thresholds::default();
    let flagged: HashSet<(usize, usize)> = duplicates
        .iter()
        .enumerate()
        .flat_map(|(later, named)| {
            named
                .iter()
                .filter(|(_, score)| *score >= thresholds.likely)
                .filter_map(|(id, _)| position.get(id.as_str()).copied())
                .map(move |earlier| (earlier.min(later), earlier.max(later)))
                .collect::<Vec<_>>()
        })
        .collect();
    let truth: HashSet<(usize, usize)> = population.duplicate_pairs().into_iter().collect();
    dedup_report("synthetic", &flagged, &truth);
    eval.suite.shutdown().await?;
    Ok(())
}

struct FebrlRecord {
    id: String,
    given: String,
    surname: String,
    dob: Option<PartialDate>,
}

fn read_febrl(path: &std::path::Path) -> anyhow::Result<Vec<FebrlRecord>> {
    let text = std::fs::read_to_string(path)?;
    let mut rows = Vec::new();
    for line in text.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        anyhow::ensure!(fields.len() >= 4, "{}: short line", path.display());
        let dob = fields[3].trim();
        let date = (dob.len() == 8)
            .then(|| {
                let year: i32 = dob[..4].parse().ok()?;
                let month: i32 = dob[4..6].parse().ok()?;
                let day: i32 = dob[6..8].parse().ok()?;
                let month = (1..=12).contains(&month).then_some(month);
                Some(PartialDate {
                    year,
                    month,
                    // A day means nothing without its month.
                    day: month.and((1..=31).contains(&day).then_some(day)),
                    estimated: false,
                })
            })
            .flatten()
            .filter(|d| (1900..=2100).contains(&d.year));
        rows.push(FebrlRecord {
            id: fields[0].trim().to_owned(),
            given: fields[1].trim().to_owned(),
            surname: fields[2].trim().to_owned(),
            dob: date,
        });
    }
    Ok(rows)
}

fn read_links(path: &std::path::Path) -> anyhow::Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .skip(1)
        .filter_map(|l| {
            let (a, b) = l.split_once(',')?;
            Some((a.trim().to_owned(), b.trim().to_owned()))
        })
        .collect())
}

fn febrl_child(record: &FebrlRecord) -> Child {
    with_consent(
        Identity {
            given_name: if record.given.is_empty() && record.surname.is_empty() {
                "unknown".into()
            } else {
                record.given.clone()
            },
            family_name: record.surname.clone(),
            birth: record.dob.map(Birth::DateOfBirth),
            ..Identity::default()
        },
        true,
    )
}

async fn febrl(dir: &std::path::Path) -> anyhow::Result<()> {
    // FEBRL4: register A, seek each B record, score against the true A record.
    let a = read_febrl(&dir.join("febrl4_a.csv"))?;
    let b = read_febrl(&dir.join("febrl4_b.csv"))?;
    let links = read_links(&dir.join("febrl4_links.csv"))?;
    let eval = Eval::start().await?;
    let children: Vec<Child> = a.iter().map(febrl_child).collect();
    let last = children.last().cloned();
    let (ids, _) = eval.register(children).await?;
    if let (Some(last), Some(last_id)) = (last, ids.last()) {
        eval.wait_until_indexed(&last, last_id).await?;
    }
    let id_of_a: HashMap<&str, &str> = a
        .iter()
        .zip(&ids)
        .map(|(r, id)| (r.id.as_str(), id.as_str()))
        .collect();
    let mut truth_of_b: HashMap<&str, HashSet<String>> = HashMap::new();
    for (a_id, b_id) in &links {
        if let Some(id) = id_of_a.get(a_id.as_str()) {
            truth_of_b
                .entry(b_id.as_str())
                .or_default()
                .insert((*id).to_owned());
        }
    }
    let mut counts = LinkCounts::default();
    let requests: Vec<&FebrlRecord> = b.iter().collect();
    for chunk in requests.chunks(IN_FLIGHT) {
        let mut set = tokio::task::JoinSet::new();
        for record in chunk {
            let request = CreateTracingRequestRequest {
                request_id: uuid::Uuid::now_v7().to_string(),
                inquirer: Some(Inquirer {
                    given_name: "FEBRL".into(),
                    relation: Relation::Other as i32,
                    ..Inquirer::default()
                }),
                sought_children: vec![SoughtChild {
                    given_name: if record.given.is_empty() && record.surname.is_empty() {
                        "unknown".into()
                    } else {
                        record.given.clone()
                    },
                    family_name: record.surname.clone(),
                    date_of_birth: record.dob,
                    ..SoughtChild::default()
                }],
            };
            let truth = truth_of_b
                .get(record.id.as_str())
                .cloned()
                .unwrap_or_default();
            let eval_tracing = eval.tracing.clone();
            let officer = eval.officer.clone();
            set.spawn(async move {
                let filed = eval_tracing
                    .clone()
                    .create_tracing_request(authed(&officer, request))
                    .await?
                    .into_inner();
                let started = Instant::now();
                let response = eval_tracing
                    .clone()
                    .find_matches(authed(
                        &officer,
                        FindMatchesRequest {
                            tracing_request_id: filed.id.clone(),
                            sought_child_id: filed.sought_children[0].id.clone(),
                            limit: 10,
                        },
                    ))
                    .await?
                    .into_inner();
                let took = started.elapsed();
                let found: Vec<(String, f64, bool)> = response
                    .candidates
                    .into_iter()
                    .map(|c| {
                        let assessment = c.assessment.unwrap_or_default();
                        (
                            c.child_id,
                            assessment.score,
                            assessment.band == MatchBand::Likely as i32,
                        )
                    })
                    .collect();
                anyhow::Ok((truth, found, took))
            });
        }
        for result in set.join_all().await {
            let (truth, found, took) = result?;
            counts.add(&truth, &found, took);
        }
    }
    counts.report("FEBRL4 (names + date of birth)");
    eval.suite.shutdown().await?;

    // FEBRL3: register every record; RegisterChild names earlier duplicates.
    let records = read_febrl(&dir.join("febrl3.csv"))?;
    let links = read_links(&dir.join("febrl3_links.csv"))?;
    let eval = Eval::start().await?;
    let (ids, duplicates) = eval
        .register(records.iter().map(febrl_child).collect())
        .await?;
    let position: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let index_of: HashMap<&str, usize> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), i))
        .collect();
    let likely = haven_matching::Thresholds::default().likely;
    let flagged: HashSet<(usize, usize)> = duplicates
        .iter()
        .enumerate()
        .flat_map(|(later, named)| {
            named
                .iter()
                .filter(|(_, score)| *score >= likely)
                .filter_map(|(id, _)| position.get(id.as_str()).copied())
                .map(move |earlier| (earlier.min(later), earlier.max(later)))
                .collect::<Vec<_>>()
        })
        .collect();
    let truth: HashSet<(usize, usize)> = links
        .iter()
        .filter_map(|(x, y)| {
            let (i, j) = (*index_of.get(x.as_str())?, *index_of.get(y.as_str())?);
            Some((i.min(j), i.max(j)))
        })
        .collect();
    dedup_report("FEBRL3 (names + date of birth)", &flagged, &truth);
    eval.suite.shutdown().await?;
    Ok(())
}

fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_owned())
        })
        .unwrap_or_default()
}

async fn scale(children: usize, requests: usize) -> anyhow::Result<()> {
    use haven_family_tracing::entity::{child_profile, profile_key};
    use sea_orm::{EntityTrait as _, Set, TransactionTrait as _};

    let today = chrono::Utc::now().date_naive();
    let population = population::generate(&population::Config {
        seed: 7,
        households: children * 10 / 21 + 1,
        today: population::Day {
            year: chrono::Datelike::year(&today),
            month: chrono::Datelike::month(&today) as u8,
            day: chrono::Datelike::day(&today) as u8,
        },
        ..population::Config::default()
    });
    let data_dir = std::env::temp_dir().join(format!("haven-scale-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&data_dir)?;
    let db = haven_family_tracing::connect_and_migrate(&format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("family-tracing.db").display()
    ))
    .await?;
    // Profiles are sealed at rest, under the key the embedded suite will find in the data dir.
    let vault = haven_family_tracing::Vault::new(std::sync::Arc::new(
        haven_platform::sealing::Keyring::new(
            haven_platform::sealing::MasterKey::load_or_create(
                &data_dir.join("keys").join("family-tracing.key"),
            )?,
            Vec::new(),
        )?,
    ));
    let started = Instant::now();
    let now = chrono::Utc::now().timestamp_micros();
    let mut written = 0;
    for chunk in population
        .children
        .iter()
        .take(children)
        .collect::<Vec<_>>()
        .chunks(20_000)
    {
        let txn = db.begin().await?;
        for batch in chunk.chunks(500) {
            let mut rows = Vec::with_capacity(batch.len());
            let mut keys = Vec::with_capacity(batch.len());
            for child in batch {
                let child_id = uuid::Uuid::now_v7().to_string();
                let (identity, key) = vault
                    .seal_new_profile(&child_id, &registered(child).identity.unwrap_or_default())?;
                rows.push(child_profile::ActiveModel {
                    child_id: Set(child_id),
                    identity_version: Set(1),
                    owner: Set("scale-cw".into()),
                    agency: Set("agency-registry".into()),
                    identity: Set(identity),
                    registered_at_us: Set(now),
                    sealed: Set(true),
                });
                keys.push(profile_key::ActiveModel::from(key));
            }
            child_profile::Entity::insert_many(rows)
                .exec_without_returning(&txn)
                .await?;
            profile_key::Entity::insert_many(keys)
                .exec_without_returning(&txn)
                .await?;
        }
        txn.commit().await?;
        written += chunk.len();
    }
    db.close().await?;
    println!(
        "wrote {written} profiles in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let eval = Eval::start_in(data_dir).await?;
    println!(
        "suite started, index rebuilt from the projection, in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut counts = LinkCounts::default();
    for request in population.requests.iter().take(requests) {
        let filed = eval.file(tracing_request(request)).await?;
        for s in 0..request.sought.len() {
            let (found, took) = eval.find(&filed, s, 10).await?;
            counts.add(&HashSet::new(), &found, took);
        }
    }
    counts.latencies.sort();
    let at = |q: f64| {
        counts.latencies[((counts.latencies.len() - 1) as f64 * q) as usize].as_secs_f64() * 1000.0
    };
    println!(
        "FindMatches through the gateway over {written} children: median {:.2} ms, p95 {:.2} ms, max {:.2} ms ({} calls, one at a time)",
        at(0.5),
        at(0.95),
        at(1.0),
        counts.latencies.len()
    );
    println!(
        "peak RSS of the whole process (generator, suite and index): {}",
        peak_rss()
    );
    eval.suite.shutdown().await?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("synthetic") => {
            let households = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1_000);
            let seed = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(2);
            synthetic(households, seed).await
        }
        Some("febrl") => {
            let dir = args
                .get(1)
                .ok_or_else(|| anyhow::anyhow!("febrl needs the directory of the exported CSVs"))?;
            febrl(std::path::Path::new(dir)).await
        }
        Some("scale") => {
            let children = args
                .get(1)
                .and_then(|a| a.parse().ok())
                .unwrap_or(1_000_000);
            let requests = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(300);
            scale(children, requests).await
        }
        _ => anyhow::bail!(
            "usage: haven-tracing-eval synthetic [households] [seed] | febrl DIR | scale CHILDREN [REQUESTS]"
        ),
    }
}
