"""The use case of ingestion: a data folder (or polls) into the versioned repositories."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Protocol, TypeVar

from domain.model.ingestion import (
    HOURS_FILE,
    START,
    STATUS_FILE,
    TIMEZONE_FILE,
    BatchCounts,
    FileSummary,
    IngestSummary,
    ReadPosition,
    ResumePoint,
    StatusBatch,
    summarize,
)
from domain.model.inputs import StatusPolls
from domain.ports.data import (
    BusinessHoursRepository,
    IngestionLog,
    StatusRepository,
    TimezoneRepository,
)
from domain.ports.reading import InputReader, ReadPositions

_Rows = TypeVar("_Rows")


# Polls stored in one write during an ingestion: about 20 MB of columns.
STORE_BATCH_POLLS = 1_000_000


class ProgressListener(Protocol):
    """Told how far a long step has come; a terminal or a task state shows it."""

    def __call__(self, step: str, done: int, total: int) -> None: ...


def _no_progress(step: str, done: int, total: int) -> None:
    pass


class IngestService:
    """Reads a data folder, validates it, and stores what is new as one numbered ingestion.

    The status file is read and stored a batch at a time, so memory does not
    grow with its size; the hours and timezone files (as large as the fleet,
    not its history) are read whole. Every file's header is checked first: a
    missing column loads nothing. The ingestion begins (once it is its
    turn), stores everything under its version and completes, which makes all
    of it visible to reports at once; one that fails is abandoned, none of it
    ever visible.

    With ``positions``, a file is read only from where the last ingestion of
    it ended, when the bytes read then are still there (the same checksum):
    a status file a poller appends to costs only its new lines. An hours or
    timezone file is skipped when unchanged and no other ingestion came
    since. Anything else is read whole.
    """

    def __init__(
        self,
        reader: InputReader,
        status_repository: StatusRepository,
        hours_repository: BusinessHoursRepository,
        timezone_repository: TimezoneRepository,
        log: IngestionLog,
        positions: ReadPositions | None = None,
    ) -> None:
        self._reader = reader
        self._status = status_repository
        self._hours = hours_repository
        self._timezones = timezone_repository
        self._log = log
        self._positions = positions

    def ingest(
        self,
        folder: Path,
        progress: ProgressListener = _no_progress,
        source: str | None = None,
        *,
        full: bool = False,
    ) -> IngestSummary:
        """Ingest ``folder``; ``source`` names its files across ingestions (default: the folder's path).

        ``full`` reads every file whole, whatever was read of it before.
        """
        steps = 4
        progress("reading the headers", 0, steps)
        source = source if source is not None else str(folder.absolute())
        known = {
            name: None if full else self._known(source, folder, name) for name in (STATUS_FILE, HOURS_FILE, TIMEZONE_FILE)
        }
        status_from = known[STATUS_FILE]
        hours_unchanged = self._unchanged(known[HOURS_FILE], folder, HOURS_FILE)
        timezones_unchanged = self._unchanged(known[TIMEZONE_FILE], folder, TIMEZONE_FILE)
        if (
            self._read_to_end(status_from, folder, STATUS_FILE)
            and (hours_unchanged or self._reader.fingerprint(folder, HOURS_FILE) is None)
            and (timezones_unchanged or self._reader.fingerprint(folder, TIMEZONE_FILE) is None)
        ):
            # Nothing new in any file (an absent hours or timezone file changes
            # nothing): no ingestion begins, and reports keep their snapshot.
            progress("done", steps, steps)
            return IngestSummary(FileSummary(), FileSummary(), FileSummary())
        batches = self._reader.status_batches(folder, status_from.resume if status_from is not None else None)
        hours_read = None if hours_unchanged else self._reader.hours(folder)
        timezones_read = None if timezones_unchanged else self._reader.timezones(folder)
        version = self._log.begin()
        try:
            progress("storing status polls", 1, steps)
            status_summary, resume = self._store_polls(batches, version)
            progress("storing business hours", 2, steps)
            hours_summary = self._store(hours_read, lambda rows: self._hours.replace(rows, version=version))
            progress("storing timezones", 3, steps)
            timezone_summary = self._store(timezones_read, lambda rows: self._timezones.replace(rows, version=version))
            self._log.complete(version)
        except BaseException:
            self._log.abandon(version)
            raise
        self._remember(source, folder, STATUS_FILE, resume.offset, resume, version)
        # Read now, or skipped as unchanged since the ingestion before this one
        # stored it: either way its rows are the stored ones as of this version.
        for name in (HOURS_FILE, TIMEZONE_FILE):
            self._remember(source, folder, name, None, None, version)
        progress("done", steps, steps)
        return IngestSummary(status_summary, hours_summary, timezone_summary)

    def _store_polls(self, batches: Iterator[StatusBatch], version: int) -> tuple[FileSummary, ResumePoint]:
        counts: list[BatchCounts] = []
        new = repeated = 0
        resume = START
        pending: list[StatusPolls] = []

        def store() -> None:
            nonlocal new, repeated
            polls = StatusPolls.joined(pending)
            pending.clear()
            added = self._status.add(polls, version=version)
            if added < len(polls):
                # Polls an earlier batch of this file stored are duplicates, not already stored.
                repeated += self._status.stored_by(polls, version=version) - added
            new += added

        for batch in batches:
            pending.append(batch.valid)
            counts.append(batch.counts)
            resume = batch.resume
            # Reader batches are small; each write touches the last page of
            # nearly every store, so fewer, larger writes cost much less.
            if sum(len(part) for part in pending) >= STORE_BATCH_POLLS:
                store()
        if pending:
            store()
        return summarize(counts, repeated).with_new(new), resume

    def _store(self, read: tuple[_Rows, FileSummary] | None, replace: Callable[[_Rows], int]) -> FileSummary:
        if read is None:
            return FileSummary()
        rows, summary = read
        return summary.with_new(replace(rows))

    def _known(self, source: str, folder: Path, name: str) -> ReadPosition | None:
        """Where the last ingestion of this file ended, if the bytes it read are still there."""
        if self._positions is None:
            return None
        known = self._positions.get(f"{source}/{name}")
        if known is None:
            return None
        now = self._reader.fingerprint(folder, name, known.resume.offset)
        return known if now is not None and now.checksum == known.checksum else None

    def _unchanged(self, known: ReadPosition | None, folder: Path, name: str) -> bool:
        """An hours or timezone file read whole last time, unchanged since, by the latest
        ingestion (so nothing since could have replaced its rows): no need to read it."""
        return known is not None and known.version == self._log.latest_complete() and self._read_to_end(known, folder, name)

    def _read_to_end(self, known: ReadPosition | None, folder: Path, name: str) -> bool:
        """The file holds nothing after where its last ingestion ended (``known``, its prefix checked)."""
        if known is None:
            return False
        whole = self._reader.fingerprint(folder, name)
        return whole is not None and whole.length == known.resume.offset

    def _remember(
        self, source: str, folder: Path, name: str, length: int | None, resume: ResumePoint | None, version: int
    ) -> None:
        if self._positions is None:
            return
        read = self._reader.fingerprint(folder, name, length)
        if read is not None:
            point = resume if resume is not None else ResumePoint(read.length, 0)
            self._positions.put(ReadPosition(f"{source}/{name}", point, read.checksum, version))

    def add_polls(self, polls: StatusPolls, summary: FileSummary) -> FileSummary:
        """Store polls already read and validated (``POST /polls``) as one ingestion.

        ``summary`` counts what was read; the result adds how many were new.
        Visible to reports at once when this returns, like any ingestion.
        """
        version = self._log.begin()
        try:
            new = self._status.add(polls, version=version)
            self._log.complete(version)
        except BaseException:
            self._log.abandon(version)
            raise
        return summary.with_new(new)

    def purge_polls(self, keep: timedelta) -> int:
        """Delete the polls more than ``keep`` before the latest one, but each store's latest of those.

        The cutoff is the latest poll minus ``keep``; a report whose ``now``
        is at least ten days (a week and the look-back of ``earliest_poll_needed``)
        after the cutoff reads exactly what it read before (see
        ``StatusRepository.purge_before``). Done in an ingestion's turn, so no
        ingestion runs meanwhile; returns how many polls went.
        """
        if keep <= timedelta(0):
            raise ValueError("keep must be positive")
        version = self._log.begin()
        try:
            latest = self._status.latest_timestamp(snapshot=self._log.latest_complete())
            deleted = 0 if latest is None else self._status.purge_before(latest - keep // timedelta(microseconds=1))
            self._log.complete(version)
        except BaseException:
            self._log.abandon(version)
            raise
        return deleted
