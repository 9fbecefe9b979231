"""OAuth2 client rules (core/tenancy/clients.py) and access tokens (http/tokens.py), with no AWS."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator

import jwt
import pytest

from chalicelib.core.errors import Forbidden, ValidationFailed
from chalicelib.core.models import SYSTEM, Actor
from chalicelib.core.tenancy.clients import (
    CLIENT_CACHE_SECONDS,
    MAX_TOKEN_SECONDS,
    ClientService,
    InvalidClient,
    InvalidScope,
    InvalidToken,
    OAuthClient,
    RateLimited,
    TokenPolicy,
    check_grantable,
    hash_client_secret,
    identity_from_claims,
    parse_client_id,
    requested_scopes,
    token_claims,
    verify_client_secret,
)
from chalicelib.settings import parse_signing_keys, reset_settings
from tests.fakes import InMemoryClientStore

pytestmark = pytest.mark.disable_socket

TENANT = "3f1c9a2e-8b7d-4c6f-9e0a-1b2c3d4e5f60"
POLICY = TokenPolicy(issuer="stockroom", audience="stockroom-api", lifetime=3600)
KEY_A = "a" * 40
KEY_B = "b" * 40


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("STOCKROOM_OAUTH_KEYS", json.dumps({"current": "k1", "k1": KEY_A}))
    reset_settings()
    yield
    reset_settings()


def use_keys(monkeypatch: pytest.MonkeyPatch, current: str, **listed: str) -> None:
    monkeypatch.setenv("STOCKROOM_OAUTH_KEYS", json.dumps({"current": current, **listed}))
    reset_settings()


def a_client(scopes: list[str] | None = None) -> tuple[ClientService, InMemoryClientStore, OAuthClient, str]:
    store = InMemoryClientStore()
    service = ClientService(store, rate_limit=3)
    client, secret = service.create_client(
        TENANT, "sync", scopes or ["inventory.read", "inventory.write"], SYSTEM, None
    )
    return service, store, client, secret


# -- secrets -----------------------------------------------------------------------


def test_given_a_secret_then_only_a_salted_scrypt_hash_is_kept_and_it_verifies() -> None:
    first = hash_client_secret("s3cret")
    second = hash_client_secret("s3cret")

    assert first.startswith("scrypt$16384$8$1$") and "s3cret" not in first
    assert first != second  # salted
    assert verify_client_secret("s3cret", first) and verify_client_secret("s3cret", second)
    assert not verify_client_secret("s3cret!", first)
    assert not verify_client_secret("s3cret", "sha256$whatever")
    assert not verify_client_secret("s3cret", "not a hash")


def test_given_a_new_client_then_its_id_names_its_tenant_and_the_secret_is_not_stored() -> None:
    service, store, client, secret = a_client()

    assert parse_client_id(client.client_id) == TENANT
    assert secret not in json.dumps(store.clients[(TENANT, client.client_id)].model_dump(mode="json"))
    assert service.authenticate_client(client.client_id, secret) == client
    with pytest.raises(InvalidClient):
        service.authenticate_client(client.client_id, secret + "x")
    with pytest.raises(InvalidClient):
        service.authenticate_client(client.client_id.replace(client.client_id[-4:], "0000"), secret)
    for malformed in ("sc_nothex_abc", "sr_" + client.client_id[3:], "sc__", client.client_id + "_x"):
        with pytest.raises(InvalidClient):
            parse_client_id(malformed)


# -- scopes --------------------------------------------------------------------------


def test_given_a_creator_then_a_client_gets_no_scope_beyond_its_own() -> None:
    assert check_grantable(["inventory.write", "inventory.read", "inventory.read"], None) == [
        "inventory.read",
        "inventory.write",
    ]
    assert check_grantable(["inventory.read"], frozenset({"admin", "inventory.read"})) == ["inventory.read"]
    with pytest.raises(Forbidden) as refused:
        check_grantable(["inventory.read", "inventory.write"], frozenset({"admin", "inventory.read"}))
    assert refused.value.details == [{"field": "scopes", "message": "not held by the caller: inventory.write"}]
    with pytest.raises(ValidationFailed):
        check_grantable(["inventory.everything"], None)
    with pytest.raises(ValidationFailed):
        check_grantable([], None)


def test_given_a_scope_parameter_then_it_must_be_a_subset_of_the_clients() -> None:
    held = ["inventory.read", "inventory.write"]

    assert requested_scopes(None, held) == held
    assert requested_scopes("inventory.read", held) == ["inventory.read"]
    assert requested_scopes("inventory.write  inventory.read", held) == held
    with pytest.raises(InvalidScope, match="admin"):
        requested_scopes("inventory.read admin", held)
    with pytest.raises(InvalidScope):
        requested_scopes("   ", held)


# -- claims ------------------------------------------------------------------------------


def test_given_a_client_then_its_token_claims_name_company_client_and_scopes_and_live_at_most_an_hour() -> None:
    _, _, client, _ = a_client()

    claims = token_claims(client, ["inventory.read"], 1_000, TokenPolicy("iss", "aud", lifetime=7200))

    assert claims["company"] == TENANT
    assert claims["client_id"] == claims["sub"] == client.client_id
    assert claims["scope"] == "inventory.read"
    assert (claims["iss"], claims["aud"], claims["iat"]) == ("iss", "aud", 1_000)
    assert claims["exp"] - claims["iat"] == MAX_TOKEN_SECONDS
    identity = identity_from_claims(claims)
    assert (identity.tenant_id, identity.client_id, identity.scopes) == (
        TENANT,
        client.client_id,
        frozenset({"inventory.read"}),
    )


def test_given_claims_of_the_wrong_shape_then_the_token_is_invalid() -> None:
    _, _, client, _ = a_client()
    claims = token_claims(client, ["inventory.read"], 1_000, POLICY)

    for broken in (
        {**claims, "company": "3f1c9a2e-0000-4c6f-9e0a-1b2c3d4e5f60"},  # the client is another company's
        {**claims, "exp": claims["iat"] + MAX_TOKEN_SECONDS + 1},
        {k: v for k, v in claims.items() if k != "scope"},
        {**claims, "client_id": 7},
    ):
        with pytest.raises(InvalidToken):
            identity_from_claims(broken)
    # Unknown scope strings grant nothing
    assert identity_from_claims({**claims, "scope": "inventory.read root"}).scopes == {"inventory.read"}


# -- signing (http/tokens.py) -----------------------------------------------------------------


def fresh_claims(**changes: object) -> dict[str, object]:
    _, _, client, _ = a_client()
    return {**token_claims(client, ["inventory.read"], int(time.time()), POLICY), **changes}


def test_given_a_signed_token_then_it_verifies_and_names_its_kid(keys: None) -> None:
    from chalicelib.http import tokens

    claims = fresh_claims()
    token = tokens.sign(claims)

    assert jwt.get_unverified_header(token)["kid"] == "k1"
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert tokens.verify(token) == claims


def test_given_an_expired_token_then_it_is_invalid(keys: None) -> None:
    from chalicelib.http import tokens

    now = int(time.time())
    token = tokens.sign(fresh_claims(iat=now - 3700, exp=now - 100))

    with pytest.raises(InvalidToken, match="expired"):
        tokens.verify(token)


def test_given_a_tampered_token_then_it_is_invalid(keys: None) -> None:
    from chalicelib.http import tokens

    header, payload, signature = tokens.sign(fresh_claims()).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scope"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")

    with pytest.raises(InvalidToken, match="signature"):
        tokens.verify(f"{header}.{forged}.{signature}")
    with pytest.raises(InvalidToken):
        tokens.verify("not.a.token")
    # alg "none" (no signature) is never accepted, whatever the kid
    unsigned = jwt.encode(fresh_claims(), None, algorithm="none", headers={"kid": "k1"})
    with pytest.raises(InvalidToken):
        tokens.verify(unsigned)


def test_given_another_audience_or_issuer_then_the_token_is_invalid(keys: None) -> None:
    from chalicelib.http import tokens

    with pytest.raises(InvalidToken, match="audience"):
        tokens.verify(tokens.sign(fresh_claims(aud="another-api")))
    with pytest.raises(InvalidToken, match="issuer"):
        tokens.verify(tokens.sign(fresh_claims(iss="someone")))


def test_given_a_key_rotation_then_older_tokens_verify_while_their_kid_is_listed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from chalicelib.http import tokens

    try:
        # Given a token signed under k1
        use_keys(monkeypatch, "k1", k1=KEY_A)
        old = tokens.sign(fresh_claims())

        # When k2 becomes current, k1 still listed
        use_keys(monkeypatch, "k2", k1=KEY_A, k2=KEY_B)
        new = tokens.sign(fresh_claims())

        # Then both verify, each under its own kid
        assert jwt.get_unverified_header(new)["kid"] == "k2"
        tokens.verify(old)
        tokens.verify(new)

        # And once k1 is dropped, its tokens are refused as unknown
        use_keys(monkeypatch, "k2", k2=KEY_B)
        with pytest.raises(InvalidToken, match="unknown signing key"):
            tokens.verify(old)
        tokens.verify(new)
        # And a token naming k2 but signed with k1's secret fails its signature
        forged = jwt.encode(fresh_claims(), KEY_A, algorithm="HS256", headers={"kid": "k2"})
        with pytest.raises(InvalidToken, match="signature"):
            tokens.verify(forged)
    finally:
        reset_settings()


def test_given_signing_keys_settings_then_bad_ones_are_refused_naming_the_problem() -> None:
    assert parse_signing_keys(json.dumps({"current": "k1", "k1": KEY_A})) == ("k1", {"k1": KEY_A})
    for text, problem in (
        ("nope", "not JSON"),
        (json.dumps({"k1": KEY_A}), "current"),
        (json.dumps({"current": "k2", "k1": KEY_A}), "not listed"),
        (json.dumps({"current": "k1", "k1": "short"}), "shorter than 32"),
        (json.dumps({"current": "k1", "k1": 5}), "string secret"),
    ):
        with pytest.raises(ValueError, match=problem):
            parse_signing_keys(text)


# -- the service: rate limit and revocation ----------------------------------------------------------


def test_given_a_client_over_its_rate_then_rate_limited_until_the_next_minute() -> None:
    store = InMemoryClientStore()
    clock = Clock(1_000_040.0)  # 20 s into a minute (1,000,020 is a whole minute)
    service = ClientService(store, rate_limit=2, clock=clock)
    client, _ = service.create_client(TENANT, "sync", ["inventory.read"], SYSTEM, None)

    service.check_rate(client.client_id)
    service.check_rate(client.client_id)
    with pytest.raises(RateLimited) as limited:
        service.check_rate(client.client_id)
    assert limited.value.retry_after == 40

    clock.now += 40  # the next window
    service.check_rate(client.client_id)


def test_given_a_revoked_client_then_other_containers_refuse_its_tokens_within_a_minute() -> None:
    # Given two containers' services over one store, both having seen the client active
    store = InMemoryClientStore()
    here_clock, there_clock = Clock(0.0), Clock(0.0)
    here = ClientService(store, rate_limit=10, monotonic=here_clock)
    there = ClientService(store, rate_limit=10, monotonic=there_clock)
    client, _ = here.create_client(TENANT, "sync", ["inventory.read"], SYSTEM, None)
    identity = identity_from_claims(token_claims(client, ["inventory.read"], 0, POLICY))
    assert here.principal(identity).permissions == {"inventory.read"}
    assert there.principal(identity).credential == "token"
    reads = store.reads

    # When one of them revokes it
    here.revoke_client(TENANT, client.client_id, SYSTEM)

    # Then the revoking container refuses at once
    with pytest.raises(InvalidToken):
        here.principal(identity)
    # And the other trusts its read for less than a minute, without reading again, then refuses
    there_clock.now = CLIENT_CACHE_SECONDS - 1
    there.principal(identity)
    assert store.reads == reads + 1  # only the revoking container's re-read
    there_clock.now = CLIENT_CACHE_SECONDS
    with pytest.raises(InvalidToken):
        there.principal(identity)


def test_given_the_principal_of_a_token_then_it_names_the_client_as_actor() -> None:
    service, _, client, _ = a_client(["inventory.read", "products.read"])
    identity = identity_from_claims(token_claims(client, ["products.read"], 0, POLICY))

    principal = service.principal(identity)

    assert principal.tenant_id == TENANT
    assert principal.key_id == client.client_id
    assert principal.actor == Actor(id=f"client:{client.client_id}", name="sync")
    assert principal.permissions == {"products.read"}


def test_given_a_token_claiming_more_than_its_client_holds_then_only_the_clients_scopes_count() -> None:
    service, _, client, _ = a_client(["inventory.read"])
    claims = token_claims(client, ["inventory.read"], 0, POLICY)

    principal = service.principal(identity_from_claims({**claims, "scope": "inventory.read admin"}))

    assert principal.permissions == {"inventory.read"}
