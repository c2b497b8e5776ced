//! The printed passport (`haven passport print`): one A4 page with the learner's achievements and QR
//! codes carrying the signed credential, for a child who travels with paper only. The page is for
//! people; the codes are the proof, and a school checks them with `haven passport verify`. No database
//! and no network here.

pub mod base45;
mod pdf;
pub mod qr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

pub use qr::{QrMatrix, QrPayloadError};

/// Why a passport cannot be printed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrintError {
    #[error("not a passport: {0}")]
    NotAPassport(&'static str),
    #[error(
        "this passport holds {achievements} achievements and needs {needed} QR codes, but at most {max} fit on a page, which hold its first {fit} achievements: issue a passport with fewer records",
        max = qr::MAX_CODES
    )]
    TooLarge {
        achievements: usize,
        needed: usize,
        fit: usize,
    },
    #[error(transparent)]
    Payload(#[from] QrPayloadError),
}

/// A rendered passport page.
#[derive(Debug, Clone)]
pub struct PrintedPassport {
    /// The PDF file.
    pub pdf: Vec<u8>,
    /// The text of each QR code on the page, in order.
    pub codes: Vec<String>,
}

/// Renders a passport JWT as a one-page PDF. The JWT is read, not verified: verify it first when the
/// page should only ever show a valid passport (the CLI does with `--trust`). The page says nothing
/// about validity either way, since anyone can print a page; the codes carry the signature.
pub fn print(jwt: &str) -> Result<PrintedPassport, PrintError> {
    let sheet = PassportSheet::read(jwt)?;
    let codes = match qr::encode(jwt) {
        Ok(codes) => codes,
        Err(QrPayloadError::TooLarge { needed }) => {
            return Err(PrintError::TooLarge {
                achievements: sheet.achievements.len(),
                needed,
                fit: achievements_that_fit(jwt),
            });
        }
        Err(other) => return Err(other.into()),
    };
    let matrices = codes
        .iter()
        .map(|code| QrMatrix::for_code(code))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PrintedPassport {
        pdf: pdf::render(&sheet, &matrices),
        codes,
    })
}

/// How many of the passport's results, from the first, would fit the codes of one page once issued
/// again: found by compressing the credential cut to that many (the signature kept, as a stand-in of
/// the same size), with a margin for what a new issue changes (a random subject id, the dates).
fn achievements_that_fit(jwt: &str) -> usize {
    const REISSUE_MARGIN_BYTES: usize = 32;
    let parts: Vec<&str> = jwt.trim().split('.').collect();
    let [header, payload, signature] = parts[..] else {
        return 0;
    };
    let Some(claims) = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
    else {
        return 0;
    };
    let total = claims["vc"]["credentialSubject"]["result"]
        .as_array()
        .map_or(0, Vec::len);
    let capacity = qr::MAX_CODES * qr::bytes_per_code();
    let fits = |count: usize| {
        let mut cut = claims.clone();
        let subject = &mut cut["vc"]["credentialSubject"];
        if let Some(results) = subject["result"].as_array_mut() {
            results.truncate(count);
        }
        if let Some(descriptions) = subject["achievement"]["resultDescription"].as_array_mut() {
            descriptions.truncate(count);
        }
        let cut_jwt = format!(
            "{header}.{}.{signature}",
            URL_SAFE_NO_PAD.encode(cut.to_string())
        );
        qr::compress(&cut_jwt)
            .is_ok_and(|compressed| compressed.len() + REISSUE_MARGIN_BYTES <= capacity)
    };
    // Binary search for the largest count that fits; the compressed size grows with the count.
    let (mut low, mut high) = (0, total);
    while low < high {
        let middle = (low + high).div_ceil(2);
        if fits(middle) {
            low = middle;
        } else {
            high = middle - 1;
        }
    }
    low
}

/// What the page shows, read from the credential.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PassportSheet {
    pub(crate) issuer_name: String,
    pub(crate) issuer_id: String,
    pub(crate) credential_id: String,
    pub(crate) valid_from: Option<i64>,
    pub(crate) valid_until: Option<i64>,
    pub(crate) learner: Learner,
    /// `YYYY-MM-DD` of the latest record, when the credential states it.
    pub(crate) last_activity: Option<String>,
    pub(crate) achievements: Vec<SheetRow>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Learner {
    Named {
        name: String,
        birth_year: Option<String>,
    },
    /// The passport names the learner only by a salted hash.
    Hashed,
    Unnamed,
}

/// One achievement as a table row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SheetRow {
    pub(crate) title: String,
    /// `SUBJECT / LEVEL`, empty when the record is not aligned to a curriculum.
    pub(crate) subject_level: String,
    pub(crate) result: String,
    pub(crate) outcomes: Vec<String>,
}

