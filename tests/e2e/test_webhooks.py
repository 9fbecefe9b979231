"""Events and webhooks on the local stack: stock written over HTTP reaches a receiver on loopback through
the real stream consumer, the FIFO queue and the sender function, signed, in order, and again after a 500."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest
import requests

from chalicelib.core.events import signing

if TYPE_CHECKING:
    from tests.e2e.conftest import Api, CreatedTenant

pytestmark = pytest.mark.e2e


class Receiver:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                receiver.requests.append({"headers": dict(self.headers), "body": body, "status": status})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(r["body"], parse_float=Decimal) for r in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.server.shutdown()
    found.server.server_close()


def test_stock_changes_reach_a_signed_webhook_in_order_and_a_500_is_retried(
    api: Api, make_tenant: Callable[..., CreatedTenant], receiver: Receiver, eventually: Callable[..., Any]
) -> None:
    tenant = make_tenant("E2E hooks")
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {tenant.api_key}"
    base = api.base_url

    made = session.post(f"{base}/webhooks", json={"url": receiver.url, "events": ["stock.changed"]}, timeout=15)
    assert made.status_code == 201, made.text
    secret = made.json()["secret"]

    # The first delivery fails: it comes back after the backoff (30 s), still ahead of the later ones.
    receiver.statuses = [500]
    created = session.post(
        f"{base}/companies/{tenant.company_id}/inventory",
        json=[{"productName": "Hook bar", "quantity": "5"}],
        timeout=15,
    )
    assert created.status_code == 201, created.text
    item = created.json()[0]
    for quantity in ("7", "4"):
        current = session.get(f"{base}/companies/{tenant.company_id}/inventory/{item['inventoryId']}", timeout=15)
        update = [{"inventoryId": item["inventoryId"], "quantity": quantity, "version": current.json()["version"]}]
        done = session.put(f"{base}/companies/{tenant.company_id}/inventory", json=update, timeout=15)
        assert done.status_code == 200, done.text

    def delivered() -> list[Decimal]:
        ok = [r for r in receiver.requests if r["status"] == 200]
        return [json.loads(r["body"], parse_float=Decimal)["data"]["after"]["onHand"] for r in ok]

    assert eventually(lambda: len(delivered()) >= 3, timeout=60) is True
    # The failed first attempt, then the three changes in the order they happened.
    assert receiver.requests[0]["status"] == 500
    assert delivered() == [5, 7, 4]
    first, retried = receiver.requests[0], receiver.requests[1]
    assert json.loads(first["body"])["id"] == json.loads(retried["body"])["id"]
    for request in receiver.requests:
        header = request["headers"][signing.HEADER]
        assert signing.verify(secret, header, request["body"], now=int(time.time()), tolerance=600)

    hooks = session.get(f"{base}/webhooks", timeout=15).json()["data"]
    deliveries = session.get(f"{base}/webhooks/{hooks[0]['id']}/deliveries", timeout=15).json()
    assert [d["status"] for d in deliveries] == ["delivered"] * 3
    assert [a["statusCode"] for a in deliveries[0]["attempts"]] == [500, 200]

    # The events are listed too, newest last.
    events = session.get(f"{base}/events", params={"type": "stock.changed"}, timeout=15).json()
    assert [e["data"]["after"]["onHand"] for e in events] == [5, 7, 4]
    assert datetime.fromisoformat(events[0]["occurredAt"]) <= datetime.now(UTC)
