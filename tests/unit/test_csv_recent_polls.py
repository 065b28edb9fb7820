"""The CSV backend keeps, of a long status file, only what a report at its latest poll can use."""

from __future__ import annotations

from collections.abc import Iterator

from adapters.csv.repositories import _recent_polls
from domain.clock import MICROS_PER_DAY
from domain.ingestion import START, BatchCounts, StatusBatch
from domain.inputs import StatusPolls
from domain.uptime import earliest_poll_needed

LATEST = 1_700_000_000_000_000


def batches(*parts: list[tuple[str, int, bool]]) -> Iterator[StatusBatch]:
    return iter(StatusBatch(StatusPolls.from_rows(rows), BatchCounts(rows=len(rows)), START) for rows in parts)


def test_only_recent_polls_and_each_stores_latest_earlier_one_are_kept_first_of_a_repeat_winning() -> None:
    cutoff = earliest_poll_needed(LATEST)
    kept = _recent_polls(
        batches(
            [("a", cutoff - 3 * MICROS_PER_DAY, True), ("a", cutoff - MICROS_PER_DAY, False), ("b", cutoff - 1, True)],
            [("a", cutoff - MICROS_PER_DAY, True), ("c", cutoff, True), ("a", LATEST, True)],
        )
    )
    # a's latest early poll is kept twice (its repeat too: storing them keeps the first, False).
    assert kept.rows() == [
        ("a", cutoff - MICROS_PER_DAY, False),
        ("b", cutoff - 1, True),
        ("a", cutoff - MICROS_PER_DAY, True),
        ("c", cutoff, True),
        ("a", LATEST, True),
    ]


def test_polls_after_the_instant_of_the_report_are_never_kept() -> None:
    until = LATEST - 20 * MICROS_PER_DAY
    kept = _recent_polls(batches([("a", until - 15 * MICROS_PER_DAY, True), ("a", until, False), ("a", LATEST, True)]), until)
    assert kept.rows() == [("a", until - 15 * MICROS_PER_DAY, True), ("a", until, False)]


def test_nothing_read_is_nothing_kept() -> None:
    assert len(_recent_polls(batches([]))) == 0
