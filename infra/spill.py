"""The local stack's spill file: the bodies of stored items and stream records, kept on disk.

The compact item store (`infra.compact_items`) and its stream records
(`infra.compact_records`) keep their deflated bodies here once the local
stack calls `spill_to_disk()`; without it (the unit and integration tiers)
they stay in memory.
"""

from __future__ import annotations

import os
import tempfile
import threading


class SpillFile:
    """Bytes kept in an unlinked temporary file, each found again by its place (an int).

    The local stack's tables and stream records keep only their keys, the
    fingerprints and an 8-byte place in memory; the deflated bodies, about
    two thirds of a stored item, live here. Reads come from the kernel's page
    cache, which the machine may drop, so the process's memory no longer grows
    with the data (DynamoDB Local keeps its tables on disk too). The file is
    append-only: a place, once given, always reads back the same bytes, and
    the space of overwritten items comes back when the process ends.
    """

    LENGTH_BITS = 24  # a place is offset << 24 | length: bodies up to 16 MiB, a file up to 1 TiB

    def __init__(self) -> None:
        # Open for the life of the process, and gone from the folder already: no name to clean up.
        self._file = tempfile.TemporaryFile(prefix="stockroom-items-")  # noqa: SIM115
        self._fd = self._file.fileno()
        self._end = 0
        self._lock = threading.Lock()

    def put(self, data: bytes) -> int | None:
        """Keep `data`; its place, or None when it is too long for one."""
        if len(data) >> self.LENGTH_BITS:
            return None
        with self._lock:
            start = self._end
            self._end += len(data)
        view, offset = memoryview(data), start
        while view:  # outside the lock: each writer has its own range
            written = os.pwrite(self._fd, view, offset)
            view, offset = view[written:], offset + written
        return (start << self.LENGTH_BITS) | len(data)

    def get(self, place: int) -> bytes:
        length = place & ((1 << self.LENGTH_BITS) - 1)
        return os.pread(self._fd, length, place >> self.LENGTH_BITS)

    def size(self) -> int:
        """Bytes written so far (live and overwritten)."""
        return self._end


_spill: list[SpillFile | None] = [None]  # one cell: set once by spill_to_disk()


def spill_to_disk() -> None:
    """From now on, keep the bodies of items and stream records stored in this process on disk. Idempotent."""
    if _spill[0] is None:
        _spill[0] = SpillFile()


def keep(data: bytes) -> int | None:
    """`data`'s place in the spill file; None when there is no spill file or `data` is too long for one."""
    spill = _spill[0]
    return spill.put(data) if spill is not None else None


def read(place: int) -> bytes:
    """The bytes kept at `place`."""
    spill = _spill[0]
    assert spill is not None, "a spilled body outlived its spill file"
    return spill.get(place)
