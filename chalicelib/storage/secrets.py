"""Secrets Manager values, fetched through Powertools parameters and cached.

The provider uses the shared client of storage/aws.py, so STOCKROOM_AWS_ENDPOINT
(moto, the local stack) serves secrets like every other AWS call. A value is
fetched again after MAX_AGE_SECONDS, so a rotated secret is picked up by warm
functions without a deploy.
"""

from __future__ import annotations

import threading
from typing import Any

from chalicelib.storage.aws import client

MAX_AGE_SECONDS = 300

_lock = threading.Lock()
# client -> its provider: at most one entry, replaced when the shared client is rebuilt.
_providers: dict[int, tuple[Any, Any]] = {}


class SecretUnreadable(RuntimeError):
    """The named secret has no string value."""


def secret_string(secret_id: str, max_age: int = MAX_AGE_SECONDS) -> str:
    """The SecretString of `secret_id` (a name or an ARN), cached for `max_age` seconds."""
    value = _provider_for(client("secretsmanager")).get(secret_id, max_age=max_age)
    if not isinstance(value, str) or not value:
        raise SecretUnreadable(f"secret {secret_id} has no string value")
    return value


def _provider_for(secrets_client: Any) -> Any:
    """One provider (and its cache) per client; a new client (tests, the local stack) gets a new one."""
    with _lock:
        found = _providers.get(id(secrets_client))
        if found is None or found[0] is not secrets_client:
            from aws_lambda_powertools.utilities.parameters import SecretsProvider

            _providers.clear()
            found = (secrets_client, SecretsProvider(boto3_client=secrets_client))
            _providers[id(secrets_client)] = found
        return found[1]
