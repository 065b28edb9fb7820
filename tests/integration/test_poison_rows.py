"""Poison rows: rows that read fine but must never be stored.

A store id holding a control character or longer than 255 characters (in any
of the three files), and a poll before 1970 or more than a day after the
reading machine's clock, are rejected with their line and a reason; the other
rows of the file load, and the report is the one of those rows alone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from csv_helpers import HOURS_HEADER, STATUS_HEADER, TIMEZONE_HEADER, folder_with, micros, write
from dependency_injector import providers

from adapters.csv.batches import read_hours, read_status, read_timezones
from adapters.csv.reader import MAX_STORE_ID_CHARS, PandasCsvReader
from domain.model.errors import InvalidInputError
from domain.model.ingestion import HOURS_FILE, STATUS_FILE, TIMEZONE_FILE, FileSummary, RejectedRow
from entrypoints.container import Container, build_container

CONTROL_PROBLEM = "holds a control character (U+0000 to U+001F or U+007F)"
LONG_PROBLEM = f"is longer than {MAX_STORE_ID_CHARS} characters"
BEFORE_1970 = "is before 1970-01-01 UTC"
# The reading machine's clock in these tests, and the last instant a poll may have under it.
CLOCK = datetime(2023, 1, 25, 12, 0, 0, tzinfo=timezone.utc)
LATEST_WRITTEN = "2023-01-26 12:00:00 UTC"
FUTURE_PROBLEM = "is more than a day after this machine's clock (2023-01-25 12:00:00 UTC)"
MEGABYTE = 1 << 20

# Store ids that must not be stored, as written in a file, with the reason shown for them.
POISON_IDS = [
    pytest.param("a\x00b", f"store_id 'a\\x00b' {CONTROL_PROBLEM}", id="NUL"),
    pytest.param("a\x01b", f"store_id 'a\\x01b' {CONTROL_PROBLEM}", id="SOH"),
    pytest.param("a\x1bb", f"store_id 'a\\x1bb' {CONTROL_PROBLEM}", id="ESC"),
    pytest.param("a\x7fb", f"store_id 'a\\x7fb' {CONTROL_PROBLEM}", id="DEL"),
    pytest.param("a\tb", f"store_id 'a\\tb' {CONTROL_PROBLEM}", id="tab-inside"),
    # Python's str.strip() takes U+001C-U+001F for white space; they are control characters.
    pytest.param("a\x1f", f"store_id 'a\\x1f' {CONTROL_PROBLEM}", id="unit-separator-at-the-end"),
    pytest.param(" \x1ca ", f"store_id ' \\x1ca ' {CONTROL_PROBLEM}", id="file-separator-at-the-start"),
    pytest.param(
        "x" * (MAX_STORE_ID_CHARS + 1),
        f"store_id '{'x' * 40}'... ({MAX_STORE_ID_CHARS + 1 - 40} more characters) {LONG_PROBLEM}",
        id="256-characters",
    ),
]
# Timestamps no poll can have under CLOCK, with the reason's problem.
POISON_TIMESTAMPS = [
    pytest.param("9999-12-31 23:59:59 UTC", FUTURE_PROBLEM, id="year-9999"),
    pytest.param("2999-01-22 12:00:00 UTC", FUTURE_PROBLEM, id="year-2999"),
    pytest.param("2023-01-26 12:00:00.000001 UTC", FUTURE_PROBLEM, id="a-day-and-a-microsecond-ahead"),
    pytest.param("2023-01-26T13:00:00+01:00Z", None, id="unreadable"),
    pytest.param("2023-01-26T12:00:01+00:00", FUTURE_PROBLEM, id="ahead-with-offset"),
    pytest.param("0000-01-01 00:00:00 UTC", BEFORE_1970, id="year-0"),
    pytest.param("-001-01-01 00:00:00 UTC", BEFORE_1970, id="negative-year"),
    pytest.param("0001-01-01 00:00:00 UTC", BEFORE_1970, id="year-1"),
    pytest.param("1969-12-31 23:59:59.999999 UTC", BEFORE_1970, id="a-microsecond-before-1970"),
]


@pytest.fixture(params=["plain", "quoted-header"])
def style(request: pytest.FixtureRequest) -> str:
    """plain: the file as written; quoted-header: the same with a quoted header name."""
    return str(request.param)


def header(text: str, style: str) -> str:
    return text if style == "plain" else text.replace("store_id", '"store_id"', 1)


# --- The reader --------------------------------------------------------------------------------


@pytest.mark.parametrize(("store_id", "reason"), POISON_IDS)
def test_a_poison_store_id_is_rejected_in_the_status_file(
    tmp_path: Path, style: str, store_id: str, reason: str
) -> None:
    lines = [
        header(STATUS_HEADER, style),
        "s1,active,2023-01-22 12:00:00 UTC",
        f"{store_id},active,2023-01-22 12:00:00 UTC",
        "s2,inactive,2023-01-22 13:00:00 UTC",
    ]
    polls, summary = read_status(write(tmp_path / STATUS_FILE, lines), CLOCK)
    assert polls.rows() == [("s1", micros(2023, 1, 22, 12), True), ("s2", micros(2023, 1, 22, 13), False)]
    assert summary == FileSummary(rows=3, rejected=1, errors=[RejectedRow(3, reason)])


@pytest.mark.parametrize(("store_id", "reason"), POISON_IDS)
def test_a_poison_store_id_is_rejected_in_the_hours_file(
    tmp_path: Path, style: str, store_id: str, reason: str
) -> None:
    lines = [header(HOURS_HEADER, style), "s1,0,09:00,17:00", f"{store_id},0,09:00,17:00", "s2,1,10:00,11:00"]
    hours, summary = read_hours(write(tmp_path / HOURS_FILE, lines))
    assert [(store, day) for store, day, _, _ in hours.rows()] == [("s1", 0), ("s2", 1)]
    assert summary == FileSummary(rows=3, rejected=1, errors=[RejectedRow(3, reason)])


@pytest.mark.parametrize(("store_id", "reason"), POISON_IDS)
def test_a_poison_store_id_is_rejected_in_the_timezone_file(
    tmp_path: Path, style: str, store_id: str, reason: str
) -> None:
    lines = [header(TIMEZONE_HEADER, style), "s1,Asia/Tokyo", f"{store_id},Asia/Tokyo", "s2,UTC"]
    timezones, summary = read_timezones(write(tmp_path / TIMEZONE_FILE, lines))
    assert timezones.by_store == {"s1": "Asia/Tokyo", "s2": "UTC"}
    assert summary == FileSummary(rows=3, rejected=1, errors=[RejectedRow(3, reason)])


@pytest.mark.parametrize(("written", "problem"), POISON_TIMESTAMPS)
def test_a_poll_before_1970_or_more_than_a_day_ahead_of_the_clock_is_rejected(
    tmp_path: Path, style: str, written: str, problem: str | None
) -> None:
    lines = [
        header(STATUS_HEADER, style),
        "s1,active,2023-01-22 12:00:00 UTC",
        f"s1,inactive,{written}",
        f"s2,active,{LATEST_WRITTEN}",  # exactly a day after the clock: the latest poll kept
        "s3,active,1970-01-01 00:00:00 UTC",  # the first instant kept
    ]
    polls, summary = read_status(write(tmp_path / STATUS_FILE, lines), CLOCK)
    assert polls.rows() == [
        ("s1", micros(2023, 1, 22, 12), True),
        ("s2", micros(2023, 1, 26, 12), True),
        ("s3", 0, True),
    ]
    (error,) = summary.errors
    assert (summary.rows, summary.rejected, error.line) == (4, 1, 3)
    if problem is None:
        assert error.reason.startswith("timestamp_utc '2023-01-26T13:00:00+01:00Z' is not a timestamp")
    else:
        assert error.reason == f"timestamp_utc {written!r} {problem}"


def test_many_future_polls_among_many_rows_are_each_rejected_on_their_line(tmp_path: Path, style: str) -> None:
    # Enough rows for the timestamps to be read from the bytes, a column at a time.
    lines = [header(STATUS_HEADER, style)]
    future = set()
    for i in range(2000):
        if i % 97 == 5:
            lines.append(f"s{i % 7},active,2999-01-{1 + i % 28:02d} 00:00:00 UTC")
            future.add(len(lines))
        else:
            lines.append(f"s{i % 7},active,2023-01-{1 + i % 20:02d} {i % 24:02d}:{i % 60:02d}:00 UTC")
    polls, summary = read_status(write(tmp_path / STATUS_FILE, lines), CLOCK)
    assert [error.line for error in summary.errors] == sorted(future)
    assert all(error.reason.endswith(FUTURE_PROBLEM) for error in summary.errors)
    assert int(polls.timestamp_us.max()) < micros(2023, 1, 22)


def test_the_clock_of_the_reader_decides_what_is_ahead(tmp_path: Path) -> None:
    folder = folder_with(tmp_path / "data", status=[STATUS_HEADER, "s1,active,2030-06-01 00:00:00 UTC"])
    late, early = datetime(2030, 5, 31, 0, 0, 1, tzinfo=timezone.utc), datetime(2030, 5, 30, tzinfo=timezone.utc)
    assert len(PandasCsvReader(clock=lambda: late).read(folder).polls) == 1
    rejected = PandasCsvReader(clock=lambda: early).read(folder).polls_summary
    assert rejected.rejected == 1
    assert rejected.errors[0].reason.endswith("more than a day after this machine's clock (2030-05-30 00:00:00 UTC)")


def test_the_default_clock_is_this_machines(tmp_path: Path) -> None:
    now = datetime.now(timezone.utc)
    soon, later = now + timedelta(hours=23), now + timedelta(hours=25)
    lines = [STATUS_HEADER] + [f"s1,active,{moment:%Y-%m-%d %H:%M:%S} UTC" for moment in (soon, later)]
    polls, summary = read_status(write(tmp_path / STATUS_FILE, lines))
    assert len(polls) == 1 and [error.line for error in summary.errors] == [3]
    assert len(PandasCsvReader().read(tmp_path).polls) == 1


def test_white_space_around_an_id_is_trimmed_in_every_file(tmp_path: Path, style: str) -> None:
    padded = " \t s1 \t"
    status_lines = [header(STATUS_HEADER, style), f"{padded},active,{LATEST_WRITTEN}"]
    polls, _ = read_status(write(tmp_path / STATUS_FILE, status_lines), CLOCK)
    hours, _ = read_hours(write(tmp_path / HOURS_FILE, [header(HOURS_HEADER, style), f"{padded},0,09:00,17:00"]))
    timezones, _ = read_timezones(write(tmp_path / TIMEZONE_FILE, [header(TIMEZONE_HEADER, style), f"{padded},UTC"]))
    assert polls.store_ids == hours.store_ids == tuple(timezones.by_store) == ("s1",)


def test_a_megabyte_store_id_is_rejected_with_a_short_reason(tmp_path: Path, style: str) -> None:
    huge = "7" * (10 * MEGABYTE)
    lines = [header(STATUS_HEADER, style), f"{huge},active,{LATEST_WRITTEN}", f"s1,active,{LATEST_WRITTEN}"]
    polls, summary = read_status(write(tmp_path / STATUS_FILE, lines), CLOCK)
    assert polls.store_ids == ("s1",)
    (error,) = summary.errors
    assert error.line == 2 and error.reason.endswith(LONG_PROBLEM)
    assert len(error.reason) < 200


@pytest.mark.parametrize("file_name", [STATUS_FILE, HOURS_FILE, TIMEZONE_FILE])
def test_a_megabyte_header_without_a_needed_column_is_a_short_error(tmp_path: Path, style: str, file_name: str) -> None:
    # One huge name, then many short ones: neither may make the message long.
    names = ["q" * MEGABYTE] + [f"column{i}" for i in range(MEGABYTE // 10)]
    path = tmp_path / file_name
    path.write_text(header(",".join(["store_id", *names]), style) + "\ns1,x\n", encoding="utf-8")
    readers: dict[str, Callable[[Path], object]] = {
        STATUS_FILE: read_status,
        HOURS_FILE: read_hours,
        TIMEZONE_FILE: read_timezones,
    }
    reader = readers[file_name]
    with pytest.raises(InvalidInputError) as refused:
        reader(path)
    message = str(refused.value)
    missing = {STATUS_FILE: "'status'", HOURS_FILE: "'dayOfWeek' or 'day'", TIMEZONE_FILE: "'timezone_str'"}
    assert message.startswith(f"{file_name} has no column") and missing[file_name] in message, message
    assert "nothing was loaded" in message
    assert len(message) < 300, message


# --- Stored, and reported ----------------------------------------------------------------------

REAL_STATUS = [
    f"{store},{'active' if (hour + i) % 5 else 'inactive'},2023-01-{day:02d} {hour:02d}:{7 * i % 60:02d}:00 UTC"
    for i, store in enumerate(("s1", "s2", "s3"))
    for day in range(14, 26)
    for hour in range(0, 24, 2)
]
REAL_HOURS = ["s1,0,09:00,17:00", "s1,1,22:00,02:00", "s2,6,00:00,00:00", "s2,2,10:00,11:30"]
REAL_TIMEZONES = ["s1,Asia/Kolkata", "s2,America/New_York"]
# Poison rows of every kind, each for a store of the real rows or for a store of its own.
POISON_STATUS = [
    "future-1,active,9999-12-31 23:59:59 UTC",
    "s1,inactive,2999-01-22 12:00:00 UTC",
    "s2,inactive,0000-01-01 00:00:00 UTC",
    "s3,inactive,-001-01-01 00:00:00 UTC",
    "s3,inactive,1969-12-31 23:59:59 UTC",
    "nul\x00,active,2023-01-22 12:00:00 UTC",
    "s1\x00,active,2023-01-22 12:00:00 UTC",
    "esc\x1b[31m,active,2023-01-22 12:00:00 UTC",
    "del\x7f,active,2023-01-22 12:00:00 UTC",
    f"{'9' * 300},active,2023-01-22 12:00:00 UTC",
    f"{'8' * MEGABYTE},active,2023-01-22 12:00:00 UTC",
]
POISON_HOURS = ["s3\x00,0,00:00,01:00", "s3\x1f,0,00:00,01:00", f"{'s' * 256},0,09:00,10:00", "nul\x00,0,09:00,10:00"]
POISON_TIMEZONES = ["s3\x00,Asia/Tokyo", "nul\x00,Asia/Tokyo", f"{'t' * 256},UTC", "s3\x7f,Pacific/Apia"]


def real_folder(folder: Path) -> Path:
    status = [STATUS_HEADER, *REAL_STATUS]
    return folder_with(folder, status, [HOURS_HEADER, *REAL_HOURS], [TIMEZONE_HEADER, *REAL_TIMEZONES])


def poisoned_folder(folder: Path) -> Path:
    """The real rows with the poison rows spread among them (each file keeps the order of its real rows)."""

    def spread(real: list[str], poison: list[str]) -> list[str]:
        step = max(1, len(real) // (len(poison) + 1))
        mixed = list(real)
        for k, row in enumerate(poison):
            mixed.insert((k + 1) * step + k, row)
        return mixed

    return folder_with(
        folder,
        [STATUS_HEADER, *spread(REAL_STATUS, POISON_STATUS)],
        [HOURS_HEADER, *spread(REAL_HOURS, POISON_HOURS)],
        [TIMEZONE_HEADER, *spread(REAL_TIMEZONES, POISON_TIMEZONES)],
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_schema_url"))


@contextlib.contextmanager
def service_on(url: str) -> Iterator[Container]:
    """The service's container on the database at ``url``, reading files under ``CLOCK``."""
    container = build_container({}, {"database_url": url})
    container.reader.override(providers.Object(PandasCsvReader(clock=lambda: CLOCK)))
    try:
        yield container
    finally:
        container.reset_override()
        container.shutdown_resources()


