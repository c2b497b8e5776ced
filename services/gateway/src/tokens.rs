//! `haven.auth.v1.Tokens`: the OAuth2 client-credentials grant for machine clients. A registered client
//! trades its id and secret for a short-lived token carrying its agency and roles; everything after that
//! goes through the same verification as any other token.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

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
    limiter: RateLimiter,
}

impl TokenEndpoint {
    pub fn new(issuer: Option<TokenIssuer>, limiter: RateLimiter) -> Self {
        TokenEndpoint { issuer, limiter }
    }
}

const REFUSED: &str = "invalid client id or secret";

#[tonic::async_trait]
impl Tokens for TokenEndpoint {
    async fn issue_token(
        &self,
        request: Request<IssueTokenRequest>,
    ) -> Result<Response<IssueTokenResponse>, Status> {
        let request = request.into_inner();
        if request.grant_type != "client_credentials" {
            return Err(Status::invalid_argument(
                "grant_type: must be client_credentials",
            ));
        }
        if request.client_id.is_empty() || request.client_id.len() > 128 {
            return Err(Status::invalid_argument(
                "client_id: must be 1 to 128 characters",
            ));
        }
        // Guessing secrets is throttled per client id.
        if !self
            .limiter
            .allow(&format!("token-endpoint/{}", request.client_id))
            .await
        {
            return Err(Status::resource_exhausted(
                "too many token requests; retry later",
            ));
        }
        let Some(issuer) = &self.issuer else {
            return Err(Status::unauthenticated(REFUSED));
        };
        let Some(client) = issuer
            .clients
            .authenticate(&request.client_id, &request.client_secret)
        else {
            tracing::warn!(client = %request.client_id, "token request refused");
            return Err(Status::unauthenticated(REFUSED));
        };
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
            roles: client.roles.clone(),
            agency: client.agency.clone(),
            team: None,
            locations: vec![],
        };
        let token = issuer
            .key
            .sign(&claims)
            .map_err(|_| Status::internal("internal error"))?;
        Ok(Response::new(IssueTokenResponse {
            access_token: token,
            token_type: "Bearer".into(),
            expires_in: u32::try_from(issuer.ttl_secs).unwrap_or(u32::MAX),
        }))
    }
}
