"""Reading a whole input file, or a file a batch of rows at a time."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from adapters.csv.checks import HoursChecks, StatusChecks, TimezoneChecks, repeated_polls, repeated_rows
from adapters.csv.rules import (
    BLOCK_BYTES,
    HOURS_COLUMNS,
    STATUS_COLUMNS,
    TIMEZONE_COLUMNS,
    Clock,
    _Scalar,
    system_clock,
)
from adapters.csv.streaming import open_csv
from domain.model.ingestion import (
    BatchCounts,
    FileSummary,
    HoursBatch,
    ResumePoint,
    StatusBatch,
    TimezoneBatch,
    summarize,
)
from domain.model.inputs import BusinessHours, Int64Array, StatusPolls, StoreTimezones

# --- Whole files -----------------------------------------------------------------------------


def read_status(path: Path, now: datetime | None = None) -> tuple[StatusPolls, FileSummary]:
    """The valid, distinct polls of a ``store_status.csv`` and what was read.

    ``now`` is the reading machine's clock (by default ``system_clock()``):
    polls more than a day after it are rejected, as are polls before 1970.
    """
    moment = system_clock() if now is None else now
    parts: list[StatusPolls] = []
    counts: list[BatchCounts] = []
    for batch in iter_status_batches(path, lambda: moment):
        parts.append(batch.valid)
        counts.append(batch.counts)
    polls, repeated = merge_polls(parts)
    return polls, summarize(counts, repeated)


def read_hours(path: Path) -> tuple[BusinessHours, FileSummary]:
    """The distinct valid rows of a ``menu_hours.csv`` and what was read."""
    parts: list[BusinessHours] = []
    counts: list[BatchCounts] = []
    for batch in iter_hours_batches(path):
        parts.append(batch.valid)
        counts.append(batch.counts)
    hours, repeated = merge_hours(parts)
    return hours, summarize(counts, repeated)


def read_timezones(path: Path) -> tuple[StoreTimezones, FileSummary]:
    """Each store's timezone (its first valid row) from a ``timezone.csv``, and what was read."""
    by_store: dict[str, str] = {}
    counts: list[BatchCounts] = []
    repeated = 0
    for batch in iter_timezone_batches(path):
        counts.append(batch.counts)
        for store, name in batch.valid.by_store.items():
            if store in by_store:
                repeated += 1
            else:
                by_store[store] = name
    return StoreTimezones(dict(sorted(by_store.items()))), summarize(counts, repeated)


def merge_polls(parts: Sequence[StatusPolls]) -> tuple[StatusPolls, int]:
    """The polls of consecutive batches as one, the first of each ``(store, instant)``
    winning; and how many repeated a poll of an earlier batch."""
    store_ids, index = _joined_index(parts)
    instants = _concatenated([part.timestamp_us for part in parts], np.int64)
    active = _concatenated([part.active for part in parts], np.bool_)
    keep = ~repeated_polls(index, instants)
    return StatusPolls(store_ids, index[keep], instants[keep], active[keep]), int(len(keep) - keep.sum())


def merge_hours(parts: Sequence[BusinessHours]) -> tuple[BusinessHours, int]:
    """The hours rows of consecutive batches as one set; and how many repeated a row of an earlier batch."""
    store_ids, index = _joined_index(parts)
    columns = (
        index,
        _concatenated([part.weekday for part in parts], np.int64),
        _concatenated([part.start_us for part in parts], np.int64),
        _concatenated([part.end_us for part in parts], np.int64),
    )
    keep = ~repeated_rows(columns)
    return BusinessHours(store_ids, *(column[keep] for column in columns)), int(len(keep) - keep.sum())


def _joined_index(parts: Sequence[StatusPolls | BusinessHours]) -> tuple[tuple[str, ...], Int64Array]:
    """The sorted ids of all ``parts``, and each row's position among them."""
    store_ids = tuple(sorted(set().union(*(part.store_ids for part in parts))))
    position = {store_id: i for i, store_id in enumerate(store_ids)}
    index = [
        np.array([position[s] for s in part.store_ids], dtype=np.int64)[part.store_index]
        for part in parts
        if len(part.store_index)
    ]
    return store_ids, _concatenated(index, np.int64)


def _concatenated(arrays: Sequence[NDArray[_Scalar]], dtype: type[_Scalar]) -> NDArray[_Scalar]:
    return np.concatenate(arrays) if arrays else np.empty(0, dtype=dtype)



# --- Batches -----------------------------------------------------------------------------------


def iter_status_batches(
    path: Path,
    clock: Clock = system_clock,
    resume: ResumePoint | None = None,
    block_bytes: int = BLOCK_BYTES,
) -> Iterator[StatusBatch]:
    """The rows of a ``store_status.csv`` in batches, from ``resume`` (else from the first row) to its end.

    The header is read at once: a missing column raises ``InvalidInputError``
    here, before any batch. ``clock`` is read once: polls more than a day
    after it are rejected, as are polls before 1970. Each batch holds its
    valid polls (distinct within the batch: the first wins), its counts, and
    where a later read goes on; at least one batch comes, empty when there is
    nothing to read.
    """
    now = clock()
    labels, parts = open_csv(path, STATUS_COLUMNS, resume, block_bytes)
    return StatusChecks(labels, now).batches(parts)


def iter_hours_batches(
    path: Path, resume: ResumePoint | None = None, block_bytes: int = BLOCK_BYTES
) -> Iterator[HoursBatch]:
    """The rows of a ``menu_hours.csv`` in batches, as ``iter_status_batches`` gives polls."""
    labels, parts = open_csv(path, HOURS_COLUMNS, resume, block_bytes)
    return HoursChecks(labels).batches(parts)


def iter_timezone_batches(
    path: Path, resume: ResumePoint | None = None, block_bytes: int = BLOCK_BYTES
) -> Iterator[TimezoneBatch]:
    """The rows of a ``timezone.csv`` in batches: each store's first valid timezone in
    the batch, in file order, as ``iter_status_batches`` gives polls."""
    labels, parts = open_csv(path, TIMEZONE_COLUMNS, resume, block_bytes)
    return TimezoneChecks(labels).batches(parts)


