"""In-memory implementations of every port: for tests, and as the query engine
of the read-only CSV backend.

Polls are kept as numpy columns sorted by ``(store, instant)``, so a week of
polls of every store (about 2M rows) is added and queried in well under a
second.

Versioned as the ports say: every row keeps the version of the ingestion that
added it (``INITIAL_VERSION`` for rows given to a constructor), hours and
timezone rows that an ingestion replaces are retired with its version, and
every read sees one snapshot. ``InMemoryIngestionLog`` numbers ingestions and,
at each ``begin``, discards from the repositories it was given the rows of an
ingestion that never completed.
"""

from __future__ import annotations

import json
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

import attrs
import numpy as np
from numpy.typing import NDArray

from domain.model.ingestion import ReadPosition
from domain.model.inputs import BoolArray, BusinessHours, Int64Array, StatusPolls, StoreTimezones
from domain.model.report import Report, ReportStatus, RunKind
from domain.model.upload_runs import FileFingerprint, IngestRun
from domain.ports.data import (
    INITIAL_VERSION,
    BusinessHoursRepository,
    IngestionLog,
    RepositoryError,
    StatusRepository,
    StoreRange,
    TimezoneRepository,
)
from domain.ports.reading import FingerprintStore, ReadPositions
from domain.ports.reports import ReportNotFound, ReportRegistry, ReportStorage, ReportStorageError
from domain.ports.uploads import IngestNotFound, IngestRegistry

# (weekday, start local µs of the day, end local µs of the day)
HoursRow = tuple[int, int, int]


def _store_bounds(store_ids: tuple[str, ...], stores: StoreRange | None) -> tuple[int, int]:
    """Positions ``[lo, hi)`` of the sorted ``store_ids`` that lie in ``stores``."""
    if stores is None:
        return 0, len(store_ids)
    lo = bisect_left(store_ids, stores.first)
    return lo, max(lo, bisect_right(store_ids, stores.last))


def _positions(ids: list[str], of: tuple[str, ...]) -> Int64Array:
    """For each id of ``of``, its position in the sorted ``ids`` (-1 where absent)."""
    position = {store_id: i for i, store_id in enumerate(ids)}
    return np.array([position.get(store_id, -1) for store_id in of], dtype=np.int64)


# Sort keys pack (store, instant, status) into one int64 while they fit.
_PACKED_LIMIT = 2**62

# Store positions: int64 in the repository, int32 in the CSV backend's larger tables.
StoreArray = TypeVar("StoreArray", Int64Array, NDArray[np.int32])


def _unique_polls(store: StoreArray, time: Int64Array, active: BoolArray) -> tuple[StoreArray, Int64Array, BoolArray]:
    """The rows sorted by ``(store, time)``, keeping the first row of each key."""
    if len(time) == 0:
        return store, time, active
    first_time = int(time.min())
    span = int(time.max()) - first_time + 1
    if (int(store.max()) + 1) * span * 2 >= _PACKED_LIMIT:
        return _unique_polls_by_argsort(store, time, active)
    # A plain sort of packed keys is several times faster than an argsort;
    # the arithmetic is done in place, as a fleet's week is tens of millions of rows.
    packed = store.astype(np.int64)
    packed *= span
    packed += time
    packed -= first_time
    packed <<= 1
    packed |= active
    packed.sort()
    starts = _starts_of_runs(packed)
    if not starts.all():
        packed = packed[starts]
    del starts
    clash = _status_clashes(packed)
    if len(clash):
        # The same key with both statuses: the earlier row decides.
        clashing = packed[clash] >> 1
        key = store.astype(np.int64) * span + (time - first_time)
        rows = np.flatnonzero(np.isin(key, clashing))
        _, first = np.unique(key[rows], return_index=True)
        winner_active = active[rows[first]]
        # Per clash the inactive entry comes first; drop the loser.
        drop = np.where(winner_active, clash, clash + 1)
        packed = np.delete(packed, drop)
    unique_active = (packed & 1).astype(np.bool_)
    packed >>= 1
    # Store s holds the keys [s * span, (s + 1) * span): count them rather than divide.
    stores = int(store.max()) + 1
    ends = np.searchsorted(packed, np.arange(1, stores + 1, dtype=np.int64) * span)
    unique_store = np.repeat(np.arange(stores).astype(store.dtype), np.diff(ends, prepend=0))
    packed %= span
    packed += first_time
    return unique_store, packed, unique_active


