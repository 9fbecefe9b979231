"""The local stack as `make run` starts it: HTTP, tenants, event delivery, schedules, shutdown."""

from __future__ import annotations

import json
import re
import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
import requests

from chalicelib.core.ids import utcnow
from chalicelib.core.models import SYSTEM, Actor
from chalicelib.core.stock.service import NewStockRecord
from chalicelib.core.tenancy.permissions import ALL_PERMISSIONS
from chalicelib.settings import get_settings
from chalicelib.storage.aws import client
from chalicelib.wiring import history_service, stock_service, tenant_service
from infra.event_sources import QueueDelivery, ShardDelivery, lambda_stream_record, streams_api_reader

if TYPE_CHECKING:
    from subprocess import CompletedProcess

    from tests.e2e.conftest import Api, CreatedTenant, Stack, StackProcess

    Eventually = Callable[..., Any]
    MakeTenant = Callable[..., CreatedTenant]
    TenantCli = Callable[..., CompletedProcess[str]]

pytestmark = pytest.mark.e2e

KEY_PATTERN = re.compile(r"^sr_[0-9a-f]{32}_[0-9a-f]+_[0-9a-f]+$")


def test_health_is_json(api: Api) -> None:
    response = api.with_key(None).get("/health")

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {"status": "ok"}


def test_an_unknown_route_is_a_json_404_and_a_wrong_method_a_json_405(api: Api) -> None:
    missing = api.get("/no/such/route")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": "no route matches GET /no/such/route",
        "code": "NOT_FOUND",
        "details": [{"field": "path", "message": "no such route; see /openapi.json"}],
    }

    wrong = api.delete("/whoami")
    assert wrong.status_code == 405
    assert wrong.headers["Allow"] == "GET"
    assert wrong.json()["code"] == "METHOD_NOT_ALLOWED"


def test_a_method_no_route_takes_is_a_json_405_and_the_connection_stays_usable(api: Api) -> None:
    # Found by fuzzing: TRACE/QUERY got http.server's HTML 501 (or a closed connection: its error
    # line's %d met a redacted string), and a body sent with them was read as the next request.
    session = requests.Session()
    for method in ("TRACE", "QUERY", "PROPFIND"):
        response = session.request(method, f"{api.base_url}/health", data=b"%PDF-1.4\n", timeout=10)
        assert response.status_code == 405, response.text
        assert response.json()["code"] == "METHOD_NOT_ALLOWED"
    assert session.get(f"{api.base_url}/health", timeout=10).json() == {"status": "ok"}


def test_a_key_passed_in_the_query_string_never_reaches_the_log(api: Api, stack: Stack) -> None:
    # Given the documented way of passing a key in the URL
    secret = stack.api_key.rsplit("_", 1)[1]
    response = api.with_key(None).get(f"/whoami?x-inventora-api-key={stack.api_key}")
    assert response.status_code == 200, response.text

    # Then the access log shows the request with the key blanked out, and the secret nowhere but the banner
    log = stack.output()
    assert "/whoami?x-inventora-api-key=REDACTED" in log
    assert [line for line in log.splitlines() if secret in line and not line.startswith("API key:")] == []


def test_banner_names_a_demo_company_whose_key_has_every_permission(stack: Stack, stack_aws: Stack) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", stack.base_url)
    assert str(uuid.UUID(stack.company_id)) == stack.company_id
    assert KEY_PATTERN.match(stack.api_key)
    for prefix in ("Base URL: ", "Company ID: ", "API key: "):
        assert sum(line.startswith(prefix) for line in stack.output().splitlines()) == 1

    principal = tenant_service().authenticate(stack.api_key)

    assert principal.tenant_id == stack.company_id
    assert principal.permissions == ALL_PERMISSIONS
    assert tenant_service().get_tenant(stack.company_id).name == "Demo company"


def test_tenant_command_creates_a_tenant_with_a_full_permission_key(stack_aws: Stack, make_tenant: MakeTenant) -> None:
    created = make_tenant("Acme Metals", "*")

    principal = tenant_service().authenticate(created.api_key)

    assert created.company_id != stack_aws.company_id
    assert principal.tenant_id == created.company_id
    assert principal.permissions == ALL_PERMISSIONS
    assert tenant_service().get_tenant(created.company_id).name == "Acme Metals"


