"""Events and webhooks end to end in one process: real items, the real stream, moto's FIFO queue, and a
webhook receiver on loopback inside the test.

Stock changes go through the stock service; the main table's stream is read back and handed to the
events handler (which writes the events and queues the deliveries); the webhook queue is drained
into the sender handler the way Lambda would, and the sender POSTs to the receiver. Time for the retry
schedule is the handler's `now`, and "waiting out" a backoff is making the message visible again.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.core.events import signing
from chalicelib.core.models import Actor
from chalicelib.core.stock.service import NewStockRecord
from chalicelib.events import domain
from chalicelib.events import webhooks as sender
from chalicelib.settings import get_settings
from chalicelib.storage.aws import client
from chalicelib.wiring import catalog_service, stock_service
from tests.integration.company import make_company
from tests.integration.test_audit_stream import MainTableStream

ANN = Actor(id="user-ann", name="Ann")


class Receiver:
    """A webhook endpoint on 127.0.0.1: records every request, answers the scripted statuses (then 200)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self.always: int | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status = receiver.always or (receiver.statuses.pop(0) if receiver.statuses else 200)
                self.send_response(status)
                if status in (301, 302, 307):
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(r["body"]) for r in self.requests if r["path"] == "/hook"]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def loopback_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    # The local-stack setting: http and loopback receivers are allowed (before `aws` reads the settings).
    monkeypatch.setenv("STOCKROOM_WEBHOOK_ALLOW_LOOPBACK", "true")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


class Api:
    def __init__(self, http: Client, key: str) -> None:
        self.http, self.key = http, key

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        return self.http.http.request(
            method,
            path,
            headers={"X-API-Key": self.key, "Content-Type": "application/json", **(headers or {})},
            body=json.dumps(body).encode() if body is not None else b"",
        )

    def ok(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        response = self.call(method, path, body)
        assert response.status_code == status, response.body
        return json.loads(response.body) if response.body else None


PERMISSIONS = ("admin", "inventory.read", "inventory.write", "products.read", "products.write")


@pytest.fixture
def company(http: Client) -> tuple[str, Api]:
    made = make_company(http, "Acme", PERMISSIONS)
    return made.id, Api(http, made.key)


def pump(stream: MainTableStream) -> None:
    """Hand every new stream record to the events handler, as Lambda would (one batch)."""
    records = stream.take()
    if records:
        assert domain.handle({"Records": records}, None) == {"batchItemFailures": []}


def queue_url(name: str) -> str:
    url: str = client("sqs").get_queue_url(QueueName=name)["QueueUrl"]
    return url


def drain(now: datetime | None = None, rounds: int = 20) -> list[dict[str, Any]]:
    """Receive from the webhook queue and run the sender until nothing is visible; returns its answers."""
    sqs = client("sqs")
    url = queue_url(get_settings().webhook_queue)
    answers = []
    for _ in range(rounds):
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])
        if not messages:
            break
        records = [
            {"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"], "attributes": {}}
            for m in messages
        ]
        answer = sender.handle({"Records": records}, now=now)
        answers.append(answer)
        failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)]
            sqs.delete_message_batch(QueueUrl=url, Entries=entries)
        if failed:
            break
    return answers


def wait_out_backoff() -> None:
    """Time passes: every message the sender put back with a delay is visible again."""
    # moto keeps in-flight messages in the queue; a receive would not see them, so reset them directly.
    from moto.sqs.models import sqs_backends

    for backend in sqs_backends.values():
        for region in backend.values():
            queue = region.queues.get(get_settings().webhook_queue)
            if queue is not None:
                for message in queue._messages:
                    message.change_visibility(0)


def verified(secret: str, request: dict[str, Any]) -> bool:
    header = request["headers"][signing.HEADER]
    timestamp = int(header.split(",")[0].removeprefix("t="))
    return signing.verify(secret, header, request["body"], now=timestamp)


def new_product(tenant: str, min_level: int | None = None) -> str:
    fields: dict[str, Any] = {"name": "Bolt M8"}
    if min_level is not None:
        fields["min_level"] = Decimal(min_level)
    return catalog_service().create_resource(tenant, "product", fields, ANN).product.product_id


# -- every event type, signed, in order --------------------------------------------------


