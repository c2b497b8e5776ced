//! `haven passport print` and `haven passport verify` on a printed passport's codes, through the
//! binary as a user runs it.

use std::path::Path;
use std::process::{Command, Output};

use haven_learning::PassportIssuer;
use haven_learning::passport::{Achievement, PassportContent, Recipient};

/// A passport of synthetic records, its issuer's JWKS, in `dir`.
fn passport(dir: &Path, records: usize) -> (String, std::path::PathBuf) {
    let issuer = PassportIssuer::generate("Synthetic Learning Centre", "https://haven.example.org");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let content = PassportContent {
        credential_id: uuid::Uuid::now_v7(),
        recipient: Recipient::Named {
            given_name: "Testa".into(),
            family_name: "Example".into(),
            birth_year: Some(2015),
        },
        achievements: (0..records)
            .map(|i| Achievement {
                record_id: uuid::Uuid::now_v7().to_string(),
                title: format!("Reading grade 4 unit {i}"),
                framework_code: "HAVEN-COMMON".into(),
                subject_code: "READ".into(),
                level_code: "G4".into(),
                outcomes: vec![(format!("R4.{i}"), "Reads aloud".into())],
                score: None,
                occurred_at: Some(now - 86_400),
            })
            .collect(),
        valid_from: now - 10,
        valid_until: Some(now + 86_400),
        status_list_id: "1".into(),
    };
    let jwt = issuer.issue(&content).expect("issue").jwt;
    let jwks = dir.join("issuers.jwks");
    std::fs::write(&jwks, issuer.jwks_json()).expect("write jwks");
    (jwt, jwks)
}

fn haven(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_haven"))
        .args(args)
        .current_dir(dir)
        .env("HAVEN_DATA_DIR", dir.join("data"))
        .output()
        .expect("run haven")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_verified_passport_prints_and_its_scanned_codes_verify() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (jwt, jwks) = passport(dir.path(), 60);
    std::fs::write(dir.path().join("passport.jwt"), &jwt).expect("write");
    let jwks = jwks.to_str().expect("utf-8 path");

    let printed = haven(
        dir.path(),
        &[
            "passport",
            "print",
            "passport.jwt",
            "--out",
            "passport.pdf",
            "--trust",
            jwks,
        ],
    );
    assert!(printed.status.success(), "{}", stderr(&printed));
    let pdf = std::fs::read(dir.path().join("passport.pdf")).expect("the PDF");
    assert!(pdf.starts_with(b"%PDF-1.4"));
    let codes = haven_learning::print::qr::encode(&jwt).expect("encode");
    assert!(codes.len() >= 2);
    assert_eq!(
        stdout(&printed).trim(),
        format!("wrote passport.pdf: one page, {} QR codes", codes.len())
    );

    // What a school saves after scanning the page, in the order it happened to scan.
    let scanned: Vec<&str> = codes.iter().rev().map(String::as_str).collect();
    std::fs::write(dir.path().join("scanned.txt"), scanned.join("\n")).expect("write");
    let verified = haven(
        dir.path(),
        &["passport", "verify", "scanned.txt", "--trust", jwks],
    );
    assert!(verified.status.success(), "{}", stderr(&verified));
    assert!(stdout(&verified).starts_with("valid passport urn:uuid:"));
    assert!(stdout(&verified).contains("- Reading grade 4 unit 59"));
    let validity = stdout(&verified)
        .lines()
        .find(|line| line.starts_with("valid from "))
        .map(str::to_owned)
        .expect("a validity line");
    let dates: Vec<&str> = validity
        .trim_start_matches("valid from ")
        .split(" until ")
        .collect();
    assert_eq!(dates.len(), 2, "{validity}");
    for date in dates {
        assert!(
            chrono::NaiveDateTime::parse_from_str(date, "%Y-%m-%d %H:%M UTC").is_ok(),
            "a date a person reads, not epoch seconds: {date}"
        );
    }

    std::fs::write(dir.path().join("partial.txt"), scanned[1..].join("\n")).expect("write");
    let partial = haven(
        dir.path(),
        &["passport", "verify", "partial.txt", "--trust", jwks],
    );
    assert!(!partial.status.success());
    assert!(
        stderr(&partial).contains("missing code(s)"),
        "{}",
        stderr(&partial)
    );
}

#[test]
fn print_refuses_an_untrusted_or_malformed_passport_and_prints_unverified_without_trust() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (jwt, _) = passport(dir.path(), 1);
    std::fs::write(dir.path().join("passport.jwt"), &jwt).expect("write");
    let stranger = tempfile::tempdir().expect("tempdir");
    let (_, other_jwks) = passport(stranger.path(), 1);

    let refused = haven(
        dir.path(),
        &[
            "passport",
            "print",
            "passport.jwt",
            "--out",
            "refused.pdf",
            "--trust",
            other_jwks.to_str().expect("utf-8 path"),
        ],
    );
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("passport refused, not printed: issuer key is not trusted"));
    assert!(!dir.path().join("refused.pdf").exists());

    std::fs::write(dir.path().join("garbage.jwt"), "not.a.passport").expect("write");
    let malformed = haven(
        dir.path(),
        &["passport", "print", "garbage.jwt", "--out", "garbage.pdf"],
    );
    assert!(!malformed.status.success());
    assert!(
        stderr(&malformed).contains("not a passport"),
        "{}",
        stderr(&malformed)
    );
    assert!(!dir.path().join("garbage.pdf").exists());

    let unverified = haven(
        dir.path(),
        &[
            "passport",
            "print",
            "passport.jwt",
            "--out",
            "unverified.pdf",
        ],
    );
    assert!(unverified.status.success(), "{}", stderr(&unverified));
    assert!(stderr(&unverified).contains("not verified"));
    assert_eq!(
        stdout(&unverified).trim(),
        "wrote unverified.pdf: one page, 1 QR code"
    );
}
