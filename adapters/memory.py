"""In-memory implementations of every port: for tests, and as the query engine
of the read-only CSV backend.

Polls are kept as numpy columns sorted by ``(store, instant)``, so a week of
polls of every store (about 2M rows) is added and queried in well under a
second.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs
import numpy as np

from domain.inputs import BoolArray, BusinessHours, Int64Array, StatusPolls, StoreTimezones
from domain.ports import (
    BusinessHoursRepository,
    FingerprintStore,
    IngestNotFound,
    IngestRegistry,
    ReportNotFound,
    ReportRegistry,
    ReportStorage,
    ReportStorageError,
    RepositoryError,
    StatusRepository,
    StoreRange,
    TimezoneRepository,
)
from domain.ingest_runs import FileFingerprint, IngestRun
from domain.report import Report, ReportStatus

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


def _unique_polls(store: Int64Array, time: Int64Array, active: BoolArray) -> tuple[Int64Array, Int64Array, BoolArray]:
    """The rows sorted by ``(store, time)``, keeping the first row of each key."""
    if len(time) == 0:
        return store, time, active
    first_time = int(time.min())
    span = int(time.max()) - first_time + 1
    if (int(store.max()) + 1) * span * 2 >= _PACKED_LIMIT:
        return _unique_polls_by_argsort(store, time, active)
    # A plain sort of packed keys is several times faster than an argsort.
    key = store * span + (time - first_time)
    packed = np.sort(key * 2 + active)
    packed = packed[_starts_of_runs(packed)]
    sorted_key = packed >> 1
    clash = np.flatnonzero(sorted_key[1:] == sorted_key[:-1])
    if len(clash):
        # The same key with both statuses: the earlier row decides.
        clashing = sorted_key[clash]
        rows = np.flatnonzero(np.isin(key, clashing))
        _, first = np.unique(key[rows], return_index=True)
        winner_active = active[rows[first]]
        # Per clash the inactive entry comes first; drop the loser.
        drop = np.where(winner_active, clash, clash + 1)
        packed = np.delete(packed, drop)
        sorted_key = packed >> 1
    return sorted_key // span, sorted_key % span + first_time, (packed & 1).astype(np.bool_)


def _unique_polls_by_argsort(
    store: Int64Array, time: Int64Array, active: BoolArray
) -> tuple[Int64Array, Int64Array, BoolArray]:
    order = np.lexsort((time, store))  # stable: earlier rows first within a key
    store, time, active = store[order], time[order], active[order]
    keep = np.ones(len(time), dtype=np.bool_)
    keep[1:] = (store[1:] != store[:-1]) | (time[1:] != time[:-1])
    return store[keep], time[keep], active[keep]


def _starts_of_runs(values: Int64Array) -> BoolArray:
    start = np.ones(len(values), dtype=np.bool_)
    start[1:] = values[1:] != values[:-1]
    return start


class InMemoryStatusRepository(StatusRepository):
    """Status polls as columns sorted by ``(store, instant)``; at most one per key."""

    def __init__(self, polls: StatusPolls | None = None) -> None:
        # Every id in _store_ids has at least one poll.
        self._store_ids: tuple[str, ...] = ()
        self._store: Int64Array = np.empty(0, dtype=np.int64)
        self._time: Int64Array = np.empty(0, dtype=np.int64)
        self._active: BoolArray = np.empty(0, dtype=np.bool_)
        if polls is not None:
            self.add(polls)

    def add(self, polls: StatusPolls) -> int:
        if len(polls) == 0:
            return 0
        stored = len(self._time)
        # Only ids with polls join: store_ids() lists stores that have some.
        ids = sorted(set(self._store_ids).union(polls.store_ids[i] for i in np.unique(polls.store_index)))
        store = np.concatenate(
            [
                _positions(ids, self._store_ids)[self._store],
                _positions(ids, polls.store_ids)[polls.store_index],
            ]
        )
        time = np.concatenate([self._time, polls.timestamp_us])
        active = np.concatenate([self._active, polls.active])
        # Stored rows come before the new ones: where a key repeats, the
        # stored row wins, else the first new one.
        self._store, self._time, self._active = _unique_polls(store, time, active)
        self._store_ids = tuple(ids)
        return len(self._time) - stored

    def latest_timestamp(self) -> int | None:
        return int(self._time.max()) if len(self._time) else None

    def store_ids(self) -> list[str]:
        return list(self._store_ids)

    def polls_since(self, start_us: int, stores: StoreRange | None = None) -> StatusPolls:
        first_id, end_id = _store_bounds(self._store_ids, stores)
        lo, hi = np.searchsorted(self._store, [first_id, end_id])
        store, time, active = self._store[lo:hi], self._time[lo:hi], self._active[lo:hi]
        since = time >= start_us
        # A store's polls before start_us come first in its run; the last of
        # them is followed by another store or by a poll at or after start_us.
        last_before = ~since
        last_before[:-1] &= (store[1:] != store[:-1]) | since[1:]
        keep = since | last_before
        store, time, active = store[keep], time[keep], active[keep]
        present = np.unique(store)
        return StatusPolls(
            tuple(self._store_ids[i] for i in present),
            np.searchsorted(present, store),
            time,
            active,
        )


class InMemoryBusinessHoursRepository(BusinessHoursRepository):
    """Each store's set of ``(weekday, start, end)`` rows."""

    def __init__(self, hours: BusinessHours | None = None) -> None:
        self._rows: dict[str, frozenset[HoursRow]] = {}
        if hours is not None:
            self.replace(hours)

    def replace(self, hours: BusinessHours) -> int:
        given: dict[str, set[HoursRow]] = {store_id: set() for store_id in hours.store_ids}
        for index, weekday, start, end in zip(
            hours.store_index.tolist(), hours.weekday.tolist(), hours.start_us.tolist(), hours.end_us.tolist()
        ):
            given[hours.store_ids[index]].add((weekday, start, end))
        new = 0
        for store_id, rows in given.items():
            new += len(rows - self._rows.get(store_id, frozenset()))
            if rows:
                self._rows[store_id] = frozenset(rows)
            else:
                # A store listed without rows has none now: open all week.
                self._rows.pop(store_id, None)
        return new

    def hours(self, stores: StoreRange | None = None) -> BusinessHours:
        store_ids = sorted(self._rows)
        lo, hi = _store_bounds(tuple(store_ids), stores)
        selected = store_ids[lo:hi]
        index: list[int] = []
        weekday: list[int] = []
        start: list[int] = []
        end: list[int] = []
        for i, store_id in enumerate(selected):
            for row_weekday, row_start, row_end in sorted(self._rows[store_id]):
                index.append(i)
                weekday.append(row_weekday)
                start.append(row_start)
                end.append(row_end)
        return BusinessHours(tuple(selected), index, weekday, start, end)


