//! The credential's reader: a passport verified fully offline against a trust list, then read into
//! the achievements an importer takes over.
//!
//! A 200-record passport is about 140 KB. The signature is checked over the compact serialization's
//! signing input as it stands (one SHA-512 or SHA-256 pass, no copy), and only then is the payload
//! decoded once and read into borrowed, typed structs that skip what a passport does not need, rather
//! than into a `serde_json::Value` tree.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::de::{self, MapAccess};
use serde::{Deserialize, Deserializer};

use super::Score;
use super::lenient::{Lenient, LenientList, ShapeRead, ShapeVisitor, Text, TextList};
use crate::{PassportError, TrustList};

/// Clock skew allowed on `nbf` and `exp`, in seconds.
pub const LEEWAY_SECS: i64 = 60;

// --- the payload, read into borrowed typed structs ------------------------------------------------
//
// The registered claims and the credential's envelope are typed strictly: a wrong type refuses the
// passport. The achievements are read leniently, as a `Value` walk would read them: a member of an
// unexpected shape reads as absent and its result is skipped, because other issuers' OB 3.0
// credentials carry extensions this format does not describe. A duplicate member is refused anywhere.

/// The JWT claims of a passport, as read back.
#[derive(Deserialize)]
struct PassportClaims<'a> {
    #[serde(borrow)]
    iss: Cow<'a, str>,
    #[serde(default)]
    jti: Option<String>,
    #[serde(default, rename = "sub")]
    _subject: Option<String>,
    nbf: i64,
    #[serde(default)]
    exp: Option<i64>,
    #[serde(borrow)]
    vc: CredentialDoc<'a>,
}

