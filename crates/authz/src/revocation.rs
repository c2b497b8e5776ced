//! What the authenticator asks on every call: has this token been revoked? The revoked set itself is
//! storage (in memory for the embedded default, Redis shared by every replica otherwise) and lives in
//! `haven_platform::revocation`; this crate only needs an answer, so it names the question as a trait.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// Why a revocation list gave no answer. The authenticator fails closed on it.
#[derive(Debug, thiserror::Error)]
pub enum RevocationError {
    #[error("revocation store unavailable: {0}")]
    Unavailable(String),
}

/// The future a [`Revocations`] method returns: boxed, so the authenticator can hold any list behind
/// one `dyn Revocations`.
pub type RevocationFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, RevocationError>> + Send + 'a>>;

/// A list of revoked token ids (`jti`), asked on every authenticated call and never cached.
pub trait Revocations: fmt::Debug + Send + Sync {
    /// Whether the token `jti` is revoked. An error means the list cannot answer now; the caller must
    /// then refuse the call rather than assume "not revoked".
    fn is_revoked<'a>(&'a self, jti: &'a str) -> RevocationFuture<'a, bool>;

    /// Revokes `jti` until `exp` (the token's own expiry; after it the token is dead anyway). An error
    /// means the revocation was not recorded.
    fn revoke<'a>(&'a self, jti: &'a str, exp: u64) -> RevocationFuture<'a, ()>;
}
