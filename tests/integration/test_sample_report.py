"""The committed sample report is exactly what the code makes of the sample data."""

from __future__ import annotations

from pathlib import Path

import launcher

REPO = Path(__file__).resolve().parents[2]
SAMPLE_REPORT = REPO / "data" / "sample_report.csv"


def store_monitor(*args: str, cwd: Path, database_url: str) -> None:
    done = launcher.run(args, cwd=cwd, env={"PATH": "/usr/bin:/bin", "DATABASE_URL": database_url})
    assert done.returncode == 0, done.stderr


def test_the_sample_report_is_up_to_date_offline_and_through_sqlite(tmp_path: Path, sqlite_url: str) -> None:
    offline, stored = tmp_path / "offline.csv", tmp_path / "stored.csv"
    store_monitor("report", "--from-csv", str(REPO / "data"), "--out", str(offline), cwd=tmp_path, database_url=sqlite_url)
    store_monitor("ingest", str(REPO / "data"), cwd=tmp_path, database_url=sqlite_url)
    store_monitor("report", "--out", str(stored), cwd=tmp_path, database_url=sqlite_url)

    committed = SAMPLE_REPORT.read_bytes()
    assert offline.read_bytes() == committed, "data/sample_report.csv is stale: see data/README.md to remake it"
    assert stored.read_bytes() == committed
