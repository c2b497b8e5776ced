//! Haven access control: who the caller is (claims verified from a JWT), and what they may do with a
//! record (the role policy over data classes and record scope). Services and the gateway share it, so
//! the edge and the data owner decide from the same rules.

mod claims;
mod clients;
mod keys;
mod location;
mod policy;
mod revocation;
mod role;
mod rules;
mod verify;

pub use claims::{Claims, Principal};
pub use clients::{ClientEntry, ClientError, ClientRegistry, hash_secret};
pub use keys::{DevSigningKey, KeyError, TrustedKeys};
pub use location::{
    LEVEL_SEPARATOR, LocationKey, LocationTag, MAX_TAGGED_LEVELS, tag_from_hex, tag_hex,
};
pub use policy::{
    Access, ClassSet, DEFAULT_POLICY_TOML, DataClass, Grant, Permission, Policy, PolicyError,
    RecordAttrs, ReferralGrant, Scope,
};
pub use revocation::{
    REDIS_TIMEOUT, RedisRevocations, RevocationError, RevocationList, RevocationSettings,
    SYNC_INTERVAL,
};
pub use role::Role;
pub use rules::{Door, Requirement, RuleTable, Verdict, method_name};
pub use verify::{
    AuthError, Authenticator, DEFAULT_MAX_LIFETIME_SECS, TokenVerifier, VerifierSettings,
};
