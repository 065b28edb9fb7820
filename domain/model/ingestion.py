"""What an ingestion read, kept, repeated and refused, file by file."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Generic, TypeVar

import attrs

from domain.model.inputs import BusinessHours, StatusPolls, StoreTimezones

# The first rejected rows of each file are listed with line and reason; all
# are counted.
MAX_LISTED_ERRORS = 500

STATUS_FILE = "store_status.csv"
HOURS_FILE = "menu_hours.csv"
TIMEZONE_FILE = "timezone.csv"


@attrs.frozen
class RejectedRow:
    """A row that was not loaded: its 1-based line in the file and why."""

    line: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "reason": self.reason}


def _rejected_tuple(rows: Iterable[RejectedRow]) -> tuple[RejectedRow, ...]:
    return tuple(rows)


@attrs.frozen
class FileSummary:
    """Counts for one input file; every data row is in exactly one count, so
    ``rows == new + already_stored + duplicates + rejected``.

    ``rows``: data rows read; ``rejected``: invalid rows; ``duplicates``: valid
    rows repeating an earlier valid row of the same file; the others, the
    file's distinct valid rows, are either ``new`` (they changed what is
    stored: a poll of a store and instant not stored yet, an hours row the
    store did not have, a timezone the store did not have) or
    ``already_stored`` (the database held them already: it keeps its poll of
    that store and instant, or the store has that hours row or that timezone).
    ``errors``: the first rejected rows, with line and reason.
    """

    rows: int = 0
    new: int = 0
    already_stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: tuple[RejectedRow, ...] = attrs.field(default=(), converter=_rejected_tuple)

    @property
    def accepted(self) -> int:
        """The file's distinct valid rows: ``new + already_stored`` once stored."""
        return self.rows - self.rejected - self.duplicates

    def with_new(self, new: int) -> FileSummary:
        """The counts once the accepted rows are stored, ``new`` of them changing what was stored."""
        if not 0 <= new <= self.accepted:
            raise ValueError(f"{new} new rows of {self.accepted} accepted: a repository miscounted")
        return attrs.evolve(self, new=new, already_stored=self.accepted - new)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "new": self.new,
            "already_stored": self.already_stored,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "errors": [error.to_dict() for error in self.errors],
        }


@attrs.frozen
class ResumePoint:
    """Where a later read of a file that grows by appended lines goes on.

    ``offset`` is the byte just after the last complete line read (a line
    ended by a line break, outside quotes), and ``line`` the 1-based number
    of the line that starts there. ``START`` is the beginning of the file.
    """

    offset: int
    line: int


START = ResumePoint(0, 1)


@attrs.frozen
class Fingerprint:
    """The first ``length`` bytes of a file, as a checksum (see ``InputReader.fingerprint``)."""

    length: int
    checksum: str


@attrs.frozen
class ReadPosition:
    """How far a source file was ingested: up to ``resume``, whose bytes had
    ``checksum``, by ingestion ``version``."""

    source: str
    resume: ResumePoint
    checksum: str
    version: int


@attrs.frozen
class BatchCounts:
    """What one batch of a file's rows held: its data rows (blank lines are
    none), the valid ones that repeat an earlier valid row of the same batch,
    the rejected ones, and the first of those with line and reason."""

    rows: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: tuple[RejectedRow, ...] = attrs.field(default=(), converter=_rejected_tuple)


def summarize(batches: Iterable[BatchCounts], duplicates: int = 0) -> FileSummary:
    """The counts of a file read in batches, in file order.

    ``duplicates``: the valid rows that repeat a valid row of an earlier
    batch, which no single batch can see.
    """
    rows = rejected = repeated = 0
    errors: list[RejectedRow] = []
    for batch in batches:
        rows += batch.rows
        rejected += batch.rejected
        repeated += batch.duplicates
        errors.extend(batch.errors[: MAX_LISTED_ERRORS - len(errors)])
    return FileSummary(rows=rows, duplicates=repeated + duplicates, rejected=rejected, errors=tuple(errors))


_Rows = TypeVar("_Rows")


@attrs.frozen
class InputBatch(Generic[_Rows]):
    """Consecutive rows of one input file, read and validated.

    ``valid``: the valid rows, without those that repeat an earlier valid row
    of the batch (the first wins); ``counts``: what the batch held;
    ``resume``: where a read that has taken this batch and those before it
    goes on.
    """

    valid: _Rows
    counts: BatchCounts
    resume: ResumePoint


StatusBatch = InputBatch[StatusPolls]
HoursBatch = InputBatch[BusinessHours]
# Each store's first valid timezone in the batch, in file order.
TimezoneBatch = InputBatch[StoreTimezones]


@attrs.frozen
class IngestSummary:
    store_status: FileSummary
    menu_hours: FileSummary
    timezone: FileSummary

    def to_dict(self) -> dict[str, Any]:
        return {
            "store_status": self.store_status.to_dict(),
            "menu_hours": self.menu_hours.to_dict(),
            "timezone": self.timezone.to_dict(),
        }


@attrs.frozen
class ParsedInput:
    """A data folder read and validated: the valid rows and each file's counts.

    Duplicates are already removed (first row in file order wins); ``new`` and
    ``already_stored`` are still 0 in the summaries, as nothing has been stored yet.
    """

    polls: StatusPolls
    polls_summary: FileSummary
    hours: BusinessHours
    hours_summary: FileSummary
    timezones: StoreTimezones
    timezones_summary: FileSummary


# The files an upload may hold, in the order they are stored and listed.
UPLOAD_FILES = (STATUS_FILE, HOURS_FILE, TIMEZONE_FILE)
