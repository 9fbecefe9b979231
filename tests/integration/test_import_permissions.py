"""Who may see and start import jobs: the permission of the job's kind decides.

Inventory jobs take inventory.read / inventory.write; the orders and
order-lines jobs of the orders upload take orders.read / orders.write. The job
routes let in a key holding either, then check the job's own kind: a key sees
and starts only the kinds it has the permission for, and the list leaves the
other kinds out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import wiring
from chalicelib.core.imports import registry
from chalicelib.core.models import SYSTEM
from chalicelib.events import imports
from chalicelib.settings import get_settings
from chalicelib.storage.aws import client
from chalicelib.storage.import_repo import s3_notification
from chalicelib.surfaces.company.imports import PresignRequest
from tests.integration.company import Company, error_fields, make_company

pytestmark = pytest.mark.shared_aws

BOUNDARY = "b0undary"
ORDERS_CSV = "OrderReference,Site\nSO-P1,Leeds\nSO-P2,York\n"
LINES_CSV = "OrderReference,ProductName,Quantity\nSO-P1,Bar,5\nSO-P2,Tube,x\n"
INVENTORY_CSV = "productName,quantity,stockLocationId\nPerm bar,1,nowhere\n"


@dataclass(frozen=True)
class Keys:
    """One company seen through keys of different permissions."""

    admin: Company  # every import permission
    orders: Company  # orders.read, orders.write
    inventory: Company  # inventory.read, inventory.write
    orders_reader: Company  # orders.read
    tasks: Company  # tasks.read: no import permission at all


@pytest.fixture
def keys(http: Client) -> Keys:
    tenant_id = make_company(http, "Permission Steel", ("admin",)).id
    service = wiring.tenant_service()

    def key(*permissions: str) -> Company:
        _, raw = service.issue_key(tenant_id, "-".join(permissions), list(permissions), SYSTEM)
        return Company(http, tenant_id, raw)

    return Keys(
        admin=key("inventory.read", "inventory.write", "orders.read", "orders.write"),
        orders=key("orders.read", "orders.write"),
        inventory=key("inventory.read", "inventory.write"),
        orders_reader=key("orders.read"),
        tasks=key("tasks.read"),
    )


# -- helpers ---------------------------------------------------------------------


def post_file(company: Company, path: str, body: bytes, content_type: str) -> dict[str, Any]:
    response = company.http.http.request(
        "POST",
        f"/companies/{company.id}{path}",
        headers={"X-API-Key": company.key, "Content-Type": content_type},
        body=body,
    )
    assert response.status_code == 202, response.body
    accepted: dict[str, Any] = json.loads(response.body)
    return accepted


def upload_orders(company: Company) -> tuple[str, str]:
    """Both order files in one upload; the (orders job, order-lines job) ids."""
    parts = [("o", "orders.csv", ORDERS_CSV), ("l", "lines.csv", LINES_CSV)]
    body = "".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
        f"Content-Type: text/csv\r\n\r\n{text}\r\n"
        for name, filename, text in parts
    )
    form = (body + f"--{BOUNDARY}--\r\n").encode()
    accepted = post_file(company, "/orders/csv", form, f"multipart/form-data; boundary={BOUNDARY}")
    orders_job, lines_job = accepted["jobs"]
    return orders_job["jobId"], lines_job["jobId"]


def upload_inventory(company: Company) -> str:
    job_id: str = post_file(company, "/inventory/csv", INVENTORY_CSV.encode(), "text/csv")["jobId"]
    return job_id


def deliver(key: str) -> None:
    message = {"messageId": f"m-{key}", "body": s3_notification(get_settings().bucket, key, "0055AED6DCD90281E5")}
    assert imports.handle({"Records": [message]}) == {"batchItemFailures": []}


def drain() -> None:
    """Run the wake-ups the workers queued (a line items job whose orders job has finished)."""
    sqs = client("sqs")
    url = sqs.get_queue_url(QueueName=get_settings().import_queue)["QueueUrl"]
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        event = {"Records": [{"messageId": m["MessageId"], "body": m["Body"]} for m in messages]}
        assert imports.handle(event) == {"batchItemFailures": []}
        for m in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def listed(company: Company, limit: int = 100) -> list[str]:
    """Every job id the key can list, following X-Next-Token to the end."""
    ids: list[str] = []
    token: str | None = None
    while True:
        query = f"?limit={limit}" + (f"&nextToken={token}" if token else "")
        response = company.call("GET", f"/imports{query}")
        assert response.status_code == 200, response.body
        page = json.loads(response.body)
        assert len(page) <= limit
        ids += [job["jobId"] for job in page]
        token = response.headers.get("X-Next-Token")
        if not token:
            return ids


def refused(response: Any, permission: str) -> str:
    """Assert a 403 for the permission; the message."""
    assert response.status_code == 403, response.body
    body = json.loads(response.body)
    assert (body["code"], error_fields(response)) == ("FORBIDDEN", ["permissions"])
    assert permission in body["error"]
    message: str = body["error"]
    return message


# -- the kind's permissions, in one place -----------------------------------------------------


def test_every_kind_the_import_service_runs_has_its_permissions(http: Client) -> None:
    assert set(registry.names()) == set(wiring.import_service().kinds)
    assert [registry.permission(k) for k in ("inventory", "orders", "order-lines")] == [
        "inventory.read",
        "orders.read",
        "orders.read",
    ]
    assert [registry.permission(k, write=True) for k in ("inventory", "orders", "order-lines")] == [
        "inventory.write",
        "orders.write",
        "orders.write",
    ]
    # A kind nobody has mapped yet is for admin keys only, never open by accident.
    assert (registry.permission("pallets"), registry.permission("pallets", write=True)) == ("admin", "admin")
    assert (set(registry.read_any()), set(registry.write_any())) == (
        {"inventory.read", "orders.read"},
        {"inventory.write", "orders.write"},
    )
    # The presigned upload takes exactly the kinds that have permissions.
    kind_schema = PresignRequest.model_json_schema()["properties"]["kind"]
    assert set(kind_schema["enum"]) == set(registry.names())


# -- following jobs ----------------------------------------------------------------------------


def test_an_orders_key_follows_the_jobs_of_its_own_orders_upload(keys: Keys) -> None:
    # Given an orders-only key that uploads both order files, and the workers that run them
    orders_job, lines_job = upload_orders(keys.orders)
    deliver(f"uploads/{keys.orders.id}/orders/{orders_job}.csv")
    drain()

    # When it follows the jobs
    orders = keys.orders.ok("GET", f"/imports/{orders_job}")
    lines = keys.orders.ok("GET", f"/imports/{lines_job}")

    # Then it sees them to the end, bad rows included
    assert (orders["kind"], orders["status"], orders["created"]) == ("orders", "completed", 2)
    assert (lines["kind"], lines["status"], lines["created"], lines["failed"]) == ("order-lines", "completed", 1, 1)
    assert [(e["line"], e["field"]) for e in lines["errors"]] == [(3, "Quantity")]
    report = keys.orders.call("GET", f"/imports/{lines_job}/errors.csv")
    assert report.status_code == 200
    assert report.body.decode().splitlines()[1].startswith("3,Quantity,")
    # And a key with orders.read alone may read them too
    assert keys.orders_reader.ok("GET", f"/imports/{lines_job}")["failed"] == 1


def test_a_job_of_a_kind_the_key_may_not_read_is_403_naming_the_permission(keys: Keys) -> None:
    # Given one inventory job and the two jobs of an orders upload
    inventory_job = upload_inventory(keys.inventory)
    orders_job, lines_job = upload_orders(keys.orders)

    # Then the orders key is refused the inventory job, for inventory.read
    message = refused(keys.orders.call("GET", f"/imports/{inventory_job}"), "inventory.read")
    assert "inventory import jobs" in message
    refused(keys.orders.call("GET", f"/imports/{inventory_job}/errors.csv"), "inventory.read")

    # And the inventory key is refused both order jobs, for orders.read
    for job_id, kind in ((orders_job, "orders"), (lines_job, "order-lines")):
        message = refused(keys.inventory.call("GET", f"/imports/{job_id}"), "orders.read")
        assert f"{kind} import jobs" in message
        refused(keys.inventory.call("GET", f"/imports/{job_id}/errors.csv"), "orders.read")

    # While a key with both reads all three, and a missing job stays a 404 for any key
    for job_id in (inventory_job, orders_job, lines_job):
        assert keys.admin.call("GET", f"/imports/{job_id}").status_code == 200
    assert keys.orders.call("GET", "/imports/no-such-job").status_code == 404
    assert keys.orders.call("GET", "/imports/no-such-job/errors.csv").status_code == 404


def test_a_key_without_any_import_permission_is_refused_at_the_route(keys: Keys) -> None:
    inventory_job = upload_inventory(keys.inventory)
    for path in ("/imports", f"/imports/{inventory_job}", f"/imports/{inventory_job}/errors.csv"):
        message = refused(keys.tasks.call("GET", path), "orders.read")
        assert "inventory.read" in message
    message = refused(keys.tasks.call("POST", "/imports", {"kind": "orders"}), "orders.write")
    assert "inventory.write" in message


# -- the list ------------------------------------------------------------------------------------


def test_the_list_shows_only_the_kinds_the_key_may_read(keys: Keys) -> None:
    # Given jobs of every kind, interleaved in time
    first_inventory = upload_inventory(keys.inventory)
    orders_job, lines_job = upload_orders(keys.orders)
    second_inventory = upload_inventory(keys.inventory)

    # Then each key lists its own kinds, newest first, and the key with both lists all of them
    assert set(listed(keys.orders)) == {orders_job, lines_job}
    assert set(listed(keys.orders_reader)) == {orders_job, lines_job}
    assert listed(keys.inventory) == [second_inventory, first_inventory]
    everything = listed(keys.admin)
    assert set(everything) == {first_inventory, orders_job, lines_job, second_inventory}
    assert everything[0] == second_inventory and everything[-1] == first_inventory


def test_filtered_pages_may_be_short_but_following_the_token_finds_every_readable_job(keys: Keys) -> None:
    # Given two order jobs between inventory jobs
    inventory_jobs = [upload_inventory(keys.inventory) for _ in range(2)]
    order_jobs = set(upload_orders(keys.orders))
    inventory_jobs += [upload_inventory(keys.inventory) for _ in range(2)]

    # When the orders key pages one job at a time
    pages: list[list[str]] = []
    token: str | None = None
    while True:
        query = "?limit=1" + (f"&nextToken={token}" if token else "")
        response = keys.orders.call("GET", f"/imports{query}")
        pages.append([job["jobId"] for job in json.loads(response.body)])
        token = response.headers.get("X-Next-Token")
        if not token:
            break

    # Then the inventory jobs' pages come back empty (with a token), and the order jobs are all found
    assert [] in pages
    assert {job for page in pages for job in page} == order_jobs
    assert not {job for page in pages for job in page} & set(inventory_jobs)
    assert len(pages) >= len(order_jobs) + len(inventory_jobs)


# -- starting a presigned import ----------------------------------------------------------------


def test_an_orders_key_starts_a_presigned_orders_import_and_it_runs(keys: Keys) -> None:
    # When the orders key asks for a presigned upload of an orders file
    presigned = keys.orders.ok("POST", "/imports", {"kind": "orders", "filename": "big orders.csv"}, 201)
    job_id = presigned["jobId"]
    key = f"uploads/{keys.orders.id}/orders/{job_id}.csv"
    assert presigned["uploadFields"]["key"] == key
    queued = keys.orders.ok("GET", f"/imports/{job_id}")
    assert (queued["kind"], queued["source"], queued["status"]) == ("orders", "presigned", "queued")

    # And the file reaches S3 (as the form POST would put it) and the worker runs
    client("s3").put_object(Bucket=get_settings().bucket, Key=key, Body=ORDERS_CSV.encode())
    deliver(key)

    # Then the key follows its job to the end, and the orders exist
    job = keys.orders.ok("GET", f"/imports/{job_id}")
    assert (job["status"], job["created"], job["failed"]) == ("completed", 2, 0)
    views = wiring.order_service().page(keys.orders.id, 100, None).items
    assert {v.order.order_reference for v in views} == {"SO-P1", "SO-P2"}

    # And a lines file has a presigned upload of its own
    lines = keys.orders.ok("POST", "/imports", {"kind": "order-lines"}, 201)
    assert lines["uploadFields"]["key"] == f"uploads/{keys.orders.id}/order-lines/{lines['jobId']}.csv"


def test_a_presigned_upload_needs_the_write_permission_of_its_kind(keys: Keys) -> None:
    jobs_before = set(listed(keys.admin))

    # The orders key may not start inventory imports, the default kind included
    for body in ({"kind": "inventory"}, {}):
        message = refused(keys.orders.call("POST", "/imports", body), "inventory.write")
        assert "inventory imports" in message
    # The inventory key may not start either kind of order import
    for kind in ("orders", "order-lines"):
        message = refused(keys.inventory.call("POST", "/imports", {"kind": kind}), "orders.write")
        assert f"{kind} imports" in message
    # A reader starts nothing, whatever the kind
    refused(keys.orders_reader.call("POST", "/imports", {"kind": "orders"}), "orders.write")
    # And none of the refusals left a job behind
    assert set(listed(keys.admin)) == jobs_before

    # While each key starts its own kind, and an unknown kind is still a 400
    assert keys.inventory.ok("POST", "/imports", {"kind": "inventory"}, 201)["status"] == "queued"
    assert keys.orders.ok("POST", "/imports", {"kind": "order-lines"}, 201)["status"] == "queued"
    unknown = keys.orders.call("POST", "/imports", {"kind": "pallets"})
    assert (unknown.status_code, error_fields(unknown)) == (400, ["kind"])


# -- the document ---------------------------------------------------------------------------------


def test_openapi_describes_the_job_routes_as_taking_any_one_of_the_permissions(http: Client) -> None:
    document = json.loads(http.http.get("/openapi.json").body)
    jobs = "/companies/{companyId}/imports"
    for path, method, any_of in (
        (jobs, "get", ["inventory.read", "orders.read"]),
        (f"{jobs}/{{jobId}}", "get", ["inventory.read", "orders.read"]),
        (f"{jobs}/{{jobId}}/errors.csv", "get", ["inventory.read", "orders.read"]),
        (jobs, "post", ["inventory.write", "orders.write"]),
    ):
        operation = document["paths"][path][method]
        assert (operation["x-permissions"], operation["x-permissions-any-of"]) == ([], any_of), (method, path)
    # Routes that need all their permissions carry no any-of list
    upload = document["paths"]["/companies/{companyId}/orders/csv"]["post"]
    assert (upload["x-permissions"], "x-permissions-any-of" in upload) == (["orders.write"], False)
    assert "x-permissions-any-of" in document["info"]["description"]
