//! Paging shared by every list RPC: the page size rule, and cutting a page fetched one row long so the
//! extra row tells whether another page follows.

use haven_platform::ServiceError;
use haven_proto::common::PageRequest;

/// The page size asked for: `default` when zero, at most `max`.
pub(crate) fn page_size(page: &PageRequest, default: u32, max: u32) -> Result<u32, ServiceError> {
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
pub(crate) fn finish_page<T>(
    rows: &mut Vec<T>,
    size: u32,
    cursor: impl Fn(&T) -> String,
) -> String {
    let size = size as usize;
    if rows.len() <= size {
        return String::new();
    }
    rows.truncate(size);
    rows.last().map(cursor).unwrap_or_default()
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
}
