//! An issued passport, EdDSA or RS256, verifies with PyJWT (an independent JOSE implementation), and a
//! tampered one does not. The venv lives outside the repository, at
//! `${HAVEN_CACHE:-$HOME/.cache/haven}/learning-venv`, with `pyjwt[crypto]==2.10.1`. Without python3's
//! venv or pip the tests say why and pass, unless `CI=true`, where they fail.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use ed25519_dalek::SigningKey;
use haven_learning::PassportIssuer;
use haven_learning::passport::PassportAlgorithm;

fn cache_dir() -> PathBuf {
    std::env::var_os("HAVEN_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/haven")))
        .unwrap_or_else(|| std::env::temp_dir().join("haven-cache"))
}

/// The venv's python, created on first use; Err says why it cannot be.
fn venv_python() -> Result<PathBuf, String> {
    // The tests run in parallel; one of them creates the venv.
    static CREATING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = CREATING.lock().unwrap_or_else(|e| e.into_inner());
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

/// PyJWT accepts the passport `issuer` signs and refuses it with one byte changed. Returns PyJWT's
/// report of the accepted one.
fn check_with_pyjwt(python: &Path, issuer: &PassportIssuer, jwks_json: &str) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let jwt = common::one_record_passport(issuer, Some(2015));
    let jwks = dir.path().join("issuer.jwks");
    std::fs::write(&jwks, jwks_json).expect("write jwks");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/verify_with_pyjwt.py");
    let run = |token: &str| {
        let file = dir.path().join("passport.jwt");
        std::fs::write(&file, token).expect("write jwt");
        Command::new(python)
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
    let report = String::from_utf8_lossy(&ok.stdout).into_owned();
    assert!(report.contains(issuer.did()), "{report}");

    let mut tampered = jwt.into_bytes();
    let at = tampered.len() / 2;
    tampered[at] = if tampered[at] == b'x' { b'y' } else { b'x' };
    let bad = run(&String::from_utf8(tampered).expect("ascii"));
    assert!(!bad.status.success(), "PyJWT accepted a tampered passport");
    report
}

fn python_or_skip() -> Option<PathBuf> {
    match venv_python() {
        Ok(python) => Some(python),
        Err(why) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!("skipped: {why}");
            None
        }
        Err(why) => panic!("CI=true and PyJWT is unavailable: {why}"),
    }
}

#[test]
fn an_issued_passport_verifies_with_pyjwt_and_a_tampered_one_does_not() {
    let Some(python) = python_or_skip() else {
        return;
    };
    let issuer = PassportIssuer::from_signing_key(
        &SigningKey::generate(&mut rand::rngs::OsRng),
        "Test Learning Network",
        "https://haven.test.example",
    );
    let report = check_with_pyjwt(&python, &issuer, &issuer.jwks_json());
    assert!(report.contains(r#""alg": "EdDSA""#), "{report}");
}

/// The RSA key comes from `cryptography` (OpenSSL), as an operator's `openssl genpkey` key would, so
/// the key file format is checked against another implementation too.
#[test]
fn an_rs256_passport_verifies_with_pyjwt_and_a_tampered_one_does_not() {
    let Some(python) = python_or_skip() else {
        return;
    };
    let generated = Command::new(&python)
        .args([
            "-c",
            "from cryptography.hazmat.primitives.asymmetric import rsa\n\
             from cryptography.hazmat.primitives import serialization as s\n\
             k = rsa.generate_private_key(public_exponent=65537, key_size=3072)\n\
             print(k.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()).decode())",
        ])
        .output()
        .expect("run python");
    assert!(generated.status.success(), "key generation failed");
    let pem = String::from_utf8(generated.stdout).expect("pem");
    let issuer =
        PassportIssuer::from_pkcs8_pem(&pem, "Test Learning Network", "https://haven.test.example")
            .expect("an RSA key");
    assert_eq!(issuer.algorithm(), PassportAlgorithm::Rs256);
    let report = check_with_pyjwt(&python, &issuer, &issuer.jwks_json());
    assert!(report.contains(r#""alg": "RS256""#), "{report}");

    // A JWKS holding only an Ed25519 issuer's key does not cover it, for PyJWT either.
    let other = PassportIssuer::generate("Other", "https://other.example");
    let dir = tempfile::tempdir().expect("temp dir");
    let (file, jwks) = (dir.path().join("p.jwt"), dir.path().join("e.jwks"));
    std::fs::write(&file, common::one_record_passport(&issuer, Some(2015))).expect("write jwt");
    std::fs::write(&jwks, other.jwks_json()).expect("write jwks");
    let refused = Command::new(&python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/verify_with_pyjwt.py"))
        .arg(&file)
        .arg(&jwks)
        .output()
        .expect("run python");
    assert!(!refused.status.success());
}
