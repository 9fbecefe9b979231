"""OAuth2 access tokens as JWTs: the one module that signs and checks them.

PyJWT, HS256, keys from `settings.oauth_signing_keys` (kid -> secret, with a
current kid). A token names its key in the `kid` header; it is checked with
that key while the kid is still listed, so a rotation breaks no token. Only
HS256 is accepted (never `none`, never an algorithm the token picks).

HS256 rather than RS256/ES256: the service is the only issuer and the only
verifier of its tokens, so a shared secret (at least 256 bits, in Secrets
Manager when deployed) gives the same assurance without a key pair to manage,
and verification needs no crypto library beyond the standard library's HMAC.
PyJWT is imported on the first token, not with the app: with `cryptography`
installed it loads that too, which a cold start of an API-key request never needs.
"""

from __future__ import annotations

from typing import Any

from chalicelib.core.tenancy.clients import InvalidToken
from chalicelib.settings import get_settings

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]


def sign(claims: dict[str, Any]) -> str:
    """The claims, signed with the current key and naming it in `kid`."""
    import jwt

    kid, keys = get_settings().oauth_signing_keys
    return jwt.encode(claims, keys[kid], algorithm=ALGORITHM, headers={"kid": kid})


def verify(token: str) -> dict[str, Any]:
    """The claims of a token whose signature, kid, expiry, issuer and audience hold; InvalidToken otherwise."""
    import jwt

    settings = get_settings()
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise InvalidToken("malformed token") from None
    kid = header.get("kid")
    _, keys = settings.oauth_signing_keys
    if not isinstance(kid, str) or kid not in keys:
        raise InvalidToken("unknown signing key")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            keys[kid],
            algorithms=[ALGORITHM],
            audience=settings.oauth_audience,
            issuer=settings.oauth_issuer,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("token expired") from None
    except jwt.InvalidAudienceError:
        raise InvalidToken("token is for another audience") from None
    except jwt.InvalidIssuerError:
        raise InvalidToken("token from another issuer") from None
    except jwt.InvalidTokenError:
        raise InvalidToken("token signature or claims are invalid") from None
    return claims


def looks_like_token(raw: str) -> bool:
    """A JWT (three dot-separated parts); API keys never hold a dot."""
    return raw.count(".") == 2
