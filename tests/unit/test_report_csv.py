"""The report file: header, order, units, two decimals, quoting."""

from __future__ import annotations

import csv
import io

import pytest

from domain.model.clock import MICROS_PER_HOUR as H
from domain.model.clock import MICROS_PER_MINUTE as M
from domain.model.inputs import BusinessHours, StatusPolls, StoreTimezones
from domain.model.report import REPORT_HEADER, ReportRows, render_csv
from domain.model.uptime import UptimeCalculator

CONTRACT_HEADER = (
    "store_id,uptime_last_hour,uptime_last_day,uptime_last_week,"
    "downtime_last_hour,downtime_last_day,downtime_last_week"
)

StoreFigures = tuple[str, int, int, int, int, int, int]


def report_rows(*stores: StoreFigures) -> ReportRows:
    columns = list(zip(*stores)) if stores else [()] * 7
    return ReportRows(*columns)


def data_lines(text: str) -> list[str]:
    lines = text.split("\n")
    assert lines[0] == CONTRACT_HEADER
    assert lines[-1] == ""  # one final newline, no blank line after it
    return lines[1:-1]


def test_header_is_exactly_the_contracts() -> None:
    assert REPORT_HEADER == CONTRACT_HEADER


def test_an_empty_report_is_the_header_alone() -> None:
    assert render_csv(ReportRows.empty()) == CONTRACT_HEADER + "\n"


def test_hour_figures_are_minutes_day_and_week_figures_hours() -> None:
    text = render_csv(report_rows(("s", 60 * M, 24 * H, 168 * H, 0, 0, 0)))
    assert data_lines(text) == ["s,60.00,24.00,168.00,0.00,0.00,0.00"]


def test_lines_end_with_a_bare_newline() -> None:
    text = render_csv(report_rows(("a", 0, 0, 0, 0, 0, 0), ("b", 0, 0, 0, 0, 0, 0)))
    assert "\r" not in text
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert text.count("\n") == 3


@pytest.mark.parametrize(
    ("micros", "written"),
    [
        (0, "0.00"),
        (1, "0.00"),  # one microsecond
        (1_799_940_000, "30.00"),  # 29.999 min rounds up
        (1_799_700_000, "30.00"),  # 29.995 min: the float quotient lies just above the half
        (1_599_900_000, "26.66"),  # 26.665 min: the float quotient lies just below the half
        (300_000, "0.01"),  # 0.005 min: the float 0.005 lies just above the half
        (7_500_000, "0.12"),  # 0.125 min is an exact binary half: round() goes to even
        (22_500_000, "0.38"),  # 0.375 min, exact half, to even
        (59 * M + 59_999_999, "60.00"),  # a microsecond short of an hour
    ],
)
def test_minutes_are_rounded_as_round_x_2_then_written_with_two_decimals(micros: int, written: str) -> None:
    text = render_csv(report_rows(("s", micros, 0, 0, micros, 0, 0)))
    assert data_lines(text) == [f"s,{written},0.00,0.00,{written},0.00,0.00"]


@pytest.mark.parametrize(
    ("micros", "written"),
    [
        (48_480_000_000, "13.47"),  # 13.4666... h
        (18_000_000, "0.01"),  # 0.005 h = 18 s
        (450_000_000, "0.12"),  # 0.125 h = 450 s, exact half, to even
        (9_630_000_000, "2.67"),  # 2.675 h: the float lies just below the half
        (168 * H - 1, "168.00"),
    ],
)
def test_hours_are_rounded_as_round_x_2_then_written_with_two_decimals(micros: int, written: str) -> None:
    text = render_csv(report_rows(("s", 0, micros, micros, 0, micros, micros)))
    assert data_lines(text) == [f"s,0.00,{written},{written},0.00,{written},{written}"]


def test_written_figures_are_the_rounded_figures() -> None:
    rows = report_rows(("s", 1_799_940_000, 48_480_000_000, 9_630_000_000, 300_000, 18_000_000, 450_000_000))
    fields = next(csv.reader(io.StringIO(data_lines(render_csv(rows))[0])))
    assert tuple(float(field) for field in fields[1:]) == rows.figures("s")
    assert rows.figures("s") == (30.0, 13.47, 2.67, 0.01, 0.01, 0.12)


def test_store_ids_are_sorted_as_strings_and_kept_verbatim() -> None:
    now = 1_674_648_000_000_000  # 2023-01-25 12:00 UTC
    ids = ["9", "10", "8419537941919820732", "1000000000000000001", "0042"]
    polls = StatusPolls.from_rows([(store_id, now, True) for store_id in ids])
    rows = UptimeCalculator().compute(now, polls, BusinessHours.empty(), StoreTimezones({}))
    lines = data_lines(render_csv(rows))
    assert [line.split(",")[0] for line in lines] == [
        "0042",
        "10",
        "1000000000000000001",
        "8419537941919820732",
        "9",
    ]
    assert all(line.endswith(",60.00,24.00,168.00,0.00,0.00,0.00") for line in lines)


