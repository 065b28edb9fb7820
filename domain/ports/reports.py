"""The report runs' ports: their registry and where their files live."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from domain.model.errors import UptimeError
from domain.model.report import Report, RunKind


class ReportNotFound(UptimeError):
    def __init__(self, report_id: str) -> None:
        super().__init__(f"no report with id {report_id}")
        self.report_id = report_id


class ReportStorageError(UptimeError):
    """A report file could not be written or read."""




class ReportStorage(ABC):
    """Where finished report files live."""

    @abstractmethod
    def save(self, report_id: str, content: bytes) -> str:
        """Store the CSV atomically; return its location (opaque to callers)."""

    def save_pieces(self, report_id: str, pieces: Iterable[bytes]) -> str:
        """Store the concatenation of ``pieces`` atomically, as ``save`` does; return its location.

        An adapter that can writes each piece as it comes, so a file larger
        than memory is never held whole. An error raised by ``pieces``
        propagates and leaves nothing saved (a file saved before stays).
        """
        return self.save(report_id, b"".join(pieces))

    @abstractmethod
    def load(self, location: str) -> bytes:
        """The bytes saved at ``location``; ``ReportStorageError`` if gone."""

    def load_pieces(self, location: str) -> Iterator[bytes]:
        """The bytes saved at ``location``, in pieces to pass on as they come.

        ``ReportStorageError`` at once (not on the first piece) if they are
        gone. An adapter that can reads a piece at a time, so a file larger
        than memory is never held whole.
        """
        return iter([self.load(location)])

    @abstractmethod
    def delete(self, location: str) -> None:
        """Remove the file at ``location``; one already gone is fine.

        ``ReportStorageError`` for a location this storage never gives out.
        """


class ReportRegistry(ABC):
    """The record of every report run, its state and its computed parts.

    Every method but ``add`` raises ``ReportNotFound`` for an unknown id. A
    report leaves ``Running`` once: ``mark_complete`` and ``mark_failed`` change
    only a running report and say whether they did. Runs of every kind
    (reports, trends) share it: a run keeps the ``kind`` and ``days`` it was
    added with.
    """

    @abstractmethod
    def add(self, report: Report) -> None:
        """Record a new report; ``RepositoryError`` if the id exists already."""

    @abstractmethod
    def get(self, report_id: str) -> Report: ...

    @abstractmethod
    def plan(self, report_id: str, total_parts: int, at: datetime, *, snapshot: int, now_us: int | None) -> Report:
        """Record the report's plan: how many parts, the snapshot they all read, and its ``now``.

        A report keeps its first plan: planning it again (a planning task
        delivered twice) changes nothing. Returns the report as recorded.
        """

    @abstractmethod
    def save_part(
        self, report_id: str, index: int, lines: str, at: datetime, summary: Mapping[str, Any] | None = None
    ) -> int:
        """Keep part ``index`` with its ``summary`` (JSON values; saving it again replaces both);
        return how many parts are saved."""

    @abstractmethod
    def parts(self, report_id: str) -> list[str]:
        """The saved parts, in index order."""

    @abstractmethod
    def part(self, report_id: str, index: int) -> str | None:
        """The lines of part ``index``; None when it is not saved (or completion dropped it)."""

    @abstractmethod
    def part_summaries(self, report_id: str) -> list[Mapping[str, Any] | None]:
        """The summaries of the saved parts, in index order (None for a part saved without one)."""

    @abstractmethod
    def mark_complete(
        self, report_id: str, report_path: str, finished_at: datetime, summary: Mapping[str, Any] | None = None
    ) -> bool:
        """Complete a running report, recording its file's location and ``summary``; drop its parts."""

    @abstractmethod
    def mark_failed(self, report_id: str, error: str, finished_at: datetime) -> bool: ...

    @abstractmethod
    def ping(self) -> None:
        """Check that the registry's store answers; ``RepositoryError`` if not."""

    @abstractmethod
    def finished_before(self, cutoff: datetime) -> list[Report]:
        """The Complete and Failed reports whose ``finished_at`` is before ``cutoff``, by id."""

    @abstractmethod
    def delete_finished_before(self, cutoff: datetime) -> list[Report]:
        """Delete the reports ``finished_before(cutoff)`` gives, with their parts; return them, by id.

        A running report is never deleted, however old.
        """

    @abstractmethod
    def recent(self, limit: int, kind: RunKind | None = None) -> list[Report]:
        """The ``limit`` most recently created runs (of ``kind``, or any), newest first (ties: greater id first).

        A ``limit`` below 1 gives none.
        """

