//! Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256 over "id.timestamp.body">`,
//! with the secret shown to the partner as `whsec_<base64 of the key>`. During a rotation's grace
//! period the old secret signs too, and the header carries both signatures, space-separated, so a
//! receiver holding either secret verifies the call.
//!
//! A secret is a random 256-bit key made and wrapped by the deployment keyring exactly like a child's
//! data key ([`Keyring::new_data_key`]): it is stored only wrapped, and its associated data names the
//! subscription and the secret's generation, so a wrapped secret copied to another subscription (or
//! back over a newer one) does not open.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use haven_platform::ServiceError;
use haven_platform::sealing::{Keyring, WrappedKey};
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

use crate::store::sealing_error;

/// The prefix of a secret's text.
pub(crate) const SECRET_PREFIX: &str = "whsec_";

/// A signing key in the clear, for as long as one signature or one answer needs it.
pub(crate) struct SigningSecret(Vec<u8>);

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret(..)")
    }
}

impl SigningSecret {
    /// `whsec_<base64>`: the form the partner is given once.
    pub(crate) fn text(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// One `v1,<base64>` signature of `id.timestamp.body`.
    pub(crate) fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// The associated data a subscription's secret of `generation` is wrapped under.
fn secret_label(subscription_id: &str, generation: i32) -> String {
    format!("webhook-secret:{subscription_id}:{generation}")
}

/// A new secret for a subscription: its clear form (to answer once) and its wrapped bytes (to store).
pub(crate) fn new_secret(
    keyring: &Keyring,
    subscription_id: &str,
    generation: i32,
) -> Result<(SigningSecret, Vec<u8>), ServiceError> {
    let label = secret_label(subscription_id, generation);
    let (key, wrapped) = keyring.new_data_key(&label).map_err(sealing_error)?;
    Ok((
        SigningSecret(key.secret_bytes().to_vec()),
        wrapped.to_bytes(),
    ))
}

/// Unwraps a stored secret of `generation`.
pub(crate) fn open_secret(
    keyring: &Keyring,
    subscription_id: &str,
    generation: i32,
    wrapped: &[u8],
) -> Result<SigningSecret, ServiceError> {
    let wrapped = WrappedKey::from_bytes(wrapped).map_err(sealing_error)?;
    let key = keyring
        .unwrap(&secret_label(subscription_id, generation), &wrapped)
        .map_err(sealing_error)?;
    Ok(SigningSecret(key.secret_bytes().to_vec()))
}

/// A stored secret wrapped under the keyring's current master key: `None` when it already is.
pub(crate) fn rewrapped(
    keyring: &Keyring,
    subscription_id: &str,
    generation: i32,
    wrapped: &[u8],
) -> Result<Option<Vec<u8>>, ServiceError> {
    let wrapped = WrappedKey::from_bytes(wrapped).map_err(sealing_error)?;
    if wrapped.master_version() == keyring.current_version() {
        return Ok(None);
    }
    let fresh = keyring
        .rewrap(&secret_label(subscription_id, generation), &wrapped)
        .map_err(sealing_error)?;
    Ok(Some(fresh.to_bytes()))
}

/// The `webhook-signature` header: the current secret's signature, then the previous one's while it
/// still signs.
pub(crate) fn signature_header(
    secrets: &[SigningSecret],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|secret| secret.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use haven_platform::sealing::MasterKey;

    fn keyring() -> Keyring {
        Keyring::new(MasterKey::generate(1), Vec::new()).expect("keyring")
    }

    #[test]
    fn a_signature_is_the_hmac_of_id_timestamp_and_body_in_base64() {
        // The Standard Webhooks reference vector.
        let secret = SigningSecret(
            STANDARD
                .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
                .expect("base64"),
        );
        let signature = secret.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn a_secret_opens_only_for_its_own_subscription_and_generation() {
        let keyring = keyring();
        let (secret, wrapped) = new_secret(&keyring, "sub-1", 1).expect("new");
        let opened = open_secret(&keyring, "sub-1", 1, &wrapped).expect("open");
        assert_eq!(opened.text(), secret.text());
        assert!(secret.text().starts_with(SECRET_PREFIX));
        assert!(open_secret(&keyring, "sub-2", 1, &wrapped).is_err());
        assert!(open_secret(&keyring, "sub-1", 2, &wrapped).is_err());
    }

    #[test]
    fn a_secret_rewrapped_under_a_new_master_key_still_opens() {
        let old = MasterKey::generate(1);
        let old_again = MasterKey::from_encoded(&old.encode()).expect("same key");
        let before = Keyring::new(old, Vec::new()).expect("keyring");
        let (secret, wrapped) = new_secret(&before, "sub-1", 3).expect("new");
        let after = Keyring::new(MasterKey::generate(2), vec![old_again]).expect("rotated");
        let fresh = rewrapped(&after, "sub-1", 3, &wrapped)
            .expect("rewrap")
            .expect("it was under the old key");
        assert_eq!(rewrapped(&after, "sub-1", 3, &fresh).expect("again"), None);
        let retired = Keyring::new(MasterKey::generate(2), Vec::new()).expect("old key retired");
        assert!(open_secret(&retired, "sub-1", 3, &wrapped).is_err());
        let opened = open_secret(&after, "sub-1", 3, &fresh).expect("open");
        assert_eq!(opened.text(), secret.text());
    }

    #[test]
    fn during_a_rotation_both_secrets_sign_space_separated() {
        let keyring = keyring();
        let (new, _) = new_secret(&keyring, "sub-1", 2).expect("new");
        let (old, _) = new_secret(&keyring, "sub-1", 1).expect("old");
        let header = signature_header(&[new, old], "id", 5, b"{}");
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_ne!(parts[0], parts[1]);
        assert!(parts.iter().all(|p| p.starts_with("v1,")));
    }
}
