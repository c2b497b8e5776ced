//! The QR payload of a printed passport: the signed credential, compressed, as text that a QR code
//! stores in its alphanumeric mode, split over a few codes when one is not enough.
//!
//! # Format `HVN1`
//! Each code holds one line of text:
//!
//! ```text
//! HVN1:<i>/<n>:<Base45 of part i of n of DEFLATE(packed credential)>
//! ```
//!
//! - *packed credential*: the JWT's three segments Base64url-decoded, each but the last preceded by its
//!   length as a big-endian `u32`: `len(header) header len(payload) payload signature`. The header and
//!   payload are JSON, the signature raw bytes. Decoding Base64url-encodes them again and joins them
//!   with dots. The encoder decodes the segments strictly (canonical, unpadded Base64url), so the
//!   JWT that comes out is byte for byte the one that went in and its signature still verifies.
//! - *DEFLATE*: raw DEFLATE (RFC 1951) at the highest level, with no zlib header or checksum: the
//!   signature already detects any change, and the QR code's own error correction repairs a damaged
//!   print, so those 6 bytes would buy nothing.
//! - *Base45* (RFC 9285): the characters of a QR code's alphanumeric mode, which packs two characters in
//!   11 bits. This is what the EU Digital COVID Certificate does with its `HC1:` prefix. A phone's
//!   scanner hands the text over unchanged, where raw bytes in a code's byte mode are often mangled
//!   by a guessed character set.
//! - `i/n` numbers the codes from 1. Every code carries its place, so they can be scanned in any order.
//!   Even a passport that fits one code is `HVN1:1/1:...`: a parser never has to guess whether the
//!   digits after the prefix are a header or data.
//!
//! # Why this form: measured
//! `cargo test -p haven-passport print::tests::figures -- --ignored --nocapture`, synthetic records as
//! in the tests (four subjects, one outcome each, two in three scored); bytes, one run:
//!
//! | records | JWT | DEFLATE(JWT text) | zlib(JWT text) | DEFLATE(packed) | zlib(packed) | Base45 chars | codes |
//! |---|---|---|---|---|---|---|---|
//! | 1 | 3,032 | 1,584 | 1,590 | 1,066 | 1,072 | 1,599 | 1 |
//! | 10 | 9,260 | 2,691 | 2,697 | 1,487 | 1,493 | 2,231 | 1 |
//! | 50 | 37,099 | 4,532 | 4,538 | 2,622 | 2,628 | 3,933 | 2 |
//! | 200 | 141,683 | 10,497 | 10,503 | 7,065 | 7,071 | 10,598 | 4 |
//!
//! - The JWT's Base64url hides the JSON's repetition from DEFLATE (a repeated phrase lands on a
//!   different 3-byte alignment each time): compressing the decoded segments saves a third to a half.
//! - zlib costs 6 bytes more than raw DEFLATE and checks nothing the signature does not.
//! - A version 40-M code holds 3,391 alphanumeric characters, 2,260 bytes as Base45, or 2,331 bytes in
//!   byte mode. Byte mode would carry 3 % more, but as binary, which phone scanners tend to mangle;
//!   as Base64 text it would carry 1,748 bytes, 23 % less than Base45.
//! - About 35 such records fit one code, 113 two, 190 three and 267 four codes, the most a page holds
//!   (random ids move these by a record or two). Longer titles and more outcomes per record fit fewer.
//!
//! # Limits
//! Each code uses error-correction level M (15 % of the code may be lost: a passport is folded and
//! carried) and holds at most [`MAX_CHARS_PER_CODE`] characters; a page holds at most [`MAX_CODES`]:
//! two rows of two, each code at most 85 mm a side (about 0.45 mm a module at version 40), which leaves
//! the table a few rows. A bigger passport is refused with how many of its records would fit.
//! The decoder caps the inflated credential at [`MAX_INFLATED_BYTES`], so a crafted code cannot
//! exhaust memory.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use qrcode::{EcLevel, QrCode};

use super::base45::{self, Base45Error};

/// The start of every code's text.
pub const PREFIX: &str = "HVN1:";
/// The most codes one page carries.
pub const MAX_CODES: usize = 4;
/// The most characters one code carries, header included: a version 40 code at level M holds 3,391
/// alphanumeric characters.
pub const MAX_CHARS_PER_CODE: usize = 3391;
/// The largest credential the decoder inflates.
pub const MAX_INFLATED_BYTES: usize = 1 << 20;
const ERROR_CORRECTION: EcLevel = EcLevel::M;
/// `HVN1:` plus the longest `i/n:` header.
const CHUNK_HEADER_CHARS: usize = PREFIX.len() + 4;
const DEFLATE_LEVEL: u8 = 10;

