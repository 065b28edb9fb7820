"""The ports: what the core needs from the outside world, and their errors.

Adapters in ``adapters/`` implement these; use cases receive them in their
constructors. Every repository method works on whole columns, never one store
at a time.

The data is versioned by ingestion (``IngestionLog``): every row written
carries the version of the ingestion that wrote it, and every read names the
snapshot it reads, so that a report sees one committed state of the data
however many transactions, parts and workers it takes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import attrs

from domain.errors import UptimeError
from domain.ingestion import (
    START,
    BatchCounts,
    FileSummary,
    Fingerprint,
    ParsedInput,
    ReadPosition,
    ResumePoint,
    StatusBatch,
)
from domain.inputs import BusinessHours, StatusPolls, StoreTimezones
from domain.report import Report, RunKind
from domain.upload_runs import FileFingerprint, FolderFingerprints, IngestRun
from domain.work_units import UnitState, WorkerBeat, WorkUnit



class RepositoryError(UptimeError):
    """Stored data could not be read or written (bad URL, database down...)."""


class ReportNotFound(UptimeError):
    def __init__(self, report_id: str) -> None:
        super().__init__(f"no report with id {report_id}")
        self.report_id = report_id


class ReportStorageError(UptimeError):
    """A report file could not be written or read."""


class QueueUnavailable(UptimeError):
    """The work queue (the broker) could not take the work."""


@attrs.frozen
class StoreRange:
    """Stores whose id lies in ``[first, last]``, in plain string order."""

    first: str
    last: str

    def __contains__(self, store_id: object) -> bool:
        return isinstance(store_id, str) and self.first <= store_id <= self.last


# The version of rows that were there before any ingestion: the fixed state
# of the read-only CSV backend, and in-memory repositories filled when built.
# A database has none; its snapshot is 0 until an ingestion completes.
INITIAL_VERSION = 0


class IngestionLog(ABC):
    """The numbered ingestions, and so the snapshots that reports read.

    Every ingestion gets a version, greater than any before it. Each row it
    stores carries that version; each hours or timezone row it replaces is not
    deleted but retired with that version. Snapshot ``S`` sees exactly the
    rows added at or before ``S`` and not retired at or before ``S``, so a
    report that reads snapshot ``S`` in every part sees one state of the data,
    whatever is ingested meanwhile.

    An ingestion's rows become visible all at once, when it completes: a
    report is only ever given a complete version, and ingestions take turns
    (``begin`` waits while another one runs), so every row newer than the
    latest complete version belongs to the one running, or to one that never
    completed (it failed, or its process died). The next ``begin`` discards
    the rows of the latter, and puts back what they retired, before it hands
    out a version: their rows are never visible, however many transactions
    they were written in.
    """

    @abstractmethod
    def begin(self) -> int:
        """Start an ingestion and return its version, once it is this ingestion's turn."""

    @abstractmethod
    def complete(self, version: int) -> None:
        """Make the ingestion's rows visible and end its turn.

        ``RepositoryError`` if it is no longer running (another ingestion
        took its turn and discarded it): nothing of it becomes visible.
        """

    @abstractmethod
    def abandon(self, version: int) -> None:
        """End, without completing it, an ingestion that failed; its rows stay invisible.

        Never raises: the next ``begin`` discards what it stored.
        """

    @abstractmethod
    def latest_complete(self) -> int:
        """The latest complete version: the snapshot of a report planned now."""


class StatusRepository(ABC):
    """Status polls; a poll keeps the version of the ingestion that first stored it."""

    @abstractmethod
    def add(self, polls: StatusPolls, *, version: int) -> int:
        """Store, for ingestion ``version``, the polls whose ``(store, instant)`` is not stored yet; return how many.

        A poll already stored keeps its status and its first version.
        """

    @abstractmethod
    def latest_timestamp(self, *, snapshot: int, until_us: int | None = None) -> int | None:
        """The greatest poll instant (UTC microseconds) at ``snapshot``, at or before ``until_us`` if given.

        None if there is none.
        """

    @abstractmethod
    def store_ids(self, *, snapshot: int) -> list[str]:
        """Ids of the stores with at least one poll at ``snapshot``, sorted."""

    @abstractmethod
    def polls_since(self, start_us: int, stores: StoreRange | None = None, *, snapshot: int) -> StatusPolls:
        """Every poll at ``snapshot`` at or after ``start_us``, plus each store's latest poll before it."""

    @abstractmethod
    def stored_by(self, polls: StatusPolls, *, version: int) -> int:
        """How many of ``polls`` (by store and instant) are stored with ``version``.

        After ``add``, those beyond the ones it added repeat a poll that an
        earlier batch of the same ingestion stored: duplicates within its file.
        """

    @abstractmethod
    def purge_before(self, cutoff_us: int) -> int:
        """Delete the polls before ``cutoff_us`` but each store's latest one; return how many went.

        A report at an instant ``now`` reads the polls from ``earliest_poll_needed(now)``
        on and each store's latest before that, so it is unchanged while that
        instant is at or after ``cutoff_us``. Run in an ingestion's turn.
        """


