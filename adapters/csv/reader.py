"""Reading and validating the three input files of a data folder, a batch of rows at a time.

The rules are those of the report contract ("Inputs", "Bad rows",
"Duplicates"):

* UTF-8, with or without a byte-order mark; LF, CRLF or lone CR line ends;
  white space around any field is ignored; columns in any order, extra
  columns ignored; ``day`` is accepted for ``dayOfWeek``. Header names match
  ignoring case.
* ``store_id`` is an opaque string, kept as written (trimmed); a row whose
  id holds a control character or is longer than ``MAX_STORE_ID_CHARS`` is
  rejected, in every file.
* A poll before 1970-01-01 UTC, or more than a day after the reading
  machine's clock, is rejected: a poller with a wrong clock must not move
  the report's "now" for every store.
* A row that cannot be read is rejected: counted, and the first
  ``MAX_LISTED_ERRORS`` listed with their 1-based physical line (the header
  is line 1) and the reason. A row with fewer or more fields than the header
  is rejected too, and so is a row holding bytes that are not UTF-8. Blank
  lines are not rows.
* Duplicates: the first valid row in file order wins; later ones are counted.

How (``adapters.csv.batches``, ``source``, ``checks``, ``instants``): the header line is read first (it fixes the columns, and where the data
starts); pyarrow's streaming CSV reader parses the rest, a block of bytes at
a time, into batches of rows, so memory does not grow with the file. A row of
the wrong shape reaches pyarrow's invalid-row handler instead, with its
record number. The physical line of every row follows from the record
numbers and the line breaks inside quoted values (see ``_Pass``). Every check
then works on a batch's whole columns, and on the distinct values of a
column (store ids, statuses, times, timezone names) rather than on each row,
each distinct value converted once per file.

Resume points: every batch tells where a later read of the same file, grown
by appended lines, goes on (the end of the last complete line taken); a read
can start there, taking its columns from the header line.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from adapters.csv.rules import _FINGERPRINT_BYTES, MAX_STORE_ID_CHARS, Clock, system_clock
from domain.model.errors import InvalidInputError, clipped
from domain.model.ingestion import (
    HOURS_FILE,
    STATUS_FILE,
    TIMEZONE_FILE,
    FileSummary,
    Fingerprint,
    ParsedInput,
    ResumePoint,
    StatusBatch,
)
from domain.model.inputs import BusinessHours, StoreTimezones
from domain.ports.reading import InputReader

__all__ = ["MAX_STORE_ID_CHARS", "Clock", "CsvInputReader", "PandasCsvReader", "release_free_memory", "system_clock"]


class CsvInputReader(InputReader):
    """Reads ``store_status.csv`` (required), ``menu_hours.csv`` and ``timezone.csv``.

    ``clock`` is the reading machine's clock: polls more than a day after it are rejected.
    """

    def __init__(self, clock: Clock = system_clock) -> None:
        self._clock = clock

    # The reading itself (pyarrow, pandas: a third of a second to import) is
    # imported when a file is read, so that a command with nothing to read,
    # such as an ingestion of a folder with nothing new, starts without it.

    def read(self, folder: Path) -> ParsedInput:
        from adapters.csv.batches import read_hours, read_status, read_timezones

        polls, polls_summary = read_status(_status_path(folder), self._clock())
        hours_path = folder / HOURS_FILE
        hours, hours_summary = read_hours(hours_path) if hours_path.exists() else (BusinessHours.empty(), FileSummary())
        timezone_path = folder / TIMEZONE_FILE
        timezones, timezones_summary = (
            read_timezones(timezone_path) if timezone_path.exists() else (StoreTimezones(), FileSummary())
        )
        return ParsedInput(polls, polls_summary, hours, hours_summary, timezones, timezones_summary)

    def status_batches(self, folder: Path, resume: ResumePoint | None = None) -> Iterator[StatusBatch]:
        from adapters.csv.batches import iter_status_batches

        return iter_status_batches(_status_path(folder), self._clock, resume)

    def hours(self, folder: Path) -> tuple[BusinessHours, FileSummary] | None:
        from adapters.csv.batches import read_hours

        path = folder / HOURS_FILE
        return read_hours(path) if path.exists() else None

    def timezones(self, folder: Path) -> tuple[StoreTimezones, FileSummary] | None:
        from adapters.csv.batches import read_timezones

        path = folder / TIMEZONE_FILE
        return read_timezones(path) if path.exists() else None

    def fingerprint(self, folder: Path, name: str, length: int | None = None) -> Fingerprint | None:
        """SHA-256 of the first and the last MiB of the first ``length`` bytes, and of ``length``.

        Reading both ends costs the same whatever the file's size; a file
        rewritten rather than appended to (rotated, truncated, regenerated)
        changes at least one of them.
        """
        try:
            file = (folder / name).open("rb")
        except OSError:
            return None
        with file:
            size = file.seek(0, os.SEEK_END)
            length = size if length is None else length
            if size < length:
                return None
            digest = hashlib.sha256(str(length).encode())
            file.seek(0)
            digest.update(file.read(min(length, _FINGERPRINT_BYTES)))
            file.seek(max(0, length - _FINGERPRINT_BYTES))
            digest.update(file.read(min(length, _FINGERPRINT_BYTES)))
        return Fingerprint(length, digest.hexdigest())


def _status_path(folder: Path) -> Path:
    """The folder's status file; ``InvalidInputError`` when the folder or the file is missing."""
    if not folder.is_dir():
        raise InvalidInputError(f"the data folder {clipped(str(folder))} does not exist or is not a folder")
    path = folder / STATUS_FILE
    if not path.exists():
        raise InvalidInputError(f"{STATUS_FILE} is missing from the data folder {clipped(str(folder))}")
    return path


# The name the composition root and the CSV repositories know it by.
PandasCsvReader = CsvInputReader



def release_free_memory() -> None:
    """Give the memory freed after reading a file back to the system.

    Reading leaves freed blocks in pyarrow's allocator and in the C heap
    (numpy's columns of a batch, pyarrow's buffers); a process that goes on
    computing would otherwise carry them, a few hundred MiB at a large
    fleet, into its peak.
    """
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 - only glibc has it
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _glibc()