def _unique_polls_by_argsort(
    store: StoreArray, time: Int64Array, active: BoolArray
) -> tuple[StoreArray, Int64Array, BoolArray]:
    order = np.lexsort((time, store))  # stable: earlier rows first within a key
    store, time, active = store[order], time[order], active[order]
    keep = np.ones(len(time), dtype=np.bool_)
    keep[1:] = (store[1:] != store[:-1]) | (time[1:] != time[:-1])
    return store[keep], time[keep], active[keep]


def _status_clashes(packed: Int64Array, block: int = 1 << 20) -> Int64Array:
    """Positions ``i`` of sorted distinct packed keys where ``i`` and ``i + 1`` differ only in the status bit.

    A block at a time: over the whole column the shifted copies would take
    three times its memory.
    """
    pairs = max(len(packed) - 1, 0)
    found = []
    for first in range(0, pairs, block):
        last = min(first + block, pairs)
        found.append(first + np.flatnonzero((packed[first + 1 : last + 1] >> 1) == (packed[first:last] >> 1)))
    return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)


def _starts_of_runs(values: NDArray[np.integer[Any]]) -> BoolArray:
    start = np.ones(len(values), dtype=np.bool_)
    start[1:] = values[1:] != values[:-1]
    return start


class InMemoryStatusRepository(StatusRepository):
    """Status polls as columns sorted by ``(store, instant)``; at most one per key, each with its version."""

    def __init__(self, polls: StatusPolls | None = None) -> None:
        # Every id in _store_ids has at least one poll.
        self._store_ids: tuple[str, ...] = ()
        self._store: Int64Array = np.empty(0, dtype=np.int64)
        self._time: Int64Array = np.empty(0, dtype=np.int64)
        self._active: BoolArray = np.empty(0, dtype=np.bool_)
        self._version: Int64Array = np.empty(0, dtype=np.int64)
        if polls is not None:
            self.add(polls, version=INITIAL_VERSION)

    def add(self, polls: StatusPolls, *, version: int) -> int:
        if len(polls) == 0:
            return 0
        stored = len(self._time)
        # Only ids with polls join: store_ids() lists stores that have some.
        ids = sorted(set(self._store_ids).union(polls.store_ids[i] for i in np.unique(polls.store_index)))
        store = _positions(ids, polls.store_ids)[polls.store_index]
        if stored == 0:
            self._store, self._time, self._active = _unique_polls(store, polls.timestamp_us, polls.active)
            self._version = np.full(len(self._time), version, dtype=np.int64)
        else:
            # Stored rows come before the new ones and the sort is stable:
            # where a key repeats, the stored row (and its version) wins,
            # else the first new one.
            store = np.concatenate([_positions(ids, self._store_ids)[self._store], store])
            time = np.concatenate([self._time, polls.timestamp_us])
            active = np.concatenate([self._active, polls.active])
            versions = np.concatenate([self._version, np.full(len(polls), version, dtype=np.int64)])
            order = np.lexsort((time, store))
            store, time, active, versions = store[order], time[order], active[order], versions[order]
            keep = np.ones(len(time), dtype=np.bool_)
            keep[1:] = (store[1:] != store[:-1]) | (time[1:] != time[:-1])
            self._store, self._time, self._active, self._version = store[keep], time[keep], active[keep], versions[keep]
        self._store_ids = tuple(ids)
        return len(self._time) - stored

    def discard_after(self, version: int) -> None:
        """Forget the polls added by versions after ``version`` (ingestions that never completed)."""
        keep = self._version <= version
        if keep.all():
            return
        store = self._store[keep]
        present = np.unique(store)
        self._store_ids = tuple(self._store_ids[i] for i in present.tolist())
        self._store = np.searchsorted(present, store)
        self._time, self._active, self._version = self._time[keep], self._active[keep], self._version[keep]

    def stored_by(self, polls: StatusPolls, *, version: int) -> int:
        if not len(polls):
            return 0
        position = {store_id: i for i, store_id in enumerate(self._store_ids)}
        store = np.array([position.get(s, -1) for s in polls.store_ids], dtype=np.int64)[polls.store_index]
        mine = self._version == version
        stored = set(zip(self._store[mine].tolist(), self._time[mine].tolist()))
        return sum((s, t) in stored for s, t in zip(store.tolist(), polls.timestamp_us.tolist()))

    def purge_before(self, cutoff_us: int) -> int:
        early = self._time < cutoff_us
        # Rows are sorted by (store, instant): a store's latest early poll is
        # the early row whose next row is another store's or not early.
        latest_early = early & np.append((self._store[1:] != self._store[:-1]) | ~early[1:], True)
        keep = ~early | latest_early
        self._store, self._time = self._store[keep], self._time[keep]
        self._active, self._version = self._active[keep], self._version[keep]
        return int(len(keep) - keep.sum())

    def latest_timestamp(self, *, snapshot: int, until_us: int | None = None) -> int | None:
        seen = self._version <= snapshot
        if until_us is not None:
            seen &= self._time <= until_us
        return int(self._time[seen].max()) if seen.any() else None

    def store_ids(self, *, snapshot: int) -> list[str]:
        seen = self._version <= snapshot
        if seen.all():
            return list(self._store_ids)
        return [self._store_ids[i] for i in np.unique(self._store[seen]).tolist()]

    def polls_since(self, start_us: int, stores: StoreRange | None = None, *, snapshot: int) -> StatusPolls:
        lo, hi = np.searchsorted(self._store, _store_bounds(self._store_ids, stores))
        store, time, active = self._store[lo:hi], self._time[lo:hi], self._active[lo:hi]
        seen = self._version[lo:hi] <= snapshot
        if not seen.all():
            store, time, active = store[seen], time[seen], active[seen]
        return sorted_polls_since(self._store_ids, store, time, active, start_us)


