"""End-to-end tier: the real local stack (`python -m infra.localstack`), started once per session.

Tests talk to it over HTTP, run `python -m infra.tenant` against it, and
reach its moto server in-process through `stack_aws` to check what the event
sources delivered.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from chalicelib import wiring
from chalicelib.settings import reset_settings
from chalicelib.storage.aws import reset_clients

PROJECT_DIR = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 60.0
SHUTDOWN_TIMEOUT = 5.0
BANNER = {"base_url": "Base URL: ", "company_id": "Company ID: ", "api_key": "API key: "}
# Fast schedules, so tests can watch them fire.
EXPIRE_EVERY = 1.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def subprocess_env(**extra: str) -> dict[str, str]:
    """The test environment (dummy credentials, no metadata probing) plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k != "STOCKROOM_AWS_ENDPOINT"}
    env.update(PYTHONUNBUFFERED="1", **extra)
    return env


@dataclass
class StackProcess:
    """A running `python -m infra.localstack`, its output going to `log_path`."""

    process: subprocess.Popen[bytes]
    log_path: Path
    port: int
    moto_port: int

    @property
    def moto_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.moto_port}"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_banner(self, timeout: float = STARTUP_TIMEOUT) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = {}
            for line in self.output().splitlines():
                for field, prefix in BANNER.items():
                    if line.startswith(prefix):
                        found[field] = line[len(prefix) :].strip()
            if len(found) == len(BANNER):
                return found
            if self.process.poll() is not None:
                pytest.fail(f"local stack exited with {self.process.returncode}:\n{self.output()}")
            time.sleep(0.1)
        self.process.kill()
        pytest.fail(f"local stack printed no banner within {timeout} s:\n{self.output()}")

    def terminate(self) -> tuple[int | None, float]:
        """SIGTERM; returns (exit code or None if it hung, seconds it took)."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            code: int | None = self.process.wait(timeout=SHUTDOWN_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            code = None
        return code, time.monotonic() - started


def start_stack(log_path: Path, *extra_args: str) -> StackProcess:
    port, moto_port = free_port(), free_port()
    log = log_path.open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "infra.localstack",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--moto-port",
            str(moto_port),
            *extra_args,
        ],
        cwd=PROJECT_DIR,
        env=subprocess_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()  # the child holds its own copy
    return StackProcess(process, log_path, port, moto_port)


@dataclass(frozen=True)
class Stack:
    base_url: str
    company_id: str
    api_key: str
    moto_endpoint: str
    running: StackProcess

    def output(self) -> str:
        return self.running.output()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    log_path = tmp_path_factory.mktemp("localstack") / "stack.log"
    running = start_stack(log_path, "--expire-every", str(EXPIRE_EVERY))
    try:
        banner = running.wait_for_banner()
        yield Stack(moto_endpoint=running.moto_endpoint, running=running, **banner)
    finally:
        code, took = running.terminate()
    assert code == 0, f"local stack exited with {code} after SIGTERM:\n{running.output()[-4000:]}"
    assert took < SHUTDOWN_TIMEOUT


@pytest.fixture
def stack_aws(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """Point this process's settings, clients and services at the stack's moto server."""
    monkeypatch.setenv("STOCKROOM_AWS_ENDPOINT", stack.moto_endpoint)
    _forget_cached_aws()
    yield stack
    monkeypatch.delenv("STOCKROOM_AWS_ENDPOINT")
    _forget_cached_aws()


def _forget_cached_aws() -> None:
    reset_settings()
    reset_clients()
    wiring.reset()


class Api:
    """HTTP against the stack with one API key (sent as a Bearer token)."""

    def __init__(self, base_url: str, api_key: str | None) -> None:
        self.base_url = base_url
        self.api_key = api_key
        self._session = requests.Session()

    def with_key(self, api_key: str | None) -> Api:
        return Api(self.base_url, api_key)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if self.api_key is not None:
            headers.setdefault("Authorization", f"Bearer {self.api_key}")
        kwargs.setdefault("timeout", 10)
        return self._session.request(method, self.base_url + path, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def api(stack: Stack) -> Api:
    """The API as the demo company's full-permission key."""
    return Api(stack.base_url, stack.api_key)


@dataclass(frozen=True)
class CreatedTenant:
    company_id: str
    api_key: str
    # The OAuth2 client `make tenant` creates with the key's permissions (POST /oauth2/token).
    client_id: str = ""
    client_secret: str = ""


def _run_tenant_cli(endpoint: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra.tenant", *args],
        cwd=PROJECT_DIR,
        env=subprocess_env(STOCKROOM_AWS_ENDPOINT=endpoint, **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _parse_tenant_output(stdout: str) -> CreatedTenant:
    company = re.search(r"^Company ID: (\S+)$", stdout, re.MULTILINE)
    key = re.search(r"^API key: (\S+)$", stdout, re.MULTILINE)
    client_id = re.search(r"^Client ID: (\S+)$", stdout, re.MULTILINE)
    client_secret = re.search(r"^Client secret: (\S+)$", stdout, re.MULTILINE)
    assert company and key and client_id and client_secret, f"unexpected output of infra.tenant:\n{stdout}"
    return CreatedTenant(company.group(1), key.group(1), client_id.group(1), client_secret.group(1))


@pytest.fixture
def make_tenant(stack: Stack) -> Callable[..., CreatedTenant]:
    """Create a tenant in the stack the way `make tenant` does: `make_tenant("Acme", "inventory.read")`."""

    def make(name: str = "E2E company", permissions: str = "*") -> CreatedTenant:
        done = _run_tenant_cli(stack.moto_endpoint, "--name", name, "--permissions", permissions)
        assert done.returncode == 0, done.stderr
        return _parse_tenant_output(done.stdout)

    return make


@pytest.fixture
def tenant_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run `python -m infra.tenant ARGS` with STOCKROOM_AWS_ENDPOINT=endpoint (and extra env); no checks."""
    return _run_tenant_cli


@pytest.fixture
def stack_factory(tmp_path: Path) -> Iterator[Callable[..., StackProcess]]:
    """Start extra, short-lived stacks (on their own ports); any left running are killed at teardown."""
    started: list[StackProcess] = []

    def start(*extra_args: str) -> StackProcess:
        running = start_stack(tmp_path / f"stack-{len(started)}.log", *extra_args)
        started.append(running)
        return running

    yield start
    for running in started:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait()


def _eventually(check: Callable[[], Any], timeout: float = 3.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() >= deadline:
            pytest.fail(f"condition not met within {timeout} s (last result: {result!r})")
        time.sleep(interval)


@pytest.fixture
def eventually() -> Callable[..., Any]:
    """`eventually(check, timeout=3.0)`: the first truthy result of `check`, or fail after `timeout` seconds."""
    return _eventually
