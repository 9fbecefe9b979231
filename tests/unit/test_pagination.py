"""Page sizes and tenant-bound, signed continuation tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from decimal import Decimal

import pytest

from chalicelib.http import pagination
from chalicelib.http.errors import HttpError
from chalicelib.settings import reset_settings

pytestmark = pytest.mark.disable_socket

SECRET = "unit-test-secret-0123456789"
TENANT = "6f1c2a9e-1111-4c1e-9d7a-0a0b0c0d0e0f"
OTHER_TENANT = "0d4b7a10-2222-4a55-8e21-bbbbbbbbbbbb"
SCOPE = "GET /companies/{companyId}/inventory"
CURSOR = {"pk": f"T#{TENANT}#PRODUCT", "sk": "p-000123", "gsi1sk": "STOCK#l1#s9", "n": Decimal("12.50")}


@pytest.fixture(autouse=True)
def settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("STOCKROOM_SIGNING_SECRET", SECRET)
    for name in ("STOCKROOM_MAX_PAGE_SIZE", "STOCKROOM_DEFAULT_PAGE_SIZE"):
        monkeypatch.delenv(name, raising=False)
    reset_settings()
    yield
    # The next reader sees the environment monkeypatch restores.
    reset_settings()


def use_secret(monkeypatch: pytest.MonkeyPatch, secret: str) -> None:
    monkeypatch.setenv("STOCKROOM_SIGNING_SECRET", secret)
    reset_settings()


def assert_invalid_token(tenant_id: str, token: str) -> None:
    with pytest.raises(HttpError) as raised:
        pagination.decode_token(tenant_id, token, scope=SCOPE)
    error = raised.value
    assert error.status == 400
    assert error.code == "INVALID_TOKEN"
    assert error.details == [{"field": "nextToken", "message": "continuation token is invalid"}]


def assert_bad_limit(error: HttpError, maximum: int) -> None:
    assert error.status == 400
    assert error.code == "INVALID_LIMIT"
    assert [d["field"] for d in error.details] == ["limit"]
    assert "limit" in error.message
    assert str(maximum) in error.message


def sign(secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), b"page:" + body, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def forged(payload: bytes) -> str:
    """A token correctly signed with the service's secret around an arbitrary payload."""
    body = base64.urlsafe_b64encode(payload).rstrip(b"=")
    return f"{body.decode()}.{sign(SECRET, body)}"


# --- page sizes ---------------------------------------------------------------


def test_given_no_limit_when_sizing_then_the_configured_default_is_used() -> None:
    assert pagination.page_size(None) == 100


def test_given_default_from_environment_when_sizing_then_it_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOCKROOM_DEFAULT_PAGE_SIZE", "25")
    reset_settings()

    assert pagination.page_size(None) == 25


@pytest.mark.parametrize("requested", [1, 2, 999, 1000])
def test_given_limit_within_bounds_when_sizing_then_it_is_kept(requested: int) -> None:
    assert pagination.page_size(requested) == requested


@pytest.mark.parametrize("requested", [0, -1, -100])
def test_given_limit_too_small_when_sizing_then_400_naming_limit(requested: int) -> None:
    with pytest.raises(HttpError) as raised:
        pagination.page_size(requested)
    assert_bad_limit(raised.value, 1000)


@pytest.mark.parametrize("requested", [1001, 5000, 10**9])
def test_given_limit_above_maximum_when_sizing_then_400_naming_limit(requested: int) -> None:
    with pytest.raises(HttpError) as raised:
        pagination.page_size(requested)
    assert_bad_limit(raised.value, 1000)


