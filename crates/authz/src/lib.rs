//! Haven access control: who the caller is (claims verified from a JWT), and what they may do with a
//! record (the role policy over data classes and record scope). Services and the gateway share it, so
//! the edge and the data owner decide from the same rules.
//!
//! Pure: no network, no files. The revoked-token list is asked through the [`Revocations`] trait
//! (implemented in `haven_platform::revocation`), and the key, client and policy files are read and
//! written by `haven_platform::authz_files`; this crate only parses and serialises them.
//!
//! Modules depend one way: `role` <- `claims` <- `policy` <- `rules`, and `verify` on `claims`, `keys`
//! and `revocation`.

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
pub use clients::{ClientEntry, ClientError, ClientRegistry, ClientsFile, hash_secret};
pub use keys::{DevSigningKey, KeyError, TrustedKeys};
pub use location::{
    LEVEL_SEPARATOR, LocationKey, LocationTag, MAX_TAGGED_LEVELS, tag_from_hex, tag_hex,
};
pub use policy::{
    Access, ClassSet, DEFAULT_POLICY_TOML, DataClass, Grant, Permission, Policy, PolicyError,
    RecordAttrs, ReferralGrant, Scope,
};
pub use revocation::{RevocationError, RevocationFuture, Revocations};
pub use role::Role;
pub use rules::{Door, Requirement, RuleTable, Verdict, method_name};
pub use verify::{
    AuthError, Authenticator, DEFAULT_MAX_LIFETIME_SECS, TokenVerifier, VerifierSettings,
};
