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
