//! Base45 (RFC 9285): bytes as text in the 45 characters of a QR code's alphanumeric mode, so a code
//! spends 5.5 bits per character instead of 8 bits per byte of Base64 text.

/// The alphabet, in value order: exactly the QR alphanumeric character set.
const ALPHABET: &[u8; 45] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

/// Why a text is not Base45.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Base45Error {
    #[error("character {0:?} is not in the Base45 alphabet")]
    Character(char),
    #[error("a Base45 text cannot be {0} characters long")]
    Length(usize),
    #[error("a Base45 group encodes a value above its byte range")]
    Overflow,
}

/// Every two bytes become three characters, a last odd byte two.
pub fn encode(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len().div_ceil(2) * 3);
    let mut push = |value: usize| text.push(char::from(ALPHABET[value % 45]));
    let pairs = bytes.chunks_exact(2);
    let odd = pairs.remainder().first().copied();
    for pair in pairs {
        let value = usize::from(pair[0]) * 256 + usize::from(pair[1]);
        push(value);
        push(value / 45);
        push(value / (45 * 45));
    }
    if let Some(byte) = odd {
        push(usize::from(byte));
        push(usize::from(byte) / 45);
    }
    text
}

/// Strict: any character outside the alphabet, a length of 3k+1, or a group above its byte range
/// (such as `GGW`, 65,536) is an error.
pub fn decode(text: &str) -> Result<Vec<u8>, Base45Error> {
    let values = text
        .chars()
        .map(|c| {
            u8::try_from(c)
                .ok()
                .and_then(|b| ALPHABET.iter().position(|&a| a == b))
                .ok_or(Base45Error::Character(c))
        })
        .collect::<Result<Vec<usize>, _>>()?;
    if values.len() % 3 == 1 {
        return Err(Base45Error::Length(values.len()));
    }
    let mut bytes = Vec::with_capacity(values.len() / 3 * 2 + 1);
    let groups = values.chunks_exact(3);
    let tail = groups.remainder();
    for group in groups {
        let value = group[0] + group[1] * 45 + group[2] * 45 * 45;
        let pair = u16::try_from(value).map_err(|_| Base45Error::Overflow)?;
        bytes.extend_from_slice(&pair.to_be_bytes());
    }
    if let [c, d] = *tail {
        bytes.push(u8::try_from(c + d * 45).map_err(|_| Base45Error::Overflow)?);
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_examples_encode_and_decode() {
        // RFC 9285 section 4.3 and 4.4.
        assert_eq!(encode(b"AB"), "BB8");
        assert_eq!(encode(b"Hello!!"), "%69 VD92EX0");
        assert_eq!(encode(b"base-45"), "UJCLQE7W581");
        assert_eq!(decode("QED8WEX0").as_deref(), Ok(&b"ietf!"[..]));
    }

    #[test]
    fn every_byte_value_round_trips() {
        let bytes: Vec<u8> = (0..=255).chain((0..=255).rev()).collect();
        for len in [0, 1, 2, 3, bytes.len()] {
            assert_eq!(decode(&encode(&bytes[..len])).as_deref(), Ok(&bytes[..len]));
        }
    }

    #[test]
    fn a_text_outside_the_alphabet_or_range_is_refused() {
        assert_eq!(decode("ab8"), Err(Base45Error::Character('a')));
        assert_eq!(decode("BB8B"), Err(Base45Error::Length(4)));
        assert_eq!(decode("GGW"), Err(Base45Error::Overflow));
        assert_eq!(decode("::"), Err(Base45Error::Overflow));
        assert_eq!(decode("BB\u{e9}"), Err(Base45Error::Character('\u{e9}')));
    }
}
