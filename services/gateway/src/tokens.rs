//! `haven.auth.v1.Tokens`: the OAuth2 client-credentials grant for machine clients. A registered client
//! trades its id and secret for a short-lived token carrying its agency and roles (or the narrower set
//! of them its `scope` asks for); everything after that goes through the same verification as any other
//! token. There are two doors, gRPC `IssueToken` here and HTTP `POST /oauth2/token` ([`crate::oauth`]),
//! and one grant behind both ([`TokenEndpoint::grant`]): the same registry, secret check and limits.
//!
//! Failed attempts are limited by caller address and by client id, in a way a guesser cannot turn into
//! a lockout of the real client:
//! - an address that has obtained a token for a client in the last day is *known* for that client. Its
//!   requests for that client are always checked, so the real client keeps getting tokens however many
//!   wrong secrets others send, from anywhere;
//! - any other request is refused before its secret is looked at (RESOURCE_EXHAUSTED) once its address
//!   has failed [`FAILURES_PER_ADDRESS`] times, or its client id [`FAILURES_PER_CLIENT`] times from
//!   unknown addresses, within about a minute (token buckets refilling at that many a minute). One
//!   address alone cannot use up a client's budget, so it cannot keep the real client from a new
//!   address either; only many addresses guessing together can, and only for new addresses;
//! - a failed attempt beyond either budget answers RESOURCE_EXHAUSTED rather than UNAUTHENTICATED, even
//!   from a known address, so a guesser sees the limit without learning anything about the secret.
//!
//! The caller's address is the TCP peer's, or, behind an ingress, the rightmost address of the
//! configured `trusted_proxy_header`. IPv6 callers are counted per /64, the block one host usually holds.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use haven_authz::{Claims, ClientRegistry, DevSigningKey};
use haven_proto::auth::tokens_server::Tokens;
use haven_proto::auth::{IssueTokenRequest, IssueTokenResponse};
use tonic::{Request, Response, Status};

use crate::limiter::RateLimiter;

/// What the token endpoint needs: the signing key (its public half is in the trusted JWKS), the
/// registered clients and the claims settings.
#[derive(Clone)]
pub struct TokenIssuer {
    pub key: Arc<DevSigningKey>,
    pub clients: Arc<ClientRegistry>,
    pub issuer: String,
    pub audience: String,
    pub ttl_secs: u64,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("issuer", &self.issuer)
            .field("ttl_secs", &self.ttl_secs)
            .finish_non_exhaustive()
    }
}

/// The token endpoint; without an issuer it refuses every client.
#[derive(Debug, Clone)]
pub struct TokenEndpoint {
    issuer: Option<TokenIssuer>,
    /// Tokens issued per client, at the gateway's per-principal rates.
    issued: RateLimiter,
    address_failures: RateLimiter,
    client_failures: RateLimiter,
    trusted_proxy_header: Option<String>,
}

/// Failed attempts one caller address may make in about a minute (the bucket refills at this many a
/// minute).
pub const FAILURES_PER_ADDRESS: u32 = 10;
/// Failed attempts against one client id, from all addresses together, in about a minute.
pub const FAILURES_PER_CLIENT: u32 = 60;
/// How long an address stays known for a client after it obtained a token.
const KNOWN_FOR: Duration = Duration::from_secs(24 * 3600);

impl TokenEndpoint {
    /// `limiter` holds the gateway's per-principal rates; the failure budgets share its store.
    /// `trusted_proxy_header` names the header an ingress sets to the caller's address, if any.
    pub fn new(
        issuer: Option<TokenIssuer>,
        limiter: RateLimiter,
        trusted_proxy_header: Option<String>,
    ) -> Self {
        let per_minute = |n: u32| limiter.with_rates(f64::from(n) / 60.0, f64::from(n));
        TokenEndpoint {
            issuer,
            address_failures: per_minute(FAILURES_PER_ADDRESS),
            client_failures: per_minute(FAILURES_PER_CLIENT),
            issued: limiter,
            trusted_proxy_header: trusted_proxy_header
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty()),
        }
    }
}

const REFUSED: &str = "invalid client id or secret";
const THROTTLED: &str = "too many failed token requests; retry later";

/// The caller's address as the limits count it: the trusted proxy header's rightmost address when one is
/// configured and present, else the TCP peer's.
fn caller_address<T>(request: &Request<T>, trusted_proxy_header: Option<&str>) -> String {
    let forwarded = trusted_proxy_header
        .and_then(|name| request.metadata().get(name))
        .and_then(|value| value.to_str().ok());
    address_of(forwarded, request.remote_addr())
}