class BusinessHoursRepository(ABC):
    @abstractmethod
    def replace(self, hours: BusinessHours, *, version: int) -> int:
        """Make ``hours`` the whole set of rows of every store it lists, from ingestion ``version`` on.

        The rows it drops are retired with ``version``, so earlier snapshots
        still see them. Returns how many of its rows were not stored before
        for their store.
        """

    @abstractmethod
    def hours(self, stores: StoreRange | None = None, *, snapshot: int) -> BusinessHours:
        """The rows at ``snapshot`` (of the stores in range)."""


class TimezoneRepository(ABC):
    @abstractmethod
    def replace(self, timezones: StoreTimezones, *, version: int) -> int:
        """Set the timezone of every store listed from ingestion ``version`` on; return how many changed.

        A zone it changes is retired with ``version``, so earlier snapshots still see it.
        """

    @abstractmethod
    def timezones(self, stores: StoreRange | None = None, *, snapshot: int) -> StoreTimezones:
        """The timezones at ``snapshot`` (of the stores in range)."""


class InputReader(ABC):
    """Reads and validates a data folder of the three CSV files."""

    @abstractmethod
    def read(self, folder: Path) -> ParsedInput:
        """Raises ``InvalidInputError`` for a missing folder, status file or column."""

    # A reader that streams overrides the methods below; these read the whole folder.

    def status_batches(self, folder: Path, resume: ResumePoint | None = None) -> Iterator[StatusBatch]:
        """The folder's ``store_status.csv`` a batch at a time, from ``resume`` (else its first row) on.

        Raises ``InvalidInputError`` at once (before any batch) for a missing
        folder, file or column.
        """
        parsed = self.read(folder)
        counts = BatchCounts(parsed.polls_summary.rows, parsed.polls_summary.duplicates,
                             parsed.polls_summary.rejected, parsed.polls_summary.errors)
        return iter([StatusBatch(parsed.polls, counts, START)])

    def hours(self, folder: Path) -> tuple[BusinessHours, FileSummary] | None:
        """The distinct valid rows of its ``menu_hours.csv`` (as large as the fleet, not its history); None without one."""
        parsed = self.read(folder)
        return parsed.hours, parsed.hours_summary

    def timezones(self, folder: Path) -> tuple[StoreTimezones, FileSummary] | None:
        """Each store's first valid timezone in its ``timezone.csv``; None without one."""
        parsed = self.read(folder)
        return parsed.timezones, parsed.timezones_summary

    def fingerprint(self, folder: Path, name: str, length: int | None = None) -> Fingerprint | None:
        """The size and a checksum of the file's first ``length`` bytes (all of them when None);
        None when the file is absent, shorter, or (as here) not fingerprinted: it is then read whole."""
        return None


class ReadPositions(ABC):
    """Where each source file was read up to, so that the next ingestion reads only what was appended."""

    @abstractmethod
    def get(self, source: str) -> ReadPosition | None: ...

    @abstractmethod
    def put(self, position: ReadPosition) -> None:
        """Remember ``position`` for its source (replacing the one before)."""


# A poll as a poller sends it: store id, status and UTC timestamp, as text.
PollText = tuple[str, str, str]


class PollRowReader(ABC):
    """Validates polls given as text, by exactly the rules of a ``store_status.csv`` row."""

    @abstractmethod
    def read(self, rows: Sequence[PollText]) -> tuple[StatusPolls, FileSummary]:
        """The valid, distinct polls and the counts; a rejected row's ``line`` is its position in ``rows``, from 1."""


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


