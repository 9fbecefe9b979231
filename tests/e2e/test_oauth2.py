"""OAuth2 client credentials over HTTP against the local stack: `make tenant`'s client gets a
token from /oauth2/token and calls the company (000) and maker (002) surfaces with it."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
import requests

if TYPE_CHECKING:
    from tests.e2e.conftest import Api, CreatedTenant, Stack

    MakeTenant = Callable[..., CreatedTenant]

pytestmark = pytest.mark.e2e


def token_for(base_url: str, tenant: CreatedTenant, scope: str | None = None, basic: bool = False) -> requests.Response:
    form = {"grant_type": "client_credentials"}
    auth = None
    if basic:
        auth = (tenant.client_id, tenant.client_secret)
    else:
        form.update(client_id=tenant.client_id, client_secret=tenant.client_secret)
    if scope is not None:
        form["scope"] = scope
    return requests.post(f"{base_url}/oauth2/token", data=form, auth=auth, timeout=15)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_given_make_tenants_client_when_it_gets_a_token_then_it_calls_the_company_and_maker_surfaces(
    api: Api, make_tenant: MakeTenant
) -> None:
    # Given the client `make tenant` printed
    tenant = make_tenant("OAuth Ltd", "*")
    assert tenant.client_id.startswith("sc_") and tenant.client_secret

    # When it asks for a token (HTTP Basic, as most OAuth2 clients do)
    response = token_for(api.base_url, tenant, basic=True)

    # Then
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer" and 0 < body["expires_in"] <= 3600
    token = body["access_token"]
    inventory = requests.get(
        f"{api.base_url}/companies/{tenant.company_id}/inventory", headers=bearer(token), timeout=15
    )
    assert inventory.status_code == 200, inventory.text
    locations = requests.get(f"{api.base_url}/api/locations", headers=bearer(token), timeout=15)
    assert locations.status_code == 200, locations.text
    assert [loc["name"] for loc in locations.json()["data"] if loc["isDefault"]] == ["Default"]


def test_given_a_narrow_token_then_a_write_is_403_with_insufficient_scope(api: Api, make_tenant: MakeTenant) -> None:
    tenant = make_tenant("Narrow OAuth Ltd", "*")
    token = token_for(api.base_url, tenant, scope="products.read").json()["access_token"]

    response = requests.post(f"{api.base_url}/api/locations", json={"name": "Shed"}, headers=bearer(token), timeout=15)

    assert response.status_code == 403, response.text
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="insufficient_scope"')


def test_given_expired_or_tampered_tokens_then_401_with_www_authenticate(
    stack_aws: Stack, make_tenant: MakeTenant
) -> None:
    from chalicelib.http import tokens

    tenant = make_tenant("Expired OAuth Ltd", "*")
    token = token_for(stack_aws.base_url, tenant).json()["access_token"]
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    now = int(time.time())
    # Signed with the stack's key (this process reads the same settings), but expired.
    expired = tokens.sign({**claims, "iat": now - 7200, "exp": now - 3600})
    forged_claims = {**claims, "company": stack_aws.company_id}
    forged = base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).decode().rstrip("=")
    tampered = f"{header}.{forged}.{signature}"

    for bad in (expired, tampered):
        response = requests.get(
            f"{stack_aws.base_url}/companies/{tenant.company_id}/inventory", headers=bearer(bad), timeout=15
        )
        assert response.status_code == 401, response.text
        assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
        assert response.json()["code"] == "INVALID_TOKEN"


def test_given_a_revoked_client_then_its_token_is_refused(api: Api, make_tenant: MakeTenant) -> None:
    tenant = make_tenant("Revoked OAuth Ltd", "*")
    token = token_for(api.base_url, tenant).json()["access_token"]
    me = requests.get(f"{api.base_url}/whoami", headers=bearer(token), timeout=15)
    assert me.status_code == 200 and me.json()["keyId"] == tenant.client_id

    revoked = requests.delete(
        f"{api.base_url}/oauth2/clients/{tenant.client_id}", headers=bearer(tenant.api_key), timeout=15
    )

    assert revoked.status_code == 200, revoked.text
    # The stack is one process: the container that revoked refuses at once.
    assert requests.get(f"{api.base_url}/whoami", headers=bearer(token), timeout=15).status_code == 401
    again = token_for(api.base_url, tenant)
    assert again.status_code == 401 and again.json()["error"] == "invalid_client"
