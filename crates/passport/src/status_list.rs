//! Status lists: the signed `1EdTechRevocationList` an issuer publishes with the ids of the passports
//! it revoked, and the offline check of a verified passport against one.

use serde_json::{Value, json};

use crate::{PassportError, PassportIssuer, TrustList, VerifiedPassport};

impl PassportIssuer {
    /// Where the gateway publishes a status list of this issuer.
    pub fn status_list_url(&self, list_id: &str) -> String {
        format!("{}/passports/status/{list_id}", self.public_base)
    }

    /// Signs the `1EdTechRevocationList` document of one status list: the list's URL, the issuer and
    /// the revoked credential ids.
    pub fn status_list_credential(
        &self,
        list_id: &str,
        revoked: &[String],
        now: i64,
    ) -> Result<String, PassportError> {
        let claims = json!({
            "iss": self.key.did,
            "iat": now,
            "nbf": now,
            "id": self.status_list_url(list_id),
            "issuer": self.key.did,
            "revokedCredentials": revoked.iter().map(|id| json!({ "id": id })).collect::<Vec<_>>(),
        });
        self.sign(&claims)
    }
}

/// Whether a verified passport is on a status list (the `1EdTechRevocationList` JWT its issuer
/// publishes), checked offline once the list has been fetched. The list must be signed by a trusted key
/// of the same issuer and be the list the passport points at.
pub fn is_revoked(
    passport: &VerifiedPassport,
    status_list_jwt: &str,
    trusted: &TrustList,
) -> Result<bool, PassportError> {
    let signed = trusted.verify_signature(status_list_jwt.trim())?;
    let payload: Value =
        serde_json::from_slice(&signed.payload).map_err(|_| PassportError::Malformed)?;
    let issuer = payload["iss"].as_str().unwrap_or_default();
    if issuer != passport.issuer || !signed.key.accepts_issuer(issuer) {
        return Err(PassportError::IssuerMismatch);
    }
    if payload["id"].as_str() != passport.status_list_url.as_deref() {
        return Err(PassportError::StatusListMismatch);
    }
    let revoked = payload["revokedCredentials"]
        .as_array()
        .ok_or(PassportError::NotACredential("revokedCredentials"))?;
    Ok(revoked
        .iter()
        .any(|entry| entry["id"].as_str() == Some(passport.credential_id.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::now_secs;
    use crate::test_support::*;
    use crate::verify;

    #[test]
    fn a_revoked_passport_is_on_its_signed_status_list() {
        let issuer = issuer();
        let trusted = issuer.trust_list();
        let issued = issuer.issue(&content(1, named())).expect("issue");
        let verified = verify(&issued.jwt, &trusted).expect("verifies");
        let empty = issuer
            .status_list_credential("1", &[], now_secs())
            .expect("sign");
        assert_eq!(is_revoked(&verified, &empty, &trusted), Ok(false));
        let listed = issuer
            .status_list_credential("1", std::slice::from_ref(&issued.credential_id), now_secs())
            .expect("sign");
        assert_eq!(is_revoked(&verified, &listed, &trusted), Ok(true));
        let other_list = issuer
            .status_list_credential("2", std::slice::from_ref(&issued.credential_id), now_secs())
            .expect("sign");
        assert_eq!(
            is_revoked(&verified, &other_list, &trusted),
            Err(PassportError::StatusListMismatch)
        );
    }
}
