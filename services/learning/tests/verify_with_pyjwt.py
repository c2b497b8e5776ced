"""Verifies a Haven learning passport with PyJWT, an independent JOSE implementation that knows nothing
of Haven: signature (EdDSA, key chosen by the header's kid from the issuer's JWKS), nbf and exp.

usage: verify_with_pyjwt.py PASSPORT.jwt ISSUER.jwks
Prints the issuer and credential id and exits 0 when the passport verifies; exits 1 otherwise.
"""
import json
import sys

import jwt


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
            algorithms=["EdDSA"],
            options={"require": ["iss", "nbf", "jti"], "verify_aud": False},
        )
    except jwt.PyJWTError as error:
        print(f"rejected: {error}", file=sys.stderr)
        return 1
    if claims["vc"]["issuer"]["id"] != claims["iss"] or not kid.startswith(claims["iss"] + "#"):
        print("issuer does not match the key", file=sys.stderr)
        return 1
    print(json.dumps({"iss": claims["iss"], "jti": claims["jti"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