def test_ids_with_commas_quotes_or_newlines_are_quoted() -> None:
    ids = ['a,b', 'say "hi"', "two\nlines", "plain"]
    rows = report_rows(*((store_id, 0, 0, 0, 60 * M, 24 * H, 168 * H) for store_id in ids))
    text = render_csv(rows)
    assert '"a,b",0.00' in text
    assert '"say ""hi""",0.00' in text
    assert "\nplain,0.00" in text
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[0] == CONTRACT_HEADER.split(",")
    assert [row[0] for row in parsed[1:]] == ids
    assert all(row[1:] == ["0.00", "0.00", "0.00", "60.00", "24.00", "168.00"] for row in parsed[1:])


# --- ids a spreadsheet would run as formulas -----------------------------------------------


@pytest.mark.parametrize(
    ("store_id", "field"),
    [
        ("=HYPERLINK(\"http://x\",\"y\")", "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""),
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "\"'\rx\""),
    ],
    ids=["equals-with-quotes", "equals", "plus", "minus", "at", "tab", "carriage-return"],
)
def test_an_id_starting_like_a_formula_is_written_after_a_single_quote(store_id: str, field: str) -> None:
    text = render_csv(report_rows((store_id, 0, 0, 0, 0, 0, 0)))

    assert text == CONTRACT_HEADER + "\n" + field + ",0.00,0.00,0.00,0.00,0.00,0.00\n"
    # A CSV reader gets the id back behind the quote, the figures intact.
    [_, row] = list(csv.reader(io.StringIO(text, newline="")))
    assert row == ["'" + store_id] + ["0.00"] * 6


@pytest.mark.parametrize("store_id", ["a-b", "store-1", "9-", "a=b", "x+1", "a@b", "a\tb", "'=1", " =1"])
def test_an_id_with_a_formula_character_after_its_first_is_unchanged(store_id: str) -> None:
    text = render_csv(report_rows((store_id, 0, 0, 0, 0, 0, 0)))

    assert data_lines(text) == [store_id + ",0.00,0.00,0.00,0.00,0.00,0.00"]


def test_the_cli_and_the_http_report_of_formula_like_ids_are_the_same_bytes() -> None:
    from datetime import datetime, timedelta, timezone
    from itertools import count

    from adapters.memory.data import (
        InMemoryBusinessHoursRepository,
        InMemoryIngestionLog,
        InMemoryStatusRepository,
        InMemoryTimezoneRepository,
    )
    from fakes import in_memory_work

    from adapters.memory.reports import InMemoryReportRegistry, InMemoryReportStorage
    from domain.use_cases.report_runs import ReportRunService
    from domain.use_cases.reports import ReportService

    now = 1_674_648_000_000_000
    ids = ["=cmd|' /C calc'!A0", "+1", "-2", "@x", "\tt", "\rr", "a-b", "plain", "=a,b"]
    polls = StatusPolls.from_rows([(store_id, now - k * H, k % 2 == 0) for store_id in ids for k in range(30)])
    reports = ReportService(
        InMemoryStatusRepository(polls),
        InMemoryBusinessHoursRepository(),
        InMemoryTimezoneRepository(),
        UptimeCalculator(),
        log=InMemoryIngestionLog(),
    )
    ids_made = (f"r{i}" for i in count())
    at = datetime(2023, 1, 25, tzinfo=timezone.utc)
    runs = ReportRunService(
        reports,
        InMemoryReportRegistry(),
        InMemoryReportStorage(),
        in_memory_work(lambda: at),
        lambda: at,
        lambda: next(ids_made),
        2,  # parts of two stores: the file is joined from five parts
        timedelta(minutes=10),
    )
    report = runs.trigger()
    plan = runs.plan(report.report_id)
    assert len(plan.chunks) == 5
    for index, chunk in reversed(list(enumerate(plan.chunks))):
        runs.run_chunk(report.report_id, index, chunk)

    cli_bytes = reports.csv().encode("utf-8")
    assert runs.content(report.report_id) == cli_bytes
    parsed = list(csv.reader(io.StringIO(cli_bytes.decode("utf-8"), newline="")))
    expected = sorted(ids)
    assert [row[0] for row in parsed[1:]] == [
        "'" + store_id if store_id[0] in "=+-@\t\r" else store_id for store_id in expected
    ]
