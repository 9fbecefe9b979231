"""The `stockroom` command: what people do with Stockroom from a terminal.

    stockroom whoami
    stockroom import inventory FILE.csv     upload through a presigned URL, follow the job, list rejected rows
    stockroom export inventory [-o FILE]    the company's inventory as CSV
    stockroom jobs                          the company's import jobs

The base URL and API key come from `--url` / `--key` or `STOCKROOM_URL` /
`STOCKROOM_API_KEY` (the local stack's defaults: http://127.0.0.1:8000 and
the key `make run` prints). Built on click (kept by the Pallets project, and
already installed with Chalice) and requests. Exit status: 0 on success, 1
when an import rejected rows or failed, 2 for a usage error, 3 when the API
refused the request.
"""

from __future__ import annotations

import csv
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
import requests

DEFAULT_URL = "http://127.0.0.1:8000"
TIMEOUT = 30
POLL_SECONDS = 0.5
FINISHED = ("completed", "failed")
EXIT_REJECTED = 1
EXIT_API_ERROR = 3


class Api:
    def __init__(self, url: str, key: str) -> None:
        self.url = url.rstrip("/")
        self._session = requests.Session()
        self._session.headers["Authorization"] = f"Bearer {key}"
        self._company: str | None = None

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", TIMEOUT)
        try:
            response = self._session.request(method, self.url + path, **kwargs)
        except requests.ConnectionError as error:
            raise click.ClickException(f"cannot reach {self.url}: {error}") from None
        if response.status_code >= 400:
            raise ApiError(response)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.call(method, path, **kwargs).json()

    @property
    def company(self) -> str:
        """The key's company: every /companies/{companyId} path is the caller's own."""
        if self._company is None:
            self._company = str(self.json("GET", "/whoami")["companyId"])
        return f"/companies/{self._company}"


class ApiError(click.ClickException):
    exit_code = EXIT_API_ERROR

    def __init__(self, response: requests.Response) -> None:
        try:
            body = response.json()
            details = "; ".join(f"{d.get('field')}: {d.get('message')}" for d in body.get("details") or [])
            text = f"{body.get('error')}" + (f" ({details})" if details else "")
        except ValueError:
            text = response.text[:200]
        super().__init__(f"{response.status_code} {text}")


@click.group(help=__doc__.split("\n\n")[0])
@click.option("--url", envvar="STOCKROOM_URL", default=DEFAULT_URL, show_default=True, help="Base URL of the API")
@click.option("--key", envvar="STOCKROOM_API_KEY", required=True, help="API key (or STOCKROOM_API_KEY)")
@click.pass_context
def cli(context: click.Context, url: str, key: str) -> None:
    context.obj = Api(url, key)


@cli.command()
@click.pass_obj
def whoami(api: Api) -> None:
    """The key's company, name and permissions."""
    me = api.json("GET", "/whoami")
    click.echo(f"Company ID:  {me['companyId']}")
    click.echo(f"Key:         {me['keyId']} ({me['name']})")
    click.echo(f"Permissions: {', '.join(me['permissions'])}")


@cli.group(name="import")
def import_group() -> None:
    """Import a CSV file."""


@import_group.command(name="inventory")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--wait/--no-wait", default=True, show_default=True, help="Follow the job until it ends")
@click.pass_obj
def import_inventory(api: Api, file: Path, wait: bool) -> None:
    """Upload FILE through a presigned URL and follow its import job."""
    upload = api.json("POST", f"{api.company}/imports", json={"kind": "inventory", "filename": file.name})
    with file.open("rb") as body:
        posted = requests.post(
            upload["uploadUrl"], data=upload["uploadFields"], files={"file": (file.name, body)}, timeout=TIMEOUT
        )
    if posted.status_code >= 300:
        raise click.ClickException(f"the upload was refused: {posted.status_code} {posted.text[:200]}")
    click.echo(f"Job {upload['jobId']}: uploaded {file.name}", err=True)
    if not wait:
        return
    job = _follow(api, upload["jobId"], _data_rows(file))
    click.echo(
        f"{job['status']}: {job['processed']} rows processed, {job['created']} created, {job['updated']} updated, "
        f"{job['failed']} rejected"
    )
    if job.get("message"):
        click.echo(f"message: {job['message']}")
    if job["errors"]:
        click.echo(_table(["line", "field", "message"], [[e["line"], e["field"], e["message"]] for e in job["errors"]]))
        click.echo(f"error report (with each row's cells): {api.url}{api.company}/imports/{job['jobId']}/errors.csv")
    if job["status"] != "completed" or job["failed"]:
        sys.exit(EXIT_REJECTED)


@cli.group(name="export")
def export_group() -> None:
    """Download data as CSV."""


@export_group.command(name="inventory")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here (default: stdout)")
@click.pass_obj
def export_inventory(api: Api, output: Path | None) -> None:
    """The company's inventory as CSV (the upload's columns, so it can be edited and imported again)."""
    # A big export answers 303 to a short-lived download: requests follows it (without the API key).
    body = api.call("GET", f"{api.company}/inventory/csv").content
    if output is None:
        click.echo(body.decode("utf-8"), nl=False)
    else:
        output.write_bytes(body)
        click.echo(f"wrote {output}", err=True)


@cli.command()
@click.option("--limit", type=int, default=20, show_default=True, help="How many of the newest jobs")
@click.pass_obj
def jobs(api: Api, limit: int) -> None:
    """The company's import jobs, newest first."""
    listed = api.json("GET", f"{api.company}/imports", params={"limit": limit})
    columns = ["jobId", "kind", "source", "filename", "status", "processed", "failed", "createdAt"]
    click.echo(_table(columns, [[job.get(c) for c in columns] for job in listed]))


def _follow(api: Api, job_id: str, rows: int) -> dict[str, Any]:
    """Poll the job with a progress bar (rows processed of the file's rows) until it ends."""
    path = f"{api.company}/imports/{job_id}"
    shown = 0
    with click.progressbar(length=max(rows, 1), label="Importing", file=sys.stderr) as bar:
        while True:
            job: dict[str, Any] = api.json("GET", path)
            done = min(job["processed"], rows)
            bar.update(done - shown)
            shown = done
            if job["status"] in FINISHED:
                bar.update(max(rows, 1) - shown)
                return job
            time.sleep(POLL_SECONDS)


def _data_rows(file: Path) -> int:
    """Non-blank records after the header, as the import counts them."""
    with file.open(newline="", encoding="utf-8-sig", errors="replace") as text:
        return sum(1 for cells in csv.reader(text) if any(c.strip() for c in cells)) - 1


def _table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)


if __name__ == "__main__":
    cli()
