"""OAuth2 clients (RFC 6749 client credentials) and the rules of their access tokens.

A client id reads `sc_<tenant hex>_<random>`: like an API key, it names its
tenant, so the token route finds the client under `T#<tenant>` with no global
index. The secret is shown once; only a salted scrypt hash of it is stored.
The secret is 256 random bits, so a plain SHA-256 (as API keys use) would
already resist guessing; scrypt costs every stolen-table attacker far more
and costs us one hash per token request, which the per-client rate limit
bounds.

A token carries the tenant (`company`), the client (`client_id`, `sub`) and
its scopes (`scope`, space-separated permission strings). Its signing and
checking (PyJWT, keys by `kid`) live in `chalicelib/http/tokens.py`; this
module says what goes into a token and what a checked token means.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from chalicelib.core.errors import DomainError, Unauthenticated, ValidationFailed
from chalicelib.core.models import Actor, Entity
from chalicelib.core.tenancy.permissions import ALL_PERMISSIONS, grantable
from chalicelib.core.tenancy.tenants import Principal

CLIENT_PREFIX = "sc"
# RFC 6749 leaves the lifetime to us; the issue caps it at one hour.
MAX_TOKEN_SECONDS = 3600
# How long a container trusts what it read about a client (revoked or not): a revoked
# client's tokens stop working at most this long after the revoke, everywhere.
CLIENT_CACHE_SECONDS = 60
# scrypt parameters (RFC 7914's interactive figures: 16 MiB, tens of milliseconds).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
TOKEN_CREDENTIAL = "token"  # noqa: S105 (a Principal.credential kind, not a secret)


class OAuthClient(Entity):
    client_id: str
    name: str
    secret_hash: str
    scopes: list[str]
    revoked: bool = False


class InvalidClient(Unauthenticated):
    """RFC 6749 `invalid_client`: unknown client, wrong secret, revoked (401)."""

    code = "invalid_client"


class InvalidScope(ValidationFailed):
    """RFC 6749 `invalid_scope`: a scope the client does not hold, or none at all (400)."""

    code = "invalid_scope"


class InvalidToken(Unauthenticated):
    """RFC 6750 `invalid_token`: expired, tampered, wrong audience, unknown key, revoked client (401)."""

    code = "INVALID_TOKEN"


class RateLimited(DomainError):
    """Too many token requests for one client in the current window (429)."""

    code = "RATE_LIMITED"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ClientStore(Protocol):
    def put_client(self, client: OAuthClient, actor: Actor) -> None: ...
    def get_client(self, tenant_id: str, client_id: str) -> OAuthClient | None: ...
    def list_clients(self, tenant_id: str) -> list[OAuthClient]: ...
    def revoke_client(self, tenant_id: str, client_id: str, actor: Actor) -> OAuthClient: ...
    def count_token_request(self, tenant_id: str, client_id: str, window_start: int, limit: int) -> bool:
        """Count one request in the window that starts at `window_start` (epoch seconds);
        False, counting nothing, when `limit` requests were already counted there."""


# -- client ids and secrets -----------------------------------------------------


def format_client_id(tenant_id: str, suffix: str) -> str:
    return f"{CLIENT_PREFIX}_{uuid.UUID(tenant_id).hex}_{suffix}"


def parse_client_id(client_id: str) -> str:
    """The tenant a client id names, or InvalidClient."""
    parts = client_id.split("_")
    if len(parts) != 3 or parts[0] != CLIENT_PREFIX or not parts[2].isalnum() or len(parts[2]) > 64:
        raise InvalidClient("unknown client")
    try:
        return str(uuid.UUID(hex=parts[1]))
    except ValueError:
        raise InvalidClient("unknown client") from None


def hash_client_secret(secret: str, salt: bytes | None = None) -> str:
    """`scrypt$<n>$<r>$<p>$<salt>$<hash>` (base64): the parameters travel with the hash, so they can change later."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = _scrypt(secret, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return "$".join(["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)])


