"""Ingestion as a run: uploaded files ingested by a worker, and a watched folder.

An upload is a trigger-and-poll run, like a report: the files are stored
under the run's id, the run is recorded ``Running``, then its work is queued;
a worker ingests the stored folder and records ``Complete`` with the
ingestion summary or ``Failed`` with the reason. Ingesting is idempotent
(polls already stored are skipped, hours and timezones are replaced), so a
run delivered again after a crash simply runs again. Its work is one unit
of the ledger of work (``domain.work``), watched as a report's units are.

A watched folder is ingested on a schedule, and only when the content of one
of its files changed since the last successful ingestion.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import timedelta
from functools import partial
from pathlib import Path

from domain.model.errors import UptimeError, clipped, quoted
from domain.model.ingestion import STATUS_FILE, UPLOAD_FILES, IngestSummary
from domain.model.report import ReportStatus
from domain.model.upload_runs import IngestRun
from domain.model.work_units import INGEST_UPLOAD_TASK
from domain.ports.data import RepositoryError
from domain.ports.reading import FileFingerprinter, FingerprintStore
from domain.ports.uploads import (
    ByteStream,
    IngestRegistry,
    InvalidUpload,
    UploadStorage,
    UploadStorageError,
    UploadTooLarge,
)
from domain.ports.work import QueueUnavailable
from domain.use_cases.ingest import IngestService, ProgressListener
from domain.use_cases.work import Clock, IdFactory, WorkTracker, stall_reason, unit_for

DEFAULT_MAX_UPLOAD_BYTES = 256 * 1024 * 1024
# A failed run's stored reason is cut to this many characters (the input it
# quotes is already cut shorter).
MAX_REASON_CHARS = 1000


def _no_progress(step: str, done: int, total: int) -> None:
    pass


MAX_SOURCE_CHARS = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_source(source: str | None) -> str | None:
    """The name of an upload's source, as given; ``InvalidUpload`` when it is empty, too long or holds a control character."""
    if source is None:
        return None
    if not source.strip():
        raise InvalidUpload("source is blank: name where the files come from, or leave the field out")
    if len(source) > MAX_SOURCE_CHARS:
        raise InvalidUpload(f"source is longer than {MAX_SOURCE_CHARS} characters")
    if _CONTROL.search(source):
        raise InvalidUpload("source holds a control character (U+0000 to U+001F or U+007F)")
    return source


def check_upload_names(names: Iterable[str]) -> tuple[str, ...]:
    """The uploaded file names in ``UPLOAD_FILES`` order; ``InvalidUpload`` unless they can be ingested.

    Every name must be a known input file, and ``store_status.csv`` must be
    among them: a data folder without it cannot be ingested.
    """
    given = list(names)
    if not given:
        raise InvalidUpload(f"no file uploaded: send one or more of {', '.join(UPLOAD_FILES)}")
    unknown = sorted(set(given) - set(UPLOAD_FILES))
    if unknown:
        raise InvalidUpload(f"unknown file {quoted(unknown[0])}: the files are {', '.join(UPLOAD_FILES)}")
    if len(set(given)) < len(given):
        repeated = next(name for name in given if given.count(name) > 1)
        raise InvalidUpload(f"{quoted(repeated)} was uploaded more than once")
    if STATUS_FILE not in given:
        raise InvalidUpload(f"{STATUS_FILE} is required: an ingestion always reads the status polls")
    return tuple(name for name in UPLOAD_FILES if name in given)


