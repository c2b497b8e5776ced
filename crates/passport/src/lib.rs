//! The learning passport, without a database: an Open Badges 3.0 `AchievementCredential` as a VC-JWT,
//! signed by a `did:key` issuer with EdDSA (Ed25519, the default) or RS256 (RSA, opt-in, the algorithm
//! OB 3.0 requires every verifier to support), its offline verification against a trust list, the
//! status list that revokes it, and the printed page that carries it on paper.
//!
//! The learning service stores and serves passports; everything here is pure computation plus the
//! issuer's key files, so `haven passport verify`, `haven passport print` and any school without a
//! network run the same code.
//!
//! | module | what it holds |
//! |---|---|
//! | [`PassportIssuer`] (`issuer`) | the deployment's signing key, its names (did:key, kid) and its key files |
//! | `keys` | key material: Ed25519 and RSA keys, parsing, generation, the algorithm each one signs |
//! | `jws` | the compact JWS form: signing input, header checks, signature |
//! | `jwks` | JSON Web Keys out (published) and in (other issuers' keys) |
//! | [`TrustList`] (`trust_list`) | the issuer keys a verifier accepts, and the signature check against them |
//! | [`credential`] | the credential: its content, the writer ([`PassportIssuer::issue`]) and the reader ([`verify`]) |
//! | `status_list` | the signed `1EdTechRevocationList` and [`is_revoked`] |
//! | [`didkey`] | `did:key` identifiers of Ed25519 and RSA keys |
//! | [`print`](mod@print) | the paper passport: QR codes and a one-page PDF |

pub mod credential;
pub mod didkey;
mod error;
mod issuer;
mod jwks;
mod jws;
mod keys;
pub mod print;
mod status_list;
mod trust_list;

#[cfg(test)]
mod test_support;

pub use credential::{
    Achievement, ImportedAchievement, IssuedPassport, LEEWAY_SECS, PassportContent, Recipient,
    Score, VerifiedPassport, hashed_identity, verify, verify_at,
};
pub use error::PassportError;
pub use issuer::PassportIssuer;
pub use keys::{Algorithm, GENERATED_RSA_BITS, MAX_RSA_BITS, MIN_RSA_BITS};
pub use status_list::is_revoked;
pub use trust_list::TrustList;
