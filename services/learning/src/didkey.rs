//! `did:key` identifiers for Ed25519 keys (W3C did:key method): the multicodec prefix 0xed01 and the
//! 32-byte public key, base58btc-encoded with the multibase prefix `z`, so every such id starts `z6Mk`.

const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
const ED25519_MULTICODEC: [u8; 2] = [0xed, 0x01];

/// Why a string is not an Ed25519 did:key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DidKeyError {
    #[error("not a did:key")]
    NotDidKey,
    #[error("not base58btc")]
    NotBase58,
    #[error("not an Ed25519 key")]
    NotEd25519,
}

/// Base58 (Bitcoin alphabet): each leading zero byte becomes a '1', the rest is the number in base 58.
pub fn base58_encode(bytes: &[u8]) -> String {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    // Little-endian base-58 digits of the big-endian number in `bytes`.
    let mut digits: Vec<u8> = Vec::with_capacity(bytes.len() * 138 / 100 + 1);
    for &byte in &bytes[zeros..] {
        let mut carry = u32::from(byte);
        for digit in digits.iter_mut() {
            carry += u32::from(*digit) << 8;
            *digit = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let mut out = String::with_capacity(zeros + digits.len());
    out.extend(std::iter::repeat_n('1', zeros));
    out.extend(digits.iter().rev().map(|d| ALPHABET[*d as usize] as char));
    out
}

/// The inverse of [`base58_encode`].
pub fn base58_decode(text: &str) -> Result<Vec<u8>, DidKeyError> {
    let zeros = text.bytes().take_while(|b| *b == b'1').count();
    let mut bytes: Vec<u8> = Vec::with_capacity(text.len());
    for c in text.bytes().skip(zeros) {
        let value = ALPHABET
            .iter()
            .position(|a| *a == c)
            .ok_or(DidKeyError::NotBase58)?;
        let mut carry = value as u32;
        for byte in bytes.iter_mut() {
            carry += u32::from(*byte) * 58;
            *byte = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            bytes.push((carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let mut out = vec![0u8; zeros];
    out.extend(bytes.iter().rev());
    Ok(out)
}

/// The multibase fingerprint of an Ed25519 public key (`z6Mk...`).
pub fn fingerprint(public: &[u8; 32]) -> String {
    let mut bytes = Vec::with_capacity(34);
    bytes.extend_from_slice(&ED25519_MULTICODEC);
    bytes.extend_from_slice(public);
    format!("z{}", base58_encode(&bytes))
}

/// `did:key:z6Mk...` for an Ed25519 public key.
pub fn did_key(public: &[u8; 32]) -> String {
    format!("did:key:{}", fingerprint(public))
}

/// The verification method id of a did:key, as JWT headers name it: `did:key:z6Mk...#z6Mk...`.
pub fn key_id(public: &[u8; 32]) -> String {
    let fp = fingerprint(public);
    format!("did:key:{fp}#{fp}")
}

/// The Ed25519 public key a did:key (optionally with a `#fragment`) names.
pub fn public_key_of(did: &str) -> Result<[u8; 32], DidKeyError> {
    let did = did.split('#').next().unwrap_or(did);
    let multibase = did.strip_prefix("did:key:").ok_or(DidKeyError::NotDidKey)?;
    let encoded = multibase.strip_prefix('z').ok_or(DidKeyError::NotBase58)?;
    let bytes = base58_decode(encoded)?;
    match bytes.split_at_checked(2) {
        Some((prefix, key)) if prefix == ED25519_MULTICODEC => {
            key.try_into().map_err(|_| DidKeyError::NotEd25519)
        }
        _ => Err(DidKeyError::NotEd25519),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base58_matches_the_bitcoin_vectors() {
        assert_eq!(base58_encode(b""), "");
        assert_eq!(base58_encode(b"Hello World!"), "2NEpo7TZRRrLZSi2U");
        assert_eq!(
            base58_encode(b"The quick brown fox jumps over the lazy dog."),
            "USm3fpXnKG5EUBx2ndxBDMPVciP5hGey2Jh4NDv6gmeo1LkMeiKrLJUUBk6Z"
        );
        assert_eq!(base58_encode(&[0, 0, 0x28, 0x7f, 0xb4, 0xcd]), "11233QC4");
        assert_eq!(
            base58_decode("11233QC4").expect("valid"),
            vec![0, 0, 0x28, 0x7f, 0xb4, 0xcd]
        );
        assert_eq!(base58_decode("0OIl"), Err(DidKeyError::NotBase58));
    }

    #[test]
    fn did_key_spec_example_round_trips_to_an_ed25519_key() {
        let did = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK";
        let public = public_key_of(did).expect("an Ed25519 did:key");
        assert_eq!(did_key(&public), did);
        assert_eq!(
            key_id(&public),
            format!("{did}#z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK")
        );
    }

    #[test]
    fn every_ed25519_did_key_starts_z6mk() {
        for seed in 0u8..20 {
            let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
            let public = key.verifying_key().to_bytes();
            let did = did_key(&public);
            assert!(did.starts_with("did:key:z6Mk"), "{did}");
            assert_eq!(public_key_of(&did).expect("round trip"), public);
        }
        assert_eq!(
            public_key_of("did:web:example.org"),
            Err(DidKeyError::NotDidKey)
        );
    }
}
