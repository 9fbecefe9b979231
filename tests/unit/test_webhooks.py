"""Webhooks in the core: signatures, the retry schedule, SSRF rules, and one delivery's life."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib.core.errors import NotFound, ValidationFailed
from chalicelib.core.events import signing
from chalicelib.core.events.mapping import DomainEvent
from chalicelib.core.events.urls import UnsafeUrl, check, unsafe_reason
from chalicelib.core.events.webhooks import (
    MAX_ATTEMPTS,
    RETRY_WINDOW,
    Backoff,
    DeliveryJob,
    Response,
    WebhookService,
    backoff_seconds,
    schedule,
)
from chalicelib.core.models import SYSTEM
from tests.fakes import InMemoryDeliveryQueue, InMemoryDeliveryStore, InMemoryWebhookStore

pytestmark = pytest.mark.disable_socket

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PUBLIC = {"hooks.example.com": ["93.184.216.34"]}


def resolve(host: str) -> list[str]:
    if host not in PUBLIC:
        raise OSError("no such host")
    return PUBLIC[host]


# -- signatures -------------------------------------------------------------------------


def test_a_signature_verifies_with_the_secret_and_nothing_else() -> None:
    body = b'{"id":"evt_1"}'
    header = signing.signature_header("whsec_a", 1_700_000_000, body)
    assert header.startswith("t=1700000000,v1=")
    assert signing.verify("whsec_a", header, body, now=1_700_000_010)
    assert not signing.verify("whsec_b", header, body, now=1_700_000_010)
    assert not signing.verify("whsec_a", header, body + b" ", now=1_700_000_010)
    # Too old: a replay.
    assert not signing.verify("whsec_a", header, body, now=1_700_000_000 + signing.TOLERANCE_SECONDS + 1)
    assert not signing.verify("whsec_a", "v1=abc", body, now=1_700_000_000)


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    expected = hmac.new(b"s", b"42.{}", hashlib.sha256).hexdigest()
    assert signing.signature_header("s", 42, b"{}") == f"t=42,v1={expected}"


# -- the retry schedule ---------------------------------------------------------------------


def test_backoff_doubles_from_30_seconds_up_to_an_hour() -> None:
    assert [backoff_seconds(n) for n in range(1, 9)] == [30, 60, 120, 240, 480, 960, 1920, 3600]
    assert backoff_seconds(50) == 3600


def test_attempts_run_for_24_hours_and_no_longer() -> None:
    times = schedule()
    assert times[0] == 0
    assert times[-1] < RETRY_WINDOW.total_seconds()
    assert times[-1] + 3600 >= RETRY_WINDOW.total_seconds()
    assert all(b > a for a, b in itertools.pairwise(times))


def test_the_backoff_schedule_comes_from_the_settings() -> None:
    from chalicelib.settings import Settings

    default = Settings.model_validate({}).webhook_backoff
    assert default == Backoff(30, 2.0, 3600, timedelta(hours=24))
    env = {
        "STOCKROOM_WEBHOOK_RETRY_FIRST_SECONDS": "10",
        "STOCKROOM_WEBHOOK_RETRY_FACTOR": "3",
        "STOCKROOM_WEBHOOK_RETRY_CAP_SECONDS": "600",
        "STOCKROOM_WEBHOOK_RETRY_HOURS": "2",
    }
    backoff = Settings.model_validate(env).webhook_backoff
    assert [backoff.delay(n) for n in range(1, 7)] == [10, 30, 90, 270, 600, 600]
    times = backoff.schedule()
    assert times[:6] == [0, 10, 40, 130, 400, 1000]
    assert times[-1] < 7200 <= times[-1] + 600
    # A factor of 1 waits the first delay every time.
    assert Backoff(60, 1.0, 3600, timedelta(hours=1)).schedule() == list(range(0, 3600, 60))


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"STOCKROOM_WEBHOOK_RETRY_FIRST_SECONDS": "0"}, "STOCKROOM_WEBHOOK_RETRY_FIRST_SECONDS"),
        ({"STOCKROOM_WEBHOOK_RETRY_FACTOR": "0.5"}, "STOCKROOM_WEBHOOK_RETRY_FACTOR"),
        ({"STOCKROOM_WEBHOOK_RETRY_CAP_SECONDS": "86400"}, "STOCKROOM_WEBHOOK_RETRY_CAP_SECONDS"),
        ({"STOCKROOM_WEBHOOK_RETRY_HOURS": "100"}, "STOCKROOM_WEBHOOK_RETRY_HOURS"),
        ({"STOCKROOM_WEBHOOK_RETRY_FIRST_SECONDS": "600", "STOCKROOM_WEBHOOK_RETRY_CAP_SECONDS": "60"}, "cap"),
        # One attempt a minute for a day: more attempts than the queue allows receives.
        ({"STOCKROOM_WEBHOOK_RETRY_FIRST_SECONDS": "60", "STOCKROOM_WEBHOOK_RETRY_FACTOR": "1"}, "attempts"),
    ],
)
def test_a_schedule_sqs_cannot_run_is_refused_when_the_settings_are_read(env: dict[str, str], named: str) -> None:
    from pydantic import ValidationError

    from chalicelib.settings import Settings

    with pytest.raises(ValidationError) as raised:
        Settings.model_validate(env)
    assert named in str(raised.value)


def test_no_accepted_schedule_makes_more_attempts_than_allowed() -> None:
    assert len(Backoff(1, 1.5, 43_200, timedelta(hours=72)).schedule()) <= MAX_ATTEMPTS
    # A huge number of failures stays at the cap (no float overflow).
    assert Backoff().delay(10_000) == 3600


# -- SSRF ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.1.2.3",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fd12::1",
        "::ffff:10.0.0.1",
        "::ffff:127.0.0.1",
        "2002:a00:1::",
        "64:ff9b::a9fe:a9fe",
        "224.0.0.1",
    ],
)
def test_private_loopback_link_local_and_wrapped_forms_are_refused(address: str) -> None:
    assert unsafe_reason(address) is not None


def test_public_addresses_pass() -> None:
    assert unsafe_reason("93.184.216.34") is None
    assert unsafe_reason("2606:2800:220:1:248:1893:25c8:1946") is None


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://hooks.example.com/x", "https"),
        ("https://127.0.0.1/x", "loopback"),
        ("https://[::1]/x", "loopback"),
        ("https://169.254.169.254/latest", "link-local"),
        ("https://user:pw@hooks.example.com/", "credentials"),
        ("https://nowhere.invalid/", "does not resolve"),
        ("ftp://hooks.example.com/", "https"),
    ],
)
def test_unsafe_urls_are_refused_with_a_reason(url: str, why: str) -> None:
    with pytest.raises(UnsafeUrl, match=why):
        check(url, resolve)


def test_a_host_is_refused_when_any_of_its_addresses_is_private() -> None:
    def two(host: str) -> list[str]:
        return ["93.184.216.34", "10.0.0.5"]

    with pytest.raises(UnsafeUrl, match="private"):
        check("https://mixed.example.com/", two)


def test_loopback_needs_the_local_setting_and_http_reaches_only_loopback() -> None:
    assert check("http://127.0.0.1:9000/hook", resolve, allow_loopback=True).addresses == ("127.0.0.1",)
    with pytest.raises(UnsafeUrl):
        check("http://127.0.0.1:9000/hook", resolve)
    with pytest.raises(UnsafeUrl, match="https"):
        check("http://hooks.example.com/hook", resolve, allow_loopback=True)
    target = check("https://hooks.example.com:8443/in?a=1", resolve)
    assert (target.host, target.port, target.path, target.addresses) == (
        "hooks.example.com",
        8443,
        "/in?a=1",
        ("93.184.216.34",),
    )


# -- the service ------------------------------------------------------------------------------


@pytest.fixture
def service() -> WebhookService:
    clock = iter([T0 + timedelta(seconds=i) for i in range(1000)])
    return WebhookService(
        InMemoryWebhookStore(),
        InMemoryDeliveryStore(),
        InMemoryDeliveryQueue(),
        resolve,
        clock=lambda: next(clock),
    )


def stock_event(n: int, product: str = "p1") -> DomainEvent:
    return DomainEvent(
        event_id=f"evt_{n}",
        type="stock.changed",
        occurred_at=T0 + timedelta(seconds=n),
        tenant_id="t1",
        data={"productId": product, "after": {"onHand": Decimal(n)}},
        product_id=product,
    )


def test_creating_checks_url_and_event_names_and_names_the_fields(service: WebhookService) -> None:
    with pytest.raises(ValidationFailed) as raised:
        service.create("t1", "https://10.0.0.1/", ["stock.changed", "nope"], None, SYSTEM)
    fields = {d["field"] for d in raised.value.details}
    assert fields == {"url", "events[1]"}
    made = service.create("t1", "https://hooks.example.com/in", ["stock.changed"], "erp", SYSTEM)
    assert made.signing_secret.startswith("whsec_")
    with pytest.raises(NotFound):
        service.get("t2", made.webhook_id)


def test_fan_out_sends_one_job_per_subscribed_webhook_grouped_by_product(service: WebhookService) -> None:
    a = service.create("t1", "https://hooks.example.com/a", ["stock.changed"], None, SYSTEM)
    service.create("t1", "https://hooks.example.com/b", ["order.created"], None, SYSTEM)
    every = service.create("t1", "https://hooks.example.com/c", ["*"], None, SYSTEM)
    service.create("t2", "https://hooks.example.com/d", ["*"], None, SYSTEM)

    jobs = service.jobs_for([stock_event(1, "p1"), stock_event(2, "p2")])

    assert sorted((j.webhook_id, j.product_id) for j in jobs) == sorted(
        [(a.webhook_id, "p1"), (a.webhook_id, "p2"), (every.webhook_id, "p1"), (every.webhook_id, "p2")]
    )
    groups = {j.group for j in jobs}
    assert f"t1#{a.webhook_id}#p1" in groups
    # The same event and webhook always give the same delivery id (stream redelivery).
    assert service.jobs_for([stock_event(1, "p1")])[0].delivery_id == jobs[0].delivery_id


def test_a_failing_delivery_backs_off_then_parks_after_24_hours_and_a_retry_resends(
    service: WebhookService,
) -> None:
    hook = service.create("t1", "https://hooks.example.com/a", ["stock.changed"], None, SYSTEM)
    [job] = service.jobs_for([stock_event(1)])
    seen: list[dict[str, str]] = []

    def failing(url: str, headers: dict[str, str], body: bytes) -> Response:
        seen.append(headers)
        return Response(500)

    now = T0
    delays = []
    while True:
        outcome = service.deliver(job, failing, now)
        if outcome.done:
            break
        delays.append(outcome.delay)
        now += timedelta(seconds=outcome.delay)
    assert outcome.status == "parked"
    assert delays[:4] == [30, 60, 120, 240]
    assert len(delays) + 1 == len(schedule())
    queue = service.queue
    assert isinstance(queue, InMemoryDeliveryQueue)
    assert queue.parked == [job]
    stored = service.deliveries.get("t1", hook.webhook_id, job.delivery_id)
    assert stored is not None and stored.status == "parked"
    assert all(a.status_code == 500 for a in stored.attempts)
    timestamp = seen[0][signing.HEADER].split(",")[0].removeprefix("t=")
    assert int(timestamp) == int(T0.timestamp())

    retried = service.retry("t1", hook.webhook_id, job.delivery_id)
    assert retried.status == "pending"
    resent = queue.sent[-1]
    assert resent.manual_retries == 1 and resent.dedup_id != job.dedup_id
    # The old copy (if SQS hands it over again) is superseded; the new one is delivered.
    assert service.deliver(job, failing, now).status == "superseded"
    assert service.deliver(resent, lambda u, h, b: Response(204), now).status == "delivered"
    final = service.deliveries.get("t1", hook.webhook_id, job.delivery_id)
    assert final is not None and final.status == "delivered" and final.attempts[-1].ok
    # Delivered already: a redelivered message is not sent twice.
    assert service.deliver(resent, failing, now).status == "delivered"


def test_a_deleted_webhook_cancels_its_queued_deliveries(service: WebhookService) -> None:
    hook = service.create("t1", "https://hooks.example.com/a", ["*"], None, SYSTEM)
    [job] = service.jobs_for([stock_event(1)])
    service.delete("t1", hook.webhook_id)
    assert service.deliver(job, lambda u, h, b: Response(200), T0).status == "cancelled"


def test_jobs_round_trip_through_the_message_body() -> None:
    job = DeliveryJob("t1", "wh", "dl", {"id": "e", "data": {"q": Decimal("1.5")}}, "stock.changed", "p1", 2)
    parsed = DeliveryJob.parse(job.body())
    assert parsed == DeliveryJob("t1", "wh", "dl", {"id": "e", "data": {"q": Decimal("1.5")}}, "stock.changed", "p1", 2)


def test_the_readme_shows_a_verification_that_works() -> None:
    import re
    import textwrap
    import time
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    [snippet] = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "def verify" in b]
    scope: dict[str, object] = {}
    exec(textwrap.dedent(snippet), scope)
    verify = scope["verify"]
    assert callable(verify)
    header = signing.signature_header("whsec_k", int(time.time()), b'{"id":"evt_1"}')
    assert verify("whsec_k", header, b'{"id":"evt_1"}') is True
    assert verify("whsec_other", header, b'{"id":"evt_1"}') is False


def test_the_service_retries_and_parks_on_the_schedule_it_is_given() -> None:
    backoff = Backoff(5, 3.0, 100, timedelta(minutes=10))
    service = WebhookService(
        InMemoryWebhookStore(), InMemoryDeliveryStore(), InMemoryDeliveryQueue(), resolve, backoff=backoff
    )
    service.create("t1", "https://hooks.example.com/a", ["stock.changed"], None, SYSTEM)
    [job] = service.jobs_for([stock_event(1)])
    now, delays = T0, []
    while not (outcome := service.deliver(job, lambda url, headers, body: Response(503), now)).done:
        delays.append(outcome.delay)
        now += timedelta(seconds=outcome.delay)
    assert outcome.status == "parked"
    assert delays == [5, 15, 45, 100, 100, 100, 100, 100]  # 565 s; one more wait would pass 600
    assert len(delays) + 1 == len(backoff.schedule())