/// Why a credential cannot be put into codes, or codes cannot be read back into a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrPayloadError {
    #[error("not a compact JWT with canonical Base64url segments")]
    NotAJwt,
    #[error("the credential needs {needed} QR codes; at most {MAX_CODES} fit on a page")]
    TooLarge { needed: usize },
    #[error("no code given")]
    Empty,
    #[error("a code does not start with {PREFIX}")]
    Prefix,
    #[error("a code does not number itself as {PREFIX}<i>/<n>:")]
    Numbering,
    #[error("the codes belong to different sets: one says {0} codes, another {1}")]
    CountMismatch(usize, usize),
    #[error("code {0} was given twice with different contents")]
    ConflictingDuplicate(usize),
    #[error("missing code(s) {missing:?} of {count}: scan every code on the page")]
    Missing { missing: Vec<usize>, count: usize },
    #[error("code {index}: {source}")]
    Base45 { index: usize, source: Base45Error },
    #[error("the codes do not inflate: corrupted, or from different passports")]
    Inflate,
    #[error("the credential inflates beyond {MAX_INFLATED_BYTES} bytes")]
    InflatedTooLarge,
    #[error("the inflated credential is not a packed JWT")]
    Packing,
}

/// The JWT as the text of its codes, in order.
pub fn encode(jwt: &str) -> Result<Vec<String>, QrPayloadError> {
    let compressed = compress(jwt)?;
    let needed = codes_needed(compressed.len());
    if needed > MAX_CODES {
        return Err(QrPayloadError::TooLarge { needed });
    }
    let part = compressed.len().div_ceil(needed);
    Ok(compressed
        .chunks(part)
        .enumerate()
        .map(|(i, bytes)| format!("{PREFIX}{}/{needed}:{}", i + 1, base45::encode(bytes)))
        .collect())
}

/// The DEFLATE bytes the codes carry: their size decides how many codes a credential needs.
pub fn compress(jwt: &str) -> Result<Vec<u8>, QrPayloadError> {
    Ok(miniz_oxide::deflate::compress_to_vec(
        &pack(jwt)?,
        DEFLATE_LEVEL,
    ))
}

/// How many codes `compressed_len` bytes need: one code's characters hold `2/3` of a byte each.
pub fn codes_needed(compressed_len: usize) -> usize {
    let per_code = bytes_per_code();
    compressed_len.div_ceil(per_code).max(1)
}

/// The most DEFLATE bytes one code carries.
pub fn bytes_per_code() -> usize {
    (MAX_CHARS_PER_CODE - CHUNK_HEADER_CHARS) / 3 * 2
}

fn pack(jwt: &str) -> Result<Vec<u8>, QrPayloadError> {
    let segments: Vec<&str> = jwt.trim().split('.').collect();
    let [header, payload, signature] = segments[..] else {
        return Err(QrPayloadError::NotAJwt);
    };
    let decode = |segment: &str| {
        URL_SAFE_NO_PAD
            .decode(segment)
            .ok()
            .filter(|bytes| !bytes.is_empty())
            .ok_or(QrPayloadError::NotAJwt)
    };
    let (header, payload, signature) = (decode(header)?, decode(payload)?, decode(signature)?);
    let mut packed = Vec::with_capacity(8 + header.len() + payload.len() + signature.len());
    for segment in [&header, &payload] {
        let len = u32::try_from(segment.len()).map_err(|_| QrPayloadError::NotAJwt)?;
        packed.extend_from_slice(&len.to_be_bytes());
        packed.extend_from_slice(segment);
    }
    packed.extend_from_slice(&signature);
    Ok(packed)
}

fn unpack(packed: &[u8]) -> Result<String, QrPayloadError> {
    let mut rest = packed;
    let mut segments = Vec::with_capacity(3);
    for _ in 0..2 {
        let (len, tail) = rest
            .split_first_chunk::<4>()
            .ok_or(QrPayloadError::Packing)?;
        let len = usize::try_from(u32::from_be_bytes(*len)).map_err(|_| QrPayloadError::Packing)?;
        if len == 0 || len > tail.len() {
            return Err(QrPayloadError::Packing);
        }
        let (segment, tail) = tail.split_at(len);
        segments.push(URL_SAFE_NO_PAD.encode(segment));
        rest = tail;
    }
    if rest.is_empty() {
        return Err(QrPayloadError::Packing);
    }
    segments.push(URL_SAFE_NO_PAD.encode(rest));
    Ok(segments.join("."))
}

