"""Verifies a Haven learning passport with PyJWT, an independent JOSE implementation that knows nothing
of Haven: signature (EdDSA or RS256, as the issuer's JWKS entry for the header's kid says), nbf and exp,
and that the issuer's did:key names the signing key (for RSA: multicodec rsa-pub 0x1205 over the PKCS#1
DER, parsed by `cryptography`; the kid must then be the key's RFC 7638 thumbprint).

usage: verify_with_pyjwt.py PASSPORT.jwt ISSUER.jwks
Prints the issuer, algorithm and credential id and exits 0 when the passport verifies; exits 1 otherwise.
"""
import base64
import hashlib
import json
import sys

import jwt
from cryptography.hazmat.primitives.serialization import load_der_public_key

BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def did_key_bytes(did: str) -> bytes:
    encoded = did.removeprefix("did:key:z")
    number = 0
    for char in encoded:
        number = number * 58 + BASE58.index(char)
    zeros = len(encoded) - len(encoded.lstrip("1"))
    return b"\0" * zeros + number.to_bytes((number.bit_length() + 7) // 8, "big")


def issuer_names_rsa_key(iss: str, kid: str, jwk: dict) -> bool:
    thumbprint = b64url(
        hashlib.sha256(
            json.dumps(
                {"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, separators=(",", ":"), sort_keys=True
            ).encode()
        ).digest()
    )
    if kid != thumbprint or not iss.startswith("did:key:z"):
        return False
    named = did_key_bytes(iss)
    if named[:2] != b"\x85\x24":
        return False
    numbers = load_der_public_key(named[2:]).public_numbers()
    return b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")) == jwk["n"] and b64url(
        numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
    ) == jwk["e"]


def main() -> int:
    token = open(sys.argv[1], encoding="ascii").read().strip()
    jwks = json.load(open(sys.argv[2], encoding="utf-8"))
    kid = jwt.get_unverified_header(token).get("kid")
    keys = {k["kid"]: k for k in jwks["keys"]}
    if kid not in keys:
        print(f"unknown kid {kid}", file=sys.stderr)
        return 1
    key = jwt.PyJWK(keys[kid])
    try:
        claims = jwt.decode(
            token,
            key=key,
            algorithms=[key.algorithm_name],
            options={"require": ["iss", "nbf", "jti"], "verify_aud": False},
        )
    except jwt.PyJWTError as error:
        print(f"rejected: {error}", file=sys.stderr)
        return 1
    iss = claims["iss"]
    if key.algorithm_name == "RS256":
        names_key = issuer_names_rsa_key(iss, kid, keys[kid])
    else:
        names_key = kid.startswith(iss + "#")
    if claims["vc"]["issuer"]["id"] != iss or not names_key:
        print("issuer does not match the key", file=sys.stderr)
        return 1
    print(json.dumps({"iss": iss, "alg": key.algorithm_name, "jti": claims["jti"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