def sorted_polls_since(
    store_ids: tuple[str, ...], store: StoreArray, time: Int64Array, active: BoolArray, start_us: int
) -> StatusPolls:
    """Of polls sorted by ``(store, instant)``, those from ``start_us`` on and each store's latest earlier one."""
    since = time >= start_us
    # A store's polls before start_us come first in its run; the last of
    # them is followed by another store or by a poll at or after start_us.
    last_before = ~since
    last_before[:-1] &= (store[1:] != store[:-1]) | since[1:]
    keep = since | last_before
    store, time, active = store[keep], time[keep], active[keep]
    present = np.unique(store)
    return StatusPolls(tuple(store_ids[i] for i in present.tolist()), np.searchsorted(present, store), time, active)


@attrs.frozen
class _Versioned:
    """A stored row: ``value`` from version ``added`` on, until ``retired`` (never if None)."""

    value: Any
    added: int
    retired: int | None = None

    def seen_at(self, snapshot: int) -> bool:
        return self.added <= snapshot and (self.retired is None or self.retired > snapshot)


def _replace_rows(records: list[_Versioned], given: set[Any], version: int) -> tuple[list[_Versioned], int]:
    """A store's records once ``given`` is its whole set of values from ``version`` on; and how many are new.

    A current value no longer given is retired with ``version``, or dropped
    if ``version`` itself added it (no snapshot ever saw it).
    """
    current = {record.value for record in records if record.retired is None}
    kept: list[_Versioned] = []
    for record in records:
        if record.retired is not None or record.value in given:
            kept.append(record)
        elif record.added != version:
            kept.append(attrs.evolve(record, retired=version))
    new = given - current
    kept.extend(_Versioned(value, version) for value in sorted(new))
    return kept, len(new)


