//! Where access control keeps its files: the development signing key and its public JWKS under
//! `<data_dir>/keys/`, a deployment's trusted JWKS, the machine clients file and the role policy file.
//!
//! `haven_authz` parses and serialises these and does no I/O itself. The extension traits here give its
//! types their file constructors back, so `DevSigningKey::load_or_create(dir)` and
//! `ClientRegistry::add_to_file(..)` read as they always did once the trait is in scope. Private bytes
//! (the signing key, and the clients file, which lists every machine client) are written through
//! `haven_keyfile`: owner-only from the first byte and atomically.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use haven_authz::{
    ClientError, ClientRegistry, ClientsFile, DevSigningKey, KeyError, Policy, PolicyError,
    TrustedKeys,
};
use haven_keyfile::KeyFileError;

/// `<data_dir>/keys`: the development signing key and its JWKS.
const KEYS_DIR: &str = "keys";
/// The development signing key: PKCS#8 DER.
const PRIVATE_KEY_FILE: &str = "dev-signing-key.p8";
const JWKS_FILE: &str = "jwks.json";

/// The embedded default's token signing key, kept in `<data_dir>/keys/`.
pub trait DevSigningKeyFiles: Sized {
    /// Loads the key from `<data_dir>/keys`, creating it (owner-only, atomically) on first use, and
    /// (re)writes its public JWKS beside it.
    fn load_or_create(data_dir: &Path) -> Result<Self, KeyError>;

    /// Where `load_or_create` writes the public JWKS for this data directory.
    fn jwks_path(data_dir: &Path) -> PathBuf;
}

fn key_io_error(error: KeyFileError) -> KeyError {
    KeyError::Io {
        path: error.path,
        source: error.source,
    }
}

impl DevSigningKeyFiles for DevSigningKey {
    fn load_or_create(data_dir: &Path) -> Result<Self, KeyError> {
        let private_path = data_dir.join(KEYS_DIR).join(PRIVATE_KEY_FILE);
        let der = haven_keyfile::load_or_create(&private_path, || {
            DevSigningKey::generate_pkcs8_der().map_err(|reason| KeyFileError {
                action: "create",
                path: private_path.clone(),
                source: io::Error::other(reason),
            })
        })
        .map_err(key_io_error)?;
        let key = DevSigningKey::from_pkcs8_der(&der).map_err(|reason| KeyError::Invalid {
            path: private_path.clone(),
            reason,
        })?;
        let jwks_path = Self::jwks_path(data_dir);
        fs::write(&jwks_path, key.jwks_json()).map_err(|source| KeyError::Io {
            path: jwks_path,
            source,
        })?;
        Ok(key)
    }

    fn jwks_path(data_dir: &Path) -> PathBuf {
        data_dir.join(KEYS_DIR).join(JWKS_FILE)
    }
}

/// The public keys a deployment trusts, from a JWKS file.
pub trait TrustedKeysFiles: Sized {
    fn from_jwks_file(path: &Path) -> Result<Self, KeyError>;
}

impl TrustedKeysFiles for TrustedKeys {
    fn from_jwks_file(path: &Path) -> Result<Self, KeyError> {
        let text = fs::read_to_string(path).map_err(|source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        TrustedKeys::from_jwks_json(&text).map_err(|reason| KeyError::Invalid {
            path: path.to_path_buf(),
            reason,
        })
    }
}

/// The machine clients file (TOML, `[[clients]]` tables). A missing file holds no clients.
pub trait ClientRegistryFiles: Sized {
    fn from_file(path: &Path) -> Result<Self, ClientError>;

