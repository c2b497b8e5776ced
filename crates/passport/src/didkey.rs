//! `did:key` identifiers (W3C CCG did:key method) for the two passport key types: Ed25519 (multicodec
//! 0xed, the 32-byte key; every id starts `z6Mk`) and RSA (multicodec 0x1205 `rsa-pub`, the PKCS#1
//! `RSAPublicKey` DER; a 2048-bit key starts `z4MX`), base58btc-encoded (the `bs58` crate) with the
//! multibase prefix `z`.

/// The unsigned varints of the multicodec codes.
const ED25519_MULTICODEC: [u8; 2] = [0xed, 0x01];
const RSA_MULTICODEC: [u8; 2] = [0x85, 0x24];

/// Why a string is not a did:key of a supported key type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DidKeyError {
    #[error("not a did:key")]
    NotDidKey,
    #[error("not base58btc")]
    NotBase58,
    #[error("not an Ed25519 key")]
    NotEd25519,
    #[error("not an Ed25519 or RSA key")]
    UnsupportedKeyType,
}

/// The public key a did:key names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DidPublicKey {
    Ed25519([u8; 32]),
    /// PKCS#1 `RSAPublicKey`, DER, exactly as the did carries it (not yet parsed or size-checked).
    Rsa(Vec<u8>),
}

fn multibase(codec: [u8; 2], key: &[u8]) -> String {
    let mut bytes = Vec::with_capacity(2 + key.len());
    bytes.extend_from_slice(&codec);
    bytes.extend_from_slice(key);
    format!("z{}", bs58::encode(&bytes).into_string())
}

/// The multibase fingerprint of an Ed25519 public key (`z6Mk...`).
pub fn fingerprint(public: &[u8; 32]) -> String {
    multibase(ED25519_MULTICODEC, public)
}

/// `did:key:z6Mk...` for an Ed25519 public key.
pub fn did_key(public: &[u8; 32]) -> String {
    format!("did:key:{}", fingerprint(public))
}

/// `did:key:z4MX...` for an RSA public key given as PKCS#1 `RSAPublicKey` DER.
pub fn rsa_did_key(pkcs1_der: &[u8]) -> String {
    format!("did:key:{}", multibase(RSA_MULTICODEC, pkcs1_der))
}

/// The verification method id of a did:key, as JWT headers name it: `did:key:z6Mk...#z6Mk...`.
pub fn key_id(public: &[u8; 32]) -> String {
    let fp = fingerprint(public);
    format!("did:key:{fp}#{fp}")
}

/// The public key a did:key (optionally with a `#fragment`) names: Ed25519 or RSA.
pub fn decode(did: &str) -> Result<DidPublicKey, DidKeyError> {
    let did = did.split('#').next().unwrap_or(did);
    let multibase = did.strip_prefix("did:key:").ok_or(DidKeyError::NotDidKey)?;
    let encoded = multibase.strip_prefix('z').ok_or(DidKeyError::NotBase58)?;
    let bytes = bs58::decode(encoded)
        .into_vec()
        .map_err(|_| DidKeyError::NotBase58)?;
    match bytes.split_at_checked(2) {
        Some((prefix, key)) if prefix == ED25519_MULTICODEC => key
            .try_into()
            .map(DidPublicKey::Ed25519)
            .map_err(|_| DidKeyError::NotEd25519),
        Some((prefix, key)) if prefix == RSA_MULTICODEC && !key.is_empty() => {
            Ok(DidPublicKey::Rsa(key.to_vec()))
        }
        _ => Err(DidKeyError::UnsupportedKeyType),
    }
}

/// The Ed25519 public key a did:key (optionally with a `#fragment`) names.
pub fn public_key_of(did: &str) -> Result<[u8; 32], DidKeyError> {
    match decode(did)? {
        DidPublicKey::Ed25519(public) => Ok(public),
        DidPublicKey::Rsa(_) => Err(DidKeyError::NotEd25519),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_did_key_outside_the_base58btc_alphabet_is_refused() {
        // 0, O, I and l are not in the Bitcoin alphabet; a multibase prefix other than z is not base58btc.
        for did in ["did:key:z6Mk0OIl", "did:key:z", "did:key:f6Mk"] {
            let refused = decode(did);
            assert!(
                matches!(
                    refused,
                    Err(DidKeyError::NotBase58 | DidKeyError::UnsupportedKeyType)
                ),
                "{did}: {refused:?}"
            );
        }
        assert_eq!(decode("did:key:z6Mk0OIl"), Err(DidKeyError::NotBase58));
        assert_eq!(decode("did:key:f6Mk"), Err(DidKeyError::NotBase58));
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

    /// The RSA-2048 vector of the did:key method's test suite (w3c-ccg/did-method-key,
    /// `test-vectors/rsa.json`): its `publicKeyJwk` n and e, and the did they make.
    #[test]
    fn the_did_key_rsa_test_vector_round_trips() {
        use base64::Engine as _;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use rsa::pkcs1::EncodeRsaPublicKey as _;
        let did = "did:key:z4MXj1wBzi9jUstyPMS4jQqB6KdJaiatPkAtVtGc6bQEQEEsKTic4G7Rou3iBf9vPmT5dbkm9qsZsuVNjq8HCuW1w24nhBFGkRE4cd2Uf2tfrB3N7h4mnyPp1BF3ZttHTYv3DLUPi1zMdkULiow3M1GfXkoC6DoxDUm1jmN6GBj22SjVsr6dxezRVQc7aj9TxE7JLbMH1wh5X3kA58H3DFW8rnYMakFGbca5CB2Jf6CnGQZmL7o5uJAdTwXfy2iiiyPxXEGerMhHwhjTA1mKYobyk2CpeEcmvynADfNZ5MBvcCS7m3XkFCMNUYBS9NQ3fze6vMSUPsNa6GVYmKx2x6JrdEjCk3qRMMmyjnjCMfR4pXbRMZa3i";
        let n = "sbX82NTV6IylxCh7MfV4hlyvaniCajuP97GyOqSvTmoEdBOflFvZ06kR_9D6ctt45Fk6hskfnag2GG69NALVH2o4RCR6tQiLRpKcMRtDYE_thEmfBvDzm_VVkOIYfxu-Ipuo9J_S5XDNDjczx2v-3oDh5-CIHkU46hvFeCvpUS-L8TJSbgX0kjVk_m4eIb9wh63rtmD6Uz_KBtCo5mmR4TEtcLZKYdqMp3wCjN-TlgHiz_4oVXWbHUefCEe8rFnX1iQnpDHU49_SaXQoud1jCaexFn25n-Aa8f8bc5Vm-5SeRwidHa6ErvEhTvf1dz6GoNPp2iRvm-wJ1gxwWJEYPQ";
        let public = rsa::RsaPublicKey::new(
            rsa::BigUint::from_bytes_be(&URL_SAFE_NO_PAD.decode(n).expect("n")),
            rsa::BigUint::from(65_537u32),
        )
        .expect("a valid key");
        let der = public.to_pkcs1_der().expect("der");
        assert_eq!(rsa_did_key(der.as_bytes()), did);
        assert_eq!(
            decode(&format!("{did}#fragment")),
            Ok(DidPublicKey::Rsa(der.as_bytes().to_vec()))
        );
        assert_eq!(public_key_of(did), Err(DidKeyError::NotEd25519));
    }
}