def _discard_after(by_store: dict[str, list[_Versioned]], version: int) -> None:
    """Forget what versions after ``version`` did: their rows go, what they retired comes back."""
    for store_id in list(by_store):
        records = [
            attrs.evolve(record, retired=None) if record.retired is not None and record.retired > version else record
            for record in by_store[store_id]
            if record.added <= version
        ]
        if records:
            by_store[store_id] = records
        else:
            del by_store[store_id]


class InMemoryBusinessHoursRepository(BusinessHoursRepository):
    """Each store's ``(weekday, start, end)`` rows, each with the versions that added and retired it."""

    def __init__(self, hours: BusinessHours | None = None) -> None:
        self._rows: dict[str, list[_Versioned]] = {}
        if hours is not None:
            self.replace(hours, version=INITIAL_VERSION)

    def replace(self, hours: BusinessHours, *, version: int) -> int:
        given: dict[str, set[HoursRow]] = {store_id: set() for store_id in hours.store_ids}
        for index, weekday, start, end in zip(
            hours.store_index.tolist(), hours.weekday.tolist(), hours.start_us.tolist(), hours.end_us.tolist()
        ):
            given[hours.store_ids[index]].add((weekday, start, end))
        new = 0
        for store_id, rows in given.items():
            # A store listed without rows has none now: open all week.
            self._rows[store_id], added = _replace_rows(self._rows.get(store_id, []), set(rows), version)
            new += added
        return new

    def discard_after(self, version: int) -> None:
        _discard_after(self._rows, version)

    def hours(self, stores: StoreRange | None = None, *, snapshot: int) -> BusinessHours:
        index: list[int] = []
        weekday: list[int] = []
        start: list[int] = []
        end: list[int] = []
        selected: list[str] = []
        for store_id in sorted(self._rows):
            if stores is not None and store_id not in stores:
                continue
            rows = sorted(record.value for record in self._rows[store_id] if record.seen_at(snapshot))
            if not rows:
                continue
            selected.append(store_id)
            for row_weekday, row_start, row_end in rows:
                index.append(len(selected) - 1)
                weekday.append(row_weekday)
                start.append(row_start)
                end.append(row_end)
        return BusinessHours(tuple(selected), index, weekday, start, end)


class InMemoryTimezoneRepository(TimezoneRepository):
    """Each store's timezone, with the versions that set and replaced it."""

    def __init__(self, timezones: StoreTimezones | None = None) -> None:
        self._zones: dict[str, list[_Versioned]] = {}
        if timezones is not None:
            self.replace(timezones, version=INITIAL_VERSION)

    def replace(self, timezones: StoreTimezones, *, version: int) -> int:
        changed = 0
        for store_id, name in timezones.by_store.items():
            self._zones[store_id], added = _replace_rows(self._zones.get(store_id, []), {name}, version)
            changed += added
        return changed

    def discard_after(self, version: int) -> None:
        _discard_after(self._zones, version)

    def timezones(self, stores: StoreRange | None = None, *, snapshot: int) -> StoreTimezones:
        selected: dict[str, str] = {}
        for store_id in sorted(self._zones):
            if stores is not None and store_id not in stores:
                continue
            for record in self._zones[store_id]:
                if record.seen_at(snapshot):
                    selected[store_id] = str(record.value)
        return StoreTimezones(selected)


_RUNNING, _COMPLETE, _ABANDONED = "running", "complete", "abandoned"