class ReportQueue(ABC):
    """Where report work is handed to the workers."""

    @abstractmethod
    def submit(self, report_id: str) -> None:
        """Queue the planning of a triggered report; ``QueueUnavailable`` if the broker is down."""

    @abstractmethod
    def ping(self) -> None:
        """Check that the broker answers; ``QueueUnavailable`` if not."""


# --- ingestion as a run: uploaded files, their runs, a watched folder ----------------


class IngestNotFound(UptimeError):
    def __init__(self, ingest_id: str) -> None:
        super().__init__(f"no ingestion with id {ingest_id}")
        self.ingest_id = ingest_id


class InvalidUpload(UptimeError):
    """Uploaded files that cannot be ingested: none, an unknown name, no status file."""


class UploadTooLarge(UptimeError):
    """Uploaded files larger than the limit; nothing of them is kept."""


class UploadStorageError(UptimeError):
    """Uploaded files could not be written, found or removed."""


class ByteStream(Protocol):
    """Where uploaded bytes are read from: an open file, a request's file part."""

    def read(self, size: int = -1, /) -> bytes: ...


class IngestRegistry(ABC):
    """The record of every ingestion run.

    Every method but ``add`` raises ``IngestNotFound`` for an unknown id. A
    run leaves ``Running`` once: ``mark_complete`` and ``mark_failed`` change
    only a running run and say whether they did.
    """

    @abstractmethod
    def add(self, run: IngestRun) -> None:
        """Record a new run; ``RepositoryError`` if the id exists already."""

    @abstractmethod
    def get(self, ingest_id: str) -> IngestRun: ...

    @abstractmethod
    def touch(self, ingest_id: str, at: datetime) -> bool:
        """Record progress of a running run (its ``updated_at``); False if it had finished."""

    @abstractmethod
    def mark_complete(self, ingest_id: str, summary: Mapping[str, Any], finished_at: datetime) -> bool:
        """Finish a running run with its summary (JSON-compatible, kept as given)."""

    @abstractmethod
    def mark_failed(self, ingest_id: str, error: str, finished_at: datetime) -> bool: ...


class UploadStorage(ABC):
    """Where uploaded files wait for their ingestion: one folder per run."""

    @abstractmethod
    def save(self, ingest_id: str, name: str, stream: ByteStream, max_bytes: int) -> int:
        """Store ``stream`` as the file ``name`` of the run; return its size in bytes.

        The file appears whole or not at all. ``InvalidUpload`` for a name
        that is not an input file, ``UploadTooLarge`` (and nothing kept of
        this file) past ``max_bytes``, ``UploadStorageError`` if it cannot be
        written.
        """

    @abstractmethod
    def folder(self, ingest_id: str) -> Path:
        """The folder holding the run's files; ``UploadStorageError`` if it is not there."""

    @abstractmethod
    def delete(self, ingest_id: str) -> None:
        """Remove the run's files; a run without files is fine."""


class IngestQueue(ABC):
    """Where ingestion work is handed to the workers."""

    @abstractmethod
    def submit(self, ingest_id: str) -> None:
        """Queue the ingestion of a started run; ``QueueUnavailable`` if the broker is down."""


class FileFingerprinter(ABC):
    """Fingerprints the input files of a folder."""

    @abstractmethod
    def fingerprints(self, folder: Path) -> FolderFingerprints:
        """The input files present in ``folder`` (none if it does not exist), each with its SHA-256."""


class FingerprintStore(ABC):
    """The fingerprints of each folder's files at its last successful ingestion."""

    @abstractmethod
    def load(self, location: str) -> tuple[FileFingerprint, ...]:
        """The recorded fingerprints of the folder at ``location``, by name; none if never recorded."""

    @abstractmethod
    def replace(self, location: str, fingerprints: Iterable[FileFingerprint]) -> None:
        """Make ``fingerprints`` the whole record of the folder at ``location``."""


@attrs.frozen
class ReportInputs:
    """What one report (or part of one) is computed from."""

    polls: StatusPolls
    hours: BusinessHours
    timezones: StoreTimezones


class ReportInputSource(ABC):
    """Reads a report's inputs, all of one snapshot of the data."""

    @abstractmethod
    def read(self, start_us: int, stores: StoreRange | None = None, *, snapshot: int) -> ReportInputs:
        """``polls_since(start_us, stores)``, the hours and the timezones of those stores, at ``snapshot``."""