def test_tenant_command_restricts_the_key_to_the_named_permissions(stack_aws: Stack, make_tenant: MakeTenant) -> None:
    created = make_tenant("Read Only Ltd", "inventory.read")

    principal = tenant_service().authenticate(created.api_key)

    assert principal.permissions == frozenset({"inventory.read"})


def test_tenant_command_accepts_a_list_of_permissions(stack_aws: Stack, make_tenant: MakeTenant) -> None:
    created = make_tenant("Two Perms Ltd", "inventory.read, orders.read")

    assert tenant_service().authenticate(created.api_key).permissions == frozenset({"inventory.read", "orders.read"})


def test_tenant_command_refuses_unknown_permissions(stack: Stack, tenant_cli: TenantCli) -> None:
    done = tenant_cli(stack.moto_endpoint, "--name", "Typo Ltd", "--permissions", "inventory.raed")

    assert done.returncode == 1
    assert "inventory.raed" in done.stderr
    assert "Company ID" not in done.stdout


def test_tenant_command_reports_an_unreachable_endpoint_in_one_line(tenant_cli: TenantCli) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]

    done = tenant_cli(f"http://127.0.0.1:{closed_port}", "--name", "Nowhere Ltd")

    assert done.returncode == 1
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1
    assert f"127.0.0.1:{closed_port}" in done.stderr
    assert "Traceback" not in done.stderr


def test_tenant_command_reports_a_missing_table_in_one_line(stack: Stack, tenant_cli: TenantCli) -> None:
    done = tenant_cli(stack.moto_endpoint, "--name", "Lost Ltd", STOCKROOM_MAIN_TABLE="no-such-table")

    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1
    assert "no-such-table" in done.stderr
    assert "Traceback" not in done.stderr


def test_stream_records_reach_the_audit_handler(stack_aws: Stack, eventually: Eventually) -> None:
    actor = Actor(id="user:e2e", name="E2E tester")
    key, _ = tenant_service().issue_key(stack_aws.company_id, "stream probe", ["inventory.read"], actor)

    events = eventually(lambda: history_service().events_for(stack_aws.company_id, "apiKey", key.key_id))

    assert [e.change_type for e in events] == ["INSERT"]
    assert events[0].changed_by_id == "user:e2e"
    assert events[0].entity_label == "stream probe"


def test_stream_delivers_modifications_in_order(stack_aws: Stack, eventually: Eventually) -> None:
    actor = Actor(id="user:e2e", name="E2E tester")
    key, _ = tenant_service().issue_key(stack_aws.company_id, "revoked soon", ["inventory.read"], actor)
    tenant_service().revoke_key(stack_aws.company_id, key.key_id, actor)

    def both() -> list[Any]:
        found = history_service().events_for(stack_aws.company_id, "apiKey", key.key_id)
        return found if len(found) == 2 else []

    events = eventually(both)

    assert [e.change_type for e in events] == ["INSERT", "MODIFY"]
    assert any(change.field == "revoked" and change.new is True for change in events[1].changes)


def test_dropped_file_reaches_the_import_handler_and_leaves_the_queue(stack_aws: Stack, eventually: Eventually) -> None:
    settings = get_settings()
    s3, sqs = client("s3"), client("sqs")
    marker = uuid.uuid4().hex
    ignored = f"exports/{stack_aws.company_id}/{marker}-ignored.csv"
    dropped = f"dropbox/{stack_aws.company_id}/inventory/{marker}.csv"

    s3.put_object(Bucket=settings.bucket, Key=ignored, Body=b"sku,quantity\nA,1\n")
    s3.put_object(Bucket=settings.bucket, Key=dropped, Body=b"sku,quantity\nA,1\n")

    # The drop becomes an import job; its `sku` column is not an inventory column, so the job fails naming it.
    def failed_job() -> bool:
        jobs = requests.get(
            f"{stack_aws.base_url}/companies/{stack_aws.company_id}/imports",
            headers={"X-API-Key": stack_aws.api_key},
            timeout=5,
        ).json()
        return any(
            j["filename"] == f"{marker}.csv" and j["status"] == "failed" and "'sku'" in (j["message"] or "")
            for j in jobs
        )

    eventually(failed_job, timeout=10)
    queue_url = sqs.get_queue_url(QueueName=settings.import_queue)["QueueUrl"]

    def queue_is_empty() -> bool:
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return attributes == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}

    eventually(queue_is_empty, timeout=5)
    assert ignored not in stack_aws.output()


