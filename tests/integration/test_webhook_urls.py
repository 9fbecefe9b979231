"""SSRF: with the production setting (no loopback), webhook URLs on private hosts are refused with a 400."""

from __future__ import annotations

import json

import pytest
from chalice.test import Client

from tests.integration.company import make_company


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.0.0.8/hook",
        "https://192.168.0.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[fe80::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://[fd00::1]/hook",
        "https://0.0.0.0/hook",
        "https://user:pass@8.8.8.8/hook",
    ],
)
def test_webhook_urls_that_reach_inside_are_refused(http: Client, url: str) -> None:
    company = make_company(http, "Acme", ("admin",))
    response = http.http.request(
        "POST",
        "/webhooks",
        headers={"X-API-Key": company.key, "Content-Type": "application/json"},
        body=json.dumps({"url": url, "events": ["stock.changed"]}).encode(),
    )
    assert response.status_code == 400, response.body
    assert json.loads(response.body)["details"][0]["field"] == "url"
