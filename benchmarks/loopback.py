"""What the benchmarks that talk over loopback share: free ports, the local stack, a webhook receiver.

The e2e tests start the local stack the same way (tests/e2e/conftest.py); the
benchmarks keep their own copy so that `make bench` never imports the tests.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import benchmarks

PROJECT_DIR = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT = 90.0
# What the local stack prints once it is ready, by the name `start_stack` gives each value.
BANNER = {"url": "Base URL: ", "company": "Company ID: ", "key": "API key: "}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_stack(log: Path, *extra: str) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    """`python -m infra.localstack` on free ports, its output in `log`: the process and its banner
    (`url`, `company`, `key`, `moto_port`), once it is ready."""
    port, moto_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in benchmarks.UNSAFE_VARS} | {"PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "infra.localstack", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--moto-port", str(moto_port), *extra],
            cwd=PROJECT_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    banner: dict[str, str] = {}
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while len(banner) < len(BANNER):
        if time.monotonic() > deadline or process.poll() is not None:
            stop_stack(process)
            raise RuntimeError(f"the local stack did not start:\n{log.read_text(errors='replace')[-3000:]}")
        for line in log.read_text(errors="replace").splitlines():
            for name, prefix in BANNER.items():
                if line.startswith(prefix):
                    banner[name] = line[len(prefix) :].strip()
        time.sleep(0.1)
    banner["moto_port"] = str(moto_port)
    return process, banner


def stop_stack(process: subprocess.Popen[bytes]) -> None:
    """Stop it as Ctrl-C would (it saves its data, if it keeps any), killing it after 10 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Receiver:
    """A webhook receiver on loopback: the arrival time and the body of every delivery."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, dict[str, Any]]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                arrived = time.time()
                with receiver._lock:
                    receiver.arrivals.append((arrived, json.loads(body, parse_float=Decimal)))
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def snapshot(self) -> list[tuple[float, dict[str, Any]]]:
        with self._lock:
            return list(self.arrivals)

    def clear(self) -> None:
        with self._lock:
            self.arrivals.clear()
