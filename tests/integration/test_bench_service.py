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

REPO_ROOT = Path(__file__).resolve().parents[2]
# benchmarks/ is not part of the installed package: import it from the checkout.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.bench_service import parse_wrk  # noqa: E402

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
    folder = tmp_path_factory.mktemp("bench-service-data")
    generated = subprocess.run(
        [sys.executable, "-m", "benchmarks.generate_data", "--out", str(folder), "--scale", "sample",
         "--stores", str(STORES)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert generated.returncode == 0, generated.stderr
    return folder


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
    finished = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_service", "--data", str(tiny_data), "--json", str(out),
         "--databases", database, "--workers", ",".join(map(str, WORKERS)), "--repeat", str(REPEAT),
         "--poll-seconds", "1", "--connections", "4", "--load-tool", "python", "--chunk-size", str(CHUNK_SIZE)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600,
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
            # 60 stores in parts of 15: the workers logged one plan and 4 parts per report.
            assert run["tasks"]["plans"] == 1 and run["tasks"]["parts"] == STORES // CHUNK_SIZE
            assert run["tasks"]["unfinished_tasks"] == 0
        # The two-worker row is the one held to the target.
        assert (row["target_ratio"] is not None) == (row["workers"] == 2)

    poll = entry["poll_throughput"]
    assert poll["tool"] == "python" and poll["connections"] == 4
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


def test_wrk_output_is_read_into_figures() -> None:
    output = """Running 10s test @ http://127.0.0.1:8000/get_report/x
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     6.10ms    3.02ms  41.20ms   81.00%
    Req/Sec     1.32k   150.00     1.70k    70.00%
  Latency Distribution
     50%  850.00us
     75%    7.10ms
     90%    9.90ms
     99%    1.02s
  26400 requests in 10.01s, 6.10MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:   2637.36
Transfer/sec:    624.00KB
"""
    load = parse_wrk(output, connections=16)
    assert (load.tool, load.connections, load.requests) == ("wrk", 16, 26400)
    assert load.seconds == pytest.approx(10.01)
    assert load.requests_per_s == pytest.approx(2637.36)
    assert load.p50_ms == pytest.approx(0.85)
    assert load.p99_ms == pytest.approx(1020.0)
    assert load.errors == 7
