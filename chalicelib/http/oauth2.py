"""OAuth2 client credentials (RFC 6749 4.4): the token route and a company's client administration.

`POST /oauth2/token` is public (the client authenticates with its own id and
secret, in HTTP Basic or in the form) and answers RFC 6749 bodies, never the
service's error shape: `{"error": "invalid_request" | "invalid_client" |
"unsupported_grant_type" | "invalid_scope", "error_description"}`. Token
requests are counted per client per minute; beyond the limit, a 429 with
`Retry-After`. Every answer carries `Cache-Control: no-store` (RFC 6749 5.1).
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, unquote_plus

from chalice import Blueprint
from pydantic import AfterValidator, Field

from chalicelib.core.bodies import Body
from chalicelib.core.models import Model
from chalicelib.core.tenancy.clients import (
    MAX_TOKEN_SECONDS,
    InvalidClient,
    InvalidScope,
    OAuthClient,
    RateLimited,
    TokenPolicy,
)
from chalicelib.core.tenancy.permissions import Permission, known_permissions
from chalicelib.http import tokens
from chalicelib.http.openapi import CLIENT_BASIC_SCHEME
from chalicelib.http.routing import Call, Reply, endpoint
from chalicelib.settings import get_settings
from chalicelib.wiring import client_service

oauth2 = Blueprint(__name__)
TAG = "OAuth2"
FORM = "application/x-www-form-urlencoded"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
GRANT_TYPE = "client_credentials"
FORM_FIELDS = ("grant_type", "client_id", "client_secret", "scope")


class TokenForm(Model):
    """The token request's form fields (RFC 6749 4.4.2, 2.3.1)."""

    grant_type: Literal["client_credentials"]
    client_id: str | None = Field(None, description="With client_secret, when not sent in HTTP Basic")
    client_secret: str | None = Field(None, description="With client_id, when not sent in HTTP Basic")
    scope: str | None = Field(
        None, description="Space-separated permissions, a subset of the client's; all of them when absent"
    )


class TokenResponse(Model):
    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int = Field(description=f"seconds, at most {MAX_TOKEN_SECONDS}")
    scope: str


class OAuthError(Model):
    """RFC 6749 5.2."""

    error: str
    error_description: str


class NewClient(Body):
    name: str = Field(min_length=1, max_length=100)
    scopes: Annotated[list[str], AfterValidator(known_permissions)] = Field(
        min_length=1, description="Permission strings, at most the calling key's own"
    )


class ClientView(Model):
    clientId: str
    name: str
    scopes: list[str]
    revoked: bool
    createdAt: datetime


class IssuedClient(ClientView):
    clientSecret: str | None = Field(description="Shown once; only a salted scrypt hash is stored.")


class ClientList(Model):
    data: list[ClientView]


def _view(client: OAuthClient) -> ClientView:
    return ClientView(
        clientId=client.client_id,
        name=client.name,
        scopes=client.scopes,
        revoked=client.revoked,
        createdAt=client.created_at,
    )