def test_a_subscriber_gets_each_stock_event_signed_and_in_order(
    company: tuple[str, Api], receiver: Receiver, aws: None
) -> None:
    stream = MainTableStream()
    tenant, api = company
    hook = api.ok("POST", "/webhooks", {"url": receiver.url, "events": ["*"], "description": "erp"}, 201)
    secret = hook["secret"]
    assert secret.startswith("whsec_")
    assert "secret" not in api.ok("GET", f"/webhooks/{hook['id']}")
    product = new_product(tenant, min_level=5)
    service = stock_service()

    record = service.create_record(
        tenant, NewStockRecord(product_id=product, location_id="loc-1", quantity=Decimal(10)), ANN
    )
    service.adjust(tenant, record.stock_id, Decimal(-3), ANN, reason="damaged", reference="R-1")
    reservation = service.reserve(tenant, record.stock_id, Decimal(2), ANN, reference={"orderId": "o-1"})
    service.release(tenant, reservation.reservation_id, ANN)
    hold = service.hold(tenant, record.stock_id, Decimal(1), "quality check", ANN)
    service.release_hold(tenant, hold.hold_id, ANN)
    service.adjust(tenant, record.stock_id, Decimal(-4), ANN, reason="sold")  # available 7 -> 3: below 5
    pump(stream)
    drain()

    got = receiver.events()
    types = [e["type"] for e in got]
    for expected in (
        "stock.changed",
        "reservation.created",
        "reservation.released",
        "hold.created",
        "hold.released",
        "threshold.crossed",
    ):
        assert expected in types, types
    assert all(verified(secret, r) for r in receiver.requests)
    assert not any(verified("whsec_wrong", r) for r in receiver.requests)
    # One product's stock changes arrive in the order they happened.
    stock_changes = [e for e in got if e["type"] == "stock.changed"]
    on_hand_after = [e["data"]["after"]["onHand"] for e in stock_changes]
    assert on_hand_after == [10, 7, 7, 7, 7, 7, 3]
    assert [e["data"]["after"]["available"] for e in stock_changes] == [10, 7, 5, 7, 6, 7, 3]
    damaged = stock_changes[1]["data"]
    assert damaged["movement"]["kind"] == "adjustment"
    assert damaged["movement"]["reason"] == "damaged"
    assert damaged["movement"]["reference"] == "R-1"
    assert damaged["actor"] == {"id": "user-ann", "name": "Ann"}
    assert stock_changes[2]["data"]["movement"] is None  # a reservation moves no stock
    # From nothing to 10 is above the minimum; 7 -> 3 falls below it.
    rising, crossed = [e for e in got if e["type"] == "threshold.crossed"]
    assert (rising["data"]["direction"], rising["data"]["before"], rising["data"]["after"]) == ("above", 0, 10)
    assert crossed["data"]["direction"] == "below"
    assert (crossed["data"]["before"], crossed["data"]["after"], crossed["data"]["minLevel"]) == (7, 3, 5)
    for event in got:
        assert set(event) == {"id", "type", "occurredAt", "companyId", "data"}
        assert event["companyId"] == tenant

    # The same events are listed, newest last, and filtered.
    listed = api.ok("GET", f"/events?productId={product}&type=stock.changed")
    assert [e["id"] for e in listed] == [e["id"] for e in stock_changes]
    everything = api.ok("GET", "/events?limit=3")
    assert len(everything) <= 3

    # A redelivered stream batch writes no new event and sends nothing twice.
    sent = len(receiver.requests)
    stream._taken = 0
    pump(stream)
    drain()
    assert len(receiver.requests) == sent
    assert len(api.ok("GET", f"/events?productId={product}&type=stock.changed")) == len(stock_changes)


def test_a_failing_receiver_is_retried_then_parked_then_resent_by_hand(
    company: tuple[str, Api], receiver: Receiver, aws: None
) -> None:
    stream = MainTableStream()
    tenant, api = company
    hook = api.ok("POST", "/webhooks", {"url": receiver.url, "events": ["stock.changed"]}, 201)
    p1, p2 = new_product(tenant), new_product(tenant)
    service = stock_service()
    first = service.create_record(tenant, NewStockRecord(product_id=p1, location_id="l", quantity=Decimal(1)), ANN)
    pump(stream)
    service.adjust(tenant, first.stock_id, Decimal(1), ANN)
    service.create_record(tenant, NewStockRecord(product_id=p2, location_id="l", quantity=Decimal(5)), ANN)
    pump(stream)

    # The receiver fails p1's first event; p2's event still goes through, p1's second waits behind its first.
    receiver.always = 500
    start = datetime.now(UTC)
    drain(now=start)
    receiver.always = None
    attempts_before = len(receiver.requests)
    assert attempts_before >= 1
    # Everything fails from here on, over a (simulated) day.
    receiver.always = 500
    now = start
    for _ in range(60):
        wait_out_backoff()
        now += timedelta(hours=1)
        drain(now=now)
    deliveries = api.ok("GET", f"/webhooks/{hook['id']}/deliveries")
    parked = [d for d in deliveries if d["status"] == "parked"]
    assert parked, deliveries
    assert all(a["statusCode"] == 500 and not a["ok"] for a in parked[0]["attempts"])
    assert len(parked[0]["attempts"]) >= 2
    dlq = client("sqs").receive_message(QueueUrl=queue_url(get_settings().webhook_dead_letter_queue))
    assert dlq.get("Messages")

    # Resent by hand, to a receiver that now answers 200.
    receiver.always = None
    before = len(receiver.requests)
    retried = api.ok("POST", f"/webhooks/{hook['id']}/deliveries/{parked[0]['id']}/retry", status=202)
    assert retried["status"] == "pending"
    drain(now=now)
    assert len(receiver.requests) > before
    after = {d["id"]: d for d in api.ok("GET", f"/webhooks/{hook['id']}/deliveries")}
    assert after[parked[0]["id"]]["status"] == "delivered"
    assert after[parked[0]["id"]]["attempts"][-1]["ok"] is True


