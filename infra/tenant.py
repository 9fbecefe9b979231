"""Create a tenant with its first API key and OAuth2 client, in the local stack or a deployed stage.

`make tenant NAME=... PERMISSIONS=...` runs this against the running local
stack (STOCKROOM_AWS_ENDPOINT points at its moto server). With the endpoint
unset, the environment's credentials, region and table names decide which
stage it writes to.

    python -m infra.tenant --name "Acme" --permissions "inventory.read,orders.read"

Prints `Company ID: ...`, `API key: ...`, `Client ID: ...` and `Client secret: ...`
(an OAuth2 client holding the key's permissions: all of them by default); the
key and the secret are shown only this once.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from urllib.parse import urlsplit

from infra.localstack import forget_cached_aws, local_aws_environment


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.tenant", description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True, help="company name")
    parser.add_argument(
        "--permissions", default="*", help='comma-separated permissions of the key, or "*" for all (default)'
    )
    parser.add_argument("--key-name", default="initial key", help="a label for the key")
    return parser.parse_args(argv)


def fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr, flush=True)
    return 1


def reachable(endpoint: str) -> bool:
    parts = urlsplit(endpoint)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    from chalicelib.core.tenancy.permissions import parse_permissions

    try:
        permissions = parse_permissions(args.permissions)
    except ValueError as exc:
        return fail(str(exc))
    if not permissions:
        return fail('no permissions given: name at least one, or "*" for all')

    endpoint = os.environ.get("STOCKROOM_AWS_ENDPOINT") or None
    if endpoint:
        local_aws_environment(endpoint)
        # botocore would retry a refused connection for seconds before giving up.
        if not reachable(endpoint):
            return fail(f"cannot reach {endpoint}: is the local stack running (`make run`)?")
    forget_cached_aws()
    return create(args.name, permissions, args.key_name, endpoint)


def create(name: str, permissions: frozenset[str], key_name: str, endpoint: str | None) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from chalicelib.core.errors import DomainError
    from chalicelib.core.models import SYSTEM
    from chalicelib.settings import get_settings
    from chalicelib.wiring import client_service, tenant_service

    table = get_settings().main_table
    where = endpoint or f"region {get_settings().region}"
    try:
        tenant, raw_key = tenant_service().create_tenant(name, permissions, key_name)
        client, client_secret = client_service().create_client(
            tenant.tenant_id, "initial client", permissions, SYSTEM, permissions
        )
    except DomainError as exc:
        return fail(exc.message)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") == "ResourceNotFoundException":
            return fail(f"table {table} does not exist at {where} (set STOCKROOM_MAIN_TABLE to the stage's table)")
        return fail(f"AWS refused the request at {where}: {error.get('Code')}: {error.get('Message')}")
    except BotoCoreError as exc:
        return fail(f"cannot talk to AWS at {where}: {exc}")
    print(f"Company ID: {tenant.tenant_id}", flush=True)
    print(f"API key: {raw_key}", flush=True)
    print(f"Client ID: {client.client_id}", flush=True)
    print(f"Client secret: {client_secret}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
