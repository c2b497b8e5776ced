//! haven-passport-bench: CPU time to issue and to verify a learning passport (Open Badges 3.0
//! credential as a VC-JWT) for a learner with many achievements, outside any timed test.
//!
//!   haven-passport-bench [achievements] [rounds] [per-round] [EdDSA|RS256|both] [rsa-bits]
//!
//! Prints the median of the rounds for signing (IssuePassport's work: build the credential JSON and
//! sign it) and for offline verification (parse, check the signature against the trust list, the
//! issuer and the dates, and read the achievements back), for each algorithm asked for (default: both;
//! RS256 with a freshly generated key of `rsa-bits`, by default the size a deployment generates).

use std::hint::black_box;
use std::time::Instant;

use haven_learning::PassportIssuer;
use haven_learning::passport::{
    Achievement, GENERATED_RSA_BITS, PassportContent, Recipient, Score, verify,
};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let achievements: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(9);
    let per_round: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let algorithms = args.next().unwrap_or_else(|| "both".into());
    let rsa_bits: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(GENERATED_RSA_BITS);
    let content = PassportContent {
        credential_id: uuid::Uuid::new_v4(),
        recipient: Recipient::Named {
            given_name: "Generated".into(),
            family_name: "Learner".into(),
            birth_year: Some(2015),
        },
        achievements: (0..achievements)
            .map(|i| Achievement {
                record_id: uuid::Uuid::now_v7().to_string(),
                title: format!("Outcome {i}"),
                framework_code: "HAVEN-COMMON".into(),
                subject_code: ["MATH", "SCI", "LIT", "SEL"][i % 4].into(),
                level_code: format!("L{}", i % 6 + 1),
                outcomes: vec![(format!("O{i}"), format!("Outcome label {i}"))],
                score: Some(Score {
                    raw: 42.0,
                    max: 50.0,
                    scaled: Some(0.84),
                    passed: Some(true),
                    grade: "B".into(),
                }),
                occurred_at: Some(1_760_000_000),
            })
            .collect(),
        valid_from: 1_760_000_000,
        valid_until: None,
        status_list_id: haven_learning::STATUS_LIST_ID.into(),
    };
    println!("achievements per passport  {achievements}");
    if matches!(algorithms.as_str(), "both" | "EdDSA") {
        let issuer = PassportIssuer::generate("Bench Deployment", "https://haven.example.org");
        measure("EdDSA", &issuer, &content, rounds, per_round)?;
    }
    if matches!(algorithms.as_str(), "both" | "RS256") {
        let issuer = PassportIssuer::generate_rsa(
            rsa_bits,
            "Bench Deployment",
            "https://haven.example.org",
        )?;
        measure(
            &format!("RS256 (RSA-{rsa_bits})"),
            &issuer,
            &content,
            rounds,
            per_round,
        )?;
    }
    Ok(())
}

fn measure(
    label: &str,
    issuer: &PassportIssuer,
    content: &PassportContent,
    rounds: usize,
    per_round: usize,
) -> anyhow::Result<()> {
    let trusted = issuer.trust_list();
    let mut issue_us = Vec::with_capacity(rounds);
    let mut verify_us = Vec::with_capacity(rounds);
    let mut size = 0;
    for _ in 0..rounds {
        let started = Instant::now();
        let mut jwt = String::new();
        for _ in 0..per_round {
            jwt = black_box(issuer.issue(black_box(content))?).jwt;
        }
        issue_us.push(started.elapsed().as_secs_f64() * 1e6 / per_round as f64);
        size = jwt.len();
        let started = Instant::now();
        for _ in 0..per_round {
            let verified = verify(black_box(&jwt), &trusted)?;
            anyhow::ensure!(verified.achievements.len() == content.achievements.len());
        }
        verify_us.push(started.elapsed().as_secs_f64() * 1e6 / per_round as f64);
    }
    issue_us.sort_by(f64::total_cmp);
    verify_us.sort_by(f64::total_cmp);
    println!("{label}: {size} bytes as a JWT");
    println!(
        "  issue (build + sign)     median {:.0} µs, min {:.0}, max {:.0}",
        issue_us[rounds / 2],
        issue_us[0],
        issue_us[rounds - 1]
    );
    println!(
        "  verify offline           median {:.0} µs, min {:.0}, max {:.0}",
        verify_us[rounds / 2],
        verify_us[0],
        verify_us[rounds - 1]
    );
    Ok(())
}
