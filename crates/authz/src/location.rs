//! Location tags: keyed hashes of administrative-area prefixes, so the `location` scope can be checked
//! and filtered in SQL without storing where a child is in clear.
//!
//! A child's current location is whereabouts data and is sealed at rest. The scope only needs to know
//! whether that location lies under one of the caller's `locations` claims (`"SO/Banadir"`), so each
//! prefix of the child's admin path is stored as an HMAC-SHA256 tag under a deployment key held outside
//! the database. A dump shows which children share an area, never which area it is.

use hmac::{Hmac, Mac as _};
use sha2::Sha256;

/// The separator of admin levels in a `locations` claim.
pub const LEVEL_SEPARATOR: char = '/';

/// The most admin levels that get a tag: deeper levels add nothing a scope would name.
pub const MAX_TAGGED_LEVELS: usize = 6;

/// A tag for one admin-path prefix (truncated HMAC-SHA256: 128 bits).
pub type LocationTag = [u8; 16];

/// The deployment key behind location tags. Its bytes never appear in `Debug` output.
#[derive(Clone)]
pub struct LocationKey([u8; 32]);

impl std::fmt::Debug for LocationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocationKey(..)")
    }
}

impl LocationKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        LocationKey(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// One tag per prefix of an admin path (broadest first): `["SO", "Banadir", "Hodan"]` gives the tags
    /// of `SO`, `SO/Banadir` and `SO/Banadir/Hodan`. Empty levels end the path.
    pub fn tags_for_path<S: AsRef<str>>(&self, admin_path: &[S]) -> Vec<LocationTag> {
        let mut tags = Vec::new();
        let mut prefix = String::new();
        for level in admin_path.iter().take(MAX_TAGGED_LEVELS) {
            let level = normalise_level(level.as_ref());
            if level.is_empty() {
                break;
            }
            if !prefix.is_empty() {
                prefix.push(LEVEL_SEPARATOR);
            }
            prefix.push_str(&level);
            tags.push(self.tag(&prefix));
        }
        tags
    }

    /// The tag of a `locations` claim such as `"SO/Banadir"`, or `None` for an empty or too deep claim
    /// (which then grants nothing).
    pub fn tag_for_claim(&self, claim: &str) -> Option<LocationTag> {
        let levels: Vec<&str> = claim.split(LEVEL_SEPARATOR).collect();
        if levels.len() > MAX_TAGGED_LEVELS || levels.iter().any(|l| normalise_level(l).is_empty())
        {
            return None;
        }
        self.tags_for_path(&levels).pop()
    }

    fn tag(&self, prefix: &str) -> LocationTag {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("hmac takes any key length");
        mac.update(b"haven location v1\0");
        mac.update(prefix.as_bytes());
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; 16];
        tag.copy_from_slice(&full[..16]);
        tag
    }
}

/// Levels compare case-insensitively and without surrounding space, so `"so / banadir"` in a token
/// names the same area as `["SO", "Banadir"]` on a record.
fn normalise_level(level: &str) -> String {
    level.trim().to_lowercase()
}

/// Lowercase hex, the form tags take in SQL columns (portable across SQLite and PostgreSQL).
pub fn tag_hex(tag: &LocationTag) -> String {
    hex::encode(tag)
}

/// Parses [`tag_hex`] output.
pub fn tag_from_hex(text: &str) -> Option<LocationTag> {
    let mut tag = [0u8; 16];
    hex::decode_to_slice(text, &mut tag).ok()?;
    Some(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> LocationKey {
        LocationKey::from_bytes([byte; 32])
    }

    #[test]
    fn a_claim_tags_the_same_as_the_matching_prefix_of_a_path() {
        let k = key(7);
        let path = ["SO", "Banadir", "Hodan"];
        let tags = k.tags_for_path(&path);
        assert_eq!(tags.len(), 3);
        assert_eq!(k.tag_for_claim("SO"), Some(tags[0]));
        assert_eq!(k.tag_for_claim("so / banadir"), Some(tags[1]));
        assert_eq!(k.tag_for_claim("SO/Banadir/Hodan"), Some(tags[2]));
        assert!(!tags.contains(&k.tag_for_claim("SO/Hodan").expect("tag")));
    }

    #[test]
    fn tags_depend_on_the_key_and_reveal_no_level() {
        let path = ["UA", "Kharkivska"];
        assert_ne!(key(1).tags_for_path(&path), key(2).tags_for_path(&path));
        let hex = tag_hex(&key(1).tags_for_path(&path)[1]);
        assert!(!hex.contains("kharkiv") && hex.len() == 32);
        assert_eq!(tag_from_hex(&hex), Some(key(1).tags_for_path(&path)[1]));
    }

    #[test]
    fn empty_or_too_deep_claims_grant_nothing() {
        let k = key(3);
        assert_eq!(k.tag_for_claim(""), None);
        assert_eq!(k.tag_for_claim("SO//Hodan"), None);
        assert_eq!(k.tag_for_claim("a/b/c/d/e/f/g"), None);
        assert!(k.tags_for_path(&["", "x"]).is_empty());
    }
}
