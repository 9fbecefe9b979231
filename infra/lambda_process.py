"""Handlers run in a process of their own, as Lambda runs functions apart from DynamoDB.

In one process, the local stack's moto server and every handler share one
interpreter lock: on a large import the stream handlers (converting records,
botocore building each BatchWriteItem) took a third of the time the stack
spent, and the other core stayed idle. A `LambdaProcess` is a child
interpreter (spawned, never forked: the stack's threads hold locks) that
imports the handlers by name and calls them with the events the parent's
event sources build. It reaches moto's server over HTTP, as the handlers in
the stack's own process always did.

A handler that raises in the child raises `HandlerFailed` in the parent, so
the event sources retry and split as before. A child that dies is started
again at the next call.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import threading
import traceback
from multiprocessing.connection import Connection
from typing import Any

from infra.event_sources import Handler, lambda_context

START_SECONDS = 60.0
STOP_SECONDS = 5.0


class SharedFlag:
    """Set in the parent, read in the child: one byte of shared memory.

    Not a multiprocessing Event: its semaphores outlive a stack that exits at
    once (`localstack.exit_now`), and the resource tracker warns of them.
    """

    def __init__(self, context: Any) -> None:
        self._value = context.RawValue("b", 0)

    def set(self) -> None:
        self._value.value = 1

    def is_set(self) -> bool:
        return bool(self._value.value)


class StoppingContext:
    """A Lambda context whose time runs out when the stack stops.

    The import handler checks the time left before each chunk: told there is
    none, it pauses as a Lambda near its timeout does (the job's lease given
    up, its message sent again), so the state saved at stop holds a queued
    message that resumes the job after the restart.
    """

    def __init__(self, context: Any, stopping: SharedFlag) -> None:
        self._context = context
        self._stopping = stopping

    def get_remaining_time_in_millis(self) -> int:
        if self._stopping.is_set():
            return 0
        remaining: int = self._context.get_remaining_time_in_millis()
        return remaining

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


class HandlerFailed(RuntimeError):
    """The handler raised in the child (its traceback is the message), or the child ended."""


class LambdaProcess:
    """One child process; calls to it are served one at a time, in the order they come."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._context = multiprocessing.get_context("spawn")
        # Set when the stack stops: the child's contexts then report no time left (StoppingContext).
        self._stopping = SharedFlag(self._context)
        self._lock = threading.Lock()
        self._process: Any = None
        self._connection: Connection | None = None

    def handler(self, target: str, function_name: str) -> Handler:
        """A handler that calls `target` ("module:attribute") in the child with a context of `function_name`."""

        def call(event: dict[str, Any], context: Any) -> Any:
            return self.call(target, function_name, event)

        return call

    def call(self, target: str, function_name: str, event: dict[str, Any]) -> Any:
        with self._lock:
            connection = self._started()
            try:
                connection.send((target, function_name, event))
                failed, answer = connection.recv()
            except (EOFError, OSError) as exc:
                self._forget()
                raise HandlerFailed(f"{self._name}: the handler process ended ({exc!r})") from exc
        if failed:
            raise HandlerFailed(answer)
        return answer

    def time_is_up(self) -> None:
        """From now on the child's contexts report no time left: a running import pauses at its next chunk."""
        self._stopping.set()

    def stop(self) -> None:
        """End the child once its running call, if any, returns."""
        self.time_is_up()
        with self._lock:
            if self._connection is not None:
                with contextlib.suppress(OSError):
                    self._connection.send(None)
            if self._process is not None:
                self._process.join(STOP_SECONDS)
                if self._process.is_alive():
                    self._process.terminate()
            self._forget()

    def _started(self) -> Connection:
        if self._connection is not None and self._process is not None and self._process.is_alive():
            return self._connection
        self._forget()
        ours, theirs = self._context.Pipe()
        process = self._context.Process(target=serve, args=(theirs, self._stopping), name=self._name, daemon=True)
        process.start()
        theirs.close()
        if not ours.poll(START_SECONDS) or ours.recv() != "ready":
            process.terminate()
            raise HandlerFailed(f"{self._name}: the handler process did not start")
        self._process, self._connection = process, ours
        return ours

    def _forget(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._process, self._connection = None, None


def serve(connection: Connection, stopping: SharedFlag) -> None:
    """The child: answer each (target, function name, event) with (failed, result or traceback)."""
    connection.send("ready")
    handlers: dict[str, Handler] = {}
    while True:
        try:
            request = connection.recv()
        except EOFError:
            return
        if request is None:
            return
        target, function_name, event = request
        try:
            if target not in handlers:
                handlers[target] = _load(target)
            handler = handlers[target]
            result = handler(event, StoppingContext(lambda_context(function_name), stopping))
        except Exception:  # reported to the parent, which retries or splits as Lambda's source does
            connection.send((True, traceback.format_exc()))
        else:
            connection.send((False, result))


def _load(target: str) -> Handler:
    module, _, attribute = target.partition(":")
    loaded: Handler = getattr(importlib.import_module(module), attribute)
    return loaded
