//! Machine clients (partner NGOs, learning platforms) for the OAuth2 client-credentials grant. Each has
//! an id, an agency, roles, and a secret stored only as its SHA-256 (the secret is 32 random bytes, so a
//! fast hash is enough: there is no dictionary to try).

use std::collections::HashMap;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;

use crate::role::Role;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot read or write clients file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("client {0:?} already exists")]
    Exists(String),
    #[error("client {id:?}: role {role:?} is not a machine role (partner, lms or tracing_service)")]
    NotAMachineRole { id: String, role: String },
}

/// One registered client, as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ClientEntry {
    pub id: String,
    /// Hex SHA-256 of the secret.
    pub secret_sha256: String,
    pub agency: String,
    pub roles: Vec<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientsFile {
    #[serde(default)]
    clients: Vec<ClientEntry>,
}

/// The registered clients, by id.
#[derive(Debug, Clone, Default)]
pub struct ClientRegistry {
    clients: HashMap<String, ClientEntry>,
}

const MACHINE_ROLES: [Role; 3] = [Role::Partner, Role::Lms, Role::TracingService];

fn check_roles(entry: &ClientEntry) -> Result<(), ClientError> {
    for role in &entry.roles {
        let machine = role
            .parse::<Role>()
            .is_ok_and(|r| MACHINE_ROLES.contains(&r));
        if !machine {
            return Err(ClientError::NotAMachineRole {
                id: entry.id.clone(),
                role: role.clone(),
            });
        }
    }
    Ok(())
}

fn file_error(path: &Path, reason: impl ToString) -> ClientError {
    ClientError::File {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

fn read_file(path: &Path) -> Result<ClientsFile, ClientError> {
    if !path.exists() {
        return Ok(ClientsFile::default());
    }
    let text = std::fs::read_to_string(path).map_err(|e| file_error(path, e))?;
    toml::from_str(&text).map_err(|e| file_error(path, e))
}

/// Hex SHA-256 of a secret.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Compares without stopping at the first difference, so timing says nothing about the stored hash.
fn same(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

impl ClientRegistry {
    pub fn from_file(path: &Path) -> Result<Self, ClientError> {
        let file = read_file(path)?;
        let mut clients = HashMap::new();
        for entry in file.clients {
            check_roles(&entry)?;
            clients.insert(entry.id.clone(), entry);
        }
        Ok(ClientRegistry { clients })
    }

    /// The client whose id and secret both match; `None` for any mismatch, with no hint which.
    pub fn authenticate(&self, id: &str, secret: &str) -> Option<&ClientEntry> {
        let presented = hash_secret(secret);
        match self.clients.get(id) {
            Some(entry) if same(&entry.secret_sha256, &presented) => Some(entry),
            Some(_) => None,
            None => {
                // Spend the same work on an unknown id.
                let _ = same(&presented, &hash_secret(""));
                None
            }
        }
    }

    /// Registers a new client in `path`, returning its secret (shown once; only its hash is stored).
    pub fn add_to_file(
        path: &Path,
        id: &str,
        agency: &str,
        roles: Vec<String>,
    ) -> Result<String, ClientError> {
        let mut file = read_file(path)?;
        if file.clients.iter().any(|c| c.id == id) {
            return Err(ClientError::Exists(id.into()));
        }
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let secret = URL_SAFE_NO_PAD.encode(bytes);
        let entry = ClientEntry {
            id: id.into(),
            secret_sha256: hash_secret(&secret),
            agency: agency.into(),
            roles,
        };
        check_roles(&entry)?;
        file.clients.push(entry);
        let text = toml::to_string(&file).map_err(|e| file_error(path, e))?;
        std::fs::write(path, text).map_err(|e| file_error(path, e))?;
        Ok(secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registered_client_authenticates_only_with_its_secret() {
        let path =
            std::env::temp_dir().join(format!("haven-clients-{}.toml", uuid::Uuid::now_v7()));
        let secret = ClientRegistry::add_to_file(&path, "ngo-app", "ngo-1", vec!["partner".into()])
            .expect("add");
        let text = std::fs::read_to_string(&path).expect("file");
        assert!(!text.contains(&secret), "only the hash is stored");
        let registry = ClientRegistry::from_file(&path).expect("load");
        assert_eq!(
            registry
                .authenticate("ngo-app", &secret)
                .map(|c| c.agency.as_str()),
            Some("ngo-1")
        );
        assert!(registry.authenticate("ngo-app", "wrong").is_none());
        assert!(registry.authenticate("nobody", &secret).is_none());
        assert!(matches!(
            ClientRegistry::add_to_file(&path, "ngo-app", "ngo-1", vec!["partner".into()]),
            Err(ClientError::Exists(_))
        ));
        assert!(matches!(
            ClientRegistry::add_to_file(&path, "root-app", "ngo-1", vec!["supervisor".into()]),
            Err(ClientError::NotAMachineRole { .. })
        ));
        std::fs::remove_file(path).ok();
    }
}