def test_given_maximum_from_environment_when_limit_exceeds_it_then_400(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOCKROOM_MAX_PAGE_SIZE", "10")
    reset_settings()

    assert pagination.page_size(10) == 10
    with pytest.raises(HttpError) as raised:
        pagination.page_size(11)
    assert_bad_limit(raised.value, 10)


# --- continuation tokens ------------------------------------------------------


def test_given_cursor_when_token_round_trips_then_the_same_cursor_comes_back() -> None:
    # When
    token = pagination.encode_token(TENANT, CURSOR, scope=SCOPE)

    # Then
    assert token is not None
    assert pagination.decode_token(TENANT, token, scope=SCOPE) == CURSOR
    # Safe to put in a query string as is
    assert all(c.isalnum() or c in "-_." for c in token)


def test_given_no_cursor_when_encoding_then_no_token_and_no_token_means_first_page() -> None:
    assert pagination.encode_token(TENANT, None, scope=SCOPE) is None
    assert pagination.decode_token(TENANT, None, scope=SCOPE) is None
    assert pagination.decode_token(TENANT, "", scope=SCOPE) is None


def test_given_token_edited_by_one_character_when_decoded_then_refused_wherever_the_edit_is() -> None:
    # Given
    token = pagination.encode_token(TENANT, CURSOR, scope=SCOPE)
    assert token is not None

    # When any single character is replaced, Then the token is refused
    for index, char in enumerate(token):
        replacement = "A" if char != "A" else "B"
        edited = token[:index] + replacement + token[index + 1 :]
        assert_invalid_token(TENANT, edited)


def test_given_token_with_cursor_pointing_elsewhere_when_decoded_then_refused() -> None:
    # Given a token whose payload was re-encoded to name another partition, signature kept
    token = pagination.encode_token(TENANT, CURSOR, scope=SCOPE)
    assert token is not None
    _, _, signature = token.partition(".")
    payload = f'{{"t":"{TENANT}","c":{{"pk":"T#{OTHER_TENANT}#PRODUCT","sk":"p-1"}}}}'.encode()
    body = base64.urlsafe_b64encode(payload).rstrip(b"=").decode()

    # Then
    assert_invalid_token(TENANT, f"{body}.{signature}")


def test_given_token_of_another_tenant_when_decoded_then_refused() -> None:
    # Given a genuine token, issued to another tenant
    token = pagination.encode_token(OTHER_TENANT, CURSOR, scope=SCOPE)
    assert token is not None

    # Then this tenant cannot use it, while its owner can
    assert_invalid_token(TENANT, token)
    assert pagination.decode_token(OTHER_TENANT, token, scope=SCOPE) == CURSOR


def test_given_token_signed_with_another_secret_when_decoded_then_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a token signed under another secret (another stage, or a rotated secret)
    use_secret(monkeypatch, "some-other-secret")
    token = pagination.encode_token(TENANT, CURSOR, scope=SCOPE)
    assert token is not None
    assert pagination.decode_token(TENANT, token, scope=SCOPE) == CURSOR

    # When the service runs with its own secret
    use_secret(monkeypatch, SECRET)

    # Then
    assert_invalid_token(TENANT, token)


@pytest.mark.parametrize(
    "garbage",
    [
        "garbage",
        ".",
        "..",
        "abc.",
        ".abc",
        "not-base64!!.sig",
        "a.b.c",
        "\u00fc.\u00fc",
        "eyJ0Ijoi.\u00e9\u00e9\u00e9",
        "\x00\x01",
        "x" * 5000,
    ],
)
def test_given_garbage_token_when_decoded_then_refused_with_400(garbage: str) -> None:
    assert_invalid_token(TENANT, garbage)


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"\xff\xfe\x00",
        b"[1, 2]",
        b'"just a string"',
        f'{{"t": "{TENANT}"}}'.encode(),
        f'{{"t": "{TENANT}", "c": "not-a-dict"}}'.encode(),
        f'{{"t": "{TENANT}", "c": [1]}}'.encode(),
        b'{"c": {"pk": "x"}}',
        f'{{"t": "{TENANT}", "c": {{"q": NaN}}}}'.encode(),
    ],
)
def test_given_correctly_signed_token_with_malformed_payload_when_decoded_then_refused(payload: bytes) -> None:
    # A leaked secret aside, this cannot happen; the decoder still answers 400, never 500.
    assert_invalid_token(TENANT, forged(payload))


def test_given_forged_payload_signed_with_the_right_secret_when_decoded_then_accepted() -> None:
    # Guards the tests above: the forging helper signs exactly as the service does.
    payload = f'{{"t": "{TENANT}", "s": "{SCOPE}", "c": {{"pk": "a", "sk": "b"}}}}'.encode()

    assert pagination.decode_token(TENANT, forged(payload), scope=SCOPE) == {"pk": "a", "sk": "b"}


def test_given_token_of_another_list_when_decoded_then_refused_with_400() -> None:
    # A cursor only makes sense in the query that made it: the inventory list's token given to the orders list.
    token = pagination.encode_token(TENANT, CURSOR, scope=SCOPE)

    with pytest.raises(HttpError) as refused:
        pagination.decode_token(TENANT, token, scope="GET /companies/{companyId}/orders")

    assert refused.value.status == 400
    assert refused.value.body()["details"] == [
        {"field": "nextToken", "message": "continuation token belongs to another list"}
    ]
