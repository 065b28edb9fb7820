"""Fuzzing the three CSV readers with generated files.

``test_csv_reader.py`` pins each rule with a hand-written example; here
hypothesis writes files no one would write by hand, and every one of them
must keep these properties:

* reading raises nothing but ``InvalidInputError``, and its message names the file;
* every data row is accounted for: ``rows == loaded + duplicates + rejected``;
* every valid row planted among garbage is loaded with exactly its values,
  and nothing else is loaded for the stores it names;
* a rejected row is listed with a line that exists in the file (lines
  ascending, each once), and as many are listed as were rejected, up to
  ``MAX_LISTED_ERRORS``; every message and reason encodes as UTF-8 and stays short.

``test_how_many_inputs_were_tried`` runs last and prints how many generated
files each fuzz test read.
"""

from __future__ import annotations

import calendar
import functools
import os
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import pytz
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.csv.batches import read_hours, read_status, read_timezones
from domain.model.errors import InvalidInputError
from domain.model.ingestion import HOURS_FILE, MAX_LISTED_ERRORS, STATUS_FILE, TIMEZONE_FILE, FileSummary

SECOND_US = 1_000_000
MEGABYTE = 1 << 20
# The reading machine's clock: valid polls are drawn up to the end of 2037.
CLOCK = datetime(2038, 1, 1, tzinfo=timezone.utc)
MAX_STORE_ID_CHARS = 255
# A reason shows a bad value cut to a few dozen characters; a message lists the header.
MAX_REASON_CHARS = 300
BOM = "\ufeff"
# What the reader counts as white space on an otherwise empty line.
ASCII_SPACE = " \t\n\r\x0b\x0c"
# How files end their lines; a file is split into physical lines the way the reader counts them.
LINE_BREAK = re.compile(rb"\r\n|\r|\n")

FUZZ_SETTINGS = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Generated files read, per test, and how each read ended; printed by the last test of the module.
INPUTS_TRIED: Counter[str] = Counter()
OUTCOMES: Counter[str] = Counter()

# Cells a spreadsheet would run as a formula: store ids keep them verbatim, other columns reject them.
FORMULA_CELLS = ("=cmd|' /C calc'!A0", "+1", "-1+1", "@SUM(A1:A9)", '=HYPERLINK("http://x","y")', "=1+2;3")

# --- The three files -------------------------------------------------------------------------

Row = tuple[object, ...]


@dataclass(frozen=True)
class Kind:
    """One input file: its name, header, reader, and how a valid row is written and read back."""

    file_name: str
    columns: tuple[str, ...]
    # Other names a column may have in the header (dayOfWeek may be written day).
    aliases: dict[str, tuple[str, ...]]
    read: Callable[[Path], tuple[list[Row], FileSummary]]
    # The rows the reader keeps of ``planted`` (in file order): first wins, or a set.
    expected: Callable[[Sequence[Row]], set[Row]]


def _status_rows(path: Path) -> tuple[list[Row], FileSummary]:
    polls, summary = read_status(path, CLOCK)
    return list(polls.rows()), summary


def _hours_rows(path: Path) -> tuple[list[Row], FileSummary]:
    hours, summary = read_hours(path)
    return list(hours.rows()), summary


def _timezone_rows(path: Path) -> tuple[list[Row], FileSummary]:
    timezones, summary = read_timezones(path)
    return list(timezones.by_store.items()), summary


def _first_by(key_length: int) -> Callable[[Sequence[Row]], set[Row]]:
    """Keep the first row of each key (its first ``key_length`` values)."""

    def expected(planted: Sequence[Row]) -> set[Row]:
        first: dict[Row, Row] = {}
        for row in planted:
            first.setdefault(row[:key_length], row)
        return set(first.values())

    return expected


STATUS = Kind(STATUS_FILE, ("store_id", "status", "timestamp_utc"), {}, _status_rows, _first_by(2))
HOURS = Kind(
    HOURS_FILE,
    ("store_id", "dayOfWeek", "start_time_local", "end_time_local"),
    {"dayOfWeek": ("day",)},
    _hours_rows,
    set,
)
TIMEZONE = Kind(TIMEZONE_FILE, ("store_id", "timezone_str"), {}, _timezone_rows, _first_by(1))
KINDS = (STATUS, HOURS, TIMEZONE)
by_name = pytest.mark.parametrize("kind", KINDS, ids=[kind.file_name for kind in KINDS])


