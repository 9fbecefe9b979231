"""Integration tier: moto in-process, tables built from infra/resources.json."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib import wiring
from chalicelib.settings import get_settings, reset_settings
from chalicelib.storage.aws import client, reset_clients
from infra.moto_server import cache_condition_parsing, roll_back_by_item
from infra.provision import create_tables, provision, table_names
from tests.integration.company import Company, Refs, make_company

# moto as the local stack runs it: a cancelled transaction rolls back the items it named instead of
# moto deep-copying every table it touches once per item (which grows with the table), and each
# distinct condition expression is parsed once.
roll_back_by_item()
cache_condition_parsing()


@pytest.fixture
def aws() -> Iterator[None]:
    reset_settings()
    reset_clients()
    with mock_aws():
        provision(get_settings(), client("dynamodb"), client("s3"), client("sqs"))
        yield
    reset_clients()


@pytest.fixture(scope="module")
def table() -> Iterator[str]:
    """One moto main table for a whole module. Tests stay apart by writing
    under fresh tenants: every key starts with the tenant."""
    reset_settings()
    reset_clients()
    with mock_aws():
        create_tables(client("dynamodb"), table_names(get_settings()))
        yield get_settings().main_table
    reset_clients()


@pytest.fixture
def http(aws: None) -> Iterator[Client]:
    """The real app, through chalice's test client, on fresh moto tables."""
    from app import app

    wiring.reset()
    with Client(app) as test_client:
        yield test_client
    wiring.reset()


@pytest.fixture
def acme(http: Client) -> Company:
    return make_company(http, "Acme")


@pytest.fixture
def other(http: Client) -> Company:
    return make_company(http, "Other")


@pytest.fixture
def refs(acme: Company) -> Refs:
    return Refs(acme)
