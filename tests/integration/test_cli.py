"""The ``store-monitor`` command end to end, in a real process, on real files and databases."""

from __future__ import annotations

import csv
import json
import os
import subprocess
from pathlib import Path

import launcher
import pytest

REPO = Path(__file__).resolve().parents[2]


def run_cli(
    *args: str,
    cwd: Path,
    database_url: str | None = None,
    chunk_size: int | None = None,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DATABASE_URL", "STORAGE_"))}
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    if chunk_size is not None:
        env["REPORT_CHUNK_SIZE"] = str(chunk_size)
    env.pop("POLL_RETENTION_DAYS", None)
    env.update(extra_env or {})
    return launcher.run(args, cwd=cwd, env=env)


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


def test_the_report_computed_in_small_parts_is_the_whole_report(
    shared_data: Path, tmp_path: Path, sqlite_url: str
) -> None:
    data = shared_data / "real-2024"
    assert run_cli("ingest", str(data), cwd=tmp_path, database_url=sqlite_url).returncode == 0
    reports = {}
    for name, chunk_size in (("whole", 100_000), ("parts", 7)):
        for source in ("offline", "stored"):
            out = tmp_path / f"{name}-{source}.csv"
            args = ("report", "--from-csv", str(data)) if source == "offline" else ("report",)
            done = run_cli(*args, "--out", str(out), cwd=tmp_path, database_url=sqlite_url, chunk_size=chunk_size)
            assert done.returncode == 0, done.stderr
            reports[name, source] = out.read_bytes()
    assert len(set(reports.values())) == 1
    assert reports["whole", "offline"].count(b"\n") == 360  # the header and 359 stores, in 52 parts of 7


def test_purge_polls_deletes_old_polls_but_each_stores_latest_and_the_report_stays(
    tmp_path: Path, sqlite_url: str
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    lines = ["store_id,status,timestamp_utc"]
    for day in range(1, 31):  # one poll a day for each store, November 2023
        lines += [f"a,active,2023-11-{day:02d} 12:00:00 UTC", f"b,inactive,2023-11-{day:02d} 18:30:00 UTC"]
    lines.append("c,active,2023-11-02 09:00:00 UTC")  # c's only poll, long before the cutoff
    (data / "store_status.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert run_cli("ingest", str(data), cwd=tmp_path, database_url=sqlite_url).returncode == 0
    before, after = tmp_path / "before.csv", tmp_path / "after.csv"
    assert run_cli("report", "--out", str(before), cwd=tmp_path, database_url=sqlite_url).returncode == 0

    kept_forever = run_cli("purge-polls", cwd=tmp_path, database_url=sqlite_url)
    assert kept_forever.returncode == 0 and "none deleted" in kept_forever.stdout
    purged = run_cli("purge-polls", cwd=tmp_path, database_url=sqlite_url, extra_env={"POLL_RETENTION_DAYS": "10"})
    assert purged.returncode == 0, purged.stderr

    # The latest poll is b's of 11-30 18:30; the cutoff 11-20 18:30. Before it, a keeps
    # 11-20 12:00 (of 20 polls), b 11-19 18:30 (of 19 polls), c its only poll.
    assert purged.stdout.startswith("deleted 37 polls")
    assert run_cli("report", "--out", str(after), cwd=tmp_path, database_url=sqlite_url).returncode == 0
    assert after.read_bytes() == before.read_bytes()
    # The offline report keeps only the recent polls of the month too, and says the same.
    offline = tmp_path / "offline.csv"
    assert run_cli("report", "--from-csv", str(data), "--out", str(offline), cwd=tmp_path).returncode == 0
    assert offline.read_bytes() == before.read_bytes()
    again = run_cli("purge-polls", cwd=tmp_path, database_url=sqlite_url, extra_env={"POLL_RETENTION_DAYS": "10"})
    assert again.stdout.startswith("deleted 0 polls")


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
    second = run_cli("ingest", str(data), "--json", "--full", cwd=tmp_path, database_url=sqlite_url)
    third = run_cli("ingest", str(data), "--json", cwd=tmp_path, database_url=sqlite_url)
    assert first.returncode == 0 and second.returncode == 0 and third.returncode == 0

    first_summary, second_summary = json.loads(first.stdout), json.loads(second.stdout)
    # Unchanged files are not read again (without --full): nothing to count.
    assert all(
        (counts["rows"], counts["errors"]) == (0, []) for counts in json.loads(third.stdout).values()
    ), third.stdout
    for key, name in [("store_status", "store_status.csv"), ("menu_hours", "menu_hours.csv"), ("timezone", "timezone.csv")]:
        counts, again = first_summary[key], second_summary[key]
        assert list(counts) == ["rows", "new", "already_stored", "duplicates", "rejected", "errors"]
        assert counts["rows"] == count_data_rows(data / name)
        assert counts["new"] == counts["rows"] - counts["duplicates"] - counts["rejected"]
        assert counts["already_stored"] == 0
        # The second time every valid row is already stored: the counts still add up to the rows.
        assert (again["rows"], again["new"], again["already_stored"]) == (counts["rows"], 0, counts["new"])
        assert (again["duplicates"], again["rejected"]) == (counts["duplicates"], counts["rejected"])


def test_the_human_summary_shows_every_count(tmp_path: Path, sqlite_url: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "store_status.csv").write_text(
        "store_id,status,timestamp_utc\n"
        "1,active,2023-01-22 12:00:00 UTC\n"
        "1,active,2023-01-22 12:00:00 UTC\n"
        "2,active,2023-01-22 12:00:00 UTC\n"
        "3,sleeping,2023-01-22 12:00:00 UTC\n",
        encoding="utf-8",
    )
    assert run_cli("ingest", str(data), cwd=tmp_path, database_url=sqlite_url).returncode == 0
    with (data / "store_status.csv").open("a", encoding="utf-8") as file:
        file.write("4,active,2023-01-22 12:00:00 UTC\n")
    result = run_cli("ingest", str(data), "--full", cwd=tmp_path, database_url=sqlite_url)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["file", "rows", "new", "already_stored", "duplicates", "rejected"]
    assert lines[1].split() == ["store_status.csv", "5", "1", "2", "1", "1"]


def test_a_status_file_that_grew_is_read_from_where_its_last_ingestion_ended(tmp_path: Path, sqlite_url: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    status = data / "store_status.csv"
    status.write_text("store_id,status,timestamp_utc\n1,active,2023-01-22 12:00:00 UTC\n", encoding="utf-8")
    (data / "menu_hours.csv").write_text("store_id,dayOfWeek,start_time_local,end_time_local\n1,0,09:00,17:00\n")
    assert run_cli("ingest", str(data), cwd=tmp_path, database_url=sqlite_url).returncode == 0
    with status.open("a", encoding="utf-8") as file:
        file.write("1,active,2023-01-22 12:00:00 UTC\n2,sleeping,2023-01-22 13:00:00 UTC\n3,active,2023-01-22 14:00:00 UTC\n")

    tail = run_cli("ingest", str(data), "--json", cwd=tmp_path, database_url=sqlite_url)

    # Only the three appended lines are read: the poll of line 3 repeats one the
    # database holds from line 2, line 4's bad status is listed on its own line.
    counts = json.loads(tail.stdout)["store_status"]
    assert (counts["rows"], counts["new"], counts["already_stored"], counts["duplicates"], counts["rejected"]) == (
        3, 1, 1, 0, 1,
    )
    assert [error["line"] for error in counts["errors"]] == [4]
    # The unchanged hours file was not read again, then or now.
    assert json.loads(tail.stdout)["menu_hours"]["rows"] == 0
    again = json.loads(run_cli("ingest", str(data), "--json", cwd=tmp_path, database_url=sqlite_url).stdout)
    assert [again[name]["rows"] for name in ("store_status", "menu_hours", "timezone")] == [0, 0, 0]
    # A file rewritten rather than appended to is read whole again.
    status.write_text("store_id,status,timestamp_utc\n9,active,2023-01-22 12:00:00 UTC\n", encoding="utf-8")
    rewritten = json.loads(run_cli("ingest", str(data), "--json", cwd=tmp_path, database_url=sqlite_url).stdout)
    assert (rewritten["store_status"]["rows"], rewritten["store_status"]["new"]) == (1, 1)


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


# Rows that read fine but must never be stored: the rest of each file loads.
VALID_STATUS = [
    f"s{store},{'active' if (store + hour) % 4 else 'inactive'},2023-01-{day:02d} {hour:02d}:{5 * store:02d}:00 UTC"
    for store in range(3)
    for day in range(15, 25)
    for hour in range(0, 24, 3)
]
POISON_STATUS = [
    "future-1,active,9999-12-31 23:59:59 UTC",
    "s0,inactive,2999-01-22 12:00:00 UTC",
    "s1,inactive,0000-01-01 00:00:00 UTC",
    "s2,inactive,-001-01-01 00:00:00 UTC",
    "s2\x00,active,2023-01-22 12:00:00 UTC",
    f"{'1' * 256},active,2023-01-22 12:00:00 UTC",
    f"{'2' * (1 << 20)},active,2023-01-22 12:00:00 UTC",
]
VALID_HOURS = ["s0,0,09:00,17:00", "s1,6,22:00,04:00"]
POISON_HOURS = ["s2\x00,0,09:00,17:00", "s2\x7f,1,09:00,17:00", f"{'h' * 300},0,09:00,17:00"]
VALID_TIMEZONES = ["s0,Asia/Kolkata", "s2,America/Denver"]
POISON_TIMEZONES = ["s1\x00,Asia/Tokyo", "s1\x1b,Asia/Tokyo"]


def data_folder(folder: Path, status: list[str], hours: list[str], timezones: list[str]) -> Path:
    folder.mkdir()
    for name, header, rows in (
        ("store_status.csv", "store_id,status,timestamp_utc", status),
        ("menu_hours.csv", "store_id,dayOfWeek,start_time_local,end_time_local", hours),
        ("timezone.csv", "store_id,timezone_str", timezones),
    ):
        (folder / name).write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return folder


def mixed(valid: list[str], poison: list[str]) -> list[str]:
    """The poison rows spread among the valid ones, which keep their order."""
    rows = list(valid)
    for k, row in enumerate(poison):
        rows.insert(min(len(rows), 1 + 3 * k), row)
    return rows


def test_poison_rows_are_rejected_by_the_cli_and_the_report_is_that_of_the_valid_rows(
    tmp_path: Path, sqlite_url: str
) -> None:
    files = {
        "store_status": (VALID_STATUS, POISON_STATUS, mixed(VALID_STATUS, POISON_STATUS)),
        "menu_hours": (VALID_HOURS, POISON_HOURS, mixed(VALID_HOURS, POISON_HOURS)),
        "timezone": (VALID_TIMEZONES, POISON_TIMEZONES, mixed(VALID_TIMEZONES, POISON_TIMEZONES)),
    }
    poisoned = data_folder(tmp_path / "poisoned", *(rows for _, _, rows in files.values()))
    clean = data_folder(tmp_path / "clean", VALID_STATUS, VALID_HOURS, VALID_TIMEZONES)

    result = run_cli("ingest", str(poisoned), "--json", cwd=tmp_path, database_url=sqlite_url)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    summary = json.loads(result.stdout)
    for key, (valid, poison, rows) in files.items():
        counts = summary[key]
        assert (counts["rows"], counts["new"], counts["already_stored"]) == (len(valid) + len(poison), len(valid), 0)
        assert (counts["duplicates"], counts["rejected"]) == (0, len(poison))
        # The header is line 1.
        assert [error["line"] for error in counts["errors"]] == [i + 2 for i, row in enumerate(rows) if row in poison]
        assert all(len(error["reason"]) < 200 for error in counts["errors"]), counts["errors"]
    assert len(result.stdout) < 10_000  # the megabyte id is not echoed

    stored, expected, offline = tmp_path / "stored.csv", tmp_path / "expected.csv", tmp_path / "offline.csv"
    assert run_cli("report", "--out", str(stored), cwd=tmp_path, database_url=sqlite_url).returncode == 0
    assert run_cli("report", "--from-csv", str(clean), "--out", str(expected), cwd=tmp_path).returncode == 0
    assert run_cli("report", "--from-csv", str(poisoned), "--out", str(offline), cwd=tmp_path).returncode == 0
    assert stored.read_bytes() == expected.read_bytes() == offline.read_bytes()
    assert expected.read_text(encoding="utf-8").count("\n") == 4  # the header and s0, s1, s2


def test_a_megabyte_header_without_a_needed_column_is_one_short_line(tmp_path: Path, sqlite_url: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    header = ",".join(["store_id", "status", "x" * (1 << 20), *(f"c{i}" for i in range(100_000))])
    (data / "store_status.csv").write_text(header + "\n1,active,2023-01-22 12:00:00 UTC\n", encoding="utf-8")
    result = run_cli("ingest", str(data), cwd=tmp_path, database_url=sqlite_url)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "store_status.csv" in line and "'timestamp_utc'" in line, line
    assert len(line) < 300, line
