"""Webhooks: subscriptions, deliveries, and the retry schedule.

A delivery is one event for one webhook. The stream handler fans events out
as queue messages (`DeliveryJob`); the sender function calls `deliver` for
each. A delivery that fails is retried with exponential backoff
(`Backoff`, from the settings: 30 s doubling up to an hour, for 24 hours from
its first attempt, by default), then parked (the dead-letter queue and
`status: parked`); `retry` sends it again by hand, with a fresh window.
Every attempt is kept on the delivery (status code or error, time), listed
at `GET /webhooks/{id}/deliveries`.

Order: messages go to a FIFO queue whose group is (tenant, webhook, product),
so one product's events reach a webhook in order, and a failing one holds
back only the events of the same product for the same webhook.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from pydantic import Field

from chalicelib.core.errors import NotFound, ValidationFailed, problem
from chalicelib.core.events import signing
from chalicelib.core.events.mapping import EVENT_DAYS, DomainEvent, known_type
from chalicelib.core.events.urls import Resolver, UnsafeUrl, check
from chalicelib.core.ids import new_id, utcnow
from chalicelib.core.models import Actor, Entity, Model
from chalicelib.core.ports import Page

MAX_WEBHOOKS = 20
MAX_DESCRIPTION = 500
ALL_EVENTS = "*"
# SQS limits a schedule must respect: a message's visibility (the wait before its next attempt) is at
# most 12 hours, and the webhook queue parks a message on its 100th receive (infra/resources.json
# maxReceiveCount), so a schedule makes at most MAX_ATTEMPTS attempts (room left for the receives of
# messages held back behind a failing one of their group).
MAX_DELAY_LIMIT_SECONDS = 43_200
MAX_ATTEMPTS = 60


@dataclass(frozen=True)
class Backoff:
    """The retry schedule of a failing delivery: `first_seconds` after the first failure, times `factor`
    after each further one, at most `cap_seconds`, for `window` from the first attempt; then parked.

    Built from the settings (STOCKROOM_WEBHOOK_RETRY_*, chalicelib/settings.py) by wiring.
    """

    first_seconds: int = 30
    factor: float = 2.0
    cap_seconds: int = 3600
    window: timedelta = timedelta(hours=24)

    def __post_init__(self) -> None:
        problems = []
        if self.first_seconds < 1:
            problems.append("the first delay must be at least 1 second")
        if self.factor < 1:
            problems.append("the factor must be at least 1")
        if not self.first_seconds <= self.cap_seconds <= MAX_DELAY_LIMIT_SECONDS:
            problems.append(f"the cap must be between the first delay and {MAX_DELAY_LIMIT_SECONDS} seconds")
        if self.window <= timedelta(0):
            problems.append("the retry window must be positive")
        if problems:
            raise ValueError("; ".join(problems))
        if len(self.schedule()) > MAX_ATTEMPTS:
            raise ValueError(f"the schedule makes more than {MAX_ATTEMPTS} attempts in its window")

    def delay(self, failed_attempts: int) -> int:
        """Seconds to wait before the next attempt after `failed_attempts` failures."""
        steps = max(0, failed_attempts - 1)
        # Past the cap the exact power does not matter (and a float power would overflow).
        if self.factor > 1 and steps > 64:
            return int(self.cap_seconds)
        return int(min(self.cap_seconds, self.first_seconds * self.factor**steps))

    def schedule(self) -> list[int]:
        """Seconds after the first attempt at which each attempt runs, while within the window
        (stops counting past MAX_ATTEMPTS + 1: such a schedule is refused)."""
        times, elapsed, failures = [0], 0, 0
        while len(times) <= MAX_ATTEMPTS:
            failures += 1
            elapsed += self.delay(failures)
            if elapsed >= self.window.total_seconds():
                return times
            times.append(elapsed)
        return times


DEFAULT_BACKOFF = Backoff()
RETRY_WINDOW = DEFAULT_BACKOFF.window


def backoff_seconds(failed_attempts: int, backoff: Backoff = DEFAULT_BACKOFF) -> int:
    """Wait before the next attempt after `failed_attempts` failures (default: 30 s doubling, at most an hour)."""
    return backoff.delay(failed_attempts)


def schedule(backoff: Backoff = DEFAULT_BACKOFF) -> list[int]:
    """Seconds after the first attempt at which each attempt runs, while within the window."""
    return backoff.schedule()


class Webhook(Entity):
    webhook_id: str = Field(default_factory=lambda: "wh_" + new_id().replace("-", "")[:24])
    url: str
    events: list[str]
    description: str | None = None
    signing_secret: str
    active: bool = True

    def wants(self, event_type: str) -> bool:
        return self.active and (ALL_EVENTS in self.events or event_type in self.events)


class Attempt(Model):
    at: datetime
    status_code: int | None = None
    error: str | None = None
    ok: bool = False


class Delivery(Model):
    tenant_id: str
    webhook_id: str
    delivery_id: str
    event_id: str
    event_type: str
    product_id: str | None = None
    event: dict[str, Any]
    status: str = "pending"  # pending, retrying, delivered, parked, cancelled
    attempts: list[Attempt] = Field(default_factory=list)
    first_attempt_at: datetime | None = None
    next_attempt_at: datetime | None = None
    manual_retries: int = 0
    created_at: datetime = Field(default_factory=utcnow)


@dataclass(frozen=True)
class DeliveryJob:
    """One queue message: deliver this event to this webhook."""

    tenant_id: str
    webhook_id: str
    delivery_id: str
    event: dict[str, Any]
    event_type: str
    product_id: str | None = None
    manual_retries: int = 0

    @property
    def group(self) -> str:
        return f"{self.tenant_id}#{self.webhook_id}#{self.product_id or '-'}"

    @property
    def dedup_id(self) -> str:
        return hashlib.sha256(f"{self.delivery_id}#{self.manual_retries}".encode()).hexdigest()

    def body(self) -> str:
        return json.dumps(
            {
                "tenantId": self.tenant_id,
                "webhookId": self.webhook_id,
                "deliveryId": self.delivery_id,
                "event": self.event,
                "eventType": self.event_type,
                "productId": self.product_id,
                "manualRetries": self.manual_retries,
            },
            default=_json_default,
            separators=(",", ":"),
        )

    @classmethod
    def parse(cls, text: str) -> DeliveryJob:
        data = json.loads(text, parse_float=Decimal)
        return cls(
            tenant_id=data["tenantId"],
            webhook_id=data["webhookId"],
            delivery_id=data["deliveryId"],
            event=data["event"],
            event_type=data["eventType"],
            product_id=data.get("productId"),
            manual_retries=int(data.get("manualRetries") or 0),
        )


@dataclass(frozen=True)
class Outcome:
    """What the sender does with the message: done (delete it), or retry after `delay` seconds."""

    done: bool
    delay: int = 0
    status: str = ""


@dataclass(frozen=True)
class Response:
    status_code: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookStore(Protocol):
    def create(self, webhook: Webhook, actor: Actor) -> None: ...
    def get(self, tenant_id: str, webhook_id: str) -> Webhook | None: ...
    def list(self, tenant_id: str) -> list[Webhook]: ...
    def replace(self, webhook: Webhook, expected_version: int, actor: Actor) -> None: ...
    def delete(self, tenant_id: str, webhook_id: str) -> None: ...


class DeliveryStore(Protocol):
    def get(self, tenant_id: str, webhook_id: str, delivery_id: str) -> Delivery | None: ...
    def put(self, delivery: Delivery) -> None: ...
    def page(self, tenant_id: str, webhook_id: str, limit: int, cursor: dict[str, Any] | None) -> Page[Delivery]: ...


class DeliveryQueue(Protocol):
    def enqueue(self, jobs: Sequence[DeliveryJob]) -> None: ...
    def park(self, job: DeliveryJob) -> None: ...


Poster = Callable[[str, dict[str, str], bytes], Response]


def delivery_id(event: DomainEvent | dict[str, Any], webhook_id: str) -> str:
    """Stable per (event, webhook), starting with the event's time so deliveries list oldest first."""
    public = event.public() if isinstance(event, DomainEvent) else event
    digest = hashlib.sha256(f"{public['id']}#{webhook_id}".encode()).hexdigest()[:20]
    moment = str(public["occurredAt"]).replace("-", "").replace(":", "").replace(".", "")[:20]
    return f"dl_{moment}_{digest}"