#[derive(Deserialize)]
struct CredentialDoc<'a> {
    #[serde(default, borrow)]
    id: Text<'a>,
    #[serde(default, borrow, rename = "type")]
    types: TextList<'a>,
    #[serde(default, borrow)]
    issuer: IssuerDoc<'a>,
    #[serde(default, borrow, rename = "credentialStatus")]
    status: Lenient<StatusDoc<'a>>,
    #[serde(default, borrow, rename = "credentialSubject")]
    subject: Lenient<SubjectDoc<'a>>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct StatusDoc<'a> {
    #[serde(borrow)]
    id: Text<'a>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct ProfileDoc<'a> {
    #[serde(borrow)]
    id: Text<'a>,
    #[serde(borrow)]
    name: Text<'a>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct SubjectDoc<'a> {
    #[serde(borrow)]
    achievement: Lenient<AchievementDoc<'a>>,
    #[serde(borrow)]
    result: LenientList<Lenient<ResultDoc<'a>>>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct AchievementDoc<'a> {
    #[serde(borrow, rename = "resultDescription")]
    result_descriptions: LenientList<Lenient<ResultDescriptionDoc<'a>>>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct ResultDescriptionDoc<'a> {
    #[serde(borrow)]
    id: Text<'a>,
    #[serde(borrow)]
    name: Text<'a>,
    #[serde(borrow)]
    alignment: LenientList<Lenient<AlignmentDoc<'a>>>,
    #[serde(borrow, rename = "valueMax")]
    value_max: Text<'a>,
    #[serde(borrow, rename = "resultType")]
    result_type: Text<'a>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct AlignmentDoc<'a> {
    #[serde(borrow, rename = "targetCode")]
    target_code: Text<'a>,
    #[serde(borrow, rename = "targetFramework")]
    target_framework: Text<'a>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct ResultDoc<'a> {
    #[serde(borrow, rename = "resultDescription")]
    result_description: Text<'a>,
    #[serde(borrow)]
    value: Text<'a>,
    #[serde(borrow)]
    status: Text<'a>,
}

/// The credential's `issuer`: an id, or a `Profile` object with an id and a name.
#[derive(Default)]
struct IssuerDoc<'a>(ProfileDoc<'a>);

impl<'de: 'a, 'a> ShapeRead<'de> for IssuerDoc<'a> {
    fn from_str(id: Cow<'de, str>) -> Self {
        IssuerDoc(ProfileDoc {
            id: Text(Some(id)),
            name: Text(None),
        })
    }

    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        ProfileDoc::deserialize(de::value::MapAccessDeserializer::new(map)).map(IssuerDoc)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for IssuerDoc<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ShapeVisitor::read(deserializer)
    }
}

/// A passport that verified.
#[derive(Debug, Clone)]
pub struct VerifiedPassport {
    pub issuer: String,
    pub issuer_name: String,
    pub kid: String,
    pub credential_id: String,
    pub valid_from: i64,
    pub valid_until: Option<i64>,
    /// The `credentialStatus.id` (status list URL), when the passport has one.
    pub status_list_url: Option<String>,
    pub achievements: Vec<ImportedAchievement>,
}

/// One result of a verified passport, as an importer reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedAchievement {
    pub title: String,
    pub framework_code: String,
    pub subject_code: String,
    pub level_code: String,
    pub outcome_codes: Vec<String>,
    pub score: Option<Score>,
}

pub(crate) fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Verifies a passport fully offline: signature by a trusted key (algorithm pinned to the key), the
/// issuer agreeing with the key and the credential, the validity period, and the credential's shape.
pub fn verify(jwt: &str, trusted: &TrustList) -> Result<VerifiedPassport, PassportError> {
    verify_at(jwt, trusted, now_secs())
}

/// [`verify`] at a given time (seconds since the Unix epoch).
pub fn verify_at(
    jwt: &str,
    trusted: &TrustList,
    now: i64,
) -> Result<VerifiedPassport, PassportError> {
    let signed = trusted.verify_signature(jwt.trim())?;
    let text = std::str::from_utf8(&signed.payload).map_err(|_| PassportError::Malformed)?;
    let claims: PassportClaims<'_> = serde_json::from_str(text).map_err(|e| {
        if e.is_data() {
            PassportError::NotACredential("claims")
        } else {
            PassportError::Malformed
        }
    })?;
    if !signed.key.accepts_issuer(&claims.iss) {
        return Err(PassportError::IssuerMismatch);
    }
    let vc = &claims.vc;
    let issuer = &vc.issuer.0;
    let issuer_id = issuer
        .id
        .as_str()
        .ok_or(PassportError::NotACredential("issuer"))?;
    if issuer_id != claims.iss {
        return Err(PassportError::IssuerMismatch);
    }
    let types = &vc.types.0;
    if !types.iter().any(|t| t == "VerifiableCredential")
        || !types
            .iter()
            .any(|t| t == "OpenBadgeCredential" || t == "AchievementCredential")
    {
        return Err(PassportError::NotACredential("type"));
    }
    let credential_id = vc
        .id
        .as_str()
        .or(claims.jti.as_deref())
        .ok_or(PassportError::NotACredential("id"))?;
    if claims
        .jti
        .as_deref()
        .is_some_and(|jti| jti != credential_id)
    {
        return Err(PassportError::NotACredential(
            "jti differs from the credential id",
        ));
    }
    if claims.nbf > now + LEEWAY_SECS {
        return Err(PassportError::NotYetValid);
    }
    if claims.exp.is_some_and(|exp| exp + LEEWAY_SECS < now) {
        return Err(PassportError::Expired);
    }
    Ok(VerifiedPassport {
        issuer: claims.iss.clone().into_owned(),
        issuer_name: issuer.name.as_str().unwrap_or_default().to_owned(),
        kid: signed.kid.to_owned(),
        credential_id: credential_id.to_owned(),
        valid_from: claims.nbf,
        valid_until: claims.exp,
        status_list_url: vc.status.0.id.as_str().map(str::to_owned),
        achievements: achievements_of(&vc.subject.0),
    })
}

