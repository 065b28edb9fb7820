"""What an ingestion read, kept, repeated and refused, file by file."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from domain.inputs import BusinessHours, StatusPolls, StoreTimezones

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
    """Counts for one input file.

    ``rows``: data rows read; ``rejected``: invalid rows; ``duplicates``: valid
    rows repeating an earlier row of the same file; ``new``: rows that changed
    what is stored; ``errors``: the first rejected rows, with line and reason.
    """

    rows: int = 0
    new: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: tuple[RejectedRow, ...] = attrs.field(default=(), converter=_rejected_tuple)

    @property
    def accepted(self) -> int:
        return self.rows - self.rejected - self.duplicates

    def with_new(self, new: int) -> FileSummary:
        return attrs.evolve(self, new=new)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "new": self.new,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "errors": [error.to_dict() for error in self.errors],
        }


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

    Duplicates are already removed (first row in file order wins); ``new`` is
    still 0 in the summaries, as nothing has been stored yet.
    """

    polls: StatusPolls
    polls_summary: FileSummary
    hours: BusinessHours
    hours_summary: FileSummary
    timezones: StoreTimezones
    timezones_summary: FileSummary
