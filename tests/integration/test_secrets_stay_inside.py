"""A door that shows nothing: database URLs never show their user information, and
only an ingestion creates a SQLite database (owner-only, like its WAL files)."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
from pathlib import Path

import launcher
import pytest
from sqlalchemy import text

from adapters.sqlalchemy.database import create_engine_for, transaction

from entrypoints.container import build_container
from entrypoints.flask_app import create_app

REPO = Path(__file__).resolve().parents[2]
SECRET = "S3CRETpw"
# Malformed in every way a user manages: no scheme slashes, a bad port, an
# unescaped "@" in the password, and a well-formed one whose server is not there.
URLS = [
    f"postgres:{SECRET}@host/db",
    f"postgresql://user:{SECRET}@host:54x2/db",
    f"postgresql://user:p@{SECRET}@127.0.0.1:1/db",
    f"postgresql://{SECRET}user:{SECRET}@127.0.0.1:1/db",
]


def cli(cwd: Path, database_url: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(REPO)}
    return launcher.run(arguments, cwd=cwd, env=env, timeout=120)


@pytest.mark.parametrize("url", URLS)
def test_the_cli_never_shows_a_password(tmp_path: Path, url: str) -> None:
    for arguments in (("report", "--out", "r.csv"), ("ingest", str(REPO / "data"))):
        done = cli(tmp_path, url, *arguments)
        assert done.returncode == 2, done.stderr
        assert SECRET not in done.stderr + done.stdout
        assert done.stderr.startswith("store-monitor: error:") and "Traceback" not in done.stderr


@pytest.mark.parametrize("url", URLS)
def test_health_trigger_and_log_never_show_a_password(
    tmp_path: Path, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    container = build_container({}, {"database_url": url, "reports_dir": str(tmp_path), "broker_dir": str(tmp_path)})
    try:
        client = create_app(container).test_client()
        with caplog.at_level(logging.DEBUG):
            health = client.get("/health")
            trigger = client.post("/trigger_report")
        assert health.status_code == 503 and health.get_json()["database"] == "unavailable"
        assert trigger.status_code == 503
        for text in (health.get_data(as_text=True), trigger.get_data(as_text=True), caplog.text):
            assert SECRET not in text
    finally:
        container.unwire()
        container.shutdown_resources()


def test_only_an_ingestion_creates_a_sqlite_database(tmp_path: Path) -> None:
    missing = tmp_path / "mistyped" / "dir" / "x.db"
    url = f"sqlite:///{missing}"
    for arguments in (("report", "--out", "r.csv"), ("purge-reports",), ("purge-polls",)):
        done = cli(tmp_path, url, *arguments)
        assert done.returncode == 2 and str(missing) in done.stderr, done.stderr
    assert not missing.parent.exists() and not (tmp_path / "r.csv").exists()

    assert cli(tmp_path, url, "create-db").returncode == 0
    assert stat.S_IMODE(missing.stat().st_mode) == 0o600
    assert cli(tmp_path, url, "ingest", str(REPO / "data")).returncode == 0
    assert cli(tmp_path, url, "report", "--out", "r.csv").returncode == 0
    # While a connection is open the WAL files exist: SQLite gives them the database's mode.
    engine = create_engine_for(url)
    try:
        with transaction(engine, write=True) as connection:
            connection.execute(text("CREATE TABLE IF NOT EXISTS probe (x INTEGER)"))
            for name in ("x.db-wal", "x.db-shm"):
                assert stat.S_IMODE(missing.with_name(name).stat().st_mode) == 0o600, name
    finally:
        engine.dispose()
