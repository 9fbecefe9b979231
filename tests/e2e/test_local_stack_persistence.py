"""`make run` keeps the company's data across restarts; `--reset` (`make reset`) starts from empty."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Api, StackProcess, start_stack


def started(tmp_path: Path, name: str, *args: str) -> tuple[StackProcess, dict[str, str]]:
    running = start_stack(tmp_path / f"{name}.log", *args)
    return running, running.wait_for_banner()


def written_history(api: Api, path: str) -> list[dict[str, object]]:
    """The item's history once the audit stream has written it (it follows the write)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        events: list[dict[str, object]] = api.get(path).json()
        if events:
            return events
        time.sleep(0.2)
    raise AssertionError(f"no history at {path}")


def stopped(running: StackProcess) -> None:
    code, _ = running.terminate()
    assert code == 0, running.output()[-3000:]


def eventually(read: Callable[[], list[Any]], seconds: float = 30.0) -> list[Any]:
    """What `read` answers once it is not empty (or its last answer after `seconds`)."""
    deadline = time.monotonic() + seconds
    answer = read()
    while not answer and time.monotonic() < deadline:
        time.sleep(0.2)
        answer = read()
    return answer


def test_a_restart_keeps_the_data_and_reset_starts_from_empty(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    # Given a stack that keeps its data, with an item, reference data and an uploaded file
    first, banner = started(tmp_path, "first", "--data", data)
    try:
        api = Api(banner["base_url"], banner["api_key"])
        company = f"/companies/{banner['company_id']}"
        made = api.post(f"{company}/inventory-types", json=[{"label": "Round bar"}])
        assert made.status_code == 201, made.text
        item = api.post(f"{company}/inventory", json=[{"productName": "Kept bar", "quantity": 3}]).json()[0]
        upload = api.post(
            f"{company}/inventory/csv",
            data=b"productName,quantity\nKept tube,2\n",
            headers={"Content-Type": "text/csv"},
        ).json()
        # History is written from the table's stream, a moment after the write: wait for it before stopping.
        history_before = eventually(lambda: api.get(f"{company}/inventory/{item['inventoryId']}/history").json())
    finally:
        stopped(first)

    # When it starts again on the same folder
    second, again = started(tmp_path, "second", "--data", data)
    try:
        # Then the same company and key work, and everything is there, history included, once
        assert (again["company_id"], again["api_key"]) == (banner["company_id"], banner["api_key"])
        api = Api(again["base_url"], again["api_key"])
        kept = api.get(f"{company}/inventory/{item['inventoryId']}")
        assert kept.status_code == 200, kept.text
        assert (kept.json()["productName"], kept.json()["quantity"]) == ("Kept bar", 3)
        assert [t["label"] for t in api.get(f"{company}/inventory-types").json()] == ["Round bar"]
        assert api.get(f"{company}/imports/{upload['jobId']}").status_code == 200
        assert api.get(f"{company}/inventory/{item['inventoryId']}/history").json() == history_before
    finally:
        stopped(second)

    # And a reset starts from empty: a new demo company, the old one gone
    third, fresh = started(tmp_path, "third", "--data", data, "--reset")
    try:
        assert fresh["company_id"] != banner["company_id"]
        api = Api(fresh["base_url"], fresh["api_key"])
        assert api.get(f"/companies/{fresh['company_id']}/inventory").json() == []
        assert Api(fresh["base_url"], banner["api_key"]).get("/whoami").status_code == 401
    finally:
        stopped(third)


def killed(running: StackProcess) -> None:
    """SIGKILL: no handler runs, nothing is saved at stop."""
    running.process.kill()
    running.process.wait(timeout=30)


def saved_items(data: Path) -> str:
    tables = data / "tables"
    return "".join(path.read_text(errors="replace") for path in tables.glob("*.jsonl")) if tables.is_dir() else ""


def test_a_killed_stack_keeps_what_its_last_periodic_save_held(tmp_path: Path) -> None:
    data = tmp_path / "data"
    # Given a stack that saves every second when something changed
    first, banner = started(tmp_path, "first", "--data", str(data), "--save-every", "1")
    try:
        api = Api(banner["base_url"], banner["api_key"])
        company = f"/companies/{banner['company_id']}"
        item = api.post(f"{company}/inventory", json=[{"productName": "Survivor bar", "quantity": 7}]).json()[0]
        # When a periodic save has the item (no stop has saved anything) and the stack is killed
        deadline = time.monotonic() + 30
        while "Survivor bar" not in saved_items(data):
            assert time.monotonic() < deadline, "no periodic save wrote the item"
            time.sleep(0.2)
    finally:
        killed(first)

    # Then the next start has it
    second, again = started(tmp_path, "second", "--data", str(data))
    try:
        assert (again["company_id"], again["api_key"]) == (banner["company_id"], banner["api_key"])
        api = Api(again["base_url"], again["api_key"])
        kept = api.get(f"{company}/inventory/{item['inventoryId']}")
        assert kept.status_code == 200, kept.text
        assert (kept.json()["productName"], kept.json()["quantity"]) == ("Survivor bar", 7)
    finally:
        stopped(second)


def test_an_import_cut_short_by_a_stop_finishes_after_the_restart(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    rows = 3000
    text = "productName,quantity\n" + "".join(f"Bar {n % 5},{n}\n" for n in range(1, rows + 1))
    first, banner = started(tmp_path, "first", "--data", data)
    try:
        api = Api(banner["base_url"], banner["api_key"])
        company = f"/companies/{banner['company_id']}"
        job = api.post(f"{company}/inventory/csv", data=text.encode(), headers={"Content-Type": "text/csv"}).json()
        # When the stack stops while the job runs (some rows done, not all)
        running = eventually(
            lambda: [j for j in [api.get(f"{company}/imports/{job['jobId']}").json()] if j["processed"] > 0]
        )
        assert running and running[0]["status"] == "running", running
    finally:
        stopped(first)
    # The stop paused the import (its lease given up) and kept the message that resumes it
    queued = "".join(path.read_text() for path in (Path(data) / "queues").glob("*.jsonl"))
    assert job["jobId"] in queued

    # Then after the restart the job goes on from its checkpoint and completes: every row once
    second, again = started(tmp_path, "second", "--data", data)
    try:
        api = Api(again["base_url"], again["api_key"])
        assert api.get(f"{company}/imports/{job['jobId']}").json()["status"] != "completed"
        done = eventually(
            lambda: [j for j in [api.get(f"{company}/imports/{job['jobId']}").json()] if j["status"] != "running"],
            seconds=240,
        )
        assert done, "the import did not go on after the restart"
        assert (done[0]["status"], done[0]["processed"], done[0]["created"]) == ("completed", rows, rows)
    finally:
        stopped(second)
