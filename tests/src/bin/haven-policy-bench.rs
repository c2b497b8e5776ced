//! haven-policy-bench: how long one access decision takes (Policy::access on a record, the check every
//! read and write makes), over a mix of roles and records. Prints the median of several timed rounds.
//!
//!   haven-policy-bench [rounds] [decisions-per-round]

use std::hint::black_box;
use std::time::Instant;

use haven_authz::{ClassSet, DataClass, Policy, Principal, RecordAttrs, ReferralGrant, Role};

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(9);
    let per_round: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    let policy = Policy::default();
    let principals: Vec<Principal> = Role::ALL
        .iter()
        .map(|role| Principal {
            sub: "cw-1".into(),
            agency: "agency-a".into(),
            roles: vec![*role],
            team: Some("north".into()),
            locations: vec![],
            location_tags: vec![],
            jti: "j".into(),
            exp: u64::MAX,
        })
        .collect();
    let affiliations = vec!["school-1".to_string()];
    let referrals = vec![ReferralGrant {
        agency: "agency-a".into(),
        classes: ClassSet::of(&[DataClass::Identity]),
    }];
    let assignees = vec!["cw-2".to_string()];
    let records = [
        RecordAttrs {
            owner: "cw-1",
            agency: "agency-a",
            consent_for_tracing: true,
            affiliations: &[],
            referrals: &[],
            break_glass: &[],
            assignees: &[],
            team: Some("north"),
            locations: &[],
        },
        RecordAttrs {
            owner: "cw-9",
            agency: "agency-b",
            consent_for_tracing: false,
            affiliations: &affiliations,
            referrals: &referrals,
            break_glass: &[],
            assignees: &assignees,
            team: None,
            locations: &[],
        },
    ];
    let mut medians = Vec::with_capacity(rounds);
    let mut visible = 0usize;
    for _ in 0..rounds {
        let start = Instant::now();
        for i in 0..per_round {
            let principal = &principals[i % principals.len()];
            let record = &records[(i / principals.len()) % records.len()];
            if black_box(policy.access(black_box(principal), black_box(record))).is_visible() {
                visible += 1;
            }
        }
        medians.push(start.elapsed().as_nanos() as f64 / per_round as f64);
    }
    medians.sort_by(f64::total_cmp);
    println!("decisions per round  {per_round}");
    println!("rounds               {rounds}");
    println!(
        "ns per decision      median {:.1}, min {:.1}, max {:.1}",
        medians[rounds / 2],
        medians[0],
        medians[rounds - 1]
    );
    println!("(visible in {visible} decisions: the work is not optimised away)");
}
