"""Random data folders, ingested one after another, and the counts each ingestion must give.

Every folder draws its rows from a few stores, instants, hours rows and zones,
so that folders overlap; rows are valid, repeated (sometimes written
otherwise), or invalid in one of many ways. A plain model of what is stored
says, for each file, how many rows are duplicates, rejected, new or already
stored; ``check_ingestions`` ingests the folders in turn and compares. The
identity ``rows == new + already_stored + duplicates + rejected`` is checked
on its own as well.

Used by ``tests/unit/test_ingest_counts.py`` (in-memory repositories) and
``tests/integration/test_ingest_counts_sqlite.py`` (SQLite).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import attrs
from hypothesis import strategies as st

from domain.model.ingestion import HOURS_FILE, STATUS_FILE, TIMEZONE_FILE, FileSummary, IngestSummary
from domain.use_cases.ingest import IngestService

STORES = ("s1", "s2", "s3", "10")
# Each instant as written in several ways; all read as the same instant.
INSTANTS = tuple(
    (f"2023-01-22 {hour:02d}:00:00 UTC", f"2023-01-22T{hour:02d}:00:00Z", f"2023-01-22 {hour:02d}:00:00.000000")
    for hour in (9, 10, 11, 12, 13)
)
STATUSES = ("active", "inactive", " Active ", "INACTIVE")
# (weekday, start, end) of an hours row, each as written in two ways.
HOURS = (
    ((0, 9 * 3600, 17 * 3600), ("0,09:00,17:00", "0,09:00:00,17:00:00")),
    ((1, 22 * 3600, 2 * 3600), ("1,22:00,02:00", " 1 ,22:00:00,2:00")),
    ((6, 0, 0), ("6,00:00,00:00", "6,0:00,00:00:00")),
    ((3, 8 * 3600, 9 * 3600), ("3,08:00,09:00", "3,08:00:00,09:00:00")),
)
ZONES = ("UTC", "Asia/Tokyo", "America/Chicago")

# Rows no ingestion may load, for a store of ``STORES``.
INVALID_STATUS = (
    "{store},maybe,2023-01-22 09:00:00 UTC",
    "{store},active,2023-02-30 09:00:00 UTC",
    "{store},active,9999-12-31 23:59:59 UTC",
    "{store},active,1969-12-31 23:59:59 UTC",
    "{store}\x00,active,2023-01-22 09:00:00 UTC",
    ",active,2023-01-22 09:00:00 UTC",
    "{store},active",
    "{store},active,2023-01-22 09:00:00 UTC,extra",
)
INVALID_HOURS = (
    "{store},7,09:00,17:00",
    "{store},0,25:00,17:00",
    "{store},0,09:00",
    "{store}\x1f,0,09:00,17:00",
    "{store}" + "x" * 256 + ",0,09:00,17:00",
)
INVALID_TIMEZONES = ("{store},Mars/Olympus_Mons", "{store}\x7f,UTC", ",UTC", "{store}")

# A line of a file and what it holds: its key and value when valid, None when invalid.
Line = tuple[str, tuple[object, object] | None]


@attrs.frozen
class Folder:
    status: tuple[Line, ...]
    hours: tuple[Line, ...]
    timezones: tuple[Line, ...]

    def write(self, path: Path) -> Path:
        path.mkdir(parents=True)
        for name, header, lines in (
            (STATUS_FILE, "store_id,status,timestamp_utc", self.status),
            (HOURS_FILE, "store_id,dayOfWeek,start_time_local,end_time_local", self.hours),
            (TIMEZONE_FILE, "store_id,timezone_str", self.timezones),
        ):
            (path / name).write_text("\n".join([header, *(text for text, _ in lines)]) + "\n", encoding="utf-8")
        return path


@st.composite
def status_lines(draw: st.DrawFn) -> Line:
    store = draw(st.sampled_from(STORES))
    if draw(st.integers(0, 4)) == 0:
        return draw(st.sampled_from(INVALID_STATUS)).format(store=store), None
    instant = draw(st.integers(0, len(INSTANTS) - 1))
    status = draw(st.sampled_from(STATUSES))
    written = draw(st.sampled_from(INSTANTS[instant]))
    return f"{store},{status},{written}", ((store, instant), status.strip().lower())


@st.composite
def hours_lines(draw: st.DrawFn) -> Line:
    store = draw(st.sampled_from(STORES))
    if draw(st.integers(0, 4)) == 0:
        return draw(st.sampled_from(INVALID_HOURS)).format(store=store), None
    row, forms = draw(st.sampled_from(HOURS))
    return f"{store},{draw(st.sampled_from(forms))}", ((store, *row), None)


@st.composite
def timezone_lines(draw: st.DrawFn) -> Line:
    store = draw(st.sampled_from(STORES))
    if draw(st.integers(0, 4)) == 0:
        return draw(st.sampled_from(INVALID_TIMEZONES)).format(store=store), None
    zone = draw(st.sampled_from(ZONES))
    return f"{store},{zone}", (store, zone)


folders_one = st.builds(
    Folder,
    st.lists(status_lines(), max_size=14).map(tuple),
    st.lists(hours_lines(), max_size=8).map(tuple),
    st.lists(timezone_lines(), max_size=6).map(tuple),
)


@st.composite
def folder_sequences(draw: st.DrawFn) -> list[Folder]:
    """One to four folders; a folder may be the one before it again (ingested twice)."""
    folders = [draw(folders_one)]
    for _ in range(draw(st.integers(0, 3))):
        folders.append(folders[-1] if draw(st.booleans()) else draw(folders_one))
    return folders


@attrs.define
class StoredModel:
    """What the repositories hold, and the counts each file must give."""

    polls: set[object] = attrs.Factory(set)
    hours: dict[object, set[object]] = attrs.Factory(dict)
    zones: dict[object, object] = attrs.Factory(dict)

    def ingest(self, folder: Folder) -> tuple[tuple[int, int, int, int, int], ...]:
        """Per file ``(rows, new, already_stored, duplicates, rejected)``; the model is updated."""
        polls = self._distinct(folder.status)
        new_polls = len(polls.keys() - self.polls)
        self.polls |= polls.keys()

        rows_of: dict[object, set[object]] = {}
        for key in self._distinct(folder.hours):
            assert isinstance(key, tuple)
            rows_of.setdefault(key[0], set()).add(key[1:])
        new_hours = sum(len(rows - self.hours.get(store, set())) for store, rows in rows_of.items())
        self.hours.update(rows_of)

        zones = self._distinct(folder.timezones)
        new_zones = sum(1 for store, zone in zones.items() if self.zones.get(store) != zone)
        self.zones.update(zones)

        return tuple(
            self._counts(lines, distinct, new)
            for lines, distinct, new in (
                (folder.status, len(polls), new_polls),
                (folder.hours, sum(len(rows) for rows in rows_of.values()), new_hours),
                (folder.timezones, len(zones), new_zones),
            )
        )

    @staticmethod
    def _distinct(lines: tuple[Line, ...]) -> dict[object, object]:
        """The valid lines' keys, each with the value of its first line."""
        first: dict[object, object] = {}
        for _, held in lines:
            if held is not None:
                first.setdefault(held[0], held[1])
        return first

    @staticmethod
    def _counts(lines: tuple[Line, ...], distinct: int, new: int) -> tuple[int, int, int, int, int]:
        valid = sum(1 for _, held in lines if held is not None)
        return (len(lines), new, distinct - new, valid - distinct, len(lines) - valid)


def counts_of(summary: FileSummary) -> tuple[int, int, int, int, int]:
    return (summary.rows, summary.new, summary.already_stored, summary.duplicates, summary.rejected)


def check_ingestions(service: IngestService, folders: list[Folder]) -> list[IngestSummary]:
    """Ingest ``folders`` in turn; each file's counts must be the model's, and add up to its rows."""
    model = StoredModel()
    summaries = []
    with tempfile.TemporaryDirectory() as root:
        for i, folder in enumerate(folders):
            summary = service.ingest(folder.write(Path(root) / str(i)))
            for counts in (summary.store_status, summary.menu_hours, summary.timezone):
                assert counts.rows == counts.new + counts.already_stored + counts.duplicates + counts.rejected
                assert min(counts_of(counts)) >= 0
                assert counts.to_dict()["already_stored"] == counts.already_stored
            expected = model.ingest(folder)
            got = tuple(counts_of(counts) for counts in (summary.store_status, summary.menu_hours, summary.timezone))
            assert got == expected, f"ingestion {i + 1}: (rows, new, already_stored, duplicates, rejected)"
            summaries.append(summary)
    return summaries
