"""Integration tier: moto in-process, tables built from infra/resources.json."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib import wiring
from chalicelib.settings import get_settings, reset_settings
from chalicelib.storage.aws import client, on_call, reset_clients
from infra.moto_server import cache_condition_parsing, parse_requests_as_json, roll_back_by_item
from infra.moto_tokens import honour_client_request_tokens
from infra.provision import provision
from tests.integration.company import Company, Refs, make_company

# moto as the local stack runs it (infra/moto_server.py): a cancelled transaction rolls back the
# items it named instead of moto deep-copying every table it touches once per item (which grows
# with the table), each distinct condition expression is parsed once, and requests are read as JSON.
roll_back_by_item()
cache_condition_parsing()
parse_requests_as_json()
# moto ignores TransactWriteItems' ClientRequestToken; DynamoDB does not. (It patches moto's
# response handler, the rollback its backend: the two compose.)
honour_client_request_tokens()


def _fresh_aws() -> Iterator[None]:
    """moto with every table, the files bucket and the import queue, built from infra/resources.json."""
    reset_settings()
    reset_clients()
    with mock_aws():
        provision(get_settings(), client("dynamodb"), client("s3"), client("sqs"))
        yield
    reset_clients()


@pytest.fixture(scope="module")
def module_aws() -> Iterator[None]:
    """One moto for a whole module. Tests stay apart by writing under fresh tenants:
    every key starts with the tenant."""
    yield from _fresh_aws()


@pytest.fixture
def aws(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fresh moto for each test; in a module marked `shared_aws`, the module's one (`module_aws`).

    Mark a module `pytestmark = pytest.mark.shared_aws` when each of its tests makes its own
    tenants and reads nothing across tenants: no Scan of a table, no whole-queue or
    whole-stream reads, no count over every tenant, no settings changed between tests.
    """
    if request.node.get_closest_marker("shared_aws") is not None:
        request.getfixturevalue("module_aws")
        yield
        return
    yield from _fresh_aws()


@pytest.fixture(scope="module")
def table(module_aws: None) -> str:
    """The main table of the module's moto (`module_aws`), for store and service tests."""
    return get_settings().main_table


@pytest.fixture
def calls(table: str) -> Iterator[list[str]]:
    """The AWS operations made while the test runs, in order."""
    made: list[str] = []
    unsubscribe = on_call(lambda service, operation: made.append(operation))
    yield made
    unsubscribe()


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