def physical_lines(raw: bytes) -> int:
    """Lines in a file, ended by LF, CRLF or a lone CR; a last line without an end counts too."""
    count = len(LINE_BREAK.findall(raw))
    return count + (1 if raw and not raw.endswith((b"\n", b"\r")) else 0)


def read_checked(kind: Kind, path: Path) -> tuple[list[Row], FileSummary] | None:
    """The file read, with the properties every read must keep; None when it was refused as invalid."""
    INPUTS_TRIED[_current_test()] += 1
    try:
        rows, summary = kind.read(path)
    except InvalidInputError as error:
        message = str(error)
        assert kind.file_name in message, message
        message.encode("utf-8")  # stored in a database and sent as JSON
        OUTCOMES["refused as invalid"] += 1
        return None
    assert summary.rows == len(rows) + summary.duplicates + summary.rejected, summary
    assert min(summary.duplicates, summary.rejected) >= 0
    assert len(summary.errors) == min(summary.rejected, MAX_LISTED_ERRORS), summary
    lines = [listed.line for listed in summary.errors]
    assert lines == sorted(set(lines)), f"rejected lines not ascending and distinct: {lines}"
    last_line = physical_lines(path.read_bytes())
    assert all(2 <= line <= last_line for line in lines), f"lines {lines} outside the file's {last_line} lines"
    for listed in summary.errors:
        assert listed.reason and len(listed.reason) <= MAX_REASON_CHARS, listed
        listed.reason.encode("utf-8")
    OUTCOMES["read with rejected rows" if summary.rejected else "read without a rejected row"] += 1
    return rows, summary


def _current_test() -> str:
    # "tests/integration/test_fuzz_csv.py::test_x[store_status.csv] (call)" -> "test_x"
    return os.environ.get("PYTEST_CURRENT_TEST", "?").split("::")[-1].split("[")[0].split(" ")[0]


# --- Writing files ---------------------------------------------------------------------------