def test_the_report_with_poison_rows_is_the_report_of_the_real_rows_alone(
    database_url: str, tmp_path: Path
) -> None:
    with service_on(database_url) as service:
        summary = service.ingest_service().ingest(poisoned_folder(tmp_path / "poisoned"))
        poisoned_report = service.report_service().csv()
    with service_on(f"sqlite:///{tmp_path / 'clean.sqlite3'}") as clean:
        clean.ingest_service().ingest(real_folder(tmp_path / "real"))
        expected = clean.report_service().csv()

    assert (summary.store_status.rejected, summary.menu_hours.rejected, summary.timezone.rejected) == (
        len(POISON_STATUS),
        len(POISON_HOURS),
        len(POISON_TIMEZONES),
    )
    assert (summary.store_status.new, summary.menu_hours.new, summary.timezone.new) == (
        len(REAL_STATUS),
        len(REAL_HOURS),
        len(REAL_TIMEZONES),
    )
    for counts in (summary.store_status, summary.menu_hours, summary.timezone):
        assert all(len(error.reason) < 250 for error in counts.errors), counts.errors
    assert poisoned_report == expected
    # "now" is the latest real poll, not a poll of the year 9999 or 2999.
    assert expected.count("\n") == 4


@pytest.mark.postgres
def test_a_nul_in_a_store_id_no_longer_fails_a_postgres_ingestion(postgres_schema_url: str, tmp_path: Path) -> None:
    folder = folder_with(
        tmp_path / "data",
        status=[STATUS_HEADER, "a,active,2023-01-22 12:00:00 UTC", "b\x00,active,2023-01-22 12:00:00 UTC"],
        hours=[HOURS_HEADER, "a,0,09:00,17:00", "b\x00,0,09:00,17:00"],
        timezones=[TIMEZONE_HEADER, "a,UTC", "b\x00,UTC"],
    )
    with service_on(postgres_schema_url) as service:
        summary = service.ingest_service().ingest(folder)
        report = service.report_service().csv()
    for counts in (summary.store_status, summary.menu_hours, summary.timezone):
        assert (counts.rows, counts.new, counts.rejected) == (2, 1, 1)
        assert counts.errors == (RejectedRow(3, f"store_id 'b\\x00' {CONTROL_PROBLEM}"),)
    assert [line.split(",")[0] for line in report.splitlines()[1:]] == ["a"]