class IngestRunService:
    """Uploaded files ingested as a run: started by the API, run by a worker, polled."""

    def __init__(
        self,
        ingest_service: IngestService,
        registry: IngestRegistry,
        uploads: UploadStorage,
        work: WorkTracker,
        clock: Clock,
        new_id: IdFactory,
        stall_timeout: timedelta,
        max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    ) -> None:
        if max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        self._ingest = ingest_service
        self._registry = registry
        self._uploads = uploads
        self._clock = clock
        self._new_id = new_id
        self._stall_timeout = stall_timeout
        self._max_bytes = max_bytes
        self._work = work

    def start(self, files: Mapping[str, ByteStream], source: str | None = None) -> IngestRun:
        """Store the files under a new id, record the run as running, then queue it.

        ``files`` maps file names (``store_status.csv``...) to their content.
        ``InvalidUpload`` for names that cannot be ingested and
        ``UploadTooLarge`` past ``max_bytes`` in all: then nothing is kept.
        The record is committed before the work is queued, so a worker never
        meets an unknown id; if the queue refuses, the run is failed with the
        reason and ``QueueUnavailable`` propagates.
        """
        names = check_upload_names(files)
        source = check_source(source)
        ingest_id = self._new_id()
        try:
            remaining = self._max_bytes
            for name in names:
                remaining -= self._uploads.save(ingest_id, name, files[name], remaining)
            at = self._clock()
            run = IngestRun(ingest_id, ReportStatus.RUNNING, created_at=at, updated_at=at, files=names, source=source)
            self._registry.add(run)
        except UploadTooLarge as error:
            self._discard(ingest_id)
            raise UploadTooLarge(
                f"the uploaded files are larger than the limit of {self._max_bytes} bytes"
            ) from error
        except BaseException:
            self._discard(ingest_id)
            raise
        try:
            self._work.submit([unit_for(self._work, ingest_id, INGEST_UPLOAD_TASK, [ingest_id])])
        except QueueUnavailable as error:
            self.fail(ingest_id, f"the ingestion could not be queued: {error}")
            raise
        return run

    def run(self, ingest_id: str, progress: ProgressListener = _no_progress) -> IngestRun:
        """Ingest the run's stored files (the worker's side); return the finished run.

        Bad input (a missing column...) or any other expected error fails the
        run with its message, and the uploaded files are deleted either way.
        A ``RepositoryError`` propagates with the run still running, for the
        caller to retry. A run that is no longer running is left as it is.
        """
        current = self._registry.get(ingest_id)
        if not current.is_running:
            # Delivered again after it finished: only the clean-up may be left.
            self._discard(ingest_id)
            return current

        def step(step: str, done: int, total: int) -> None:
            # Every step shows the run is alive to the stall check.
            self._registry.touch(ingest_id, self._clock())
            progress(step, done, total)

        try:
            # A named source's files are known by its name (each upload has a folder of its own).
            source = None if current.source is None else f"upload:{current.source}"
            summary = self._ingest.ingest(self._uploads.folder(ingest_id), step, source)
        except RepositoryError:
            raise
        except UptimeError as error:
            self.fail(ingest_id, str(error))
            return self._registry.get(ingest_id)
        if self._registry.mark_complete(ingest_id, summary.to_dict(), self._clock()):
            self._forget_work(ingest_id)
        self._discard(ingest_id)
        return self._registry.get(ingest_id)

    def fail(self, ingest_id: str, reason: str) -> bool:
        """Fail a running run with ``reason`` and drop its files; False if it had finished.

        The reason is stored and served: it is cut to ``MAX_REASON_CHARS``.
        """
        failed = self._registry.mark_failed(ingest_id, clipped(reason, MAX_REASON_CHARS), self._clock())
        self._discard(ingest_id)
        if failed:
            self._forget_work(ingest_id)
        return failed

    def is_running(self, ingest_id: str) -> bool:
        return self._registry.get(ingest_id).is_running

    def status(self, ingest_id: str) -> IngestRun:
        """The run's state; a run with no progress for too long is failed here, saying why."""
        current = self._registry.get(ingest_id)
        cause = partial(self._work.stall_cause, ingest_id)
        reason = (
            stall_reason(self._stall_timeout, current.updated_at, self._clock(), cause) if current.is_running else None
        )
        if reason is not None:
            self.fail(ingest_id, reason)
            current = self._registry.get(ingest_id)
        return current

    def _forget_work(self, ingest_id: str) -> None:
        # Left behind (the database refused), the unit does nothing harmful.
        try:
            self._work.forget(ingest_id)
        except UptimeError:
            pass

    def _discard(self, ingest_id: str) -> None:
        # Leftover files waste space but harm nothing; the error that led
        # here matters more than one from cleaning up.
        try:
            self._uploads.delete(ingest_id)
        except UploadStorageError:
            pass


class WatchedFolderIngestion:
    """Ingests a folder only when its files changed since the last successful ingestion."""

    def __init__(self, ingest_service: IngestService, fingerprinter: FileFingerprinter, store: FingerprintStore) -> None:
        self._ingest = ingest_service
        self._fingerprinter = fingerprinter
        self._store = store

    def ingest_if_changed(self, folder: Path, progress: ProgressListener = _no_progress) -> IngestSummary | None:
        """The ingestion's summary, or None when every file holds what it held when last ingested.

        The files are fingerprinted before they are read: a file that changes
        during the ingestion differs at the next check and is ingested again.
        Fingerprints are recorded only once an ingestion succeeded, so a
        failed one is tried again at the next check.
        """
        current = self._fingerprinter.fingerprints(folder)
        stored = self._store.load(current.location)
        present = {f.name for f in current.files}
        if STATUS_FILE in present and current.same_content(stored):
            if set(current.files) != set(stored):
                # Touched but not changed: remember the new times.
                self._store.replace(current.location, current.files)
            return None
        summary = self._ingest.ingest(folder, progress)
        self._store.replace(current.location, current.files)
        return summary
