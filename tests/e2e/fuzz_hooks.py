"""Schemathesis hooks for the fuzz run (loaded through SCHEMATHESIS_HOOKS=tests.e2e.fuzz_hooks).

A certificate document is a PDF upload: schemathesis cannot make a body of that media type by itself.
"""

from __future__ import annotations

import schemathesis
from hypothesis import strategies as st

schemathesis.openapi.media_type("application/pdf", st.binary(max_size=2048).map(lambda tail: b"%PDF-1.4\n" + tail))
