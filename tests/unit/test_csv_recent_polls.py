"""The CSV backend keeps, of a long status file, only what a report at its latest poll can use."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.csv.repositories import FolderPolls, _recent_polls
from adapters.memory.poll_columns import _status_clashes
from domain.model.clock import MICROS_PER_DAY
from domain.model.clock import MICROS_PER_HOUR as HOUR
from domain.model.ingestion import START, BatchCounts, StatusBatch
from domain.model.inputs import Int64Array, StatusPolls
from domain.model.uptime import earliest_poll_needed
from domain.ports.data import StoreRange

LATEST = 1_700_000_000_000_000


def batches(*parts: list[tuple[str, int, bool]]) -> Iterator[StatusBatch]:
    return iter(StatusBatch(StatusPolls.from_rows(rows), BatchCounts(rows=len(rows)), START) for rows in parts)


def rows(kept: FolderPolls) -> list[tuple[str, int, bool]]:
    return [
        (kept.store_ids[store], time, active)
        for store, time, active in zip(kept.store.tolist(), kept.time.tolist(), kept.active.tolist())
    ]


def test_only_recent_polls_and_each_stores_latest_earlier_one_are_kept_first_of_a_repeat_winning() -> None:
    cutoff = earliest_poll_needed(LATEST)
    kept = _recent_polls(
        batches(
            [("a", cutoff - 3 * MICROS_PER_DAY, True), ("a", cutoff - MICROS_PER_DAY, False), ("b", cutoff - 1, True)],
            [("a", cutoff - MICROS_PER_DAY, True), ("c", cutoff, True), ("a", LATEST, True)],
        )
    )
    # Sorted by store and instant; a's latest early poll is repeated: the first in file order wins.
    assert rows(kept) == [
        ("a", cutoff - MICROS_PER_DAY, False),
        ("a", LATEST, True),
        ("b", cutoff - 1, True),
        ("c", cutoff, True),
    ]


def test_polls_after_the_instant_of_the_report_are_never_kept() -> None:
    until = LATEST - 20 * MICROS_PER_DAY
    kept = _recent_polls(batches([("a", until - 15 * MICROS_PER_DAY, True), ("a", until, False), ("a", LATEST, True)]), until)
    assert rows(kept) == [("a", until - 15 * MICROS_PER_DAY, True), ("a", until, False)]


def test_nothing_read_is_nothing_kept() -> None:
    kept = _recent_polls(batches([]))
    assert rows(kept) == [] and kept.latest() is None


poll_rows = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "0123", "123", "é"]),
        # Over 20 days, in hours: some polls fall before what a report can use.
        st.integers(0, 20 * 24).map(lambda hours: LATEST - hours * HOUR),
        st.booleans(),
    ),
    max_size=10,
)


@settings(max_examples=200, deadline=None)
@given(
    parts=st.lists(poll_rows, min_size=1, max_size=4),
    start_hours=st.integers(0, 9 * 24),
    first=st.sampled_from(["0", "123", "b"]),
    last=st.sampled_from(["123", "b", "z"]),
)
def test_the_kept_polls_answer_like_every_poll_first_of_a_repeat_winning(
    parts: list[list[tuple[str, int, bool]]], start_hours: int, first: str, last: str
) -> None:
    """Whatever is left out, a read from the week a report uses sees what the whole file holds."""
    every: dict[tuple[str, int], bool] = {}
    for rows_of_part in parts:
        for store, instant, active in rows_of_part:
            every.setdefault((store, instant), active)
    # The reader gives each batch distinct polls; repeats across batches stay.
    batch_rows = [list({(s, t): (s, t, a) for s, t, a in reversed(part)}.values())[::-1] for part in parts]
    kept = _recent_polls(iter(StatusBatch(StatusPolls.from_rows(r), BatchCounts(rows=len(r)), START) for r in batch_rows))
    if not every:
        assert kept.latest() is None
        return
    latest = max(instant for _, instant in every)
    start = max(latest - start_hours * HOUR, earliest_poll_needed(latest))
    stores = StoreRange(first, last) if first <= last else None
    expected = []
    for store in sorted({s for s, _ in every}):
        if stores is not None and store not in stores:
            continue
        instants = sorted(t for s, t in every if s == store)
        before = [t for t in instants if t < start]
        expected += [(store, t, every[(store, t)]) for t in before[-1:] + [t for t in instants if t >= start]]
    assert kept.latest() == latest
    assert kept.since(start, stores).rows() == expected


@given(packed=st.lists(st.integers(0, 40), max_size=30).map(lambda keys: np.unique(np.array(keys, dtype=np.int64))))
def test_status_clashes_are_found_across_the_blocks_they_are_looked_for_in(packed: Int64Array) -> None:
    whole = np.flatnonzero((packed[1:] >> 1) == (packed[:-1] >> 1))
    for block in (1, 2, 3, 1 << 20):
        assert _status_clashes(packed, block).tolist() == whole.tolist()
