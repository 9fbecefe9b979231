"""The local stack's memory over a few thousand transactional writes, with and without stream trimming.

    python -m benchmarks.local_stack_memory                    # 100 requests of 50 items, both ways (~2-4 min)
    python -m benchmarks.local_stack_memory --requests 40      # fewer

Starts the real local stack (`python -m infra.localstack`, moto's server in
the same process, the audit stream delivered to the real handler) on free
ports, twice: as `make run` runs it, where moto forgets the stream records
the audit handler has handled (`infra.moto_server.trim_stream`), and with
`--keep-stream-records`, moto as shipped, which keeps every record with its
old and new images for ever. Each time it sends the same creates of inventory
items through the API (50 items per request: one TransactWriteItems of the
items' stock records, ledger lines, products and guards), waits until the
audit stream has written every item's history, and prints the stack
process's resident memory (VmRSS, /proc) at the start, every N requests and
at the end, with the rise per 1,000 items.

The rise that remains with trimming is the data itself: the items in the
main table and their history events in the history table, which a store
keeps. Nothing here asserts; a request that fails stops the run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import benchmarks  # noqa: F401 - sets the AWS safety variables before boto3 is imported
from benchmarks.loopback import start_stack

BATCH = 50


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS (Linux only)")


def run(label: str, requests_count: int, every: int, extra: tuple[str, ...]) -> dict[str, Any]:
    import requests

    with tempfile.TemporaryDirectory() as folder:
        process, banner = start_stack(Path(folder) / "stack.log", *extra)
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {banner['key']}"
        items_url = f"{banner['url']}/companies/{banner['company']}/inventory"
        try:
            time.sleep(1)  # let the seed's stream records be handled
            samples = [(0, rss_mib(process.pid))]
            started = time.monotonic()
            last_id = ""
            for n in range(1, requests_count + 1):
                body = [
                    {"productName": f"Bar {n}-{i}", "quantity": 5, "heatCode": f"H-{n}", "diameter": 50}
                    for i in range(BATCH)
                ]
                response = session.post(items_url, json=body, timeout=120)
                if response.status_code != 201:
                    raise RuntimeError(f"request {n}: {response.status_code} {response.text[:300]}")
                last_id = response.json()[-1]["inventoryId"]
                if n % every == 0:
                    samples.append((n * BATCH, rss_mib(process.pid)))
            seconds = time.monotonic() - started
            # The audit stream has caught up when the last item's history is written.
            deadline = time.monotonic() + 300
            while not session.get(f"{items_url}/{last_id}/history", timeout=30).json():
                if time.monotonic() > deadline:
                    raise RuntimeError("the audit stream did not catch up")
                time.sleep(0.5)
            time.sleep(1)
            settled = rss_mib(process.pid)
        finally:
            process.terminate()
            process.wait(timeout=30)
    items = requests_count * BATCH
    return {"label": label, "samples": samples, "settled": settled, "items": items, "seconds": seconds}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100, help="create requests of 50 items each")
    parser.add_argument("--every", type=int, default=20, help="sample memory every N requests")
    args = parser.parse_args(argv)
    runs = [
        run("as `make run` (trimmed)", args.requests, args.every, ()),
        run("moto as shipped (kept)", args.requests, args.every, ("--keep-stream-records",)),
    ]
    print(f"Local stack RSS over {args.requests} creates of {BATCH} inventory items (one transaction each)\n")
    print(
        "| stream records | items | RSS at start MiB | "
        + " | ".join(f"after {s[0]:,}" for s in runs[0]["samples"][1:])
        + " | settled MiB | rise per 1,000 items MiB | items/s |"
    )
    print("|---|---|---|" + "---|" * (len(runs[0]["samples"]) - 1) + "---|---|---|")
    for result in runs:
        start_rss = result["samples"][0][1]
        rise = (result["settled"] - start_rss) / result["items"] * 1000
        cells = " | ".join(f"{rss:,.0f}" for _, rss in result["samples"][1:])
        print(
            f"| {result['label']} | {result['items']:,} | {start_rss:,.0f} | {cells} | {result['settled']:,.0f} | "
            f"{rise:,.1f} | {result['items'] / result['seconds']:,.0f} |"
        )


if __name__ == "__main__":
    main()
