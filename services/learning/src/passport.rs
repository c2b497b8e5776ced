//! The learning passport: an Open Badges 3.0 `AchievementCredential` as a VC-JWT, signed with EdDSA by a
//! `did:key` issuer, and its offline verification against a trust list. Nothing here touches a database,
//! so `haven passport verify` and any school without a network run the same code.
//!
//! # Shape: one credential, one achievement, one result per learning record
//! Open Badges 3.0 puts exactly one `achievement` in an `AchievementSubject`. A learner with 200 records
//! gets one credential whose achievement is "Learning passport" (`achievementType: LearningProgram`)
//! with one `resultDescription` per record, each aligned to its curriculum outcomes (`Alignment` with
//! `targetFramework` = framework code and `targetCode` = `subject/level[/outcome]`), and the subject's
//! `result` list holds one `Result` per record. One signature covers everything, so issuing and verifying
//! stay cheap however many records there are (200 one-achievement credentials in a presentation would
//! cost 200 signatures), and every key used is defined by the OB 3.0 context, so standard verifiers read
//! it as is.

use std::collections::HashMap;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::didkey;

/// Clock skew allowed on `nbf` and `exp`, in seconds.
pub const LEEWAY_SECS: i64 = 60;
const VC_CONTEXT: &str = "https://www.w3.org/ns/credentials/v2";
const OB_CONTEXT: &str = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json";
const ISSUER_KEY_FILE: &str = "passport-issuer-key.p8";

/// Why a passport (or a status list) does not verify, or cannot be made. Messages are safe to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PassportError {
    #[error("not a compact JWT")]
    Malformed,
    #[error("algorithm {0} is not accepted")]
    AlgorithmNotAccepted(String),
    #[error("the header names no key (kid)")]
    MissingKeyId,
    #[error("issuer key is not trusted")]
    UntrustedIssuer,
    #[error("signature does not verify")]
    BadSignature,
    #[error("issuer does not match the signing key")]
    IssuerMismatch,
    #[error("not an Open Badges 3.0 credential: {0}")]
    NotACredential(&'static str),
    #[error("not yet valid")]
    NotYetValid,
    #[error("expired")]
    Expired,
    #[error("trust list is not valid: {0}")]
    TrustList(String),
    #[error("issuer key is not valid: {0}")]
    Key(String),
    #[error("status list does not cover this credential")]
    StatusListMismatch,
}

/// The deployment's passport signing key: Ed25519, identified by its did:key. Kept apart from the token
/// signing key, so a passport can never pass for an access token and the two rotate separately.
pub struct PassportIssuer {
    encoding: EncodingKey,
    public: [u8; 32],
    did: String,
    kid: String,
    name: String,
    public_base: String,
}

impl std::fmt::Debug for PassportIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PassportIssuer")
            .field("did", &self.did)
            .field("name", &self.name)
            .field("public_base", &self.public_base)
            .finish_non_exhaustive()
    }
}

impl PassportIssuer {
    /// `name` is the issuer's display name in passports; `public_base` the gateway's public URL
    /// (`https://haven.example.org`), under which status lists are published.
    pub fn from_signing_key(key: &SigningKey, name: &str, public_base: &str) -> Self {
        let public = key.verifying_key().to_bytes();
        // An in-memory Ed25519 key always encodes as PKCS#8.
        let der = key
            .to_pkcs8_der()
            .map(|doc| doc.as_bytes().to_vec())
            .unwrap_or_default();
        PassportIssuer {
            encoding: EncodingKey::from_ed_der(&der),
            public,
            did: didkey::did_key(&public),
            kid: didkey::key_id(&public),
            name: name.to_owned(),
            public_base: public_base.trim_end_matches('/').to_owned(),
        }
    }

