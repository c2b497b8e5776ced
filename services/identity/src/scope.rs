//! The SQL twin of the policy's scope check: which rows a principal may see at all. Lists and searches
//! filter with it, so a list never shows what a get would refuse; a test holds the two to each other.

use haven_authz::{LocationTag, Policy, Principal, Scope, tag_hex};
use sea_orm::sea_query::{Query, SelectStatement};
use sea_orm::{ColumnTrait, Condition};

use crate::entity::{affiliation, assignment, break_glass, child, location_tag, referral};
use crate::record::CHILD_CLASSES;
use crate::store::REFERRAL_ACCEPTED;

/// The condition on `children` rows the principal may see, or `None` when it may see none.
pub(crate) fn visible_rows(policy: &Policy, principal: &Principal) -> Option<Condition> {
    let mut any = Condition::any();
    let mut covered = false;
    for grant in policy.grants_of(principal) {
        // Only rights on the classes a child record carries make a row visible.
        if grant
            .read
            .union(grant.write)
            .intersection(CHILD_CLASSES)
            .is_empty()
        {
            continue;
        }
        let condition = match grant.scope {
            Scope::Own => Condition::all()
                .add(child::Column::Owner.eq(principal.sub.clone()))
                .add(child::Column::Agency.eq(principal.agency.clone())),
            Scope::Assigned => Condition::all()
                .add(child::Column::Id.in_subquery(assigned_to(&principal.sub)))
                .add(child::Column::Agency.eq(principal.agency.clone())),
            Scope::Team => match &principal.team {
                Some(team) => Condition::all()
                    .add(child::Column::Team.eq(team.clone()))
                    .add(child::Column::Agency.eq(principal.agency.clone())),
                None => continue,
            },
            Scope::Agency => {
                Condition::all().add(child::Column::Agency.eq(principal.agency.clone()))
            }
            Scope::Location => {
                if principal.location_tags.is_empty() {
                    continue;
                }
                Condition::all()
                    .add(child::Column::Agency.eq(principal.agency.clone()))
                    .add(child::Column::Id.in_subquery(tagged_with(&principal.location_tags)))
            }
            Scope::Affiliated => Condition::all()
                .add(child::Column::Id.in_subquery(affiliated_children(&principal.agency))),
            Scope::TracingConsentElsewhere => Condition::all()
                .add(child::Column::ConsentForTracing.eq(true))
                .add(child::Column::Agency.ne(principal.agency.clone())),
            Scope::All => Condition::all(),
            Scope::BreakGlass => Condition::all()
                .add(child::Column::Id.in_subquery(opened_with_break_glass(&principal.sub))),
            Scope::Referred => Condition::all()
                .add(child::Column::Id.in_subquery(referred_children(&principal.agency))),
        };
        any = any.add(condition);
        covered = true;
    }
    covered.then_some(any)
}

fn tagged_with(tags: &[LocationTag]) -> SelectStatement {
    Query::select()
        .column(location_tag::Column::ChildId)
        .from(location_tag::Entity)
        .and_where(location_tag::Column::Tag.is_in(tags.iter().map(tag_hex)))
        .to_owned()
}

fn assigned_to(assignee: &str) -> SelectStatement {
    Query::select()
        .column(assignment::Column::ChildId)
        .from(assignment::Entity)
        .and_where(assignment::Column::Assignee.eq(assignee))
        .to_owned()
}

fn opened_with_break_glass(holder: &str) -> SelectStatement {
    Query::select()
        .column(break_glass::Column::ChildId)
        .from(break_glass::Entity)
        .and_where(break_glass::Column::Holder.eq(holder))
        .and_where(break_glass::Column::ExpiresAtUs.gt(crate::record::now_micros()))
        .to_owned()
}

pub(crate) fn referred_children(agency: &str) -> SelectStatement {
    Query::select()
        .column(referral::Column::ChildId)
        .from(referral::Entity)
        .and_where(referral::Column::ToAgency.eq(agency))
        .and_where(referral::Column::Status.eq(REFERRAL_ACCEPTED))
        .and_where(referral::Column::Kind.ne(referral::EDUCATION))
        .to_owned()
}

fn affiliated_children(organisation: &str) -> SelectStatement {
    Query::select()
        .column(affiliation::Column::ChildId)
        .from(affiliation::Entity)
        .and_where(affiliation::Column::Organisation.eq(organisation))
        .to_owned()
}

#[cfg(test)]
mod tests {
    //! The SQL filter and the in-memory policy must agree on every record for every principal: this is
    //! what guarantees a list never shows what a get would refuse.

