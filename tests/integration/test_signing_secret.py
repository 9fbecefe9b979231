"""The signing secret: the plain setting locally, Secrets Manager (cached) when a secret is named."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chalicelib.http import pagination
from chalicelib.settings import get_settings, reset_settings
from chalicelib.storage import secrets
from chalicelib.storage.aws import client, on_call

SCOPE = "GET /things"


@pytest.fixture
def secret_calls(aws: None) -> Iterator[list[str]]:
    calls: list[str] = []
    unsubscribe = on_call(lambda service, operation: calls.append(operation) if operation == "GetSecretValue" else None)
    yield calls
    unsubscribe()


@pytest.fixture
def named_secret(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    arn: str = client("secretsmanager").create_secret(Name="stack/signing-secret", SecretString="from-the-vault")["ARN"]
    monkeypatch.setenv("STOCKROOM_SIGNING_SECRET_ID", arn)
    monkeypatch.setenv("STOCKROOM_SIGNING_SECRET", "a-plain-value-that-must-not-be-used")
    reset_settings()
    yield arn
    monkeypatch.undo()
    reset_settings()


def test_without_a_named_secret_the_plain_setting_signs(aws: None, secret_calls: list[str]) -> None:
    assert get_settings().signing_secret == "local-development-secret-change-me"
    token = pagination.encode_token("t1", {"k": "v"}, scope=SCOPE)
    assert pagination.decode_token("t1", token, scope=SCOPE) == {"k": "v"}
    assert secret_calls == []


def test_a_named_secret_is_read_from_secrets_manager_once_and_cached(
    named_secret: str, secret_calls: list[str]
) -> None:
    assert get_settings().signing_secret == "from-the-vault"
    token = pagination.encode_token("t1", {"k": "v"}, scope=SCOPE)
    for _ in range(5):
        assert pagination.decode_token("t1", token, scope=SCOPE) == {"k": "v"}
    assert secret_calls == ["GetSecretValue"]


def test_a_token_signed_with_the_plain_setting_is_refused_once_the_secret_is_named(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    reset_settings()
    local_token = pagination.encode_token("t1", {"k": "v"}, scope=SCOPE)
    arn = client("secretsmanager").create_secret(Name="other/signing", SecretString="another-secret")["ARN"]
    monkeypatch.setenv("STOCKROOM_SIGNING_SECRET_ID", arn)
    reset_settings()
    try:
        with pytest.raises(Exception, match="invalid"):
            pagination.decode_token("t1", local_token, scope=SCOPE)
    finally:
        monkeypatch.undo()
        reset_settings()


def test_a_cached_secret_is_fetched_again_after_its_max_age(named_secret: str, secret_calls: list[str]) -> None:
    assert secrets.secret_string(named_secret, max_age=0) == "from-the-vault"
    client("secretsmanager").put_secret_value(SecretId=named_secret, SecretString="rotated")
    assert secrets.secret_string(named_secret, max_age=0) == "rotated"
    assert secret_calls == ["GetSecretValue", "GetSecretValue"]


def test_a_secret_without_a_string_is_an_error(aws: None) -> None:
    arn = client("secretsmanager").create_secret(Name="binary", SecretBinary=b"\x00\x01")["ARN"]
    with pytest.raises(secrets.SecretUnreadable):
        secrets.secret_string(arn)


# -- the OAuth2 signing keys' own secret (STOCKROOM_OAUTH_KEYS_SECRET_ID, infra OAuthSigningKeysSecret) --------


def claims() -> dict[str, object]:
    import time

    now = int(time.time())
    settings = get_settings()
    audience, issuer = settings.oauth_audience, settings.oauth_issuer
    return {"sub": "client-1", "iss": issuer, "aud": audience, "iat": now, "exp": now + 60}


def test_oauth_tokens_are_signed_with_the_keys_secrets_current_kid_cached_and_a_rotation_keeps_old_tokens(
    aws: None, monkeypatch: pytest.MonkeyPatch, secret_calls: list[str]
) -> None:
    import json

    import jwt

    from chalicelib.http import tokens

    first = {"current": "k1", "k1": "a" * 64}
    arn = client("secretsmanager").create_secret(Name="stack/oauth-signing-keys", SecretString=json.dumps(first))["ARN"]
    monkeypatch.setenv("STOCKROOM_OAUTH_KEYS_SECRET_ID", arn)
    reset_settings()
    try:
        old = tokens.sign(claims())
        assert jwt.get_unverified_header(old)["kid"] == "k1"
        for _ in range(3):
            assert tokens.verify(old)["sub"] == "client-1"
        assert secret_calls == ["GetSecretValue"]  # read at run time once, then cached (Powertools parameters)

        # Rotation: a new kid becomes current, the old one stays listed until its tokens have expired.
        rotated = {"current": "k2", "k1": "a" * 64, "k2": "b" * 64}
        client("secretsmanager").put_secret_value(SecretId=arn, SecretString=json.dumps(rotated))
        secrets._providers.clear()  # the cache expiring after MAX_AGE_SECONDS (or a cold start)
        new = tokens.sign(claims())
        assert jwt.get_unverified_header(new)["kid"] == "k2"
        assert tokens.verify(old)["sub"] == tokens.verify(new)["sub"] == "client-1"
    finally:
        monkeypatch.undo()
        reset_settings()