/// Reads the results back through their result descriptions and alignments. Results this format does
/// not describe are skipped rather than guessed at.
fn achievements_of(subject: &SubjectDoc<'_>) -> Vec<ImportedAchievement> {
    let descriptions: HashMap<&str, &ResultDescriptionDoc<'_>> = subject
        .achievement
        .0
        .result_descriptions
        .0
        .iter()
        .filter_map(|d| d.0.id.as_str().map(|id| (id, &d.0)))
        .collect();
    let mut out = Vec::with_capacity(subject.result.0.len());
    for Lenient(result) in &subject.result.0 {
        let Some(description) = result
            .result_description
            .as_str()
            .and_then(|id| descriptions.get(id))
        else {
            continue;
        };
        let mut framework_code = "";
        let mut subject_code = "";
        let mut level_code = "";
        let mut outcome_codes = Vec::new();
        for Lenient(alignment) in &description.alignment.0 {
            let code = alignment.target_code.as_str().unwrap_or_default();
            let mut parts = code.split('/');
            let (Some(subject), Some(level)) = (parts.next(), parts.next()) else {
                continue;
            };
            framework_code = alignment.target_framework.as_str().unwrap_or_default();
            subject_code = subject;
            level_code = level;
            if let Some(outcome) = parts.next() {
                outcome_codes.push(outcome.to_owned());
            }
        }
        let value = result.value.as_str().unwrap_or_default();
        let passed = match result.status.as_str() {
            Some("Failed") => Some(false),
            Some("Completed") => Some(true),
            _ => None,
        };
        let max = description
            .value_max
            .as_str()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        let score = match description.result_type.as_str() {
            Some("ScaledScore") => Some(Score {
                raw: 0.0,
                max: 0.0,
                scaled: value.parse().ok(),
                passed,
                grade: String::new(),
            }),
            Some("RawScore") => Some(Score {
                raw: value.parse().unwrap_or(0.0),
                max,
                scaled: None,
                passed,
                grade: String::new(),
            }),
            Some("LetterGrade") => Some(Score {
                raw: 0.0,
                max: 0.0,
                scaled: None,
                passed,
                grade: value.to_owned(),
            }),
            _ => None,
        };
        out.push(ImportedAchievement {
            title: description.name.as_str().unwrap_or_default().to_owned(),
            framework_code: framework_code.to_owned(),
            subject_code: subject_code.to_owned(),
            level_code: level_code.to_owned(),
            outcome_codes,
            score,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use ed25519_dalek::Signer as _;
    use serde_json::{Value, json};

    use super::*;
    use crate::keys::IssuerSigningKey;
    use crate::test_support::*;

    /// Another issuer's credential with shapes this format does not use: what can be read is read, a
    /// result whose description is missing or malformed is skipped, and strings with escapes survive.
    #[test]
    fn an_unusual_but_valid_credential_reads_leniently() {
        let issuer = issuer();
        let jwt = issuer.issue(&content(1, named())).expect("issue").jwt;
        let odd = resigned(&issuer, &jwt, |p| {
            p["vc"]["type"] = json!(["VerifiableCredential", 7, "AchievementCredential"]);
            p["vc"]["issuer"] = json!(issuer.did());
            p["vc"]["credentialStatus"] = json!(["not", "an", "object"]);
            p["vc"]["extension"] = json!({ "deep": [{ "x": [1, 2, { "y": null }] }] });
            let subject = &mut p["vc"]["credentialSubject"];
            subject["achievement"]["resultDescription"] = json!([
                { "id": "urn:d1", "name": "Quoted \"title\" \u{e9}\n", "resultType": "RawScore",
                  "valueMax": 50, "alignment": { "targetCode": "MATH/G5" } },
                { "id": "urn:d2", "name": 3, "resultType": "LetterGrade",
                  "alignment": [ "odd", { "targetCode": "SCI/G4/S1", "targetFramework": "F" },
                                 { "targetCode": "nolevel" } ] },
                "not an object",
                { "name": "no id" },
            ]);
            subject["result"] = json!([
                { "resultDescription": "urn:d1", "value": "42" },
                { "resultDescription": "urn:d2", "value": "B", "status": "Failed" },
                { "resultDescription": "urn:missing" },
                { "resultDescription": 5 },
                null,
            ]);
        });
        let verified = verify(&odd, &issuer.trust_list()).expect("verifies");
        assert_eq!(verified.issuer_name, "");
        assert_eq!(verified.status_list_url, None);
        let a = &verified.achievements;
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].title, "Quoted \"title\" \u{e9}\n");
        assert_eq!(a[0].framework_code, "");
        let first = a[0].score.as_ref().expect("raw score");
        assert_eq!((first.raw, first.max), (42.0, 0.0));
        assert_eq!(a[1].title, "");
        assert_eq!(
            (
                a[1].framework_code.as_str(),
                a[1].subject_code.as_str(),
                a[1].level_code.as_str()
            ),
            ("F", "SCI", "G4")
        );
        assert_eq!(a[1].outcome_codes, vec!["S1"]);
        let second = a[1].score.as_ref().expect("grade");
        assert_eq!((second.grade.as_str(), second.passed), ("B", Some(false)));
    }

    #[test]
    fn claims_of_the_wrong_type_and_duplicate_members_are_refused() {
        let issuer = issuer();
        let trusted = issuer.trust_list();
        let jwt = issuer.issue(&content(1, named())).expect("issue").jwt;
        for change in [
            (|p: &mut Value| p["nbf"] = json!("1700000000")) as fn(&mut Value),
            |p| p["exp"] = json!(1.5),
            |p| p["iss"] = json!(["did:key:z6Mk"]),
            |p| p["jti"] = json!(7),
            |p| p["vc"] = json!("a credential"),
            |p| p["vc"]["issuer"] = json!({ "name": "no id" }),
            |p| p["vc"]["type"] = json!("VerifiableCredential"),
            |p| p["vc"]["id"] = json!("urn:uuid:another"),
        ] {
            let forged = resigned(&issuer, &jwt, change);
            assert!(
                matches!(
                    verify(&forged, &trusted),
                    Err(PassportError::NotACredential(_) | PassportError::IssuerMismatch)
                ),
                "{}",
                segment(&forged, 1)
            );
        }
        // The same member twice, as a differential parser might read either.
        let payload = URL_SAFE_NO_PAD.encode(segment(&jwt, 1).to_string().replacen(
            "{",
            r#"{"iss":"did:key:z6MkSomeoneElse","#,
            1,
        ));
        let header = jwt.split('.').next().expect("header");
        let input = format!("{header}.{payload}");
        let signature = match &issuer.signing {
            IssuerSigningKey::Ed25519(key) => key.sign(input.as_bytes()).to_bytes(),
            IssuerSigningKey::Rsa(_) => unreachable!("an Ed25519 issuer"),
        };
        let duplicated = format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature));
        assert_eq!(
            verify(&duplicated, &trusted).err(),
            Some(PassportError::NotACredential("claims"))
        );
    }

    #[test]
    fn validity_is_checked_with_a_small_leeway() {
        let issuer = issuer();
        let mut c = content(1, named());
        c.valid_from = 1_000_000;
        c.valid_until = Some(2_000_000);
        let issued = issuer.issue(&c).expect("issue");
        let trusted = issuer.trust_list();
        assert_eq!(
            verify_at(&issued.jwt, &trusted, 900_000).err(),
            Some(PassportError::NotYetValid)
        );
        assert!(verify_at(&issued.jwt, &trusted, 1_500_000).is_ok());
        assert!(verify_at(&issued.jwt, &trusted, 2_000_030).is_ok());
        assert_eq!(
            verify_at(&issued.jwt, &trusted, 2_000_100).err(),
            Some(PassportError::Expired)
        );
    }
}
