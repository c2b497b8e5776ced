//! An issued passport verifies with PyJWT (an independent JOSE implementation), and a tampered one does
//! not. The venv lives outside the repository, at `${HAVEN_CACHE:-$HOME/.cache/haven}/learning-venv`,
//! with `pyjwt[crypto]==2.10.1`. Without python3's venv or pip the test says why and passes, unless
//! `CI=true`, where it fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use ed25519_dalek::SigningKey;
use haven_learning::PassportIssuer;
use haven_learning::passport::{Achievement, PassportContent, Recipient, Score};

fn cache_dir() -> PathBuf {
    std::env::var_os("HAVEN_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/haven")))
        .unwrap_or_else(|| std::env::temp_dir().join("haven-cache"))
}

/// The venv's python, created on first use; Err says why it cannot be.
fn venv_python() -> Result<PathBuf, String> {
    let venv = cache_dir().join("learning-venv");
    let python = venv.join("bin").join("python");
    let ready = |python: &Path| {
        Command::new(python)
            .args([
                "-c",
                "import jwt, cryptography; assert jwt.__version__ == '2.10.1'",
            ])
            .status()
            .is_ok_and(|s| s.success())
    };
    if python.exists() && ready(&python) {
        return Ok(python);
    }
    let created = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .map_err(|e| format!("python3 is not available: {e}"))?;
    if !created.success() {
        return Err("python3 -m venv failed (is the venv module installed?)".into());
    }
    let installed = Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", "pyjwt[crypto]==2.10.1"])
        .status()
        .map_err(|e| format!("pip is not available: {e}"))?;
    if !installed.success() || !ready(&python) {
        return Err("pip could not install pyjwt[crypto]==2.10.1".into());
    }
    Ok(python)
}

fn passport(issuer: &PassportIssuer) -> String {
    let now = chrono::Utc::now().timestamp();
    let content = PassportContent {
        credential_id: uuid::Uuid::now_v7(),
        recipient: Recipient::Named {
            given_name: "Testa".into(),
            family_name: "Example".into(),
            birth_year: Some(2015),
        },
        achievements: vec![Achievement {
            record_id: uuid::Uuid::now_v7().to_string(),
            title: "Grade 5 mathematics".into(),
            framework_code: "HAVEN-COMMON".into(),
            subject_code: "MATH".into(),
            level_code: "G5".into(),
            outcomes: vec![("M5.1".into(), "Fractions".into())],
            score: Some(Score {
                raw: 39.0,
                max: 50.0,
                scaled: Some(78.0),
                passed: Some(true),
                grade: String::new(),
            }),
            occurred_at: Some(now),
        }],
        valid_from: now - 5,
        valid_until: Some(now + 3600),
        status_list_id: "1".into(),
    };
    issuer.issue(&content).expect("issue").jwt
}

#[test]
fn an_issued_passport_verifies_with_pyjwt_and_a_tampered_one_does_not() {
    let python = match venv_python() {
        Ok(python) => python,
        Err(why) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!("skipped: {why}");
            return;
        }
        Err(why) => panic!("CI=true and PyJWT is unavailable: {why}"),
    };
    let issuer = PassportIssuer::from_signing_key(
        &SigningKey::generate(&mut rand::rngs::OsRng),
        "Test Learning Network",
        "https://haven.test.example",
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let jwt = passport(&issuer);
    let jwks = dir.path().join("issuer.jwks");
    std::fs::write(&jwks, issuer.jwks_json()).expect("write jwks");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/verify_with_pyjwt.py");
    let run = |token: &str| {
        let file = dir.path().join("passport.jwt");
        std::fs::write(&file, token).expect("write jwt");
        Command::new(&python)
            .arg(&script)
            .arg(&file)
            .arg(&jwks)
            .output()
            .expect("run python")
    };
    let ok = run(&jwt);
    assert!(
        ok.status.success(),
        "PyJWT rejected the passport: {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains(issuer.did()));

    let mut tampered = jwt.into_bytes();
    let at = tampered.len() / 2;
    tampered[at] = if tampered[at] == b'x' { b'y' } else { b'x' };
    let bad = run(&String::from_utf8(tampered).expect("ascii"));
    assert!(!bad.status.success(), "PyJWT accepted a tampered passport");
}
