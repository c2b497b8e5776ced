//! haven-security-bench: the cost of protection-grade storage, outside any timed test.
//!
//!   haven-security-bench open [rounds] [reads-per-round]
//!       CPU per child read of the sealed classes: unwrap the child's data key, open whereabouts and
//!       protection (AES-256-GCM) and decode them. Prints the median of the rounds.
//!   haven-security-bench audit-verify [entries]
//!       Builds a SQLite audit log of that many entries (default 1,000,000), then times
//!       `haven audit verify`'s check over it and reports peak memory.

use std::hint::black_box;
use std::time::Instant;

use haven_platform::audit::{self, AuditEntry, ChainReport};
use haven_platform::sealing::{Keyring, MasterKey};
use haven_proto::identity::{ProtectionCase, Whereabouts};
use haven_tests::fixtures::{protection, whereabouts};
use prost::Message as _;
use sea_orm::TransactionTrait as _;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("open") => {
            let rounds = args.next().and_then(|a| a.parse().ok()).unwrap_or(9);
            let per_round = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
            open(rounds, per_round)
        }
        Some("audit-verify") => {
            let entries = args
                .next()
                .and_then(|a| a.parse().ok())
                .unwrap_or(1_000_000);
            audit_verify(entries).await
        }
        _ => anyhow::bail!(
            "usage: haven-security-bench open [rounds] [reads] | audit-verify [entries]"
        ),
    }
}

fn open(rounds: usize, per_round: usize) -> anyhow::Result<()> {
    let keyring = Keyring::new(MasterKey::generate(1), Vec::new())?;
    let id = uuid::Uuid::now_v7().to_string();
    let (key, wrapped) = keyring.new_data_key(&id)?;
    let sealed_whereabouts = key.seal(&id, "whereabouts", 1, &whereabouts().encode_to_vec())?;
    let sealed_protection = key.seal(&id, "protection", 1, &protection(true).encode_to_vec())?;
    let mut per_read = Vec::with_capacity(rounds);
    let mut bytes = 0usize;
    for _ in 0..rounds {
        let start = Instant::now();
        for _ in 0..per_round {
            let key = keyring.unwrap(black_box(&id), black_box(&wrapped))?;
            let w = key.open(&id, "whereabouts", black_box(&sealed_whereabouts))?;
            let p = key.open(&id, "protection", black_box(&sealed_protection))?;
            let w = Whereabouts::decode(w.as_slice())?;
            let p = ProtectionCase::decode(p.as_slice())?;
            bytes += w.encoded_len() + p.encoded_len();
        }
        per_read.push(start.elapsed().as_nanos() as f64 / per_round as f64 / 1000.0);
    }
    per_read.sort_by(f64::total_cmp);
    println!(
        "sealed bytes per child  {}",
        sealed_whereabouts.len() + sealed_protection.len()
    );
    println!("reads per round         {per_round}");
    println!(
        "µs per child read       median {:.2}, min {:.2}, max {:.2}",
        per_read[rounds / 2],
        per_read[0],
        per_read[rounds - 1]
    );
    println!("(decoded {bytes} bytes: the work is not optimised away)");
    Ok(())
}

async fn audit_verify(entries: u64) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("haven-audit-bench-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}?mode=rwc", dir.join("identity.db").display());
    let db = haven_identity::connect_and_migrate(&url).await?;
    let fill = Instant::now();
    // SQLite allows 32,766 bound variables per statement; an entry binds about ten.
    const BATCH: u64 = 2_000;
    let mut written = 0;
    while written < entries {
        let n = BATCH.min(entries - written);
        let batch: Vec<AuditEntry> = (0..n)
            .map(|i| AuditEntry {
                actor: format!("cw-{}", (written + i) % 97),
                roles: "caseworker".into(),
                agency: "agency-a".into(),
                action: "read",
                rpc: "/haven.identity.v1.ChildIdentity/GetChild",
                record_id: uuid::Uuid::now_v7().to_string(),
                classes: "identity,whereabouts,protection".into(),
            })
            .collect();
        let txn = db.begin().await?;
        audit::append(&txn, &batch).await?;
        txn.commit().await?;
        written += n;
    }
    println!(
        "filled {entries} entries in {:.1} s",
        fill.elapsed().as_secs_f64()
    );
    let start = Instant::now();
    let report = audit::verify_chain(&db).await?;
    let took = start.elapsed().as_secs_f64();
    anyhow::ensure!(
        matches!(report, ChainReport::Intact { entries: n } if n == entries),
        "unexpected report {report:?}"
    );
    println!(
        "verified {entries} entries in {took:.2} s ({:.0} entries/s)",
        entries as f64 / took
    );
    if let Ok(status) = std::fs::read_to_string("/proc/self/status")
        && let Some(line) = status.lines().find(|l| l.starts_with("VmHWM"))
    {
        println!(
            "peak memory             {}",
            line.trim_start_matches("VmHWM:").trim()
        );
    }
    db.close().await.ok();
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}