class InMemoryIngestionLog(IngestionLog):
    """Numbered ingestions over the in-memory repositories it is given.

    Ingestions take turns on a lock; ``begin`` waits up to ``wait_seconds``
    for it, then raises ``RepositoryError``.
    """

    def __init__(
        self,
        status: InMemoryStatusRepository | None = None,
        hours: InMemoryBusinessHoursRepository | None = None,
        timezones: InMemoryTimezoneRepository | None = None,
        wait_seconds: float = 600.0,
    ) -> None:
        self._repositories = [repository for repository in (status, hours, timezones) if repository is not None]
        self._wait_seconds = wait_seconds
        self._turn = threading.Lock()
        self._guard = threading.Lock()
        self.states: dict[int, str] = {}
        self._holder: int | None = None

    def begin(self) -> int:
        if not self._turn.acquire(timeout=self._wait_seconds):
            raise RepositoryError(f"another ingestion has been running for over {self._wait_seconds:g} s")
        with self._guard:
            latest = self.latest_complete()
            for repository in self._repositories:
                repository.discard_after(latest)
            for version, state in self.states.items():
                if state == _RUNNING:
                    self.states[version] = _ABANDONED
            version = max(self.states, default=INITIAL_VERSION) + 1
            self.states[version] = _RUNNING
            self._holder = version
        return version

    def complete(self, version: int) -> None:
        with self._guard:
            if self.states.get(version) != _RUNNING:
                raise RepositoryError(f"ingestion {version} is not running: it cannot complete")
            self.states[version] = _COMPLETE
            self._release(version)

    def abandon(self, version: int) -> None:
        with self._guard:
            self._release(version)

    def latest_complete(self) -> int:
        return max((version for version, state in self.states.items() if state == _COMPLETE), default=INITIAL_VERSION)

    def _release(self, version: int) -> None:
        if self._holder == version:
            self._holder = None
            self._turn.release()


class InMemoryReportRegistry(ReportRegistry):
    """Reports by id, with their saved parts."""

    def __init__(self) -> None:
        self.reports: dict[str, Report] = {}
        self.saved_parts: dict[str, dict[int, str]] = {}
        self.saved_summaries: dict[str, dict[int, Mapping[str, Any] | None]] = {}

    def add(self, report: Report) -> None:
        if report.report_id in self.reports:
            raise RepositoryError(f"a report with id {report.report_id} exists already")
        self.reports[report.report_id] = report
        self.saved_parts[report.report_id] = {}
        self.saved_summaries[report.report_id] = {}

    def get(self, report_id: str) -> Report:
        try:
            return self.reports[report_id]
        except KeyError:
            raise ReportNotFound(report_id) from None

    def plan(self, report_id: str, total_parts: int, at: datetime, *, snapshot: int, now_us: int | None) -> Report:
        if not self.get(report_id).is_planned:
            self._change(report_id, progress_total=total_parts, updated_at=at, snapshot=snapshot, now_us=now_us)
        return self.get(report_id)

    def save_part(
        self, report_id: str, index: int, lines: str, at: datetime, summary: Mapping[str, Any] | None = None
    ) -> int:
        report = self.get(report_id)
        if not report.is_running:
            # A late part: a finished report keeps its parts and progress.
            return report.progress_done
        parts = self.saved_parts[report_id]
        parts[index] = lines
        self.saved_summaries[report_id][index] = _json_copy(summary)
        self._change(report_id, progress_done=len(parts), updated_at=at)
        return len(parts)

    def parts(self, report_id: str) -> list[str]:
        self.get(report_id)
        return [lines for _, lines in sorted(self.saved_parts[report_id].items())]

    def part(self, report_id: str, index: int) -> str | None:
        self.get(report_id)
        return self.saved_parts[report_id].get(index)

    def part_summaries(self, report_id: str) -> list[Mapping[str, Any] | None]:
        self.get(report_id)
        return [_json_copy(summary) for _, summary in sorted(self.saved_summaries[report_id].items())]

    def mark_complete(
        self, report_id: str, report_path: str, finished_at: datetime, summary: Mapping[str, Any] | None = None
    ) -> bool:
        if not self.get(report_id).is_running:
            return False
        self._change(
            report_id,
            status=ReportStatus.COMPLETE,
            report_path=report_path,
            finished_at=finished_at,
            updated_at=finished_at,
            summary=_json_copy(summary),
        )
        # The assembled file holds the parts now.
        self.saved_parts[report_id] = {}
        self.saved_summaries[report_id] = {}
        return True

    def mark_failed(self, report_id: str, error: str, finished_at: datetime) -> bool:
        if not self.get(report_id).is_running:
            return False
        self._change(
            report_id, status=ReportStatus.FAILED, error=error, finished_at=finished_at, updated_at=finished_at
        )
        return True

    def ping(self) -> None:
        """Memory always answers."""

    def finished_before(self, cutoff: datetime) -> list[Report]:
        return [
            report
            for _, report in sorted(self.reports.items())
            if not report.is_running and report.finished_at is not None and report.finished_at < cutoff
        ]

    def delete_finished_before(self, cutoff: datetime) -> list[Report]:
        expired = self.finished_before(cutoff)
        for report in expired:
            del self.reports[report.report_id]
            self.saved_parts.pop(report.report_id, None)
            self.saved_summaries.pop(report.report_id, None)
        return expired

    def recent(self, limit: int, kind: RunKind | None = None) -> list[Report]:
        if limit < 1:
            return []
        runs = [report for report in self.reports.values() if kind is None or report.kind is kind]
        newest_first = sorted(runs, key=lambda report: (report.created_at, report.report_id), reverse=True)
        return newest_first[:limit]

    def _change(self, report_id: str, **changes: Any) -> None:
        self.reports[report_id] = attrs.evolve(self.get(report_id), **changes)


