"""Capture what the service logs and publishes (Powertools Logger lines and EMF metrics)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from chalicelib.observability import logger, metrics


@dataclass
class Captured:
    """The structured log lines and EMF lines written while capturing."""

    stream: io.StringIO = field(default_factory=io.StringIO)
    capsys: pytest.CaptureFixture[str] | None = None
    _emf: list[dict[str, Any]] = field(default_factory=list)

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line.strip()]

    def messages(self, message: str) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line.get("message") == message]

    def emf(self) -> list[dict[str, Any]]:
        """EMF documents printed to stdout so far (Powertools prints them)."""
        assert self.capsys is not None
        out = self.capsys.readouterr().out
        for line in out.splitlines():
            if line.startswith("{") and '"_aws"' in line:
                self._emf.append(json.loads(line))
        return self._emf

    def metric(self, name: str, **dimensions: str) -> list[float]:
        """Values of metric `name` in EMF documents whose dimensions include `dimensions`."""
        found = []
        for doc in self.emf():
            names = {m["Name"] for d in doc["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
            if name in names and all(doc.get(k) == v for k, v in dimensions.items()):
                found.append(value(doc, name))
        return found


def value(doc: dict[str, Any], name: str) -> float:
    """A metric's value in an EMF document (Powertools writes a list when a metric was added twice)."""
    raw = doc[name]
    return float(sum(raw)) if isinstance(raw, list) else float(raw)


@contextmanager
def captured(capsys: pytest.CaptureFixture[str]) -> Iterator[Captured]:
    """Point the service logger at a buffer, and read EMF lines from captured stdout."""
    handler = logger.registered_handler
    result = Captured(capsys=capsys)
    previous = handler.setStream(result.stream)  # type: ignore[attr-defined]
    # INFO, as deployed (a module imported earlier, e.g. a benchmark, may have asked for less).
    level = logger.log_level
    logger.setLevel("INFO")
    metrics.clear_metrics()
    capsys.readouterr()
    try:
        yield result
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]
        logger.setLevel(level)
        metrics.clear_metrics()