/// Reassembles the JWT from the text of its codes, in any order. A code scanned twice is fine; a
/// missing, foreign or damaged one is an error, never a guess.
pub fn decode<'a>(codes: impl IntoIterator<Item = &'a str>) -> Result<String, QrPayloadError> {
    let mut count = None;
    let mut parts: Vec<Option<&str>> = Vec::new();
    for code in codes {
        let (index, of, data) = split_code(code)?;
        match count {
            None => {
                count = Some(of);
                parts = vec![None; of];
            }
            Some(first) if first != of => return Err(QrPayloadError::CountMismatch(first, of)),
            Some(_) => {}
        }
        let slot = &mut parts[index - 1];
        match slot {
            Some(seen) if *seen != data => return Err(QrPayloadError::ConflictingDuplicate(index)),
            _ => *slot = Some(data),
        }
    }
    let count = count.ok_or(QrPayloadError::Empty)?;
    let missing: Vec<usize> = (1..=count).filter(|i| parts[i - 1].is_none()).collect();
    if !missing.is_empty() {
        return Err(QrPayloadError::Missing { missing, count });
    }
    let mut compressed = Vec::new();
    for (i, data) in parts.into_iter().flatten().enumerate() {
        let bytes = base45::decode(data).map_err(|source| QrPayloadError::Base45 {
            index: i + 1,
            source,
        })?;
        compressed.extend_from_slice(&bytes);
    }
    let packed =
        miniz_oxide::inflate::decompress_to_vec_with_limit(&compressed, MAX_INFLATED_BYTES)
            .map_err(|e| match e.status {
                miniz_oxide::inflate::TINFLStatus::HasMoreOutput => {
                    QrPayloadError::InflatedTooLarge
                }
                _ => QrPayloadError::Inflate,
            })?;
    unpack(&packed)
}

/// `HVN1:<i>/<n>:<data>` into its parts, with `1 <= i <= n <= MAX_CODES`.
fn split_code(code: &str) -> Result<(usize, usize, &str), QrPayloadError> {
    let rest = code.strip_prefix(PREFIX).ok_or(QrPayloadError::Prefix)?;
    let (numbering, data) = rest.split_once(':').ok_or(QrPayloadError::Numbering)?;
    let (index, count) = numbering.split_once('/').ok_or(QrPayloadError::Numbering)?;
    let number = |text: &str| {
        (text.len() == 1 && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse::<usize>().ok())
            .flatten()
            .ok_or(QrPayloadError::Numbering)
    };
    let (index, count) = (number(index)?, number(count)?);
    if index == 0 || index > count || count > MAX_CODES {
        return Err(QrPayloadError::Numbering);
    }
    Ok((index, count, data))
}

/// Whether a text is the `HVN1` form (one code per line) rather than a bare JWT.
pub fn is_qr_text(text: &str) -> bool {
    text.trim_start().starts_with(PREFIX)
}

/// The JWT from what a school has: a bare JWT, or the text of the codes one per line. Only line ends
/// and leading whitespace are stripped from a code's line: a space is a Base45 character, so a
/// trailing one is data.
pub fn credential_from_text(text: &str) -> Result<String, QrPayloadError> {
    if !is_qr_text(text) {
        return Ok(text.trim().to_owned());
    }
    decode(
        text.lines()
            .map(|line| line.trim_start().trim_end_matches('\r'))
            .filter(|line| !line.is_empty()),
    )
}

/// One code's modules, row by row from the top left; `true` is dark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrMatrix {
    width: usize,
    dark: Vec<bool>,
}

impl QrMatrix {
    /// The code for one line of [`encode`]'s output.
    pub fn for_code(code: &str) -> Result<Self, QrPayloadError> {
        let qr = QrCode::with_error_correction_level(code.as_bytes(), ERROR_CORRECTION).map_err(
            |_| QrPayloadError::TooLarge {
                needed: MAX_CODES + 1,
            },
        )?;
        Ok(QrMatrix {
            width: qr.width(),
            dark: qr
                .into_colors()
                .into_iter()
                .map(|color| color == qrcode::Color::Dark)
                .collect(),
        })
    }

    /// Modules per side, without the quiet zone.
    pub fn width(&self) -> usize {
        self.width
    }

    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.width && y < self.width && self.dark[y * self.width + x]
    }
}
