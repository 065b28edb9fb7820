"""In-memory repositories of polls, business hours and timezones, and the
ingestion log that numbers their versions.

Versioned as the ports say: every row keeps the version of the ingestion that
added it (``INITIAL_VERSION`` for rows given to a constructor), hours and
timezone rows that an ingestion replaces are retired with its version, and
every read sees one snapshot. ``InMemoryIngestionLog`` numbers ingestions and,
at each ``begin``, discards from the repositories it was given the rows of an
ingestion that never completed.
"""

from __future__ import annotations

import threading
from typing import Any

import attrs
import numpy as np

from adapters.memory.poll_columns import poll_positions, sorted_polls_since, store_bounds, unique_polls
from domain.model.inputs import BoolArray, BusinessHours, Int64Array, StatusPolls, StoreTimezones
from domain.ports.data import (
    INITIAL_VERSION,
    BusinessHoursRepository,
    IngestionLog,
    RepositoryError,
    StatusRepository,
    StoreRange,
    TimezoneRepository,
)

# (weekday, start local µs of the day, end local µs of the day)
HoursRow = tuple[int, int, int]


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
        store = poll_positions(ids, polls.store_ids)[polls.store_index]
        if stored == 0:
            self._store, self._time, self._active = unique_polls(store, polls.timestamp_us, polls.active)
            self._version = np.full(len(self._time), version, dtype=np.int64)
        else:
            # Stored rows come before the new ones and the sort is stable:
            # where a key repeats, the stored row (and its version) wins,
            # else the first new one.
            store = np.concatenate([poll_positions(ids, self._store_ids)[self._store], store])
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
        lo, hi = np.searchsorted(self._store, store_bounds(self._store_ids, stores))
        store, time, active = self._store[lo:hi], self._time[lo:hi], self._active[lo:hi]
        seen = self._version[lo:hi] <= snapshot
        if not seen.all():
            store, time, active = store[seen], time[seen], active[seen]
        return sorted_polls_since(self._store_ids, store, time, active, start_us)


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
