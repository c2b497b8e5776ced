//! `haven config dump` through the binary as an operator runs it: defaults, then the file, then
//! HAVEN_* variables old and new, printed as TOML with secrets masked.

use std::process::Command;

fn haven() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_haven"));
    // Only the variables each test sets.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("HAVEN_") {
            command.env_remove(name);
        }
    }
    command
}

#[test]
fn the_dump_layers_file_and_environment_and_masks_secrets() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("haven.toml");
    std::fs::write(
        &file,
        "[learning]\nissuer_name = \"From the file\"\n[gateway]\nrate_limit_burst = 7\n",
    )
    .expect("write");
    let output = haven()
        .args(["--config", file.to_str().expect("utf-8"), "config", "dump"])
        .env("HAVEN_LEARNING__ISSUER_NAME", "Haven Uganda")
        .env("HAVEN_RATE_LIMIT_PER_SECOND", "9")
        .env(
            "HAVEN_IDENTITY__DATABASE_URL",
            "postgres://haven:s3cret@db:5432/identity",
        )
        .env("HAVEN_REDIS_URL", "redis://:hunter2@redis:6379")
        .env("HAVEN_MASTER_KEY", "v1:bm90LWEtcmVhbC1rZXk=")
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("issuer_name = \"Haven Uganda\""),
        "{stdout}"
    );
    assert!(stdout.contains("rate_limit_burst = 7"), "{stdout}");
    assert!(stdout.contains("rate_limit_per_second = 9"), "{stdout}");
    assert!(
        stdout.contains("postgres://********@db:5432/identity"),
        "{stdout}"
    );
    assert!(stdout.contains("redis://********@redis:6379"), "{stdout}");
    assert!(stdout.contains("# HAVEN_MASTER_KEY is set"), "{stdout}");
    for secret in ["s3cret", "hunter2", "bm90LWEtcmVhbC1rZXk"] {
        assert!(!stdout.contains(secret), "{secret} leaked:\n{stdout}");
    }

    // What it prints is a config file that reads back to the same configuration.
    let dumped = dir.path().join("dumped.toml");
    std::fs::write(&dumped, stdout.as_bytes()).expect("write");
    let again = haven()
        .args([
            "--config",
            dumped.to_str().expect("utf-8"),
            "config",
            "dump",
        ])
        .output()
        .expect("runs");
    assert!(again.status.success());
    let again = String::from_utf8_lossy(&again.stdout);
    let body = |text: &str| {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(body(&again), body(&stdout));
}

#[test]
fn an_unknown_variable_under_a_section_stops_the_binary_naming_it() {
    let output = haven()
        .args(["config", "dump"])
        .env("HAVEN_LEARNING__ISSUER", "typo for issuer_name")
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("HAVEN_LEARNING__ISSUER"), "{stderr}");
}