def verify_client_secret(secret: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = _scrypt(secret, base64.b64decode(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(expected, actual)


# A hash of nothing anybody knows: an unknown client costs the same scrypt as a known one.
_DECOY_HASH: list[str] = []


def _decoy_hash() -> str:
    if not _DECOY_HASH:
        _DECOY_HASH.append(hash_client_secret(secrets.token_hex(32)))
    return _DECOY_HASH[0]


def _scrypt(secret: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=32)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


# -- scopes ----------------------------------------------------------------------


def check_grantable(scopes: Iterable[str], granted_by: frozenset[str] | None) -> list[str]:
    """The scopes of a new client, sorted: known permissions, at least one, none beyond the creator's own."""
    scopes = list(scopes)
    if not scopes:
        raise ValidationFailed("a client needs at least one scope", [{"field": "scopes", "message": "empty"}])
    refusal = "a client cannot get permissions the caller does not hold"
    return grantable(scopes, granted_by, field="scopes", refusal=refusal, granter="the caller")


def requested_scopes(requested: str | None, held: Iterable[str]) -> list[str]:
    """RFC 6749 3.3: no `scope` means all the client holds; otherwise a subset of them, or InvalidScope."""
    held_set = set(held)
    if requested is None:
        return sorted(held_set)
    wanted = set(requested.split())
    if not wanted:
        raise InvalidScope("scope is empty", [{"field": "scope", "message": "name at least one scope"}])
    beyond = sorted(wanted - held_set)
    if beyond:
        raise InvalidScope(
            f"the client does not hold the scope {', '.join(beyond)}",
            [{"field": "scope", "message": f"not granted to this client: {', '.join(beyond)}"}],
        )
    return sorted(wanted)


# -- token claims ------------------------------------------------------------------


@dataclass(frozen=True)
class TokenPolicy:
    issuer: str
    audience: str
    lifetime: int  # seconds, at most MAX_TOKEN_SECONDS


@dataclass(frozen=True)
class TokenIdentity:
    """What a checked token says: whose it is and what it may do."""

    tenant_id: str
    client_id: str
    scopes: frozenset[str]


def token_claims(client: OAuthClient, scopes: list[str], now: int, policy: TokenPolicy) -> dict[str, Any]:
    lifetime = min(policy.lifetime, MAX_TOKEN_SECONDS)
    return {
        "iss": policy.issuer,
        "aud": policy.audience,
        "sub": client.client_id,
        "client_id": client.client_id,
        "company": client.tenant_id,
        "scope": " ".join(scopes),
        "iat": now,
        "exp": now + lifetime,
        "jti": secrets.token_hex(12),
    }


def identity_from_claims(claims: Mapping[str, Any]) -> TokenIdentity:
    """The identity of a token whose signature, expiry, issuer and audience were checked; its shape checked here."""
    client_id, company, scope = claims.get("client_id"), claims.get("company"), claims.get("scope")
    if not isinstance(client_id, str) or not isinstance(company, str) or not isinstance(scope, str):
        raise InvalidToken("token lacks its client, company or scope")
    if parse_client_id_or_none(client_id) != company:
        raise InvalidToken("token's client does not belong to its company")
    issued, expires = claims.get("iat"), claims.get("exp")
    if not isinstance(issued, int) or not isinstance(expires, int) or expires - issued > MAX_TOKEN_SECONDS:
        raise InvalidToken("token lives longer than allowed")
    scopes = frozenset(scope.split()) & ALL_PERMISSIONS
    return TokenIdentity(tenant_id=company, client_id=client_id, scopes=scopes)


def parse_client_id_or_none(client_id: str) -> str | None:
    try:
        return parse_client_id(client_id)
    except InvalidClient:
        return None


# -- the service -----------------------------------------------------------------------


class ClientService:
    def __init__(
        self,
        store: ClientStore,
        *,
        rate_limit: int,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._rate_limit = rate_limit
        self._clock = clock
        self._monotonic = monotonic
        # (tenant, client id) -> (the client as read, or None, when it was read)
        self._seen: dict[tuple[str, str], tuple[OAuthClient | None, float]] = {}

    def create_client(
        self, tenant_id: str, name: str, scopes: Iterable[str], actor: Actor, granted_by: frozenset[str] | None
    ) -> tuple[OAuthClient, str]:
        """A new client holding `scopes` (never beyond `granted_by`, the caller's); its secret returned once."""
        wanted = check_grantable(scopes, granted_by)
        if not name.strip():
            raise ValidationFailed("client name is required", [{"field": "name", "message": "must not be empty"}])
        secret = secrets.token_urlsafe(32)
        client = OAuthClient(
            tenant_id=tenant_id,
            client_id=format_client_id(tenant_id, secrets.token_hex(8)),
            name=name.strip(),
            secret_hash=hash_client_secret(secret),
            scopes=wanted,
        )
        self._store.put_client(client, actor)
        return client, secret

    def list_clients(self, tenant_id: str) -> list[OAuthClient]:
        return self._store.list_clients(tenant_id)

    def revoke_client(self, tenant_id: str, client_id: str, actor: Actor) -> OAuthClient:
        client = self._store.revoke_client(tenant_id, client_id, actor)
        self._seen.pop((tenant_id, client_id), None)
        return client

    def check_rate(self, client_id: str) -> None:
        """Count a token request of `client_id` (checked or not: guessing costs the guesser); RateLimited beyond."""
        tenant_id = parse_client_id(client_id)
        now = int(self._clock())
        window = now - now % 60
        if not self._store.count_token_request(tenant_id, client_id, window, self._rate_limit):
            message = f"more than {self._rate_limit} token requests this minute for this client"
            raise RateLimited(message, retry_after=window + 60 - now)

    def authenticate_client(self, client_id: str, secret: str) -> OAuthClient:
        """The client, if `secret` is its secret and it is not revoked; else InvalidClient (same cost either way)."""
        tenant_id = parse_client_id(client_id)
        client = self._store.get_client(tenant_id, client_id)
        matches = verify_client_secret(secret, client.secret_hash if client else _decoy_hash())
        if client is None or not matches or client.revoked:
            raise InvalidClient("client authentication failed")
        return client

    def issue(self, client: OAuthClient, scope: str | None, policy: TokenPolicy) -> dict[str, Any]:
        """The claims of a new token for an authenticated client."""
        return token_claims(client, requested_scopes(scope, client.scopes), int(self._clock()), policy)

    def principal(self, identity: TokenIdentity) -> Principal:
        """The caller a checked token stands for; InvalidToken if its client is gone or revoked.

        What a container read about a client is trusted for CLIENT_CACHE_SECONDS, so a revoke
        takes effect everywhere within a minute (at once in the container that revoked).
        """
        client = self._client(identity.tenant_id, identity.client_id)
        if client is None or client.revoked:
            raise InvalidToken("the token's client was revoked")
        return Principal(
            tenant_id=identity.tenant_id,
            key_id=client.client_id,
            actor=Actor(id=f"client:{client.client_id}", name=client.name),
            # A signed token never claims more than its client holds; the intersection keeps it so regardless.
            permissions=identity.scopes & frozenset(client.scopes),
            credential=TOKEN_CREDENTIAL,
        )

    def _client(self, tenant_id: str, client_id: str) -> OAuthClient | None:
        key = (tenant_id, client_id)
        now = self._monotonic()
        seen = self._seen.get(key)
        if seen is not None and now - seen[1] < CLIENT_CACHE_SECONDS:
            return seen[0]
        client = self._store.get_client(tenant_id, client_id)
        if len(self._seen) > 10_000:
            self._seen.clear()
        self._seen[key] = (client, now)
        return client
