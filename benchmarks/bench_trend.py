"""Time and memory of the daily trend beside the report, on weeks of history.

Steps, each a fresh process measured like ``bench_report`` (wall clock of the
whole process, peak resident memory from ``wait4``): ``--weeks`` weeks of the
full-scale fleet (default 4) ingested into a new SQLite file; then, best of
``--repeat``, ``store-monitor report`` and ``store-monitor trend --days N``
(default 28) from it. Then one store's trend over HTTP: ``store-monitor serve
--no-worker`` on that file, and ``GET /stores/<id>/trend?days=N`` for
``--stores`` stores spread over the fleet, one request at a time, after ten
untimed ones; the median and the 95th percentile of the answers' latency.

Usage::

    python -m benchmarks.bench_trend [--weeks 4] [--days 28] [--repeat 3] [--stores 50] [--work DIR]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

from benchmarks.bench_living import Bench
from benchmarks.bench_report import Run
from benchmarks.bench_service import HttpClient, Processes, _wait_until, free_port

# Requests sent before the timed ones.
WARM_UP = 10


def best(bench: Bench, name: str, repeat: int, *arguments: str, database: Path) -> Run:
    runs = [bench.run(name, *arguments, database=database) for _ in range(repeat)]
    return min(runs, key=lambda run: run.seconds)


def store_ids(report: Path, count: int) -> list[str]:
    """``count`` ids spread over the report's stores (its first column, unquoted ids only)."""
    with report.open(encoding="utf-8") as lines:
        next(lines)
        ids = [line.split(",", 1)[0] for line in lines]
    step = max(len(ids) // count, 1)
    return ids[::step][:count]


def store_latencies(bench: Bench, database: Path, ids: Sequence[str], days: int) -> list[float]:
    """Seconds each ``GET /stores/<id>/trend`` took, against a served database."""
    processes = Processes(bench.logs)
    port = free_port()
    env = {**bench.env, "DATABASE_URL": f"sqlite:///{database}"}
    server = processes.start(
        "serve", [sys.executable, "-m", "entrypoints.cli", "serve", "--no-worker", "--port", str(port)], env
    )
    client = HttpClient(port)
    try:
        _wait_until("the API", lambda: _answers(client), server, processes.log_path("serve"))
        latencies = []
        # Each API process loads the calculator's libraries on its first trend: not timed.
        for store_id in [*ids[:WARM_UP], *ids]:
            path = f"/stores/{urllib.parse.quote(store_id, safe='')}/trend?days={days}"
            started = time.perf_counter()
            answer = client.request("GET", path)
            latencies.append(time.perf_counter() - started)
            if answer.status != 200:
                raise SystemExit(f"GET {path} answered {answer.status}: {answer.body[:200]!r}")
        return latencies[WARM_UP:]
    finally:
        client.close()
        processes.stop_all()


def _answers(client: HttpClient) -> bool:
    try:
        return client.request("GET", "/openapi.json").status == 200
    except OSError:
        return False


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_trend", description=__doc__.split("\n\n")[0])
    parser.add_argument("--weeks", type=int, default=4)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stores", type=int, default=50)
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--work", type=Path, help="work folder, kept (default: a temporary one, removed)")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="store-monitor-trend-"))
    try:
        bench = Bench(work)
        data = bench.generate(args.weeks, args.seed)
        database = work / "trend.db"
        if not database.exists():
            bench.run("ingest", "ingest", str(data), database=database)
        report = best(bench, "report", args.repeat, "report", "--out", str(work / "report.csv"), database=database)
        trend = best(
            bench, "trend", args.repeat, "trend", "--days", str(args.days), "--out", str(work / "trend.csv"),
            database=database,
        )
        latencies = sorted(store_latencies(bench, database, store_ids(work / "report.csv", args.stores), args.days))
        print(f"{args.weeks} weeks of history, a trend of {args.days} days")
        print(f"{'report from SQLite':<40} {report.seconds:8.2f} s  1.00 x  {report.peak_mb:7.0f} MiB")
        print(
            f"{'fleet trend from SQLite':<40} {trend.seconds:8.2f} s  {trend.seconds / report.seconds:4.2f} x"
            f"  {trend.peak_mb:7.0f} MiB"
        )
        p95 = latencies[max(int(len(latencies) * 0.95) - 1, 0)]
        print(
            f"{'one store trend over HTTP':<40} median {statistics.median(latencies) * 1000:.1f} ms, "
            f"95th percentile {p95 * 1000:.1f} ms ({len(latencies)} stores)"
        )
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
