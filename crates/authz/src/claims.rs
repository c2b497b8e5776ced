//! The token's claims as Haven reads them, and the verified principal handed to request handlers.

use serde::{Deserialize, Serialize};

use crate::location::{LocationKey, LocationTag};
use crate::role::Role;

/// The claims of a Haven access token (DESIGN.md §4). All but `team`, `locations` and `nbf` are required.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub exp: u64,
    pub iat: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    pub jti: String,
    pub roles: Vec<String>,
    pub agency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<String>,
}

/// A caller whose token has been verified. Unknown role names are dropped: deny by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub sub: String,
    pub agency: String,
    pub roles: Vec<Role>,
    pub team: Option<String>,
    pub locations: Vec<String>,
    /// Tags of `locations` under the service's [`LocationKey`]; empty until
    /// [`Principal::with_location_tags`] fills them in (the gateway never needs them).
    pub location_tags: Vec<LocationTag>,
    pub jti: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
}

impl Principal {
    pub(crate) fn from_claims(claims: Claims) -> Self {
        let mut roles: Vec<Role> = claims
            .roles
            .iter()
            .filter_map(|name| name.parse().ok())
            .collect();
        roles.sort();
        roles.dedup();
        Principal {
            sub: claims.sub,
            agency: claims.agency,
            roles,
            team: claims.team,
            locations: claims.locations,
            location_tags: Vec::new(),
            jti: claims.jti,
            exp: claims.exp,
        }
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// This principal with its `locations` claims tagged under `key`, for the `location` scope. Claims
    /// that name no valid area are dropped: they grant nothing.
    pub fn with_location_tags(&self, key: &LocationKey) -> Principal {
        let mut tags: Vec<LocationTag> = self
            .locations
            .iter()
            .filter_map(|claim| key.tag_for_claim(claim))
            .collect();
        tags.sort_unstable();
        tags.dedup();
        Principal {
            location_tags: tags,
            ..self.clone()
        }
    }
}
