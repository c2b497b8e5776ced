//! haven-security-bench: the cost of protection-grade storage, outside any timed test.
//!
//!   haven-security-bench open [rounds] [reads-per-round]
//!       CPU per child read of the sealed classes: unwrap the child's data key, open whereabouts and
//!       protection (AES-256-GCM) and decode them. Prints the median of the rounds.
//!   haven-security-bench tracing-store [rounds] [requests-per-round]
//!       The family tracing store path, sealed against clear, alternating rounds in one run on a fresh
//!       SQLite database (PostgreSQL with HAVEN_BENCH_DATABASE_URL): write a tracing request in its own
//!       transaction (sealed: the request's data key made and stored, the body sealed), then read it
//!       back by id and open it. The clear rounds write `sealed = false` rows, which the same read code
//!       decodes as it does rows from before encryption at rest. Prints medians and their ratio.
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
        Some("tracing-store") => {
            let rounds = args.next().and_then(|a| a.parse().ok()).unwrap_or(9);
            let per_round = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
            tracing_store(rounds, per_round).await
        }
        Some("audit-verify") => {
            let entries = args
                .next()
                .and_then(|a| a.parse().ok())
                .unwrap_or(1_000_000);
            audit_verify(entries).await
        }
        _ => anyhow::bail!(
            "usage: haven-security-bench open [rounds] [reads] | tracing-store [rounds] [requests] | audit-verify [entries]"
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

/// A generated tracing request of the usual size: an inquirer and two sought children.
fn generated_request() -> haven_proto::family_tracing::TracingRequest {
    use haven_proto::common::{Location, PartialDate};
    use haven_proto::family_tracing::{Inquirer, Relation, SoughtChild, TracingRequest};
    let sought = |given: &str, year: i32| SoughtChild {
        id: uuid::Uuid::now_v7().to_string(),
        given_name: given.into(),
        family_name: "Generated Family".into(),
        other_names: vec!["Gen".into()],
        date_of_birth: Some(PartialDate {
            year,
            month: Some(4),
            day: None,
            estimated: true,
        }),
        last_seen: Some(Location {
            admin_path: vec!["XX".into(), "Region 1".into(), "District 4".into()],
            description: "market by the river crossing".into(),
        }),
        separation_circumstances: "separated while crossing at night; was with an older cousin"
            .into(),
        father_name: "Generated Father".into(),
        mother_name: "Generated Mother".into(),
        ..SoughtChild::default()
    };
    TracingRequest {
        inquirer: Some(Inquirer {
            given_name: "Generated".into(),
            family_name: "Inquirer".into(),
            relation: Relation::Mother as i32,
            contact: "+000 555 0100, camp office block 7".into(),
            location: Some(Location {
                admin_path: vec!["XX".into(), "Region 2".into()],
                description: "camp B, row 12".into(),
            }),
            ..Inquirer::default()
        }),
        sought_children: vec![sought("Generatedone", 2015), sought("Generatedtwo", 2018)],
        ..TracingRequest::default()
    }
}

async fn tracing_store(rounds: usize, per_round: usize) -> anyhow::Result<()> {
    use haven_family_tracing::entity::tracing_request;
    use sea_orm::{EntityTrait as _, Set};

    let dir = std::env::temp_dir().join(format!("haven-tracing-bench-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir)?;
    let url = std::env::var("HAVEN_BENCH_DATABASE_URL").unwrap_or_else(|_| {
        format!(
            "sqlite://{}?mode=rwc",
            dir.join("family-tracing.db").display()
        )
    });
    let db = haven_family_tracing::connect_and_migrate(&url).await?;
    let vault = haven_family_tracing::Vault::new(std::sync::Arc::new(Keyring::new(
        MasterKey::generate(1),
        Vec::new(),
    )?));
    let request = generated_request();
    let clear_body = request.encode_to_vec();
    let row = |id: &str, body: Vec<u8>, sealed: bool| tracing_request::ActiveModel {
        id: Set(id.to_owned()),
        version: Set(1),
        owner: Set("ro-bench".into()),
        agency: Set("agency-bench".into()),
        status: Set("open".into()),
        body: Set(body),
        created_at_us: Set(0),
        created_by: Set("ro-bench".into()),
        updated_at_us: Set(0),
        updated_by: Set("ro-bench".into()),
        sealed: Set(sealed),
    };
    // (write µs, read µs) per request, per round, for each path.
    let mut clear: Vec<(f64, f64)> = Vec::with_capacity(rounds);
    let mut sealed: Vec<(f64, f64)> = Vec::with_capacity(rounds);
    let mut opened = 0usize;
    for round in 0..rounds * 2 {
        let sealing = round % 2 == 1;
        let ids: Vec<String> = (0..per_round)
            .map(|_| uuid::Uuid::now_v7().to_string())
            .collect();
        let start = Instant::now();
        for id in &ids {
            let txn = db.begin().await?;
            let stored = if sealing {
                let key = vault.request_key(&txn, id).await?;
                row(id, key.seal_body(black_box(&request))?, true)
            } else {
                row(id, black_box(&request).encode_to_vec(), false)
            };
            tracing_request::Entity::insert(stored)
                .exec_without_returning(&txn)
                .await?;
            txn.commit().await?;
        }
        let write = start.elapsed().as_nanos() as f64 / per_round as f64 / 1000.0;
        let start = Instant::now();
        for id in &ids {
            let stored = tracing_request::Entity::find_by_id(id.clone())
                .one(&db)
                .await?
                .ok_or_else(|| anyhow::anyhow!("row written a moment ago is gone"))?;
            let body = vault.open_request(&db, &stored).await?;
            opened += body.encoded_len();
        }
        let read = start.elapsed().as_nanos() as f64 / per_round as f64 / 1000.0;
        if sealing {
            sealed.push((write, read));
        } else {
            clear.push((write, read));
        }
    }
    let median = |values: &mut Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let clear_write = median(&mut clear.iter().map(|r| r.0).collect());
    let sealed_write = median(&mut sealed.iter().map(|r| r.0).collect());
    let clear_read = median(&mut clear.iter().map(|r| r.1).collect());
    let sealed_read = median(&mut sealed.iter().map(|r| r.1).collect());
    println!(
        "backend                 {}",
        if url.starts_with("sqlite:") {
            "sqlite"
        } else {
            "postgres"
        }
    );
    println!(
        "request body            {} bytes clear, {} bytes sealed",
        clear_body.len(),
        clear_body.len() + 33
    );
    println!("rounds x requests       {rounds} x {per_round} per path, alternating");
    println!(
        "write µs/request        clear {clear_write:.1}, sealed {sealed_write:.1}, ratio {:.2}",
        sealed_write / clear_write
    );
    println!(
        "read µs/request         clear {clear_read:.1}, sealed {sealed_read:.1}, ratio {:.2}",
        sealed_read / clear_read
    );
    println!("(opened {opened} bytes: the work is not optimised away)");
    db.close().await.ok();
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}
