//! `haven.identity.v1.PartnerFeed`: a partner client's webhook subscriptions, their delivery log and
//! replay, and its agency's change feed. The rule table lets only partners call it; here every call is
//! held to the caller's own subscriptions (by `sub` and agency) and its agency's referrals. Another
//! client's subscription answers NOT_FOUND, as a missing one does.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use haven_authz::{Authenticator, ClassSet, Principal};
use haven_platform::ServiceError;
use haven_platform::audit::{AuditEntry, AuditWriter};
use haven_platform::idempotency::{self, IdempotencyKey};
use haven_platform::paging;
use haven_platform::sealing::Keyring;
use haven_platform::time::{now_micros, timestamp};
use haven_proto::identity::partner_feed_server::PartnerFeed;
use haven_proto::identity::{
    Change, CreateWebhookSubscriptionRequest, CreatedWebhookSubscription,
    DeleteWebhookSubscriptionRequest, DeleteWebhookSubscriptionResponse,
    GetWebhookSubscriptionRequest, ListChangesRequest, ListChangesResponse,
    ListWebhookDeliveriesRequest, ListWebhookDeliveriesResponse, ListWebhookSubscriptionsRequest,
    ListWebhookSubscriptionsResponse, ReplayWebhookDeliveryRequest, RotateWebhookSecretRequest,
    WebhookDelivery, WebhookDeliveryStatus, WebhookSubscription,
};
use sea_orm::DatabaseConnection;
use tonic::{Request, Response, Status};

use super::store::{self, SubscriptionCreated};
use super::{
    DELIVERED, EVENT_TYPES, FAILED, PENDING, WITHDRAWN, WebhookSettings, receiver, signing,
};
use crate::entity::{partner_change, webhook_delivery, webhook_subscription};
use crate::service::authenticate;
use crate::validate;

const RPC_CREATE: &str = "/haven.identity.v1.PartnerFeed/CreateWebhookSubscription";
const RPC_LIST_CHANGES: &str = "/haven.identity.v1.PartnerFeed/ListChanges";
const SUBSCRIPTION_CURSOR: &str = "ws1:";
const DELIVERY_CURSOR: &str = "wd1:";
const CHANGE_CURSOR: &str = "ch1:";
const DEFAULT_CHANGES: u32 = 100;
const MAX_CHANGES: u32 = 500;

/// The partner feed service, sharing the identity service's database and keyring.
#[derive(Clone)]
pub struct PartnerFeedService {
    db: DatabaseConnection,
    auth: Authenticator,
    keyring: Arc<Keyring>,
    audit: AuditWriter,
    settings: WebhookSettings,
}

