"""Read-only repositories over a data folder, for reports without a database.

The folder is read once, on first use, and shared by the three repositories.
It is one fixed state of the data, never ingested into: its rows all have
``INITIAL_VERSION``, ``CsvIngestionLog`` gives that as the only snapshot, and
a read sees that state whatever snapshot it names (so naming none is fine).
So, unlike the in-memory repositories, the folder keeps no versions: its rows
are columns sorted by store, and a part's rows are one slice of them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import attrs
import numpy as np
from numpy.typing import NDArray

from adapters.csv.reader import PandasCsvReader, release_free_memory
from adapters.memory.poll_columns import sorted_polls_since, starts_of_runs, store_bounds, unique_polls
from domain.model.errors import UptimeError
from domain.model.ingestion import StatusBatch
from domain.model.inputs import BoolArray, BusinessHours, Int64Array, StatusPolls, StoreTimezones
from domain.model.uptime import WEEK, earliest_poll_needed
from domain.ports.data import (
    INITIAL_VERSION,
    BusinessHoursRepository,
    IngestionLog,
    StatusRepository,
    StoreRange,
    TimezoneRepository,
)
from domain.ports.reading import InputReader

READ_ONLY_MESSAGE = "the CSV backend is read-only; ingest into a database"


@attrs.frozen
class FolderPolls:
    """The folder's polls that reports use, sorted by ``(store, instant)``, one per key.

    Store positions are int32: at ten times the real fleet a week is tens of
    millions of polls, and each byte per poll is tens of MiB.
    """

    store_ids: tuple[str, ...]
    store: NDArray[np.int32]
    time: Int64Array
    active: BoolArray

    def latest(self, until_us: int | None = None) -> int | None:
        time = self.time if until_us is None else self.time[self.time <= until_us]
        return int(time.max()) if len(time) else None

    def since(self, start_us: int, stores: StoreRange | None) -> StatusPolls:
        lo, hi = np.searchsorted(self.store, store_bounds(self.store_ids, stores))
        return sorted_polls_since(self.store_ids, self.store[lo:hi], self.time[lo:hi], self.active[lo:hi], start_us)


@attrs.frozen
class FolderHours:
    """The folder's business-hours rows, sorted by store (repeated rows once)."""

    hours: BusinessHours

    @classmethod
    def of(cls, hours: BusinessHours) -> FolderHours:
        order = np.lexsort((hours.end_us, hours.start_us, hours.weekday, hours.store_index))
        columns = [column[order] for column in (hours.store_index, hours.weekday, hours.start_us, hours.end_us)]
        distinct = np.ones(len(order), dtype=np.bool_)
        distinct[1:] = np.any([column[1:] != column[:-1] for column in columns], axis=0)
        index, weekday, start, end = (column[distinct] for column in columns)
        # Only stores with rows are listed, as a database lists them.
        present = np.unique(index)
        store_ids = tuple(hours.store_ids[i] for i in present.tolist())
        return cls(BusinessHours(store_ids, np.searchsorted(present, index), weekday, start, end))

    def of_stores(self, stores: StoreRange | None) -> BusinessHours:
        hours = self.hours
        first, end = store_bounds(hours.store_ids, stores)
        lo, hi = np.searchsorted(hours.store_index, [first, end])
        return BusinessHours(
            hours.store_ids[first:end],
            hours.store_index[lo:hi] - first,
            hours.weekday[lo:hi],
            hours.start_us[lo:hi],
            hours.end_us[lo:hi],
        )


@attrs.frozen
class FolderTimezones:
    """The folder's timezone per store, with its store ids sorted."""

    timezones: StoreTimezones
    store_ids: tuple[str, ...]

    @classmethod
    def of(cls, timezones: StoreTimezones) -> FolderTimezones:
        return cls(timezones, tuple(sorted(timezones.by_store)))

    def of_stores(self, stores: StoreRange | None) -> StoreTimezones:
        if stores is None:
            return self.timezones
        first, end = store_bounds(self.store_ids, stores)
        by_store = self.timezones.by_store
        return StoreTimezones({store_id: by_store[store_id] for store_id in self.store_ids[first:end]})


