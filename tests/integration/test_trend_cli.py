"""``store-monitor trend`` end to end, in a real process: SQLite and straight from CSV files."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from test_cli import run_cli

from adapters.memory.data import (
    InMemoryBusinessHoursRepository,
    InMemoryIngestionLog,
    InMemoryStatusRepository,
    InMemoryTimezoneRepository,
)
from domain.model.clock import to_micros
from domain.model.inputs import BusinessHours, StatusPolls, StoreTimezones
from domain.model.trend import TREND_HEADER
from domain.model.uptime import UptimeCalculator
from domain.use_cases.reports import ReportService

# Two weeks after New York's clocks went forward (12 March 2023): a 30-day trend spans the change.
NOW = datetime(2023, 3, 26, 15, 42, 7, 123456, tzinfo=timezone.utc)
FIRST = NOW - timedelta(days=45)


def status_rows() -> list[tuple[str, datetime, str]]:
    """Polls every 97 minutes; 'late' from six days ago, 'stale' only 35 to 45 days ago (before the lookback)."""
    rows: list[tuple[str, datetime, str]] = []
    instant = NOW
    n = 0
    while instant >= FIRST:
        for i, store_id in enumerate(("1", "10", "9", "=ny")):
            rows.append((store_id, instant, "active" if (n + i) % 5 else "inactive"))
        if instant >= NOW - timedelta(days=6):
            rows.append(("late", instant, "inactive" if n % 3 else "active"))
        if instant <= NOW - timedelta(days=35):
            rows.append(("stale", instant, "active" if n % 2 else "inactive"))
        instant -= timedelta(minutes=97)
        n += 1
    return rows


HOURS = [
    ("=ny", day, "09:00:00", "17:30:00") for day in range(5)
] + [("=ny", 5, "22:00:00", "03:00:00"), ("10", 6, "00:00:00", "00:00:00"), ("late", 2, "02:00:00", "02:30:00")]
ZONES = [("=ny", "America/New_York"), ("10", "Europe/London"), ("late", "America/New_York")]


def utc_text(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%d %H:%M:%S.%f UTC")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    rows = status_rows()
    with (folder / "store_status.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["store_id", "status", "timestamp_utc"])
        writer.writerows((store_id, status, utc_text(instant)) for store_id, instant, status in rows)
    with (folder / "menu_hours.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["store_id", "dayOfWeek", "start_time_local", "end_time_local"])
        writer.writerows(HOURS)
    with (folder / "timezone.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["store_id", "timezone_str"])
        writer.writerows(ZONES)
    return folder


def local_micros(text: str) -> int:
    hours, minutes, seconds = (int(part) for part in text.split(":"))
    return ((hours * 60 + minutes) * 60 + seconds) * 1_000_000


def expected_trend(days: int, as_of: datetime | None = None) -> str:
    """The trend computed in this process over in-memory repositories holding the same rows."""
    polls = StatusPolls.from_rows(
        [(store_id, to_micros(instant), status == "active") for store_id, instant, status in status_rows()]
    )
    hours = BusinessHours.from_rows(
        [(store_id, day, local_micros(start), local_micros(end)) for store_id, day, start, end in HOURS]
    )
    make_zones: Any = StoreTimezones
    service = ReportService(
        InMemoryStatusRepository(polls),
        InMemoryBusinessHoursRepository(hours),
        InMemoryTimezoneRepository(make_zones(dict(ZONES))),
        UptimeCalculator(),
        log=InMemoryIngestionLog(),
    )
    return "".join(service.trend_pieces(days, as_of))


def trend_of(tmp_path: Path, name: str, *args: str, database_url: str | None = None, chunk_size: int = 2) -> str:
    out = tmp_path / f"{name}.csv"
    result = run_cli("trend", *args, "--out", str(out), cwd=tmp_path, database_url=database_url, chunk_size=chunk_size)
    assert result.returncode == 0, result.stderr
    return out.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def ingested(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The data folder ingested once into SQLite, which the trends only read."""
    folder = tmp_path_factory.mktemp("ingested")
    url = f"sqlite:///{folder / 'store-monitor.sqlite3'}"
    result = run_cli("ingest", str(data_dir), cwd=folder, database_url=url)
    assert result.returncode == 0, result.stderr
    return url


