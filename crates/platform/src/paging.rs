//! Paging shared by every list RPC of every service: the page size rule, opaque id cursors, and cutting
//! a page fetched one row long so the extra row tells whether another page follows.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use haven_proto::common::PageRequest;

use crate::ServiceError;

/// The largest page a list RPC of the public API serves (the OpenAPI document says so too); the
/// auditor's log, which no partner reads, may page further.
pub const MAX_PAGE_SIZE: u32 = 100;

/// The page size asked for: `default` when zero, at most `max`.
pub fn page_size(page: &PageRequest, default: u32, max: u32) -> Result<u32, ServiceError> {
    match page.page_size {
        0 => Ok(default),
        n if n > max => Err(ServiceError::invalid(
            "page.page_size",
            format!("must be at most {max}"),
        )),
        n => Ok(n),
    }
}

/// Cuts `rows` (fetched with a limit of `size + 1`) to `size` and returns the next page token, or an
/// empty one at the end.
pub fn finish_page<T>(rows: &mut Vec<T>, size: u32, cursor: impl Fn(&T) -> String) -> String {
    let size = size as usize;
    if rows.len() <= size {
        return String::new();
    }
    rows.truncate(size);
    rows.last().map(cursor).unwrap_or_default()
}

/// An opaque page token naming the last UUID of a page. The prefix keeps one list's tokens from being
/// replayed against another list.
pub fn encode_id_cursor(prefix: &str, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{prefix}{id}"))
}

/// The UUID a token from [`encode_id_cursor`] names; `None` for the first page. Anything else is
/// INVALID_ARGUMENT on `page.page_token`.
pub fn decode_id_cursor(prefix: &str, token: &str) -> Result<Option<String>, ServiceError> {
    if token.is_empty() {
        return Ok(None);
    }
    let invalid = || ServiceError::invalid("page.page_token", "is not a token this service issued");
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let id = text.strip_prefix(prefix).ok_or_else(invalid)?;
    uuid::Uuid::parse_str(id).map_err(|_| invalid())?;
    Ok(Some(id.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_fetched_one_long_yields_a_token_and_a_short_one_does_not() {
        let mut rows = vec![1, 2, 3, 4];
        assert_eq!(finish_page(&mut rows, 3, |r| r.to_string()), "3");
        assert_eq!(rows, vec![1, 2, 3]);
        let mut last = vec![5, 6];
        assert_eq!(finish_page(&mut last, 3, |r| r.to_string()), "");
        let request = PageRequest {
            page_size: 0,
            page_token: String::new(),
        };
        assert_eq!(page_size(&request, 25, 100).expect("default"), 25);
        let too_big = PageRequest {
            page_size: 101,
            page_token: String::new(),
        };
        assert!(page_size(&too_big, 25, 100).is_err());
    }

    #[test]
    fn cursors_round_trip_and_refuse_foreign_tokens() {
        let id = "0190f0c2-7a1e-7b3c-9d4e-5f6a7b8c9d0e";
        let token = encode_id_cursor("children:", id);
        assert_eq!(
            decode_id_cursor("children:", &token).expect("ours"),
            Some(id.to_owned())
        );
        assert!(decode_id_cursor("alerts:", &token).is_err());
        assert!(decode_id_cursor("children:", "not base64!").is_err());
        assert_eq!(decode_id_cursor("children:", "").expect("first page"), None);
    }
}
