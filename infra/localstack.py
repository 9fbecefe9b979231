"""The local stack: Stockroom on one machine, as AWS would run it.

It starts moto's server on loopback, builds the tables, bucket and queue from
`infra/`, serves the Chalice app (threaded, without autoreload: chalice's
reloader leaves its worker running after SIGTERM), and plays the part of the
Lambda event sources. The two stream handlers and the import handler each run
in a process of their own (`infra/lambda_process.py`), as Lambda runs them
apart from DynamoDB; the API, the webhook sender and the schedules run in the
stack's process, beside moto.

- DynamoDB stream records of every streamed table go to the audit handler
  and, as a second consumer of the same shards, to the events handler, with
  partial batch failures, bounded retries and skipping like the real event
  source mapping;
- import queue messages (S3 notifications) go to the import handler, and
  webhook queue messages to the webhook sender (a failed delivery's
  visibility is its backoff, as on SQS);
- the schedules fire on timers.

It seeds a demo company and prints `Base URL`, `Company ID` and `API key`.
Ctrl-C or SIGTERM stops everything and exits 0.

With `--data DIR` (what `make run` passes) the tables, files and queued
messages are saved to DIR every `--save-every` seconds when something changed
and when the stack stops, and put back when it starts (a killed stack loses
at most the last interval), and the same demo company and key are printed
again; `--reset` empties DIR first (`infra/persistence.py`). Without `--data`
every start is empty.

    python -m infra.localstack --host 127.0.0.1 --port 8000 --moto-port 5001 [--data .local/stack [--reset]]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FrameType
from typing import Any

from infra.event_sources import (
    POLL_SECONDS,
    Handler,
    Loop,
    QueueDelivery,
    ShardDelivery,
    SharedTrim,
    Step,
    disk_config,
    lambda_context,
    log,
    moto_shard_reader,
    scheduled_event,
)
from infra.lambda_process import LambdaProcess

PROJECT_DIR = Path(__file__).resolve().parent.parent
BLUEPRINT = "chalicelib.events.blueprint"
STREAM_HANDLERS = ("audit_stream", "events_stream")
IMPORT_HANDLER = "import_queue"
DEMO_COMPANY = "Demo company"
# How long a stop waits for a running import to pause at its next chunk.
IMPORT_STOP_SECONDS = 30.0


# -- environment ---------------------------------------------------------------


def local_aws_environment(endpoint: str) -> None:
    """Point every AWS client at `endpoint` with dummy credentials.

    Without these, botocore looks for real credentials and probes the
    instance-metadata address. Call before anything reads the settings.
    """
    os.environ.pop("AWS_PROFILE", None)
    os.environ.update(
        AWS_EC2_METADATA_DISABLED="true",
        AWS_ACCOUNT_ID_ENDPOINT_MODE="disabled",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",  # noqa: S106 - dummy credential for moto
        AWS_SESSION_TOKEN="testing",  # noqa: S106
        STOCKROOM_AWS_ENDPOINT=endpoint,
    )
    region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or "eu-west-1"
    os.environ.update(AWS_DEFAULT_REGION=region, AWS_REGION=region)
    # Webhooks may go to a receiver on loopback (tests, a developer's tool); deployed, never.
    os.environ.setdefault("STOCKROOM_WEBHOOK_ALLOW_LOOPBACK", "true")


def forget_cached_aws() -> None:
    """Drop settings, clients and services built before the environment changed."""
    from chalicelib import wiring
    from chalicelib.settings import reset_settings
    from chalicelib.storage.aws import reset_clients

    reset_settings()
    reset_clients()
    wiring.reset()


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


# -- the stack -------------------------------------------------------------------------


def streamed_tables(dynamodb: Any, names: Iterable[str]) -> list[str]:
    """Stream ARNs of the tables that have a stream."""
    arns = []
    for name in names:
        table = dynamodb.describe_table(TableName=name)["Table"]
        if table.get("StreamSpecification", {}).get("StreamEnabled") and table.get("LatestStreamArn"):
            arns.append(table["LatestStreamArn"])
    return arns


def http_server(app: Any, host: str, port: int) -> Any:
    """Chalice's local server for `app`, built the way `chalice local --no-autoreload` builds it."""
    from chalice.config import Config
    from chalice.deploy.validate import validate_routes
    from chalice.local import create_local_server

    validate_routes(app.routes)
    config = Config(
        chalice_stage="dev",
        user_provided_params={"chalice_app": app, "project_dir": str(PROJECT_DIR)},
        config_from_disk=disk_config(),
    )
    server = create_local_server(app, config, host, port)
    server.server.RequestHandlerClass = functools.partial(_request_handler(), app_object=app, config=config)
    return server