impl std::fmt::Debug for PartnerFeedService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartnerFeedService")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl PartnerFeedService {
    pub(crate) fn new(
        db: DatabaseConnection,
        auth: Authenticator,
        keyring: Arc<Keyring>,
        audit: AuditWriter,
        settings: WebhookSettings,
    ) -> Self {
        PartnerFeedService {
            db,
            auth,
            keyring,
            audit,
            settings,
        }
    }

    async fn create(
        &self,
        principal: &Principal,
        request: CreateWebhookSubscriptionRequest,
    ) -> Result<CreatedWebhookSubscription, ServiceError> {
        validate::request_id(&request.request_id).map_err(ServiceError::InvalidArgument)?;
        receiver::parse(&request.url, self.settings.allow_private_addresses)?;
        let event_types = event_types(&request.event_types)?;
        let body_hash = idempotency::body_hash(&request, |r| &mut r.request_id);
        let key = IdempotencyKey::new(principal, &request.request_id, RPC_CREATE, body_hash);
        let id = uuid::Uuid::now_v7().to_string();
        let (secret, wrapped) = signing::new_secret(&self.keyring, &id, 1)?;
        let row = webhook_subscription::Model {
            id,
            owner: principal.sub.clone(),
            agency: principal.agency.clone(),
            url: request.url.clone(),
            event_types: event_types.join(","),
            secret_generation: 1,
            secret: wrapped,
            previous_secret: None,
            previous_expires_at_us: None,
            created_at_us: now_micros(),
        };
        match store::create_subscription(&self.db, &key, row).await? {
            SubscriptionCreated::Created(row) => Ok(CreatedWebhookSubscription {
                subscription: Some(to_wire(&row)),
                secret: secret.text(),
            }),
            // The caller lost the first answer: it gets the secret again, as it would have then.
            SubscriptionCreated::Replayed(row) => {
                let secret = signing::open_secret(
                    &self.keyring,
                    &row.id,
                    row.secret_generation,
                    &row.secret,
                )?;
                Ok(CreatedWebhookSubscription {
                    subscription: Some(to_wire(&row)),
                    secret: secret.text(),
                })
            }
            SubscriptionCreated::KeyReused => Err(idempotency::key_reused("webhook subscription")),
        }
    }

    async fn owned(
        &self,
        principal: &Principal,
        field: &str,
        id: &str,
    ) -> Result<webhook_subscription::Model, ServiceError> {
        validate::record_id(field, id).map_err(ServiceError::InvalidArgument)?;
        store::owned_subscription(&self.db, id, &principal.sub, &principal.agency)
            .await?
            .ok_or(ServiceError::NotFound("webhook subscription"))
    }

    async fn list(
        &self,
        principal: &Principal,
        request: ListWebhookSubscriptionsRequest,
    ) -> Result<ListWebhookSubscriptionsResponse, ServiceError> {
        let page = request.page.unwrap_or_default();
        let size = paging::page_size(&page, 25, 100)?;
        let after = paging::decode_id_cursor(SUBSCRIPTION_CURSOR, &page.page_token)?;
        let mut rows = store::subscriptions_page(
            &self.db,
            &principal.sub,
            &principal.agency,
            after.as_deref(),
            u64::from(size) + 1,
        )
        .await?;
        let next_page_token = paging::finish_page(&mut rows, size, |r| {
            paging::encode_id_cursor(SUBSCRIPTION_CURSOR, &r.id)
        });
        Ok(ListWebhookSubscriptionsResponse {
            subscriptions: rows.iter().map(to_wire).collect(),
            next_page_token,
        })
    }

    async fn rotate(
        &self,
        principal: &Principal,
        request: RotateWebhookSecretRequest,
    ) -> Result<CreatedWebhookSubscription, ServiceError> {
        let row = self.owned(principal, "id", &request.id).await?;
        let generation = row.secret_generation;
        let (secret, wrapped) = signing::new_secret(&self.keyring, &row.id, generation + 1)?;
        let grace_us = (self.settings.config.rotation_grace_secs as i64).saturating_mul(1_000_000);
        let expires = now_micros().saturating_add(grace_us);
        if !store::rotate_secret(&self.db, &row.id, generation, wrapped, row.secret, expires)
            .await?
        {
            return Err(ServiceError::FailedPrecondition(
                "the secret was rotated meanwhile; read the subscription and try again".into(),
            ));
        }
        let row = self.owned(principal, "id", &request.id).await?;
        Ok(CreatedWebhookSubscription {
            subscription: Some(to_wire(&row)),
            secret: secret.text(),
        })
    }

    async fn deliveries(
        &self,
        principal: &Principal,
        request: ListWebhookDeliveriesRequest,
    ) -> Result<ListWebhookDeliveriesResponse, ServiceError> {
        let subscription = self
            .owned(principal, "subscription_id", &request.subscription_id)
            .await?;
        let page = request.page.unwrap_or_default();
        let size = paging::page_size(&page, 25, 100)?;
        let before = paging::decode_id_cursor(DELIVERY_CURSOR, &page.page_token)?;
        let mut rows = store::deliveries_page(
            &self.db,
            &subscription.id,
            before.as_deref(),
            u64::from(size) + 1,
        )
        .await?;
        let next_page_token = paging::finish_page(&mut rows, size, |r| {
            paging::encode_id_cursor(DELIVERY_CURSOR, &r.id)
        });
        Ok(ListWebhookDeliveriesResponse {
            deliveries: rows.iter().map(delivery_to_wire).collect(),
            next_page_token,
        })
    }

    async fn replay(
        &self,
        principal: &Principal,
        request: ReplayWebhookDeliveryRequest,
    ) -> Result<WebhookDelivery, ServiceError> {
        validate::record_id("id", &request.id).map_err(ServiceError::InvalidArgument)?;
        let not_found = ServiceError::NotFound("webhook delivery");
        let delivery = store::delivery(&self.db, &request.id)
            .await?
            .ok_or(ServiceError::NotFound("webhook delivery"))?;
        if store::owned_subscription(
            &self.db,
            &delivery.subscription_id,
            &principal.sub,
            &principal.agency,
        )
        .await?
        .is_none()
        {
            return Err(not_found);
        }
        store::replay(&self.db, &delivery.id, now_micros()).await?;
        let delivery = store::delivery(&self.db, &request.id)
            .await?
            .ok_or(not_found)?;
        Ok(delivery_to_wire(&delivery))
    }

    async fn changes(
        &self,
        principal: &Principal,
        request: ListChangesRequest,
    ) -> Result<ListChangesResponse, ServiceError> {
        let size = match request.page_size {
            0 => DEFAULT_CHANGES,
            n if n > MAX_CHANGES => {
                return Err(ServiceError::invalid(
                    "page_size",
                    format!("must be at most {MAX_CHANGES}"),
                ));
            }
            n => n,
        };
        let after = decode_change_cursor(&request.cursor)?;
        let rows = store::changes_page(&self.db, &principal.agency, after, u64::from(size)).await?;
        // The cursor names a position in the whole feed, so a page of another agency's rows, or an
        // empty one, still moves it no further than the rows this caller was shown.
        let next = rows.last().map_or(after, |row| row.seq);
        // Which children's changes a partner read, as every read of a child is logged. Ids only: the
        // entries name no class.
        self.audit
            .record(
                rows.iter()
                    .map(|row| {
                        AuditEntry::of_call(
                            principal,
                            "list-changes",
                            RPC_LIST_CHANGES,
                            &row.child_id,
                            ClassSet::EMPTY,
                        )
                    })
                    .collect(),
            )
            .await?;
        Ok(ListChangesResponse {
            changes: rows.iter().map(change_to_wire).collect(),
            next_cursor: encode_change_cursor(next),
        })
    }
}

