//! Token verification: the header first (`typ` says it is a JWT, no `crit` extension, the algorithm
//! pinned to the key's type), then the signature, `iss`, `aud`, `exp` and `nbf` with a small leeway, an
//! `iat` not in the future and a lifetime (`exp - iat`) no longer than the configured maximum; then the
//! revocation check on every call. Signature checks cost 90 to 500 µs, so verified tokens are cached by
//! their SHA-256 until they expire; revocation is never cached.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Validation, decode, decode_header};
use sha2::{Digest, Sha256};

use crate::claims::{Claims, Principal};
use crate::keys::TrustedKeys;
use crate::revocation::{RevocationError, Revocations};

/// Why a caller is not authenticated. The messages are safe to return to the caller.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("missing bearer token in the authorization metadata")]
    Missing,
    #[error("authorization metadata is not a bearer token")]
    Malformed,
    #[error("token expired")]
    Expired,
    #[error("token not yet valid")]
    NotYetValid,
    #[error("token signed by an unknown key")]
    UnknownKey,
    #[error("token is not valid: {0}")]
    Invalid(&'static str),
    #[error("token revoked")]
    Revoked,
    #[error("cannot check token revocation right now")]
    Unavailable,
}

/// What a token must say to be accepted.
#[derive(Debug, Clone)]
pub struct VerifierSettings {
    pub issuer: String,
    pub audience: String,
    /// Clock skew allowed on `exp`, `nbf` and `iat`, in seconds; capped at 30.
    pub leeway_secs: u64,
    /// The longest lifetime (`exp - iat`) a token may claim, in seconds. A stolen token with a far-off
    /// `exp` would otherwise work until that date.
    pub max_lifetime_secs: u64,
}

impl Default for VerifierSettings {
    fn default() -> Self {
        VerifierSettings {
            issuer: "haven-dev".into(),
            audience: "haven".into(),
            leeway_secs: 10,
            max_lifetime_secs: DEFAULT_MAX_LIFETIME_SECS,
        }
    }
}

/// The default longest token lifetime: a day, the longest `haven token` signs.
pub const DEFAULT_MAX_LIFETIME_SECS: u64 = 24 * 3600;
const MAX_LEEWAY_SECS: u64 = 30;
/// The `typ` values of an access token (RFC 7519 §5.1, RFC 9068 §2.1), compared case-insensitively
/// (RFC 7515 §4.1.9), with or without the `application/` prefix.
const ACCESS_TOKEN_TYPES: [&str; 2] = ["jwt", "at+jwt"];
const CACHE_CAPACITY: usize = 100_000;