def event_body(event: dict[str, Any]) -> bytes:
    return json.dumps(event, default=_json_default, separators=(",", ":")).encode()


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


@dataclass
class WebhookService:
    webhooks: WebhookStore
    deliveries: DeliveryStore
    queue: DeliveryQueue
    resolve: Resolver
    allow_loopback: bool = False
    clock: Callable[[], datetime] = field(default=utcnow)
    backoff: Backoff = DEFAULT_BACKOFF

    # -- subscriptions -----------------------------------------------------------

    def create(self, tenant_id: str, url: str, events: list[str], description: str | None, actor: Actor) -> Webhook:
        self._check(url, events, description)
        if len(self.webhooks.list(tenant_id)) >= MAX_WEBHOOKS:
            raise ValidationFailed(f"a company has at most {MAX_WEBHOOKS} webhooks", [problem("url", "too many")])
        webhook = Webhook(
            tenant_id=tenant_id,
            url=url,
            events=sorted(set(events)),
            description=description,
            signing_secret=signing.new_secret(),
        )
        self.webhooks.create(webhook, actor)
        return webhook

    def get(self, tenant_id: str, webhook_id: str) -> Webhook:
        found = self.webhooks.get(tenant_id, webhook_id)
        if found is None:
            raise NotFound(f"webhook {webhook_id} not found")
        return found

    def webhooks_of(self, tenant_id: str) -> list[Webhook]:
        return sorted(self.webhooks.list(tenant_id), key=lambda w: (w.created_at, w.webhook_id))

    def update(self, tenant_id: str, webhook_id: str, changes: dict[str, Any], actor: Actor) -> Webhook:
        current = self.get(tenant_id, webhook_id)
        merged = current.model_copy(update=changes)
        self._check(merged.url, merged.events, merged.description)
        merged.events = sorted(set(merged.events))
        merged.version = current.version + 1
        merged.updated_at = self.clock()
        self.webhooks.replace(merged, current.version, actor)
        return merged

    def delete(self, tenant_id: str, webhook_id: str) -> None:
        self.get(tenant_id, webhook_id)
        self.webhooks.delete(tenant_id, webhook_id)

    def _check(self, url: str, events: list[str], description: str | None) -> None:
        problems = []
        try:
            check(url, self.resolve, self.allow_loopback)
        except UnsafeUrl as exc:
            problems.append(problem("url", str(exc)))
        if not events:
            problems.append(problem("events", "name at least one event type (or * for all)"))
        for index, name in enumerate(events):
            if name != ALL_EVENTS and not known_type(name):
                problems.append(problem(f"events[{index}]", f"unknown event type {name!r}"))
        if description is not None and len(description) > MAX_DESCRIPTION:
            problems.append(problem("description", f"at most {MAX_DESCRIPTION} characters"))
        if problems:
            raise ValidationFailed("the webhook is not valid", problems)

    # -- fan-out (the stream handler) ------------------------------------------------

    def jobs_for(self, events: Iterable[DomainEvent]) -> list[DeliveryJob]:
        """One job per (event, subscribed webhook), in the events' order; one webhook listing per company."""
        subscribed: dict[str, list[Webhook]] = {}
        jobs = []
        for event in events:
            if event.tenant_id not in subscribed:
                subscribed[event.tenant_id] = [w for w in self.webhooks.list(event.tenant_id) if w.active]
            for webhook in subscribed[event.tenant_id]:
                if webhook.wants(event.type):
                    jobs.append(self._job(webhook.webhook_id, event))
        return jobs

    def fan_out(self, events: Sequence[DomainEvent]) -> int:
        jobs = self.jobs_for(events)
        if jobs:
            self.queue.enqueue(jobs)
        return len(jobs)

    @staticmethod
    def _job(webhook_id: str, event: DomainEvent) -> DeliveryJob:
        return DeliveryJob(
            tenant_id=event.tenant_id,
            webhook_id=webhook_id,
            delivery_id=delivery_id(event, webhook_id),
            event=event.public(),
            event_type=event.type,
            product_id=event.product_id,
        )

    def send_test(self, tenant_id: str, webhook_id: str) -> DeliveryJob:
        webhook = self.get(tenant_id, webhook_id)
        now = self.clock()
        event = DomainEvent(
            event_id="evt_test_" + new_id().replace("-", "")[:24],
            type="webhook.test",
            occurred_at=now,
            tenant_id=tenant_id,
            data={"webhookId": webhook.webhook_id, "message": "a test event from Stockroom"},
        )
        job = self._job(webhook.webhook_id, event)
        self.queue.enqueue([job])
        return job

    # -- deliveries ------------------------------------------------------------------

    def deliveries_page(
        self, tenant_id: str, webhook_id: str, limit: int, cursor: dict[str, Any] | None
    ) -> Page[Delivery]:
        self.get(tenant_id, webhook_id)
        return self.deliveries.page(tenant_id, webhook_id, limit, cursor)

    def retry(self, tenant_id: str, webhook_id: str, delivery_id_: str) -> Delivery:
        self.get(tenant_id, webhook_id)
        found = self.deliveries.get(tenant_id, webhook_id, delivery_id_)
        if found is None:
            raise NotFound(f"delivery {delivery_id_} not found")
        found.manual_retries += 1
        found.status = "pending"
        found.first_attempt_at = None
        found.next_attempt_at = self.clock()
        self.deliveries.put(found)
        self.queue.enqueue(
            [
                DeliveryJob(
                    tenant_id=tenant_id,
                    webhook_id=webhook_id,
                    delivery_id=found.delivery_id,
                    event=found.event,
                    event_type=found.event_type,
                    product_id=found.product_id,
                    manual_retries=found.manual_retries,
                )
            ]
        )
        return found

    def deliver(self, job: DeliveryJob, post: Poster, now: datetime | None = None) -> Outcome:
        """One attempt of one delivery; says whether the message is done or retried after a delay."""
        now = now or self.clock()
        webhook = self.webhooks.get(job.tenant_id, job.webhook_id)
        delivery = self.deliveries.get(job.tenant_id, job.webhook_id, job.delivery_id) or Delivery(
            tenant_id=job.tenant_id,
            webhook_id=job.webhook_id,
            delivery_id=job.delivery_id,
            event_id=str(job.event.get("id")),
            event_type=job.event_type,
            product_id=job.product_id,
            event=job.event,
            created_at=now,
        )
        if job.manual_retries < delivery.manual_retries:
            return Outcome(done=True, status="superseded")  # an older copy; the newer retry is queued
        if webhook is None or not webhook.active:
            delivery.status = "cancelled"
            self.deliveries.put(delivery)
            return Outcome(done=True, status="cancelled")
        if delivery.status == "delivered":
            return Outcome(done=True, status="delivered")  # a redelivered message: sent already
        if delivery.first_attempt_at is None:
            delivery.first_attempt_at = now
        body = event_body(job.event)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Stockroom-Webhooks/1",
            signing.HEADER: signing.signature_header(webhook.signing_secret, int(now.timestamp()), body),
            "Stockroom-Event-Id": str(job.event.get("id")),
            "Stockroom-Delivery-Id": job.delivery_id,
        }
        response = post(webhook.url, headers, body)
        delivery.attempts.append(
            Attempt(at=now, status_code=response.status_code, error=response.error, ok=response.ok)
        )
        if response.ok:
            delivery.status, delivery.next_attempt_at = "delivered", None
            self.deliveries.put(delivery)
            return Outcome(done=True, status="delivered")
        failures = sum(1 for a in delivery.attempts if not a.ok and a.at >= delivery.first_attempt_at)
        delay = self.backoff.delay(failures)
        if now + timedelta(seconds=delay) - delivery.first_attempt_at >= self.backoff.window:
            delivery.status, delivery.next_attempt_at = "parked", None
            self.deliveries.put(delivery)
            self.queue.park(job)
            return Outcome(done=True, status="parked")
        delivery.status, delivery.next_attempt_at = "retrying", now + timedelta(seconds=delay)
        self.deliveries.put(delivery)
        return Outcome(done=False, delay=delay, status="retrying")


def expires_at(moment: datetime) -> int:
    """TTL of events and deliveries: kept EVENT_DAYS days."""
    return int((moment + timedelta(days=EVENT_DAYS)).timestamp())
