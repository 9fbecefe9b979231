"""The handler processes of the local stack (`infra/lambda_process.py`).

A handler runs in a child process, with a Lambda context of its function, and
its answer comes back; a handler that raises, or a child that dies, is a
`HandlerFailed` the event sources retry; a dead child is started again; when
the stack stops, a running handler is told its time is up.

The handlers below are the child's targets: it imports this module by name.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from infra.lambda_process import HandlerFailed, LambdaProcess

TARGETS = "tests.e2e.test_lambda_process"


def where(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"pid": os.getpid(), "function": context.function_name, "echo": event["echo"]}


def fails(event: dict[str, Any], context: Any) -> None:
    raise ValueError(f"cannot handle {event['echo']}")


def exits(event: dict[str, Any], context: Any) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def waits_for_stop(event: dict[str, Any], context: Any) -> int:
    """Returns the time left once the context says none is left (what the import's pause checks)."""
    deadline = time.monotonic() + 30
    while context.get_remaining_time_in_millis() > 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    remaining: int = context.get_remaining_time_in_millis()
    return remaining


@pytest.fixture
def process() -> Iterator[LambdaProcess]:
    started = LambdaProcess("test handlers")
    yield started
    started.stop()


def test_a_handler_runs_in_its_own_process_with_its_function_context(process: LambdaProcess) -> None:
    handler = process.handler(f"{TARGETS}:where", "audit_stream")

    first = handler({"echo": [1, "two"]}, None)
    second = handler({"echo": "again"}, None)

    assert first["pid"] != os.getpid()
    assert first["function"] == "audit_stream"
    assert first["echo"] == [1, "two"]
    assert second["pid"] == first["pid"]  # one child, kept warm, as a Lambda container is


def test_a_handler_that_raises_is_a_failure_with_its_traceback(process: LambdaProcess) -> None:
    with pytest.raises(HandlerFailed, match=r"ValueError: cannot handle 42"):
        process.handler(f"{TARGETS}:fails", "audit_stream")({"echo": 42}, None)

    # The child survives its handler's failure.
    assert process.handler(f"{TARGETS}:where", "audit_stream")({"echo": 1}, None)["echo"] == 1


def test_a_child_that_dies_fails_its_call_and_is_started_again(process: LambdaProcess) -> None:
    before = process.handler(f"{TARGETS}:where", "audit_stream")({"echo": 1}, None)["pid"]

    with pytest.raises(HandlerFailed, match="handler process ended"):
        process.handler(f"{TARGETS}:exits", "audit_stream")({"echo": 1}, None)
    after = process.handler(f"{TARGETS}:where", "audit_stream")({"echo": 2}, None)

    assert after["pid"] != before
    assert after["echo"] == 2


def test_when_time_is_up_a_running_handler_sees_no_time_left(process: LambdaProcess) -> None:
    import threading

    answers: list[int] = []
    running = threading.Thread(
        target=lambda: answers.append(process.handler(f"{TARGETS}:waits_for_stop", "import_queue")({}, None))
    )
    process.handler(f"{TARGETS}:where", "import_queue")({"echo": 0}, None)  # the child is up
    running.start()
    time.sleep(0.5)
    assert not answers  # still running: its context had time left

    process.time_is_up()
    running.join(10)

    assert answers == [0]
