//! The `location` scope's storage: keyed tags of each child's current admin path, and the service key
//! behind them (kept wrapped by the master key, like a child's data key).

use std::collections::HashMap;

use haven_authz::{LocationKey, LocationTag, tag_from_hex, tag_hex};
use haven_platform::ServiceError;
use haven_platform::sealing::{Keyring, WrappedKey};
use haven_proto::identity::Child;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::entity::{location_tag, service_key};
use crate::store::sealing_error;

/// The `service_keys` row of the location-tag key; also its wrapping's associated data.
pub(crate) const LOCATION_KEY_NAME: &str = "service-key:location-tags";

/// Loads the location-tag key, creating it on first use. Replicas racing to create it converge on the
/// row that was inserted first.
pub(crate) async fn load_or_create_key<C: ConnectionTrait>(
    conn: &C,
    keyring: &Keyring,
) -> Result<LocationKey, ServiceError> {
    if service_key::Entity::find_by_id(LOCATION_KEY_NAME.to_owned())
        .one(conn)
        .await?
        .is_none()
    {
        let (_, wrapped) = keyring
            .new_data_key(LOCATION_KEY_NAME)
            .map_err(sealing_error)?;
        service_key::Entity::insert(service_key::ActiveModel {
            name: Set(LOCATION_KEY_NAME.to_owned()),
            wrapped: Set(wrapped.to_bytes()),
        })
        .on_conflict(
            OnConflict::column(service_key::Column::Name)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    }
    let row = service_key::Entity::find_by_id(LOCATION_KEY_NAME.to_owned())
        .one(conn)
        .await?
        .ok_or_else(|| ServiceError::Internal("location key vanished".into()))?;
    let wrapped = WrappedKey::from_bytes(&row.wrapped).map_err(sealing_error)?;
    let key = keyring
        .unwrap(LOCATION_KEY_NAME, &wrapped)
        .map_err(sealing_error)?;
    Ok(LocationKey::from_bytes(*key.secret_bytes()))
}

/// Replaces a child's location tags with those of its current location (none without one).
pub(crate) async fn write_tags<C: ConnectionTrait>(
    conn: &C,
    key: &LocationKey,
    child_id: &str,
    child: &Child,
) -> Result<(), ServiceError> {
    location_tag::Entity::delete_many()
        .filter(location_tag::Column::ChildId.eq(child_id))
        .exec(conn)
        .await?;
    let rows: Vec<location_tag::ActiveModel> = key
        .tags_for_path(current_path(child))
        .iter()
        .map(|tag| location_tag::ActiveModel {
            child_id: Set(child_id.to_owned()),
            tag: Set(tag_hex(tag)),
        })
        .collect();
    if !rows.is_empty() {
        location_tag::Entity::insert_many(rows)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// The child's current admin path, empty without a location.
pub(crate) fn current_path(child: &Child) -> &[String] {
    child
        .whereabouts
        .as_ref()
        .and_then(|w| w.current_location.as_ref())
        .map(|l| l.admin_path.as_slice())
        .unwrap_or_default()
}

pub(crate) async fn delete_tags<C: ConnectionTrait>(
    conn: &C,
    child_id: &str,
) -> Result<(), ServiceError> {
    location_tag::Entity::delete_many()
        .filter(location_tag::Column::ChildId.eq(child_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// The location tags of `ids`.
pub(crate) async fn tags_of<C: ConnectionTrait>(
    conn: &C,
    ids: &[String],
) -> Result<HashMap<String, Vec<LocationTag>>, ServiceError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = location_tag::Entity::find()
        .filter(location_tag::Column::ChildId.is_in(ids.iter().cloned()))
        .all(conn)
        .await?;
    let mut by_child: HashMap<String, Vec<LocationTag>> = HashMap::new();
    for row in rows {
        if let Some(tag) = tag_from_hex(&row.tag) {
            by_child.entry(row.child_id).or_default().push(tag);
        }
    }
    Ok(by_child)
}

/// Re-wraps the service keys under the current master key. Returns how many changed.
pub(crate) async fn rewrap_service_keys<C: ConnectionTrait>(
    conn: &C,
    keyring: &Keyring,
) -> Result<u64, ServiceError> {
    let mut rewrapped = 0;
    for row in service_key::Entity::find().all(conn).await? {
        let wrapped = WrappedKey::from_bytes(&row.wrapped).map_err(sealing_error)?;
        if wrapped.master_version() == keyring.current_version() {
            continue;
        }
        let fresh = keyring.rewrap(&row.name, &wrapped).map_err(sealing_error)?;
        service_key::Entity::update(service_key::ActiveModel {
            name: Set(row.name),
            wrapped: Set(fresh.to_bytes()),
        })
        .exec(conn)
        .await?;
        rewrapped += 1;
    }
    Ok(rewrapped)
}