    use std::collections::BTreeSet;

    use haven_authz::{Policy, Principal, RecordAttrs, ReferralGrant, Role};
    use sea_orm::{EntityTrait, QueryFilter, Set};
    use sea_orm_migration::MigratorTrait as _;

    use super::visible_rows;
    use crate::entity::{affiliation, assignment, break_glass, child, location_tag, referral};

    struct Lcg(u64);
    impl Lcg {
        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            items[(self.0 >> 33) as usize % items.len()]
        }
        fn coin(&mut self) -> bool {
            self.pick(&["h", "t"]) == "h"
        }
    }

    #[tokio::test]
    async fn the_sql_filter_admits_exactly_the_records_the_policy_shows() {
        let path = std::env::temp_dir().join(format!("haven-scope-{}.db", uuid::Uuid::now_v7()));
        let db = haven_platform::db::connect(&format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .expect("db");
        crate::Migrator::up(&db, None).await.expect("migrate");

        let subs = ["cw1", "cw2", "cw3"];
        let agencies = ["a1", "a2", "school-1"];
        let schools = ["school-1", "school-2"];
        let partners = ["ngo-1", "ngo-2"];
        let statuses = ["pending", "accepted", "revoked"];
        let mut rng = Lcg(42);
        let location_key = haven_authz::LocationKey::from_bytes([5; 32]);
        let mut records = Vec::new();
        for i in 0..80 {
            let id = uuid::Uuid::now_v7().to_string();
            let owner = rng.pick(&subs).to_string();
            let agency = rng.pick(&agencies).to_string();
            let consent = rng.coin();
            let team = if rng.coin() {
                Some(rng.pick(&["north", "south"]).to_string())
            } else {
                None
            };
            let affiliations: Vec<String> = schools
                .iter()
                .filter(|_| rng.coin())
                .map(|s| s.to_string())
                .collect();
            child::Entity::insert(child::ActiveModel {
                id: Set(id.clone()),
                version: Set(1),
                identity_version: Set(1),
                owner: Set(owner.clone()),
                agency: Set(agency.clone()),
                consent_for_tracing: Set(consent),
                created_at_us: Set(i),
                created_by: Set(owner.clone()),
                updated_at_us: Set(i),
                updated_by: Set(owner.clone()),
                identity: Set(Vec::new()),
                whereabouts: Set(None),
                protection: Set(None),
                team: Set(team.clone()),
            })
            .exec_without_returning(&db)
            .await
            .expect("insert child");
            for organisation in &affiliations {
                affiliation::Entity::insert(affiliation::ActiveModel {
                    child_id: Set(id.clone()),
                    organisation: Set(organisation.clone()),
                    kind: Set("enrolled".into()),
                })
                .exec_without_returning(&db)
                .await
                .expect("insert affiliation");
            }
            let mut referrals = Vec::new();
            if rng.coin() {
                let to = rng.pick(&partners).to_string();
                let status = rng.pick(&statuses);
                let classes = rng.pick(&["identity", "identity,protection", "whereabouts"]);
                referral::Entity::insert(referral::ActiveModel {
                    id: Set(uuid::Uuid::now_v7().to_string()),
                    child_id: Set(id.clone()),
                    from_agency: Set(agency.clone()),
                    to_agency: Set(to.clone()),
                    service: Set("service".into()),
                    kind: Set("service".into()),
                    shared_classes: Set(classes.into()),
                    status: Set(status.into()),
                    consent_overridden: Set(false),
                    override_reason: Set(String::new()),
                    request_id: Set(uuid::Uuid::now_v7().to_string()),
                    body_hash: Set(String::new()),
                    created_at_us: Set(i),
                    created_by: Set(owner.clone()),
                    updated_at_us: Set(i),
                    updated_by: Set(owner.clone()),
                })
                .exec_without_returning(&db)
                .await
                .expect("insert referral");
                if status == "accepted" {
                    referrals.push(ReferralGrant {
                        agency: to,
                        classes: crate::record::parse_class_list(classes),
                    });
                }
            }
            let mut holders = Vec::new();
            if rng.coin() {
                let holder = rng.pick(&subs).to_string();
                let live = rng.coin();
                let now = crate::record::now_micros();
                break_glass::Entity::insert(break_glass::ActiveModel {
                    id: Set(uuid::Uuid::now_v7().to_string()),
                    child_id: Set(id.clone()),
                    holder: Set(holder.clone()),
                    agency: Set("elsewhere".into()),
                    child_agency: Set(agency.clone()),
                    reason: Set("generated".into()),
                    granted_at_us: Set(now),
                    expires_at_us: Set(if live { now + 3_600_000_000 } else { now - 1 }),
                })
                .exec_without_returning(&db)
                .await
                .expect("insert grant");
                if live {
                    holders.push(holder);
                }
            }
            let mut assignees = Vec::new();
            if rng.coin() {
                let assignee = rng.pick(&subs).to_string();
                assignment::Entity::insert(assignment::ActiveModel {
                    child_id: Set(id.clone()),
                    assignee: Set(assignee.clone()),
                    assigned_by: Set(owner.clone()),
                    assigned_at_us: Set(i),
                })
                .exec_without_returning(&db)
                .await
                .expect("insert assignment");
                assignees.push(assignee);
            }
            let path: &[&str] = match rng.pick(&["none", "hodan", "baidoa", "country"]) {
                "hodan" => &["SO", "Banadir", "Hodan"],
                "baidoa" => &["SO", "Bay", "Baidoa"],
                "country" => &["SO"],
                _ => &[],
            };
            let locations = location_key.tags_for_path(path);
            for tag in &locations {
                location_tag::Entity::insert(location_tag::ActiveModel {
                    child_id: Set(id.clone()),
                    tag: Set(haven_authz::tag_hex(tag)),
                })
                .exec_without_returning(&db)
                .await
                .expect("insert location tag");
            }
            records.push((
                id,
                owner,
                agency,
                consent,
                affiliations,
                referrals,
                holders,
                assignees,
                team,
                locations,
            ));
        }

        let everyone_file =
            "[roles.supervisor]\ngrants = [{ scope = \"all\", read = [\"identity\"] }]\n";
        let team_file =
            "[roles.caseworker]\ngrants = [{ scope = \"team\", read = [\"identity\"] }]\n";
        let location_file =
            "[roles.supervisor]\ngrants = [{ scope = \"location\", read = [\"identity\"] }]\n";
        let claims: [&[&str]; 4] = [&[], &["SO/Banadir"], &["SO"], &["SO/Bay/Baidoa", "KE"]];
        for policy in [
            Policy::default(),
            Policy::from_toml(everyone_file).expect("valid"),
            Policy::from_toml(team_file).expect("valid"),
            Policy::from_toml(location_file).expect("valid"),
        ] {
            for role in Role::ALL {
                for sub in subs {
                    for (agency, team, locations) in agencies
                        .iter()
                        .chain(schools.iter())
                        .chain(partners.iter())
                        .flat_map(|a| [(a, None), (a, Some("north"))])
                        .flat_map(|(a, t)| claims.iter().map(move |c| (a, t, c)))
                    {
                        let principal = Principal {
                            sub: sub.into(),
                            agency: (*agency).into(),
                            roles: vec![role],
                            team: team.map(str::to_owned),
                            locations: locations.iter().map(|c| c.to_string()).collect(),
                            location_tags: vec![],
                            jti: "j".into(),
                            exp: u64::MAX,
                        }
                        .with_location_tags(&location_key);
                        let by_policy: BTreeSet<&str> = records
                            .iter()
                            .filter(
                                |(
                                    _,
                                    owner,
                                    agency,
                                    consent,
                                    affiliations,
                                    referrals,
                                    holders,
                                    assignees,
                                    team,
                                    locations,
                                )| {
                                    let attrs = RecordAttrs {
                                        owner,
                                        agency,
                                        consent_for_tracing: *consent,
                                        affiliations,
                                        referrals,
                                        break_glass: holders,
                                        assignees,
                                        team: team.as_deref(),
                                        locations,
                                    };
                                    policy
                                        .access(&principal, &attrs)
                                        .restricted_to(crate::record::CHILD_CLASSES)
                                        .is_visible()
                                },
                            )
                            .map(|(id, ..)| id.as_str())
                            .collect();
                        let by_sql: BTreeSet<String> = match visible_rows(&policy, &principal) {
                            None => BTreeSet::new(),
                            Some(condition) => child::Entity::find()
                                .filter(condition)
                                .all(&db)
                                .await
                                .expect("query")
                                .into_iter()
                                .map(|row| row.id)
                                .collect(),
                        };
                        let by_sql: BTreeSet<&str> = by_sql.iter().map(String::as_str).collect();
                        assert_eq!(by_sql, by_policy, "{role} {sub}@{agency} in {locations:?}");
                    }
                }
            }
        }
        db.close().await.ok();
        std::fs::remove_file(&path).ok();
    }
}
