"""Shared test configuration: no test ever reaches a real AWS endpoint."""

from __future__ import annotations

import os

# Set before anything imports boto3, so botocore never probes the metadata
# address or finds real credentials.
os.environ.update(
    AWS_EC2_METADATA_DISABLED="true",
    AWS_DEFAULT_REGION="eu-west-1",
    AWS_REGION="eu-west-1",
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_ACCOUNT_ID_ENDPOINT_MODE="disabled",
    POWERTOOLS_METRICS_NAMESPACE="Stockroom",
    POWERTOOLS_DEV="false",
)
for name in ("AWS_PROFILE", "STOCKROOM_AWS_ENDPOINT"):
    os.environ.pop(name, None)
