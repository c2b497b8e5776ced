//! The roles a token can name. Its own module so that the claims (which carry roles) and the policy
//! (which grants rights to roles) both depend on it and not on each other.

use std::fmt;
use std::str::FromStr;

/// A role named in a token's `roles` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Caseworker,
    Supervisor,
    ReunificationOfficer,
    Educator,
    Partner,
    Lms,
    Auditor,
    Admin,
    /// The family tracing service itself, reading the identity of children who consented to tracing
    /// into its matching projection. A machine principal: the gateway admits it to no RPC.
    TracingService,
}

impl Role {
    pub const ALL: [Role; 9] = [
        Role::Caseworker,
        Role::Supervisor,
        Role::ReunificationOfficer,
        Role::Educator,
        Role::Partner,
        Role::Lms,
        Role::Auditor,
        Role::Admin,
        Role::TracingService,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Caseworker => "caseworker",
            Role::Supervisor => "supervisor",
            Role::ReunificationOfficer => "reunification_officer",
            Role::Educator => "educator",
            Role::Partner => "partner",
            Role::Lms => "lms",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
            Role::TracingService => "tracing_service",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == name)
            .ok_or_else(|| format!("unknown role {name:?}"))
    }
}