/// Verifies tokens against trusted keys and caches the verified ones.
pub struct TokenVerifier {
    keys: TrustedKeys,
    settings: VerifierSettings,
    cache: RwLock<HashMap<[u8; 32], Arc<Principal>>>,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("keys", &self.keys)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl TokenVerifier {
    pub fn new(keys: TrustedKeys, mut settings: VerifierSettings) -> Self {
        settings.leeway_secs = settings.leeway_secs.min(MAX_LEEWAY_SECS);
        TokenVerifier {
            keys,
            settings,
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// Verifies a compact JWS and returns the principal it names.
    pub fn verify(&self, token: &str) -> Result<Arc<Principal>, AuthError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = now();
        if let Some(principal) = self.cached(&digest) {
            if now <= principal.exp.saturating_add(self.settings.leeway_secs) {
                return Ok(principal);
            }
            self.forget(&digest);
            return Err(AuthError::Expired);
        }
        let principal = Arc::new(self.verify_uncached(token)?);
        self.remember(digest, principal.clone(), now);
        Ok(principal)
    }

    fn verify_uncached(&self, token: &str) -> Result<Principal, AuthError> {
        let header = decode_header(token).map_err(|_| AuthError::Invalid("malformed"))?;
        // RFC 7515 §4.1.11: a recipient must refuse a token naming extensions it does not understand,
        // and Haven understands none.
        if header.crit.is_some() {
            return Err(AuthError::Invalid("unsupported critical header"));
        }
        if !header.typ.as_deref().is_some_and(is_access_token_type) {
            return Err(AuthError::Invalid("not an access token (typ)"));
        }
        let kid = header.kid.as_deref().ok_or(AuthError::UnknownKey)?;
        let trusted = self.keys.by_kid.get(kid).ok_or(AuthError::UnknownKey)?;
        // The algorithm comes from the key we trust, never from the token: `none`, HS256-with-a-public-key
        // and RS/ES confusion all fail here.
        if header.alg != trusted.algorithm {
            return Err(AuthError::Invalid("algorithm does not match the key"));
        }
        let mut validation = Validation::new(trusted.algorithm);
        validation.leeway = self.settings.leeway_secs;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_audience(&[&self.settings.audience]);
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data =
            decode::<Claims>(token, &trusted.key, &validation).map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::ImmatureSignature => AuthError::NotYetValid,
                ErrorKind::InvalidAudience => AuthError::Invalid("wrong audience"),
                ErrorKind::InvalidIssuer => AuthError::Invalid("wrong issuer"),
                ErrorKind::InvalidSignature => AuthError::Invalid("bad signature"),
                ErrorKind::MissingRequiredClaim(_) | ErrorKind::Json(_) => {
                    AuthError::Invalid("missing or malformed claims")
                }
                _ => AuthError::Invalid("rejected"),
            })?;
        let claims = data.claims;
        if claims.jti.is_empty() || claims.sub.is_empty() || claims.agency.is_empty() {
            return Err(AuthError::Invalid("missing or malformed claims"));
        }
        // jsonwebtoken checks neither `iat` nor a lifetime.
        if claims.iat > now().saturating_add(self.settings.leeway_secs) {
            return Err(AuthError::Invalid("issued in the future"));
        }
        if claims.exp.saturating_sub(claims.iat) > self.settings.max_lifetime_secs {
            return Err(AuthError::Invalid("lifetime longer than allowed"));
        }
        Ok(Principal::from_claims(claims))
    }

    fn cached(&self, digest: &[u8; 32]) -> Option<Arc<Principal>> {
        let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
        cache.get(digest).cloned()
    }

    fn forget(&self, digest: &[u8; 32]) {
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        cache.remove(digest);
    }

    fn remember(&self, digest: [u8; 32], principal: Arc<Principal>, now: u64) {
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHE_CAPACITY {
            let leeway = self.settings.leeway_secs;
            cache.retain(|_, p| now <= p.exp + leeway);
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
        }
        cache.insert(digest, principal);
    }
}

/// Verification plus revocation: what the gateway and every service run on each call.
#[derive(Debug, Clone)]
pub struct Authenticator {
    verifier: Arc<TokenVerifier>,
    revocations: Arc<dyn Revocations>,
}

impl Authenticator {
    /// `revocations` is asked about every verified token (`haven_platform::revocation::RevocationList`
    /// in the services).
    pub fn new(verifier: TokenVerifier, revocations: impl Revocations + 'static) -> Self {
        Authenticator {
            verifier: Arc::new(verifier),
            revocations: Arc::new(revocations),
        }
    }

    pub fn revocations(&self) -> &dyn Revocations {
        self.revocations.as_ref()
    }

    /// Authenticates the value of the `authorization` metadata entry.
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
    ) -> Result<Arc<Principal>, AuthError> {
        let value = authorization.ok_or(AuthError::Missing)?;
        let token = bearer_token(value).ok_or(AuthError::Malformed)?;
        let principal = self.verifier.verify(token)?;
        match self.revocations.is_revoked(&principal.jti).await {
            Ok(false) => Ok(principal),
            Ok(true) => Err(AuthError::Revoked),
            Err(RevocationError::Unavailable(reason)) => {
                // The revocation list logs when it starts and stops failing closed; one line per
                // refused call would flood the log.
                tracing::debug!(%reason, "revocation store unavailable");
                Err(AuthError::Unavailable)
            }
        }
    }
}

fn is_access_token_type(typ: &str) -> bool {
    let typ = typ.to_ascii_lowercase();
    let typ = typ.strip_prefix("application/").unwrap_or(&typ);
    ACCESS_TOKEN_TYPES.contains(&typ)
}

fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::DevSigningKey;

    fn claims(now: u64) -> Claims {
        Claims {
            iss: "haven-dev".into(),
            aud: "haven".into(),
            sub: "cw-1".into(),
            exp: now + 600,
            iat: now,
            nbf: None,
            jti: "jti-1".into(),
            roles: vec!["caseworker".into(), "no_such_role".into()],
            agency: "agency-a".into(),
            team: None,
            locations: vec![],
        }
    }

    fn dev_key() -> DevSigningKey {
        let der = DevSigningKey::generate_pkcs8_der().expect("generate");
        DevSigningKey::from_pkcs8_der(&der).expect("parse")
    }

    #[test]
    fn a_dev_token_verifies_and_unknown_roles_are_dropped() {
        let der = DevSigningKey::generate_pkcs8_der().expect("generate");
        let key = DevSigningKey::from_pkcs8_der(&der).expect("key");
        let token = key.sign(&claims(now())).expect("sign");
        let verifier = TokenVerifier::new(key.trusted_keys(), VerifierSettings::default());
        let principal = verifier.verify(&token).expect("verified");
        assert_eq!(principal.roles, vec![crate::Role::Caseworker]);
        assert_eq!(principal.agency, "agency-a");
        // A second verification comes from the cache and yields the same principal.
        assert_eq!(verifier.verify(&token).expect("cached"), principal);
        // The key survives a restart: the same key file bytes yield the same kid (that the file itself
        // is reloaded is tested in haven_platform::authz_files).
        let again = DevSigningKey::from_pkcs8_der(&der).expect("reload");
        assert_eq!(again.kid(), key.kid());
    }

    fn verifier_and_key() -> (TokenVerifier, DevSigningKey) {
        let key = dev_key();
        let verifier = TokenVerifier::new(key.trusted_keys(), VerifierSettings::default());
        (verifier, key)
    }

    #[test]
    fn a_token_may_live_a_day_and_not_a_second_longer() {
        let (verifier, key) = verifier_and_key();
        let now = now();
        let day = Claims {
            exp: now + DEFAULT_MAX_LIFETIME_SECS,
            ..claims(now)
        };
        verifier
            .verify(&key.sign(&day).expect("sign"))
            .expect("24 h is allowed");
        for exp in [now + DEFAULT_MAX_LIFETIME_SECS + 1, 1 << 63, u64::MAX] {
            let long = Claims {
                exp,
                jti: format!("long-{exp}"),
                ..claims(now)
            };
            assert_eq!(
                verifier.verify(&key.sign(&long).expect("sign")),
                Err(AuthError::Invalid("lifetime longer than allowed")),
                "exp {exp}"
            );
        }
        // An ancient iat does not stretch the lifetime: exp - iat counts.
        let backdated = Claims {
            iat: 0,
            ..claims(now)
        };
        assert!(
            verifier
                .verify(&key.sign(&backdated).expect("sign"))
                .is_err()
        );
    }

    #[test]
    fn the_maximum_lifetime_is_configurable() {
        let key = dev_key();
        let verifier = TokenVerifier::new(
            key.trusted_keys(),
            VerifierSettings {
                max_lifetime_secs: 300,
                ..VerifierSettings::default()
            },
        );
        let now = now();
        let five_minutes = Claims {
            exp: now + 300,
            ..claims(now)
        };
        verifier
            .verify(&key.sign(&five_minutes).expect("sign"))
            .expect("within the maximum");
        let ten_minutes = Claims {
            exp: now + 600,
            jti: "jti-2".into(),
            ..claims(now)
        };
        assert!(
            verifier
                .verify(&key.sign(&ten_minutes).expect("sign"))
                .is_err()
        );
    }

    #[test]
    fn a_token_issued_in_the_future_is_refused_beyond_the_leeway() {
        let (verifier, key) = verifier_and_key();
        let now = now();
        let skewed = Claims {
            iat: now + 5,
            ..claims(now)
        };
        verifier
            .verify(&key.sign(&skewed).expect("sign"))
            .expect("5 s ahead is inside the 10 s leeway");
        let future = Claims {
            iat: now + 120,
            exp: now + 600,
            jti: "jti-future".into(),
            ..claims(now)
        };
        assert_eq!(
            verifier.verify(&key.sign(&future).expect("sign")),
            Err(AuthError::Invalid("issued in the future"))
        );
    }

    #[test]
    fn the_header_must_type_an_access_token_and_name_no_critical_extension() {
        let (verifier, key) = verifier_and_key();
        let now = now();
        let signed = |typ: Option<&str>, crit: Option<Vec<String>>, jti: &str| {
            let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
            header.kid = Some(key.kid().to_owned());
            header.typ = typ.map(str::to_owned);
            header.crit = crit;
            let claims = Claims {
                jti: jti.into(),
                ..claims(now)
            };
            key.sign_with_header(&header, &claims).expect("sign")
        };
        for (i, typ) in [
            "JWT",
            "jwt",
            "application/jwt",
            "at+jwt",
            "application/at+JWT",
        ]
        .into_iter()
        .enumerate()
        {
            verifier
                .verify(&signed(Some(typ), None, &format!("ok-{i}")))
                .unwrap_or_else(|e| panic!("typ {typ}: {e}"));
        }
        for (i, typ) in [None, Some("vc+jwt"), Some("JOSE"), Some("")]
            .into_iter()
            .enumerate()
        {
            assert_eq!(
                verifier.verify(&signed(typ, None, &format!("typ-{i}"))),
                Err(AuthError::Invalid("not an access token (typ)")),
                "typ {typ:?}"
            );
        }
        for (i, crit) in [vec!["exp".to_string()], vec!["b64".into()], vec![]]
            .into_iter()
            .enumerate()
        {
            assert_eq!(
                verifier.verify(&signed(
                    Some("JWT"),
                    Some(crit.clone()),
                    &format!("crit-{i}")
                )),
                Err(AuthError::Invalid("unsupported critical header")),
                "crit {crit:?}"
            );
        }
    }

    #[test]
    fn leeway_is_capped_at_thirty_seconds() {
        let verifier = TokenVerifier::new(
            TrustedKeys::default(),
            VerifierSettings {
                leeway_secs: 3600,
                ..VerifierSettings::default()
            },
        );
        assert_eq!(verifier.settings.leeway_secs, 30);
    }

    /// A revocation list answering at once from memory, or (when `down`) not at all.
    #[derive(Debug, Default)]
    struct ListInMemory {
        revoked: std::sync::Mutex<Vec<String>>,
        down: bool,
    }

    impl Revocations for ListInMemory {
        fn is_revoked<'a>(&'a self, jti: &'a str) -> crate::RevocationFuture<'a, bool> {
            Box::pin(async move {
                if self.down {
                    return Err(RevocationError::Unavailable("down".into()));
                }
                let revoked = self.revoked.lock().unwrap_or_else(|p| p.into_inner());
                Ok(revoked.iter().any(|r| r == jti))
            })
        }

        fn revoke<'a>(&'a self, jti: &'a str, _exp: u64) -> crate::RevocationFuture<'a, ()> {
            Box::pin(async move {
                let mut revoked = self.revoked.lock().unwrap_or_else(|p| p.into_inner());
                revoked.push(jti.to_owned());
                Ok(())
            })
        }
    }

    /// Runs a future that is ready at once (the lists here never wait).
    fn at_once<T>(future: impl std::future::Future<Output = T>) -> T {
        let mut future = std::pin::pin!(future);
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        match future.as_mut().poll(&mut context) {
            std::task::Poll::Ready(value) => value,
            std::task::Poll::Pending => panic!("the list answered later"),
        }
    }

    #[test]
    fn a_revoked_token_is_refused_and_a_list_that_cannot_answer_refuses_every_call() {
        let key = dev_key();
        let verifier = || TokenVerifier::new(key.trusted_keys(), VerifierSettings::default());
        let token = key.sign(&claims(now())).expect("sign");
        let bearer = format!("Bearer {token}");

        let auth = Authenticator::new(verifier(), ListInMemory::default());
        assert!(at_once(auth.authenticate(Some(&bearer))).is_ok());
        at_once(auth.revocations().revoke("jti-1", now() + 600)).expect("revoke");
        assert_eq!(
            at_once(auth.authenticate(Some(&bearer))),
            Err(AuthError::Revoked),
            "revocation is never cached, even for a token verified before"
        );
        assert_eq!(at_once(auth.authenticate(None)), Err(AuthError::Missing));

        let down = Authenticator::new(
            verifier(),
            ListInMemory {
                down: true,
                ..ListInMemory::default()
            },
        );
        assert_eq!(
            at_once(down.authenticate(Some(&bearer))),
            Err(AuthError::Unavailable)
        );
    }

    #[test]
    fn bearer_scheme_is_required() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
    }
}