def _json_copy(summary: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A summary as a database gives it back: plain JSON values, not the caller's objects."""
    return None if summary is None else json.loads(json.dumps(dict(summary)))


class InMemoryReportStorage(ReportStorage):
    """Report files by location; the location is the report id."""

    def __init__(self) -> None:
        self.saved: dict[str, bytes] = {}

    def save(self, report_id: str, content: bytes) -> str:
        self.saved[report_id] = bytes(content)
        return report_id

    def load(self, location: str) -> bytes:
        try:
            return self.saved[location]
        except KeyError:
            raise ReportStorageError(f"no report file at {location}") from None

    def delete(self, location: str) -> None:
        self.saved.pop(location, None)


class InMemoryIngestRegistry(IngestRegistry):
    """Ingestion runs by id."""

    def __init__(self) -> None:
        self.runs: dict[str, IngestRun] = {}

    def add(self, run: IngestRun) -> None:
        if run.ingest_id in self.runs:
            raise RepositoryError(f"an ingestion with id {run.ingest_id} exists already")
        self.runs[run.ingest_id] = run

    def get(self, ingest_id: str) -> IngestRun:
        try:
            return self.runs[ingest_id]
        except KeyError:
            raise IngestNotFound(ingest_id) from None

    def touch(self, ingest_id: str, at: datetime) -> bool:
        if not self.get(ingest_id).is_running:
            return False
        self.runs[ingest_id] = attrs.evolve(self.runs[ingest_id], updated_at=at)
        return True

    def mark_complete(self, ingest_id: str, summary: Mapping[str, Any], finished_at: datetime) -> bool:
        return self._finish(ingest_id, finished_at, status=ReportStatus.COMPLETE, summary=dict(summary))

    def mark_failed(self, ingest_id: str, error: str, finished_at: datetime) -> bool:
        return self._finish(ingest_id, finished_at, status=ReportStatus.FAILED, error=error)

    def _finish(self, ingest_id: str, finished_at: datetime, **changes: Any) -> bool:
        if not self.get(ingest_id).is_running:
            return False
        self.runs[ingest_id] = attrs.evolve(
            self.runs[ingest_id], finished_at=finished_at, updated_at=finished_at, **changes
        )
        return True


class InMemoryFingerprintStore(FingerprintStore):
    """Each folder's recorded fingerprints."""

    def __init__(self) -> None:
        self.folders: dict[str, tuple[FileFingerprint, ...]] = {}

    def load(self, location: str) -> tuple[FileFingerprint, ...]:
        return self.folders.get(location, ())

    def replace(self, location: str, fingerprints: Iterable[FileFingerprint]) -> None:
        self.folders[location] = tuple(sorted(fingerprints, key=lambda fingerprint: fingerprint.name))


class InMemoryReadPositions(ReadPositions):
    """How far each source file was ingested, in a dict."""

    def __init__(self) -> None:
        self.positions: dict[str, ReadPosition] = {}

    def get(self, source: str) -> ReadPosition | None:
        return self.positions.get(source)

    def put(self, position: ReadPosition) -> None:
        self.positions[position.source] = position
