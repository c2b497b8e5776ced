//! Tampering with the audit log is detected: random single mutations (edit any column, delete, reorder,
//! insert, truncate), each applied inside a transaction that is rolled back afterwards. Every one of them
//! must be caught by the chain check, which `haven audit verify` runs.

use haven_platform::audit::{ChainReport, chain_hash, log, verify_chain, verify_chain_in_pages};
use haven_proto::identity::GetChildRequest;
use haven_tests::fixtures::{case_child, register};
use haven_tests::{TestSuite, authed};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};

/// A small deterministic generator (xorshift), so a failure can be replayed from its iteration number.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const COLUMNS: [log::Column; 11] = [
    log::Column::EntryId,
    log::Column::AtUs,
    log::Column::Actor,
    log::Column::Roles,
    log::Column::Agency,
    log::Column::Action,
    log::Column::Rpc,
    log::Column::RecordId,
    log::Column::Classes,
    log::Column::PrevHash,
    log::Column::Hash,
];

async fn mutate(txn: &DatabaseTransaction, rows: &[log::Model], rng: &mut Xorshift) -> String {
    let pick = |rng: &mut Xorshift| rows[rng.below(rows.len() as u64) as usize].clone();
    match rng.below(5) {
        0 => {
            let row = pick(rng);
            let column = COLUMNS[rng.below(COLUMNS.len() as u64) as usize];
            let value = match column {
                log::Column::AtUs => Expr::value(row.at_us + 1),
                _ => Expr::value(format!("forged-{}", rng.next())),
            };
            log::Entity::update_many()
                .col_expr(column, value)
                .filter(log::Column::Seq.eq(row.seq))
                .exec(txn)
                .await
                .expect("edit");
            format!("edit {column:?} of entry {}", row.seq)
        }
        1 => {
            let row = pick(rng);
            log::Entity::delete_many()
                .filter(log::Column::Seq.eq(row.seq))
                .exec(txn)
                .await
                .expect("delete");
            format!("delete entry {}", row.seq)
        }
        2 => {
            // Swap the contents of two entries, keeping their positions.
            let a = pick(rng);
            let mut b = pick(rng);
            while b.seq == a.seq {
                b = pick(rng);
            }
            for (target, source) in [(&a, &b), (&b, &a)] {
                let mut moved = source.clone();
                moved.seq = target.seq;
                log::ActiveModel::from(moved)
                    .reset_all()
                    .update(txn)
                    .await
                    .expect("swap");
            }
            format!("swap entries {} and {}", a.seq, b.seq)
        }
        3 => {
            // Insert a well-formed entry in the middle: later entries shift up by one.
            let at = pick(rng).seq;
            let later: Vec<&log::Model> = rows.iter().filter(|r| r.seq >= at).collect();
            for row in later.iter().rev() {
                log::Entity::update_many()
                    .col_expr(log::Column::Seq, Expr::value(row.seq + 1))
                    .filter(log::Column::Seq.eq(row.seq))
                    .exec(txn)
                    .await
                    .expect("shift");
            }
            let prev = rows
                .iter()
                .find(|r| r.seq == at - 1)
                .map(|r| r.hash.clone())
                .unwrap_or_else(|| haven_platform::audit::GENESIS_HASH.to_owned());
            let mut forged = rows[0].clone();
            forged.seq = at;
            forged.actor = "forger".into();
            forged.prev_hash = prev.clone();
            forged.hash = chain_hash(&prev, &forged);
            log::Entity::insert(log::ActiveModel::from(forged))
                .exec_without_returning(txn)
                .await
                .expect("insert");
            format!("insert before entry {at}")
        }
        _ => {
            let last = rows.iter().map(|r| r.seq).max().expect("rows");
            log::Entity::delete_many()
                .filter(log::Column::Seq.eq(last))
                .exec(txn)
                .await
                .expect("truncate");
            "drop the newest entry".into()
        }
    }
}

#[tokio::test]
async fn every_random_mutation_of_the_audit_log_is_detected() {
    let t = TestSuite::start().await;
    let mut client = t.client();
    let caseworker = t.token("caseworker", "cw-audit", "agency-a");
    for name in ["Abdi", "Bahsan", "Caaliya", "Dalmar", "Ebyan"] {
        let view = client
            .register_child(authed(
                &caseworker,
                register(case_child(name, "Tamper", false)),
            ))
            .await
            .expect("register")
            .into_inner();
        let id = view.child.and_then(|c| c.meta).expect("meta").id;
        client
            .get_child(authed(&caseworker, GetChildRequest { id }))
            .await
            .expect("read");
    }
    let db = t.identity_db().await;
    let rows = log::Entity::find()
        .order_by_asc(log::Column::Seq)
        .all(&db)
        .await
        .expect("rows");
    assert_eq!(rows.len(), 10);
    assert!(matches!(
        verify_chain(&db).await.expect("verify"),
        ChainReport::Intact { entries: 10 }
    ));

    let mut rng = Xorshift(0x5eed_1234_abcd_0001);
    let iterations = 200;
    let mut detected = 0;
    for i in 0..iterations {
        let txn = db.begin().await.expect("begin");
        let what = mutate(&txn, &rows, &mut rng).await;
        // Whole, and in pages of 3 so that mutations fall on and across page boundaries.
        let whole = verify_chain(&txn).await.expect("verify");
        let paged = verify_chain_in_pages(&txn, 3).await.expect("verify");
        match (whole, paged) {
            (ChainReport::Broken { .. }, ChainReport::Broken { .. }) => detected += 1,
            _ => panic!("iteration {i}: `{what}` went undetected"),
        }
        txn.rollback().await.expect("rollback");
    }
    assert_eq!(detected, iterations, "100 % of mutations detected");
    assert!(matches!(
        verify_chain(&db).await.expect("verify"),
        ChainReport::Intact { entries: 10 }
    ));
    t.stop().await;
}
