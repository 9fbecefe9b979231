"""Every setting the service reads, validated once, on first use."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field


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
    bucket: str = Field("stockroom-files", alias="STOCKROOM_BUCKET")
    import_queue: str = Field("stockroom-imports", alias="STOCKROOM_IMPORT_QUEUE")
    # Signs continuation tokens and OAuth2 access tokens. In AWS it comes
    # from the environment, filled from Secrets Manager by the template.
    signing_secret: str = Field("local-development-secret-change-me", alias="STOCKROOM_SIGNING_SECRET")
    max_body_bytes: int = Field(1_048_576, alias="STOCKROOM_MAX_BODY_BYTES")
    max_page_size: int = Field(200, alias="STOCKROOM_MAX_PAGE_SIZE")
    default_page_size: int = Field(50, alias="STOCKROOM_DEFAULT_PAGE_SIZE")
    idempotency_ttl_seconds: int = Field(86_400, alias="STOCKROOM_IDEMPOTENCY_TTL")
    # How long a request may hold its idempotency key before a retry may take it over.
    idempotency_lock_seconds: int = Field(60, alias="STOCKROOM_IDEMPOTENCY_LOCK")


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
