"""Platform limits every layer sizes its work by, defined once.

Modules name their own limit after what it bounds (`MAX_UPLOAD_BYTES`,
`MAX_INLINE_BYTES`, `CHUNK_WRITES`, ...) but derive it from here, so a
platform limit changes in one place.
"""

from __future__ import annotations

# Lambda takes and returns at most 6 MB per invocation, and API Gateway carries a binary body
# base64-encoded (4/3 of its size) and a text body as an escaped JSON string: 4 MiB is the largest
# body that always fits, coming in (a file upload, as sent) or going out (a download, as it travels).
LAMBDA_BODY_BYTES = 4 * 1024 * 1024

# One DynamoDB TransactWriteItems holds at most 100 actions.
TRANSACTION_ITEMS = 100

# Entries of one batch write of reference data or stock locations (a JSON array): every entry of a
# request commits in the same transaction, so the entries' writes together stay within TRANSACTION_ITEMS.
BATCH_ENTRIES = 50
