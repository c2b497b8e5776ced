//! Reads a consenting child's identity from the identity service, as this service's own principal
//! (role `tracing_service`). The identity service decides what that role sees: identity only, and only
//! for children whose case consents to tracing. Nothing else of a child ever reaches this service.

use std::sync::{Arc, Mutex};

use haven_authz::{Claims, DevSigningKey};
use haven_platform::telemetry::grpc::{ClientTelemetry, TracedChannel};
use haven_proto::identity::child_identity_client::ChildIdentityClient;
use haven_proto::identity::{GetChildRequest, Identity};
use tonic::transport::Channel;
use tonic::{Code, Request};

/// The subject and agency of the service's principal. Its agency owns no child, so "consent elsewhere"
/// covers every agency.
pub const SERVICE_SUBJECT: &str = "service:family-tracing";
pub const SERVICE_AGENCY: &str = "haven:family-tracing";

/// Service tokens live this long; a fresh one is signed a minute before expiry.
const TOKEN_SECS: u64 = 300;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("identity service unavailable: {0}")]
    Unavailable(String),
    #[error("cannot sign the service token: {0}")]
    Signing(String),
}

#[derive(Debug, Clone)]
pub struct IdentityReader {
    client: ChildIdentityClient<TracedChannel>,
    key: Arc<DevSigningKey>,
    issuer: String,
    audience: String,
    token: Arc<Mutex<Option<(String, u64)>>>,
}

impl IdentityReader {
    /// `key` must be trusted by the identity service (its public half in the JWKS it verifies with).
    pub fn new(channel: Channel, key: Arc<DevSigningKey>, issuer: &str, audience: &str) -> Self {
        IdentityReader {
            client: ChildIdentityClient::new(ClientTelemetry::new(channel, "family-tracing")),
            key,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            token: Arc::default(),
        }
    }

    fn token(&self) -> Result<String, ReadError> {
        let now = now_secs();
        let mut cached = self.token.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((token, exp)) = cached.as_ref()
            && now + 60 < *exp
        {
            return Ok(token.clone());
        }
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: SERVICE_SUBJECT.into(),
            exp: now + TOKEN_SECS,
            iat: now,
            nbf: None,
            jti: uuid::Uuid::now_v7().to_string(),
            roles: vec!["tracing_service".into()],
            agency: SERVICE_AGENCY.into(),
            team: None,
            locations: Vec::new(),
        };
        let token = self
            .key
            .sign(&claims)
            .map_err(|e| ReadError::Signing(e.to_string()))?;
        *cached = Some((token.clone(), claims.exp));
        Ok(token)
    }

    /// The child's identity, or `None` when the identity service does not show it to this service (no
    /// consent to tracing, or erased).
    pub async fn identity_of(&self, child_id: &str) -> Result<Option<Identity>, ReadError> {
        let mut request = Request::new(GetChildRequest {
            id: child_id.to_owned(),
        });
        let bearer = format!("Bearer {}", self.token()?);
        request.metadata_mut().insert(
            "authorization",
            bearer
                .parse()
                .map_err(|_| ReadError::Signing("token is not valid metadata".into()))?,
        );
        match self.client.clone().get_child(request).await {
            Ok(view) => Ok(view.into_inner().child.and_then(|c| c.identity)),
            Err(status) if status.code() == Code::NotFound => Ok(None),
            Err(status) => Err(ReadError::Unavailable(status.message().to_owned())),
        }
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
