"""The service benchmark's machinery end to end on tiny data: its JSON, its table, its clean-up.

Nothing here is timed: a run must produce every figure, compare reports that
are byte-identical, and leave no process or schema behind.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from service_fixtures import REPO, generate_sample

WORKERS = (1, 2)
REPEAT = 2
STORES = 60
# Small parts, so a report runs as several parts and is assembled from them.
CHUNK_SIZE = 15


@pytest.fixture
def redis_server_on_path() -> None:
    if shutil.which("redis-server") is None:
        if os.environ.get("REQUIRE_REDIS") == "1":
            pytest.fail("REQUIRE_REDIS=1 but redis-server is not on PATH")
        pytest.skip("redis-server not on PATH")


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_sample(tmp_path_factory.mktemp("bench-service-data"), STORES)


def _groups_alive(groups: set[int]) -> list[int]:
    """Pids of running processes whose process group is one of ``groups``."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # After the command's closing parenthesis: state, ppid, pgrp, ...
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[2]) in groups:
            alive.append(int(entry.name))
    return alive


def _run_benchmark(tiny_data: Path, tmp_path: Path, database: str, env: dict[str, str]) -> tuple[dict[str, Any], str]:
    out = tmp_path / "bench.json"
    # Nothing is timed here: the stack's processes are forked from preloaded libraries, unless the run says otherwise.
    env = {"TEST_LAUNCH": "fork", **env}
    finished = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_service", "reports", "--data", str(tiny_data), "--json", str(out),
         "--databases", database, "--workers", ",".join(map(str, WORKERS)), "--repeat", str(REPEAT),
         "--poll-seconds", "1", "--connections", "4", "--chunk-size", str(CHUNK_SIZE)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    return json.loads(out.read_text(encoding="utf-8")), finished.stdout


def _check_summary(summary: dict[str, Any], table: str, database: str) -> None:
    assert summary["status_rows"] > 0
    assert summary["repeat"] == REPEAT and summary["chunk_size"] == CHUNK_SIZE
    assert summary["broken"] is False
    [entry] = summary["databases"]
    assert entry["database"] == database and entry["skipped"] is None and entry["failure"] is None
    assert entry["ingest"]["returncode"] == 0
    assert len(entry["cli_report"]["runs"]) == REPEAT and entry["cli_report"]["seconds"] > 0

    assert [row["workers"] for row in entry["service"]] == list(WORKERS)
    for row in entry["service"]:
        assert row["failure"] is None
        assert len(row["runs"]) == REPEAT
        # Every report the service served, the warm-up's too, equals the CLI's byte for byte.
        assert row["reports_identical"] is True
        assert row["warmup"]["identical"] is True and all(run["identical"] for run in row["runs"])
        assert row["seconds"] == pytest.approx(min(run["seconds"] for run in row["runs"]), abs=1e-3)
        assert row["ratio_to_cli"] == pytest.approx(row["seconds"] / entry["cli_report"]["seconds"], rel=1e-2)
        assert row["trigger_ms_median"] > 0
        for run in row["runs"]:
            # 60 stores in parts of 15: the registry planned 4 parts per report, and all were done.
            assert run["tasks"]["parts"] == STORES // CHUNK_SIZE
            assert run["tasks"]["unfinished_tasks"] == 0
        # The two-worker row is the one held to the target.
        assert (row["target_ratio"] is not None) == (row["workers"] == 2)

    poll = entry["poll_throughput"]
    assert poll["tool"] == "locust" and poll["connections"] == 4
    assert poll["requests"] > 0 and poll["errors"] == 0
    assert poll["p50_ms"] is not None and poll["p99_ms"] >= poll["p50_ms"]
    assert entry["completed_report_served"] is True

    header = table.splitlines()[0].split()
    assert header[:5] == ["database", "workers", "seconds", "x", "CLI"]
    rows = [line.split() for line in table.splitlines() if line.startswith(database)]
    assert [row[1] for row in rows] == ["CLI", *map(str, WORKERS)]
    assert f"poll throughput, {database}:" in table
    assert "service and CLI reports byte-identical: yes" in table

    # Every process started is gone, with the children it forked.
    groups = {started["pid"] for started in summary["processes"]}
    names = {started["name"] for started in summary["processes"]}
    assert {f"{database}-redis", f"{database}-api", f"{database}-load"} <= names
    assert _groups_alive(groups) == []


def test_sqlite_run_produces_every_figure_identical_reports_and_stops_everything(
    redis_server_on_path: None, tiny_data: Path, tmp_path: Path
) -> None:
    summary, table = _run_benchmark(tiny_data, tmp_path, "sqlite", dict(os.environ))
    _check_summary(summary, table, "sqlite")


@pytest.mark.postgres
def test_postgres_run_uses_a_schema_of_its_own_and_drops_it(
    redis_server_on_path: None, tiny_data: Path, tmp_path: Path, postgres_url: str
) -> None:
    env = dict(os.environ, TEST_POSTGRES_URL=postgres_url)
    summary, table = _run_benchmark(tiny_data, tmp_path, "postgres", env)
    _check_summary(summary, table, "postgres")

    schema = summary["databases"][0]["schema"]
    assert schema and schema.startswith("bench_")
    from adapters.sqlalchemy.database import create_engine_for

    engine = create_engine_for(postgres_url)
    try:
        with engine.connect() as connection:
            left = connection.exec_driver_sql(
                "SELECT count(*) FROM pg_namespace WHERE nspname = %(schema)s", {"schema": schema}
            ).scalar_one()
    finally:
        engine.dispose()
    assert left == 0