def _request_handler() -> type:
    """Chalice's local request handler, with what API Gateway does in the packaged template."""
    from chalice.local import ChaliceRequestHandler, ForbiddenError, LocalGatewayException

    from chalicelib.http import jsonio
    from chalicelib.http.auth import redact

    class RequestHandler(ChaliceRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            # The access log prints each request line, query string included: keys passed as
            # ?x-inventora-api-key= must not reach it.
            # Only text is redacted: a number stays a number for the format's %d.
            super().log_message(format, *(redact(arg) if isinstance(arg, str) else arg for arg in args))

        def _method_not_served(self) -> None:
            # Methods API Gateway does not route (TRACE, QUERY, ...): a JSON 405, never a closed
            # connection or http.server's HTML 501.
            # Its body is read (and dropped), so it cannot be taken for the next request on this connection.
            length = int(self.headers.get("Content-Length") or 0)
            if length > 0:
                self.rfile.read(length)
            # Closed after the answer, and said so: a client that reused it would race the close.
            self.close_connection = True
            body = {
                "error": f"{self.command} is not served",
                "code": "METHOD_NOT_ALLOWED",
                "details": [{"field": "method", "message": "allowed: GET, POST, PUT, PATCH, DELETE"}],
            }
            headers = {"Content-Type": "application/json", "Connection": "close"}
            self._send_http_response(405, headers, jsonio.dumps(body))

        def __getattr__(self, name: str) -> Any:
            # http.server looks up `do_<METHOD>`; any method Chalice does not route is answered here.
            if name.startswith("do_"):
                return self._method_not_served
            raise AttributeError(name)

        def _send_error_response(self, error: LocalGatewayException) -> None:
            # No route matches: API Gateway's MISSING_AUTHENTICATION_TOKEN (INVALID_SIGNATURE when an
            # Authorization header is present), which the template's gateway responses turn into this
            # 404 (infra/resources.json). The service uses no authorizer, so no other 403 comes from here.
            if isinstance(error, ForbiddenError):
                path = redact(self.path.split("?", 1)[0])
                body = {
                    "error": f"no route matches {self.command} {path}",
                    "code": "NOT_FOUND",
                    "details": [{"field": "path", "message": "no such route; see /openapi.json"}],
                }
                self._send_http_response(404, {"Content-Type": "application/json"}, jsonio.dumps(body))
                return
            super()._send_error_response(error)

    return RequestHandler


class LocalStack:
    """Everything except moto's server, which `main` owns."""

    def __init__(self, args: argparse.Namespace, stopping: threading.Event) -> None:
        self._args = args
        self._stopping = stopping
        self._threads: list[threading.Thread] = []
        self._server: Any = None
        self._demo: dict[str, str] | None = None
        self._save_lock = threading.Lock()
        self._saved_state: Any = None
        # The two stream handlers and the import handler each run in a process of their own, as Lambda
        # functions apart from DynamoDB, so moto's server has this process's interpreter to itself.
        self._processes = {name: LambdaProcess(name) for name in (*STREAM_HANDLERS, IMPORT_HANDLER)}

    def start(self) -> tuple[str, str]:
        """Provision, serve, seed and start the event sources; returns (company id, API key)."""
        from chalicelib.settings import get_settings
        from chalicelib.storage.aws import client
        from infra.provision import connect_bucket_to_queue, provision, table_names

        settings = get_settings()
        provision(settings, client("dynamodb"), client("s3"), client("sqs"))
        queue_url = client("sqs").get_queue_url(QueueName=settings.import_queue)["QueueUrl"]

        from app import app
        from chalicelib.events import blueprint

        import_handler = self._processes[IMPORT_HANDLER].handler(f"{BLUEPRINT}:{IMPORT_HANDLER}", IMPORT_HANDLER)
        queue = QueueDelivery(client("sqs"), queue_url, settings.region, import_handler)
        # The import function's second event source: notifications the import queue gave up on.
        dead_letters_url = client("sqs").get_queue_url(QueueName=settings.import_dead_letter_queue)["QueueUrl"]
        dead_letters = QueueDelivery(client("sqs"), dead_letters_url, settings.region, import_handler)
        saved = self._restore()
        connect_bucket_to_queue(client("s3"), settings.bucket, queue.queue_arn)
        self._serve(app)
        company_id, api_key = self._seed(saved)
        self._demo = {"company_id": company_id, "api_key": api_key}

        streams = client("dynamodbstreams")
        for arn in streamed_tables(client("dynamodb"), table_names(settings).values()):
            for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
                # Two consumers of one shard, each on its own thread and at its own place in the shard (as two
                # event source mappings are), each calling its own handler process: while moto writes what one
                # handled, the other converts its next batch. moto forgets a record once both have handled it.
                trim = SharedTrim(self._trim(), len(STREAM_HANDLERS))
                for number, name in enumerate(STREAM_HANDLERS):
                    handler = self._processes[name].handler(f"{BLUEPRINT}:{name}", name)
                    consumer = ShardDelivery(moto_shard_reader(arn, settings.region), arn, handler, trim.of(number))
                    self._loop(f"{name} {shard['ShardId']}", POLL_SECONDS, consumer.step)
        webhook_url = client("sqs").get_queue_url(QueueName=settings.webhook_queue)["QueueUrl"]
        webhooks = QueueDelivery(client("sqs"), webhook_url, settings.region, blueprint.webhook_sender)
        self._loop("webhook queue", POLL_SECONDS, webhooks.step)
        self._loop("import queue", POLL_SECONDS, queue.step)
        self._loop("import dead letters", POLL_SECONDS, dead_letters.step)
        account = queue.queue_arn.split(":")[4]
        if self._args.data is not None and self._args.save_every > 0:
            self._loop("save", self._args.save_every, functools.partial(self.save, only_if_changed=True))
        self._schedule("expire_reservations", self._args.expire_every, blueprint.expire_reservations, account)
        self._schedule("reconcile_ledger", self._args.reconcile_every, blueprint.reconcile_ledger, account)
        self._schedule("expire_lots", self._args.reconcile_every, blueprint.expire_lots, account)
        self._schedule("expire_holds", self._args.expire_every, blueprint.expire_holds, account)
        self._schedule("replenish", self._args.reconcile_every, blueprint.replenish, account)
        return company_id, api_key

    def stop(self) -> None:
        self._stopping.set()
        for process in self._processes.values():
            process.time_is_up()
        deadline = time.monotonic() + 1.5
        for thread in self._threads:
            # A running import pauses at its next chunk (StoppingContext): give it the time to get there.
            wait = IMPORT_STOP_SECONDS if thread.name == "import queue" else max(0.0, deadline - time.monotonic())
            thread.join(wait)
        for process in self._processes.values():
            process.stop()
        if self._server is not None:
            self._server.server.shutdown()
            self._server.server.server_close()

    def _serve(self, app: Any) -> None:
        self._server = http_server(app, self._args.host, self._args.port)
        # The socket listens from here on; serve_forever only starts accepting.
        serving = threading.Thread(
            target=self._server.server.serve_forever, kwargs={"poll_interval": 0.2}, name="http", daemon=True
        )
        serving.start()

    def save(self, only_if_changed: bool = False) -> None:
        """Write the tables, files and queued messages to `--data` (see infra/persistence.py).

        The periodic save (`only_if_changed`) skips a state it has saved already; the save at stop always runs.
        """
        if self._args.data is None or self._demo is None:
            return
        from chalicelib.settings import get_settings
        from chalicelib.storage.aws import client
        from infra import persistence
        from infra.compact_items import generation
        from infra.provision import table_names

        settings = get_settings()
        with self._save_lock:
            writes = generation()
            taken = persistence.snapshot(settings.region, table_names(settings).values(), self._queue_names())
            files = tuple(persistence.objects(client("s3"), settings.bucket))
            queued = {name: [m["body"] for m in messages] for name, messages in taken.queues.items()}
            state = (writes, files, json.dumps(queued, sort_keys=True))
            if only_if_changed and state == self._saved_state:
                return
            persistence.save(Path(self._args.data), taken, client("s3"), settings.bucket, self._demo)
            self._saved_state = state
        log().info("local stack state saved", extra={"folder": str(self._args.data), "writes": writes})

    def _queue_names(self) -> list[str]:
        from chalicelib.settings import get_settings

        settings = get_settings()
        return [
            settings.import_queue,
            settings.import_dead_letter_queue,
            settings.webhook_queue,
            settings.webhook_dead_letter_queue,
        ]

    def _trim(self) -> Callable[[str, str], int] | None:
        """moto forgets the stream records the audit handler has handled (unless --keep-stream-records)."""
        if self._args.keep_stream_records:
            return None
        from infra.moto_server import trim_stream

        return trim_stream

    def _restore(self) -> dict[str, str] | None:
        if self._args.data is None:
            return None
        from chalicelib.settings import get_settings
        from chalicelib.storage.aws import client
        from infra import persistence
        from infra.provision import table_names

        settings = get_settings()
        tables = table_names(settings).values()
        saved = persistence.restore(
            Path(self._args.data), tables, client("s3"), settings.bucket, settings.region, client("sqs")
        )
        log().info("local stack state", extra={"folder": str(self._args.data), "restored": saved is not None})
        return saved

    def _seed(self, saved: dict[str, str] | None) -> tuple[str, str]:
        from chalicelib.wiring import tenant_service

        if saved is not None and tenant_service().exists(saved["company_id"]):
            return saved["company_id"], saved["api_key"]
        tenant, raw_key = tenant_service().create_tenant(DEMO_COMPANY)
        return tenant.tenant_id, raw_key

    def _loop(self, name: str, interval: float, step: Step) -> None:
        loop = Loop(name, interval, step, self._stopping)
        loop.start()
        self._threads.append(loop)

    def _schedule(self, rule: str, interval: float, handler: Handler, account: str) -> None:
        from chalicelib.settings import get_settings

        region = get_settings().region

        def fire() -> None:
            handler(scheduled_event(rule, region, account), lambda_context(rule))

        self._loop(f"schedule {rule}", interval, fire)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.localstack", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address the API listens on")
    parser.add_argument("--port", type=int, default=8000, help="port of the API")
    parser.add_argument("--moto-port", type=int, default=5001, help="port of moto's server (always on 127.0.0.1)")
    parser.add_argument(
        "--expire-every", type=float, default=60.0, metavar="SECONDS", help="reservation expiry schedule"
    )
    parser.add_argument(
        "--reconcile-every", type=float, default=900.0, metavar="SECONDS", help="ledger reconciliation schedule"
    )
    parser.add_argument(
        "--data", default=None, metavar="DIR", help="keep the tables and files here across restarts (saved on stop)"
    )
    parser.add_argument("--reset", action="store_true", help="with --data: forget the saved state, start empty")
    parser.add_argument(
        "--save-every",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="with --data: also save this often when something changed (0: only on stop)",
    )
    parser.add_argument(
        "--keep-stream-records",
        action="store_true",
        help="keep every stream record, as moto does as shipped (benchmarks/local_stack_memory.py compares)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    for host, port in (("127.0.0.1", args.moto_port), (args.host, args.port)):
        if not port_is_free(host, port):
            print(f"error: {host}:{port} is already in use", file=sys.stderr, flush=True)
            return 1

    if args.reset and args.data is not None:
        from infra import persistence

        persistence.reset(Path(args.data))
    endpoint = f"http://127.0.0.1:{args.moto_port}"
    local_aws_environment(endpoint)
    if str(PROJECT_DIR) not in sys.path:
        sys.path.insert(0, str(PROJECT_DIR))
    forget_cached_aws()

    import logging

    from infra import moto_server

    # werkzeug would log every poll of the event sources.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto = moto_server.start(args.moto_port)
    stack = LocalStack(args, stopping)
    try:
        company_id, api_key = stack.start()
        # A comparison with the wildcard address, not a bind (bandit B104 and ruff S104 see the literal).
        shown_host = "127.0.0.1" if args.host in ("", "0.0.0.0") else args.host  # noqa: S104  # nosec B104
        log().info("local stack ready", extra={"aws_endpoint": endpoint})
        print(f"Base URL: http://{shown_host}:{args.port}", flush=True)
        print(f"Company ID: {company_id}", flush=True)
        print(f"API key: {api_key}", flush=True)
        # A plain sleep loop: the signal handler must never interrupt a wait on the lock it takes.
        while not stopping.is_set():
            time.sleep(0.1)
    finally:
        stack.stop()
        try:
            stack.save()
        finally:
            moto.stop()
    return 0


def exit_now(code: int) -> None:
    """Exit without the interpreter's teardown.

    Everything is already stopped; tearing down moto's large module graph and
    its idle server threads takes the interpreter up to two more seconds.
    """
    import logging

    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