    /// From a PKCS#8 PEM Ed25519 private key (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pkcs8_pem(pem: &str, name: &str, public_base: &str) -> Result<Self, PassportError> {
        let key = SigningKey::from_pkcs8_pem(pem).map_err(|e| PassportError::Key(e.to_string()))?;
        Ok(Self::from_signing_key(&key, name, public_base))
    }

    /// A fresh key, for tests and throwaway deployments.
    pub fn generate(name: &str, public_base: &str) -> Self {
        Self::from_signing_key(
            &SigningKey::generate(&mut rand::rngs::OsRng),
            name,
            public_base,
        )
    }

    /// The embedded default: `<data_dir>/keys/passport-issuer-key.p8`, created (mode 0600) on first use.
    pub fn load_or_create(
        data_dir: &Path,
        name: &str,
        public_base: &str,
    ) -> Result<Self, PassportError> {
        let dir = data_dir.join("keys");
        let path = dir.join(ISSUER_KEY_FILE);
        let io = |e: std::io::Error| PassportError::Key(format!("{}: {e}", path.display()));
        let key = if path.exists() {
            let der = std::fs::read(&path).map_err(io)?;
            SigningKey::from_pkcs8_der(&der).map_err(|e| PassportError::Key(e.to_string()))?
        } else {
            std::fs::create_dir_all(&dir).map_err(io)?;
            let key = SigningKey::generate(&mut rand::rngs::OsRng);
            let der = key
                .to_pkcs8_der()
                .map_err(|e| PassportError::Key(e.to_string()))?;
            write_private(&path, der.as_bytes()).map_err(io)?;
            key
        };
        Ok(Self::from_signing_key(&key, name, public_base))
    }

    /// `did:key:z6Mk...`
    pub fn did(&self) -> &str {
        &self.did
    }

    /// `did:key:z6Mk...#z6Mk...`: the JWT header `kid` and the JWKS `kid`.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The public key as a JWKS, for other deployments' trust lists and for standard JOSE tools.
    pub fn jwks_json(&self) -> String {
        json!({ "keys": [self.public_jwk()] }).to_string()
    }

    fn public_jwk(&self) -> Value {
        json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(self.public),
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
        })
    }

    /// A trust list holding only this issuer.
    pub fn trust_list(&self) -> TrustList {
        let mut list = TrustList::default();
        list.insert_ed25519(self.kid.clone(), self.public, Some(self.did.clone()));
        list
    }

    /// Where the gateway publishes a status list of this issuer.
    pub fn status_list_url(&self, list_id: &str) -> String {
        format!("{}/passports/status/{list_id}", self.public_base)
    }

    fn sign(&self, claims: &Value) -> Result<String, PassportError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|e| PassportError::Key(e.to_string()))
    }

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
            "issuer": { "id": self.did, "type": ["Profile"], "name": self.name },
            "validFrom": rfc3339(content.valid_from),
            "credentialSubject": subject,
            "credentialStatus": {
                "id": self.status_list_url(&content.status_list_id),
                "type": "1EdTechRevocationList",
            },
        });
        let mut claims = json!({
            "iss": self.did,
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

    /// Signs the `1EdTechRevocationList` document of one status list: the list's URL, the issuer and
    /// the revoked credential ids.
    pub fn status_list_credential(
        &self,
        list_id: &str,
        revoked: &[String],
        now: i64,
    ) -> Result<String, PassportError> {
        let claims = json!({
            "iss": self.did,
            "iat": now,
            "nbf": now,
            "id": self.status_list_url(list_id),
            "issuer": self.did,
            "revokedCredentials": revoked.iter().map(|id| json!({ "id": id })).collect::<Vec<_>>(),
        });
        self.sign(&claims)
    }
}

/// What goes into a passport; built by the service from the learner's records.
#[derive(Debug, Clone)]
pub struct PassportContent {
    pub credential_id: uuid::Uuid,
    pub recipient: Recipient,
    pub achievements: Vec<Achievement>,
    /// Seconds since the Unix epoch.
    pub valid_from: i64,
    pub valid_until: Option<i64>,
    pub status_list_id: String,
}

/// Who a passport names: the learner's name and birth year, or only a salted hash of the name.
#[derive(Debug, Clone)]
pub enum Recipient {
    Named {
        given_name: String,
        family_name: String,
        birth_year: Option<i32>,
    },
    Hashed {
        name: String,
        salt: String,
    },
}

impl Recipient {
    /// Open Badges 3.0 `IdentityObject`s. Hashed: `sha256$` + hex(SHA-256(name + salt)).
    fn identity_objects(&self) -> Value {
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

/// OB 3.0 hashed identity: `sha256$` + lowercase hex of SHA-256 over the identity then the salt.
pub fn hashed_identity(identity: &str, salt: &str) -> String {
    let digest = Sha256::digest(format!("{identity}{salt}").as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256${hex}")
}

/// One learning record as a passport states it.
#[derive(Debug, Clone, PartialEq)]
pub struct Achievement {
    pub record_id: String,
    pub title: String,
    pub framework_code: String,
    pub subject_code: String,
    pub level_code: String,
    /// Outcome codes with their label.
    pub outcomes: Vec<(String, String)>,
    /// Absent for completions and outcomes achieved.
    pub score: Option<Score>,
    pub occurred_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub raw: f64,
    pub max: f64,
    pub scaled: Option<f64>,
    pub passed: Option<bool>,
    pub grade: String,
}

/// A signed passport.
#[derive(Debug, Clone)]
pub struct IssuedPassport {
    pub jwt: String,
    /// `urn:uuid:...`
    pub credential_id: String,
}

#[derive(Clone)]
struct TrustedKey {
    algorithm: Algorithm,
    key: DecodingKey,
    /// The issuer id a passport signed with this key must name: the did of a did:key, else none
    /// (any `iss`, as long as the credential's `issuer.id` agrees with it).
    issuer: Option<String>,
}

/// Issuer keys a verifier accepts, by `kid`. Only Ed25519 (EdDSA) and RSA (RS256) keys: never an HMAC
/// secret, and each key pins its algorithm, so neither `none` nor HS/RS confusion can pass.
#[derive(Clone, Default)]
pub struct TrustList {
    by_kid: HashMap<String, TrustedKey>,
}

impl std::fmt::Debug for TrustList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustList")
            .field("kids", &self.by_kid.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl TrustList {
    /// From a JWKS document. Every key needs a `kid`. An Ed25519 key whose kid is a did:key URL must
    /// be the key that did names.
    pub fn from_jwks(text: &str) -> Result<Self, PassportError> {
        let invalid = PassportError::TrustList;
        let set: JwkSet =
            serde_json::from_str(text).map_err(|e| invalid(format!("not a JWKS: {e}")))?;
        let mut list = TrustList::default();
        for jwk in &set.keys {
            let kid = jwk
                .common
                .key_id
                .clone()
                .ok_or_else(|| invalid("every key needs a kid".into()))?;
            let algorithm = match (&jwk.algorithm, jwk.common.key_algorithm) {
                (AlgorithmParameters::OctetKeyPair(p), None | Some(KeyAlgorithm::EdDSA))
                    if p.curve == EllipticCurve::Ed25519 =>
                {
                    Algorithm::EdDSA
                }
                (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Algorithm::RS256,
                _ => {
                    return Err(invalid(format!(
                        "key {kid}: only Ed25519 (EdDSA) and RSA (RS256) keys are accepted"
                    )));
                }
            };
            let mut issuer = None;
            if kid.starts_with("did:key:") {
                let named =
                    didkey::public_key_of(&kid).map_err(|e| invalid(format!("key {kid}: {e}")))?;
                let AlgorithmParameters::OctetKeyPair(p) = &jwk.algorithm else {
                    return Err(invalid(format!(
                        "key {kid}: a did:key names an Ed25519 key"
                    )));
                };
                if URL_SAFE_NO_PAD.decode(&p.x).ok().as_deref() != Some(&named[..]) {
                    return Err(invalid(format!(
                        "key {kid}: x is not the key the did names"
                    )));
                }
                issuer = kid.split('#').next().map(str::to_owned);
            }
            let key = DecodingKey::from_jwk(jwk).map_err(|e| invalid(format!("key {kid}: {e}")))?;
            list.by_kid.insert(
                kid,
                TrustedKey {
                    algorithm,
                    key,
                    issuer,
                },
            );
        }
        if list.by_kid.is_empty() {
            return Err(invalid("the JWKS holds no keys".into()));
        }
        Ok(list)
    }

    /// From did:key identifiers (the key is in the id itself).
    pub fn from_did_keys<'a>(
        dids: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, PassportError> {
        let mut list = TrustList::default();
        for did in dids {
            let public = didkey::public_key_of(did)
                .map_err(|e| PassportError::TrustList(format!("{did}: {e}")))?;
            let did = did.split('#').next().unwrap_or(did).to_owned();
            list.insert_ed25519(didkey::key_id(&public), public, Some(did));
        }
        Ok(list)
    }

    fn insert_ed25519(&mut self, kid: String, public: [u8; 32], issuer: Option<String>) {
        let x = URL_SAFE_NO_PAD.encode(public);
        // A 32-byte key always makes valid components.
        if let Ok(key) = DecodingKey::from_ed_components(&x) {
            self.by_kid.insert(
                kid,
                TrustedKey {
                    algorithm: Algorithm::EdDSA,
                    key,
                    issuer,
                },
            );
        }
    }

    /// Adds every key of `other`.
    pub fn extend(&mut self, other: TrustList) {
        self.by_kid.extend(other.by_kid);
    }

    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.by_kid.keys().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.by_kid.is_empty()
    }

    /// Verifies the signature with the key the header names, the algorithm pinned to that key, and
    /// returns the payload and the key's issuer.
    fn verify_signature(
        &self,
        jwt: &str,
    ) -> Result<(Value, String, Option<String>), PassportError> {
        if jwt.split('.').count() != 3 {
            return Err(PassportError::Malformed);
        }
        let header = jsonwebtoken::decode_header(jwt).map_err(|_| PassportError::Malformed)?;
        if !matches!(header.alg, Algorithm::EdDSA | Algorithm::RS256) {
            return Err(PassportError::AlgorithmNotAccepted(format!(
                "{:?}",
                header.alg
            )));
        }
        if header.typ.as_deref().is_some_and(|t| t != "JWT") {
            return Err(PassportError::NotACredential("header typ is not JWT"));
        }
        let kid = header.kid.ok_or(PassportError::MissingKeyId)?;
        let trusted = self
            .by_kid
            .get(&kid)
            .ok_or(PassportError::UntrustedIssuer)?;
        if trusted.algorithm != header.alg {
            return Err(PassportError::AlgorithmNotAccepted(format!(
                "{:?}",
                header.alg
            )));
        }
        let mut validation = Validation::new(trusted.algorithm);
        // Times and issuer are checked below, against the credential, with our own leeway.
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        let data = jsonwebtoken::decode::<Value>(jwt, &trusted.key, &validation).map_err(|e| {
            match e.kind() {
                ErrorKind::InvalidSignature => PassportError::BadSignature,
                ErrorKind::InvalidAlgorithm => {
                    PassportError::AlgorithmNotAccepted(format!("{:?}", header.alg))
                }
                _ => PassportError::Malformed,
            }
        })?;
        Ok((data.claims, kid, trusted.issuer.clone()))
    }
}

/// The JWT claims of a passport, as read back.
#[derive(Debug, Deserialize, Serialize)]
struct PassportClaims {
    iss: String,
    #[serde(default)]
    jti: Option<String>,
    #[serde(default)]
    sub: Option<String>,
    nbf: i64,
    #[serde(default)]
    exp: Option<i64>,
    vc: Value,
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

fn now_secs() -> i64 {
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
    let (payload, kid, key_issuer) = trusted.verify_signature(jwt.trim())?;
    let claims: PassportClaims =
        serde_json::from_value(payload).map_err(|_| PassportError::NotACredential("claims"))?;
    if let Some(issuer) = &key_issuer
        && *issuer != claims.iss
    {
        return Err(PassportError::IssuerMismatch);
    }
    let vc = &claims.vc;
    let issuer_id = vc["issuer"]["id"]
        .as_str()
        .or_else(|| vc["issuer"].as_str())
        .ok_or(PassportError::NotACredential("issuer"))?;
    if issuer_id != claims.iss {
        return Err(PassportError::IssuerMismatch);
    }
    let types = string_list(&vc["type"]);
    if !types.iter().any(|t| t == "VerifiableCredential")
        || !types
            .iter()
            .any(|t| t == "OpenBadgeCredential" || t == "AchievementCredential")
    {
        return Err(PassportError::NotACredential("type"));
    }
    let credential_id = vc["id"]
        .as_str()
        .map(str::to_owned)
        .or(claims.jti.clone())
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
        issuer: claims.iss.clone(),
        issuer_name: vc["issuer"]["name"].as_str().unwrap_or_default().to_owned(),
        kid,
        credential_id,
        valid_from: claims.nbf,
        valid_until: claims.exp,
        status_list_url: vc["credentialStatus"]["id"].as_str().map(str::to_owned),
        achievements: achievements_of(&vc["credentialSubject"]),
    })
}

/// Whether a verified passport is on a status list (the `1EdTechRevocationList` JWT its issuer
/// publishes), checked offline once the list has been fetched. The list must be signed by a trusted key
/// of the same issuer and be the list the passport points at.
pub fn is_revoked(
    passport: &VerifiedPassport,
    status_list_jwt: &str,
    trusted: &TrustList,
) -> Result<bool, PassportError> {
    let (payload, _, key_issuer) = trusted.verify_signature(status_list_jwt.trim())?;
    let issuer = payload["iss"].as_str().unwrap_or_default();
    if issuer != passport.issuer || key_issuer.as_deref().is_some_and(|i| i != issuer) {
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

fn string_list(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// Reads the results back through their result descriptions and alignments. Results this format does
/// not describe are skipped rather than guessed at.
fn achievements_of(subject: &Value) -> Vec<ImportedAchievement> {
    let descriptions: HashMap<&str, &Value> = subject["achievement"]["resultDescription"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|d| d["id"].as_str().map(|id| (id, d)))
                .collect()
        })
        .unwrap_or_default();
    let Some(results) = subject["result"].as_array() else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(results.len());
    for result in results {
        let Some(description) = result["resultDescription"]
            .as_str()
            .and_then(|id| descriptions.get(id))
        else {
            continue;
        };
        let mut framework_code = String::new();
        let mut subject_code = String::new();
        let mut level_code = String::new();
        let mut outcome_codes = Vec::new();
        for alignment in description["alignment"].as_array().into_iter().flatten() {
            let code = alignment["targetCode"].as_str().unwrap_or_default();
            let parts: Vec<&str> = code.split('/').collect();
            if parts.len() < 2 {
                continue;
            }
            framework_code = alignment["targetFramework"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            subject_code = parts[0].to_owned();
            level_code = parts[1].to_owned();
            if let Some(outcome) = parts.get(2) {
                outcome_codes.push((*outcome).to_owned());
            }
        }
        let value = result["value"].as_str().unwrap_or_default();
        let passed = match result["status"].as_str() {
            Some("Failed") => Some(false),
            Some("Completed") => Some(true),
            _ => None,
        };
        let max = description["valueMax"]
            .as_str()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        let score = match description["resultType"].as_str() {
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
            title: description["name"].as_str().unwrap_or_default().to_owned(),
            framework_code,
            subject_code,
            level_code,
            outcome_codes,
            score,
        });
    }
    out
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

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer() -> PassportIssuer {
        PassportIssuer::from_signing_key(
            &SigningKey::from_bytes(&[7; 32]),
            "Test School Network",
            "https://haven.example.org/",
        )
    }

    fn achievement(i: usize) -> Achievement {
        Achievement {
            record_id: uuid::Uuid::now_v7().to_string(),
            title: format!("Mathematics G5 unit {i}"),
            framework_code: "HAVEN-COMMON".into(),
            subject_code: "MATH".into(),
            level_code: "G5".into(),
            outcomes: vec![(format!("M5.{i}"), "Fractions".into())],
            score: i.is_multiple_of(2).then(|| Score {
                raw: 42.0,
                max: 50.0,
                scaled: Some(84.0),
                passed: Some(true),
                grade: "B".into(),
            }),
            occurred_at: Some(1_780_000_000),
        }
    }

    fn content(n: usize, recipient: Recipient) -> PassportContent {
        PassportContent {
            credential_id: uuid::Uuid::now_v7(),
            recipient,
            achievements: (0..n).map(achievement).collect(),
            valid_from: now_secs() - 10,
            valid_until: Some(now_secs() + 3600),
            status_list_id: "1".into(),
        }
    }

    fn named() -> Recipient {
        Recipient::Named {
            given_name: "Testa".into(),
            family_name: "Example".into(),
            birth_year: Some(2015),
        }
    }

    fn segment(jwt: &str, i: usize) -> Value {
        let part = jwt.split('.').nth(i).expect("three parts");
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("json")
    }

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
    fn tampering_with_any_byte_is_rejected() {
        let issuer = issuer();
        let trusted = issuer.trust_list();
        let issued = issuer.issue(&content(1, named())).expect("issue");
        let bytes = issued.jwt.as_bytes();
        let payload_start = issued.jwt.find('.').expect("header") + 1;
        let signature_start = issued.jwt.rfind('.').expect("signature") + 1;
        // Every byte of the header and the signature, and of the payload its ends and every 11th byte
        // between (each payload change costs a signature check, slow in debug builds).
        let positions = (0..bytes.len()).filter(|&i| {
            i < payload_start
                || i >= signature_start
                || i < payload_start + 24
                || i + 24 >= signature_start
                || i % 11 == 0
        });
        for i in positions {
            if bytes[i] == b'.' {
                continue;
            }
            let mut forged = bytes.to_vec();
            forged[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let forged = String::from_utf8(forged).expect("ascii");
            assert!(
                verify(&forged, &trusted).is_err(),
                "a change at byte {i} of {} went unnoticed",
                bytes.len()
            );
        }
    }

    #[test]
    fn an_unknown_key_a_none_algorithm_and_a_foreign_issuer_are_refused() {
        let issuer = issuer();
        let issued = issuer.issue(&content(1, named())).expect("issue");
        let stranger = PassportIssuer::generate("Other", "https://other.example.org");
        assert_eq!(
            verify(&issued.jwt, &stranger.trust_list()).err(),
            Some(PassportError::UntrustedIssuer)
        );
        let parts: Vec<&str> = issued.jwt.split('.').collect();
        let none_header = URL_SAFE_NO_PAD.encode(format!(
            r#"{{"alg":"none","typ":"JWT","kid":"{}"}}"#,
            issuer.kid()
        ));
        let unsigned = format!("{none_header}.{}.", parts[1]);
        assert!(verify(&unsigned, &issuer.trust_list()).is_err());
        // A credential that claims another issuer than the key's did.
        let mut payload = segment(&issued.jwt, 1);
        payload["iss"] = json!(stranger.did());
        payload["vc"]["issuer"]["id"] = json!(stranger.did());
        let forged = issuer.sign(&payload).expect("sign");
        assert_eq!(
            verify(&forged, &issuer.trust_list()).err(),
            Some(PassportError::IssuerMismatch)
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

    #[test]
    fn a_jwks_and_a_did_key_list_trust_the_same_issuer() {
        let issuer = issuer();
        let issued = issuer.issue(&content(1, named())).expect("issue");
        let from_jwks = TrustList::from_jwks(&issuer.jwks_json()).expect("jwks");
        assert!(verify(&issued.jwt, &from_jwks).is_ok());
        let from_did = TrustList::from_did_keys([issuer.did()]).expect("did list");
        assert!(verify(&issued.jwt, &from_did).is_ok());
        // A JWKS whose kid names a different did:key than its x is refused.
        let other = PassportIssuer::generate("Other", "https://other.example.org");
        let mut jwk = issuer.public_jwk();
        jwk["kid"] = json!(other.kid());
        let lying = json!({ "keys": [jwk] }).to_string();
        assert!(TrustList::from_jwks(&lying).is_err());
        let hmac = r#"{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"h","alg":"HS256"}]}"#;
        assert!(TrustList::from_jwks(hmac).is_err());
    }

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

    #[test]
    fn a_passport_of_two_hundred_achievements_issues_and_verifies_quickly() {
        let issuer = issuer();
        let trusted = issuer.trust_list();
        let c = content(200, named());
        let started = std::time::Instant::now();
        let issued = issuer.issue(&c).expect("issue");
        let issue_time = started.elapsed();
        let started = std::time::Instant::now();
        let verified = verify(&issued.jwt, &trusted).expect("verifies");
        let verify_time = started.elapsed();
        assert_eq!(verified.achievements.len(), 200);
        // Generous bounds for debug builds on a shared machine; BENCHMARKS.md has release figures.
        assert!(issue_time.as_millis() < 200, "issue took {issue_time:?}");
        assert!(verify_time.as_millis() < 200, "verify took {verify_time:?}");
    }
}
