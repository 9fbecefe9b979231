"""Benchmarks: scripts that print figures. Run them with `make bench`.

Importing this package makes the process safe before anything imports
boto3: dummy credentials, a region, no instance-metadata probing, and no
endpoint override, so nothing can reach a real AWS account or a running local
stack. `python -m benchmarks.<name>` always imports this first.
"""

from __future__ import annotations

import os

SAFE_ENV = {
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}
UNSAFE_VARS = ("AWS_PROFILE", "STOCKROOM_AWS_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB")

os.environ.update(SAFE_ENV)
for _name in UNSAFE_VARS:
    os.environ.pop(_name, None)
