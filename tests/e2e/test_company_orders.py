"""The 003 company orders surface over HTTP against the local stack: every route,
its happy path, bad input, another company (404 for its ids, 403 for its path)
and a key without the permission (403)."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from fpdf import FPDF
from pypdf import PdfReader

if TYPE_CHECKING:
    from tests.e2e.conftest import Api, CreatedTenant

    MakeTenant = Callable[..., CreatedTenant]

pytestmark = pytest.mark.e2e


class Company:
    def __init__(self, api: Api, tenant: CreatedTenant) -> None:
        self.api = api.with_key(tenant.api_key)
        self.id = tenant.company_id

    def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.api.request(method, f"/companies/{self.id}{path}", json=body, **kwargs)

    def ok(self, method: str, path: str, body: Any = None, status: int = 200, **kwargs: Any) -> Any:
        response = self.call(method, path, body, **kwargs)
        assert response.status_code == status, response.text
        return response.json(parse_float=Decimal)


@pytest.fixture
def acme(api: Api, make_tenant: MakeTenant) -> Company:
    return Company(api, make_tenant("E2E Orders Acme"))


@pytest.fixture
def other(api: Api, make_tenant: MakeTenant) -> Company:
    return Company(api, make_tenant("E2E Orders Other"))


def customer(company: Company, name: str = "Sheffield Forge Ltd") -> str:
    created: str = company.ok("POST", "/organisations", [{"name": name}], 201)[0]["id"]
    return created


def stock_row(company: Company, quantity: str, heat_code: str | None = None) -> str:
    location = company.ok("POST", "/stock-locations", [{"label": "Bay 1"}], 201)[0]["id"]
    body: dict[str, Any] = {"productName": "Round bar EN24T 50mm", "quantity": quantity, "stockLocationId": location}
    if heat_code:
        body["heatCode"] = heat_code
    created: str = company.ok("POST", "/inventory", [body], 201)[0]["inventoryId"]
    return created


def new_order(company: Company, reference: str, customer_id: str | None = None, lines: int = 2) -> dict[str, Any]:
    body: dict[str, Any] = {
        "orderReference": reference,
        "orderDate": "2026-11-23",
        "deliveryDate": "2026-12-01",
        "site": "Rotherham",
        "lineItems": [
            {"productName": f"Round bar {j}", "diameter": "50", "length": "3000", "quantity": str(j + 1)}
            for j in range(lines)
        ],
    }
    if customer_id:
        body["relatedOrganisationId"] = customer_id
    created: dict[str, Any] = company.ok("POST", "/orders", [body], 201)[0]
    return created


def test_order_lifecycle(acme: Company, eventually: Any) -> None:
    buyer = customer(acme)
    created = new_order(acme, "SO-100", buyer)
    order_id = created["orderId"]
    assert created["customerName"] == "Sheffield Forge Ltd"
    assert created["quantity"] == Decimal(3)  # 1 + 2: the sum of the lines
    assert [line["lineNumber"] for line in created["lineItems"]] == [1, 2]

    got = acme.ok("GET", f"/orders/{order_id}")
    assert got["orderReference"] == "SO-100"
    assert len(got["lineItems"]) == 2
    details = acme.ok("GET", f"/orders/{order_id}/details")
    assert details["orderId"] == order_id
    assert details["customerName"] == "Sheffield Forge Ltd"
    assert [x["lineItemId"] for x in details["lineItems"]] == [x["lineItemId"] for x in got["lineItems"]]

    listed = acme.ok("GET", "/orders")
    assert [o["orderId"] for o in listed] == [order_id]
    assert listed[0]["customerName"] == "Sheffield Forge Ltd"

    # The update keeps line 1 (new quantity) and drops line 2.
    first = got["lineItems"][0]
    updated = acme.ok(
        "PUT",
        "/orders",
        [
            {
                "orderId": order_id,
                "status": "confirmed",
                "lineItems": [{"lineItemId": first["lineItemId"], "quantity": "5"}],
            }
        ],
    )[0]
    assert updated["status"] == "confirmed"
    assert [x["lineItemId"] for x in updated["lineItems"]] == [first["lineItemId"]]
    assert updated["quantity"] == Decimal(5)

    stale = acme.call("PUT", "/orders", [{"orderId": order_id, "version": created["version"], "site": "Leeds"}])
    assert stale.status_code == 409, stale.text

    def updated_in_history() -> list[dict[str, Any]] | None:
        # History is written from the table stream, moments after the write.
        events: list[dict[str, Any]] = acme.ok("GET", f"/orders/{order_id}/history")
        return events if any(e["changeType"] == "UPDATE" and e["entityType"] == "order" for e in events) else None

    history = eventually(updated_in_history, timeout=10)
    assert {e["entityType"] for e in history} == {"order", "orderLineItem"}

    assert acme.ok("DELETE", "/orders", {"ids": [order_id]}) == {"deletedCount": 1, "deletedIds": [order_id]}
    assert acme.ok("GET", "/orders") == []
    assert [o["orderId"] for o in acme.ok("GET", "/orders/deleted")] == [order_id]
    assert acme.call("GET", f"/orders/{order_id}").status_code == 404

    restored = acme.ok("POST", "/orders/restore", {"ids": [order_id]})
    assert restored == {"deletedCount": 1, "deletedIds": [order_id]}
    assert acme.ok("GET", f"/orders/{order_id}")["active"] is True
    assert acme.ok("GET", "/orders/deleted") == []


def test_bad_input_is_a_4xx_naming_the_field_and_writes_nothing(acme: Company) -> None:
    cases: list[tuple[Any, str]] = [
        ([{"orderReference": "SO-1", "orderDate": "23/11/2026"}], "orderDate"),
        ([{"orderReference": "SO-1", "lineItems": [{"productName": "Bar", "quantity": "-1"}]}], "quantity"),
        ([{"orderReference": "SO-1", "relatedOrganisationId": "no-such-org"}], "relatedOrganisationId"),
        ([{"orderReference": "SO-1"}, {"orderReference": "so-1"}], "orderReference"),
        ([{"site": "no reference"}], "orderReference"),
    ]
    for body, field in cases:
        response = acme.call("POST", "/orders", body)
        assert 400 <= response.status_code < 500, (body, response.text)
        assert field in json.dumps(response.json()), (field, response.text)
    assert acme.ok("GET", "/orders") == []

    not_json = acme.api.request(
        "POST", f"/companies/{acme.id}/orders", data=b"{", headers={"Content-Type": "application/json"}
    )
    assert not_json.status_code == 400


def test_reserve_split_and_whole_row_then_unreserve(acme: Company) -> None:
    order = new_order(acme, "SO-200")
    order_id, line = order["orderId"], order["lineItems"][0]["lineItemId"]
    row = stock_row(acme, "10")
    base = f"/orders/{order_id}/line-items/{line}"

    split = acme.ok("POST", f"{base}/reserve", params={"inventoryId": row, "reserveQuantity": "4", "split": "1"})
    assert split["wasSplit"] is True
    assert split["originalInventoryId"] == row
    assert split["orderLineItemId"] == line
    new_row = acme.ok("GET", f"/inventory/{split['linkedInventoryId']}")
    assert new_row["quantity"] == Decimal(4)
    assert "SO-200" in new_row["productName"]
    linked = json.loads(new_row["linkedOrders"])
    assert linked and linked[0]["orderId"] == order_id
    assert acme.ok("GET", f"/inventory/{row}")["quantity"] == Decimal(6)

    # split=0 must take the whole row; anything else is refused.
    partial = acme.call("POST", f"{base}/reserve", params={"inventoryId": row, "reserveQuantity": "2", "split": "0"})
    assert partial.status_code == 400 and "reserveQuantity" in partial.text
    too_much = acme.call("POST", f"{base}/reserve", params={"inventoryId": row, "reserveQuantity": "7", "split": "1"})
    assert 400 <= too_much.status_code < 500 and too_much.status_code != 404
    bad_split = acme.call("POST", f"{base}/reserve", params={"inventoryId": row, "reserveQuantity": "1", "split": "2"})
    assert bad_split.status_code == 400 and "split" in bad_split.text
    bad_quantity = acme.call(
        "POST", f"{base}/reserve", params={"inventoryId": row, "reserveQuantity": "abc", "split": "1"}
    )
    assert bad_quantity.status_code == 400 and "reserveQuantity" in bad_quantity.text

    whole = acme.ok("POST", f"{base}/reserve", params={"inventoryId": row, "reserveQuantity": "6", "split": "0"})
    assert whole["wasSplit"] is False and whole["linkedInventoryId"] == row

    removed = acme.ok("DELETE", f"{base}/reservations/{split['linkedInventoryId']}")
    assert removed["inventoryId"] == split["linkedInventoryId"]
    assert removed["orderLineItemId"] == line
    assert removed["companyId"] == acme.id
    # The split is not undone: the new row stays, now unlinked.
    after = acme.ok("GET", f"/inventory/{split['linkedInventoryId']}")
    assert after["quantity"] == Decimal(4) and after["linkedOrders"] == "[]"
    again = acme.call("DELETE", f"{base}/reservations/{split['linkedInventoryId']}")
    assert again.status_code == 404

    # Deleting the order releases the whole-row reservation; restoring does not take it back.
    acme.ok("DELETE", "/orders", {"ids": [order_id]})
    assert acme.ok("GET", f"/inventory/{row}")["linkedOrders"] == "[]"
    acme.ok("POST", "/orders/restore", {"ids": [order_id]})
    assert acme.ok("GET", f"/inventory/{row}")["linkedOrders"] == "[]"


def test_downloads(acme: Company) -> None:
    buyer = customer(acme, "=HYPERLINK(evil)")
    new_order(acme, "SO-300", buyer)
    gone = new_order(acme, "SO-301")
    acme.ok("DELETE", "/orders", {"ids": [gone["orderId"]]})

    response = acme.call("GET", "/orders/csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [r["OrderReference"] for r in rows] == ["SO-300"]
    assert rows[0]["CustomerName"] == "'=HYPERLINK(evil)"

    zipped = acme.call("GET", "/orders/zip")
    assert zipped.status_code == 200
    with zipfile.ZipFile(io.BytesIO(zipped.content)) as archive:
        assert sorted(archive.namelist()) == ["order-line-items.csv", "orders.csv"]
        lines = list(csv.DictReader(io.StringIO(archive.read("order-line-items.csv").decode("utf-8-sig"))))
    assert len(lines) == 2
    assert {r["OrderReference"] for r in lines} == {"SO-300"}

    template = acme.call("GET", "/orders/csv/template")
    assert template.status_code == 200
    with zipfile.ZipFile(io.BytesIO(template.content)) as archive:
        assert sorted(archive.namelist()) == ["order-line-items-template.csv", "orders-template.csv"]


def test_certificate_pack_is_a_pdf_served_again_from_the_cache(acme: Company) -> None:
    certification = acme.ok("POST", "/mill-certifications", [{"heatCode": "HC-77"}], 201)[0]
    document = FPDF()
    document.set_font("helvetica", size=14)
    document.add_page()
    document.cell(0, 10, "MILL CERTIFICATE HC-77 EN 10204 3.1")
    uploaded = acme.api.put(
        f"/companies/{acme.id}/mill-certifications/{certification['id']}/document",
        data=bytes(document.output()),
        headers={"Content-Type": "application/pdf"},
    )
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["documentUrl"].startswith(f"certificates/{acme.id}/{certification['id']}/")
    order = new_order(acme, "SO-400")
    line = order["lineItems"][0]["lineItemId"]
    row = stock_row(acme, "3", heat_code="HC-77")
    acme.ok(
        "POST",
        f"/orders/{order['orderId']}/line-items/{line}/reserve",
        params={"inventoryId": row, "reserveQuantity": "3", "split": "0"},
    )
    path = f"/orders/{order['orderId']}/certificate-pack"
    first = acme.call("GET", path)
    assert first.status_code == 200, first.text
    assert first.headers["Content-Type"] == "application/pdf"
    assert first.content.startswith(b"%PDF")
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(first.content)).pages]
    assert len(pages) == 2  # the cover, then the uploaded certificate's page
    assert "MILL CERTIFICATE HC-77 EN 10204 3.1" in pages[1]
    etag = first.headers["ETag"]
    second = acme.call("GET", path)
    assert second.headers["ETag"] == etag
    assert acme.call("GET", path, headers={"If-None-Match": etag}).status_code == 304

    acme.ok("DELETE", f"/orders/{order['orderId']}/line-items/{line}/reservations/{row}")
    assert acme.call("GET", path).headers["ETag"] != etag


def test_other_companies_get_404_for_ids_and_403_for_paths(acme: Company, other: Company) -> None:
    order = new_order(acme, "SO-500")
    order_id, line = order["orderId"], order["lineItems"][0]["lineItemId"]
    row = stock_row(acme, "2")
    for method, path, body in (
        ("GET", f"/orders/{order_id}", None),
        ("GET", f"/orders/{order_id}/details", None),
        ("GET", f"/orders/{order_id}/history", None),
        ("GET", f"/orders/{order_id}/certificate-pack", None),
        ("PUT", "/orders", [{"orderId": order_id, "site": "x"}]),
        ("DELETE", "/orders", {"ids": [order_id]}),
        ("POST", "/orders/restore", {"ids": [order_id]}),
        ("DELETE", f"/orders/{order_id}/line-items/{line}/reservations/{row}", None),
    ):
        response = other.call(method, path, body)
        assert response.status_code == 404, (method, path, response.text)
    reserve = other.call(
        "POST",
        f"/orders/{order_id}/line-items/{line}/reserve",
        params={"inventoryId": row, "reserveQuantity": "2", "split": "0"},
    )
    assert reserve.status_code == 404
    assert other.ok("GET", "/orders") == []

    paths = ["/orders", "/orders/deleted", f"/orders/{order_id}", "/orders/csv", "/orders/zip", "/orders/csv/template"]
    for path in paths:
        response = other.api.get(f"/companies/{acme.id}{path}")
        assert response.status_code == 403, (path, response.text)
        assert response.json()["error"]
    assert other.api.post(f"/companies/{acme.id}/orders", json=[{"orderReference": "X"}]).status_code == 403
    assert acme.ok("GET", f"/orders/{order_id}")["site"] == "Rotherham"


def test_missing_permission_is_403(api: Api, make_tenant: MakeTenant) -> None:
    reader = Company(api, make_tenant("E2E Orders Reader", "orders.read"))
    assert reader.ok("GET", "/orders") == []
    for method, path, body in (
        ("POST", "/orders", [{"orderReference": "SO-1"}]),
        ("PUT", "/orders", [{"orderId": "x"}]),
        ("DELETE", "/orders", {"ids": ["x"]}),
        ("POST", "/orders/restore", {"ids": ["x"]}),
        ("POST", "/orders/x/line-items/y/reserve?inventoryId=z&reserveQuantity=1&split=1", None),
        ("DELETE", "/orders/x/line-items/y/reservations/z", None),
    ):
        response = reader.call(method, path, body)
        assert response.status_code == 403, (method, path, response.text)
    blind = Company(api, make_tenant("E2E Orders Blind", "inventory.read"))
    for path in ("/orders", "/orders/deleted", "/orders/csv", "/orders/zip", "/orders/csv/template", "/orders/x"):
        assert blind.call("GET", path).status_code == 403, path


def test_template_files_uploaded_together_import_orders_then_lines(acme: Company, eventually: Any) -> None:
    template = acme.call("GET", "/orders/csv/template")
    with zipfile.ZipFile(io.BytesIO(template.content)) as archive:
        orders_csv = archive.read("orders-template.csv")
        lines_csv = archive.read("order-line-items-template.csv")
    expected_references = {r["OrderReference"] for r in csv.DictReader(io.StringIO(orders_csv.decode("utf-8-sig")))}
    expected_lines = len(list(csv.DictReader(io.StringIO(lines_csv.decode("utf-8-sig")))))

    # The lines file comes first and under a misleading field name: the header decides.
    files = [("orders", ("a.csv", lines_csv, "text/csv")), ("lines", ("b.csv", orders_csv, "text/csv"))]
    response = acme.api.post(f"/companies/{acme.id}/orders/csv", files=files)
    assert response.status_code == 202, response.text
    jobs = response.json()["jobs"]
    assert [job["kind"] for job in jobs] == ["orders", "order-lines"]

    def finished() -> list[dict[str, Any]] | None:
        states = [acme.ok("GET", f"/imports/{job['jobId']}") for job in jobs]
        return states if all(s["status"] in ("completed", "failed") for s in states) else None

    states = eventually(finished, timeout=30)
    assert [(s["status"], s["failed"]) for s in states] == [("completed", 0), ("completed", 0)], states
    assert states[1]["created"] == expected_lines

    listed = acme.ok("GET", "/orders")
    assert {o["orderReference"] for o in listed} == expected_references
    lines = [line for o in listed for line in acme.ok("GET", f"/orders/{o['orderId']}")["lineItems"]]
    assert len(lines) == expected_lines
    for order in listed:
        got = acme.ok("GET", f"/orders/{order['orderId']}")
        assert got["quantity"] == sum(Decimal(line["quantity"]) for line in got["lineItems"])

    unreadable = acme.api.post(
        f"/companies/{acme.id}/orders/csv", files=[("file", ("x.csv", b"Colour,Size\nred,4\n", "text/csv"))]
    )
    assert unreadable.status_code == 400 and "x.csv" in unreadable.text


def test_parallel_reserves_never_take_more_than_the_row_holds(acme: Company) -> None:
    from concurrent.futures import ThreadPoolExecutor

    order = new_order(acme, "SO-600", lines=1)
    line = order["lineItems"][0]["lineItemId"]
    row = stock_row(acme, "10")
    path = f"/companies/{acme.id}/orders/{order['orderId']}/line-items/{line}/reserve"

    def reserve(_: int) -> int:
        # A session per thread: requests.Session is not thread-safe.
        api = acme.api.with_key(acme.api.api_key)
        params = {"inventoryId": row, "reserveQuantity": "3", "split": "1"}
        return api.post(path, params=params, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(reserve, range(8)))

    assert statuses.count(200) == 3, statuses
    assert set(statuses) <= {200, 409}, statuses
    source = acme.ok("GET", f"/inventory/{row}")
    assert source["quantity"] == Decimal(1)