class CsvDataFolder:
    """A data folder, read and validated once, on first use.

    The status file is read a batch at a time and only what a report at its
    latest poll can use is kept: the polls from ``earliest_poll_needed`` of
    the latest one seen so far, and each store's latest poll before that.
    Memory follows the week, not the length of the file's history.
    """

    def __init__(
        self, folder: Path, reader: InputReader | None = None, until_us: int | None = None, span_us: int = WEEK
    ) -> None:
        self.folder = folder
        self._reader = reader if reader is not None else PandasCsvReader()
        # A report as of an instant: later polls are left out before anything is kept.
        self._until_us = until_us
        # How far back from the latest poll the figures reach: a report's week, a trend's days.
        self._span_us = span_us
        self._lock = threading.Lock()
        self._status: FolderPolls | None = None
        self._hours: FolderHours | None = None
        self._timezones: FolderTimezones | None = None

    def status(self) -> FolderPolls:
        with self._lock:
            if self._status is None:
                self._status = _recent_polls(self._reader.status_batches(self.folder), self._until_us, self._span_us)
            return self._status

    def hours(self) -> FolderHours:
        with self._lock:
            if self._hours is None:
                read = self._reader.hours(self.folder)
                self._hours = FolderHours.of(read[0] if read is not None else BusinessHours.empty())
                release_free_memory()
            return self._hours

    def timezones(self) -> FolderTimezones:
        with self._lock:
            if self._timezones is None:
                read = self._reader.timezones(self.folder)
                self._timezones = FolderTimezones.of(read[0] if read is not None else StoreTimezones())
                release_free_memory()
            return self._timezones


# Rows gathered before the ones too old to matter are dropped again (and
# again each time as many more have come as were kept).
_PRUNE_ROWS = 4_000_000
ColumnT = TypeVar("ColumnT", NDArray[np.int32], Int64Array, BoolArray)


@attrs.define
class _Gathered:
    """Polls as the batches gave them: per batch, store codes, instants and statuses."""

    stores: list[NDArray[np.int32]] = attrs.Factory(list)
    instants: list[Int64Array] = attrs.Factory(list)
    active: list[BoolArray] = attrs.Factory(list)

    def __len__(self) -> int:
        return sum(len(chunk) for chunk in self.instants)

    def prune(self, latest: int, store_count: int, span_us: int = WEEK) -> None:
        """Drop the polls before ``earliest_poll_needed(latest, span_us)`` but each store's latest of them.

        Batch by batch: joining them first would hold the polls twice.
        """
        cutoff = earliest_poll_needed(latest, span_us)
        if all(int(chunk.min()) >= cutoff for chunk in self.instants):
            return
        newest_early = np.full(store_count, np.iinfo(np.int64).min, dtype=np.int64)
        for store, instant in zip(self.stores, self.instants):
            early = instant < cutoff
            np.maximum.at(newest_early, store[early], instant[early])
        for i, (store, instant) in enumerate(zip(self.stores, self.instants)):
            keep = (instant >= cutoff) | (instant == newest_early[store])
            if not keep.all():
                self.stores[i], self.instants[i], self.active[i] = store[keep], instant[keep], self.active[i][keep]

    def take(self) -> tuple[NDArray[np.int32], Int64Array, BoolArray]:
        """The polls as three columns, emptying the lists a column at a time
        (so that the polls are held twice over one column at most)."""
        return _joined(self.stores), _joined(self.instants), _joined(self.active)


def _joined(chunks: list[ColumnT]) -> ColumnT:
    column: ColumnT = np.concatenate(chunks)
    chunks.clear()
    return column