fn event_types(requested: &[String]) -> Result<Vec<String>, ServiceError> {
    if requested.is_empty() {
        return Err(ServiceError::invalid(
            "event_types",
            "must name at least one event type",
        ));
    }
    let mut types: Vec<String> = Vec::new();
    for (i, kind) in requested.iter().enumerate() {
        if !EVENT_TYPES.contains(&kind.as_str()) {
            return Err(ServiceError::invalid(
                format!("event_types[{i}]"),
                "must be child.changed, child.erased or child.merged",
            ));
        }
        if !types.contains(kind) {
            types.push(kind.clone());
        }
    }
    Ok(types)
}

fn to_wire(row: &webhook_subscription::Model) -> WebhookSubscription {
    let rotating = row
        .previous_expires_at_us
        .filter(|expires| *expires > now_micros());
    WebhookSubscription {
        id: row.id.clone(),
        url: row.url.clone(),
        event_types: row.event_types.split(',').map(str::to_owned).collect(),
        owner: row.owner.clone(),
        agency: row.agency.clone(),
        created_at: Some(timestamp(row.created_at_us)),
        previous_secret_expires_at: rotating.map(timestamp),
    }
}

fn delivery_to_wire(row: &webhook_delivery::Model) -> WebhookDelivery {
    let status = match row.status.as_str() {
        PENDING => WebhookDeliveryStatus::Pending,
        DELIVERED => WebhookDeliveryStatus::Delivered,
        FAILED => WebhookDeliveryStatus::Failed,
        WITHDRAWN => WebhookDeliveryStatus::Withdrawn,
        _ => WebhookDeliveryStatus::Unspecified,
    };
    WebhookDelivery {
        id: row.id.clone(),
        subscription_id: row.subscription_id.clone(),
        event_id: row.event_id.clone(),
        event_type: row.event_type.clone(),
        status: status as i32,
        attempts: row.attempts,
        last_response_code: row.last_response_code,
        created_at: Some(timestamp(row.created_at_us)),
        next_attempt_at: (row.status == PENDING).then(|| timestamp(row.next_attempt_at_us)),
        delivered_at: row.delivered_at_us.map(timestamp),
    }
}