    /// Registers a new client in `path`, returning its secret (shown once; only its hash is stored).
    /// The file is replaced whole, owner-only: a crash leaves the old list or the new one.
    fn add_to_file(
        path: &Path,
        id: &str,
        agency: &str,
        roles: Vec<String>,
    ) -> Result<String, ClientError>;
}

fn clients_error(path: &Path, reason: impl ToString) -> ClientError {
    ClientError::File {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

fn read_clients(path: &Path) -> Result<ClientsFile, ClientError> {
    if !path.exists() {
        return Ok(ClientsFile::default());
    }
    let text = fs::read_to_string(path).map_err(|e| clients_error(path, e))?;
    ClientsFile::from_toml(&text).map_err(|e| clients_error(path, e))
}

impl ClientRegistryFiles for ClientRegistry {
    fn from_file(path: &Path) -> Result<Self, ClientError> {
        ClientRegistry::from_clients_file(read_clients(path)?)
    }

    fn add_to_file(
        path: &Path,
        id: &str,
        agency: &str,
        roles: Vec<String>,
    ) -> Result<String, ClientError> {
        let mut file = read_clients(path)?;
        let secret = file.add(id, agency, roles)?;
        let text = file.to_toml().map_err(|e| clients_error(path, e))?;
        haven_keyfile::replace(path, text.as_bytes()).map_err(|e| clients_error(path, e.source))?;
        Ok(secret)
    }
}

/// A role policy file (TOML; see `haven_authz::DEFAULT_POLICY_TOML`).
pub trait PolicyFiles: Sized {
    /// Reads and validates a policy file.
    fn from_file(path: &Path) -> Result<Self, PolicyError>;
}

impl PolicyFiles for Policy {
    fn from_file(path: &Path) -> Result<Self, PolicyError> {
        let text = fs::read_to_string(path)
            .map_err(|e| PolicyError::Syntax(format!("cannot read {}: {e}", path.display())))?;
        Policy::from_toml(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("haven-authz-files-{}", uuid::Uuid::now_v7()));
        fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[test]
    fn the_dev_key_is_created_owner_only_and_survives_a_restart() {
        let dir = temp_dir();
        let key = DevSigningKey::load_or_create(&dir).expect("key");
        let private = dir.join("keys").join("dev-signing-key.p8");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&private)
                .expect("key file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // The same data dir yields the same kid.
        let again = DevSigningKey::load_or_create(&dir).expect("reload");
        assert_eq!(again.kid(), key.kid());
        // The public JWKS beside it is what a deployment without the private key trusts.
        let trusted =
            TrustedKeys::from_jwks_file(&DevSigningKey::jwks_path(&dir)).expect("jwks file");
        assert_eq!(trusted.kids().collect::<Vec<_>>(), [key.kid()]);
        fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn a_dev_key_file_written_before_this_layout_still_loads() {
        let dir = temp_dir();
        let der = DevSigningKey::generate_pkcs8_der().expect("generate");
        let expected = DevSigningKey::from_pkcs8_der(&der).expect("parse");
        // The earlier code wrote the PKCS#8 DER as is, at the same path.
        fs::create_dir_all(dir.join("keys")).expect("keys dir");
        fs::write(dir.join("keys").join("dev-signing-key.p8"), &*der).expect("old key file");
        let loaded = DevSigningKey::load_or_create(&dir).expect("load");
        assert_eq!(loaded.kid(), expected.kid());
        let on_disk = fs::read(dir.join("keys").join("dev-signing-key.p8")).expect("read");
        assert_eq!(on_disk, *der, "loading never rewrites the key");
        fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn a_broken_dev_key_or_jwks_file_is_reported_with_its_path() {
        let dir = temp_dir();
        fs::create_dir_all(dir.join("keys")).expect("keys dir");
        fs::write(dir.join("keys").join("dev-signing-key.p8"), b"not der").expect("write");
        let error = DevSigningKey::load_or_create(&dir).expect_err("not a key");
        assert!(matches!(error, KeyError::Invalid { .. }), "{error}");
        assert!(error.to_string().contains("dev-signing-key.p8"), "{error}");
        let jwks = dir.join("jwks.json");
        assert!(matches!(
            TrustedKeys::from_jwks_file(&jwks),
            Err(KeyError::Io { .. })
        ));
        fs::write(&jwks, "{}").expect("write");
        assert!(matches!(
            TrustedKeys::from_jwks_file(&jwks),
            Err(KeyError::Invalid { .. })
        ));
        fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn a_client_added_to_the_file_authenticates_after_a_reload_and_only_its_hash_is_stored() {
        let dir = temp_dir();
        let path = dir.join("clients.toml");
        assert!(
            ClientRegistry::from_file(&path)
                .expect("a missing file holds no clients")
                .authenticate("ngo-app", "")
                .is_none()
        );
        let secret = ClientRegistry::add_to_file(&path, "ngo-app", "ngo-1", vec!["partner".into()])
            .expect("add");
        let other = ClientRegistry::add_to_file(&path, "lms-app", "ngo-2", vec!["lms".into()])
            .expect("add another");
        let text = fs::read_to_string(&path).expect("file");
        assert!(!text.contains(&secret) && !text.contains(&other));
        let registry = ClientRegistry::from_file(&path).expect("load");
        assert_eq!(
            registry
                .authenticate("ngo-app", &secret)
                .map(|c| c.agency.as_str()),
            Some("ngo-1")
        );
        assert!(registry.authenticate("lms-app", &other).is_some());
        assert!(matches!(
            ClientRegistry::add_to_file(&path, "ngo-app", "ngo-1", vec!["partner".into()]),
            Err(ClientError::Exists(_))
        ));
        assert!(matches!(
            ClientRegistry::add_to_file(&path, "root-app", "ngo-1", vec!["supervisor".into()]),
            Err(ClientError::NotAMachineRole { .. })
        ));
        assert_eq!(fs::read_to_string(&path).expect("file"), text);
        fs::write(&path, "clients = 3").expect("write");
        let error = ClientRegistry::from_file(&path).expect_err("not a clients file");
        assert!(error.to_string().contains("clients.toml"), "{error}");
        fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn a_policy_file_is_read_and_validated() {
        let dir = temp_dir();
        let path = dir.join("policy.toml");
        let missing = Policy::from_file(&path).expect_err("missing");
        assert!(missing.to_string().contains("policy.toml"), "{missing}");
        fs::write(&path, haven_authz::DEFAULT_POLICY_TOML).expect("write");
        assert_eq!(
            Policy::from_file(&path).expect("default"),
            Policy::default()
        );
        fs::remove_dir_all(dir).ok();
    }
}