def csv_field(text: str) -> str:
    """``text`` as one CSV field: quoted when it holds a comma, a quote or a line break."""
    if any(character in text for character in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


@dataclass(frozen=True)
class Layout:
    """How a file is written: its header and the way its lines end."""

    header: tuple[str, ...]  # as written (any case, padded, aliases, extra and repeated columns)
    # For each header position, the required column it holds, or None for an extra column.
    holds: tuple[str | None, ...]
    newline: str
    bom: bool
    quote_header: bool  # quoted names: the same header, written otherwise
    final_newline: bool

    def header_line(self) -> str:
        return ",".join(f'"{name}"' if self.quote_header else name for name in self.header)

    @property
    def width(self) -> int:
        return len(self.header)

    def position(self, column: str) -> int:
        return self.holds.index(column)


EXTRA_NAMES = ("note", "extra", "", "store", "Status2", "id")


@st.composite
def layouts(draw: st.DrawFn, kind: Kind, repeat_a_column: bool = True, quote_header: bool | None = None) -> Layout:
    """Required columns in any order, spelled in any case, with extra and possibly repeated columns."""
    holds: list[str | None] = list(draw(st.permutations(kind.columns)))
    for _ in range(draw(st.integers(0, 2))):
        holds.insert(draw(st.integers(0, len(holds))), None)
    if repeat_a_column and draw(st.booleans()):
        holds.insert(draw(st.integers(0, len(holds))), draw(st.sampled_from(kind.columns)))
    header = []
    for column in holds:
        if column is None:
            name = draw(st.sampled_from(EXTRA_NAMES))
        else:
            name = draw(st.sampled_from((column, *kind.aliases.get(column, ()))))
            name = draw(st.sampled_from((name, name.upper(), name.lower(), f" {name} ")))
        header.append(name)
    return Layout(
        header=tuple(header),
        holds=tuple(holds),
        newline=draw(st.sampled_from(["\n", "\r\n"])),
        bom=draw(st.booleans()),
        quote_header=draw(st.booleans()) if quote_header is None else quote_header,
        final_newline=draw(st.booleans()),
    )


def encode(lines: Sequence[str], layout: Layout, encoding: str = "utf-8") -> bytes:
    text = layout.newline.join(lines) + (layout.newline if layout.final_newline else "")
    return (BOM.encode("utf-8") if layout.bom else b"") + text.encode(encoding)


def written_row(layout: Layout, values: dict[str, str], extra: Sequence[str]) -> str:
    """A row with ``values`` under their columns (a repeated column gets the value in each place)."""
    extras = iter(extra)
    fields = [values[column] if column is not None else next(extras, "") for column in layout.holds]
    return ",".join(csv_field(field) for field in fields)


# --- Valid rows and garbage ------------------------------------------------------------------

# Store ids of planted rows all start so; no garbage row's store id does.
KNOWN_PREFIX = "".join(["k", "n", "o", "w", "n"]) + "-"
# Text that is a store id: opaque, any letters, no white space at either end (trimmed away).
ID_TEXT = st.text(
    alphabet=st.sampled_from("abcXYZ0189-_.:/|!'()=+@éüß中ж"), min_size=0, max_size=12
)
LATIN1_ID_TEXT = st.text(alphabet=st.sampled_from("abcXYZ0189-_.:/|!'()=+@"), min_size=0, max_size=12)


@st.composite
def store_ids(draw: st.DrawFn, ascii_only: bool) -> str:
    if draw(st.integers(0, 9)) == 0:
        # A formula-like id, kept verbatim: the report escapes it, the reader does not.
        return f"{draw(st.sampled_from(FORMULA_CELLS))}#{KNOWN_PREFIX}"
    return KNOWN_PREFIX + draw(LATIN1_ID_TEXT if ascii_only else ID_TEXT)


def is_known(store_id: object) -> bool:
    return isinstance(store_id, str) and (store_id.startswith(KNOWN_PREFIX) or store_id.endswith("#" + KNOWN_PREFIX))


# The strategies drawn from for every row are made once: a strategy made anew is validated anew at each draw.
LEADING_SPACE = st.sampled_from(("", " ", "  ", "\t"))
TRAILING_SPACE = st.sampled_from(("", " ", "\t "))


def padded(draw: st.DrawFn, text: str) -> str:
    """``text`` with white space around it, sometimes: the reader trims every field."""
    return draw(LEADING_SPACE) + text + draw(TRAILING_SPACE)


OFFSETS = (timedelta(0), timedelta(hours=5, minutes=30), timedelta(hours=-7), timedelta(hours=14))
POLL_MOMENTS = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2037, 12, 31))
FRACTION_DIGITS = st.sampled_from((0, 1, 3, 6))
INSTANT_FORMS = st.sampled_from(("utc", "z", "+00:00", "naive", "offset"))
STATUS_WORDS = {
    True: st.sampled_from(("active", "Active", "ACTIVE")),
    False: st.sampled_from(("inactive", "Inactive", "INACTIVE")),
}