/// [`caller_address`] for a request that reached the HTTP door.
pub(crate) fn http_caller_address(
    headers: &http::HeaderMap,
    extensions: &http::Extensions,
    trusted_proxy_header: Option<&str>,
) -> String {
    let forwarded = trusted_proxy_header
        .and_then(|name| headers.get(name))
        .and_then(|value| value.to_str().ok());
    let peer = extensions
        .get::<tonic::transport::server::TcpConnectInfo>()
        .and_then(|info| info.remote_addr());
    address_of(forwarded, peer)
}

fn address_of(forwarded: Option<&str>, peer: Option<SocketAddr>) -> String {
    let forwarded = forwarded
        .and_then(|value| value.rsplit(',').next())
        .and_then(|last| parse_address(last.trim()));
    match forwarded.or_else(|| peer.map(|peer| peer.ip())) {
        Some(ip) => address_key(ip),
        None => "unknown".into(),
    }
}

fn parse_address(text: &str) -> Option<IpAddr> {
    text.parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|a| a.ip()))
}

/// IPv4 addresses as they are; IPv6 ones by their /64.
fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// Why the endpoint refused a request. Each door says it in its own words: a gRPC status, or an OAuth2
/// error (RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The request is malformed; the text names the field.
    Malformed(&'static str),
    /// An unknown client, a wrong secret, or no clients configured: one answer for all, so that a
    /// caller learns nothing about which ids exist.
    BadClient,
    /// The client authenticated but holds no role: its registration is suspended.
    Unauthorized,
    /// The client asked for a scope (role) it does not hold.
    Scope,
    /// Too many failed attempts, from this address or against this client id.
    Throttled,
    /// The client itself asked for too many tokens.
    TooManyTokens,
    /// Signing failed.
    Internal,
}

impl Refusal {
    /// Seconds to wait before trying again, for the refusals that pass with time.
    pub(crate) fn retry_after_secs(&self) -> Option<u32> {
        match self {
            // The address bucket regains one attempt every 60 / FAILURES_PER_ADDRESS seconds.
            Refusal::Throttled => Some(60 / FAILURES_PER_ADDRESS),
            Refusal::TooManyTokens => Some(1),
            _ => None,
        }
    }
}

impl From<Refusal> for Status {
    fn from(refusal: Refusal) -> Status {
        match refusal {
            Refusal::Malformed(message) => Status::invalid_argument(message),
            Refusal::BadClient => Status::unauthenticated(REFUSED),
            Refusal::Unauthorized => Status::permission_denied("the client holds no role"),
            Refusal::Scope => {
                Status::invalid_argument("scope: names a role the client does not hold")
            }
            Refusal::Throttled => Status::resource_exhausted(THROTTLED),
            Refusal::TooManyTokens => {
                Status::resource_exhausted("too many token requests; retry later")
            }
            Refusal::Internal => Status::internal("internal error"),
        }
    }
}

/// A token the endpoint issued.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub(crate) access_token: String,
    pub(crate) expires_in: u32,
    /// The roles the token carries: the client's, or the narrower set it asked for.
    pub(crate) roles: Vec<String>,
}

impl TokenEndpoint {
    /// The header an ingress sets to the caller's address, if one is trusted.
    pub(crate) fn trusted_proxy_header(&self) -> Option<&str> {
        self.trusted_proxy_header.as_deref()
    }

