"""``store-monitor report --as-of``: the report as of an instant, offline and from a database."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import launcher
import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data"
HEADER = (
    "store_id,uptime_last_hour,uptime_last_day,uptime_last_week,"
    "downtime_last_hour,downtime_last_day,downtime_last_week\n"
)
# Between two polls of the sample (its polls run from 2023-01-18 to 2023-01-25 18:12 UTC).
AS_OF = "2023-01-24T10:00:00-05:00"


def run_cli(*args: str, cwd: Path, database_url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DATABASE_URL", "STORAGE_"))}
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    env["PYTHONPATH"] = str(REPO)
    return launcher.run(args, cwd=cwd, env=env)


def kept(row: list[str], as_of: datetime) -> bool:
    """A poll at or before ``as_of``; a row that is no poll at all (the sample has some) stays, rejected either way."""
    try:
        instant = datetime.fromisoformat(row[2].strip().removesuffix(" UTC"))
    except (IndexError, ValueError):
        return True
    return instant.replace(tzinfo=instant.tzinfo or timezone.utc) <= as_of


def sample_until(as_of: datetime, folder: Path) -> Path:
    """The sample folder with only the polls at or before ``as_of``."""
    folder.mkdir()
    for name in ("menu_hours.csv", "timezone.csv"):
        shutil.copyfile(SAMPLE / name, folder / name)
    with (SAMPLE / "store_status.csv").open(newline="", encoding="utf-8") as source:
        rows = list(csv.reader(source))
    until = [rows[0], *(row for row in rows[1:] if kept(row, as_of))]
    assert 0 < len(until) - 1 < len(rows) - 1
    with (folder / "store_status.csv").open("w", newline="", encoding="utf-8") as target:
        csv.writer(target).writerows(until)
    return folder


def report(tmp_path: Path, name: str, *arguments: str, database_url: str | None = None) -> bytes:
    out = tmp_path / name
    result = run_cli("report", "--out", str(out), *arguments, cwd=tmp_path, database_url=database_url)
    assert result.returncode == 0, result.stderr
    return out.read_bytes()


def test_a_report_as_of_an_instant_is_the_report_of_only_the_polls_until_it(tmp_path: Path, sqlite_url: str) -> None:
    as_of = datetime.fromisoformat(AS_OF)
    offline_as_of = report(tmp_path, "offline-as-of.csv", "--from-csv", str(SAMPLE), "--as-of", AS_OF)
    truncated = sample_until(as_of, tmp_path / "until")

    assert offline_as_of == report(tmp_path, "truncated.csv", "--from-csv", str(truncated))
    assert offline_as_of != report(tmp_path, "latest.csv", "--from-csv", str(SAMPLE))

    ingest = run_cli("ingest", str(SAMPLE), cwd=tmp_path, database_url=sqlite_url)
    assert ingest.returncode == 0, ingest.stderr
    assert report(tmp_path, "stored-as-of.csv", "--as-of", AS_OF, database_url=sqlite_url) == offline_as_of


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        ("2023-01-17T23:59:59Z", "header"),
        ("2023-01-25T18:12:20.662809Z", "latest"),
        ("2030-01-01T00:00:00+09:00", "latest"),
    ],
)
def test_as_of_before_every_poll_is_the_header_and_after_the_last_the_latest_report(
    tmp_path: Path, as_of: str, expected: str
) -> None:
    got = report(tmp_path, "as-of.csv", "--from-csv", str(SAMPLE), "--as-of", as_of)

    if expected == "header":
        assert got == HEADER.encode()
    else:
        assert got == report(tmp_path, "latest.csv", "--from-csv", str(SAMPLE))


@pytest.mark.parametrize(
    ("as_of", "words"),
    [
        ("2023-01-24T10:00:00", "has no UTC offset"),
        ("2023-01-24", "has no UTC offset"),
        ("last tuesday", "is not an ISO 8601 date and time"),
    ],
)
def test_as_of_that_is_not_an_instant_is_one_line_naming_the_option(tmp_path: Path, as_of: str, words: str) -> None:
    out = tmp_path / "never.csv"

    result = run_cli("report", "--from-csv", str(SAMPLE), "--out", str(out), "--as-of", as_of, cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr.startswith("store-monitor: error: --as-of") and words in result.stderr
    assert result.stderr.count("\n") == 1
    assert not out.exists()