fn change_to_wire(row: &partner_change::Model) -> Change {
    Change {
        event_id: row.event_id.clone(),
        event_type: row.event_type.clone(),
        child_id: row.child_id.clone(),
        version: row.version,
        merged_into: row.merged_into.clone(),
        occurred_at: Some(timestamp(row.occurred_at_us)),
    }
}

fn encode_change_cursor(seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{CHANGE_CURSOR}{seq}"))
}

fn decode_change_cursor(cursor: &str) -> Result<i64, ServiceError> {
    if cursor.is_empty() {
        return Ok(0);
    }
    let invalid = || ServiceError::invalid("cursor", "is not a cursor this service issued");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    text.strip_prefix(CHANGE_CURSOR)
        .and_then(|seq| seq.parse::<i64>().ok())
        .filter(|seq| *seq >= 0)
        .ok_or_else(invalid)
}

#[tonic::async_trait]
impl PartnerFeed for PartnerFeedService {
    async fn create_webhook_subscription(
        &self,
        request: Request<CreateWebhookSubscriptionRequest>,
    ) -> Result<Response<CreatedWebhookSubscription>, Status> {
        let principal = authenticate(&self.auth, &request).await?;
        Ok(Response::new(
            self.create(&principal, request.into_inner()).await?,
        ))
    }

    async fn list_webhook_subscriptions(
        &self,
        request: Request<ListWebhookSubscriptionsRequest>,
    ) -> Result<Response<ListWebhookSubscriptionsResponse>, Status> {
        let principal = authenticate(&self.auth, &request).await?;
        Ok(Response::new(
            self.list(&principal, request.into_inner()).await?,
        ))
    }

    async fn get_webhook_subscription(
        &self,
        request: Request<GetWebhookSubscriptionRequest>,
    ) -> Result<Response<WebhookSubscription>, Status> {
        let principal = authenticate(&self.auth, &request).await?;
        let row = self
            .owned(&principal, "id", &request.into_inner().id)
            .await?;
        Ok(Response::new(to_wire(&row)))
    }

    async fn delete_webhook_subscription(
        &self,
        request: Request<DeleteWebhookSubscriptionRequest>,
    ) -> Result<Response<DeleteWebhookSubscriptionResponse>, Status> {
        let principal = authenticate(&self.auth, &request).await?;
        let row = self
            .owned(&principal, "id", &request.into_inner().id)
            .await?;
        store::delete_subscription(&self.db, &row.id).await?;
        Ok(Response::new(DeleteWebhookSubscriptionResponse {}))
    }

    async fn rotate_webhook_secret(
        &self,
        request: Request<RotateWebhookSecretRequest>,
    ) -> Result<Response<CreatedWebhookSubscription>, Status> {
        let principal = authenticate(&self.auth, &request).await?;
        Ok(Response::new(
            self.rotate(&principal, request.into_inner()).await?,
        ))
    }

    async fn list_webhook_deliveries(
        &self,
        request: Request<ListWebhookDeliveriesRequest>,
    ) -> Result<Response<ListWebhookDeliveriesResponse>, Status> {
        let principal = authenticate(&self.auth, &request).await?;
        Ok(Response::new(
            self.deliveries(&principal, request.into_inner()).await?,
        ))
    }

    async fn replay_webhook_delivery(
        &self,
        request: Request<ReplayWebhookDeliveryRequest>,
    ) -> Result<Response<WebhookDelivery>, Status> {
        let principal = authenticate(&self.auth, &request).await?;
        Ok(Response::new(
            self.replay(&principal, request.into_inner()).await?,
        ))
    }

    async fn list_changes(
        &self,
        request: Request<ListChangesRequest>,
    ) -> Result<Response<ListChangesResponse>, Status> {
        let principal = authenticate(&self.auth, &request).await?;
        Ok(Response::new(
            self.changes(&principal, request.into_inner()).await?,
        ))
    }
}