class _Refusal(Exception):
    def __init__(self, status: int, error: str, description: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(description)
        self.reply = Reply(
            body={"error": error, "error_description": description},
            status=status,
            headers={**NO_STORE, **(headers or {})},
        )


CLIENT_EXAMPLE = "sc_3f1c9a2e8b7d4c6f9e0a1b2c3d4e5f60_9c4b2a7d1e3f5a6b"
TOKEN_EXAMPLE = {
    "access_token": "eyJhbGciOiJIUzI1NiIsImtpZCI6ImRlZmF1bHQiLCJ0eXAiOiJKV1QifQ.eyJpc3MiOiJzdG9ja3Jvb20ifQ.c2ln",
    "token_type": "Bearer",
    "expires_in": 3600,
    "scope": "inventory.read inventory.write",
}
ERRORS = {
    "400": ("invalid_request, unsupported_grant_type or invalid_scope (RFC 6749 5.2)", OAuthError),
    "401": ("invalid_client: unknown client, wrong secret or revoked client", OAuthError),
    "429": ("too_many_requests: the client's token requests this minute are used up; see Retry-After", OAuthError),
}


@endpoint(
    oauth2,
    "/oauth2/token",
    "POST",
    public=True,
    summary="Get an access token (OAuth2 client credentials)",
    tag=TAG,
    content_types=[FORM],
    form=TokenForm,
    response=TokenResponse,
    security_schemes=[CLIENT_BASIC_SCHEME],
    error_responses=ERRORS,
    example={"grant_type": GRANT_TYPE, "client_id": CLIENT_EXAMPLE, "client_secret": "...", "scope": "inventory.read"},
    response_example=TOKEN_EXAMPLE,
    description=(
        "RFC 6749 4.4. Authenticate with HTTP Basic (`client_id:client_secret`) or with `client_id` and "
        "`client_secret` in the form, not both. `scope` (space-separated permissions) narrows the token to a "
        "subset of the client's scopes. The token is a JWT (HS256, `kid` header) valid for at most an hour; "
        "send it as `Authorization: Bearer <token>` to any route, where its scopes are its permissions. "
        "Errors are RFC 6749 bodies. Every request (right or wrong secret) counts against the client's "
        "per-minute limit; beyond it, 429 with `Retry-After`."
    ),
)
def token(call: Call) -> Reply:
    try:
        return _token(call)
    except _Refusal as refusal:
        return refusal.reply


def _token(call: Call) -> Reply:
    form = _form(call.body)
    grant_type = form.get("grant_type")
    if grant_type is None:
        raise _Refusal(400, "invalid_request", "grant_type is required")
    if grant_type != GRANT_TYPE:
        raise _Refusal(400, "unsupported_grant_type", f"only {GRANT_TYPE} is supported")
    basic = _basic(call.request.headers.get("authorization"))
    in_form = form.get("client_id"), form.get("client_secret")
    if basic is not None and any(in_form):
        raise _Refusal(400, "invalid_request", "send the client credentials in HTTP Basic or in the form, not both")
    client_id, secret = basic if basic is not None else in_form
    # RFC 6749 5.2: a client that tried HTTP Basic gets its challenge back with the 401.
    challenge = _BASIC if basic is not None else {}
    if not client_id or not secret:
        raise _Refusal(401, "invalid_client", "client_id and client_secret are required", challenge)
    service = client_service()
    try:
        service.check_rate(client_id)
        client = service.authenticate_client(client_id, secret)
        claims = service.issue(client, form.get("scope"), _policy())
    except InvalidClient:
        raise _Refusal(401, "invalid_client", "client authentication failed", challenge) from None
    except InvalidScope as error:
        raise _Refusal(400, "invalid_scope", error.message) from None
    except RateLimited as error:
        headers = {"Retry-After": str(error.retry_after)}
        raise _Refusal(429, "too_many_requests", error.message, headers) from None
    body = TokenResponse(
        access_token=tokens.sign(claims),
        token_type="Bearer",  # noqa: S106 (the RFC 6750 token type, not a secret)
        expires_in=claims["exp"] - claims["iat"],
        scope=claims["scope"],
    )
    return Reply(body=body, headers=dict(NO_STORE))


def _policy() -> TokenPolicy:
    settings = get_settings()
    return TokenPolicy(
        issuer=settings.oauth_issuer, audience=settings.oauth_audience, lifetime=settings.oauth_token_seconds
    )


def _form(raw: Any) -> dict[str, str]:
    """The form's fields; a field sent twice or a body that is not a form is invalid_request (RFC 6749 3.1)."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _Refusal(400, "invalid_request", "the form is not UTF-8") from None
    else:
        text = str(raw or "")
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text.strip()))
    except ValueError:
        raise _Refusal(400, "invalid_request", "the body is not a form (application/x-www-form-urlencoded)") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            raise _Refusal(400, "invalid_request", f"{name} is sent more than once")
        if name in FORM_FIELDS and value != "":
            fields[name] = value
    return fields


_BASIC = {"WWW-Authenticate": 'Basic realm="stockroom"'}


def _basic(header: str | None) -> tuple[str, str] | None:
    """(client id, secret) from `Authorization: Basic ...` (both form-urlencoded first, RFC 6749 2.3.1)."""
    if header is None:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        raise _Refusal(400, "invalid_request", "the Authorization header of a token request must be Basic")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise _Refusal(401, "invalid_client", "malformed Basic credentials", _BASIC) from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise _Refusal(401, "invalid_client", "malformed Basic credentials", _BASIC)
    return unquote_plus(client_id), unquote_plus(secret)


NEW_CLIENT_EXAMPLE = {"name": "Warehouse sync", "scopes": ["inventory.read", "inventory.write"]}
CLIENT_VIEW_EXAMPLE = {
    "clientId": CLIENT_EXAMPLE,
    "name": "Warehouse sync",
    "scopes": ["inventory.read", "inventory.write"],
    "revoked": False,
    "createdAt": "2026-12-06T09:30:00Z",
}


@endpoint(
    oauth2,
    "/oauth2/clients",
    "POST",
    permissions=[Permission.ADMIN],
    summary="Create an OAuth2 client for this company",
    tag=TAG,
    body=NewClient,
    response=IssuedClient,
    status=201,
    secret_fields=["clientSecret"],
    example=NEW_CLIENT_EXAMPLE,
    response_example={**CLIENT_VIEW_EXAMPLE, "clientSecret": "q1Xv...shown-once...Zk"},
    extension=True,
    description=(
        "The secret is shown once; only a salted scrypt hash of it is stored. A client holds at most the calling "
        "credential's own permissions (403 naming the others). An Idempotency-Key replay returns the client with "
        "`clientSecret` null: revoke it and create another if the first answer was lost."
    ),
)
def create_client(call: Call) -> IssuedClient:
    new: NewClient = call.body
    assert call.principal is not None
    client, secret = client_service().create_client(
        call.tenant_id, new.name, new.scopes, call.actor, call.principal.permissions
    )
    return IssuedClient(**_view(client).model_dump(), clientSecret=secret)


@endpoint(
    oauth2,
    "/oauth2/clients",
    "GET",
    permissions=[Permission.ADMIN],
    summary="List this company's OAuth2 clients (no secrets)",
    tag=TAG,
    response=ClientList,
    response_example={"data": [CLIENT_VIEW_EXAMPLE]},
    extension=True,
)
def list_clients(call: Call) -> ClientList:
    return ClientList(data=[_view(c) for c in client_service().list_clients(call.tenant_id)])


@endpoint(
    oauth2,
    "/oauth2/clients/{clientId}",
    "DELETE",
    permissions=[Permission.ADMIN],
    summary="Revoke an OAuth2 client",
    tag=TAG,
    response=ClientView,
    response_example={**CLIENT_VIEW_EXAMPLE, "revoked": True},
    extension=True,
    description=(
        "The client can get no new token at once, and its tokens stop working within a minute (each container "
        "trusts what it read about a client for at most 60 seconds). Another company's client is a 404."
    ),
)
def revoke_client(call: Call) -> ClientView:
    return _view(client_service().revoke_client(call.tenant_id, call.path["clientId"], call.actor))
