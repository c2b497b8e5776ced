//! The dispatcher: a background task that claims due deliveries, signs and POSTs them, and records each
//! outcome in the delivery log. Delivery is at least once: a dispatcher stopped mid-call leaves its
//! claim to lapse and the delivery is sent again (same `webhook-id`, so receivers can drop the repeat).
//!
//! The HTTP client is hyper's HTTP/1 connection over a TCP stream this task opens itself to the address
//! it vetted ([`receiver::resolve`]): one connection per attempt (deliveries to one receiver are rare
//! enough that pooling buys little), the whole attempt bounded by `timeout_ms`, the response body never
//! read, and redirects never followed (a 3xx is a failed attempt like any other non-2xx).

use std::sync::Arc;
use std::time::Duration;

use haven_platform::ServiceError;
use haven_platform::audit::{AuditEntry, AuditWriter};
use haven_platform::sealing::Keyring;
use haven_platform::time::now_micros;
use http::header::{CONTENT_TYPE, HOST, USER_AGENT};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rand::Rng as _;
use sea_orm::DatabaseConnection;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_util::sync::CancellationToken;

use super::signing::{self, SigningSecret};
use super::store::{self, Outcome};
use super::{CHILD_ERASED, DELIVERED, FAILED, PENDING, WITHDRAWN, WebhookSettings, receiver};
use crate::entity::{webhook_delivery, webhook_subscription};

/// How many deliveries one round claims.
const BATCH: u64 = 32;

/// Runs the dispatcher until `stop` is cancelled.
pub(crate) fn spawn_dispatcher(
    db: DatabaseConnection,
    keyring: Arc<Keyring>,
    audit: AuditWriter,
    settings: WebhookSettings,
    stop: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let interval = Duration::from_millis(settings.config.poll_interval_ms);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
            }
            loop {
                match dispatch_once(&db, &keyring, &audit, &settings).await {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(%error, "webhook dispatch failed; will retry");
                        break;
                    }
                }
            }
        }
    })
}

/// One round: claims the due deliveries and attempts each. Returns how many it attempted.
pub(crate) async fn dispatch_once(
    db: &DatabaseConnection,
    keyring: &Keyring,
    audit: &AuditWriter,
    settings: &WebhookSettings,
) -> Result<usize, ServiceError> {
    let now = now_micros();
    let timeout = Duration::from_millis(settings.config.timeout_ms);
    // The batch's attempts run side by side, each bounded by the timeout; the lease leaves room for
    // the database work around them. A claim that lapses while its attempt still runs lets another
    // dispatcher send it again (at least once), and this one's outcome is then not recorded.
    let lease_us = (settings.config.timeout_ms as i64)
        .saturating_mul(2000)
        .saturating_add(30_000_000);
    let claimed_until = now.saturating_add(lease_us);
    let due = store::claim_due(db, now, claimed_until, BATCH).await?;
    let mut attempts = tokio::task::JoinSet::new();
    let count = due.len();
    for delivery in due {
        let db = db.clone();
        let audit = audit.clone();
        let settings = settings.clone();
        let secrets = match secrets_for(db.clone(), keyring, &delivery).await {
            Ok(secrets) => secrets,
            Err(error) => {
                tracing::warn!(delivery = %delivery.id, %error, "webhook secret unavailable");
                continue;
            }
        };
        attempts.spawn(async move {
            let outcome = attempt(&db, &audit, &delivery, secrets, &settings, timeout).await;
            let recorded = match outcome {
                Ok(outcome) => {
                    store::record_outcome(&db, &delivery.id, claimed_until, outcome, now_micros())
                        .await
                }
                Err(error) => Err(error),
            };
            if let Err(error) = recorded {
                tracing::warn!(delivery = %delivery.id, %error, "webhook outcome not recorded");
            }
        });
    }
    while attempts.join_next().await.is_some() {}
    Ok(count)
}

/// The subscription's signing secrets for this delivery: the current one, and the previous one while
/// its grace period lasts. `None` when the subscription is gone.
async fn secrets_for(
    db: DatabaseConnection,
    keyring: &Keyring,
    delivery: &webhook_delivery::Model,
) -> Result<Option<(webhook_subscription::Model, Vec<SigningSecret>)>, ServiceError> {
    let Some(subscription) = store::subscription(&db, &delivery.subscription_id).await? else {
        return Ok(None);
    };
    let mut secrets = vec![signing::open_secret(
        keyring,
        &subscription.id,
        subscription.secret_generation,
        &subscription.secret,
    )?];
    if let (Some(previous), Some(expires)) = (
        &subscription.previous_secret,
        subscription.previous_expires_at_us,
    ) && expires > now_micros()
    {
        secrets.push(signing::open_secret(
            keyring,
            &subscription.id,
            subscription.secret_generation - 1,
            previous,
        )?);
    }
    Ok(Some((subscription, secrets)))
}

