//! Why a passport or a status list does not verify, or cannot be made.

/// Why a passport (or a status list) does not verify, or cannot be made. Messages are safe to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PassportError {
    #[error("not a compact JWT")]
    Malformed,
    #[error("algorithm {0} is not accepted")]
    AlgorithmNotAccepted(String),
    #[error("the header names no key (kid)")]
    MissingKeyId,
    #[error("issuer key is not trusted")]
    UntrustedIssuer,
    #[error("signature does not verify")]
    BadSignature,
    #[error("issuer does not match the signing key")]
    IssuerMismatch,
    #[error("not an Open Badges 3.0 credential: {0}")]
    NotACredential(&'static str),
    #[error("not yet valid")]
    NotYetValid,
    #[error("expired")]
    Expired,
    #[error("trust list is not valid: {0}")]
    TrustList(String),
    #[error("issuer key is not valid: {0}")]
    Key(String),
    #[error("status list does not cover this credential")]
    StatusListMismatch,
}
