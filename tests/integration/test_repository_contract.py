"""One behaviour suite for every implementation of the repository ports.

Each test runs against the in-memory adapters, SQLite and PostgreSQL (and the
report storage also against its folder of files), so they cannot drift
apart: what the port docstrings promise is checked here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest
from sqlalchemy import Engine

from adapters.report_storage import FilesystemReportStorage
from adapters.sqlalchemy import (
    SqlAlchemyBusinessHoursRepository,
    SqlAlchemyIngestionLog,
    SqlAlchemyReportRegistry,
    SqlAlchemyStatusRepository,
    SqlAlchemyTimezoneRepository,
    create_engine_for,
)
from adapters.sqlalchemy.report_storage import SqlAlchemyReportStorage
from domain.model.inputs import BusinessHours, StatusPolls, StoreTimezones
from domain.model.report import Report, ReportStatus, RunKind
from domain.ports.data import (
    BusinessHoursRepository,
    IngestionLog,
    RepositoryError,
    StatusRepository,
    StoreRange,
    TimezoneRepository,
)
from domain.ports.reports import ReportNotFound, ReportRegistry, ReportStorage, ReportStorageError

try:
    from adapters.memory import data as memory_data
    from adapters.memory import reports as memory_reports
except ImportError:  # the in-memory adapters are optional here
    memory_data = memory_reports = None  # type: ignore[assignment]

HOUR = 3_600_000_000
MINUTE = 60_000_000

# Ids that order differently as text and as numbers, long digit strings a
# float or int64 would spoil, and UUIDs.
LONG_ID = "9223372036854775809"  # above int64's maximum
LEADING_ZERO_ID = "0123"
UUID_ID = "f47ac10b-58cc-4372-a567-0e02b2c3d479"


@attrs.frozen
class Ports:
    status: StatusRepository
    hours: BusinessHoursRepository
    timezones: TimezoneRepository
    registry: ReportRegistry
    log: IngestionLog


def _sqlalchemy_ports(engine: Engine, wait_seconds: float = 600.0) -> Ports:
    return Ports(
        SqlAlchemyStatusRepository(engine),
        SqlAlchemyBusinessHoursRepository(engine),
        SqlAlchemyTimezoneRepository(engine),
        SqlAlchemyReportRegistry(engine),
        SqlAlchemyIngestionLog(engine, wait_seconds),
    )


BACKENDS = [
    *(["memory"] if memory_data is not None else []),
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=BACKENDS)
def ports(request: pytest.FixtureRequest) -> Ports:
    if request.param == "memory":
        status = memory_data.InMemoryStatusRepository()
        hours = memory_data.InMemoryBusinessHoursRepository()
        timezones = memory_data.InMemoryTimezoneRepository()
        return Ports(
            status,
            hours,
            timezones,
            memory_reports.InMemoryReportRegistry(),
            memory_data.InMemoryIngestionLog(status, hours, timezones),
        )
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    return _sqlalchemy_ports(engine)


def polls(*rows: tuple[str, int, bool]) -> StatusPolls:
    return StatusPolls.from_rows(list(rows))


def hours(*rows: tuple[str, int, int, int]) -> BusinessHours:
    return BusinessHours.from_rows(list(rows))


def zones(by_store: dict[str, str]) -> StoreTimezones:
    # StoreTimezones' ``converter=dict`` leaves mypy unable to type the argument.
    build: Any = StoreTimezones
    timezones: StoreTimezones = build(by_store)
    return timezones


def everything(ports: Ports) -> list[tuple[str, int, bool]]:
    return ports.status.polls_since(-(2**62), snapshot=latest(ports)).rows()


def latest(ports: Ports) -> int:
    return ports.log.latest_complete()


def add_polls(ports: Ports, batch: StatusPolls) -> int:
    """Polls stored by one whole ingestion; how many were new."""
    version = ports.log.begin()
    added = ports.status.add(batch, version=version)
    ports.log.complete(version)
    return added


def replace_hours(ports: Ports, given: BusinessHours) -> int:
    """Hours replaced by one whole ingestion; how many rows were new."""
    version = ports.log.begin()
    added = ports.hours.replace(given, version=version)
    ports.log.complete(version)
    return added


def replace_zones(ports: Ports, given: StoreTimezones) -> int:
    """Timezones replaced by one whole ingestion; how many changed."""
    version = ports.log.begin()
    changed = ports.timezones.replace(given, version=version)
    ports.log.complete(version)
    return changed


# -- status polls ---------------------------------------------------------------


def test_an_empty_status_repository(ports: Ports) -> None:
    assert ports.status.latest_timestamp(snapshot=latest(ports)) is None
    assert ports.status.store_ids(snapshot=latest(ports)) == []
    assert len(ports.status.polls_since(0, snapshot=latest(ports))) == 0
    assert add_polls(ports, StatusPolls.empty()) == 0


def test_add_counts_the_polls_it_stores_and_a_second_add_stores_none(ports: Ports) -> None:
    batch = polls(("a", 3 * HOUR, True), ("b", HOUR, False), ("a", HOUR, True))

    assert add_polls(ports, batch) == 3
    assert add_polls(ports, batch) == 0
    assert everything(ports) == [("a", HOUR, True), ("a", 3 * HOUR, True), ("b", HOUR, False)]


def test_a_poll_already_stored_wins_over_a_conflicting_one(ports: Ports) -> None:
    add_polls(ports, polls(("a", HOUR, True)))

    added = add_polls(ports, polls(("a", HOUR, False), ("a", 2 * HOUR, False)))

    assert added == 1
    assert everything(ports) == [("a", HOUR, True), ("a", 2 * HOUR, False)]


def test_within_one_add_the_first_of_repeated_polls_wins(ports: Ports) -> None:
    # StatusPolls from_rows does not remove repeats; the repository must.
    batch = polls(("a", HOUR, False), ("b", HOUR, True), ("a", HOUR, True))

    assert add_polls(ports, batch) == 2
    assert everything(ports) == [("a", HOUR, False), ("b", HOUR, True)]


def test_polls_from_several_adds_are_merged_in_store_and_time_order(ports: Ports) -> None:
    add_polls(ports, polls(("b", 5 * HOUR, True), ("a", 4 * HOUR, False)))
    add_polls(ports, polls(("a", 2 * HOUR, True), ("c", HOUR, True), ("b", 6 * HOUR, False)))

    result = ports.status.polls_since(0, snapshot=latest(ports))

    assert result.store_ids == ("a", "b", "c")
    assert result.rows() == [
        ("a", 2 * HOUR, True),
        ("a", 4 * HOUR, False),
        ("b", 5 * HOUR, True),
        ("b", 6 * HOUR, False),
        ("c", HOUR, True),
    ]


def test_latest_timestamp_is_the_greatest_instant_of_all_stores(ports: Ports) -> None:
    add_polls(ports, polls(("a", 5 * HOUR, True), ("b", 9 * HOUR + 1, False), ("c", 7 * HOUR, True)))

    assert ports.status.latest_timestamp(snapshot=latest(ports)) == 9 * HOUR + 1


def test_store_ids_are_sorted_as_text_and_kept_exactly(ports: Ports) -> None:
    ids = ["9", "10", LEADING_ZERO_ID, LONG_ID, UUID_ID, "1"]
    add_polls(ports, polls(*((store_id, HOUR, True) for store_id in ids)))

    assert ports.status.store_ids(snapshot=latest(ports)) == sorted(ids)
    assert ports.status.store_ids(snapshot=latest(ports)) == ["0123", "1", "10", "9", LONG_ID, UUID_ID]


def test_polls_since_adds_each_stores_latest_poll_before_the_start_and_nothing_older(ports: Ports) -> None:
    start = 10 * HOUR
    add_polls(ports, 
        polls(
            ("a", 7 * HOUR, True),  # older than a's latest before the start: left out
            ("a", 8 * HOUR, False),  # a's latest before the start
            ("a", start, True),  # at the start: in
            ("a", start + MINUTE, False),
            ("b", 2 * HOUR, True),
            ("b", 3 * HOUR, True),  # b has nothing after the start: its latest only
            ("c", start + HOUR, False),  # c has nothing before the start
            ("d", start - 1, True),  # one microsecond before the start
            ("d", start + 1, False),
        )
    )

    result = ports.status.polls_since(start, snapshot=latest(ports))

    assert result.store_ids == ("a", "b", "c", "d")
    assert result.rows() == [
        ("a", 8 * HOUR, False),
        ("a", start, True),
        ("a", start + MINUTE, False),
        ("b", 3 * HOUR, True),
        ("c", start + HOUR, False),
        ("d", start - 1, True),
        ("d", start + 1, False),
    ]


def test_polls_since_after_every_poll_gives_each_stores_latest_poll(ports: Ports) -> None:
    add_polls(ports, polls(("a", HOUR, True), ("a", 2 * HOUR, False), ("b", HOUR, True)))

    after_every_poll = ports.status.polls_since(100 * HOUR, snapshot=latest(ports))
    assert after_every_poll.rows() == [("a", 2 * HOUR, False), ("b", HOUR, True)]


def test_instants_before_the_epoch_and_far_ahead_survive(ports: Ports) -> None:
    far = 2**62 + 12_345
    add_polls(ports, polls(("a", -1, False), ("a", -(10**15), True), ("a", far, True)))

    assert everything(ports) == [("a", -(10**15), True), ("a", -1, False), ("a", far, True)]
    assert ports.status.latest_timestamp(snapshot=latest(ports)) == far


def test_stored_by_counts_the_given_polls_an_ingestion_stored(ports: Ports) -> None:
    add_polls(ports, polls(("a", HOUR, True), ("b", HOUR, True)))
    version = ports.log.begin()
    first_batch = polls(("a", 2 * HOUR, True), ("c", HOUR, False))
    assert ports.status.add(first_batch, version=version) == 2
    # A later batch of the same file: one poll of the earlier ingestion, one of this one's
    # first batch (its status differs: the key is what counts), one new, one of an unknown store.
    second_batch = polls(("a", HOUR, False), ("c", HOUR, True), ("d", HOUR, True), ("e", 5 * HOUR, True))

    assert ports.status.stored_by(second_batch, version=version) == 1
    assert ports.status.add(second_batch, version=version) == 2
    assert ports.status.stored_by(second_batch, version=version) == 3
    assert ports.status.stored_by(polls(), version=version) == 0
    ports.log.complete(version)


def test_purge_keeps_each_stores_latest_poll_before_the_cutoff_and_everything_after(ports: Ports) -> None:
    cutoff = 10 * HOUR
    add_polls(
        ports,
        polls(
            ("a", HOUR, True),  # older than a's latest before the cutoff: goes
            ("a", 2 * HOUR, False),  # goes
            ("a", 3 * HOUR, True),  # a's latest before the cutoff: kept
            ("a", cutoff, False),  # at the cutoff: kept
            ("b", 4 * HOUR, False),  # goes
            ("b", cutoff - 1, True),  # b's latest before the cutoff: kept
            ("c", cutoff + HOUR, True),  # nothing before the cutoff
            ("d", HOUR, False),  # d's only poll: its latest, kept
        ),
    )

    assert ports.status.purge_before(cutoff) == 3
    assert everything(ports) == [
        ("a", 3 * HOUR, True),
        ("a", cutoff, False),
        ("b", cutoff - 1, True),
        ("c", cutoff + HOUR, True),
        ("d", HOUR, False),
    ]
    assert ports.status.store_ids(snapshot=latest(ports)) == ["a", "b", "c", "d"]
    assert ports.status.purge_before(cutoff) == 0


def test_store_range_selects_ids_in_plain_string_order(ports: Ports) -> None:
    ids = ["0123", "1", "10", "100", "2", "9", "90", LONG_ID, "A", "B", "Z", "_", "a", "é"]
    add_polls(ports, polls(*((store_id, HOUR, True) for store_id in ids)))

    def selected(first: str, last: str) -> list[str]:
        return list(ports.status.polls_since(0, StoreRange(first, last), snapshot=latest(ports)).store_ids)

    # Bounds are inclusive; "10" and "100" sort before "9", "90" after it.
    assert selected("1", "9") == ["1", "10", "100", "2", "9"]
    assert selected("10", "2") == ["10", "100", "2"]
    assert selected("9", LONG_ID) == ["9", "90", LONG_ID]
    # Upper case sorts before "_" and lower case, whatever a locale says.
    assert selected("A", "Z") == ["A", "B", "Z"]
    assert selected("_", "z") == ["_", "a"]
    assert selected("b", "\U0010ffff") == ["é"]
    assert selected("3", "8") == []


def test_store_range_applies_to_the_latest_poll_before_the_start_too(ports: Ports) -> None:
    add_polls(ports, polls(("a", HOUR, True), ("b", HOUR, False), ("b", 5 * HOUR, True), ("c", HOUR, True)))

    result = ports.status.polls_since(2 * HOUR, StoreRange("b", "c"), snapshot=latest(ports))

    assert result.store_ids == ("b", "c")
    assert result.rows() == [("b", HOUR, False), ("b", 5 * HOUR, True), ("c", HOUR, True)]


def test_uuid_and_long_digit_ids_are_kept_as_strings(ports: Ports) -> None:
    ids = [UUID_ID, LONG_ID, "0000000000000000001", "1"]
    add_polls(ports, polls(*((store_id, HOUR, True) for store_id in ids)))

    result = ports.status.polls_since(0, StoreRange("0", "2"), snapshot=latest(ports))

    assert result.store_ids == ("0000000000000000001", "1")
    assert all(isinstance(store_id, str) for store_id in ports.status.store_ids(snapshot=latest(ports)))
    assert set(ports.status.store_ids(snapshot=latest(ports))) == set(ids)


# -- business hours ---------------------------------------------------------------


def test_an_empty_hours_repository(ports: Ports) -> None:
    assert len(ports.hours.hours(snapshot=latest(ports))) == 0
    assert replace_hours(ports, BusinessHours.empty()) == 0


def test_replace_counts_rows_not_stored_before_and_again_counts_none(ports: Ports) -> None:
    given = hours(("a", 0, 9 * HOUR, 17 * HOUR), ("a", 1, 9 * HOUR, 17 * HOUR), ("b", 6, 0, 0))

    assert replace_hours(ports, given) == 3
    assert replace_hours(ports, given) == 0
    assert ports.hours.hours(snapshot=latest(ports)).rows() == [
        ("a", 0, 9 * HOUR, 17 * HOUR),
        ("a", 1, 9 * HOUR, 17 * HOUR),
        ("b", 6, 0, 0),
    ]


def test_replace_makes_the_given_rows_the_whole_set_of_each_listed_store(ports: Ports) -> None:
    replace_hours(ports, 
        hours(("a", 0, 9 * HOUR, 17 * HOUR), ("a", 1, 9 * HOUR, 17 * HOUR), ("b", 2, 8 * HOUR, 20 * HOUR))
    )

    changed = replace_hours(ports, hours(("a", 1, 9 * HOUR, 17 * HOUR), ("a", 3, 22 * HOUR, 2 * HOUR)))

    assert changed == 1  # only ("a", 3, ...) is new for store a
    assert ports.hours.hours(snapshot=latest(ports)).rows() == [
        ("a", 1, 9 * HOUR, 17 * HOUR),
        ("a", 3, 22 * HOUR, 2 * HOUR),
        ("b", 2, 8 * HOUR, 20 * HOUR),  # b was not listed: untouched
    ]


def test_repeated_given_rows_count_once(ports: Ports) -> None:
    row = ("a", 4, 10 * HOUR, 11 * HOUR)

    assert replace_hours(ports, hours(row, row, row)) == 1
    assert ports.hours.hours(snapshot=latest(ports)).rows() == [row]


def test_a_row_stored_for_another_store_is_new_for_this_one(ports: Ports) -> None:
    replace_hours(ports, hours(("a", 0, HOUR, 2 * HOUR)))

    assert replace_hours(ports, hours(("b", 0, HOUR, 2 * HOUR))) == 1
    assert [row[0] for row in ports.hours.hours(snapshot=latest(ports)).rows()] == ["a", "b"]


def test_a_listed_store_without_rows_loses_its_rows(ports: Ports) -> None:
    replace_hours(ports, hours(("a", 0, HOUR, 2 * HOUR), ("b", 0, HOUR, 2 * HOUR)))

    # "a" is listed among the ids, but no row points at it.
    changed = replace_hours(ports, BusinessHours(("a", "b"), [1], [5], [HOUR], [3 * HOUR]))

    assert changed == 1
    assert ports.hours.hours(snapshot=latest(ports)).rows() == [("b", 5, HOUR, 3 * HOUR)]


def test_hours_of_a_store_range(ports: Ports) -> None:
    replace_hours(ports, 
        hours(
            ("1", 0, HOUR, 2 * HOUR),
            ("10", 1, HOUR, 2 * HOUR),
            ("9", 2, HOUR, 2 * HOUR),
            (LONG_ID, 3, 0, HOUR),
        )
    )

    selected = ports.hours.hours(StoreRange("10", "9"), snapshot=latest(ports))

    assert selected.store_ids == ("10", "9")
    assert selected.rows() == [("10", 1, HOUR, 2 * HOUR), ("9", 2, HOUR, 2 * HOUR)]


# -- timezones ------------------------------------------------------------------


def test_an_empty_timezone_repository(ports: Ports) -> None:
    assert ports.timezones.timezones(snapshot=latest(ports)).by_store == {}
    assert replace_zones(ports, zones({})) == 0


def test_timezone_replace_counts_new_or_different_zones(ports: Ports) -> None:
    first = zones({"a": "America/Chicago", "b": "Asia/Kolkata"})
    assert replace_zones(ports, first) == 2
    assert replace_zones(ports, first) == 0

    second = zones({"a": "America/Chicago", "b": "Europe/Berlin", "c": "America/New_York"})
    assert replace_zones(ports, second) == 2
    assert ports.timezones.timezones(snapshot=latest(ports)).by_store == {
        "a": "America/Chicago",
        "b": "Europe/Berlin",
        "c": "America/New_York",
    }


def test_timezone_replace_leaves_unlisted_stores_alone(ports: Ports) -> None:
    replace_zones(ports, zones({"a": "America/Denver", "b": "America/Boise"}))

    replace_zones(ports, zones({"b": "America/Chicago"}))

    assert ports.timezones.timezones(snapshot=latest(ports)).by_store == {"a": "America/Denver", "b": "America/Chicago"}


def test_timezones_of_a_store_range(ports: Ports) -> None:
    by_store = {"1": "Asia/Tokyo", "10": "Europe/Paris", "9": "America/Lima", UUID_ID: "Africa/Cairo"}
    replace_zones(ports, zones(by_store))

    selected = ports.timezones.timezones(StoreRange("10", "9"), snapshot=latest(ports))

    assert selected.by_store == {"10": "Europe/Paris", "9": "America/Lima"}
    assert ports.timezones.timezones(snapshot=latest(ports)).by_store == by_store


# -- snapshots: numbered ingestions -----------------------------------------------


@attrs.frozen
class State:
    """Everything a report reads at one snapshot."""

    latest: int | None
    store_ids: list[str]
    polls: list[tuple[str, int, bool]]
    hours: list[tuple[str, int, int, int]]
    timezones: dict[str, str]


def state_at(ports: Ports, snapshot: int) -> State:
    return State(
        ports.status.latest_timestamp(snapshot=snapshot),
        ports.status.store_ids(snapshot=snapshot),
        ports.status.polls_since(-(2**62), snapshot=snapshot).rows(),
        ports.hours.hours(snapshot=snapshot).rows(),
        dict(ports.timezones.timezones(snapshot=snapshot).by_store),
    )


FIRST_POLLS = polls(("a", HOUR, True), ("a", 2 * HOUR, False))
FIRST_HOURS = hours(("a", 0, 9 * HOUR, 17 * HOUR), ("a", 1, 9 * HOUR, 17 * HOUR))
FIRST_ZONES = zones({"a": "America/New_York"})
FIRST_STATE = State(
    2 * HOUR,
    ["a"],
    [("a", HOUR, True), ("a", 2 * HOUR, False)],
    [("a", 0, 9 * HOUR, 17 * HOUR), ("a", 1, 9 * HOUR, 17 * HOUR)],
    {"a": "America/New_York"},
)
# A second ingestion: a poll of a, a new store b, a's hours and zone replaced.
SECOND_POLLS = polls(("a", 3 * HOUR, True), ("b", 3 * HOUR, False))
SECOND_HOURS = hours(("a", 1, 9 * HOUR, 17 * HOUR), ("a", 2, 22 * HOUR, 2 * HOUR), ("b", 6, 0, 0))
SECOND_ZONES = zones({"a": "Asia/Tokyo", "b": "Europe/Berlin"})
SECOND_STATE = State(
    3 * HOUR,
    ["a", "b"],
    [("a", HOUR, True), ("a", 2 * HOUR, False), ("a", 3 * HOUR, True), ("b", 3 * HOUR, False)],
    [("a", 1, 9 * HOUR, 17 * HOUR), ("a", 2, 22 * HOUR, 2 * HOUR), ("b", 6, 0, 0)],
    {"a": "Asia/Tokyo", "b": "Europe/Berlin"},
)
EMPTY_STATE = State(None, [], [], [], {})


def store_everything(ports: Ports, version: int, given: tuple[StatusPolls, BusinessHours, StoreTimezones]) -> None:
    ports.status.add(given[0], version=version)
    ports.hours.replace(given[1], version=version)
    ports.timezones.replace(given[2], version=version)


def ingest_everything(ports: Ports, given: tuple[StatusPolls, BusinessHours, StoreTimezones]) -> int:
    version = ports.log.begin()
    store_everything(ports, version, given)
    ports.log.complete(version)
    return version


FIRST = (FIRST_POLLS, FIRST_HOURS, FIRST_ZONES)
SECOND = (SECOND_POLLS, SECOND_HOURS, SECOND_ZONES)


def test_before_any_ingestion_the_snapshot_sees_nothing(ports: Ports) -> None:
    assert latest(ports) == 0
    assert state_at(ports, latest(ports)) == EMPTY_STATE


def test_versions_increase_and_the_latest_complete_one_is_the_snapshot(ports: Ports) -> None:
    first = ingest_everything(ports, FIRST)
    second = ingest_everything(ports, SECOND)

    assert 0 < first < second
    assert latest(ports) == second


def test_a_snapshot_does_not_see_what_a_later_ingestion_adds_or_replaces(ports: Ports) -> None:
    ingest_everything(ports, FIRST)
    planned = latest(ports)

    ingest_everything(ports, SECOND)

    # New polls, a new store, replaced hours and a replaced zone: none of it at the earlier snapshot.
    assert state_at(ports, planned) == FIRST_STATE
    assert state_at(ports, latest(ports)) == SECOND_STATE
    assert ports.status.polls_since(2 * HOUR, StoreRange("b", "b"), snapshot=planned).rows() == []
    assert ports.hours.hours(StoreRange("a", "a"), snapshot=planned).rows() == FIRST_STATE.hours


def test_a_running_ingestion_is_seen_by_no_snapshot_until_it_completes(ports: Ports) -> None:
    ingest_everything(ports, FIRST)
    version = ports.log.begin()
    # Stored in several transactions, as a big file is loaded in batches.
    ports.status.add(SECOND_POLLS, version=version)
    ports.hours.replace(SECOND_HOURS, version=version)
    assert latest(ports) < version
    assert state_at(ports, latest(ports)) == FIRST_STATE
    ports.timezones.replace(SECOND_ZONES, version=version)
    assert state_at(ports, latest(ports)) == FIRST_STATE

    ports.log.complete(version)

    assert latest(ports) == version
    assert state_at(ports, version) == SECOND_STATE


def test_polls_of_one_ingestion_in_several_batches_appear_together(ports: Ports) -> None:
    version = ports.log.begin()
    assert ports.status.add(polls(("a", HOUR, True)), version=version) == 1
    assert ports.status.add(polls(("a", HOUR, False), ("b", 2 * HOUR, True)), version=version) == 1
    assert ports.status.latest_timestamp(snapshot=latest(ports)) is None

    ports.log.complete(version)

    assert everything(ports) == [("a", HOUR, True), ("b", 2 * HOUR, True)]


def test_a_poll_stored_already_keeps_its_first_version(ports: Ports) -> None:
    add_polls(ports, polls(("a", HOUR, True)))
    first = latest(ports)

    assert add_polls(ports, polls(("a", HOUR, False), ("a", 2 * HOUR, False))) == 1

    assert ports.status.polls_since(0, snapshot=first).rows() == [("a", HOUR, True)]
    assert everything(ports) == [("a", HOUR, True), ("a", 2 * HOUR, False)]


def test_rows_replaced_twice_within_one_ingestion_end_as_the_last_replacement_says(ports: Ports) -> None:
    ingest_everything(ports, FIRST)
    first = latest(ports)
    other = hours(("a", 4, HOUR, 2 * HOUR))
    version = ports.log.begin()
    for given_hours, zone in ((other, "UTC"), (FIRST_HOURS, "America/New_York"), (other, "Asia/Tokyo")):
        ports.hours.replace(given_hours, version=version)
        ports.timezones.replace(zones({"a": zone}), version=version)
    ports.log.complete(version)

    assert ports.hours.hours(snapshot=latest(ports)).rows() == [("a", 4, HOUR, 2 * HOUR)]
    assert dict(ports.timezones.timezones(snapshot=latest(ports)).by_store) == {"a": "Asia/Tokyo"}
    assert state_at(ports, first) == FIRST_STATE


def test_hours_dropped_and_added_again_are_seen_at_every_snapshot_as_they_were(ports: Ports) -> None:
    row = ("a", 3, HOUR, 2 * HOUR)
    replace_hours(ports, hours(row))
    with_row = latest(ports)
    replace_hours(ports, BusinessHours(("a",), [], [], [], []))
    without = latest(ports)
    assert replace_hours(ports, hours(row)) == 1

    assert ports.hours.hours(snapshot=with_row).rows() == [row]
    assert ports.hours.hours(snapshot=without).rows() == []
    assert ports.hours.hours(snapshot=latest(ports)).rows() == [row]


def test_an_ingestion_that_never_completed_is_never_seen_even_after_a_later_one_completes(ports: Ports) -> None:
    ingest_everything(ports, FIRST)
    abandoned = ports.log.begin()
    store_everything(ports, abandoned, SECOND)
    ports.log.abandon(abandoned)  # it failed (or its process died) before completing

    assert latest(ports) < abandoned
    assert state_at(ports, latest(ports)) == FIRST_STATE

    later = ports.log.begin()
    assert later > abandoned
    # The poll the abandoned ingestion had stored is new again.
    assert ports.status.add(polls(("a", 3 * HOUR, True), ("c", 4 * HOUR, True)), version=later) == 2
    ports.log.complete(later)

    assert state_at(ports, latest(ports)) == attrs.evolve(
        FIRST_STATE,
        latest=4 * HOUR,
        store_ids=["a", "c"],
        polls=[*FIRST_STATE.polls, ("a", 3 * HOUR, True), ("c", 4 * HOUR, True)],
    )
    for snapshot in range(0, later + 1):
        seen = state_at(ports, snapshot)
        assert ("b", 3 * HOUR, False) not in seen.polls
        assert "b" not in seen.timezones and seen.timezones.get("a") != "Asia/Tokyo"


def test_an_ingestion_discarded_by_the_next_cannot_complete(ports: Ports) -> None:
    abandoned = ports.log.begin()
    ports.log.abandon(abandoned)
    later = ports.log.begin()

    with pytest.raises(RepositoryError):
        ports.log.complete(abandoned)

    ports.log.complete(later)
    assert latest(ports) == later


def test_the_next_ingestion_waits_for_the_running_one(ports: Ports) -> None:
    first = ports.log.begin()
    began: list[int] = []
    waiter = threading.Thread(target=lambda: began.append(ports.log.begin()))
    waiter.start()
    waiter.join(timeout=0.5)
    assert waiter.is_alive() and began == []

    ports.log.complete(first)

    waiter.join(timeout=10)
    assert began == [first + 1]
    ports.log.complete(began[0])
    assert latest(ports) == first + 1


def test_latest_timestamp_until_an_instant_is_the_latest_poll_at_or_before_it(ports: Ports) -> None:
    add_polls(ports, polls(("a", HOUR, True), ("b", 3 * HOUR, True), ("a", 5 * HOUR, False)))
    snapshot = latest(ports)

    def until(instant: int) -> int | None:
        return ports.status.latest_timestamp(snapshot=snapshot, until_us=instant)

    assert until(3 * HOUR) == 3 * HOUR
    assert until(5 * HOUR - 1) == 3 * HOUR
    assert until(HOUR) == HOUR
    assert until(HOUR - 1) is None
    assert until(10 * HOUR) == 5 * HOUR


# -- report registry --------------------------------------------------------------

CREATED = datetime(2023, 1, 25, 18, 13, 18, 123456, tzinfo=timezone.utc)
PLANNED = datetime(2023, 1, 25, 18, 13, 19, 5, tzinfo=timezone.utc)
SAVED = datetime(2023, 1, 25, 18, 20, 0, 250000, tzinfo=timezone.utc)
# A non-UTC offset: the registry must give back the same instant, in UTC.
FINISHED = datetime(2023, 1, 25, 21, 0, 1, 999999, tzinfo=timezone(timedelta(hours=5, minutes=30)))
LATER = FINISHED + timedelta(minutes=5)
NOW_US = 1_674_670_398_123_456


def running(report_id: str) -> Report:
    return Report(report_id, ReportStatus.RUNNING, CREATED, CREATED)


def test_a_report_comes_back_as_it_was_added(ports: Ports) -> None:
    report = Report(
        report_id="7d0d5c1e-1f0e-4a59-9f6d-3a1c2b4d5e6f",
        status=ReportStatus.FAILED,
        created_at=CREATED,
        updated_at=FINISHED,
        finished_at=FINISHED,
        report_path="reports/7d0d.csv",
        error="the store_status file is missing",
        progress_done=3,
        progress_total=14_092,
        as_of=datetime(2023, 1, 25, 7, 0, 0, 1, tzinfo=timezone(timedelta(hours=-5))),
        snapshot=12,
        now_us=NOW_US,
    )
    ports.registry.add(report)

    assert ports.registry.get(report.report_id) == report


def test_a_running_report_keeps_its_empty_fields(ports: Ports) -> None:
    ports.registry.add(running("r-1"))

    stored = ports.registry.get("r-1")

    assert stored == running("r-1")
    assert stored.is_running
    assert (stored.finished_at, stored.report_path, stored.error) == (None, None, None)
    assert (stored.progress_done, stored.progress_total) == (0, 0)
    assert (stored.as_of, stored.snapshot, stored.now_us) == (None, None, None)
    assert ports.registry.parts("r-1") == []


def test_a_second_report_with_the_same_id_is_refused_and_the_first_kept(ports: Ports) -> None:
    ports.registry.add(running("r"))

    with pytest.raises(RepositoryError):
        ports.registry.add(Report("r", ReportStatus.FAILED, LATER, LATER, error="x"))

    assert ports.registry.get("r") == running("r")


def test_plan_records_the_number_of_parts_the_time_the_snapshot_and_now(ports: Ports) -> None:
    ports.registry.add(running("r"))

    recorded = ports.registry.plan("r", 7, PLANNED, snapshot=3, now_us=NOW_US)

    planned = attrs.evolve(running("r"), progress_total=7, updated_at=PLANNED, snapshot=3, now_us=NOW_US)
    assert ports.registry.get("r") == recorded == planned
    assert planned.is_planned


def test_a_report_keeps_its_first_plan(ports: Ports) -> None:
    ports.registry.add(running("r"))
    ports.registry.plan("r", 7, PLANNED, snapshot=3, now_us=None)

    again = ports.registry.plan("r", 9, LATER, snapshot=4, now_us=NOW_US)

    first = attrs.evolve(running("r"), progress_total=7, updated_at=PLANNED, snapshot=3, now_us=None)
    assert ports.registry.get("r") == again == first


def test_save_part_counts_the_distinct_parts_saved(ports: Ports) -> None:
    ports.registry.add(running("r"))
    ports.registry.plan("r", 4, PLANNED, snapshot=1, now_us=NOW_US)

    assert ports.registry.save_part("r", 2, "c,1\n", SAVED) == 1
    assert ports.registry.save_part("r", 0, "a,1\n", SAVED + timedelta(seconds=1)) == 2
    assert ports.registry.save_part("r", 3, "d,1\n", SAVED + timedelta(seconds=2)) == 3

    assert ports.registry.get("r") == attrs.evolve(
        running("r"),
        progress_done=3,
        progress_total=4,
        updated_at=SAVED + timedelta(seconds=2),
        snapshot=1,
        now_us=NOW_US,
    )


def test_saving_a_part_again_counts_it_once_and_replaces_it(ports: Ports) -> None:
    ports.registry.add(running("r"))
    ports.registry.plan("r", 2, PLANNED, snapshot=1, now_us=NOW_US)
    ports.registry.save_part("r", 0, "a,old\n", SAVED)
    ports.registry.save_part("r", 1, "b,1\n", SAVED)

    again = ports.registry.save_part("r", 0, "a,new\n", LATER)

    assert again == 2
    assert ports.registry.parts("r") == ["a,new\n", "b,1\n"]
    report = ports.registry.get("r")
    assert (report.progress_done, report.updated_at) == (2, LATER)


def test_parts_come_back_in_index_order_whatever_the_saving_order(ports: Ports) -> None:
    ports.registry.add(running("r"))
    # 10 after 9 and 2 as numbers, not between 1 and 2 as text.
    for index in (10, 2, 0, 9, 1):
        ports.registry.save_part("r", index, f"part {index}\n", SAVED)

    assert ports.registry.parts("r") == [f"part {index}\n" for index in (0, 1, 2, 9, 10)]


def test_parts_keep_their_text_exactly(ports: Ports) -> None:
    lines = '"a,b",1.00\r\n"q""uote",2.00\né,3.00\n' + "x" * 100_000 + "\n"
    ports.registry.add(running("r"))

    ports.registry.save_part("r", 0, lines, SAVED)
    ports.registry.save_part("r", 1, "", SAVED)

    assert ports.registry.parts("r") == [lines, ""]


def test_the_parts_of_each_report_are_kept_apart(ports: Ports) -> None:
    ports.registry.add(running("r1"))
    ports.registry.add(running("r2"))

    ports.registry.save_part("r1", 0, "one\n", SAVED)
    assert ports.registry.save_part("r2", 0, "two\n", SAVED) == 1
    assert ports.registry.save_part("r2", 1, "two more\n", SAVED) == 2

    assert ports.registry.parts("r1") == ["one\n"]
    assert ports.registry.parts("r2") == ["two\n", "two more\n"]
    assert ports.registry.get("r1").progress_done == 1


def test_a_part_saved_after_its_report_finished_changes_nothing(ports: Ports) -> None:
    for report_id, finish in (("done", "complete"), ("failed", "fail")):
        ports.registry.add(running(report_id))
        ports.registry.plan(report_id, 2, PLANNED, snapshot=1, now_us=NOW_US)
        ports.registry.save_part(report_id, 0, "a,1\n", SAVED)
        ports.registry.save_part(report_id, 1, "b,1\n", SAVED)
        if finish == "complete":
            assert ports.registry.mark_complete(report_id, "out/r.csv", FINISHED)
        else:
            assert ports.registry.mark_failed(report_id, "broken", FINISHED)
        finished = ports.registry.get(report_id)
        parts = ports.registry.parts(report_id)

        # A worker cut off mid-part saves it late, after another did it.
        assert ports.registry.save_part(report_id, 0, "a,late\n", LATER) == finished.progress_done

        assert ports.registry.get(report_id) == finished
        assert ports.registry.parts(report_id) == parts


def test_mark_complete_finishes_a_running_report_once(ports: Ports) -> None:
    ports.registry.add(running("r"))
    ports.registry.plan("r", 1, PLANNED, snapshot=1, now_us=NOW_US)
    ports.registry.save_part("r", 0, "a,1\n", SAVED)

    assert ports.registry.mark_complete("r", "out/r.csv", FINISHED) is True
    complete = ports.registry.get("r")
    assert complete == attrs.evolve(
        running("r"),
        snapshot=1,
        now_us=NOW_US,
        status=ReportStatus.COMPLETE,
        updated_at=FINISHED,
        finished_at=FINISHED,
        report_path="out/r.csv",
        progress_done=1,
        progress_total=1,
    )

    # The first finisher wins: neither a second completion nor a failure changes it.
    assert ports.registry.mark_complete("r", "out/other.csv", LATER) is False
    assert ports.registry.mark_failed("r", "too late", LATER) is False
    assert ports.registry.get("r") == complete


def test_mark_failed_finishes_a_running_report_once(ports: Ports) -> None:
    ports.registry.add(running("r"))
    ports.registry.plan("r", 3, PLANNED, snapshot=1, now_us=NOW_US)
    ports.registry.save_part("r", 1, "b,1\n", SAVED)

    assert ports.registry.mark_failed("r", "database error: disk full", FINISHED) is True
    failed = ports.registry.get("r")
    assert failed == attrs.evolve(
        running("r"),
        snapshot=1,
        now_us=NOW_US,
        status=ReportStatus.FAILED,
        updated_at=FINISHED,
        finished_at=FINISHED,
        error="database error: disk full",
        progress_done=1,
        progress_total=3,
    )

    assert ports.registry.mark_failed("r", "again", LATER) is False
    assert ports.registry.mark_complete("r", "out/r.csv", LATER) is False
    assert ports.registry.get("r") == failed


def test_completion_drops_the_parts_and_failure_keeps_them(ports: Ports) -> None:
    for report_id in ("done", "broken"):
        ports.registry.add(running(report_id))
        ports.registry.plan(report_id, 2, PLANNED, snapshot=1, now_us=NOW_US)
        ports.registry.save_part(report_id, 0, "a,1\n", SAVED)
        ports.registry.save_part(report_id, 1, "b,1\n", SAVED)

    ports.registry.mark_complete("done", "out/done.csv", FINISHED)
    ports.registry.mark_failed("broken", "boom", FINISHED)

    # The assembled file holds a complete report's lines; the count stays.
    assert ports.registry.parts("done") == []
    assert ports.registry.get("done").progress_done == 2
    assert ports.registry.parts("broken") == ["a,1\n", "b,1\n"]


def test_a_refused_completion_keeps_the_parts(ports: Ports) -> None:
    ports.registry.add(running("r"))
    ports.registry.save_part("r", 0, "a,1\n", SAVED)
    ports.registry.mark_failed("r", "boom", FINISHED)

    assert ports.registry.mark_complete("r", "out/r.csv", LATER) is False

    assert ports.registry.parts("r") == ["a,1\n"]


def test_finishing_one_report_leaves_the_others_running(ports: Ports) -> None:
    ports.registry.add(running("r1"))
    ports.registry.add(running("r2"))

    ports.registry.mark_complete("r1", "out/r1.csv", FINISHED)
    ports.registry.mark_failed("r2", "boom", FINISHED)
    ports.registry.add(running("r3"))

    assert [ports.registry.get(r).status for r in ("r1", "r2", "r3")] == [
        ReportStatus.COMPLETE,
        ReportStatus.FAILED,
        ReportStatus.RUNNING,
    ]


@pytest.mark.parametrize(
    "action",
    [
        lambda registry: registry.get("missing"),
        lambda registry: registry.plan("missing", 3, PLANNED, snapshot=1, now_us=NOW_US),
        lambda registry: registry.save_part("missing", 0, "a,1\n", SAVED),
        lambda registry: registry.parts("missing"),
        lambda registry: registry.mark_complete("missing", "x.csv", FINISHED),
        lambda registry: registry.mark_failed("missing", "boom", FINISHED),
        lambda registry: registry.part("missing", 0),
        lambda registry: registry.part_summaries("missing"),
    ],
    ids=["get", "plan", "save_part", "parts", "mark_complete", "mark_failed", "part", "part_summaries"],
)
def test_an_unknown_report_is_not_found(ports: Ports, action: Callable[[ReportRegistry], object]) -> None:
    ports.registry.add(running("known"))

    with pytest.raises(ReportNotFound) as raised:
        action(ports.registry)

    assert raised.value.report_id == "missing"
    assert ports.registry.get("known") == running("known")
    assert ports.registry.parts("known") == []


def test_a_registry_that_answers_pings_quietly(ports: Ports) -> None:
    ports.registry.ping()
    ports.registry.ping()


# -- the registry under concurrent writers ------------------------------------------

WORKERS = 2
PARTS_PER_WORKER = 20


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """The URL of a database whose tables exist, for engines of their own."""
    request.getfixturevalue(f"{request.param}_engine")  # creates the tables
    url: str = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_schema_url")
    return url


def save_concurrently(url: str, report_id: str, indexes_per_worker: list[list[int]]) -> list[int]:
    """Each worker, on an engine of its own (as a separate process would have), saves its parts.

    Returns every count that ``save_part`` returned.
    """
    start = threading.Barrier(len(indexes_per_worker))
    counts: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(indexes: list[int]) -> None:
        engine = create_engine_for(url)
        try:
            registry = SqlAlchemyReportRegistry(engine)
            registry.ping()  # connect before the start line
            start.wait()
            for index in indexes:
                saved = registry.save_part(report_id, index, f"part {index}\n", SAVED)
                with lock:
                    counts.append(saved)
        except BaseException as error:  # handed to the test thread below
            with lock:
                errors.append(error)
            start.abort()
        finally:
            engine.dispose()

    threads = [threading.Thread(target=work, args=(indexes,)) for indexes in indexes_per_worker]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return counts


def test_parts_saved_at_once_by_two_workers_are_all_counted(database_url: str) -> None:
    registry_engine = create_engine_for(database_url)
    registry = SqlAlchemyReportRegistry(registry_engine)
    total = WORKERS * PARTS_PER_WORKER
    registry.add(running("r"))
    registry.plan("r", total, PLANNED, snapshot=1, now_us=NOW_US)
    # Interleaved indexes: worker 0 saves the even parts, worker 1 the odd ones.
    indexes = [list(range(worker, total, WORKERS)) for worker in range(WORKERS)]

    counts = save_concurrently(database_url, "r", indexes)

    # Saves took turns: each saw every part committed before it, so the
    # counts returned are exactly 1..40, each once.
    assert sorted(counts) == list(range(1, total + 1))
    assert registry.get("r").progress_done == total
    assert registry.parts("r") == [f"part {index}\n" for index in range(total)]
    registry_engine.dispose()


def test_the_same_parts_saved_at_once_by_two_workers_count_once(database_url: str) -> None:
    registry_engine = create_engine_for(database_url)
    registry = SqlAlchemyReportRegistry(registry_engine)
    registry.add(running("r"))
    registry.plan("r", PARTS_PER_WORKER, PLANNED, snapshot=1, now_us=NOW_US)
    # A part redone after a crash: both workers save all the parts.
    indexes = [list(range(PARTS_PER_WORKER)) for _ in range(WORKERS)]

    counts = save_concurrently(database_url, "r", indexes)

    assert max(counts) == PARTS_PER_WORKER
    assert counts.count(PARTS_PER_WORKER) >= 1
    assert registry.get("r").progress_done == PARTS_PER_WORKER
    assert registry.parts("r") == [f"part {index}\n" for index in range(PARTS_PER_WORKER)]
    registry_engine.dispose()


# -- ingestions in real databases: a dead process, a lost turn, a long wait ---------

REPO = Path(__file__).resolve().parents[2]

# A process that dies in the middle of an ingestion: everything stored, holding its turn,
# neither completed nor abandoned.
DIE_MID_INGESTION = """
import os, sys
from adapters.sqlalchemy import (
    SqlAlchemyBusinessHoursRepository, SqlAlchemyIngestionLog, SqlAlchemyStatusRepository,
    SqlAlchemyTimezoneRepository, create_engine_for,
)
from domain.model.inputs import BusinessHours, StatusPolls, StoreTimezones
HOUR = 3_600_000_000
engine = create_engine_for(sys.argv[1])
version = SqlAlchemyIngestionLog(engine).begin()
SqlAlchemyStatusRepository(engine).add(
    StatusPolls.from_rows([("a", 3 * HOUR, True), ("b", 3 * HOUR, False)]), version=version
)
SqlAlchemyBusinessHoursRepository(engine).replace(
    BusinessHours.from_rows([("a", 1, 9 * HOUR, 17 * HOUR), ("a", 2, 22 * HOUR, 2 * HOUR), ("b", 6, 0, 0)]),
    version=version,
)
SqlAlchemyTimezoneRepository(engine).replace(
    StoreTimezones({"a": "Asia/Tokyo", "b": "Europe/Berlin"}), version=version
)
print(version, flush=True)
os._exit(9)
"""


def ingestion_states(engine: Engine) -> dict[int, str]:
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT version, state FROM ingestions").all()
    return {int(row[0]): str(row[1]) for row in rows}


def test_the_rows_of_an_ingestion_whose_process_died_are_never_seen(database_url: str) -> None:
    engine = create_engine_for(database_url)
    try:
        # A short wait: the dead process's turn must have been released with it.
        ports = _sqlalchemy_ports(engine, wait_seconds=5.0)
        ingest_everything(ports, FIRST)
        environment = {**os.environ, "PYTHONPATH": str(REPO)}
        died = subprocess.run(
            [sys.executable, "-c", DIE_MID_INGESTION, database_url],
            cwd=REPO,
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert died.returncode == 9, died.stderr
        dead = int(died.stdout)

        assert ingestion_states(engine)[dead] == "running"
        assert state_at(ports, latest(ports)) == FIRST_STATE

        later = ports.log.begin()
        assert ingestion_states(engine)[dead] == "abandoned"
        assert ports.status.add(polls(("c", 4 * HOUR, True)), version=later) == 1
        ports.log.complete(later)

        assert latest(ports) == later > dead
        assert state_at(ports, later) == attrs.evolve(
            FIRST_STATE, latest=4 * HOUR, store_ids=["a", "c"], polls=[*FIRST_STATE.polls, ("c", 4 * HOUR, True)]
        )
    finally:
        engine.dispose()


def test_an_ingestion_that_lost_its_turn_can_store_nothing_more(database_url: str) -> None:
    engine = create_engine_for(database_url)
    try:
        ports = _sqlalchemy_ports(engine)
        lost = ports.log.begin()
        ports.status.add(polls(("a", HOUR, True)), version=lost)
        # Its turn is gone (as when the connection holding it dropped) while it goes on.
        ports.log.abandon(lost)
        later = ports.log.begin()

        writes: list[Callable[[], object]] = [
            lambda: ports.status.add(polls(("z", HOUR, True)), version=lost),
            lambda: ports.hours.replace(hours(("z", 0, HOUR, 2 * HOUR)), version=lost),
            lambda: ports.timezones.replace(zones({"z": "UTC"}), version=lost),
            lambda: ports.status.add(polls(("z", HOUR, True)), version=later + 1),  # never began
        ]
        for write in writes:
            with pytest.raises(RepositoryError, match="cannot store anything"):
                write()
        with pytest.raises(RepositoryError, match="not running"):
            ports.log.complete(lost)

        ports.log.complete(later)
        assert state_at(ports, latest(ports)) == EMPTY_STATE
    finally:
        engine.dispose()


def test_an_ingestion_gives_up_waiting_for_its_turn_after_its_wait(database_url: str) -> None:
    engine = create_engine_for(database_url)
    other_engine = create_engine_for(database_url)
    try:
        running_log = SqlAlchemyIngestionLog(engine)
        version = running_log.begin()
        impatient = SqlAlchemyIngestionLog(other_engine, wait_seconds=0.3)

        with pytest.raises(RepositoryError, match="another ingestion"):
            impatient.begin()

        running_log.complete(version)
        next_version = impatient.begin()
        impatient.abandon(next_version)
        assert next_version == version + 1
    finally:
        engine.dispose()
        other_engine.dispose()


# -- report storage -----------------------------------------------------------------

REPORT_BYTES = (
    b"store_id,uptime_last_hour,uptime_last_day,uptime_last_week,"
    b"downtime_last_hour,downtime_last_day,downtime_last_week\n"
    b"8419537941919820732,60.00,23.50,150.25,0.00,0.50,17.75\n"
    b'"a,b",0.00,0.00,0.00,60.00,24.00,168.00\n'
)


@pytest.fixture(params=["memory", "filesystem", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> ReportStorage:
    if request.param == "memory":
        if memory_reports is None:
            pytest.skip("the in-memory adapters are not available")
        return memory_reports.InMemoryReportStorage()
    if request.param == "filesystem":
        # A file beside the folder, that a path with "../" would reach.
        (tmp_path / "r1.csv").write_bytes(b"outside the storage folder\n")
        return FilesystemReportStorage(tmp_path / "reports")
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    return SqlAlchemyReportStorage(engine)


def test_saved_bytes_come_back_exactly(storage: ReportStorage) -> None:
    every_byte = bytes(range(256)) * 64  # NUL, invalid UTF-8, "\r\n": all kept as they are

    first = storage.save("r1", REPORT_BYTES)
    second = storage.save("r2", every_byte)
    empty = storage.save("r3", b"")

    assert len({first, second, empty}) == 3
    assert storage.load(first) == REPORT_BYTES
    assert storage.load(second) == every_byte
    assert storage.load(empty) == b""


def test_saving_again_replaces_the_content_at_the_same_location(storage: ReportStorage) -> None:
    old = storage.save("r1", b"store_id\nold\n")

    new = storage.save("r1", REPORT_BYTES)

    assert new == old
    assert storage.load(new) == REPORT_BYTES


def test_a_location_never_saved_is_a_storage_error(storage: ReportStorage) -> None:
    location = storage.save("r1", REPORT_BYTES)
    never_saved = location.replace("r1", "r2")

    for unknown in (never_saved, "", "nope", "r1.txt", "db:", "file:r1"):
        if unknown == location:
            continue
        with pytest.raises(ReportStorageError):
            storage.load(unknown)


def test_a_location_that_climbs_out_is_a_storage_error(storage: ReportStorage, tmp_path: Path) -> None:
    location = storage.save("r1", REPORT_BYTES)

    for climbing in (
        "../" + location,
        location.replace("r1", "../r1"),
        location.replace("r1", "x/../r1"),
        location.replace("r1", "./r1"),
        str(tmp_path / "r1.csv"),
        "/etc/passwd",
    ):
        with pytest.raises(ReportStorageError):
            storage.load(climbing)
    assert storage.load(location) == REPORT_BYTES


# -- retention: deleting old reports ------------------------------------------------

CUTOFF = datetime(2023, 3, 1, 0, 0, tzinfo=timezone.utc)


def finish(registry: ReportRegistry, report_id: str, at: datetime, *, complete: bool) -> None:
    registry.add(running(report_id))
    registry.plan(report_id, 2, PLANNED, snapshot=1, now_us=NOW_US)
    registry.save_part(report_id, 0, f"{report_id},1\n", SAVED)
    if complete:
        registry.mark_complete(report_id, f"out/{report_id}.csv", at)
    else:
        registry.mark_failed(report_id, "boom", at)


def test_finished_before_lists_complete_and_failed_reports_older_than_the_cutoff(ports: Ports) -> None:
    registry = ports.registry
    finish(registry, "old-complete", CUTOFF - timedelta(days=40), complete=True)
    finish(registry, "old-failed", CUTOFF - timedelta(microseconds=1), complete=False)
    finish(registry, "at-cutoff", CUTOFF, complete=True)
    finish(registry, "recent", CUTOFF + timedelta(days=1), complete=False)
    registry.add(running("old-running"))  # created long before the cutoff, never finished

    listed = registry.finished_before(CUTOFF)

    assert [report.report_id for report in listed] == ["old-complete", "old-failed"]
    assert listed == [registry.get("old-complete"), registry.get("old-failed")]
    # Another offset, the same instant.
    assert registry.finished_before(CUTOFF.astimezone(timezone(timedelta(hours=-7)))) == listed
    assert registry.finished_before(CUTOFF - timedelta(days=41)) == []


def test_delete_finished_before_deletes_exactly_those_reports_and_their_parts(ports: Ports) -> None:
    registry = ports.registry
    finish(registry, "old-complete", CUTOFF - timedelta(days=40), complete=True)
    finish(registry, "old-failed", CUTOFF - timedelta(days=1), complete=False)
    finish(registry, "recent", CUTOFF + timedelta(days=1), complete=False)
    registry.add(running("old-running"))
    registry.save_part("old-running", 0, "r,1\n", SAVED)
    kept = {report_id: registry.get(report_id) for report_id in ("recent", "old-running")}
    expected = registry.finished_before(CUTOFF)

    deleted = registry.delete_finished_before(CUTOFF)

    assert deleted == expected
    assert [report.report_id for report in deleted] == ["old-complete", "old-failed"]
    for report_id in ("old-complete", "old-failed"):
        with pytest.raises(ReportNotFound):
            registry.get(report_id)
        with pytest.raises(ReportNotFound):
            registry.parts(report_id)
    # The failed report's parts went with it: the same id, recorded anew, has none.
    registry.add(running("old-failed"))
    assert registry.parts("old-failed") == []
    assert {report_id: registry.get(report_id) for report_id in kept} == kept
    assert registry.parts("recent") == ["recent,1\n"]
    assert registry.parts("old-running") == ["r,1\n"]
    assert registry.delete_finished_before(CUTOFF) == []


def test_delete_finished_before_on_an_empty_registry_deletes_nothing(ports: Ports) -> None:
    assert ports.registry.delete_finished_before(CUTOFF) == []
    assert ports.registry.finished_before(CUTOFF) == []


def test_deleting_a_file_makes_its_location_unreadable_and_leaves_the_others(storage: ReportStorage) -> None:
    first = storage.save("r1", REPORT_BYTES)
    second = storage.save("r2", b"other\n")

    storage.delete(first)

    with pytest.raises(ReportStorageError):
        storage.load(first)
    assert storage.load(second) == b"other\n"
    # Saved again after a delete, the file is back.
    assert storage.load(storage.save("r1", b"again\n")) == b"again\n"


def test_deleting_a_file_that_is_gone_is_fine(storage: ReportStorage) -> None:
    location = storage.save("r1", REPORT_BYTES)
    never_saved = location.replace("r1", "r2")

    storage.delete(location)
    storage.delete(location)
    storage.delete(never_saved)

    with pytest.raises(ReportStorageError):
        storage.load(location)


def test_deleting_a_location_that_climbs_out_touches_nothing(storage: ReportStorage, tmp_path: Path) -> None:
    location = storage.save("r1", REPORT_BYTES)
    other = storage.save("r2", b"store_id\nb\n")
    # Beside the folder: what "../" reaches on a disk (the filesystem's fixture wrote it; every backend has it).
    outside = tmp_path / "r1.csv"
    if not outside.exists():
        outside.write_bytes(b"outside the storage folder\n")
    outside_before = outside.read_bytes()

    # Each names a stored report once resolved as a path ("x/../r1" is r1): no backend may take it for one.
    for climbing in (
        "../" + location,
        location.replace("r1", "../r1"),
        location.replace("r1", "x/../r1"),
        location.replace("r1", "x/../r2"),
        str(outside),
        "/etc/passwd",
    ):
        try:
            storage.delete(climbing)
        except ReportStorageError:
            pass  # refused: as good as deleting nothing

    assert storage.load(location) == REPORT_BYTES
    assert storage.load(other) == b"store_id\nb\n"
    assert outside.read_bytes() == outside_before


def created_at(report_id: str, at: datetime) -> Report:
    return Report(report_id, ReportStatus.RUNNING, at, at)


def test_recent_lists_the_newest_reports_first_whatever_their_state(ports: Ports) -> None:
    registry = ports.registry
    # Added out of order; one created in another offset; two created at the same instant.
    registry.add(created_at("b-middle", CREATED))
    registry.add(created_at("newest", CREATED.astimezone(timezone(timedelta(hours=-7))) + timedelta(seconds=1)))
    registry.add(created_at("oldest", CREATED - timedelta(days=3)))
    registry.add(created_at("a-middle", CREATED))
    finish(registry, "finished", CREATED - timedelta(hours=1), complete=True)  # created at CREATED too
    registry.mark_failed("a-middle", "boom", LATER)

    listed = registry.recent(10)

    # Newest first; among equal instants the greater id first.
    assert [report.report_id for report in listed] == ["newest", "finished", "b-middle", "a-middle", "oldest"]
    # Each comes back whole, as ``get`` gives it.
    assert listed == [registry.get(report.report_id) for report in listed]
    assert listed[3].status is ReportStatus.FAILED and listed[3].error == "boom"
    assert [report.report_id for report in registry.recent(2)] == ["newest", "finished"]
    assert registry.recent(0) == []
    assert registry.recent(-1) == []


def test_recent_on_an_empty_registry_is_empty(ports: Ports) -> None:
    assert ports.registry.recent(5) == []


# -- runs of every kind: a trend has its days, its parts' summaries and its own -------

# JSON values as a trend's part sums its stores (domain.model.fleet_trend): big integers, ids, nested lists.
PART_SUMMARY: dict[str, Any] = {
    "days": 2,
    "business": [86_400_000_000 * 14_000, 0],
    "uptime": [1, 0],
    "below_90": [3, 0],
    "below_50": [1, 0],
    "slipping": [{"store_id": 'a,"b" é', "business": [7, 7], "uptime": [1, 6]}],
}


def trend(report_id: str, days: int = 28, at: datetime = CREATED) -> Report:
    return Report(report_id, ReportStatus.RUNNING, at, at, kind=RunKind.TREND, days=days)


def test_a_run_keeps_its_kind_and_days_and_a_report_is_a_report(ports: Ports) -> None:
    ports.registry.add(trend("t", days=90))
    ports.registry.add(running("r"))

    assert ports.registry.get("t") == trend("t", days=90)
    assert (ports.registry.get("t").kind, ports.registry.get("t").days) == (RunKind.TREND, 90)
    assert (ports.registry.get("r").kind, ports.registry.get("r").days) == (RunKind.REPORT, None)
    assert ports.registry.get("t").summary is None


def test_parts_keep_their_summaries_and_completion_records_the_runs(ports: Ports) -> None:
    registry = ports.registry
    registry.add(trend("t", days=2))
    registry.plan("t", 3, PLANNED, snapshot=1, now_us=NOW_US)
    registry.save_part("t", 2, "c,1\n", SAVED, {**PART_SUMMARY, "below_50": [2, 0]})
    registry.save_part("t", 0, "a,1\n", SAVED, PART_SUMMARY)
    registry.save_part("t", 1, "b,1\n", SAVED)
    # Saved again, a part's summary is replaced with its lines.
    assert registry.save_part("t", 0, "a,2\n", SAVED, {**PART_SUMMARY, "uptime": [2, 0]}) == 3

    assert registry.part_summaries("t") == [
        {**PART_SUMMARY, "uptime": [2, 0]},
        None,
        {**PART_SUMMARY, "below_50": [2, 0]},
    ]
    assert [registry.part("t", index) for index in range(4)] == ["a,2\n", "b,1\n", "c,1\n", None]

    whole = {**PART_SUMMARY, "slipping": []}
    assert registry.mark_complete("t", "t.csv", FINISHED, whole)

    done = registry.get("t")
    assert (done.status, done.report_path, done.summary) == (ReportStatus.COMPLETE, "t.csv", whole)
    assert registry.part("t", 0) is None and registry.part_summaries("t") == []
    assert [report.summary for report in registry.recent(5, RunKind.TREND)] == [whole]


def test_a_report_completes_without_a_summary(ports: Ports) -> None:
    ports.registry.add(running("r"))
    ports.registry.plan("r", 1, PLANNED, snapshot=1, now_us=NOW_US)
    ports.registry.save_part("r", 0, "a,1\n", SAVED)

    assert ports.registry.part_summaries("r") == [None]
    assert ports.registry.mark_complete("r", "r.csv", FINISHED)
    assert ports.registry.get("r").summary is None


def test_recent_lists_the_runs_of_the_kind_asked_for(ports: Ports) -> None:
    registry = ports.registry
    registry.add(trend("t-old", at=CREATED - timedelta(days=1)))
    registry.add(created_at("r-new", CREATED + timedelta(seconds=1)))
    registry.add(trend("t-new", days=7, at=CREATED + timedelta(seconds=2)))
    registry.add(created_at("r-old", CREATED - timedelta(days=2)))

    assert [r.report_id for r in registry.recent(10, RunKind.TREND)] == ["t-new", "t-old"]
    assert [r.report_id for r in registry.recent(10, RunKind.REPORT)] == ["r-new", "r-old"]
    assert [r.report_id for r in registry.recent(10)] == ["t-new", "r-new", "t-old", "r-old"]
    assert [r.report_id for r in registry.recent(1, RunKind.REPORT)] == ["r-new"]
    assert registry.recent(10, RunKind.TREND)[0] == trend("t-new", days=7, at=CREATED + timedelta(seconds=2))


def test_a_file_saved_in_pieces_comes_back_whole(storage: ReportStorage, monkeypatch: pytest.MonkeyPatch) -> None:
    # Rows of a few hundred bytes in the database: the pieces span several of them.
    monkeypatch.setattr("adapters.sqlalchemy.report_storage.PIECE_BYTES", 300)
    pieces = [bytes([i]) * (100 + 37 * i) for i in range(12)]

    location = storage.save_pieces("r1", iter(pieces))
    assert storage.load(location) == b"".join(pieces)
    assert storage.load(storage.save_pieces("r2", iter([]))) == b""

    # Saved again with less, nothing of the longer file is left.
    assert storage.save_pieces("r1", iter([b"header\n", b"a,1\n"])) == location
    assert storage.load(location) == b"header\na,1\n"
    storage.delete(location)
    with pytest.raises(ReportStorageError):
        storage.load(location)


def test_a_file_read_in_pieces_is_the_file_and_a_missing_one_an_error_at_once(
    storage: ReportStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("adapters.report_storage.READ_BLOCK_BYTES", 1000)
    content = bytes(range(256)) * 40
    location = storage.save("r1", content)

    assert b"".join(storage.load_pieces(location)) == content
    missing = location.replace("r1", "r2")
    # Before any piece is asked for: an answer can still say so.
    with pytest.raises(ReportStorageError):
        storage.load_pieces(missing)
    with pytest.raises(ReportStorageError):
        storage.load_pieces("../" + location)


def test_a_save_whose_pieces_fail_leaves_the_file_saved_before(storage: ReportStorage) -> None:
    location = storage.save("r1", REPORT_BYTES)

    class Stop(Exception):
        pass

    def failing() -> Iterator[bytes]:
        yield b"store_id\n" * 1000
        raise Stop()

    with pytest.raises(Stop):
        storage.save_pieces("r1", failing())
    with pytest.raises(Stop):
        storage.save_pieces("r-new", failing())

    assert storage.load(location) == REPORT_BYTES
    with pytest.raises(ReportStorageError):
        storage.load(location.replace("r1", "r-new"))


# -- units of work and worker heartbeats (domain/use_cases/work.py) ------------------------------

from adapters.memory.work import InMemoryWorkerRegistry, InMemoryWorkLedger  # noqa: E402
from adapters.sqlalchemy.work_ledger import SqlAlchemyWorkerRegistry, SqlAlchemyWorkLedger  # noqa: E402
from domain.model.work_units import UnitState, WorkerBeat, WorkUnit
from domain.ports.work import WorkerRegistry, WorkLedger

T0 = datetime(2024, 10, 3, 12, 0, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@attrs.frozen
class WorkPorts:
    ledger: WorkLedger
    workers: WorkerRegistry


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def work(request: pytest.FixtureRequest) -> WorkPorts:
    if request.param == "memory":
        return WorkPorts(InMemoryWorkLedger(), InMemoryWorkerRegistry())
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    return WorkPorts(SqlAlchemyWorkLedger(engine), SqlAlchemyWorkerRegistry(engine))


def queued(unit_id: str, run_id: str = "r", queued_at: datetime = T0) -> WorkUnit:
    return WorkUnit(unit_id, run_id, "store_monitor.compute_part", (run_id, 0, "a", "b"), "part 0", queued_at)


def test_a_unit_comes_back_as_it_was_added_and_adding_it_again_keeps_it(work: WorkPorts) -> None:
    unit = queued("u1")
    work.ledger.add([unit, queued("u2", run_id="other")])
    work.ledger.claim("u1", "w1", at(1), at(11))

    work.ledger.add([queued("u1", queued_at=at(5))])

    assert work.ledger.get("u2") == queued("u2", run_id="other")
    kept = work.ledger.get("u1")
    assert kept is not None and (kept.state, kept.queued_at, kept.holder) == (UnitState.LEASED, T0, "w1")
    assert kept.args == ("r", 0, "a", "b")
    assert [u.unit_id for u in work.ledger.units("r")] == ["u1"]
    assert work.ledger.get("missing") is None


def test_a_claim_takes_a_queued_unit_or_an_expired_lease_and_nothing_else(work: WorkPorts) -> None:
    work.ledger.add([queued("u")])

    first = work.ledger.claim("u", "w1", at(1), at(11))
    assert first is not None and (first.state, first.holder, first.attempts) == (UnitState.LEASED, "w1", 1)
    assert (first.lease_until, first.beat_at) == (at(11), at(1))
    assert work.ledger.claim("u", "w2", at(10), at(20)) is None
    assert work.ledger.renew("u", "w1", at(10), at(20)) is True
    assert work.ledger.renew("u", "w2", at(10), at(20)) is False
    assert work.ledger.claim("u", "w2", at(19), at(29)) is None

    second = work.ledger.claim("u", "w2", at(20), at(30))
    assert second is not None and (second.holder, second.attempts) == ("w2", 2)
    assert work.ledger.finish("u", at(21), UnitState.DONE, None) is True
    assert work.ledger.finish("u", at(22), UnitState.FAILED, "late") is False
    assert work.ledger.claim("u", "w3", at(99), at(109)) is None
    assert work.ledger.claim("missing", "w3", at(99), at(109)) is None


def test_of_two_claims_at_once_exactly_one_wins(work: WorkPorts) -> None:
    work.ledger.add([queued(f"u{i}") for i in range(20)])
    won: dict[str, list[str]] = {"a": [], "b": []}
    start = threading.Barrier(2)

    def claim_all(holder: str) -> None:
        start.wait()
        for i in range(20):
            if work.ledger.claim(f"u{i}", holder, at(1), at(11)) is not None:
                won[holder].append(f"u{i}")

    threads = [threading.Thread(target=claim_all, args=(holder,)) for holder in won]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(won["a"] + won["b"]) == sorted(f"u{i}" for i in range(20))
    assert all(work.ledger.get(f"u{i}").attempts == 1 for i in range(20))  # type: ignore[union-attr]


def test_release_ends_a_lease_now_and_keeps_the_error(work: WorkPorts) -> None:
    work.ledger.add([queued("u")])
    work.ledger.claim("u", "w1", at(1), at(11))

    assert work.ledger.release("u", "w2", at(2), "not mine") is False
    assert work.ledger.release("u", None, at(2), "its worker process was lost") is True

    released = work.ledger.get("u")
    assert released is not None and (released.state, released.lease_until) == (UnitState.LEASED, at(2))
    assert released.error == "its worker process was lost"
    assert work.ledger.claim("u", "w2", at(2), at(12)) is not None


def test_due_and_requeue_follow_the_watchdog_rules_and_only_one_requeue_wins(work: WorkPorts) -> None:
    work.ledger.add([queued("expired"), queued("live"), queued("waiting", queued_at=at(5)), queued("refused")])
    work.ledger.claim("expired", "w1", at(1), at(11))
    work.ledger.claim("live", "w1", at(1), at(30))
    work.ledger.record_publish("refused", at(1), "the broker is unreachable")

    busy = work.ledger.due(at(12), retry_before=at(11), quiet_since=None)
    quiet = work.ledger.due(at(12), retry_before=at(11), quiet_since=at(8))

    assert [u.unit_id for u in busy] == ["expired", "refused"]
    assert [u.unit_id for u in quiet] == ["expired", "refused", "waiting"]
    assert work.ledger.requeue("expired", at(12), at(11), None) is True
    assert work.ledger.requeue("expired", at(12), at(11), None) is False  # a second watchdog
    assert work.ledger.requeue("live", at(12), at(11), at(8)) is False
    again = work.ledger.get("expired")
    assert again is not None and (again.state, again.holder, again.queued_at) == (UnitState.QUEUED, None, at(12))
    assert work.ledger.last_beat() == at(1)


def test_give_up_fails_only_an_expired_lease(work: WorkPorts) -> None:
    work.ledger.add([queued("u")])
    work.ledger.claim("u", "w1", at(1), at(11))

    assert work.ledger.give_up("u", at(5), "too many") is False
    assert work.ledger.give_up("u", at(11), "started 5 times") is True

    failed = work.ledger.get("u")
    assert failed is not None and (failed.state, failed.error) == (UnitState.FAILED, "started 5 times")


def test_a_finished_unit_is_reopened_only_when_asked_and_forget_drops_a_run(work: WorkPorts) -> None:
    work.ledger.add([queued("u"), queued("v", run_id="other")])
    work.ledger.claim("u", "w1", at(1), at(11))
    work.ledger.finish("u", at(2), UnitState.DONE, None)

    work.ledger.add([queued("u", queued_at=at(3))], reopen=True)

    reopened = work.ledger.get("u")
    assert reopened is not None and (reopened.state, reopened.attempts, reopened.queued_at) == (
        UnitState.QUEUED,
        0,
        at(3),
    )
    work.ledger.forget("r")
    assert work.ledger.get("u") is None and work.ledger.get("v") is not None


def test_worker_heartbeats(work: WorkPorts) -> None:
    assert work.workers.latest_seen() is None
    work.workers.beat(WorkerBeat("h:1", "h", 1, T0, at(1)))
    work.workers.beat(WorkerBeat("h:2", "h", 2, T0, at(3)))
    work.workers.beat(WorkerBeat("h:1", "h", 1, T0, at(5)))

    assert work.workers.latest_seen() == at(5)
    assert work.workers.get("h:1") == WorkerBeat("h:1", "h", 1, T0, at(5))
    work.workers.forget("h:1")
    assert work.workers.get("h:1") is None and work.workers.latest_seen() == at(3)
    assert work.workers.forget_seen_before(at(3)) == 0
    assert work.workers.forget_seen_before(at(4)) == 1
    assert work.workers.latest_seen() is None