def test_events_of_one_product_wait_behind_a_failing_one(
    company: tuple[str, Api], receiver: Receiver, aws: None
) -> None:
    stream = MainTableStream()
    tenant, api = company
    api.ok("POST", "/webhooks", {"url": receiver.url, "events": ["stock.changed"]}, 201)
    p1, p2 = new_product(tenant), new_product(tenant)
    service = stock_service()
    record = service.create_record(tenant, NewStockRecord(product_id=p1, location_id="l", quantity=Decimal(1)), ANN)
    service.adjust(tenant, record.stock_id, Decimal(1), ANN)
    service.create_record(tenant, NewStockRecord(product_id=p2, location_id="l", quantity=Decimal(5)), ANN)
    pump(stream)

    receiver.statuses = [500]  # p1's first event fails once
    drain()
    delivered = [(e["data"]["productId"], e["data"]["after"]["onHand"]) for e in receiver.events()]
    # p1's second event was not sent before its first succeeded.
    assert (p1, 2) not in delivered
    wait_out_backoff()
    drain()
    p1_order = [e["data"]["after"]["onHand"] for e in receiver.events() if e["data"]["productId"] == p1]
    assert p1_order == [1, 1, 2]  # the failed attempt, its retry, then the next event
    assert (p2, 5) in [(e["data"]["productId"], e["data"]["after"]["onHand"]) for e in receiver.events()]


def test_redirects_are_not_followed(company: tuple[str, Api], receiver: Receiver, aws: None) -> None:
    stream = MainTableStream()
    tenant, api = company
    hook = api.ok("POST", "/webhooks", {"url": receiver.url, "events": ["stock.changed"]}, 201)
    receiver.always = 302
    stock_service().create_record(tenant, NewStockRecord(product_id="p", location_id="l", quantity=Decimal(1)), ANN)
    pump(stream)
    drain()
    assert [r["path"] for r in receiver.requests] == ["/hook"]
    [delivery] = api.ok("GET", f"/webhooks/{hook['id']}/deliveries")
    assert delivery["attempts"][0]["statusCode"] == 302
    assert delivery["status"] == "retrying"


def test_test_event_and_webhook_crud(company: tuple[str, Api], receiver: Receiver, http: Client) -> None:
    _, api = company
    hook = api.ok("POST", "/webhooks", {"url": receiver.url, "events": ["stock.changed"]}, 201)
    sent = api.ok("POST", f"/webhooks/{hook['id']}/test", status=202)
    drain()
    [event] = receiver.events()
    assert event["type"] == "webhook.test" and event["id"] == sent["eventId"]
    assert verified(hook["secret"], receiver.requests[0])

    patched = api.ok("PATCH", f"/webhooks/{hook['id']}", {"events": ["*"], "description": "all"})
    assert patched["events"] == ["*"] and patched["version"] == 2
    assert [w["id"] for w in api.ok("GET", "/webhooks")["data"]] == [hook["id"]]

    other = make_company(http, "Other", PERMISSIONS)
    other_api = Api(http, other.key)
    assert other_api.call("GET", f"/webhooks/{hook['id']}").status_code == 404
    assert other_api.call("DELETE", f"/webhooks/{hook['id']}").status_code == 404
    assert other_api.call("GET", f"/webhooks/{hook['id']}/deliveries").status_code == 404

    bad = api.call("PATCH", f"/webhooks/{hook['id']}", {"events": ["nope.never"]})
    assert bad.status_code == 400 and json.loads(bad.body)["details"][0]["field"] == "events[0]"
    assert api.call("DELETE", f"/webhooks/{hook['id']}").status_code == 204
    assert api.call("GET", f"/webhooks/{hook['id']}").status_code == 404

    reader = make_company(http, "Reader", ("inventory.read",))
    assert Api(http, reader.key).call("GET", "/webhooks").status_code == 403
    assert Api(http, reader.key).call("GET", "/events").status_code == 200


def test_the_secret_is_answered_once_even_on_an_idempotent_replay(company: tuple[str, Api], receiver: Receiver) -> None:
    _, api = company
    headers = {"Idempotency-Key": "hook-1"}
    body = {"url": receiver.url, "events": ["stock.changed"]}
    first = api.call("POST", "/webhooks", body, headers)
    again = api.call("POST", "/webhooks", body, headers)
    assert first.status_code == again.status_code == 201
    assert json.loads(first.body)["secret"].startswith("whsec_")
    assert json.loads(again.body)["secret"] is None
    assert json.loads(again.body)["id"] == json.loads(first.body)["id"]


def test_bad_event_queries_are_400_naming_the_field(company: tuple[str, Api]) -> None:
    _, api = company
    for query, field in (("type=bogus", "type"), ("since=yesterday", "since"), ("limit=0", "limit")):
        response = api.call("GET", f"/events?{query}")
        assert response.status_code == 400, query
        assert json.loads(response.body)["details"][0]["field"] == field