# --- units of work: the database's record of every run's work (domain/work.py) ---------


class UnitNotFound(UptimeError):
    def __init__(self, unit_id: str) -> None:
        super().__init__(f"no unit of work with id {unit_id}")
        self.unit_id = unit_id


class WorkLedger(ABC):
    """The units of work of every run, with their state and lease (see ``domain.work``).

    Every change that decides who does a unit is conditional (a claim, a
    requeue), so of two workers or watchdogs acting at once exactly one
    wins. Times are aware instants.
    """

    @abstractmethod
    def add(self, units: Sequence[WorkUnit], *, reopen: bool = False) -> None:
        """Record units; one recorded already is kept as it is (or, with ``reopen`` and finished, queued again)."""

    @abstractmethod
    def get(self, unit_id: str) -> WorkUnit | None: ...

    @abstractmethod
    def claim(self, unit_id: str, holder: str, at: datetime, lease_until: datetime) -> WorkUnit | None:
        """Lease the unit to ``holder`` if it is queued, or leased with ``lease_until <= at``; count the attempt.

        Returns the unit as claimed, or None (finished, held by a live lease, unknown).
        """

    @abstractmethod
    def renew(self, unit_id: str, holder: str, at: datetime, lease_until: datetime) -> bool:
        """Extend the lease if ``holder`` still holds the unit."""

    @abstractmethod
    def release(self, unit_id: str, holder: str | None, at: datetime, error: str) -> bool:
        """End the lease of a leased unit now (of ``holder``, or of anyone when None), keeping ``error``."""

    @abstractmethod
    def finish(self, unit_id: str, at: datetime, state: UnitState, error: str | None) -> bool:
        """Make an unfinished unit done or failed; False if it was finished (or unknown)."""

    @abstractmethod
    def record_publish(self, unit_id: str, at: datetime, error: str | None) -> None:
        """Keep the error of the last attempt to publish the unit (None: it was published)."""

    @abstractmethod
    def due(self, at: datetime, retry_before: datetime, quiet_since: datetime | None) -> list[WorkUnit]:
        """The units the watchdog should queue again, oldest first.

        Leased with ``lease_until <= at``; queued with a publish error and
        ``queued_at <= retry_before``; and, when ``quiet_since`` is given,
        queued with ``queued_at <= quiet_since``.
        """

    @abstractmethod
    def requeue(self, unit_id: str, at: datetime, retry_before: datetime, quiet_since: datetime | None) -> bool:
        """If the unit is still due (as ``due`` says), make it queued at ``at`` with no holder; say whether it was."""

    @abstractmethod
    def give_up(self, unit_id: str, at: datetime, error: str) -> bool:
        """Fail a leased unit whose lease expired at ``at``; False if it was not that any more."""

    @abstractmethod
    def last_beat(self) -> datetime | None:
        """The latest claim or lease renewal of any unit."""

    @abstractmethod
    def units(self, run_id: str) -> list[WorkUnit]:
        """The units of a run, by id."""

    @abstractmethod
    def forget(self, run_id: str) -> None:
        """Delete the units of a run."""


class WorkerRegistry(ABC):
    """The heartbeats of the worker processes."""

    @abstractmethod
    def beat(self, beat: WorkerBeat) -> None:
        """Record (or update) the worker's heartbeat."""

    @abstractmethod
    def forget(self, worker_id: str) -> None: ...

    @abstractmethod
    def get(self, worker_id: str) -> WorkerBeat | None: ...

    @abstractmethod
    def latest_seen(self) -> datetime | None:
        """The latest heartbeat of any worker; None if none ever beat."""

    @abstractmethod
    def forget_seen_before(self, cutoff: datetime) -> int:
        """Delete the heartbeats older than ``cutoff`` (workers long gone); return how many."""


class WorkQueue(ABC):
    """Where units of work are published: a message names the task and its arguments."""

    @abstractmethod
    def publish(self, task: str, args: Sequence[Any]) -> None:
        """``QueueUnavailable`` if the broker does not take the message."""

    @abstractmethod
    def ping(self) -> None:
        """Check that the broker answers; ``QueueUnavailable`` if not."""