class InMemoryTimezoneRepository(TimezoneRepository):
    def __init__(self, timezones: StoreTimezones | None = None) -> None:
        self._by_store: dict[str, str] = {}
        if timezones is not None:
            self.replace(timezones)

    def replace(self, timezones: StoreTimezones) -> int:
        changed = sum(1 for store_id, name in timezones.by_store.items() if self._by_store.get(store_id) != name)
        self._by_store.update(timezones.by_store)
        return changed

    def timezones(self, stores: StoreRange | None = None) -> StoreTimezones:
        selected = {
            store_id: name for store_id, name in sorted(self._by_store.items()) if stores is None or store_id in stores
        }
        return StoreTimezones(selected)


class InMemoryReportRegistry(ReportRegistry):
    """Reports by id, with their saved parts."""

    def __init__(self) -> None:
        self.reports: dict[str, Report] = {}
        self.saved_parts: dict[str, dict[int, str]] = {}

    def add(self, report: Report) -> None:
        if report.report_id in self.reports:
            raise RepositoryError(f"a report with id {report.report_id} exists already")
        self.reports[report.report_id] = report
        self.saved_parts[report.report_id] = {}

    def get(self, report_id: str) -> Report:
        try:
            return self.reports[report_id]
        except KeyError:
            raise ReportNotFound(report_id) from None

    def plan(self, report_id: str, total_parts: int, at: datetime) -> None:
        self._change(report_id, progress_total=total_parts, updated_at=at)

    def save_part(self, report_id: str, index: int, lines: str, at: datetime) -> int:
        self.get(report_id)
        parts = self.saved_parts[report_id]
        parts[index] = lines
        self._change(report_id, progress_done=len(parts), updated_at=at)
        return len(parts)

    def parts(self, report_id: str) -> list[str]:
        self.get(report_id)
        return [lines for _, lines in sorted(self.saved_parts[report_id].items())]

    def mark_complete(self, report_id: str, report_path: str, finished_at: datetime) -> bool:
        if not self.get(report_id).is_running:
            return False
        self._change(
            report_id,
            status=ReportStatus.COMPLETE,
            report_path=report_path,
            finished_at=finished_at,
            updated_at=finished_at,
        )
        # The assembled file holds the parts now.
        self.saved_parts[report_id] = {}
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
        return expired

    def recent(self, limit: int) -> list[Report]:
        if limit < 1:
            return []
        newest_first = sorted(
            self.reports.values(), key=lambda report: (report.created_at, report.report_id), reverse=True
        )
        return newest_first[:limit]

    def _change(self, report_id: str, **changes: Any) -> None:
        self.reports[report_id] = attrs.evolve(self.get(report_id), **changes)


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
