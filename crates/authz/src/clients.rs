//! Machine clients (partner NGOs, learning platforms) for the OAuth2 client-credentials grant. Each has
//! an id, an agency, roles, and a secret stored only as its SHA-256 (the secret is 32 random bytes, so a
//! fast hash is enough: there is no dictionary to try). The clients file is read and written by
//! `haven_platform::authz_files`; this module parses, checks and serialises it.

use std::collections::HashMap;

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

/// The clients file's contents (`[[clients]]` tables), as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientsFile {
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

impl ClientsFile {
    /// Parses a clients file; the error says what is wrong, the caller says where.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    pub fn to_toml(&self) -> Result<String, String> {
        toml::to_string(self).map_err(|e| e.to_string())
    }

    pub fn clients(&self) -> &[ClientEntry] {
        &self.clients
    }

    /// Registers a new client, returning its secret (shown once; only its hash is stored).
    pub fn add(
        &mut self,
        id: &str,
        agency: &str,
        roles: Vec<String>,
    ) -> Result<String, ClientError> {
        if self.clients.iter().any(|c| c.id == id) {
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
        self.clients.push(entry);
        Ok(secret)
    }
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
    /// The registry of a clients file. Refuses a client holding any role but a machine role.
    pub fn from_clients_file(file: ClientsFile) -> Result<Self, ClientError> {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registered_client_authenticates_only_with_its_secret() {
        let mut file = ClientsFile::default();
        let secret = file
            .add("ngo-app", "ngo-1", vec!["partner".into()])
            .expect("add");
        let text = file.to_toml().expect("serialise");
        assert!(!text.contains(&secret), "only the hash is stored");
        let file = ClientsFile::from_toml(&text).expect("parse");
        let registry = ClientRegistry::from_clients_file(file.clone()).expect("load");
        assert_eq!(
            registry
                .authenticate("ngo-app", &secret)
                .map(|c| c.agency.as_str()),
            Some("ngo-1")
        );
        assert!(registry.authenticate("ngo-app", "wrong").is_none());
        assert!(registry.authenticate("nobody", &secret).is_none());
        let mut file = file;
        assert!(matches!(
            file.add("ngo-app", "ngo-1", vec!["partner".into()]),
            Err(ClientError::Exists(_))
        ));
        assert!(matches!(
            file.add("root-app", "ngo-1", vec!["supervisor".into()]),
            Err(ClientError::NotAMachineRole { .. })
        ));
        assert_eq!(file.clients().len(), 1, "a refused client is not added");
    }

    #[test]
    fn a_clients_file_naming_a_human_role_is_refused() {
        let text = r#"
            [[clients]]
            id = "root-app"
            secret_sha256 = "00"
            agency = "ngo-1"
            roles = ["supervisor"]
        "#;
        let file = ClientsFile::from_toml(text).expect("well-formed");
        assert!(matches!(
            ClientRegistry::from_clients_file(file),
            Err(ClientError::NotAMachineRole { .. })
        ));
        assert!(ClientsFile::from_toml("[[clients]]\nid = 1").is_err());
    }
}
