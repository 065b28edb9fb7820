"""Reading a file in batches, and going on from a resume point once the file has grown.

A poller appends lines to ``store_status.csv``; ingestion reads what is new.
Each batch says where a later read goes on (the end of the last complete
line it took); reading the start of a file, then the rest from there, must
give what one read of the whole file gives: the same polls, the same
rejected rows on the same lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest
from csv_helpers import HOURS_HEADER, STATUS_HEADER, TIMEZONE_HEADER, micros, write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.csv.batches import (
    iter_hours_batches,
    iter_status_batches,
    iter_timezone_batches,
    merge_hours,
    merge_polls,
    read_hours,
    read_status,
    read_timezones,
)
from domain.model.errors import InvalidInputError
from domain.model.ingestion import (
    MAX_LISTED_ERRORS,
    STATUS_FILE,
    BatchCounts,
    FileSummary,
    RejectedRow,
    ResumePoint,
    StatusBatch,
    summarize,
)

CLOCK = datetime(2023, 2, 1, tzinfo=timezone.utc)
T0 = "2023-01-22 12:00:00 UTC"
T0_US = micros(2023, 1, 22, 12)
SECOND_US = 1_000_000
TIMESTAMP_PROBLEM = "is not a timestamp (such as 2023-01-22 12:09:39.388884 UTC)"


def clock() -> datetime:
    return CLOCK


def batches(path: Path, resume: ResumePoint | None = None, block_bytes: int | None = None) -> list[StatusBatch]:
    if block_bytes is None:
        return list(iter_status_batches(path, clock, resume))
    return list(iter_status_batches(path, clock, resume, block_bytes))


def polls_and_errors(read: list[StatusBatch]) -> tuple[set[tuple[str, int, bool]], list[RejectedRow]]:
    polls, _ = merge_polls([batch.valid for batch in read])
    return set(polls.rows()), [error for batch in read for error in batch.counts.errors]


# --- Two reads and one ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """One record of a generated file: its text, the poll it loads (if any), whether it is a row."""

    text: str
    poll: tuple[str, int, bool] | None
    row: bool = True


@st.composite
def records(draw: st.DrawFn, index: int) -> Record:
    """A valid poll of store ``r<index>``, a bad row, a blank line or a multi-line quoted value."""
    seconds = draw(st.integers(0, 3599))
    instant = T0_US + seconds * SECOND_US
    stamp = f"2023-01-22 12:{seconds // 60:02}:{seconds % 60:02} UTC"
    store = f"r{index}"
    kinds = ["valid", "valid", "valid", "quoted", "bad status", "short", "long", "blank", "multi-line"]
    kind = draw(st.sampled_from(kinds))
    if kind == "valid":
        return Record(f"{store},active,{stamp}", (store, instant, True))
    if kind == "quoted":
        return Record(f'"{store},x",inactive,"{stamp}"', (f"{store},x", instant, False))
    if kind == "bad status":
        return Record(f"{store},maybe,{stamp}", None)
    if kind == "short":
        return Record(f"{store},active", None)
    if kind == "long":
        return Record(f"{store},active,{stamp},extra", None)
    if kind == "blank":
        return Record(draw(st.sampled_from(["", "  ", '""'])), None, row=False)
    breaks = draw(st.sampled_from(["\n", "\r\n", "\n\n"]))
    return Record(f'"{store}{breaks}x",active,{stamp}', None)  # a line break is a control character


@st.composite
def files(draw: st.DrawFn) -> tuple[bytes, list[Record]]:
    count = draw(st.integers(0, 25))
    written = [draw(records(i)) for i in range(count)]
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    final = draw(st.booleans())
    text = newline.join([STATUS_HEADER, *(record.text for record in written)]) + (newline if final else "")
    return text.encode("utf-8"), written


def line_starts(data: bytes) -> list[int]:
    """The offset each physical line starts at (LF, CRLF and a lone CR end lines)."""
    starts = [0]
    i = 0
    while i < len(data):
        if data[i : i + 2] == b"\r\n":
            i += 2
            starts.append(i)
            continue
        if data[i] in b"\r\n":
            starts.append(i + 1)
        i += 1
    return starts


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(generated=files(), cut=st.floats(0, 1), block_bytes=st.sampled_from([None, 48, 200]))
def test_a_prefix_then_the_rest_from_its_resume_point_is_one_read(
    tmp_path: Path, generated: tuple[bytes, list[Record]], cut: float, block_bytes: int | None
) -> None:
    data, _ = generated
    path = tmp_path / STATUS_FILE
    path.write_bytes(data)
    whole_polls, whole_errors = polls_and_errors(batches(path))

    # The file as a poller had written it so far: cut anywhere, even inside a line.
    prefix = data[: round(cut * len(data))]
    path.write_bytes(prefix)
    try:
        first = batches(path, block_bytes=block_bytes)
    except InvalidInputError:
        assert b"\n" not in prefix and b"\r" not in prefix  # only a header cut short is refused
        return
    resume = first[-1].resume
    assert all(a.resume.offset <= b.resume.offset for a, b in zip(first, first[1:]))
    # The resume point starts a line of the prefix (or is its end), and knows its number.
    starts = line_starts(prefix)
    assert resume.offset in starts or resume.offset == len(prefix) or resume.offset == 0
    if resume.offset:
        assert resume.line == line_starts(data).index(resume.offset) + 1

    path.write_bytes(data)
    second = batches(path, resume, block_bytes)
    later_polls, later_errors = polls_and_errors(second)
    if resume.offset == 0:
        assert (later_polls, later_errors) == (whole_polls, whole_errors)
        return
    # The first read's rows before the resume point, then the second read.
    first_errors = [error for error in polls_and_errors(first)[1] if error.line < resume.line]
    assert first_errors + later_errors == whole_errors
    assert later_polls <= whole_polls
    assert all(error.line >= resume.line for error in later_errors)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(generated=files(), split=st.integers(0, 30))
def test_two_reads_split_between_records_give_the_rows_and_lines_of_one(
    tmp_path: Path, generated: tuple[bytes, list[Record]], split: int
) -> None:
    data, written = generated
    newline = b"\r\n" if data.startswith(STATUS_HEADER.encode() + b"\r\n") else b"\n"
    kept = written[: min(split, len(written))]
    head = newline.join([STATUS_HEADER.encode(), *(record.text.encode() for record in kept)]) + newline
    if not data.startswith(head):
        return  # the file has no line end after its last record
    path = tmp_path / STATUS_FILE
    path.write_bytes(head)
    first = batches(path)
    assert first[-1].resume == ResumePoint(len(head), len(line_starts(head)))

    path.write_bytes(data)
    second = batches(path, first[-1].resume)
    whole = batches(path)
    assert polls_and_errors(first + second) == polls_and_errors(whole)
    rows = sum(batch.counts.rows for batch in first + second)
    assert rows == sum(batch.counts.rows for batch in whole) == sum(record.row for record in written)
    assert polls_and_errors(whole)[0] == {record.poll for record in written if record.poll is not None}


# --- Resume points by example --------------------------------------------------------------------


def test_every_batch_says_where_the_next_read_goes_on(tmp_path: Path) -> None:
    lines = [STATUS_HEADER] + [f"s{i},active,2023-01-22 12:{i % 60:02}:00 UTC" for i in range(200)]
    path = write(tmp_path / STATUS_FILE, lines)
    read = batches(path, block_bytes=1024)
    assert len(read) > 5
    data = path.read_bytes()
    for batch in read:
        assert batch.resume.offset in line_starts(data)
        assert batch.resume.line == line_starts(data).index(batch.resume.offset) + 1
    assert read[-1].resume == ResumePoint(len(data), len(lines) + 1)
    polls, repeated = merge_polls([batch.valid for batch in read])
    assert (len(polls), repeated) == (200, 0)


def test_an_unterminated_last_line_is_read_and_read_again_once_complete(tmp_path: Path) -> None:
    path = tmp_path / STATUS_FILE
    head = f"{STATUS_HEADER}\ns1,active,{T0}\n"
    path.write_bytes(f"{head}s2,active,{T0[:12]}".encode())
    first = batches(path)
    polls, errors = polls_and_errors(first)
    assert polls == {("s1", T0_US, True)}
    # The unterminated line is read (a row, rejected as written so far)...
    assert errors == [RejectedRow(3, f"timestamp_utc '{T0[:12]}' {TIMESTAMP_PROBLEM}")]
    # ...but the read goes on before it.
    assert first[-1].resume == ResumePoint(len(head), 3)

    with path.open("a", encoding="utf-8") as file:
        file.write(f"{T0[12:]}\ns3,inactive,{T0}\n")
    second = batches(path, first[-1].resume)
    assert polls_and_errors(second) == ({("s2", T0_US, True), ("s3", T0_US, False)}, [])
    assert second[-1].resume == ResumePoint(path.stat().st_size, 5)
    assert sum(batch.counts.rows for batch in second) == 2


@pytest.mark.parametrize("ending", ["\r", '"quoted\n'])
def test_a_last_line_whose_end_may_still_change_is_read_again(tmp_path: Path, ending: str) -> None:
    # A CR whose LF may follow; a quoted value whose closing quote may follow.
    path = tmp_path / STATUS_FILE
    head = f"{STATUS_HEADER}\r\ns1,active,{T0}\r\n"
    tail = f"s2,active,{T0}\r" if ending == "\r" else f"s2,active,{ending}"
    path.write_bytes(f"{head}{tail}".encode())
    first = batches(path)
    assert first[-1].resume == ResumePoint(len(head), 3)
    with path.open("a", encoding="utf-8", newline="") as file:
        file.write("\n" if ending == "\r" else f'{T0}"\r\n')
    second = batches(path, first[-1].resume)
    assert polls_and_errors(second)[0] == ({("s2", T0_US, True)} if ending == "\r" else set())
    if ending != "\r":
        # The whole quoted value is read once complete: a timestamp with a line break in it.
        assert [error.line for error in polls_and_errors(second)[1]] == [3]


def test_a_tail_that_starts_with_a_bad_row_keeps_its_lines(tmp_path: Path) -> None:
    path = write(tmp_path / STATUS_FILE, [STATUS_HEADER, f"s1,active,{T0}"])
    first = batches(path)
    assert first[-1].resume == ResumePoint(path.stat().st_size, 3)
    with path.open("a", encoding="utf-8") as file:
        file.write(f"s2,active\n\n\"s3\nx\",active,{T0}\ns4,inactive,{T0}\n")
    second = batches(path, first[-1].resume)
    polls, errors = polls_and_errors(second)
    assert polls == {("s4", T0_US, False)}
    assert errors == [
        RejectedRow(3, "the row has 2 fields; the header has 3"),
        RejectedRow(5, "store_id 's3\\nx' holds a control character (U+0000 to U+001F or U+007F)"),
    ]
    assert sum(batch.counts.rows for batch in second) == 3  # the blank line is no row
    assert second[-1].resume == ResumePoint(path.stat().st_size, 8)


def test_the_columns_of_a_tail_come_from_the_header(tmp_path: Path) -> None:
    path = write(tmp_path / STATUS_FILE, ["timestamp_utc,Extra,STORE_ID,status", f"{T0},x,s1,active"])
    resume = batches(path)[-1].resume
    with path.open("a", encoding="utf-8") as file:
        file.write(f"{T0},y,s2,inactive\n")
    assert polls_and_errors(batches(path, resume))[0] == {("s2", T0_US, False)}


def test_a_file_with_nothing_new_gives_one_empty_batch_at_the_same_point(tmp_path: Path) -> None:
    path = write(tmp_path / STATUS_FILE, [STATUS_HEADER, f"s1,active,{T0}"])
    resume = batches(path)[-1].resume
    (again,) = batches(path, resume)
    assert len(again.valid) == 0 and again.counts == BatchCounts() and again.resume == resume


def test_a_header_without_its_line_end_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / STATUS_FILE
    path.write_bytes(STATUS_HEADER.encode())
    (batch,) = batches(path)
    assert batch.resume == ResumePoint(0, 1)
    path.write_bytes(f"{STATUS_HEADER}\ns1,active,{T0}\n".encode())
    assert polls_and_errors(batches(path, batch.resume))[0] == {("s1", T0_US, True)}


def test_a_resume_point_the_file_does_not_have_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / STATUS_FILE, [STATUS_HEADER, f"s1,active,{T0}"])
    size = path.stat().st_size
    with pytest.raises(InvalidInputError, match="replaced or cut"):
        batches(path, ResumePoint(size + 10, 3))
    with pytest.raises(InvalidInputError, match="does not start a line"):
        batches(path, ResumePoint(size - 3, 2))


def test_the_missing_column_error_comes_before_any_batch(tmp_path: Path) -> None:
    path = write(tmp_path / STATUS_FILE, ["store_id,status", "s1,active"])
    with pytest.raises(InvalidInputError, match="timestamp_utc"):
        iter_status_batches(path, clock)


# --- Batches and the whole file ------------------------------------------------------------------


def test_batches_repeat_nothing_within_themselves_and_the_merge_keeps_the_first(tmp_path: Path) -> None:
    lines = [STATUS_HEADER]
    for i in range(300):
        lines.append(f"s{i % 5},{'active' if i % 3 else 'inactive'},2023-01-22 12:{i % 40:02}:00 UTC")
    path = write(tmp_path / STATUS_FILE, lines)
    read = batches(path, block_bytes=512)
    assert len(read) > 3
    for batch in read:
        assert len(set(batch.valid.rows())) == len(batch.valid)
    polls, across = merge_polls([batch.valid for batch in read])
    summary = summarize([batch.counts for batch in read], across)
    assert (polls.rows(), summary) == (lambda whole: (whole[0].rows(), whole[1]))(read_status(path, CLOCK))
    assert summary == FileSummary(rows=300, duplicates=260)  # 40 distinct (store, minute) pairs


def test_hours_and_timezones_in_batches_are_the_whole_file(tmp_path: Path) -> None:
    hours_path = write(
        tmp_path / "menu_hours.csv",
        [HOURS_HEADER] + [f"s{i % 7},{i % 7},0{i % 10}:00,1{i % 10}:30" for i in range(200)] + ["s1,9,09:00,10:00"],
    )
    read = list(iter_hours_batches(hours_path, None, 256))
    assert len(read) > 3
    hours, across = merge_hours([batch.valid for batch in read])
    whole, summary = read_hours(hours_path)
    assert sorted(hours.rows()) == sorted(whole.rows())
    assert summarize([batch.counts for batch in read], across) == summary

    zones_path = write(
        tmp_path / "timezone.csv",
        [TIMEZONE_HEADER] + [f"s{i % 30},{'UTC' if i < 30 else 'Asia/Tokyo'}" for i in range(120)] + ["x,Mars/Base"],
    )
    zone_batches = list(iter_timezone_batches(zones_path, None, 128))
    assert len(zone_batches) > 3
    first: dict[str, str] = {}
    for batch in zone_batches:
        for store, name in batch.valid.by_store.items():
            first.setdefault(store, name)
    zones, zone_summary = read_timezones(zones_path)
    assert first == dict(zones.by_store) == {f"s{i}": "UTC" for i in range(30)}
    assert zone_summary.rejected == 1 and zone_summary.duplicates == 90


def test_a_row_longer_than_a_block_is_read(tmp_path: Path) -> None:
    long_id = "7" * 5000
    lines = [STATUS_HEADER, f"s1,active,{T0}", f"{long_id},active,{T0}", f'"{long_id}\n",active,{T0}']
    lines.append(f"s2,active,{T0}")
    path = write(tmp_path / STATUS_FILE, lines)
    read = batches(path, block_bytes=256)
    polls, errors = polls_and_errors(read)
    assert polls == {("s1", T0_US, True), ("s2", T0_US, True)}
    assert [error.line for error in errors] == [3, 4]
    assert read[-1].resume == ResumePoint(path.stat().st_size, 7)


def test_summarize_adds_up_batches_and_lists_the_first_rejections() -> None:
    many = tuple(RejectedRow(line, "bad") for line in range(2, 2 + MAX_LISTED_ERRORS))
    summary = summarize(
        [
            BatchCounts(rows=10, duplicates=1, rejected=len(many), errors=many),
            BatchCounts(rows=3, rejected=1, errors=(RejectedRow(900, "x"),)),
        ],
        duplicates=2,
    )
    assert (summary.rows, summary.duplicates, summary.rejected) == (13, 3, MAX_LISTED_ERRORS + 1)
    assert summary.errors == many
