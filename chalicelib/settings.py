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
    max_body_bytes: int = Field(1_048_576, alias="STOCKROOM_MAX_BODY_BYTES")
    # Every paged list of the company surfaces and the platform (README and OpenAPI show these).
    max_page_size: int = Field(1000, ge=1, alias="STOCKROOM_MAX_PAGE_SIZE")
    default_page_size: int = Field(100, ge=1, alias="STOCKROOM_DEFAULT_PAGE_SIZE")
    idempotency_ttl_seconds: int = Field(86_400, alias="STOCKROOM_IDEMPOTENCY_TTL")
    # How long a request may hold its idempotency key before a retry may take it over.
    idempotency_lock_seconds: int = Field(60, alias="STOCKROOM_IDEMPOTENCY_LOCK")

    @property
    def signing_secret(self) -> str:
        """The signing secret: from Secrets Manager when one is named (cached), else the plain setting."""
        if not self.signing_secret_id:
            return self.signing_secret_value
        from chalicelib.storage.secrets import secret_string

        return secret_string(self.signing_secret_id)


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
