"""OAuth2 client credentials through the app on moto: clients, the token route, and
Bearer tokens on the company (000) and maker (002) surfaces."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
from chalice.test import Client

from chalicelib import wiring
from chalicelib.settings import get_settings, reset_settings
from chalicelib.storage.dynamo import ddb
from tests.integration.company import Company, make_company

pytestmark = pytest.mark.shared_aws

FORM = "application/x-www-form-urlencoded"
ALL_COMPANY = ("admin", "inventory.read", "inventory.write", "products.read")


def new_client(company: Company, scopes: list[str], name: str = "sync", key: str | None = None) -> dict[str, Any]:
    response = company.http.http.post(
        "/oauth2/clients",
        headers={"X-API-Key": key or company.key, "Content-Type": "application/json"},
        body=json.dumps({"name": name, "scopes": scopes}).encode(),
    )
    assert response.status_code == 201, response.body
    found: dict[str, Any] = json.loads(response.body)
    return found


def token_request(http: Client, fields: dict[str, str], headers: dict[str, str] | None = None) -> Any:
    return http.http.post(
        "/oauth2/token", headers={"Content-Type": FORM, **(headers or {})}, body=urlencode(fields).encode()
    )


def get_token(http: Client, client: dict[str, Any], scope: str | None = None) -> str:
    fields = {
        "grant_type": "client_credentials",
        "client_id": client["clientId"],
        "client_secret": client["clientSecret"],
    }
    if scope is not None:
        fields["scope"] = scope
    response = token_request(http, fields)
    assert response.status_code == 200, response.body
    return str(json.loads(response.body)["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


@pytest.fixture
def acme(http: Client) -> Company:
    return make_company(http, "Acme", ALL_COMPANY)


@pytest.fixture
def other(http: Client) -> Company:
    return make_company(http, "Other", ALL_COMPANY)


def test_given_a_client_when_it_asks_for_a_token_then_it_gets_a_signed_jwt_of_its_company(
    http: Client, acme: Company
) -> None:
    # Given
    client = new_client(acme, ["inventory.read", "inventory.write"])
    assert client["clientId"].startswith("sc_") and client["clientSecret"]

    # When: credentials in the form
    fields = {
        "grant_type": "client_credentials",
        "client_id": client["clientId"],
        "client_secret": client["clientSecret"],
    }
    response = token_request(http, fields)

    # Then
    assert response.status_code == 200, response.body
    assert response.headers["Cache-Control"] == "no-store"
    body = json.loads(response.body)
    assert body["token_type"] == "Bearer"
    assert 0 < body["expires_in"] <= 3600
    assert body["scope"] == "inventory.read inventory.write"
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "HS256" and header["kid"] == "default"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["company"] == acme.id
    assert claims["client_id"] == client["clientId"]
    assert claims["aud"] == get_settings().oauth_audience and claims["iss"] == get_settings().oauth_issuer
    assert claims["exp"] - claims["iat"] <= 3600


def test_given_http_basic_credentials_and_a_narrower_scope_then_the_token_holds_that_scope(
    http: Client, acme: Company
) -> None:
    client = new_client(acme, ["inventory.read", "inventory.write"])
    basic = base64.b64encode(f"{client['clientId']}:{client['clientSecret']}".encode()).decode()

    response = token_request(
        http, {"grant_type": "client_credentials", "scope": "inventory.read"}, {"Authorization": f"Basic {basic}"}
    )

    assert response.status_code == 200, response.body
    assert json.loads(response.body)["scope"] == "inventory.read"


def test_given_a_token_then_it_works_on_a_company_route_and_a_maker_route(http: Client, acme: Company) -> None:
    # Given
    token = get_token(http, new_client(acme, ["inventory.read", "products.read"]))

    # When / Then: 000
    company = http.http.get(f"/companies/{acme.id}/inventory", headers=bearer(token))
    assert company.status_code == 200, company.body
    # And 002
    maker = http.http.get("/api/locations", headers=bearer(token))
    assert maker.status_code == 200, maker.body
    assert any(loc["isDefault"] for loc in json.loads(maker.body)["data"])
    # And the caller is the client
    who = json.loads(http.http.get("/whoami", headers=bearer(token)).body)
    assert who["companyId"] == acme.id and who["permissions"] == ["inventory.read", "products.read"]


def test_given_a_token_without_the_scope_then_403_with_insufficient_scope(http: Client, acme: Company) -> None:
    # Given a client that may write, and a token that asked for reading only
    token = get_token(http, new_client(acme, ["inventory.read", "inventory.write"]), scope="inventory.read")

    # When
    response = http.http.post(
        f"/companies/{acme.id}/inventory", headers=bearer(token), body=json.dumps([{"productName": "x"}]).encode()
    )

    # Then
    assert response.status_code == 403, response.body
    assert json.loads(response.body)["details"] == [{"field": "permissions", "message": "requires inventory.write"}]
    assert response.headers["WWW-Authenticate"] == 'Bearer error="insufficient_scope", scope="inventory.write"'


def test_given_a_revoked_client_then_its_tokens_and_its_secret_stop_working(http: Client, acme: Company) -> None:
    # Given
    client = new_client(acme, ["inventory.read"])
    token = get_token(http, client)
    assert http.http.get(f"/companies/{acme.id}/inventory", headers=bearer(token)).status_code == 200

    # When
    revoked = http.http.delete(f"/oauth2/clients/{client['clientId']}", headers={"X-API-Key": acme.key})

    # Then
    assert revoked.status_code == 200, revoked.body
    assert json.loads(revoked.body)["revoked"] is True
    refused = http.http.get(f"/companies/{acme.id}/inventory", headers=bearer(token))
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert json.loads(refused.body)["code"] == "INVALID_TOKEN"
    again = token_request(
        http,
        {"grant_type": "client_credentials", "client_id": client["clientId"], "client_secret": client["clientSecret"]},
    )
    assert again.status_code == 401
    assert json.loads(again.body)["error"] == "invalid_client"


def test_given_clients_then_the_list_shows_them_without_secrets_and_the_table_holds_only_a_hash(
    http: Client, acme: Company
) -> None:
    client = new_client(acme, ["inventory.read"], name="reader")

    listed = json.loads(http.http.get("/oauth2/clients", headers={"X-API-Key": acme.key}).body)["data"]

    assert [c["clientId"] for c in listed] == [client["clientId"]]
    assert "clientSecret" not in listed[0]
    table = get_settings().main_table
    items = ddb().query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"T#{acme.id}#OAUTHCLIENT"}},
    )["Items"]
    assert len(items) == 1
    assert client["clientSecret"] not in json.dumps(items)
    assert items[0]["secret_hash"]["S"].startswith("scrypt$")


def test_given_a_key_creating_a_client_then_it_cannot_grant_beyond_its_own_permissions(
    http: Client, acme: Company
) -> None:
    # Given an admin key that may only read
    _, narrow = wiring.tenant_service().issue_key(acme.id, "narrow", ["admin", "inventory.read"], _system())

    # When it asks for a client that may write
    response = http.http.post(
        "/oauth2/clients",
        headers={"X-API-Key": narrow, "Content-Type": "application/json"},
        body=json.dumps({"name": "too much", "scopes": ["inventory.read", "inventory.write"]}).encode(),
    )

    # Then
    assert response.status_code == 403, response.body
    assert json.loads(response.body)["details"][0]["field"] == "scopes"
    # And a token with admin cannot either
    token = get_token(http, new_client(acme, ["admin", "inventory.read"]))
    by_token = http.http.post(
        "/oauth2/clients",
        headers=bearer(token),
        body=json.dumps({"name": "too much", "scopes": ["inventory.write"]}).encode(),
    )
    assert by_token.status_code == 403, by_token.body


def test_given_an_idempotency_key_then_a_replayed_client_creation_hides_the_secret(http: Client, acme: Company) -> None:
    headers = {"X-API-Key": acme.key, "Content-Type": "application/json", "Idempotency-Key": "client-1"}
    body = json.dumps({"name": "once", "scopes": ["inventory.read"]}).encode()

    first = http.http.post("/oauth2/clients", headers=headers, body=body)
    second = http.http.post("/oauth2/clients", headers=headers, body=body)

    assert first.status_code == second.status_code == 201
    assert json.loads(first.body)["clientSecret"]
    assert json.loads(second.body)["clientSecret"] is None
    assert json.loads(second.body)["clientId"] == json.loads(first.body)["clientId"]
    assert second.headers["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize(
    ("fields", "status", "error"),
    [
        ({}, 400, "invalid_request"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"grant_type": "client_credentials"}, 401, "invalid_client"),
        ({"grant_type": "client_credentials", "client_id": "CLIENT", "client_secret": "wrong"}, 401, "invalid_client"),
        ({"grant_type": "client_credentials", "client_id": "sc_nope_x", "client_secret": "s"}, 401, "invalid_client"),
        (
            {"grant_type": "client_credentials", "client_id": "CLIENT", "client_secret": "SECRET", "scope": "admin"},
            400,
            "invalid_scope",
        ),
    ],
)
def test_given_a_bad_token_request_then_an_rfc_6749_error_body(
    http: Client, acme: Company, fields: dict[str, str], status: int, error: str
) -> None:
    client = new_client(acme, ["inventory.read"])
    fields = {
        k: v.replace("CLIENT", client["clientId"]).replace("SECRET", client["clientSecret"]) for k, v in fields.items()
    }

    response = token_request(http, fields)

    assert response.status_code == status, response.body
    body = json.loads(response.body)
    assert set(body) == {"error", "error_description"}
    assert body["error"] == error
    assert response.headers["Cache-Control"] == "no-store"


def test_given_credentials_both_in_basic_and_in_the_form_or_a_field_twice_then_invalid_request(
    http: Client, acme: Company
) -> None:
    client = new_client(acme, ["inventory.read"])
    basic = base64.b64encode(f"{client['clientId']}:{client['clientSecret']}".encode()).decode()
    both = token_request(
        http,
        {"grant_type": "client_credentials", "client_id": client["clientId"]},
        {"Authorization": f"Basic {basic}"},
    )
    twice = http.http.post(
        "/oauth2/token",
        headers={"Content-Type": FORM},
        body=b"grant_type=client_credentials&grant_type=client_credentials",
    )
    for response in (both, twice):
        assert response.status_code == 400, response.body
        assert json.loads(response.body)["error"] == "invalid_request"
    # And a wrong secret in Basic gets the Basic challenge back
    wrong = base64.b64encode(f"{client['clientId']}:nope".encode()).decode()
    refused = token_request(http, {"grant_type": "client_credentials"}, {"Authorization": f"Basic {wrong}"})
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == 'Basic realm="stockroom"'


@pytest.fixture
def two_per_minute(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("STOCKROOM_OAUTH_TOKEN_RATE", "2")
    reset_settings()
    wiring.reset()
    yield
    monkeypatch.delenv("STOCKROOM_OAUTH_TOKEN_RATE")
    reset_settings()
    wiring.reset()


def test_given_a_client_over_its_rate_then_429_with_retry_after(
    http: Client, acme: Company, other: Company, two_per_minute: None
) -> None:
    # Given a limit of 2 token requests per client per minute
    client = new_client(acme, ["inventory.read"])
    fields = {
        "grant_type": "client_credentials",
        "client_id": client["clientId"],
        "client_secret": client["clientSecret"],
    }
    # Start at the beginning of a minute, so the two requests fall in one window.
    if time.time() % 60 > 55:
        time.sleep(60 - time.time() % 60 + 0.1)

    # When
    answers = [token_request(http, fields) for _ in range(3)]

    # Then
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert json.loads(answers[2].body)["error"] == "too_many_requests"
    assert 1 <= int(answers[2].headers["Retry-After"]) <= 60
    # And another client has its own budget
    theirs = new_client(other, ["inventory.read"])
    assert get_token(http, theirs)


def test_given_another_companys_client_then_it_cannot_touch_this_company(
    http: Client, acme: Company, other: Company
) -> None:
    # Given a client of Other that holds everything Other holds
    mine = new_client(acme, ["inventory.read"])
    token = get_token(http, new_client(other, list(ALL_COMPANY)))

    # When / Then: Acme's company routes refuse it
    refused = http.http.get(f"/companies/{acme.id}/inventory", headers=bearer(token))
    assert refused.status_code == 403
    assert json.loads(refused.body)["details"] == [{"field": "companyId", "message": "not the company of this API key"}]
    # And it cannot see or revoke Acme's clients
    listed = json.loads(http.http.get("/oauth2/clients", headers=bearer(token)).body)["data"]
    assert mine["clientId"] not in [c["clientId"] for c in listed]
    revoke = http.http.delete(f"/oauth2/clients/{mine['clientId']}", headers=bearer(token))
    assert revoke.status_code == 404
    # And the maker surface shows it Other's data, not Acme's
    who = json.loads(http.http.get("/whoami", headers=bearer(token)).body)
    assert who["companyId"] == other.id


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scope"] = "admin inventory.read inventory.write"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{header}.{forged}.{signature}"


def test_given_expired_tampered_or_foreign_tokens_then_401_invalid_token(http: Client, acme: Company) -> None:
    from chalicelib.http import tokens

    client = new_client(acme, ["inventory.read"])
    token = get_token(http, client)
    claims = jwt.decode(token, options={"verify_signature": False})
    now = int(time.time())
    expired = tokens.sign({**claims, "iat": now - 7200, "exp": now - 3600})
    foreign = tokens.sign({**claims, "aud": "someone-else"})
    unknown_kid = jwt.encode(claims, "x" * 40, algorithm="HS256", headers={"kid": "gone"})
    unsigned = jwt.encode(claims, None, algorithm="none")

    for bad in (expired, _tampered(token), foreign, unknown_kid, unsigned):
        response = http.http.get(f"/companies/{acme.id}/inventory", headers=bearer(bad))
        assert response.status_code == 401, response.body
        assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
        body = json.loads(response.body)
        assert set(body) == {"error", "code", "details"} and body["code"] == "INVALID_TOKEN"


def _system() -> Any:
    from chalicelib.core.models import SYSTEM

    return SYSTEM


def test_given_openapi_then_the_token_route_its_form_and_the_oauth2_and_bearer_schemes_are_described(
    http: Client,
) -> None:
    document = json.loads(http.http.get("/openapi.json").body)

    schemes = document["components"]["securitySchemes"]
    flow = schemes["oauth2"]["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "/oauth2/token"
    assert {"inventory.read", "admin"} <= set(flow["scopes"])
    assert (schemes["bearerToken"]["scheme"], schemes["bearerToken"]["bearerFormat"]) == ("bearer", "JWT")
    token = document["paths"]["/oauth2/token"]["post"]
    form = token["requestBody"]["content"][FORM]
    reference = form["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(document["components"]["schemas"][reference]["properties"]) == {
        "grant_type",
        "client_id",
        "client_secret",
        "scope",
    }
    assert form["example"]["grant_type"] == "client_credentials"
    assert token["security"] == [{"clientBasic": []}, {}]
    assert {"200", "400", "401", "429"} <= set(token["responses"])
    # And a protected route names its permissions as OAuth2 scopes
    inventory = document["paths"]["/companies/{companyId}/inventory"]["get"]
    assert {"oauth2": ["inventory.read"]} in inventory["security"]
    assert {"bearerToken": []} in inventory["security"]
    routes = (("/oauth2/clients", "post"), ("/oauth2/clients", "get"), ("/oauth2/clients/{clientId}", "delete"))
    for path, method in routes:
        operation = document["paths"][path][method]
        assert operation["x-permissions"] == ["admin"]
        assert operation["responses"][next(iter(operation["responses"]))]["content"]["application/json"]["example"]
