"""Purging old polls keeps every report of the retained period as it was."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.memory.data import (
    InMemoryBusinessHoursRepository,
    InMemoryIngestionLog,
    InMemoryStatusRepository,
    InMemoryTimezoneRepository,
)
from domain.model.clock import MICROS_PER_DAY, MICROS_PER_HOUR, from_micros
from domain.model.ingestion import ParsedInput
from domain.model.inputs import BusinessHours, StatusPolls, StoreTimezones
from domain.model.uptime import UptimeCalculator
from domain.ports.reading import InputReader
from domain.use_cases.ingest import IngestService
from domain.use_cases.reports import ReportService

START = 1_700_000_000 * 1_000_000  # November 2023
SPAN_DAYS = 40
KEEP = timedelta(days=20)


class NoReader(InputReader):
    def read(self, folder: Path) -> ParsedInput:
        raise AssertionError("not used")


class Stack:
    def __init__(self, polls: StatusPolls, hours: BusinessHours) -> None:
        self.status = InMemoryStatusRepository(polls)
        hours_repository = InMemoryBusinessHoursRepository(hours)
        timezones = InMemoryTimezoneRepository(StoreTimezones({"b": "Australia/Lord_Howe"}))
        log = InMemoryIngestionLog(self.status, hours_repository, timezones)
        self.ingest = IngestService(NoReader(), self.status, hours_repository, timezones, log)
        self.reports = ReportService(self.status, hours_repository, timezones, UptimeCalculator(), log=log)

    def report_as_of(self, instant: int) -> str:
        return self.reports.csv(from_micros(instant))


poll_rows = st.lists(
    st.tuples(
        st.sampled_from(("a", "b", "c")),
        st.integers(0, SPAN_DAYS * MICROS_PER_DAY),
        st.booleans(),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(poll_rows, st.lists(st.integers(0, SPAN_DAYS * 24), min_size=1, max_size=6))
def test_reports_ten_days_or_more_after_the_cutoff_are_unchanged(
    rows: list[tuple[str, int, bool]], hours_after_start: list[int]
) -> None:
    polls = StatusPolls.from_rows([(store, START + offset, active) for store, offset, active in rows])
    hours = BusinessHours.from_rows(
        [("a", 0, 9 * MICROS_PER_HOUR, 17 * MICROS_PER_HOUR), ("b", 5, 22 * MICROS_PER_HOUR, 2 * MICROS_PER_HOUR)]
    )
    stack = Stack(polls, hours)
    latest = max(START + offset for _, offset, _ in rows)
    cutoff = latest - KEEP // timedelta(microseconds=1)
    as_of = [START + hour * MICROS_PER_HOUR for hour in hours_after_start]
    # A report's ``now`` is the latest poll at or before its instant: it is in the retained
    # period when it is ten days (the week and the look-back) or more after the cutoff.
    snapshot = stack.reports.snapshot()
    now_of = {instant: stack.reports.now(snapshot, instant) for instant in [*as_of, latest]}
    retained = [instant for instant, now in now_of.items() if now is not None and now >= cutoff + 10 * MICROS_PER_DAY]
    before = {instant: stack.report_as_of(instant) for instant in retained}
    stored_before = len(stack.status.polls_since(0, snapshot=stack.reports.snapshot()))

    deleted = stack.ingest.purge_polls(KEEP)

    assert {instant: stack.report_as_of(instant) for instant in retained} == before
    remaining = stack.status.polls_since(0, snapshot=stack.reports.snapshot())
    assert len(remaining) == stored_before - deleted
    # Before the cutoff, at most each store's latest poll is left.
    early = remaining.timestamp_us < cutoff
    assert len(set(remaining.store_index[early].tolist())) == int(early.sum())


def test_purge_needs_a_positive_period() -> None:
    stack = Stack(StatusPolls.from_rows([("a", START, True)]), BusinessHours.empty())
    with pytest.raises(ValueError):
        stack.ingest.purge_polls(timedelta(0))


def test_purging_nothing_stored_deletes_nothing() -> None:
    stack = Stack(StatusPolls.empty(), BusinessHours.empty())
    assert stack.ingest.purge_polls(KEEP) == 0


def test_the_purge_takes_an_ingestions_turn() -> None:
    polls = StatusPolls.from_rows([("a", START, True), ("a", START + 30 * MICROS_PER_DAY, False)])
    stack = Stack(polls, BusinessHours.empty())
    before = stack.reports.snapshot()
    assert stack.ingest.purge_polls(KEEP) == 0  # the only early poll is a's latest before the cutoff
    assert stack.reports.snapshot() == before + 1
