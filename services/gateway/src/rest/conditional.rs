//! HTTP conditional requests on records (RFC 9110 §13). The `ETag` of an answer that holds one record
//! is that record's version as the caller sees it (`"7"`). On an update, `If-Match` fills the request's
//! `expected_version`, and a record that moved on answers 412 Precondition Failed instead of the 409 a
//! stale `expected_version` in the body gets. On a read, `If-Match` answers 412 unless the record is at
//! that version, and `If-None-Match` answers 304 Not Modified when the client's copy is current, so a
//! caseworker on a slow line does not fetch a record again to learn that it has not changed.
//!
//! An ETag names the record's version, not the bytes of one representation: two roles that see different
//! parts of the same record at the same version get the same tag. Answers carry `Cache-Control: no-store`,
//! so no shared cache ever pairs a tag with another caller's bytes.

use http::HeaderValue;

/// One entity tag of a conditional header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityTag {
    pub weak: bool,
    /// What is between the quotes.
    pub opaque: String,
}

/// What a conditional header asks for: any current record (`*`), or one of these tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    Any,
    Tags(Vec<EntityTag>),
}

/// The `ETag` of a record version.
pub fn etag(version: i64) -> HeaderValue {
    // Digits and quotes are always a valid header value.
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// Reads `If-Match` or `If-None-Match`: `*`, or a comma-separated list of `"opaque"` and `W/"opaque"`.
/// `None` when the header is not in that form.
pub fn parse(value: &HeaderValue) -> Option<Condition> {
    let text = value.to_str().ok()?.trim();
    if text == "*" {
        return Some(Condition::Any);
    }
    let mut tags = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        let (weak, after) = match rest.strip_prefix("W/") {
            Some(after) => (true, after),
            None => (false, rest),
        };
        let after = after.strip_prefix('"')?;
        let end = after.find('"')?;
        let opaque = &after[..end];
        // RFC 9110 etagc: %x21 / %x23-7E / obs-text; no spaces, no quotes, no controls.
        if opaque.bytes().any(|b| b <= 0x20 || b == 0x7f) {
            return None;
        }
        tags.push(EntityTag {
            weak,
            opaque: opaque.to_owned(),
        });
        rest = after[end + 1..].trim_start();
        if rest.is_empty() {
            break;
        }
        rest = rest.strip_prefix(',')?;
    }
    if tags.is_empty() {
        None
    } else {
        Some(Condition::Tags(tags))
    }
}

impl Condition {
    /// `If-Match`: strong comparison, so a weak tag never matches.
    pub fn matches_strongly(&self, version: i64) -> bool {
        let current = version.to_string();
        match self {
            Condition::Any => true,
            Condition::Tags(tags) => tags.iter().any(|t| !t.weak && t.opaque == current),
        }
    }

    /// `If-None-Match`: weak comparison.
    pub fn matches_weakly(&self, version: i64) -> bool {
        let current = version.to_string();
        match self {
            Condition::Any => true,
            Condition::Tags(tags) => tags.iter().any(|t| t.opaque == current),
        }
    }

    /// The one record version an `If-Match` on an update names: `Ok(None)` when it can name none (a
    /// weak tag, or a tag that is not a version: it can never match, so the answer is 412), `Err` when
    /// it does not say which version the client read (`*`, or several tags).
    pub fn expected_version(&self) -> Result<Option<i64>, &'static str> {
        match self {
            Condition::Any => Err("give the ETag of the version you read; * names no version"),
            Condition::Tags(tags) if tags.len() > 1 => {
                Err("give the one ETag of the version you read")
            }
            Condition::Tags(tags) => {
                let tag = &tags[0];
                if tag.weak {
                    return Ok(None);
                }
                Ok(tag
                    .opaque
                    .parse::<i64>()
                    .ok()
                    .filter(|v| *v > 0 && tag.opaque.bytes().all(|b| b.is_ascii_digit())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Option<Condition> {
        parse(&HeaderValue::from_str(text).expect("header"))
    }

    #[test]
    fn tags_lists_and_star_are_read_and_malformed_headers_are_not() {
        assert_eq!(parsed("*"), Some(Condition::Any));
        assert_eq!(
            parsed(r#""3", W/"4" ,"x""#),
            Some(Condition::Tags(vec![
                EntityTag {
                    weak: false,
                    opaque: "3".into()
                },
                EntityTag {
                    weak: true,
                    opaque: "4".into()
                },
                EntityTag {
                    weak: false,
                    opaque: "x".into()
                },
            ]))
        );
        for bad in ["3", r#""3"#, r#""3" "4""#, r#""a b""#, "", r#""3","#, "W/3"] {
            assert_eq!(parsed(bad), None, "{bad}");
        }
    }

    #[test]
    fn if_match_compares_strongly_and_if_none_match_weakly() {
        let weak = parsed(r#"W/"5""#).expect("tag");
        assert!(!weak.matches_strongly(5));
        assert!(weak.matches_weakly(5));
        let strong = parsed(r#""4", "5""#).expect("tags");
        assert!(strong.matches_strongly(5));
        assert!(!strong.matches_strongly(6));
        assert!(!strong.matches_weakly(6));
        assert!(Condition::Any.matches_strongly(1));
    }

    #[test]
    fn an_update_takes_exactly_one_strong_version() {
        assert_eq!(
            parsed(r#""7""#).expect("tag").expected_version(),
            Ok(Some(7))
        );
        assert_eq!(
            parsed(r#"W/"7""#).expect("tag").expected_version(),
            Ok(None)
        );
        assert_eq!(parsed(r#""+7""#).expect("tag").expected_version(), Ok(None));
        assert_eq!(parsed(r#""0""#).expect("tag").expected_version(), Ok(None));
        assert!(
            parsed(r#""7", "8""#)
                .expect("tags")
                .expected_version()
                .is_err()
        );
        assert!(Condition::Any.expected_version().is_err());
        assert_eq!(etag(12).to_str().expect("ascii"), "\"12\"");
    }
}