def _recent_polls(batches: Iterator[StatusBatch], until_us: int | None = None, span_us: int = WEEK) -> FolderPolls:
    """The polls a report at the latest one (at or before ``until_us``) can use
    (the first of a repeated ``(store, instant)`` in file order wins)."""
    codes: dict[str, int] = {}
    gathered = _Gathered()
    prune_at = _PRUNE_ROWS
    latest: int | None = None
    for batch in batches:
        polls = batch.valid
        if until_us is not None:
            polls = polls.until(until_us)
        if not len(polls):
            continue
        # A batch lists a good part of the fleet, nearly all of it seen before:
        # map its ids without a Python-level loop body, adding the new ones first.
        if not codes.keys() >= set(polls.store_ids):
            for store_id in polls.store_ids:
                codes.setdefault(store_id, len(codes))
        code_of = np.fromiter(map(codes.__getitem__, polls.store_ids), dtype=np.int32, count=len(polls.store_ids))
        gathered.stores.append(code_of[polls.store_index])
        gathered.instants.append(polls.timestamp_us)
        gathered.active.append(polls.active)
        newest = int(polls.timestamp_us.max())
        latest = newest if latest is None else max(latest, newest)
        if len(gathered) >= prune_at:
            gathered.prune(latest, len(codes), span_us)
            prune_at = max(_PRUNE_ROWS, 2 * len(gathered))
    if latest is None:
        empty = np.zeros(0, dtype=np.int64)
        return FolderPolls((), empty.astype(np.int32), empty, empty.astype(np.bool_))
    gathered.prune(latest, len(codes), span_us)
    release_free_memory()
    # Codes in the order first seen; renumbered in the order of the ids.
    ids = list(codes)
    order = np.argsort(np.array(ids, dtype=object)).astype(np.int32)
    position = np.empty_like(order)
    position[order] = np.arange(len(ids), dtype=np.int32)
    for i, chunk in enumerate(gathered.stores):
        gathered.stores[i] = position[chunk]
    sorted_ids = tuple(ids[i] for i in order.tolist())
    store, instant, status = unique_polls(*gathered.take())
    # Ids whose every poll was left out (after ``until_us``) have none.
    present = store[starts_of_runs(store)]  # sorted: the first row of each store
    if len(present) < len(sorted_ids):
        store = np.searchsorted(present, store).astype(np.int32)
        sorted_ids = tuple(sorted_ids[i] for i in present.tolist())
    return FolderPolls(sorted_ids, store, instant, status)


class CsvIngestionLog(IngestionLog):
    """The one snapshot of a data folder; nothing is ever ingested into it."""

    def begin(self) -> int:
        raise UptimeError(READ_ONLY_MESSAGE)

    def complete(self, version: int) -> None:
        raise UptimeError(READ_ONLY_MESSAGE)

    def abandon(self, version: int) -> None:
        """Nothing began: nothing to end."""

    def latest_complete(self) -> int:
        return INITIAL_VERSION


class CsvStatusRepository(StatusRepository):
    def __init__(self, data: CsvDataFolder) -> None:
        self._data = data

    def add(self, polls: StatusPolls, *, version: int = INITIAL_VERSION) -> int:
        raise UptimeError(READ_ONLY_MESSAGE)

    def purge_before(self, cutoff_us: int) -> int:
        raise UptimeError(READ_ONLY_MESSAGE)

    def stored_by(self, polls: StatusPolls, *, version: int) -> int:
        raise UptimeError(READ_ONLY_MESSAGE)

    def latest_timestamp(self, *, snapshot: int = INITIAL_VERSION, until_us: int | None = None) -> int | None:
        return self._data.status().latest(until_us)

    def store_ids(self, *, snapshot: int = INITIAL_VERSION) -> list[str]:
        return list(self._data.status().store_ids)

    def polls_since(
        self, start_us: int, stores: StoreRange | None = None, *, snapshot: int = INITIAL_VERSION
    ) -> StatusPolls:
        return self._data.status().since(start_us, stores)


class CsvBusinessHoursRepository(BusinessHoursRepository):
    def __init__(self, data: CsvDataFolder) -> None:
        self._data = data

    def replace(self, hours: BusinessHours, *, version: int = INITIAL_VERSION) -> int:
        raise UptimeError(READ_ONLY_MESSAGE)

    def hours(self, stores: StoreRange | None = None, *, snapshot: int = INITIAL_VERSION) -> BusinessHours:
        return self._data.hours().of_stores(stores)


class CsvTimezoneRepository(TimezoneRepository):
    def __init__(self, data: CsvDataFolder) -> None:
        self._data = data

    def replace(self, timezones: StoreTimezones, *, version: int = INITIAL_VERSION) -> int:
        raise UptimeError(READ_ONLY_MESSAGE)

    def timezones(self, stores: StoreRange | None = None, *, snapshot: int = INITIAL_VERSION) -> StoreTimezones:
        return self._data.timezones().of_stores(stores)
