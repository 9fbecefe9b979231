"""Unit tier: no network at all. Every test runs with sockets disabled."""

from __future__ import annotations

import pytest
import pytest_socket


@pytest.hookimpl(trylast=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # trylast: runs after pytest-socket's own hook, so nothing re-enables sockets.
    # pytest-socket's teardown hook restores them for the other tiers.
    pytest_socket.disable_socket(allow_unix_socket=False)
