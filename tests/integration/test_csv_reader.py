"""The CSV reader on files written under tmp_path, and on the real data beside the repository.

Most tests run twice: once on the file as written and once with the header
names quoted; quoting must change nothing.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path

import pytest
from csv_helpers import (
    HOURS_HEADER,
    STATUS_HEADER,
    TIMEZONE_HEADER,
    csv_rows,
    folder_with,
    micros,
    real_folder,
    write,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.csv.batches import read_hours, read_status, read_timezones
from adapters.csv.reader import PandasCsvReader
from adapters.csv.repositories import (
    READ_ONLY_MESSAGE,
    CsvBusinessHoursRepository,
    CsvDataFolder,
    CsvStatusRepository,
    CsvTimezoneRepository,
)
from domain.model.errors import InvalidInputError, UptimeError
from domain.model.ingestion import (
    HOURS_FILE,
    MAX_LISTED_ERRORS,
    STATUS_FILE,
    TIMEZONE_FILE,
    FileSummary,
    ParsedInput,
    RejectedRow,
    ResumePoint,
    StatusBatch,
)
from domain.model.inputs import BusinessHours, StatusPolls, StoreTimezones
from domain.ports.data import StoreRange

HOUR_US = 3_600_000_000
MINUTE_US = 60_000_000
SECOND_US = 1_000_000
T0 = "2023-01-22 12:00:00 UTC"
T0_US = micros(2023, 1, 22, 12)
TIMESTAMP_PROBLEM = "is not a timestamp (such as 2023-01-22 12:09:39.388884 UTC)"
CONTROL_PROBLEM = "holds a control character (U+0000 to U+001F or U+007F)"
# A reading machine's clock under which every instant up to the year 9999 is plausible.
FAR_FUTURE = datetime(9999, 12, 31, tzinfo=timezone.utc)


@pytest.fixture(params=["plain", "quoted-header"])
def style(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def styled(lines: Sequence[str], style: str) -> list[str]:
    """The lines; for the quoted-header style, with the header names quoted (the same meaning)."""
    if style == "plain":
        return list(lines)
    header = ",".join(f'"{name}"' for name in lines[0].split(","))
    return [header, *lines[1:]]


def status_file(
    tmp_path: Path, style: str, lines: Sequence[str], now: datetime | None = None
) -> tuple[StatusPolls, FileSummary]:
    return read_status(write(tmp_path / STATUS_FILE, styled(lines, style)), now)


def hours_file(tmp_path: Path, style: str, lines: Sequence[str]) -> tuple[BusinessHours, FileSummary]:
    return read_hours(write(tmp_path / HOURS_FILE, styled(lines, style)))


def timezone_file(tmp_path: Path, style: str, lines: Sequence[str]) -> tuple[StoreTimezones, FileSummary]:
    return read_timezones(write(tmp_path / TIMEZONE_FILE, styled(lines, style)))


def loaded(summary: FileSummary) -> int:
    return summary.rows - summary.duplicates - summary.rejected


# --- store_status.csv ------------------------------------------------------------------------


def test_status_rows_keep_ids_as_written_and_instants_in_microseconds(tmp_path: Path, style: str) -> None:
    polls, summary = status_file(
        tmp_path,
        style,
        [
            STATUS_HEADER,
            "0123,active,2023-01-22 12:09:39.388884 UTC",
            "1234567890123456789,inactive,2023-01-22 12:09:40 UTC",
            "123,active,2023-01-22 12:09:41.5 UTC",
        ],
    )
    assert sorted(polls.rows()) == [
        ("0123", micros(2023, 1, 22, 12, 9, 39, 388884), True),
        ("123", micros(2023, 1, 22, 12, 9, 41, 500000), True),
        ("1234567890123456789", micros(2023, 1, 22, 12, 9, 40), False),
    ]
    # Plain string order: "0123" < "123" < "1234567890123456789".
    assert polls.store_ids == ("0123", "123", "1234567890123456789")
    assert summary == FileSummary(rows=3)


def test_bom_crlf_white_space_column_order_and_extra_columns(tmp_path: Path) -> None:
    path = write(
        tmp_path / STATUS_FILE,
        [
            " timestamp_utc , note ,STATUS, store_id ",
            " 2023-01-22 12:00:00 UTC ,x,  Active  ,  s1 ",
            "2023-01-22 13:00:00 UTC,,INACTIVE,s2",
        ],
        newline="\r\n",
        bom=True,
    )
    polls, summary = read_status(path)
    assert sorted(polls.rows()) == [("s1", T0_US, True), ("s2", T0_US + HOUR_US, False)]
    assert summary == FileSummary(rows=2)


def test_a_file_without_a_final_newline_keeps_its_last_row(tmp_path: Path, style: str) -> None:
    lines = [STATUS_HEADER, f"s1,active,{T0}", "s2,active,2023-01-22 13:00:00 UTC"]
    path = write(tmp_path / STATUS_FILE, styled(lines, style), final_newline=False)
    polls, summary = read_status(path)
    assert polls.store_ids == ("s1", "s2")
    assert summary.rows == 2


TIMESTAMP_FORMS = [
    ("2023-01-22 12:09:39 UTC", micros(2023, 1, 22, 12, 9, 39)),
    ("2023-01-22 12:09:39.1 UTC", micros(2023, 1, 22, 12, 9, 39, 100000)),
    ("2023-01-22 12:09:39.38 UTC", micros(2023, 1, 22, 12, 9, 39, 380000)),
    ("2023-01-22 12:09:39.388884 UTC", micros(2023, 1, 22, 12, 9, 39, 388884)),
    ("2023-01-22 12:09:39.388884999 UTC", micros(2023, 1, 22, 12, 9, 39, 388884)),
    ("2023-01-22T12:09:39Z", micros(2023, 1, 22, 12, 9, 39)),
    ("2023-01-22T12:09:39.5Z", micros(2023, 1, 22, 12, 9, 39, 500000)),
    ("2023-01-22T12:09:39+00:00", micros(2023, 1, 22, 12, 9, 39)),
    ("2023-01-22T17:39:39+05:30", micros(2023, 1, 22, 12, 9, 39)),
    ("2023-01-22T07:09:39-05:00", micros(2023, 1, 22, 12, 9, 39)),
    ("2023-01-22 12:09:39", micros(2023, 1, 22, 12, 9, 39)),
    ("  2023-01-22 12:09:39 utc  ", micros(2023, 1, 22, 12, 9, 39)),
    ("2023-01-22 12:09:39UTC", micros(2023, 1, 22, 12, 9, 39)),
    ("1970-01-01 00:00:00.5 UTC", micros(1970, 1, 1, 0, 0, 0, 500000)),
    ("1970-01-01T00:00:00Z", 0),
]


@pytest.mark.parametrize("order", ["as listed", "reversed"])
def test_every_timestamp_form_in_one_file(tmp_path: Path, style: str, order: str) -> None:
    forms = TIMESTAMP_FORMS if order == "as listed" else TIMESTAMP_FORMS[::-1]
    lines = [STATUS_HEADER] + [f"store{i:02},active,{text}" for i, (text, _) in enumerate(forms)]
    polls, summary = status_file(tmp_path, style, lines)
    assert summary == FileSummary(rows=len(forms))
    assert sorted(polls.rows()) == [(f"store{i:02}", expected, True) for i, (_, expected) in enumerate(forms)]


@st.composite
def written_timestamps(draw: st.DrawFn) -> tuple[str, int | None]:
    """A timestamp as a file may hold it, and its instant (None when no such date or time exists)."""
    year = draw(st.integers(1, 9999))
    month, day = draw(st.integers(0, 13)), draw(st.integers(0, 32))
    hour, minute, second = draw(st.integers(0, 25)), draw(st.integers(0, 60)), draw(st.integers(0, 60))
    digits = draw(st.text("0123456789", min_size=0, max_size=9))
    separator = draw(st.sampled_from([" ", "T"]))
    suffix = draw(st.sampled_from([" UTC", "Z", "", "+00:00"]))
    fraction = "." + digits if digits else ""
    text = f"{year:04}-{month:02}-{day:02}{separator}{hour:02}:{minute:02}:{second:02}{fraction}{suffix}"
    try:
        moment = datetime(year, month, day, hour, minute, second)
    except ValueError:
        return text, None
    seconds = calendar.timegm(moment.timetuple())
    return text, seconds * SECOND_US + int(digits.ljust(6, "0")[:6])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stamps=st.lists(written_timestamps(), min_size=1, max_size=40), newline=st.sampled_from(["\n", "\r\n"]))
def test_timestamps_read_from_the_bytes_match_their_calendar_instants(
    tmp_path: Path, stamps: list[tuple[str, int | None]], newline: str
) -> None:
    lines = [STATUS_HEADER] + [f"s{i:03},active,{text}" for i, (text, _) in enumerate(stamps)]
    # A clock at the end of the year 9999, so that only instants before 1970 are out of range.
    polls, summary = read_status(write(tmp_path / STATUS_FILE, lines, newline=newline), FAR_FUTURE)
    assert sorted(polls.rows()) == [
        (f"s{i:03}", instant, True) for i, (_, instant) in enumerate(stamps) if instant is not None and instant >= 0
    ]
    rejected = [i + 2 for i, (_, instant) in enumerate(stamps) if instant is None or instant < 0]
    assert [error.line for error in summary.errors] == rejected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-02-29 12:00:00 UTC", micros(2024, 2, 29, 12)),
        ("2000-02-29 00:00:00 UTC", micros(2000, 2, 29)),
        ("2023-04-30 23:59:59.999999999 UTC", micros(2023, 4, 30, 23, 59, 59, 999999)),
        ("1970-01-01 00:00:00.0000009 UTC", 0),
        ("1969-12-31 23:59:59.9999999 UTC", None),  # read, but before 1970: rejected
        ("2023-01-22 12:09:39. UTC", micros(2023, 1, 22, 12, 9, 39)),
        ("2023-02-29 00:00:00 UTC", None),
        ("1900-02-29 00:00:00 UTC", None),
        ("2023-04-31 00:00:00 UTC", None),
        ("2023-01-22 24:00:00 UTC", None),
        ("2023-01-22 12:60:00 UTC", None),
        ("2023-01-22 12:09:60 UTC", None),
        ("2023-00-10 12:00:00 UTC", None),
        ("2023-01-00 12:00:00 UTC", None),
    ],
)
@pytest.mark.parametrize("last_line", [False, True])
def test_calendar_edges(tmp_path: Path, text: str, expected: int | None, last_line: bool) -> None:
    # The last line of a file without a final newline reads the same.
    lines = [STATUS_HEADER, f"a,active,{text}", f"b,active,{T0}"]
    if last_line:
        lines = lines[:1] + lines[:0:-1]
    polls, _ = read_status(write(tmp_path / STATUS_FILE, lines, final_newline=not last_line))
    assert sorted(polls.rows()) == sorted([("a", expected, True)] * (expected is not None) + [("b", T0_US, True)])


@pytest.mark.parametrize("layout", ["timestamps last", "timestamps first"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("short_row", [False, True])
def test_timestamps_read_the_same_wherever_they_stand(
    tmp_path: Path, layout: str, newline: str, short_row: bool
) -> None:
    rows = [
        ("s1", "active", "2023-01-22 12:00:00.5 UTC"),
        ("s2", "inactive", "2023-13-01 00:00:00 UTC"),
        ("s3", "active", "2023-01-22 12:00:00  UTC"),
    ]
    if layout == "timestamps last":
        lines = [STATUS_HEADER] + [",".join(row) for row in rows]
    else:
        lines = ["timestamp_utc,store_id,status"] + [",".join((stamp, store, status)) for store, status, stamp in rows]
    if short_row:
        lines.insert(2, "s9,active")
    polls, summary = read_status(write(tmp_path / STATUS_FILE, lines, newline=newline, final_newline=False))
    assert sorted(polls.rows()) == [("s1", T0_US + 500_000, True), ("s3", T0_US, True)]
    bad_line = 4 if short_row else 3
    assert summary.errors[-1] == RejectedRow(bad_line, f"timestamp_utc '2023-13-01 00:00:00 UTC' {TIMESTAMP_PROBLEM}")
    assert summary.rows == len(lines) - 1


@pytest.mark.parametrize("short_row", [False, True])
def test_bad_timestamps_are_shown_as_written_when_only_some_end_in_utc(tmp_path: Path, short_row: bool) -> None:
    lines = [STATUS_HEADER, f"s1,active,{T0}", "s2,active,2023-13-01T00:00:00Z", "s3,active,2023-13-01 00:00:00 UTC"]
    if short_row:
        lines.append("s4,active")
    polls, summary = read_status(write(tmp_path / STATUS_FILE, lines))
    assert polls.store_ids == ("s1",)
    assert summary.errors[:2] == (
        RejectedRow(3, f"timestamp_utc '2023-13-01T00:00:00Z' {TIMESTAMP_PROBLEM}"),
        RejectedRow(4, f"timestamp_utc '2023-13-01 00:00:00 UTC' {TIMESTAMP_PROBLEM}"),
    )


def test_instants_far_from_now_are_read_beside_nanosecond_fractions(tmp_path: Path, style: str) -> None:
    # A nine-digit fraction makes the vectorised parse use nanoseconds, which
    # cannot hold the year 2500; that row must still be read.
    polls, summary = status_file(
        tmp_path,
        style,
        [STATUS_HEADER, "a,active,2023-01-22 12:09:39.123456789 UTC", "b,active,2500-01-01 00:00:00 UTC"],
        now=FAR_FUTURE,
    )
    assert summary == FileSummary(rows=2)
    assert sorted(polls.rows()) == [
        ("a", micros(2023, 1, 22, 12, 9, 39, 123456), True),
        ("b", micros(2500, 1, 1), True),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "yesterday",
        "2023-13-01 00:00:00 UTC",
        "2023-02-29 00:00:00 UTC",
        "2023-01-22 25:00:00 UTC",
        "2023-01-22 12:09:39 EST",
        "2023-01-22 12:09:39 UTC+00:00",
    ],
)
def test_an_unreadable_timestamp_is_rejected_with_its_line_and_value(tmp_path: Path, style: str, text: str) -> None:
    polls, summary = status_file(tmp_path, style, [STATUS_HEADER, f"s1,active,{T0}", f"s2,active,{text}"])
    assert polls.store_ids == ("s1",)
    assert summary.rejected == 1
    assert summary.errors == (RejectedRow(3, f"timestamp_utc {text!r} {TIMESTAMP_PROBLEM}"),)


def test_every_kind_of_bad_row_is_counted_and_listed_with_its_physical_line(tmp_path: Path, style: str) -> None:
    polls, summary = status_file(
        tmp_path,
        style,
        [
            STATUS_HEADER,  # line 1
            f"s1,active,{T0}",  # 2: loaded
            "",  # 3: blank, not a row
            f",active,{T0}",  # 4
            f"s2,unknown,{T0}",  # 5
            "s3,active,not a time",  # 6
            "s4,active",  # 7: short
            f"s5,active,{T0},extra",  # 8: long
            "   ",  # 9: blank
            f"   ,bogus,{T0}",  # 10: blank id and bad status: the first problem is given
            f"s6, Inactive ,{T0}",  # 11: loaded
            "s7,,",  # 12
            "s8",  # 13: one field
        ],
    )
    assert sorted(polls.rows()) == [("s1", T0_US, True), ("s6", T0_US, False)]
    assert summary.errors == (
        RejectedRow(4, "store_id is blank"),
        RejectedRow(5, "status 'unknown' is not 'active' or 'inactive'"),
        RejectedRow(6, f"timestamp_utc 'not a time' {TIMESTAMP_PROBLEM}"),
        RejectedRow(7, "the row has 2 fields; the header has 3"),
        RejectedRow(8, "the row has 4 fields; the header has 3"),
        RejectedRow(10, "store_id is blank"),
        RejectedRow(12, "status is blank"),
        RejectedRow(13, "the row has 1 field; the header has 3"),
    )
    assert summary.rows == 10
    assert summary.rejected == 8
    assert summary.duplicates == 0
    assert loaded(summary) == len(polls) == 2


def test_a_long_bad_value_is_shown_cut(tmp_path: Path, style: str) -> None:
    _, summary = status_file(tmp_path, style, [STATUS_HEADER, f"s1,{'x' * 500},{T0}"])
    (error,) = summary.errors
    assert error.reason.startswith("status 'xxxx")
    assert "..." in error.reason
    assert len(error.reason) < 120


def test_rows_beyond_the_listed_limit_are_counted_but_not_listed(tmp_path: Path, style: str) -> None:
    bad = MAX_LISTED_ERRORS + 7
    # Two kinds alternate, so the list merges rows of the wrong shape with bad values in line order.
    lines = [STATUS_HEADER] + [f"s{i},active" if i % 2 else f"s{i},bogus,{T0}" for i in range(bad)]
    lines.append(f"good,active,{T0}")
    polls, summary = status_file(tmp_path, style, lines)
    assert polls.store_ids == ("good",)
    assert summary.rejected == bad
    assert summary.rows == bad + 1
    assert [error.line for error in summary.errors] == list(range(2, 2 + MAX_LISTED_ERRORS))
    assert summary.errors[0].reason == "status 'bogus' is not 'active' or 'inactive'"
    assert summary.errors[1].reason == "the row has 2 fields; the header has 3"


def test_repeated_instants_keep_the_first_valid_row_in_file_order(tmp_path: Path, style: str) -> None:
    polls, summary = status_file(
        tmp_path,
        style,
        [
            STATUS_HEADER,
            f"a,active,{T0}",  # first: wins
            f"a,inactive,{T0}",  # the same instant, the other status
            "a,active,2023-01-22T12:00:00Z",  # the same instant, written otherwise
            f"b,bogus,{T0}",  # rejected: does not count as first
            f"b,inactive,{T0}",  # first valid row of b
            "b,active,2023-01-22 12:00:00.000000 UTC",
            f"c,active,{T0}",  # same instant, other store: not a duplicate
        ],
    )
    assert sorted(polls.rows()) == [("a", T0_US, True), ("b", T0_US, False), ("c", T0_US, True)]
    assert summary.rows == 7
    assert summary.duplicates == 3
    assert summary.rejected == 1
    assert loaded(summary) == 3


def test_a_row_that_is_not_utf8_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / STATUS_FILE
    path.write_bytes(
        f"{STATUS_HEADER}\ns1,active,{T0}\n".encode() + b"s\xff2,active," + T0.encode() + f"\ns3,active,{T0}\n".encode()
    )
    polls, summary = read_status(path)
    assert polls.store_ids == ("s1", "s3")
    assert summary.errors == (RejectedRow(3, "the row is not valid UTF-8"),)
    assert summary.rows == 3


def test_quoted_fields_may_hold_commas_and_line_breaks(tmp_path: Path) -> None:
    polls, summary = read_status(
        write(
            tmp_path / STATUS_FILE,
            [
                STATUS_HEADER,
                f'"a,b",active,{T0}',  # line 2
                f'"two\nlines",active,{T0}',  # lines 3-4: a line break is a control character, not in an id
                f'"x",bogus,{T0}',  # line 5
            ],
        )
    )
    assert polls.store_ids == ("a,b",)
    assert summary.errors == (
        RejectedRow(3, f"store_id 'two\\nlines' {CONTROL_PROBLEM}"),
        RejectedRow(5, "status 'bogus' is not 'active' or 'inactive'"),
    )


def test_lone_carriage_returns_end_lines_too(tmp_path: Path) -> None:
    path = write(tmp_path / STATUS_FILE, [STATUS_HEADER, f"s1,active,{T0}", f"s2,nope,{T0}"], newline="\r")
    polls, summary = read_status(path)
    assert polls.store_ids == ("s1",)
    assert summary.errors == (RejectedRow(3, "status 'nope' is not 'active' or 'inactive'"),)


def test_blank_lines_before_the_header_are_skipped(tmp_path: Path, style: str) -> None:
    lines = ["", *styled([STATUS_HEADER, f"s1,maybe,{T0}", f"s2,active,{T0}"], style)]
    polls, summary = read_status(write(tmp_path / STATUS_FILE, lines))
    assert polls.store_ids == ("s2",)
    assert summary.errors == (RejectedRow(3, "status 'maybe' is not 'active' or 'inactive'"),)


def test_a_header_only_file_has_no_rows(tmp_path: Path, style: str) -> None:
    polls, summary = status_file(tmp_path, style, [STATUS_HEADER])
    assert len(polls) == 0
    assert summary == FileSummary()


def test_a_file_of_bad_rows_only_loads_nothing(tmp_path: Path, style: str) -> None:
    polls, summary = status_file(tmp_path, style, [STATUS_HEADER, "a,active", "b"])
    assert len(polls) == 0 and polls.store_ids == ()
    assert summary.rejected == summary.rows == 2


def test_a_missing_column_names_the_file_and_the_column(tmp_path: Path, style: str) -> None:
    with pytest.raises(InvalidInputError, match="store_status.csv has no column 'timestamp_utc'"):
        status_file(tmp_path, style, ["store_id,status,time", f"s1,active,{T0}"])


def test_an_empty_status_file_lacks_every_column(tmp_path: Path) -> None:
    (tmp_path / STATUS_FILE).write_bytes(b"")
    with pytest.raises(InvalidInputError) as raised:
        read_status(tmp_path / STATUS_FILE)
    message = str(raised.value)
    assert "store_status.csv" in message
    assert all(column in message for column in ("'store_id'", "'status'", "'timestamp_utc'"))


# --- menu_hours.csv --------------------------------------------------------------------------


def test_hours_rows_in_local_microseconds_of_the_day(tmp_path: Path, style: str) -> None:
    hours, summary = hours_file(
        tmp_path,
        style,
        [
            HOURS_HEADER,
            "s1,0,09:00:00,17:30:00",
            "s1,1, 9:05 ,23:59:59.5",
            "s2,6,22:00:00,02:00:00",  # overnight: kept as written
            "s2, 3 ,00:00:00,00:00:00",
        ],
    )
    assert sorted(hours.rows()) == [
        ("s1", 0, 9 * HOUR_US, 17 * HOUR_US + 30 * MINUTE_US),
        ("s1", 1, 9 * HOUR_US + 5 * MINUTE_US, 23 * HOUR_US + 59 * MINUTE_US + 59 * SECOND_US + 500_000),
        ("s2", 3, 0, 0),
        ("s2", 6, 22 * HOUR_US, 2 * HOUR_US),
    ]
    assert summary == FileSummary(rows=4)


def test_day_is_accepted_for_day_of_week(tmp_path: Path, style: str) -> None:
    hours, _ = hours_file(tmp_path, style, ["end_time_local,day,store_id,start_time_local", "10:00,2,s1,08:00"])
    assert hours.rows() == [("s1", 2, 8 * HOUR_US, 10 * HOUR_US)]


def test_bad_days_and_times_are_rejected_with_line_and_reason(tmp_path: Path, style: str) -> None:
    hours, summary = hours_file(
        tmp_path,
        style,
        [
            HOURS_HEADER,
            "s1,7,09:00,10:00",
            "s1,-1,09:00,10:00",
            "s1,1.5,09:00,10:00",
            "s1,,09:00,10:00",
            "s1,1,24:00:00,10:00",
            "s1,1,09:60,10:00",
            "s1,1,09:00,10:00:60",
            "s1,1,09:00,noon",
            "s1,1,09:00,",
            ",1,09:00,10:00",
            "s1,1,09:00,10:00",
        ],
    )
    assert hours.rows() == [("s1", 1, 9 * HOUR_US, 10 * HOUR_US)]
    day = "is not a whole number from 0 (Monday) to 6 (Sunday)"
    time = "is not a time of day (HH:MM:SS or HH:MM)"
    assert summary.errors == (
        RejectedRow(2, f"dayOfWeek '7' {day}"),
        RejectedRow(3, f"dayOfWeek '-1' {day}"),
        RejectedRow(4, f"dayOfWeek '1.5' {day}"),
        RejectedRow(5, "dayOfWeek is blank"),
        RejectedRow(6, f"start_time_local '24:00:00' {time}"),
        RejectedRow(7, f"start_time_local '09:60' {time}"),
        RejectedRow(8, f"end_time_local '10:00:60' {time}"),
        RejectedRow(9, f"end_time_local 'noon' {time}"),
        RejectedRow(10, "end_time_local is blank"),
        RejectedRow(11, "store_id is blank"),
    )
    assert summary.rows == 11 and summary.rejected == 10


def test_the_reason_names_the_column_as_the_header_does(tmp_path: Path, style: str) -> None:
    _, summary = hours_file(tmp_path, style, ["store_id,day,start_time_local,end_time_local", "s1,9,09:00,10:00"])
    assert summary.errors == (RejectedRow(2, "day '9' is not a whole number from 0 (Monday) to 6 (Sunday)"),)


def test_identical_hours_rows_count_as_duplicates(tmp_path: Path, style: str) -> None:
    hours, summary = hours_file(
        tmp_path,
        style,
        [HOURS_HEADER, "s1,1,09:00,10:00", "s1,1,09:00:00,10:00:00", "s1,1,09:00,11:00", "s2,1,09:00,10:00"],
    )
    assert sorted(hours.rows()) == [
        ("s1", 1, 9 * HOUR_US, 10 * HOUR_US),
        ("s1", 1, 9 * HOUR_US, 11 * HOUR_US),
        ("s2", 1, 9 * HOUR_US, 10 * HOUR_US),
    ]
    assert summary == FileSummary(rows=4, duplicates=1)


def test_a_missing_hours_column_names_both_of_its_names(tmp_path: Path, style: str) -> None:
    with pytest.raises(InvalidInputError, match="menu_hours.csv has no column 'dayOfWeek' or 'day'"):
        hours_file(tmp_path, style, ["store_id,weekday,start_time_local,end_time_local", "s1,1,09:00,10:00"])


# --- timezone.csv ----------------------------------------------------------------------------


def test_the_first_valid_timezone_of_a_store_wins(tmp_path: Path, style: str) -> None:
    timezones, summary = timezone_file(
        tmp_path,
        style,
        [
            TIMEZONE_HEADER,
            "s1,America/Chicago",
            "s1,Asia/Beirut",  # a second valid row: a duplicate
            "s2,Mars/Olympus",  # rejected
            "s2, America/New_York ",  # the first valid row of s2
            "s3,utc",  # a spelling pytz accepts
        ],
    )
    assert dict(timezones.by_store) == {"s1": "America/Chicago", "s2": "America/New_York", "s3": "UTC"}
    assert summary.errors == (RejectedRow(4, "timezone_str 'Mars/Olympus' is not a timezone name pytz knows"),)
    assert (summary.rows, summary.duplicates, summary.rejected) == (5, 1, 1)


# --- The folder ------------------------------------------------------------------------------


def test_a_folder_with_only_the_status_file_has_no_hours_nor_timezones(tmp_path: Path) -> None:
    parsed = PandasCsvReader().read(folder_with(tmp_path / "data", status=[STATUS_HEADER, f"s1,active,{T0}"]))
    assert parsed.polls.store_ids == ("s1",)
    assert len(parsed.hours) == 0 and parsed.hours_summary == FileSummary()
    assert len(parsed.timezones) == 0 and parsed.timezones_summary == FileSummary()


def test_a_missing_status_file_is_an_error(tmp_path: Path) -> None:
    folder = folder_with(tmp_path / "data", hours=[HOURS_HEADER], timezones=[TIMEZONE_HEADER])
    with pytest.raises(InvalidInputError, match="store_status.csv"):
        PandasCsvReader().read(folder)


def test_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="does not exist"):
        PandasCsvReader().read(tmp_path / "nowhere")


def test_a_missing_column_in_any_file_fails_the_read(tmp_path: Path) -> None:
    folder = folder_with(
        tmp_path / "data", status=[STATUS_HEADER, f"s1,active,{T0}"], timezones=["store_id,tz", "s1,UTC"]
    )
    with pytest.raises(InvalidInputError, match="timezone.csv has no column 'timezone_str'"):
        PandasCsvReader().read(folder)


# --- The real data ---------------------------------------------------------------------------


def independent_polls(path: Path) -> tuple[int, set[tuple[str, int, bool]]]:
    """Data rows, and the first row of each (store, instant), read with the csv module and strptime."""
    rows = csv_rows(path)
    first: dict[tuple[str, int], bool] = {}
    for row in rows:
        text = row["timestamp_utc"].removesuffix(" UTC")
        form = "%Y-%m-%d %H:%M:%S.%f" if "." in text else "%Y-%m-%d %H:%M:%S"
        moment = datetime.strptime(text, form)
        instant = calendar.timegm(moment.timetuple()) * SECOND_US + moment.microsecond
        first.setdefault((row["store_id"], instant), row["status"] == "active")
    return len(rows), {(store, instant, active) for (store, instant), active in first.items()}


def independent_hours(path: Path) -> tuple[int, set[tuple[str, int, int, int]]]:
    def local(text: str) -> int:
        hour, minute, second = (int(part) for part in text.split(":"))
        return ((hour * 60 + minute) * 60 + second) * SECOND_US

    rows = csv_rows(path)
    day_column = "dayOfWeek" if "dayOfWeek" in rows[0] else "day"
    return len(rows), {
        (row["store_id"], int(row[day_column]), local(row["start_time_local"]), local(row["end_time_local"]))
        for row in rows
    }


def independent_timezones(path: Path) -> tuple[int, dict[str, str]]:
    rows = csv_rows(path)
    first: dict[str, str] = {}
    for row in rows:
        first.setdefault(row["store_id"], row["timezone_str"])
    return len(rows), first


@pytest.fixture(scope="module")
def real_2023() -> ParsedInput:
    return PandasCsvReader().read(real_folder("real-2023"))


@pytest.mark.realdata
def test_real_2023_status_rows(real_2023: ParsedInput) -> None:
    rows, polls = independent_polls(real_folder("real-2023") / STATUS_FILE)
    assert rows == 15_998  # as the data's README says
    assert set(real_2023.polls.rows()) == polls
    summary = real_2023.polls_summary
    assert summary.rows == rows
    assert summary.rejected == 0
    assert summary.duplicates == rows - len(polls)
    assert real_2023.polls.store_ids == tuple(sorted({store for store, _, _ in polls}))


@pytest.mark.realdata
def test_real_2023_ids_of_nineteen_digits_survive(real_2023: ParsedInput) -> None:
    written = {row["store_id"] for row in csv_rows(real_folder("real-2023") / STATUS_FILE)}
    long_ids = {store for store in written if len(store) == 19}
    assert long_ids  # the data has them
    assert long_ids <= set(real_2023.polls.store_ids)


@pytest.mark.realdata
def test_real_2023_hours_and_timezones(real_2023: ParsedInput) -> None:
    folder = real_folder("real-2023")
    hour_rows, hours = independent_hours(folder / HOURS_FILE)
    assert hour_rows == 86_198
    assert set(real_2023.hours.rows()) == hours
    assert real_2023.hours_summary == FileSummary(rows=hour_rows, duplicates=hour_rows - len(hours))

    zone_rows, zones = independent_timezones(folder / TIMEZONE_FILE)
    assert zone_rows == 13_559
    assert dict(real_2023.timezones.by_store) == zones
    assert real_2023.timezones_summary == FileSummary(rows=zone_rows, duplicates=zone_rows - len(zones))


@pytest.mark.realdata
def test_real_2024_starts_with_a_bom_and_has_uuid_ids() -> None:
    folder = real_folder("real-2024")
    assert (folder / STATUS_FILE).read_bytes().startswith(b"\xef\xbb\xbf")
    parsed = PandasCsvReader().read(folder)
    rows, polls = independent_polls(folder / STATUS_FILE)
    assert set(parsed.polls.rows()) == polls
    assert parsed.polls_summary == FileSummary(rows=rows, duplicates=rows - len(polls))
    assert all(len(store) == 36 and store.count("-") == 4 for store in parsed.polls.store_ids)
    hour_rows, hours = independent_hours(folder / HOURS_FILE)
    assert set(parsed.hours.rows()) == hours and parsed.hours_summary.rows == hour_rows
    zone_rows, zones = independent_timezones(folder / TIMEZONE_FILE)
    assert dict(parsed.timezones.by_store) == zones and parsed.timezones_summary.rows == zone_rows


# --- The read-only CSV repositories ----------------------------------------------------------


class CountingReader(PandasCsvReader):
    """The real reader, counting the files it reads."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def read(self, folder: Path) -> ParsedInput:
        self.reads += 3
        return super().read(folder)

    def status_batches(self, folder: Path, resume: ResumePoint | None = None) -> Iterator[StatusBatch]:
        self.reads += 1
        return super().status_batches(folder, resume)

    def hours(self, folder: Path) -> tuple[BusinessHours, FileSummary] | None:
        self.reads += 1
        return super().hours(folder)

    def timezones(self, folder: Path) -> tuple[StoreTimezones, FileSummary] | None:
        self.reads += 1
        return super().timezones(folder)