    /// The client-credentials grant, behind both doors (gRPC `IssueToken` and HTTP `/oauth2/token`):
    /// the limits of the module documentation, the constant-time secret check, the scope, and the
    /// token. `scope`, when given, names the roles the token should carry, each one the client holds.
    pub(crate) async fn grant(
        &self,
        address: &str,
        client_id: &str,
        client_secret: &str,
        scope: Option<&[String]>,
    ) -> Result<Grant, Refusal> {
        if client_id.is_empty() || client_id.len() > 128 {
            return Err(Refusal::Malformed("client_id: must be 1 to 128 characters"));
        }
        let Some(issuer) = &self.issuer else {
            return Err(Refusal::BadClient);
        };
        let known_key = format!("token-endpoint/known/{address}/{client_id}");
        let address_key = format!("token-endpoint/failures/address/{address}");
        let client_key = format!("token-endpoint/failures/client/{client_id}");
        let known = self.address_failures.recalls(&known_key).await;
        let admitted = known
            || (self.address_failures.has_room(&address_key).await
                && self.client_failures.has_room(&client_key).await);
        if !admitted {
            tracing::warn!(client = %client_id, %address, "token request refused unchecked: too many failures");
            return Err(Refusal::Throttled);
        }
        let Some(client) = issuer.clients.authenticate(client_id, client_secret) else {
            let within_address = self.address_failures.allow(&address_key).await;
            // The client's budget counts unknown addresses only, so a guesser sharing the real
            // client's address cannot spend it and keep the client from its other addresses.
            let within_client = known || self.client_failures.allow(&client_key).await;
            tracing::warn!(client = %client_id, %address, "token request refused");
            if within_address && within_client {
                return Err(Refusal::BadClient);
            }
            return Err(Refusal::Throttled);
        };
        if client.roles.is_empty() {
            // A registration whose roles were all withdrawn: the client is suspended. Only a holder of
            // the secret gets this far, so saying so tells a guesser nothing.
            tracing::info!(client = %client_id, "token request refused: the client holds no role");
            return Err(Refusal::Unauthorized);
        }
        let roles = match scope {
            None => client.roles.clone(),
            Some(asked) => {
                if asked.is_empty() || asked.iter().any(|role| !client.roles.contains(role)) {
                    tracing::info!(client = %client_id, "token request refused: scope beyond the client's roles");
                    return Err(Refusal::Scope);
                }
                let mut roles = asked.to_vec();
                roles.sort();
                roles.dedup();
                roles
            }
        };
        // Only holders of the secret reach this bucket, so no guesser can empty it.
        if !self
            .issued
            .allow(&format!("token-endpoint/issued/{client_id}"))
            .await
        {
            return Err(Refusal::TooManyTokens);
        }
        self.address_failures.remember(&known_key, KNOWN_FOR).await;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let claims = Claims {
            iss: issuer.issuer.clone(),
            aud: issuer.audience.clone(),
            sub: format!("client:{}", client.id),
            exp: now + issuer.ttl_secs,
            iat: now,
            nbf: Some(now),
            jti: uuid::Uuid::now_v7().to_string(),
            roles: roles.clone(),
            agency: client.agency.clone(),
            team: None,
            locations: vec![],
        };
        let access_token = issuer.key.sign(&claims).map_err(|_| Refusal::Internal)?;
        Ok(Grant {
            access_token,
            expires_in: u32::try_from(issuer.ttl_secs).unwrap_or(u32::MAX),
            roles,
        })
    }
}

#[tonic::async_trait]
impl Tokens for TokenEndpoint {
    async fn issue_token(
        &self,
        request: Request<IssueTokenRequest>,
    ) -> Result<Response<IssueTokenResponse>, Status> {
        let address = caller_address(&request, self.trusted_proxy_header.as_deref());
        let request = request.into_inner();
        if request.grant_type != "client_credentials" {
            return Err(Status::invalid_argument(
                "grant_type: must be client_credentials",
            ));
        }
        let grant = self
            .grant(&address, &request.client_id, &request.client_secret, None)
            .await?;
        Ok(Response::new(IssueTokenResponse {
            access_token: grant.access_token,
            token_type: "Bearer".into(),
            expires_in: grant.expires_in,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_from(peer: &str, header: Option<(&str, &str)>) -> Request<()> {
        let mut request = Request::new(());
        if let Some((name, value)) = header {
            let name: tonic::metadata::MetadataKey<tonic::metadata::Ascii> =
                name.parse().expect("name");
            request
                .metadata_mut()
                .insert(name, value.parse().expect("value"));
        }
        let peer: SocketAddr = peer.parse().expect("peer");
        request
            .extensions_mut()
            .insert(tonic::transport::server::TcpConnectInfo {
                local_addr: None,
                remote_addr: Some(peer),
            });
        request
    }

    #[test]
    fn the_caller_is_the_peer_unless_a_trusted_proxy_header_is_configured() {
        let spoofed = Some(("x-forwarded-for", "198.51.100.7"));
        assert_eq!(
            caller_address(&request_from("192.0.2.1:5000", spoofed), None),
            "192.0.2.1",
            "without configuration the header is ignored"
        );
        assert_eq!(
            caller_address(
                &request_from(
                    "10.0.0.2:5000",
                    Some(("x-forwarded-for", "203.0.113.9, 198.51.100.7"))
                ),
                Some("x-forwarded-for")
            ),
            "198.51.100.7",
            "the rightmost address, the one the trusted proxy appended"
        );
        assert_eq!(
            caller_address(
                &request_from("10.0.0.2:5000", None),
                Some("x-forwarded-for")
            ),
            "10.0.0.2",
            "no header: the peer"
        );
        assert_eq!(
            caller_address(
                &request_from("10.0.0.2:5000", Some(("x-real-ip", "not an address"))),
                Some("x-real-ip")
            ),
            "10.0.0.2",
            "an unreadable header: the peer"
        );
    }

    #[test]
    fn ipv6_callers_count_per_64_block() {
        let a = caller_address(&request_from("[2001:db8:1:2:aaaa::1]:443", None), None);
        let b = caller_address(&request_from("[2001:db8:1:2:bbbb::9]:443", None), None);
        let c = caller_address(&request_from("[2001:db8:1:3::1]:443", None), None);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            caller_address(&request_from("[::ffff:192.0.2.4]:443", None), None),
            "192.0.2.4"
        );
    }
}
