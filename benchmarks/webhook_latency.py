"""Stream-to-webhook latency THROUGH THE LOCAL STACK: p50 and p99 for 1,000 stock changes.

    python -m benchmarks.webhook_latency                 # 1,000 changes (~2-4 min)
    python -m benchmarks.webhook_latency --events 200    # quicker

Starts `python -m infra.localstack` on free loopback ports (as tests/e2e/conftest.py
does), registers a webhook receiver on 127.0.0.1 for `stock.changed`, and makes
`--events` stock changes over HTTP (the 000 `PUT /companies/{id}/inventory`, one
item at a time, round robin over `--items` items so several FIFO groups are in
flight). Every change sets a quantity no other change sets, so each delivery is
matched to its write. Two latencies per change, to its arrival at the receiver:

- from the write's HTTP answer (what a client sees: write -> event), and
- from the event's `occurredAt` (the write's own timestamp, inside the request).

Both include the local stack's event-source polling (DynamoDB stream and SQS,
every 0.2 s), the events consumer, the FIFO queue and the sender function, all
in the stack's one process. Nothing asserts: the figures are for reading.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from benchmarks.loopback import Receiver, start_stack, stop_stack


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def run(events: int, items: int, wait: float) -> None:
    import requests

    folder = tempfile.TemporaryDirectory(prefix="stockroom-bench-")
    process, banner = start_stack(Path(folder.name) / "stack.log")
    receiver = Receiver()
    try:
        base, company = banner["url"], banner["company"]
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {banner['key']}"
        made = session.post(f"{base}/webhooks", json={"url": receiver.url, "events": ["stock.changed"]}, timeout=30)
        made.raise_for_status()
        created = session.post(
            f"{base}/companies/{company}/inventory",
            json=[{"productName": f"Latency bar {n}", "quantity": "0"} for n in range(items)],
            timeout=30,
        )
        created.raise_for_status()
        ids = [item["inventoryId"] for item in created.json()]
        answered: dict[Decimal, float] = {}
        began = time.perf_counter()
        for n in range(events):
            quantity = Decimal(n + 1)  # unique: matches the delivery to its write
            done = session.put(
                f"{base}/companies/{company}/inventory",
                json=[{"inventoryId": ids[n % items], "quantity": str(quantity)}],
                timeout=30,
            )
            done.raise_for_status()
            answered[quantity] = time.time()
        writing = time.perf_counter() - began
        deadline = time.monotonic() + wait
        matched: dict[Decimal, tuple[float, dict[str, Any]]] = {}
        while time.monotonic() < deadline:
            for arrived, event in receiver.snapshot():
                after = (event.get("data") or {}).get("after") or {}
                on_hand = after.get("onHand")
                if on_hand is not None and Decimal(str(on_hand)) in answered:
                    matched.setdefault(Decimal(str(on_hand)), (arrived, event))
            if len(matched) == len(answered):
                break
            time.sleep(0.2)
        drained = time.perf_counter() - began
        from_answer = [(matched[q][0] - answered[q]) * 1000 for q in matched]
        from_occurred = [
            (arrived - _epoch(event["occurredAt"])) * 1000 for arrived, event in (matched[q] for q in matched)
        ]
    finally:
        receiver.server.shutdown()
        stop_stack(process)
        folder.cleanup()
    print(
        f"\nlocal stack, {events} stock changes over HTTP (000 PUT, {items} items round robin, one at a time: "
        f"{writing:.1f} s, {events / writing:.0f} writes/s); {len(matched)} of {events} delivered "
        f"to the loopback receiver ({drained:.1f} s from the first write to the last arrival)"
    )
    if not matched:
        print("no deliveries arrived")
        return
    print("\n| stream-to-webhook latency | p50 | p99 | max |")
    print("|---|---|---|---|")
    rows = (("from the write's HTTP answer", from_answer), ("from the event's occurredAt", from_occurred))
    for label, values in rows:
        print(
            f"| {label} | {statistics.median(values):.0f} ms | {percentile(values, 0.99):.0f} ms "
            f"| {max(values):.0f} ms |"
        )
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")


def _epoch(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.webhook_latency")
    parser.add_argument("--events", type=int, default=1000, help="stock changes to make")
    parser.add_argument("--items", type=int, default=10, help="inventory items the changes go round")
    parser.add_argument("--wait", type=float, default=300.0, help="seconds to wait for the last delivery")
    args = parser.parse_args(argv)
    run(args.events, args.items, args.wait)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
