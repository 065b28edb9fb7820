"""The ``store-monitor`` command end to end, in a real process, on real files and databases."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str, cwd: Path, database_url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DATABASE_URL", "STORAGE_"))}
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "entrypoints.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def read_report(path: Path) -> dict[str, list[float]]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return {row[0]: [float(value) for value in row[1:]] for row in rows[1:]}


def assert_matches_expected(report: Path, expected: Path) -> None:
    got, want = read_report(report), read_report(expected)
    assert list(got) == list(want)  # same stores, same order
    off = {store: (got[store], want[store]) for store in want if any(abs(a - b) > 0.0101 for a, b in zip(got[store], want[store]))}
    assert not off, f"{len(off)} stores differ, e.g. {next(iter(off.items()))}"


@pytest.mark.parametrize("folder", ["real-2023", "real-2024"])
def test_offline_and_sqlite_reports_are_identical_and_match_the_expected_report(
    folder: str, shared_data: Path, tmp_path: Path, sqlite_url: str
) -> None:
    data = shared_data / folder
    offline, stored = tmp_path / "offline.csv", tmp_path / "stored.csv"

    assert run_cli("report", "--from-csv", str(data), "--out", str(offline), cwd=tmp_path).returncode == 0
    ingest = run_cli("ingest", str(data), "--json", cwd=tmp_path, database_url=sqlite_url)
    assert ingest.returncode == 0, ingest.stderr
    report = run_cli("report", "--out", str(stored), cwd=tmp_path, database_url=sqlite_url)
    assert report.returncode == 0, report.stderr

    assert offline.read_bytes() == stored.read_bytes()
    assert_matches_expected(offline, data / "expected_report.csv")


@pytest.mark.postgres
def test_postgres_report_is_byte_identical_to_the_offline_one(
    shared_data: Path, tmp_path: Path, postgres_schema_url: str
) -> None:
    data = shared_data / "real-2024"
    offline, stored = tmp_path / "offline.csv", tmp_path / "stored.csv"
    assert run_cli("report", "--from-csv", str(data), "--out", str(offline), cwd=tmp_path).returncode == 0
    assert run_cli("ingest", str(data), cwd=tmp_path, database_url=postgres_schema_url).returncode == 0
    report = run_cli("report", "--out", str(stored), cwd=tmp_path, database_url=postgres_schema_url)
    assert report.returncode == 0, report.stderr
    assert offline.read_bytes() == stored.read_bytes()


def count_data_rows(path: Path) -> int:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return sum(1 for row in csv.reader(handle) if row) - 1


def test_ingest_json_counts_every_row_and_a_second_ingest_stores_nothing_new(
    shared_data: Path, tmp_path: Path, sqlite_url: str
) -> None:
    data = shared_data / "real-2024"
    first = run_cli("ingest", str(data), "--json", cwd=tmp_path, database_url=sqlite_url)
    second = run_cli("ingest", str(data), "--json", cwd=tmp_path, database_url=sqlite_url)
    assert first.returncode == 0 and second.returncode == 0

    first_summary, second_summary = json.loads(first.stdout), json.loads(second.stdout)
    for key, name in [("store_status", "store_status.csv"), ("menu_hours", "menu_hours.csv"), ("timezone", "timezone.csv")]:
        counts = first_summary[key]
        assert set(counts) == {"rows", "new", "duplicates", "rejected", "errors"}
        assert counts["rows"] == count_data_rows(data / name)
        assert counts["new"] == counts["rows"] - counts["duplicates"] - counts["rejected"]
        assert second_summary[key]["rows"] == counts["rows"]
        assert second_summary[key]["new"] == 0


def test_the_human_summary_lists_rejected_rows_with_their_lines(tmp_path: Path, sqlite_url: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "store_status.csv").write_text(
        "store_id,status,timestamp_utc\n"
        "1,active,2023-01-22 12:09:39.388884 UTC\n"
        "2,sleeping,2023-01-22 12:09:39 UTC\n",
        encoding="utf-8",
    )
    result = run_cli("ingest", str(data), cwd=tmp_path, database_url=sqlite_url)
    assert result.returncode == 0, result.stderr
    assert "line 3" in result.stdout
    assert "sleeping" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("report", "--from-csv", "no-such-folder", "--out", "r.csv"), "no-such-folder"),
        (("ingest", "no-such-folder"), "no-such-folder"),
    ],
)
def test_a_missing_folder_is_one_clear_line_and_exit_status_2(
    args: tuple[str, ...], message: str, tmp_path: Path, sqlite_url: str
) -> None:
    result = run_cli(*args, cwd=tmp_path, database_url=sqlite_url)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_missing_column_names_the_file_and_the_column_and_loads_nothing(tmp_path: Path, sqlite_url: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "store_status.csv").write_text("store_id,timestamp_utc\n1,2023-01-22 12:09:39 UTC\n", encoding="utf-8")
    result = run_cli("ingest", str(data), cwd=tmp_path, database_url=sqlite_url)
    assert result.returncode == 2
    assert "store_status.csv" in result.stderr and "status" in result.stderr
    assert "Traceback" not in result.stderr

    out = tmp_path / "report.csv"
    assert run_cli("report", "--out", str(out), cwd=tmp_path, database_url=sqlite_url).returncode == 0
    assert out.read_text(encoding="utf-8").count("\n") == 1  # header only: nothing was loaded


@pytest.mark.parametrize("url", ["mysql-but-not-really://x", "postgresql://nobody@127.0.0.1:1/none"])
def test_a_bad_database_url_is_one_clear_line(url: str, tmp_path: Path) -> None:
    result = run_cli("report", "--out", str(tmp_path / "r.csv"), cwd=tmp_path, database_url=url)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_sample_data_of_the_repository_runs_offline(tmp_path: Path) -> None:
    out = tmp_path / "sample.csv"
    result = run_cli("report", "--from-csv", str(REPO / "data"), "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("store_id,uptime_last_hour")
    assert len(lines) > 100
