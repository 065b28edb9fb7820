"""One behaviour suite for every implementation of the repository ports.

Each test runs against the in-memory adapters, SQLite and PostgreSQL, so the
three cannot drift apart: what the port docstrings promise is checked here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from sqlalchemy import Engine

from adapters.sqlalchemy import (
    SqlAlchemyBusinessHoursRepository,
    SqlAlchemyReportRegistry,
    SqlAlchemyStatusRepository,
    SqlAlchemyTimezoneRepository,
)
from domain.inputs import BusinessHours, StatusPolls, StoreTimezones
from domain.ports import (
    BusinessHoursRepository,
    ReportNotFound,
    ReportRegistry,
    StatusRepository,
    StoreRange,
    TimezoneRepository,
)
from domain.report import Report, ReportStatus

try:
    from adapters import memory
except ImportError:  # the in-memory adapters are optional here
    memory = None  # type: ignore[assignment]

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


def _sqlalchemy_ports(engine: Engine) -> Ports:
    return Ports(
        SqlAlchemyStatusRepository(engine),
        SqlAlchemyBusinessHoursRepository(engine),
        SqlAlchemyTimezoneRepository(engine),
        SqlAlchemyReportRegistry(engine),
    )


BACKENDS = [
    *(["memory"] if memory is not None else []),
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=BACKENDS)
def ports(request: pytest.FixtureRequest) -> Ports:
    if request.param == "memory":
        return Ports(
            memory.InMemoryStatusRepository(),
            memory.InMemoryBusinessHoursRepository(),
            memory.InMemoryTimezoneRepository(),
            memory.InMemoryReportRegistry(),
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


def everything(status: StatusRepository) -> list[tuple[str, int, bool]]:
    return status.polls_since(-(2**62)).rows()


# -- status polls ---------------------------------------------------------------


def test_an_empty_status_repository(ports: Ports) -> None:
    assert ports.status.latest_timestamp() is None
    assert ports.status.store_ids() == []
    assert len(ports.status.polls_since(0)) == 0
    assert ports.status.add(StatusPolls.empty()) == 0


def test_add_counts_the_polls_it_stores_and_a_second_add_stores_none(ports: Ports) -> None:
    batch = polls(("a", 3 * HOUR, True), ("b", HOUR, False), ("a", HOUR, True))

    assert ports.status.add(batch) == 3
    assert ports.status.add(batch) == 0
    assert everything(ports.status) == [("a", HOUR, True), ("a", 3 * HOUR, True), ("b", HOUR, False)]


def test_a_poll_already_stored_wins_over_a_conflicting_one(ports: Ports) -> None:
    ports.status.add(polls(("a", HOUR, True)))

    added = ports.status.add(polls(("a", HOUR, False), ("a", 2 * HOUR, False)))

    assert added == 1
    assert everything(ports.status) == [("a", HOUR, True), ("a", 2 * HOUR, False)]


def test_within_one_add_the_first_of_repeated_polls_wins(ports: Ports) -> None:
    # StatusPolls from_rows does not remove repeats; the repository must.
    batch = polls(("a", HOUR, False), ("b", HOUR, True), ("a", HOUR, True))

    assert ports.status.add(batch) == 2
    assert everything(ports.status) == [("a", HOUR, False), ("b", HOUR, True)]


def test_polls_from_several_adds_are_merged_in_store_and_time_order(ports: Ports) -> None:
    ports.status.add(polls(("b", 5 * HOUR, True), ("a", 4 * HOUR, False)))
    ports.status.add(polls(("a", 2 * HOUR, True), ("c", HOUR, True), ("b", 6 * HOUR, False)))

    result = ports.status.polls_since(0)

    assert result.store_ids == ("a", "b", "c")
    assert result.rows() == [
        ("a", 2 * HOUR, True),
        ("a", 4 * HOUR, False),
        ("b", 5 * HOUR, True),
        ("b", 6 * HOUR, False),
        ("c", HOUR, True),
    ]


def test_latest_timestamp_is_the_greatest_instant_of_all_stores(ports: Ports) -> None:
    ports.status.add(polls(("a", 5 * HOUR, True), ("b", 9 * HOUR + 1, False), ("c", 7 * HOUR, True)))

    assert ports.status.latest_timestamp() == 9 * HOUR + 1


def test_store_ids_are_sorted_as_text_and_kept_exactly(ports: Ports) -> None:
    ids = ["9", "10", LEADING_ZERO_ID, LONG_ID, UUID_ID, "1"]
    ports.status.add(polls(*((store_id, HOUR, True) for store_id in ids)))

    assert ports.status.store_ids() == sorted(ids)
    assert ports.status.store_ids() == ["0123", "1", "10", "9", LONG_ID, UUID_ID]


def test_polls_since_adds_each_stores_latest_poll_before_the_start_and_nothing_older(ports: Ports) -> None:
    start = 10 * HOUR
    ports.status.add(
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

    result = ports.status.polls_since(start)

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
    ports.status.add(polls(("a", HOUR, True), ("a", 2 * HOUR, False), ("b", HOUR, True)))

    assert ports.status.polls_since(100 * HOUR).rows() == [("a", 2 * HOUR, False), ("b", HOUR, True)]


def test_instants_before_the_epoch_and_far_ahead_survive(ports: Ports) -> None:
    far = 2**62 + 12_345
    ports.status.add(polls(("a", -1, False), ("a", -(10**15), True), ("a", far, True)))

    assert everything(ports.status) == [("a", -(10**15), True), ("a", -1, False), ("a", far, True)]
    assert ports.status.latest_timestamp() == far


def test_store_range_selects_ids_in_plain_string_order(ports: Ports) -> None:
    ids = ["0123", "1", "10", "100", "2", "9", "90", LONG_ID, "A", "B", "Z", "_", "a", "é"]
    ports.status.add(polls(*((store_id, HOUR, True) for store_id in ids)))

    def selected(first: str, last: str) -> list[str]:
        return list(ports.status.polls_since(0, StoreRange(first, last)).store_ids)

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
    ports.status.add(polls(("a", HOUR, True), ("b", HOUR, False), ("b", 5 * HOUR, True), ("c", HOUR, True)))

    result = ports.status.polls_since(2 * HOUR, StoreRange("b", "c"))

    assert result.store_ids == ("b", "c")
    assert result.rows() == [("b", HOUR, False), ("b", 5 * HOUR, True), ("c", HOUR, True)]


def test_uuid_and_long_digit_ids_are_kept_as_strings(ports: Ports) -> None:
    ids = [UUID_ID, LONG_ID, "0000000000000000001", "1"]
    ports.status.add(polls(*((store_id, HOUR, True) for store_id in ids)))

    result = ports.status.polls_since(0, StoreRange("0", "2"))

    assert result.store_ids == ("0000000000000000001", "1")
    assert all(isinstance(store_id, str) for store_id in ports.status.store_ids())
    assert set(ports.status.store_ids()) == set(ids)


# -- business hours ---------------------------------------------------------------


def test_an_empty_hours_repository(ports: Ports) -> None:
    assert len(ports.hours.hours()) == 0
    assert ports.hours.replace(BusinessHours.empty()) == 0


def test_replace_counts_rows_not_stored_before_and_again_counts_none(ports: Ports) -> None:
    given = hours(("a", 0, 9 * HOUR, 17 * HOUR), ("a", 1, 9 * HOUR, 17 * HOUR), ("b", 6, 0, 0))

    assert ports.hours.replace(given) == 3
    assert ports.hours.replace(given) == 0
    assert ports.hours.hours().rows() == [
        ("a", 0, 9 * HOUR, 17 * HOUR),
        ("a", 1, 9 * HOUR, 17 * HOUR),
        ("b", 6, 0, 0),
    ]


def test_replace_makes_the_given_rows_the_whole_set_of_each_listed_store(ports: Ports) -> None:
    ports.hours.replace(
        hours(("a", 0, 9 * HOUR, 17 * HOUR), ("a", 1, 9 * HOUR, 17 * HOUR), ("b", 2, 8 * HOUR, 20 * HOUR))
    )

    changed = ports.hours.replace(hours(("a", 1, 9 * HOUR, 17 * HOUR), ("a", 3, 22 * HOUR, 2 * HOUR)))

    assert changed == 1  # only ("a", 3, ...) is new for store a
    assert ports.hours.hours().rows() == [
        ("a", 1, 9 * HOUR, 17 * HOUR),
        ("a", 3, 22 * HOUR, 2 * HOUR),
        ("b", 2, 8 * HOUR, 20 * HOUR),  # b was not listed: untouched
    ]


def test_repeated_given_rows_count_once(ports: Ports) -> None:
    row = ("a", 4, 10 * HOUR, 11 * HOUR)

    assert ports.hours.replace(hours(row, row, row)) == 1
    assert ports.hours.hours().rows() == [row]


def test_a_row_stored_for_another_store_is_new_for_this_one(ports: Ports) -> None:
    ports.hours.replace(hours(("a", 0, HOUR, 2 * HOUR)))

    assert ports.hours.replace(hours(("b", 0, HOUR, 2 * HOUR))) == 1
    assert [row[0] for row in ports.hours.hours().rows()] == ["a", "b"]


def test_a_listed_store_without_rows_loses_its_rows(ports: Ports) -> None:
    ports.hours.replace(hours(("a", 0, HOUR, 2 * HOUR), ("b", 0, HOUR, 2 * HOUR)))

    # "a" is listed among the ids, but no row points at it.
    changed = ports.hours.replace(BusinessHours(("a", "b"), [1], [5], [HOUR], [3 * HOUR]))

    assert changed == 1
    assert ports.hours.hours().rows() == [("b", 5, HOUR, 3 * HOUR)]


def test_hours_of_a_store_range(ports: Ports) -> None:
    ports.hours.replace(
        hours(
            ("1", 0, HOUR, 2 * HOUR),
            ("10", 1, HOUR, 2 * HOUR),
            ("9", 2, HOUR, 2 * HOUR),
            (LONG_ID, 3, 0, HOUR),
        )
    )

    selected = ports.hours.hours(StoreRange("10", "9"))

    assert selected.store_ids == ("10", "9")
    assert selected.rows() == [("10", 1, HOUR, 2 * HOUR), ("9", 2, HOUR, 2 * HOUR)]


# -- timezones ------------------------------------------------------------------


def test_an_empty_timezone_repository(ports: Ports) -> None:
    assert ports.timezones.timezones().by_store == {}
    assert ports.timezones.replace(zones({})) == 0


def test_timezone_replace_counts_new_or_different_zones(ports: Ports) -> None:
    first = zones({"a": "America/Chicago", "b": "Asia/Kolkata"})
    assert ports.timezones.replace(first) == 2
    assert ports.timezones.replace(first) == 0

    second = zones({"a": "America/Chicago", "b": "Europe/Berlin", "c": "America/New_York"})
    assert ports.timezones.replace(second) == 2
    assert ports.timezones.timezones().by_store == {
        "a": "America/Chicago",
        "b": "Europe/Berlin",
        "c": "America/New_York",
    }


def test_timezone_replace_leaves_unlisted_stores_alone(ports: Ports) -> None:
    ports.timezones.replace(zones({"a": "America/Denver", "b": "America/Boise"}))

    ports.timezones.replace(zones({"b": "America/Chicago"}))

    assert ports.timezones.timezones().by_store == {"a": "America/Denver", "b": "America/Chicago"}


def test_timezones_of_a_store_range(ports: Ports) -> None:
    by_store = {"1": "Asia/Tokyo", "10": "Europe/Paris", "9": "America/Lima", UUID_ID: "Africa/Cairo"}
    ports.timezones.replace(zones(by_store))

    selected = ports.timezones.timezones(StoreRange("10", "9"))

    assert selected.by_store == {"10": "Europe/Paris", "9": "America/Lima"}
    assert ports.timezones.timezones().by_store == by_store


# -- report registry --------------------------------------------------------------

CREATED = datetime(2023, 1, 25, 18, 13, 18, 123456, tzinfo=timezone.utc)
FINISHED = datetime(2023, 1, 25, 21, 0, 1, 999999, tzinfo=timezone(timedelta(hours=5, minutes=30)))


def test_a_report_comes_back_as_it_was_added(ports: Ports) -> None:
    report = Report(
        report_id="7d0d5c1e-1f0e-4a59-9f6d-3a1c2b4d5e6f",
        status=ReportStatus.FAILED,
        created_at=CREATED,
        finished_at=FINISHED,
        report_path="reports/7d0d.csv",
        error="the store_status file is missing",
        progress_done=3,
        progress_total=14_092,
    )
    ports.registry.add(report)

    assert ports.registry.get(report.report_id) == report


def test_a_running_report_keeps_its_empty_fields(ports: Ports) -> None:
    report = Report("r-1", ReportStatus.RUNNING, CREATED)
    ports.registry.add(report)

    stored = ports.registry.get("r-1")

    assert stored == report
    assert (stored.finished_at, stored.report_path, stored.error) == (None, None, None)
    assert (stored.progress_done, stored.progress_total) == (0, 0)


def test_progress_completion_and_failure_are_recorded(ports: Ports) -> None:
    ports.registry.add(Report("done", ReportStatus.RUNNING, CREATED))
    ports.registry.add(Report("broken", ReportStatus.RUNNING, CREATED))

    ports.registry.set_progress("done", 5, 8)
    ports.registry.set_progress("done", 5, 8)  # the same progress again is no error
    ports.registry.mark_complete("done", "out/done.csv", FINISHED)
    ports.registry.set_progress("broken", 1, 8)
    ports.registry.mark_failed("broken", "database error: disk full", FINISHED)

    assert ports.registry.get("done") == Report(
        "done", ReportStatus.COMPLETE, CREATED, FINISHED, "out/done.csv", None, 5, 8
    )
    assert ports.registry.get("broken") == Report(
        "broken", ReportStatus.FAILED, CREATED, FINISHED, None, "database error: disk full", 1, 8
    )


@pytest.mark.parametrize(
    "action",
    [
        lambda registry: registry.get("missing"),
        lambda registry: registry.set_progress("missing", 1, 2),
        lambda registry: registry.mark_complete("missing", "x.csv", CREATED),
        lambda registry: registry.mark_failed("missing", "boom", CREATED),
    ],
    ids=["get", "set_progress", "mark_complete", "mark_failed"],
)
def test_an_unknown_report_is_not_found(ports: Ports, action: Callable[[ReportRegistry], object]) -> None:
    ports.registry.add(Report("known", ReportStatus.RUNNING, CREATED))

    with pytest.raises(ReportNotFound) as raised:
        action(ports.registry)

    assert raised.value.report_id == "missing"
    assert ports.registry.get("known") == Report("known", ReportStatus.RUNNING, CREATED)
