"""OAuth2 client-credentials access tokens for the e2e tests (issue 14: every v2 REST route and GraphQL
operation is called with a token from `POST /oauth2/token`)."""

from __future__ import annotations

import requests


def client_token(base_url: str, client_id: str, client_secret: str, scope: str | None = None) -> str:
    """A token of `POST /oauth2/token` (grant client_credentials, credentials in the form body)."""
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
    if scope is not None:
        form["scope"] = scope
    response = requests.post(f"{base_url}/oauth2/token", data=form, timeout=15)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and body["access_token"].count(".") == 2, body
    return str(body["access_token"])


def new_client(base_url: str, admin_key: str, name: str, scopes: list[str]) -> tuple[str, str]:
    """(client id, secret) of a client made with `POST /oauth2/clients` by an admin API key."""
    response = requests.post(
        f"{base_url}/oauth2/clients",
        json={"name": name, "scopes": scopes},
        headers={"Authorization": f"Bearer {admin_key}"},
        timeout=15,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return str(body["clientId"]), str(body["clientSecret"])
