"""Integration tier: moto in-process, tables built from infra/resources.json."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from chalicelib.settings import get_settings, reset_settings
from chalicelib.storage.aws import client, reset_clients
from infra.provision import provision


@pytest.fixture
def aws() -> Iterator[None]:
    reset_settings()
    reset_clients()
    with mock_aws():
        provision(get_settings(), client("dynamodb"), client("s3"), client("sqs"))
        yield
    reset_clients()
