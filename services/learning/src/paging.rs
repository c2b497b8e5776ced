//! Paging for the list RPCs: the page size rule and opaque cursors (the last key of a page, wrapped so a
//! client cannot tell or forge what it holds; keys are ids or framework codes, stable under inserts).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use haven_platform::ServiceError;
use haven_proto::common::PageRequest;

pub(crate) const DEFAULT_PAGE_SIZE: u32 = 25;
pub(crate) use haven_platform::paging::MAX_PAGE_SIZE;
const CURSOR_PREFIX: &str = "l1:";
const MAX_KEY: usize = 200;

/// The page size asked for: the default when zero, at most the maximum.
pub(crate) fn page_size(page: &PageRequest) -> Result<u32, ServiceError> {
    haven_platform::paging::page_size(page, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
}

pub(crate) fn encode_cursor(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{key}"))
}

pub(crate) fn decode_cursor(token: &str) -> Result<Option<String>, ServiceError> {
    if token.is_empty() {
        return Ok(None);
    }
    let invalid = || ServiceError::invalid("page.page_token", "is not a token this service issued");
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let key = text.strip_prefix(CURSOR_PREFIX).ok_or_else(invalid)?;
    if key.is_empty() || key.len() > MAX_KEY {
        return Err(invalid());
    }
    Ok(Some(key.to_owned()))
}

/// Cuts `rows` (fetched with a limit of `size + 1`) to `size` and returns the next page token, or an
/// empty one at the end.
pub(crate) fn finish_page<T>(rows: &mut Vec<T>, size: u32, key: impl Fn(&T) -> &str) -> String {
    let size = size as usize;
    if rows.len() <= size {
        return String::new();
    }
    rows.truncate(size);
    rows.last()
        .map(|r| encode_cursor(key(r)))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_foreign_tokens_are_refused() {
        let id = uuid::Uuid::now_v7().to_string();
        assert_eq!(decode_cursor(&encode_cursor(&id)).expect("valid"), Some(id));
        assert_eq!(decode_cursor("").expect("empty"), None);
        assert!(decode_cursor("not-a-token").is_err());
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode("c1:x")).is_err());
        let mut rows = vec!["a", "b", "c"];
        assert_eq!(finish_page(&mut rows, 2, |r| r), encode_cursor("b"));
        assert_eq!(rows, vec!["a", "b"]);
    }
}