@st.composite
def status_rows(draw: st.DrawFn, store_id: str) -> tuple[dict[str, str], Row]:
    moment = draw(POLL_MOMENTS)
    digits = draw(FRACTION_DIGITS)
    unit = 10 ** (6 - digits)
    moment = moment.replace(microsecond=moment.microsecond // unit * unit)
    fraction = f".{moment.microsecond:06d}"[: digits + 1] if digits else ""
    form = draw(INSTANT_FORMS)
    if form == "offset":
        offset = draw(st.sampled_from(OFFSETS))
        local = moment + offset
        sign, amount = ("-", -offset) if offset < timedelta(0) else ("+", offset)
        minutes = int(amount.total_seconds()) // 60
        written = f"{local:%Y-%m-%dT%H:%M:%S}{fraction}{sign}{minutes // 60:02d}:{minutes % 60:02d}"
    else:
        separator = "T" if form in ("z", "+00:00") else " "
        suffix = {"utc": " UTC", "z": "Z", "+00:00": "+00:00", "naive": ""}[form]
        written = f"{moment:%Y-%m-%d}{separator}{moment:%H:%M:%S}{fraction}{suffix}"
    instant = calendar.timegm(moment.timetuple()) * SECOND_US + moment.microsecond
    active = draw(st.booleans())
    status = draw(STATUS_WORDS[active])
    values = {"store_id": padded(draw, store_id), "status": padded(draw, status), "timestamp_utc": padded(draw, written)}
    return values, (store_id, instant, active)


@st.composite
def times_of_day(draw: st.DrawFn) -> tuple[str, int]:
    hour, minute, second = draw(st.integers(0, 23)), draw(st.integers(0, 59)), draw(st.integers(0, 59))
    form = draw(st.sampled_from(("hh:mm:ss", "hh:mm", "h:mm:ss")))
    if form == "hh:mm":
        second = 0
        written = f"{hour:02d}:{minute:02d}"
    else:
        written = f"{hour:02d}:{minute:02d}:{second:02d}" if form == "hh:mm:ss" else f"{hour}:{minute:02d}:{second:02d}"
    return written, ((hour * 60 + minute) * 60 + second) * SECOND_US


@st.composite
def hours_rows(draw: st.DrawFn, store_id: str) -> tuple[dict[str, str], Row]:
    weekday = draw(st.integers(0, 6))
    (start_text, start), (end_text, end) = draw(times_of_day()), draw(times_of_day())
    values = {
        "store_id": padded(draw, store_id),
        "dayOfWeek": padded(draw, draw(st.sampled_from((str(weekday), f"0{weekday}")))),
        "start_time_local": padded(draw, start_text),
        "end_time_local": padded(draw, end_text),
    }
    return values, (store_id, weekday, start, end)


TIMEZONE_NAMES = sorted(pytz.common_timezones)


@st.composite
def timezone_rows(draw: st.DrawFn, store_id: str) -> tuple[dict[str, str], Row]:
    name = draw(st.sampled_from(TIMEZONE_NAMES))
    return {"store_id": padded(draw, store_id), "timezone_str": padded(draw, name)}, (store_id, name)


VALID_ROWS: dict[str, Callable[[str], st.SearchStrategy[tuple[dict[str, str], Row]]]] = {
    STATUS_FILE: status_rows,
    HOURS_FILE: hours_rows,
    TIMEZONE_FILE: timezone_rows,
}

# Values that look almost right, or not at all: each makes a row invalid in some column.
NEAR_MISSES = (
    "", " ", "activ", "inactive!", "2023-02-29 00:00:00 UTC", "2023-01-22 24:00:00 UTC", "9999-99-99",
    "1e9", "7", "-1", "6.0", "24:00:00", "12:60", "12:00:60", "Mars/Olympus", "America/Chicag0",
    "NaN", "null", "\x00", "\ufeff", "\u2028", "0x10", "１２:００",
)


@functools.cache
def garbage_text(latin1: bool) -> st.SearchStrategy[str]:
    codec = "latin-1" if latin1 else "utf-8"
    return st.one_of(
        st.text(alphabet=st.characters(codec=codec, exclude_categories=["Cs"]), max_size=25),
        st.sampled_from(NEAR_MISSES + FORMULA_CELLS).filter(lambda text: not latin1 or text.isascii()),
    )


@dataclass(frozen=True)
class PlantedFile:
    raw: bytes
    planted: list[Row]  # the valid rows of known stores, in file order
    # Garbage rows of the wrong shape that are not blank: certainly rejected.
    misshapen: int
    # Valid rows but for one poison (a control character or too many characters in the
    # store id, an instant before 1970 or after the clock): certainly rejected.
    poisoned: int = 0


CONTROL_CHARACTERS = "".join(chr(code) for code in range(0x20)) + "\x7f"
# Instants no poll can have: before 1970, or more than a day after ``CLOCK``.
IMPOSSIBLE_TIMESTAMPS = (
    "1969-12-31 23:59:59.999999 UTC",
    "1900-01-01 00:00:00 UTC",
    "0000-01-01 00:00:00 UTC",
    "-001-01-01 00:00:00 UTC",
    "2038-01-02 00:00:00.000001 UTC",
    "2999-06-01T00:00:00Z",
    "9999-12-31 23:59:59 UTC",
)


@st.composite
def poisoned_values(draw: st.DrawFn, kind: Kind, values: dict[str, str]) -> dict[str, str]:
    """A valid row's ``values`` with one poison that rejects the row."""
    poisons = ["control character", "long id"] + (["impossible instant"] if kind is STATUS else [])
    poison = draw(st.sampled_from(poisons))
    store_id = values["store_id"].strip()
    if poison == "control character":
        control = draw(st.sampled_from(CONTROL_CHARACTERS))
        # Inside the id: at either end, white space among them would be trimmed.
        return dict(values, store_id=f"{store_id}{control}x")
    if poison == "long id":
        return dict(values, store_id=store_id + "x" * draw(st.integers(MAX_STORE_ID_CHARS + 1 - len(store_id), 600)))
    return dict(values, timestamp_utc=draw(st.sampled_from(IMPOSSIBLE_TIMESTAMPS)))


@functools.cache
def extra_fields(latin1: bool) -> st.SearchStrategy[list[str]]:
    """Extra columns of a valid row: in a Latin-1 file, ASCII (a byte that is not UTF-8 rejects its whole row)."""
    return st.lists(garbage_text(latin1).filter(lambda text: not latin1 or text.isascii()), max_size=3)


@functools.cache
def garbage_fields(latin1: bool, most: int) -> st.SearchStrategy[list[str]]:
    return st.lists(garbage_text(latin1), max_size=most)


ROW_CHOICES = st.sampled_from(("valid", "valid", "repeat", "garbage", "garbage", "blank", "poison"))
BLANK_LINES = st.sampled_from(("", " ", "\t", "  \t "))


@st.composite
def planted_files(draw: st.DrawFn, kind: Kind, encoding: str) -> PlantedFile:
    """A file of ``kind``: valid rows of known stores mixed with garbage rows, in ``encoding``."""
    latin1 = encoding == "latin-1"
    layout = draw(layouts(kind))
    known = draw(st.lists(store_ids(ascii_only=latin1), min_size=1, max_size=6, unique=True))
    extras = extra_fields(latin1)
    lines = [layout.header_line()]
    written: list[tuple[dict[str, str], Row]] = []
    misshapen = poisoned = 0
    for _ in range(draw(st.integers(0, 30))):
        choice = draw(ROW_CHOICES)
        if choice == "repeat" and written:
            # An earlier valid row again, or its key with other values: the first row still wins.
            values, row = draw(st.sampled_from(written))
            if kind is STATUS and draw(st.booleans()):
                active = not row[2]
                values, row = dict(values, status="active" if active else " INACTIVE"), (*row[:2], active)
            elif kind is TIMEZONE and draw(st.booleans()):
                values, row = draw(timezone_rows(str(row[0])))
            lines.append(written_row(layout, values, draw(extras)))
            written.append((values, row))
        elif choice in ("valid", "repeat"):
            values, row = draw(VALID_ROWS[kind.file_name](draw(st.sampled_from(known))))
            lines.append(written_row(layout, values, draw(extras)))
            written.append((values, row))
        elif choice == "blank":
            lines.append(draw(BLANK_LINES))
        elif choice == "poison":
            values, _row = draw(VALID_ROWS[kind.file_name](draw(st.sampled_from(known))))
            lines.append(written_row(layout, draw(poisoned_values(kind, values)), draw(extras)))
            poisoned += 1
        else:
            fields = draw(garbage_fields(latin1, layout.width + 2))
            if len(fields) == layout.width:
                # Never a known store: a garbage row must not win over a planted one.
                store_at = layout.position("store_id")
                fields[store_at] = "junk" + fields[store_at]
            elif len(fields) > 1 or "".join(fields).strip(ASCII_SPACE):
                misshapen += 1
            lines.append(",".join(csv_field(field) for field in fields))
    return PlantedFile(encode(lines, layout, encoding), [row for _, row in written], misshapen, poisoned)


def check_planted(kind: Kind, path: Path, planted: PlantedFile) -> FileSummary:
    result = read_checked(kind, path)
    assert result is not None, "a file with every required column was refused"
    rows, summary = result
    loaded_known = [row for row in rows if is_known(row[0])]
    assert len(loaded_known) == len(set(loaded_known))
    expected = kind.expected(planted.planted)
    assert set(loaded_known) == expected
    # Rows of other stores may be valid, repeated or rejected too: these are lower bounds.
    assert summary.duplicates >= len(planted.planted) - len(expected), summary
    assert summary.rejected >= planted.misshapen + planted.poisoned, summary
    return summary


# --- The fuzz tests --------------------------------------------------------------------------

BYTE_TOKENS = (
    b",", b",", b"\n", b"\n", b"\r\n", b"\r", b'"', b" ", b"\t", b"\x00", b"\xef\xbb\xbf", b"\xff", b"\xc3",
    b"\xc3\xa9", b"\xe2\x80\xa8", b"active", b"INACTIVE", b"2023-01-22 12:09:39.388884 UTC",
    b"2023-01-22T12:09:39Z", b"9999-12-31 23:59:59", b"0001-01-01 00:00:00", b"s1", b"3", b"7", b"-1",
    b"09:00:00", b"24:00", b"America/Chicago", b"utc", b"=cmd|' /C calc'!A0", b"+1", b"@SUM(A1)",
    b"store_id", b"status", b"timestamp_utc", b"dayOfWeek", b"day", b"start_time_local",
    b"end_time_local", b"timezone_str",
)


def raw_files(kind: Kind) -> st.SearchStrategy[bytes]:
    """Arbitrary bytes; tokens of CSV and of the files' values; either after a valid header or alone."""
    tokens = st.lists(st.sampled_from(BYTE_TOKENS), max_size=80).map(b"".join)
    body = st.one_of(st.binary(max_size=2000), tokens)
    header = ",".join(kind.columns).encode()
    prefix = st.sampled_from((b"", header + b"\n", header + b"\r\n", b"\xef\xbb\xbf" + header + b"\n", header + b","))
    return st.tuples(prefix, body).map(b"".join)


@by_name
@FUZZ_SETTINGS
@given(data=st.data())
def test_arbitrary_bytes_are_read_or_refused_as_invalid(tmp_path: Path, kind: Kind, data: st.DataObject) -> None:
    path = tmp_path / kind.file_name
    path.write_bytes(data.draw(raw_files(kind), label="file"))
    read_checked(kind, path)


@by_name
@FUZZ_SETTINGS
@given(data=st.data())
def test_valid_rows_among_garbage_are_all_loaded_with_their_values(
    tmp_path: Path, kind: Kind, data: st.DataObject
) -> None:
    planted = data.draw(planted_files(kind, "utf-8"), label="file")
    path = tmp_path / kind.file_name
    path.write_bytes(planted.raw)
    check_planted(kind, path, planted)


@by_name
@settings(FUZZ_SETTINGS, max_examples=120)
@given(data=st.data())
def test_a_latin1_file_loads_its_ascii_rows_and_rejects_the_others(
    tmp_path: Path, kind: Kind, data: st.DataObject
) -> None:
    planted = data.draw(planted_files(kind, "latin-1"), label="file")
    path = tmp_path / kind.file_name
    path.write_bytes(planted.raw)
    check_planted(kind, path, planted)


@by_name
@settings(FUZZ_SETTINGS, max_examples=60)
@given(data=st.data())
def test_a_utf16_file_is_refused_naming_the_file(tmp_path: Path, kind: Kind, data: st.DataObject) -> None:
    planted = data.draw(planted_files(kind, "utf-8"), label="file")
    text = planted.raw.decode("utf-8").removeprefix(BOM)
    path = tmp_path / kind.file_name
    path.write_bytes(text.encode(data.draw(st.sampled_from(("utf-16", "utf-16-le", "utf-16-be")), label="codec")))
    # Python's "utf-16" writes a byte-order mark; the others do not.
    assert read_checked(kind, path) is None, "a UTF-16 file was read as if it were UTF-8"


@by_name
@settings(FUZZ_SETTINGS, max_examples=100)
@given(data=st.data())
def test_a_missing_column_refuses_the_file_naming_it_and_the_column(
    tmp_path: Path, kind: Kind, data: st.DataObject
) -> None:
    layout = data.draw(layouts(kind, repeat_a_column=False), label="layout")
    dropped = data.draw(st.sampled_from(kind.columns), label="dropped")
    kept = [i for i, column in enumerate(layout.holds) if column != dropped]
    reduced = Layout(
        header=tuple(layout.header[i] for i in kept),
        holds=tuple(layout.holds[i] for i in kept),
        newline=layout.newline,
        bom=layout.bom,
        quote_header=layout.quote_header,
        final_newline=layout.final_newline,
    )
    lines = [reduced.header_line()]
    for _ in range(data.draw(st.integers(0, 5), label="rows")):
        values, _row = data.draw(VALID_ROWS[kind.file_name](KNOWN_PREFIX + "1"), label="row")
        lines.append(written_row(reduced, values, ()))
    path = tmp_path / kind.file_name
    path.write_bytes(encode(lines, reduced))

    with pytest.raises(InvalidInputError) as refused:
        kind.read(path)
    INPUTS_TRIED[_current_test()] += 1
    OUTCOMES["refused as invalid"] += 1
    message = str(refused.value)
    assert kind.file_name in message and repr(dropped) in message, message
    assert "nothing was loaded" in message


@by_name
@settings(FUZZ_SETTINGS, max_examples=30)
@given(blank=st.sampled_from(("", "\n", "\r\n", " \n\t\n", "\ufeff", "\ufeff\r\n")), rows=st.integers(0, 3))
def test_an_empty_header_refuses_the_file(tmp_path: Path, kind: Kind, blank: str, rows: int) -> None:
    # Blank lines are skipped, so the first data row is taken as the header: it names no column.
    values = ",".join(["x1"] * len(kind.columns))
    path = tmp_path / kind.file_name
    path.write_bytes((blank + "".join(values + "\n" for _ in range(rows))).encode("utf-8"))
    assert read_checked(kind, path) is None


@by_name
@settings(FUZZ_SETTINGS, max_examples=8)
@given(data=st.data())
def test_a_megabyte_store_id_and_a_megabyte_value_are_rejected_briefly(
    tmp_path: Path, kind: Kind, data: st.DataObject
) -> None:
    # The megabytes are put in after the draws, so a failure does not print them.
    values, (_, *figures) = data.draw(VALID_ROWS[kind.file_name](KNOWN_PREFIX + "huge"), label="huge id row")
    filler = data.draw(st.sampled_from("0aZ-é"), label="filler")
    huge_id = KNOWN_PREFIX + filler * MEGABYTE
    # The longest id kept: exactly MAX_STORE_ID_CHARS characters.
    longest_id = KNOWN_PREFIX + filler * (MAX_STORE_ID_CHARS - len(KNOWN_PREFIX))
    # A row with a megabyte in its last column instead: rejected, its reason cut short.
    value_column = kind.columns[-1]
    bad_values = dict(values, store_id=KNOWN_PREFIX + "bad", **{value_column: "9" * MEGABYTE})
    small_values, small_row = data.draw(VALID_ROWS[kind.file_name](KNOWN_PREFIX + "small"), label="small row")
    # Unquoted: see test_a_quoted_file_rejects_a_megabyte_store_id_too for the other way.
    layout = data.draw(layouts(kind, repeat_a_column=False, quote_header=False), label="layout")
    written = (dict(values, store_id=huge_id), bad_values, small_values, dict(values, store_id=longest_id))
    lines = [layout.header_line()] + [written_row(layout, row, ()) for row in written]
    path = tmp_path / kind.file_name
    path.write_bytes(encode(lines, layout))

    result = read_checked(kind, path)  # checks that every reason is short
    assert result is not None
    rows, summary = result
    assert sorted(rows, key=repr) == sorted([small_row, (longest_id, *figures)], key=repr)
    assert summary.rejected == 2 and [error.line for error in summary.errors] == [2, 3], summary
    id_reason, value_reason = (error.reason for error in summary.errors)
    assert layout.header[layout.position("store_id")].strip() in id_reason, id_reason
    assert f"is longer than {MAX_STORE_ID_CHARS} characters" in id_reason, id_reason
    assert layout.header[layout.position(value_column)].strip() in value_reason, value_reason


def test_a_quoted_file_rejects_a_megabyte_store_id_too(tmp_path: Path) -> None:
    huge_id = KNOWN_PREFIX + "0" * MEGABYTE
    longest_id = KNOWN_PREFIX + "0" * (MAX_STORE_ID_CHARS - len(KNOWN_PREFIX))
    path = tmp_path / STATUS_FILE
    path.write_text(
        f'"store_id",status,timestamp_utc\n{huge_id},active,2023-01-22 12:00:00 UTC\n'
        f"{longest_id},active,2023-01-22 12:00:00 UTC\n"
    )
    polls, summary = read_status(path)
    assert polls.store_ids == (longest_id,)
    (error,) = summary.errors
    assert error.line == 2 and error.reason.endswith(f"is longer than {MAX_STORE_ID_CHARS} characters")
    assert len(error.reason) < 200


def test_how_many_inputs_were_tried(capsys: pytest.CaptureFixture[str]) -> None:
    """Runs last: prints the number of generated files read by each fuzz test of this module."""
    with capsys.disabled():
        total = sum(INPUTS_TRIED.values())
        outcomes = ", ".join(f"{count} {outcome}" for outcome, count in sorted(OUTCOMES.items()))
        print(f"\nCSV fuzzing: {total} generated files read ({outcomes})")
        for name, count in sorted(INPUTS_TRIED.items()):
            print(f"  {name}: {count}")
    # Tests deselected (-k) read nothing; those that ran read at least their minimum number of files.
    assert all(count >= 8 for count in INPUTS_TRIED.values()), INPUTS_TRIED