def test_bucket_notifies_the_import_queue_for_uploads_and_the_drop_folder(stack_aws: Stack) -> None:
    settings = get_settings()

    configuration = client("s3").get_bucket_notification_configuration(Bucket=settings.bucket)

    prefixes = {
        rule["Value"]
        for queue in configuration["QueueConfigurations"]
        for rule in queue["Filter"]["Key"]["FilterRules"]
        if rule["Name"].lower() == "prefix"
    }
    assert prefixes == {"uploads/", "dropbox/"}
    # The same filters as the deployed template: everything under uploads/, CSV files under dropbox/.
    suffixes = {
        rule["Value"]
        for queue in configuration["QueueConfigurations"]
        for rule in queue["Filter"]["Key"]["FilterRules"]
        if rule["Name"].lower() == "suffix"
    }
    assert suffixes == {".csv", ".CSV"}
    assert all(
        queue["QueueArn"].endswith(f":{settings.import_queue}") for queue in configuration["QueueConfigurations"]
    )


def test_expiry_schedule_releases_an_expired_reservation(stack_aws: Stack, eventually: Eventually) -> None:
    service = stock_service()
    tenant_id = stack_aws.company_id
    record = service.create_record(
        tenant_id,
        NewStockRecord(product_id=f"product-{uuid.uuid4().hex}", location_id="main", quantity=Decimal(10)),
        SYSTEM,
    )
    service.reserve(tenant_id, record.stock_id, Decimal(3), SYSTEM, expires_at=utcnow() - timedelta(seconds=1))
    assert service.get(tenant_id, record.stock_id).reserved == Decimal(3)

    # The fixture's stack runs the expiry schedule every second.
    released = eventually(lambda: service.get(tenant_id, record.stock_id).reserved == 0, timeout=5)

    assert released
    assert service.get(tenant_id, record.stock_id).available == Decimal(10)


def test_sigterm_stops_the_stack_cleanly_and_quickly(stack_factory: Callable[..., StackProcess]) -> None:
    running = stack_factory()
    banner = running.wait_for_banner()
    assert requests.get(banner["base_url"] + "/health", timeout=5).status_code == 200

    code, took = running.terminate()

    assert code == 0, running.output()[-4000:]
    assert took < 3
    with pytest.raises(requests.ConnectionError):
        requests.get(banner["base_url"] + "/health", timeout=2)


# -- the event source semantics the stack plays, driven without a stack ---------------------

STREAM_ARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/t/stream/2026-01-01T00:00:00.000"


