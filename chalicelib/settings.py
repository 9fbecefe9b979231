"""Every setting the service reads, validated once, on first use."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from chalicelib.core.events.webhooks import Backoff


class Settings(BaseModel):
    """Environment-driven configuration. Field aliases are the variable names."""

    # Built on first use (the first get_settings()), not at import.
    model_config = ConfigDict(populate_by_name=True, frozen=True, defer_build=True)

    region: str = Field("eu-west-1", alias="AWS_DEFAULT_REGION")
    # Set only for the local stack and tests: every AWS client goes there.
    aws_endpoint_url: str | None = Field(None, alias="STOCKROOM_AWS_ENDPOINT")
    main_table: str = Field("stockroom-main", alias="STOCKROOM_MAIN_TABLE")
    history_table: str = Field("stockroom-history", alias="STOCKROOM_HISTORY_TABLE")
    idempotency_table: str = Field("stockroom-idempotency", alias="STOCKROOM_IDEMPOTENCY_TABLE")
    # Domain events and webhook deliveries (30-day TTL on `expires_at`).
    events_table: str = Field("stockroom-events", alias="STOCKROOM_EVENTS_TABLE")
    bucket: str = Field("stockroom-files", alias="STOCKROOM_BUCKET")
    import_queue: str = Field("stockroom-imports", alias="STOCKROOM_IMPORT_QUEUE")
    # Where the import queue moves a message after `import_max_receives` failed deliveries
    # (the queue's RedrivePolicy in infra/resources.json says the same number).
    import_dead_letter_queue: str = Field("stockroom-imports-dlq", alias="STOCKROOM_IMPORT_DLQ")
    import_max_receives: int = Field(5, alias="STOCKROOM_IMPORT_MAX_RECEIVES")
    # Signs continuation tokens and OAuth2 access tokens: read it as `signing_secret`.
    # Deployed, the template names a Secrets Manager secret (its ARN) and the value is
    # fetched at run time, cached, never placed in the environment. Locally and in
    # tests, with no secret named, the plain value below is the secret.
    signing_secret_id: str | None = Field(None, alias="STOCKROOM_SIGNING_SECRET_ID")
    signing_secret_value: str = Field("local-development-secret-change-me", alias="STOCKROOM_SIGNING_SECRET")
    # Webhook deliveries: a FIFO queue (one message group per tenant, webhook and product) and the
    # FIFO dead-letter queue where deliveries are parked after 24 hours of retries.
    webhook_queue: str = Field("stockroom-webhooks.fifo", alias="STOCKROOM_WEBHOOK_QUEUE")
    webhook_dead_letter_queue: str = Field("stockroom-webhooks-dlq.fifo", alias="STOCKROOM_WEBHOOK_DLQ")
    # Local stack and tests only: webhook URLs may be http and loopback (a receiver on 127.0.0.1).
    webhook_allow_loopback: bool = Field(False, alias="STOCKROOM_WEBHOOK_ALLOW_LOOPBACK")
    # Seconds a webhook request may take to connect / to answer.
    webhook_connect_timeout: float = Field(3.0, alias="STOCKROOM_WEBHOOK_CONNECT_TIMEOUT")
    webhook_read_timeout: float = Field(5.0, alias="STOCKROOM_WEBHOOK_READ_TIMEOUT")
    # The retry schedule of a failing delivery (core/events/webhooks.Backoff): wait `first` seconds after
    # the first failure, times `factor` after each further one, at most `cap` seconds (SQS: at most 12 h),
    # for `hours` from the first attempt, then park it. At most 60 attempts in all (the queue's
    # maxReceiveCount is 100); a schedule outside these bounds fails validation.
    webhook_retry_first_seconds: int = Field(30, ge=1, alias="STOCKROOM_WEBHOOK_RETRY_FIRST_SECONDS")
    webhook_retry_factor: float = Field(2.0, ge=1.0, alias="STOCKROOM_WEBHOOK_RETRY_FACTOR")
    webhook_retry_cap_seconds: int = Field(3600, ge=1, le=43_200, alias="STOCKROOM_WEBHOOK_RETRY_CAP_SECONDS")
    # At most 72 hours: the webhook queue keeps a message 4 days (infra/resources.json).
    webhook_retry_hours: float = Field(24.0, gt=0, le=72, alias="STOCKROOM_WEBHOOK_RETRY_HOURS")
    max_body_bytes: int = Field(1_048_576, alias="STOCKROOM_MAX_BODY_BYTES")
    # Every paged list of the company surfaces and the platform (README and OpenAPI show these).
    max_page_size: int = Field(1000, ge=1, alias="STOCKROOM_MAX_PAGE_SIZE")
    default_page_size: int = Field(100, ge=1, alias="STOCKROOM_DEFAULT_PAGE_SIZE")
    idempotency_ttl_seconds: int = Field(86_400, alias="STOCKROOM_IDEMPOTENCY_TTL")
    # How long a request may hold its idempotency key before a retry may take it over.
    idempotency_lock_seconds: int = Field(60, alias="STOCKROOM_IDEMPOTENCY_LOCK")

    # OAuth2 access-token signing keys: a JSON object `{"current": "<kid>", "<kid>": "<secret>", ...}`.
    # Tokens are signed with the current kid and accepted under every kid still listed, so a
    # rotation (add a kid, make it current, drop the old one an hour later) breaks no token.
    # Deployed, STOCKROOM_OAUTH_KEYS_SECRET_ID names a Secrets Manager secret holding that JSON
    # (read like the signing secret: fetched at run time, cached 5 minutes). With neither set,
    # the signing secret above is the one key, kid "default".
    oauth_keys_secret_id: str | None = Field(None, alias="STOCKROOM_OAUTH_KEYS_SECRET_ID")
    oauth_keys_value: str | None = Field(None, alias="STOCKROOM_OAUTH_KEYS")
    oauth_issuer: str = Field("stockroom", alias="STOCKROOM_OAUTH_ISSUER")
    oauth_audience: str = Field("stockroom-api", alias="STOCKROOM_OAUTH_AUDIENCE")
    oauth_token_seconds: int = Field(3600, ge=60, le=3600, alias="STOCKROOM_OAUTH_TOKEN_SECONDS")
    # Token requests per client per minute (every attempt counts, right or wrong secret).
    oauth_token_rate: int = Field(60, ge=1, alias="STOCKROOM_OAUTH_TOKEN_RATE")

    @model_validator(mode="after")
    def _webhook_schedule_is_usable(self) -> Settings:
        self.webhook_backoff  # noqa: B018 - builds (and so checks) the retry schedule
        return self

    @property
    def webhook_backoff(self) -> Backoff:
        """The webhook retry schedule of the STOCKROOM_WEBHOOK_RETRY_* settings."""
        from chalicelib.core.events.webhooks import Backoff

        return Backoff(
            first_seconds=self.webhook_retry_first_seconds,
            factor=self.webhook_retry_factor,
            cap_seconds=self.webhook_retry_cap_seconds,
            window=timedelta(hours=self.webhook_retry_hours),
        )

    @property
    def oauth_signing_keys(self) -> tuple[str, dict[str, str]]:
        """(current kid, kid -> secret). ValueError when the configured JSON is unusable."""
        if self.oauth_keys_secret_id:
            from chalicelib.storage.secrets import secret_string

            return parse_signing_keys(secret_string(self.oauth_keys_secret_id))
        if self.oauth_keys_value:
            return parse_signing_keys(self.oauth_keys_value)
        return "default", {"default": self.signing_secret}

    @property
    def signing_secret(self) -> str:
        """The signing secret: from Secrets Manager when one is named (cached), else the plain setting."""
        if not self.signing_secret_id:
            return self.signing_secret_value
        from chalicelib.storage.secrets import secret_string

        return secret_string(self.signing_secret_id)


# HS256 keys: at least 256 bits, as RFC 7518 3.2 asks of an HMAC key for SHA-256.
MIN_SIGNING_KEY_LENGTH = 32


def parse_signing_keys(text: str) -> tuple[str, dict[str, str]]:
    """`{"current": kid, kid: secret, ...}` -> (kid, {kid: secret}); ValueError naming what is wrong."""
    try:
        data = json.loads(text)
    except ValueError:
        raise ValueError("OAuth signing keys are not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("current"), str):
        raise ValueError('OAuth signing keys need "current": the kid that signs')
    current = data.pop("current")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise ValueError("OAuth signing keys map each kid to a string secret")
    if current not in data:
        raise ValueError(f"OAuth signing keys: current kid {current!r} is not listed")
    short = sorted(k for k, v in data.items() if len(v) < MIN_SIGNING_KEY_LENGTH)
    if short:
        raise ValueError(f"OAuth signing keys shorter than {MIN_SIGNING_KEY_LENGTH} characters: {', '.join(short)}")
    return current, data


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.model_validate(dict(os.environ))


def setting_at_import(name: str) -> str:
    """One string setting, read without validating them all (nothing is built at import).

    For the few values a decorator needs while the app is imported (an event
    source's queue name); everything else goes through get_settings().
    """
    field = Settings.model_fields[name]
    return os.environ.get(str(field.alias), str(field.default))


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment)."""
    get_settings.cache_clear()