@pytest.mark.parametrize("days", [1, 30, 90])
def test_sqlite_and_csv_give_the_same_bytes_as_the_domain(days: int, data_dir: Path, ingested: str, tmp_path: Path) -> None:
    stored = trend_of(tmp_path, "stored", "--days", str(days), database_url=ingested)
    offline = trend_of(tmp_path, "offline", "--days", str(days), "--from-csv", str(data_dir))

    assert stored == offline == expected_trend(days)
    rows = list(csv.reader(io.StringIO(stored)))
    assert rows[0] == TREND_HEADER.split(",")
    # Every store with a poll, 'stale' included (its last poll holds every day), in id order.
    assert [row[0] for row in rows[1::days]] == ["1", "10", "9", "'=ny", "late", "stale"]
    assert rows[1][1:4] == ["1", "2023-03-25T15:42:07.123456Z", "2023-03-26T15:42:07.123456Z"]


def test_a_poll_long_before_the_week_still_decides_the_days_it_reaches(data_dir: Path, tmp_path: Path) -> None:
    """'stale' was last polled 35 days ago: a 40-day trend must see the polls of its last days, not only its latest."""
    offline = trend_of(tmp_path, "offline", "--days", "40", "--from-csv", str(data_dir))

    assert offline == expected_trend(40)
    stale = [row for row in csv.reader(io.StringIO(offline)) if row[0] == "stale"]
    # Days 36 to 40 hold polls that alternate: both statuses show.
    assert {row[5] for row in stale[35:]} != {"0.0000"} and {row[6] for row in stale[35:]} != {"0.0000"}


def test_as_of_gives_the_same_trend_from_both_sources(data_dir: Path, ingested: str, tmp_path: Path) -> None:
    as_of = "2023-03-12T07:30:00-05:00"
    stored = trend_of(tmp_path, "stored", "--days", "9", "--as-of", as_of, database_url=ingested)
    offline = trend_of(tmp_path, "offline", "--days", "9", "--as-of", as_of, "--from-csv", str(data_dir))

    expected = expected_trend(9, datetime.fromisoformat(as_of))
    assert stored == offline == expected
    # now is the latest poll at or before as_of, later polls left out: 'late' had none yet.
    ends = {row[3] for row in list(csv.reader(io.StringIO(stored)))[1::9]}
    assert len(ends) == 1 and ends.pop() <= "2023-03-12T12:30:00Z"
    assert "late" not in {row[0] for row in csv.reader(io.StringIO(stored))}


def test_out_dash_writes_the_trend_to_standard_output(data_dir: Path, tmp_path: Path) -> None:
    result = run_cli("trend", "--days", "3", "--from-csv", str(data_dir), "--out", "-", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout == expected_trend(3)


def test_the_default_is_28_days(data_dir: Path, tmp_path: Path) -> None:
    text = trend_of(tmp_path, "default", "--from-csv", str(data_dir))

    assert text == expected_trend(28)


@pytest.mark.parametrize("days", ["0", "91", "seven", "1.5"])
def test_days_outside_1_to_90_is_one_clear_line_and_exit_status_2(days: str, data_dir: Path, tmp_path: Path) -> None:
    result = run_cli("trend", "--days", days, "--from-csv", str(data_dir), "--out", "x.csv", cwd=tmp_path)

    assert result.returncode == 2
    assert "--days: must be a whole number from 1 to 90" in result.stderr
    assert not (tmp_path / "x.csv").exists()


def test_the_real_week_from_sqlite_and_csv_is_identical_and_its_first_week_is_the_report(
    shared_data: Path, tmp_path: Path, sqlite_url: str
) -> None:
    data = shared_data / "real-2023"
    assert run_cli("ingest", str(data), cwd=tmp_path, database_url=sqlite_url).returncode == 0
    stored = trend_of(tmp_path, "stored", "--days", "8", database_url=sqlite_url, chunk_size=1000)
    offline = trend_of(tmp_path, "offline", "--days", "8", "--from-csv", str(data), chunk_size=3000)
    assert stored == offline

    report = {row[0]: [float(value) for value in row[1:]] for row in list(csv.reader((data / "expected_report.csv").open()))[1:]}
    days: dict[str, list[list[str]]] = {}
    for row in list(csv.reader(io.StringIO(stored)))[1:]:
        days.setdefault(row[0], []).append(row)
    assert list(days) == list(report)
    for store_id, rows in days.items():
        up_day, up_week, down_day, down_week = (report[store_id][i] for i in (1, 2, 4, 5))
        # Rounded figures: 4 decimals per day against 2 in the report.
        assert abs(float(rows[0][5]) - up_day) <= 0.0101 and abs(float(rows[0][6]) - down_day) <= 0.0101
        assert abs(sum(float(row[5]) for row in rows[:7]) - up_week) <= 0.0101
        assert abs(sum(float(row[6]) for row in rows[:7]) - down_week) <= 0.0101