def test_csv_repositories_read_the_folder_once_and_answer_queries(tmp_path: Path) -> None:
    folder = folder_with(
        tmp_path / "data",
        status=[STATUS_HEADER, f"b,active,{T0}", "a,inactive,2023-01-22 11:00:00 UTC", f"a,active,{T0}"],
        hours=[HOURS_HEADER, "a,0,09:00,17:00"],
        timezones=[TIMEZONE_HEADER, "a,Asia/Beirut", "b,America/Boise"],
    )
    reader = CountingReader()
    data = CsvDataFolder(folder, reader)
    status, hours, zones = CsvStatusRepository(data), CsvBusinessHoursRepository(data), CsvTimezoneRepository(data)
    assert reader.reads == 0  # nothing is read before the first query

    assert status.store_ids() == ["a", "b"]
    assert status.latest_timestamp() == T0_US
    assert status.polls_since(T0_US, StoreRange("a", "a")).rows() == [("a", T0_US - HOUR_US, False), ("a", T0_US, True)]
    assert hours.hours().rows() == [("a", 0, 9 * HOUR_US, 17 * HOUR_US)]
    assert dict(zones.timezones(StoreRange("b", "z")).by_store) == {"b": "America/Boise"}
    assert status.store_ids() == ["a", "b"] and len(hours.hours()) == 1
    assert reader.reads == 3  # each file once, however many queries


def test_csv_repositories_are_read_only(tmp_path: Path) -> None:
    data = CsvDataFolder(folder_with(tmp_path / "data", status=[STATUS_HEADER]))
    with pytest.raises(UptimeError, match=READ_ONLY_MESSAGE):
        CsvStatusRepository(data).add(StatusPolls.from_rows([("a", 1, True)]))
    with pytest.raises(UptimeError, match=READ_ONLY_MESSAGE):
        CsvBusinessHoursRepository(data).replace(BusinessHours.empty())
    with pytest.raises(UptimeError, match=READ_ONLY_MESSAGE):
        CsvTimezoneRepository(data).replace(StoreTimezones())


def test_a_bad_csv_folder_fails_on_first_use(tmp_path: Path) -> None:
    repository = CsvStatusRepository(CsvDataFolder(tmp_path / "nowhere"))
    with pytest.raises(InvalidInputError):
        repository.store_ids()
