//! The credential's writer: a passport's content built into an Open Badges 3.0 credential and signed
//! by the issuer.

use super::{
    Achievement, IssuedPassport, OB_CONTEXT, PassportContent, Recipient, VC_CONTEXT,
    hashed_identity,
};
use crate::{PassportError, PassportIssuer};
use serde_json::{Value, json};

impl PassportIssuer {
    /// Builds and signs the credential.
    pub fn issue(&self, content: &PassportContent) -> Result<IssuedPassport, PassportError> {
        let credential_id = format!("urn:uuid:{}", content.credential_id);
        let subject_id = format!("urn:uuid:{}", uuid::Uuid::new_v4());
        let (descriptions, results): (Vec<Value>, Vec<Value>) = content
            .achievements
            .iter()
            .map(|a| self.result_of(a))
            .unzip();
        let mut subject = json!({
            "id": subject_id,
            "type": ["AchievementSubject"],
            "identifier": content.recipient.identity_objects(),
            "achievement": {
                "id": format!("{credential_id}#achievement"),
                "type": ["Achievement"],
                "achievementType": "LearningProgram",
                "name": "Learning passport",
                "description": "Learning records kept by the issuing organisation, each aligned to its curriculum outcome",
                "criteria": { "narrative": "Each result was recorded by an educator or learning platform of the issuer." },
                "resultDescription": descriptions,
            },
            "result": results,
        });
        if let Some(last) = content
            .achievements
            .iter()
            .filter_map(|a| a.occurred_at)
            .max()
        {
            subject["activityEndDate"] = json!(rfc3339(last));
        }
        let mut vc = json!({
            "@context": [VC_CONTEXT, OB_CONTEXT],
            "id": credential_id,
            "type": ["VerifiableCredential", "OpenBadgeCredential"],
            "name": "Learning passport",
            "issuer": { "id": self.key.did, "type": ["Profile"], "name": self.name },
            "validFrom": rfc3339(content.valid_from),
            "credentialSubject": subject,
            "credentialStatus": {
                "id": self.status_list_url(&content.status_list_id),
                "type": "1EdTechRevocationList",
            },
        });
        let mut claims = json!({
            "iss": self.key.did,
            "jti": credential_id,
            "sub": subject_id,
            "nbf": content.valid_from,
            "vc": Value::Null,
        });
        if let Some(until) = content.valid_until {
            vc["validUntil"] = json!(rfc3339(until));
            claims["exp"] = json!(until);
        }
        claims["vc"] = vc;
        Ok(IssuedPassport {
            jwt: self.sign(&claims)?,
            credential_id,
        })
    }

    fn result_of(&self, achievement: &Achievement) -> (Value, Value) {
        let description_id = format!("urn:uuid:{}", achievement.record_id);
        let mut alignment: Vec<Value> = achievement
            .outcomes
            .iter()
            .map(|(code, label)| {
                let target = format!(
                    "{}/{}/{code}",
                    achievement.subject_code, achievement.level_code
                );
                self.alignment(&achievement.framework_code, &target, label, "ext:Outcome")
            })
            .collect();
        if alignment.is_empty() && !achievement.framework_code.is_empty() {
            let target = format!("{}/{}", achievement.subject_code, achievement.level_code);
            alignment.push(self.alignment(
                &achievement.framework_code,
                &target,
                &achievement.title,
                "ext:Level",
            ));
        }
        let mut description = json!({
            "id": description_id,
            "type": ["ResultDescription"],
            "name": achievement.title,
            "alignment": alignment,
        });
        let mut result = json!({ "type": ["Result"], "resultDescription": description_id });
        match &achievement.score {
            None => {
                description["resultType"] = json!("Status");
                result["status"] = json!("Completed");
            }
            Some(score) => {
                if let Some(scaled) = score.scaled {
                    description["resultType"] = json!("ScaledScore");
                    description["valueMin"] = json!("0");
                    description["valueMax"] = json!("100");
                    result["value"] = json!(format_number(scaled));
                } else if score.max > 0.0 {
                    description["resultType"] = json!("RawScore");
                    description["valueMin"] = json!("0");
                    description["valueMax"] = json!(format_number(score.max));
                    result["value"] = json!(format_number(score.raw));
                } else {
                    description["resultType"] = json!("LetterGrade");
                    result["value"] = json!(score.grade);
                }
                if let Some(passed) = score.passed {
                    result["status"] = json!(if passed { "Completed" } else { "Failed" });
                }
            }
        }
        (description, result)
    }

    fn alignment(&self, framework: &str, code: &str, name: &str, kind: &str) -> Value {
        json!({
            "type": ["Alignment"],
            "targetName": if name.is_empty() { code } else { name },
            "targetUrl": format!("{}/curricula/{framework}/{code}", self.public_base),
            "targetFramework": framework,
            "targetCode": code,
            "targetType": kind,
        })
    }
}

impl Recipient {
    /// Open Badges 3.0 `IdentityObject`s. Hashed: `sha256$` + hex(SHA-256(name + salt)).
    pub(super) fn identity_objects(&self) -> Value {
        match self {
            Recipient::Named {
                given_name,
                family_name,
                birth_year,
            } => {
                let name = format!("{given_name} {family_name}").trim().to_owned();
                let mut objects = vec![json!({
                    "type": "IdentityObject", "identityType": "name", "hashed": false, "identityHash": name,
                })];
                if let Some(year) = birth_year {
                    objects.push(json!({
                        "type": "IdentityObject", "identityType": "ext:birthYear", "hashed": false,
                        "identityHash": year.to_string(),
                    }));
                }
                Value::Array(objects)
            }
            Recipient::Hashed { name, salt } => json!([{
                "type": "IdentityObject",
                "identityType": "name",
                "hashed": true,
                "identityHash": hashed_identity(name, salt),
                "salt": salt,
            }]),
        }
    }
}

fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn format_number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::test_support::*;
    use crate::{Algorithm, TrustList, verify};

    #[test]
    fn an_issued_passport_names_its_did_key_and_verifies() {
        let issuer = issuer();
        let issued = issuer.issue(&content(3, named())).expect("issue");
        let header = segment(&issued.jwt, 0);
        assert_eq!(header["alg"], "EdDSA");
        assert_eq!(header["typ"], "JWT");
        assert_eq!(header["kid"], issuer.kid());
        assert!(issuer.kid().starts_with(&format!("{}#z6Mk", issuer.did())));
        let verified = verify(&issued.jwt, &issuer.trust_list()).expect("verifies");
        assert_eq!(verified.issuer, issuer.did());
        assert_eq!(verified.issuer_name, "Test School Network");
        assert_eq!(verified.credential_id, issued.credential_id);
        assert_eq!(
            verified.status_list_url.as_deref(),
            Some("https://haven.example.org/passports/status/1")
        );
        assert_eq!(verified.achievements.len(), 3);
        assert_eq!(verified.achievements[0].outcome_codes, vec!["M5.0"]);
        assert_eq!(
            verified.achievements[0]
                .score
                .as_ref()
                .and_then(|s| s.scaled),
            Some(84.0)
        );
    }

    #[test]
    fn the_credential_has_the_open_badges_shape() {
        let issued = issuer().issue(&content(2, named())).expect("issue");
        let payload = segment(&issued.jwt, 1);
        let vc = &payload["vc"];
        assert_eq!(vc["@context"], json!([VC_CONTEXT, OB_CONTEXT]));
        assert_eq!(
            vc["type"],
            json!(["VerifiableCredential", "OpenBadgeCredential"])
        );
        assert_eq!(vc["issuer"]["type"], json!(["Profile"]));
        assert_eq!(
            vc["credentialSubject"]["type"],
            json!(["AchievementSubject"])
        );
        assert_eq!(vc["credentialStatus"]["type"], "1EdTechRevocationList");
        assert_eq!(payload["jti"], vc["id"]);
        assert_eq!(payload["iss"], vc["issuer"]["id"]);
        assert!(
            payload["sub"]
                .as_str()
                .is_some_and(|s| s.starts_with("urn:uuid:"))
        );
    }

    #[test]
    fn a_hashed_recipient_leaves_no_name_or_birth_year_in_the_passport() {
        let recipient = Recipient::Hashed {
            name: "Testa Example".into(),
            salt: "s4lt".into(),
        };
        let issued = issuer().issue(&content(1, recipient)).expect("issue");
        let payload = segment(&issued.jwt, 1).to_string();
        assert!(!payload.contains("Testa"));
        assert!(!payload.contains("2015"));
        assert!(payload.contains(&hashed_identity("Testa Example", "s4lt")));
        assert!(hashed_identity("a", "b").starts_with("sha256$"));
    }

    #[test]
    fn an_rs256_passport_names_its_rsa_did_key_and_thumbprint_and_verifies() {
        let issuer = rsa_issuer();
        assert_eq!(issuer.algorithm(), Algorithm::Rs256);
        let issued = issuer.issue(&content(3, named())).expect("issue");
        let header = segment(&issued.jwt, 0);
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["typ"], "JWT");
        assert_eq!(header["kid"], issuer.kid());
        // A 2048-bit RSA did:key starts z4MX; the kid is a SHA-256 thumbprint, 43 base64url characters.
        assert!(issuer.did().starts_with("did:key:z4MX"), "{}", issuer.did());
        assert_eq!(issuer.kid().len(), 43);
        assert_eq!(segment(&issued.jwt, 1)["iss"], issuer.did());
        for trusted in [
            issuer.trust_list(),
            TrustList::from_jwks(&issuer.jwks_json()).expect("jwks"),
            TrustList::from_did_keys([issuer.did()]).expect("did list"),
        ] {
            let verified = verify(&issued.jwt, &trusted).expect("verifies");
            assert_eq!(verified.issuer, issuer.did());
            assert_eq!(verified.kid, issuer.kid());
            assert_eq!(verified.issuer_name, "Test RSA School Network");
            assert_eq!(verified.achievements.len(), 3);
        }
        let jwks: Value = serde_json::from_str(&issuer.jwks_json()).expect("json");
        assert_eq!(jwks["keys"][0]["kty"], "RSA");
        assert_eq!(jwks["keys"][0]["alg"], "RS256");
        assert_eq!(jwks["keys"][0]["e"], "AQAB");
        assert!(jwks["keys"][0].get("d").is_none());
        // Blinded signing is randomised, but PKCS#1 v1.5 is deterministic: the same input, the same bytes.
        assert_eq!(
            issuer.sign(&json!({"a": 1})).expect("sign"),
            issuer.sign(&json!({"a": 1})).expect("sign")
        );
    }

    #[test]
    fn a_passport_of_two_hundred_achievements_issues_and_verifies_whole() {
        // How long this takes is measured by haven-passport-bench (BENCHMARKS.md), not here.
        let issuer = issuer();
        let trusted = issuer.trust_list();
        let c = content(200, named());
        let issued = issuer.issue(&c).expect("issue");
        let verified = verify(&issued.jwt, &trusted).expect("verifies");
        assert_eq!(verified.achievements.len(), 200);
        let titles: Vec<_> = verified
            .achievements
            .iter()
            .map(|a| a.title.clone())
            .collect();
        let expected: Vec<_> = c.achievements.iter().map(|a| a.title.clone()).collect();
        assert_eq!(titles, expected, "every achievement comes back, in order");
    }
}