/// One attempt and what it leaves in the log.
async fn attempt(
    db: &DatabaseConnection,
    audit: &AuditWriter,
    delivery: &webhook_delivery::Model,
    subscription: Option<(webhook_subscription::Model, Vec<SigningSecret>)>,
    settings: &WebhookSettings,
    timeout: Duration,
) -> Result<Outcome, ServiceError> {
    let attempts = delivery.attempts + 1;
    let Some((subscription, secrets)) = subscription else {
        return Ok(settled(
            WITHDRAWN,
            delivery.attempts,
            0,
            "the subscription is gone",
        ));
    };
    // The partner's reach is read now, not at fan-out: a referral that ended meanwhile withdraws it.
    // An erasure's tombstone goes out anyway: the erasure itself ended the referral.
    if delivery.event_type != CHILD_ERASED
        && !store::still_referred(db, &subscription.agency, &delivery.child_id).await?
    {
        return Ok(settled(
            WITHDRAWN,
            delivery.attempts,
            0,
            "the referral no longer stands",
        ));
    }
    let sent = tokio::time::timeout(
        timeout,
        post(&subscription.url, delivery, &secrets, settings),
    )
    .await
    .unwrap_or_else(|_| Err((0, "timed out".into())));
    let now = now_micros();
    match sent {
        Ok(code) => {
            // A delivery tells the partner which child changed: logged like a read, in its name.
            audit
                .record(vec![AuditEntry {
                    actor: subscription.owner.clone(),
                    roles: "partner".into(),
                    agency: subscription.agency.clone(),
                    action: "webhook-delivered",
                    rpc: "webhook",
                    record_id: delivery.child_id.clone(),
                    classes: String::new(),
                }])
                .await?;
            Ok(Outcome {
                status: DELIVERED,
                attempts,
                next_attempt_at_us: now,
                response_code: code,
                error: String::new(),
                delivered_at_us: Some(now),
            })
        }
        Err((code, error)) => {
            let give_up_at = delivery.retry_since_us.saturating_add(
                (settings.config.give_up_after_secs as i64).saturating_mul(1_000_000),
            );
            let next = now.saturating_add(backoff_us(&settings.config, attempts));
            let status = if next > give_up_at { FAILED } else { PENDING };
            tracing::info!(
                delivery = %delivery.id,
                attempts,
                response_code = code,
                %error,
                status,
                "webhook attempt failed"
            );
            Ok(Outcome {
                status,
                attempts,
                next_attempt_at_us: next,
                response_code: code,
                error,
                delivered_at_us: None,
            })
        }
    }
}

fn settled(status: &'static str, attempts: i32, code: i32, why: &str) -> Outcome {
    Outcome {
        status,
        attempts,
        next_attempt_at_us: now_micros(),
        response_code: code,
        error: why.to_owned(),
        delivered_at_us: None,
    }
}

/// The wait after the `attempts`-th failure: `first_retry_ms` doubled per earlier failure, capped at
/// `max_retry_secs`, drawn from the upper half of that (jitter).
pub(crate) fn backoff_us(config: &haven_platform::config::WebhooksConfig, attempts: i32) -> i64 {
    let first = (config.first_retry_ms as i64).saturating_mul(1000);
    let cap = (config.max_retry_secs as i64).saturating_mul(1_000_000);
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 40)).unwrap_or(40);
    let wait = first
        .saturating_mul(1i64 << doublings.min(40))
        .min(cap)
        .max(1);
    let half = wait / 2;
    half + rand::thread_rng().gen_range(0..=wait - half)
}

/// POSTs a delivery: the 2xx status, or `Err((status, why))` for anything else (status 0: no answer).
async fn post(
    url: &str,
    delivery: &webhook_delivery::Model,
    secrets: &[SigningSecret],
    settings: &WebhookSettings,
) -> Result<i32, (i32, String)> {
    let target =
        receiver::parse(url, settings.allow_private_addresses).map_err(|e| (0, e.to_string()))?;
    let address = receiver::resolve(&target, settings.allow_private_addresses)
        .await
        .map_err(|e| (0, e))?;
    let timestamp = now_micros() / 1_000_000;
    let body = delivery.payload.as_bytes();
    let path = target
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let host = target
        .uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .unwrap_or_default();
    let request = http::Request::post(path)
        .header(HOST, host)
        .header(CONTENT_TYPE, "application/json")
        .header(USER_AGENT, "haven-webhooks/1")
        .header("webhook-id", &delivery.id)
        .header("webhook-timestamp", timestamp.to_string())
        .header(
            "webhook-signature",
            signing::signature_header(secrets, &delivery.id, timestamp, body),
        )
        .body(Full::new(Bytes::copy_from_slice(body)))
        .map_err(|e| (0, format!("could not build the request: {e}")))?;
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .map_err(|e| (0, format!("could not connect: {e}")))?;
    let status = if target.https {
        let name = ServerName::try_from(target.host.clone())
            .map_err(|e| (0, format!("not a TLS server name: {e}")))?;
        let stream = TlsConnector::from(settings.tls.clone())
            .connect(name, stream)
            .await
            .map_err(|e| (0, format!("TLS failed: {e}")))?;
        exchange(stream, request).await?
    } else {
        exchange(stream, request).await?
    };
    if status.is_success() {
        Ok(i32::from(status.as_u16()))
    } else {
        Err((i32::from(status.as_u16()), format!("answered {status}")))
    }
}

/// One HTTP/1.1 request over `stream`; the answer's status (its body is never read).
async fn exchange<S>(
    stream: S,
    request: http::Request<Full<Bytes>>,
) -> Result<http::StatusCode, (i32, String)>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| (0, format!("could not start HTTP: {e}")))?;
    let driver = tokio::spawn(connection);
    let answer = sender.send_request(request).await;
    driver.abort();
    Ok(answer.map_err(|e| (0, format!("no answer: {e}")))?.status())
}

#[cfg(test)]
mod tests {
    use super::*;
    use haven_platform::config::WebhooksConfig;

    #[test]
    fn the_backoff_doubles_with_jitter_up_to_the_cap() {
        let config = WebhooksConfig {
            first_retry_ms: 1000,
            max_retry_secs: 10,
            ..WebhooksConfig::default()
        };
        for _ in 0..50 {
            let first = backoff_us(&config, 1);
            assert!((500_000..=1_000_000).contains(&first), "{first}");
            let third = backoff_us(&config, 3);
            assert!((2_000_000..=4_000_000).contains(&third), "{third}");
            let late = backoff_us(&config, 30);
            assert!((5_000_000..=10_000_000).contains(&late), "{late}");
        }
    }
}