impl PassportSheet {
    /// Reads the payload of a compact JWT without checking its signature.
    pub(crate) fn read(jwt: &str) -> Result<Self, PrintError> {
        let parts: Vec<&str> = jwt.trim().split('.').collect();
        let [_, payload, signature] = parts[..] else {
            return Err(PrintError::NotAPassport("not a compact JWT"));
        };
        if signature.is_empty() {
            return Err(PrintError::NotAPassport("the JWT is unsigned"));
        }
        let claims: Value = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(PrintError::NotAPassport("the JWT payload is not JSON"))?;
        let vc = &claims["vc"];
        let is_credential = vc["type"]
            .as_array()
            .is_some_and(|types| types.iter().any(|t| t == "VerifiableCredential"));
        if !is_credential {
            return Err(PrintError::NotAPassport("no verifiable credential"));
        }
        let issuer_id = vc["issuer"]["id"]
            .as_str()
            .or_else(|| vc["issuer"].as_str())
            .or_else(|| claims["iss"].as_str())
            .ok_or(PrintError::NotAPassport("no issuer"))?;
        let credential_id = vc["id"]
            .as_str()
            .or_else(|| claims["jti"].as_str())
            .ok_or(PrintError::NotAPassport("no credential id"))?;
        let subject = &vc["credentialSubject"];
        Ok(PassportSheet {
            issuer_name: vc["issuer"]["name"].as_str().unwrap_or_default().to_owned(),
            issuer_id: issuer_id.to_owned(),
            credential_id: credential_id.to_owned(),
            valid_from: claims["nbf"].as_i64(),
            valid_until: claims["exp"].as_i64(),
            learner: learner_of(subject),
            last_activity: subject["activityEndDate"]
                .as_str()
                .and_then(|date| chrono::DateTime::parse_from_rfc3339(date).ok())
                .map(|date| date.format("%Y-%m-%d").to_string()),
            achievements: rows_of(subject),
        })
    }
}

fn learner_of(subject: &Value) -> Learner {
    let identities = subject["identifier"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let of_type = |kind: &str| {
        identities
            .iter()
            .find(|identity| identity["identityType"] == kind)
    };
    match of_type("name") {
        Some(name) if name["hashed"] == true => Learner::Hashed,
        Some(name) => Learner::Named {
            name: name["identityHash"].as_str().unwrap_or_default().to_owned(),
            birth_year: of_type("ext:birthYear")
                .filter(|year| year["hashed"] != true)
                .and_then(|year| year["identityHash"].as_str())
                .map(str::to_owned),
        },
        None => Learner::Unnamed,
    }
}

/// The results in the credential's order, each through its result description.
fn rows_of(subject: &Value) -> Vec<SheetRow> {
    let descriptions = subject["achievement"]["resultDescription"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let results = subject["result"].as_array().cloned().unwrap_or_default();
    results
        .iter()
        .filter_map(|result| {
            let id = result["resultDescription"].as_str()?;
            let description = descriptions.iter().find(|d| d["id"] == id)?;
            Some(row_of(result, description))
        })
        .collect()
}

fn row_of(result: &Value, description: &Value) -> SheetRow {
    let mut subject_level = String::new();
    let mut outcomes = Vec::new();
    for alignment in description["alignment"].as_array().into_iter().flatten() {
        let code = alignment["targetCode"].as_str().unwrap_or_default();
        let parts: Vec<&str> = code.split('/').collect();
        if let [subject, level, ..] = parts[..] {
            subject_level = format!("{subject} / {level}");
        }
        if let Some(outcome) = parts.get(2) {
            outcomes.push((*outcome).to_owned());
        }
    }
    SheetRow {
        title: description["name"].as_str().unwrap_or_default().to_owned(),
        subject_level,
        result: result_text(result, description),
        outcomes,
    }
}

/// `84%`, `42/50`, `B`, or `completed`, with `passed` / `not passed` when the record says.
fn result_text(result: &Value, description: &Value) -> String {
    let value = result["value"].as_str().unwrap_or_default();
    let status = match result["status"].as_str() {
        Some("Completed") => Some(true),
        Some("Failed") => Some(false),
        _ => None,
    };
    let shown = match description["resultType"].as_str() {
        Some("ScaledScore") => format!("{value}%"),
        Some("RawScore") => format!(
            "{value}/{}",
            description["valueMax"].as_str().unwrap_or("?")
        ),
        Some("LetterGrade") => value.to_owned(),
        _ => {
            return match status {
                Some(false) => "not passed".into(),
                _ => "completed".into(),
            };
        }
    };
    match status {
        Some(true) => format!("{shown} passed"),
        Some(false) => format!("{shown} not passed"),
        None => shown,
    }
}

#[cfg(test)]
mod tests;