def stream_record(sequence: int) -> dict[str, Any]:
    return {
        "eventID": f"event-{sequence}",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "dynamodb": {
            "ApproximateCreationDateTime": datetime(2026, 1, 1, tzinfo=UTC),
            "Keys": {"pk": {"S": "T#1"}, "sk": {"S": f"K#{sequence}"}},
            "NewImage": {"pk": {"S": "T#1"}, "blob": {"B": b"\x00\x01"}, "n": {"N": "1.50"}},
            "SequenceNumber": str(sequence),
            "SizeBytes": 10,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }


class FakeStreams:
    """GetRecords over a fixed list of records, in pages."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self._records = records

    def get_shard_iterator(self, ShardIteratorType: str, SequenceNumber: str = "", **_: Any) -> dict[str, Any]:
        if ShardIteratorType == "TRIM_HORIZON":
            return {"ShardIterator": "0"}
        assert ShardIteratorType == "AFTER_SEQUENCE_NUMBER"
        numbers = [r["dynamodb"]["SequenceNumber"] for r in self._records]
        return {"ShardIterator": str(numbers.index(SequenceNumber) + 1)}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:
        start = int(ShardIterator)
        page = self._records[start : start + Limit]
        return {"Records": page, "NextShardIterator": str(start + len(page))}


class RecordingHandler:
    """Records the sequence numbers of each delivered batch; answers with `respond(batch)`."""

    def __init__(self, respond: Callable[[list[str]], Any]) -> None:
        self.batches: list[list[str]] = []
        self._respond = respond

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        batch = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
        self.batches.append(batch)
        return self._respond(batch)


def shard(records: list[dict[str, Any]], handler: RecordingHandler) -> ShardDelivery:
    read = streams_api_reader(FakeStreams(records), STREAM_ARN, "shard-1", "eu-west-1")
    return ShardDelivery(read, STREAM_ARN, handler)


def test_stream_record_has_lambdas_shape() -> None:
    converted = lambda_stream_record(stream_record(7), STREAM_ARN, "eu-west-1")

    assert converted["eventSource"] == "aws:dynamodb"
    assert converted["eventSourceARN"] == STREAM_ARN
    assert converted["awsRegion"] == "eu-west-1"
    assert converted["dynamodb"]["ApproximateCreationDateTime"] == int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    assert converted["dynamodb"]["NewImage"]["blob"] == {"B": "AAE="}
    assert converted["dynamodb"]["NewImage"]["n"] == {"N": "1.50"}
    assert json.loads(json.dumps(converted)) == converted


def test_stream_redelivers_from_the_first_reported_failure() -> None:
    failed_once: set[str] = set()

    def respond(batch: list[str]) -> dict[str, Any]:
        if "3" in batch and "3" not in failed_once:
            failed_once.add("3")
            return {"batchItemFailures": [{"itemIdentifier": s} for s in batch[batch.index("3") :]]}
        return {"batchItemFailures": []}

    handler = RecordingHandler(respond)
    delivery = shard([stream_record(n) for n in range(1, 6)], handler)

    delivery.step()
    delivery.step()
    delivery.step()

    assert handler.batches == [["1", "2", "3", "4", "5"], ["3", "4", "5"]]


def test_stream_bisects_a_raising_batch_and_skips_the_bad_record_after_five_retries() -> None:
    def respond(batch: list[str]) -> None:
        if "2" in batch:
            raise RuntimeError("poison")

    handler = RecordingHandler(respond)
    delivery = shard([stream_record(1), stream_record(2), stream_record(3)], handler)

    for _ in range(12):
        delivery.step()

    # Split until "2" fails alone, retried five times, then skipped; "1" and "3" get through.
    assert handler.batches == [["1", "2", "3"], ["1"], ["2", "3"], *[["2"]] * 6, ["3"]]


def test_queue_deletes_what_succeeded_and_keeps_reported_failures() -> None:
    sqs = FakeSqs([message("a", 1), message("b", 1), message("c", 1)])
    delivery = QueueDelivery(
        sqs, "url", "eu-west-1", lambda event, context: {"batchItemFailures": [{"itemIdentifier": "b"}]}
    )

    delivery.step()

    assert sqs.deleted == ["a", "c"]


def test_queue_drops_a_failing_message_after_five_receives_without_a_redrive_policy() -> None:
    sqs = FakeSqs([message("young", 4), message("old", 5)])

    def fail(event: dict[str, Any], context: Any) -> None:
        raise RuntimeError("importer broke")

    QueueDelivery(sqs, "url", "eu-west-1", fail).step()

    assert sqs.deleted == ["old"]


def message(message_id: str, receives: int) -> dict[str, Any]:
    return {
        "MessageId": message_id,
        "ReceiptHandle": f"handle-{message_id}",
        "Body": "{}",
        "MD5OfBody": "x",
        "Attributes": {"ApproximateReceiveCount": str(receives)},
    }


class FakeSqs:
    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self._messages = messages
        self.deleted: list[str] = []

    def get_queue_attributes(self, **_: Any) -> dict[str, Any]:
        return {"Attributes": {"QueueArn": "arn:aws:sqs:eu-west-1:123456789012:imports"}}

    def receive_message(self, **_: Any) -> dict[str, Any]:
        return {"Messages": self._messages}

    def delete_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> None:
        self.deleted.extend(entry["ReceiptHandle"].removeprefix("handle-") for entry in Entries)
