"""`GET /events` and the webhook routes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import Field, field_validator

from chalicelib.core.bodies import Body
from chalicelib.core.events.mapping import EVENT_DAYS, known_type
from chalicelib.core.events.webhooks import Delivery, Webhook
from chalicelib.core.models import Model
from chalicelib.core.tenancy.permissions import Permission
from chalicelib.http.errors import bad_request
from chalicelib.http.pagination import NEXT_TOKEN, ListQuery, decode_token, encode_token, page_size
from chalicelib.http.routing import Call, Reply, endpoint
from chalicelib.surfaces.events import stock_events
from chalicelib.wiring import event_store, webhook_service

TAG_EVENTS = "Events"
TAG_WEBHOOKS = "Webhooks"
READ = [Permission.INVENTORY_READ]
ADMIN = [Permission.ADMIN]


EVENT_EXAMPLE = {
    "id": "evt_3f1c0a9b7d2e4f60a1b2c3d4e5f60718",
    "type": "stock.changed",
    "occurredAt": "2026-12-01T10:00:01.123456Z",
    "companyId": "c0mpany",
    "data": {
        "stockId": "s-1",
        "productId": "p-1",
        "locationId": "l-1",
        "binId": None,
        "lotId": None,
        "owner": "INTERN",
        "before": {"onHand": 10, "reserved": 2, "held": 0, "available": 8},
        "after": {"onHand": 7, "reserved": 2, "held": 0, "available": 5},
        "movement": {"id": "m-1", "kind": "adjustment", "quantity": -3, "reason": "damaged", "reference": "R-1"},
        "actor": {"id": "key-1", "name": "ERP"},
    },
}


class EventQuery(ListQuery):
    type: str | None = Field(None, description="Comma-separated event types (stock.changed,threshold.crossed)")
    since: datetime | None = Field(None, description="ISO 8601; events at or after this moment")
    productId: str | None = Field(None, description="Only the events of this product")

    @field_validator("type")
    @classmethod
    def _types(cls, value: str | None) -> str | None:
        if value is None:
            return None
        names = [n.strip() for n in value.split(",") if n.strip()]
        unknown = [n for n in names if not known_type(n)]
        if unknown or not names:
            raise ValueError(f"unknown event type: {', '.join(unknown) or value!r}")
        return ",".join(names)


class EventOut(Model):
    id: str
    type: str
    occurredAt: str
    companyId: str
    data: dict[str, Any]


@endpoint(
    stock_events,
    "/events",
    "GET",
    permissions=READ,
    summary="List the company's events",
    tag=TAG_EVENTS,
    query=EventQuery,
    response=list[EventOut],
    response_example=[EVENT_EXAMPLE],
    description=(
        f"Domain events of the last {EVENT_DAYS} days, oldest first (newest last): stock.changed, "
        "threshold.crossed, reservation.*, hold.*, import.completed|failed, order.*, transfer.*, "
        "stock_request.*, ledger.mismatch. Filters: `type` (comma-separated), `since` (ISO 8601), `productId`. "
        f"Paged: while more remain the response carries `{NEXT_TOKEN}`; pass it back as `nextToken`. A filtered "
        "page may hold fewer than `limit` events, so only a missing header means the end. Events are written "
        "from the table stream, within moments of the change. Permission: inventory.read."
    ),
)
def list_events(call: Call) -> Reply:
    query: EventQuery = call.query
    limit = page_size(query.limit)
    since = query.since.replace(tzinfo=UTC) if query.since and query.since.tzinfo is None else query.since
    scope = f"{call.list_scope}|{query.type}|{since}|{query.productId}"
    cursor = decode_token(call.tenant_id, query.nextToken, scope=scope)
    types = query.type.split(",") if query.type else []
    page = event_store().page(
        call.tenant_id, since=since, types=types, product_id=query.productId, limit=limit, cursor=cursor
    )
    token = encode_token(call.tenant_id, page.cursor, scope=scope)
    return Reply(body=[e.public() for e in page.items], headers={NEXT_TOKEN: token} if token else {})


# -- webhooks ------------------------------------------------------------------------


class WebhookIn(Body):
    url: str = Field(min_length=1, max_length=2048, description="https URL on a public address")
    events: list[str] = Field(min_length=1, max_length=50, description='Event types, or ["*"] for every type')
    description: str | None = Field(None, max_length=500)


class WebhookPatch(Body):
    url: str | None = Field(None, min_length=1, max_length=2048)
    events: list[str] | None = Field(None, min_length=1, max_length=50)
    description: str | None = Field(None, max_length=500)
    active: bool | None = None


class WebhookOut(Model):
    id: str
    url: str
    events: list[str]
    description: str | None
    active: bool
    version: int
    createdAt: datetime
    updatedAt: datetime


class WebhookCreated(WebhookOut):
    secret: str | None = Field(description="The signing secret. Shown once; keep it to verify signatures.")


class WebhookList(Model):
    data: list[WebhookOut]


class AttemptOut(Model):
    at: datetime
    statusCode: int | None
    error: str | None
    ok: bool


class DeliveryOut(Model):
    id: str
    eventId: str
    eventType: str
    productId: str | None
    status: str = Field(description="pending, retrying, delivered, parked (after 24 hours of retries), cancelled")
    attempts: list[AttemptOut]
    firstAttemptAt: datetime | None
    nextAttemptAt: datetime | None
    manualRetries: int


class DeliveryQuery(ListQuery):
    pass


class TestSent(Model):
    deliveryId: str
    eventId: str


WEBHOOK_EXAMPLE = {
    "url": "https://erp.example.com/stockroom/hook",
    "events": ["stock.changed", "threshold.crossed"],
    "description": "ERP sync",
}
WEBHOOK_OUT = {
    "id": "wh_0f1e2d3c4b5a69788796a5b4",
    **WEBHOOK_EXAMPLE,
    "active": True,
    "version": 1,
    "createdAt": "2026-12-01T10:00:00Z",
    "updatedAt": "2026-12-01T10:00:00Z",
}
DELIVERY_OUT = {
    "id": "dl_20261201T100001123456_9a8b7c6d5e4f3a2b1c0d",
    "eventId": EVENT_EXAMPLE["id"],
    "eventType": "stock.changed",
    "productId": "p-1",
    "status": "retrying",
    "attempts": [{"at": "2026-12-01T10:00:02Z", "statusCode": 500, "error": None, "ok": False}],
    "firstAttemptAt": "2026-12-01T10:00:02Z",
    "nextAttemptAt": "2026-12-01T10:00:32Z",
    "manualRetries": 0,
}


def _out(webhook: Webhook) -> WebhookOut:
    return WebhookOut(
        id=webhook.webhook_id,
        url=webhook.url,
        events=webhook.events,
        description=webhook.description,
        active=webhook.active,
        version=webhook.version,
        createdAt=webhook.created_at,
        updatedAt=webhook.updated_at,
    )


def _delivery(d: Delivery) -> DeliveryOut:
    return DeliveryOut(
        id=d.delivery_id,
        eventId=d.event_id,
        eventType=d.event_type,
        productId=d.product_id,
        status=d.status,
        attempts=[AttemptOut(at=a.at, statusCode=a.status_code, error=a.error, ok=a.ok) for a in d.attempts],
        firstAttemptAt=d.first_attempt_at,
        nextAttemptAt=d.next_attempt_at,
        manualRetries=d.manual_retries,
    )


SIGNING = (
    "Each delivery is a POST of the event JSON with `Stockroom-Signature: t=<unix time>,v1=<hex>`: "
    "HMAC-SHA256 with the secret over `<t>.<body>`. Failed deliveries (no 2xx within 5 seconds; redirects are "
    "not followed) are retried with exponential backoff (30 s doubling, at most an hour apart) for 24 hours, "
    "then parked. One product's events arrive in order."
)


@endpoint(
    stock_events,
    "/webhooks",
    "POST",
    permissions=ADMIN,
    summary="Subscribe a URL to events",
    tag=TAG_WEBHOOKS,
    body=WebhookIn,
    response=WebhookCreated,
    status=201,
    secret_fields=["secret"],
    example=WEBHOOK_EXAMPLE,
    response_example={**WEBHOOK_OUT, "secret": "whsec_4n0therR4nd0mS3cr3t..."},
    description=(
        "The URL must be https and resolve only to public addresses (private, loopback and link-local "
        "addresses are refused: 400 naming `url`). The signing secret is answered once; an Idempotency-Key "
        f"replay answers `secret: null`. {SIGNING} Permission: admin."
    ),
)
def create_webhook(call: Call) -> WebhookCreated:
    body: WebhookIn = call.body
    made = webhook_service().create(call.tenant_id, body.url, body.events, body.description, call.actor)
    return WebhookCreated(**_out(made).model_dump(), secret=made.signing_secret)


@endpoint(
    stock_events,
    "/webhooks",
    "GET",
    permissions=ADMIN,
    summary="List webhooks",
    tag=TAG_WEBHOOKS,
    response=WebhookList,
    response_example={"data": [WEBHOOK_OUT]},
    description="The company's webhooks, oldest first (secrets are never shown again). Permission: admin.",
)
def list_webhooks(call: Call) -> WebhookList:
    return WebhookList(data=[_out(w) for w in webhook_service().webhooks_of(call.tenant_id)])


@endpoint(
    stock_events,
    "/webhooks/{webhookId}",
    "GET",
    permissions=ADMIN,
    summary="Get a webhook",
    tag=TAG_WEBHOOKS,
    response=WebhookOut,
    response_example=WEBHOOK_OUT,
    description="404 when unknown or another company's. Permission: admin.",
)
def get_webhook(call: Call) -> WebhookOut:
    return _out(webhook_service().get(call.tenant_id, call.path["webhookId"]))


@endpoint(
    stock_events,
    "/webhooks/{webhookId}",
    "PATCH",
    permissions=ADMIN,
    summary="Change a webhook",
    tag=TAG_WEBHOOKS,
    body=WebhookPatch,
    response=WebhookOut,
    example={"events": ["*"], "active": True},
    response_example={**WEBHOOK_OUT, "events": ["*"], "version": 2},
    description=(
        "Only the fields sent change; the URL is checked again. `active: false` pauses deliveries (queued ones "
        "are cancelled). Permission: admin."
    ),
)
def patch_webhook(call: Call) -> WebhookOut:
    body: WebhookPatch = call.body
    changes = body.model_dump(exclude_unset=True)
    for name in ("url", "events", "active"):
        if name in changes and changes[name] is None:
            raise bad_request(f"{name} cannot be null", field=name)
    return _out(webhook_service().update(call.tenant_id, call.path["webhookId"], changes, call.actor))


@endpoint(
    stock_events,
    "/webhooks/{webhookId}",
    "DELETE",
    permissions=ADMIN,
    summary="Delete a webhook",
    tag=TAG_WEBHOOKS,
    status=204,
    description="Deliveries still queued are cancelled. Permission: admin.",
)
def delete_webhook(call: Call) -> Reply:
    webhook_service().delete(call.tenant_id, call.path["webhookId"])
    return Reply(status=204)


@endpoint(
    stock_events,
    "/webhooks/{webhookId}/test",
    "POST",
    permissions=ADMIN,
    summary="Send a test event",
    tag=TAG_WEBHOOKS,
    response=TestSent,
    status=202,
    response_example={"deliveryId": DELIVERY_OUT["id"], "eventId": "evt_test_0a1b2c3d4e5f"},
    description="Queues a `webhook.test` event for this webhook; see its deliveries for the outcome. "
    "Permission: admin.",
)
def test_webhook(call: Call) -> TestSent:
    job = webhook_service().send_test(call.tenant_id, call.path["webhookId"])
    return TestSent(deliveryId=job.delivery_id, eventId=str(job.event["id"]))


@endpoint(
    stock_events,
    "/webhooks/{webhookId}/deliveries",
    "GET",
    permissions=ADMIN,
    summary="List a webhook's deliveries",
    tag=TAG_WEBHOOKS,
    query=DeliveryQuery,
    response=list[DeliveryOut],
    response_example=[DELIVERY_OUT],
    description=(
        "Deliveries oldest first, each with every attempt (time, HTTP status or error). Kept 30 days. "
        f"Paged with `{NEXT_TOKEN}` / `nextToken`. Permission: admin."
    ),
)
def list_deliveries(call: Call) -> Reply:
    query: DeliveryQuery = call.query
    limit = page_size(query.limit)
    cursor = decode_token(call.tenant_id, query.nextToken, scope=f"{call.list_scope}|{call.path['webhookId']}")
    page = webhook_service().deliveries_page(call.tenant_id, call.path["webhookId"], limit, cursor)
    token = encode_token(call.tenant_id, page.cursor, scope=f"{call.list_scope}|{call.path['webhookId']}")
    return Reply(body=[_delivery(d) for d in page.items], headers={NEXT_TOKEN: token} if token else {})


@endpoint(
    stock_events,
    "/webhooks/{webhookId}/deliveries/{deliveryId}/retry",
    "POST",
    permissions=ADMIN,
    summary="Send a delivery again",
    tag=TAG_WEBHOOKS,
    response=DeliveryOut,
    status=202,
    response_example={**DELIVERY_OUT, "status": "pending", "manualRetries": 1},
    description="Queues the delivery again (a parked one too) with a fresh 24 hours of retries. Permission: admin.",
)
def retry_delivery(call: Call) -> DeliveryOut:
    found = webhook_service().retry(call.tenant_id, call.path["webhookId"], call.path["deliveryId"])
    return _delivery(found)
