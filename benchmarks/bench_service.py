"""The running service: reports through Celery beside the CLI's, the API under load, pushed polls.

* ``reports``: for each database (a SQLite file; a PostgreSQL schema of its own, dropped at the
  end): ``store-monitor ingest DIR`` once, ``store-monitor report`` (its whole process, best of
  ``--repeat``); then a private Redis, ``serve --no-worker --processes 2`` and, for each count of
  ``--workers``, that many ``store-monitor worker --concurrency 1``, warmed by one report: a
  report's time runs from ``POST /trigger_report`` to the first ``GET /get_report/<id>`` that
  serves the CSV (polled every ``--poll-interval``), best of ``--repeat``, and every CSV must be
  the CLI's byte for byte. Then, with no worker up, a Running report is asked for by
  ``--connections`` Locust users for ``--poll-seconds``.
* ``load``: the sample data in SQLite, one worker, ``serve --no-worker --processes 2``; for
  ``--seconds``, ``--connections`` Locust users ask for the health check and reports while one
  triggers a report every ``--trigger-every`` seconds, each followed until it is Complete.
* ``polls``: ``serve --no-worker --processes 2`` on a new SQLite file; ``--clients`` Locust users
  push batches of ``--batch`` new polls for ``--seconds``.

The load generator shares the machine's CPUs with the service. Peak memory is each process
group's highest (the API's and the workers' processes), read from /proc before they stop.

Usage::

    python -m benchmarks.bench_service reports [--data DIR] [--databases sqlite,postgres] [--workers 1,2] [--json PATH]
    python -m benchmarks.bench_service load [--seconds 20] [--connections 16] [--trigger-every 1]
    python -m benchmarks.bench_service polls [--clients 4] [--batch 1000] [--seconds 8]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, STATUS_FILE, Load, best, cli, generated, group_peak_mb, locust, measure, table
from service_fixtures import ApiClient, ServiceRunner, registry_row, running_redis

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
API_PROCESSES = 2


@contextmanager
def database(name: str, folder: Path, postgres_url: str) -> Iterator[tuple[str, str | None]]:
    """A new database's URL, and its PostgreSQL schema (created here, dropped at the end)."""
    if name == "sqlite":
        yield f"sqlite:///{folder / 'store-monitor.sqlite3'}", None
        return
    from sqlalchemy.engine import make_url

    from adapters.sqlalchemy.database import create_engine_for

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine_for(postgres_url)
    try:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        url = make_url(postgres_url)
        options = " ".join(filter(None, [str(url.query.get("options", "")), f"-csearch_path={schema}"]))
        yield url.update_query_dict({"options": options}).render_as_string(hide_password=False), schema
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


def unreachable(url: str) -> str | None:
    """Why PostgreSQL at ``url`` cannot be used, or None."""
    from adapters.sqlalchemy.database import create_engine_for

    try:
        engine = create_engine_for(url)
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        engine.dispose()
    except Exception as error:  # noqa: BLE001 - any failure means: no server to measure
        return (str(error).strip().splitlines() or [type(error).__name__])[0]
    return None


def report_through(api: ApiClient, url: str, expected: bytes, interval: float, timeout: float) -> dict[str, Any]:
    """One report from the POST to the CSV, and its parts (as the registry planned them)."""
    started = time.perf_counter()
    report_id = api.trigger()
    trigger_ms = (time.perf_counter() - started) * 1000
    while (answer := api.report(report_id)).content_type.startswith("application/json"):
        if answer.json().get("status") != "Running" or time.perf_counter() - started > timeout:
            raise SystemExit(f"report {report_id}: {answer.shown()}\n{api.diagnostics()}")
        time.sleep(interval)
    seconds = time.perf_counter() - started
    row = registry_row(url, report_id)
    return {"report_id": report_id, "seconds": round(seconds, 4), "trigger_ms": round(trigger_ms, 3),
            "identical": answer.body == expected,
            "tasks": {"parts": row.progress_total, "unfinished_tasks": row.progress_total - row.progress_done}}


def poll_load(load: Load, connections: int, seconds: float) -> dict[str, Any]:
    return {"tool": "locust", "connections": connections, "seconds": seconds, "requests": load.requests,
            "requests_per_s": load.requests_per_s, "p50_ms": load.p50_ms, "p99_ms": load.p99_ms, "errors": load.errors}


def one_database(args: argparse.Namespace, name: str, work: Path, processes: list[dict[str, Any]]) -> dict[str, Any]:
    entry: dict[str, Any] = {"database": name, "skipped": None, "failure": None, "schema": None, "service": []}
    if name == "postgres" and (reason := unreachable(args.postgres_url)):
        entry["skipped"] = f"PostgreSQL not reachable: {reason}"
        return entry
    folder = work / name
    with ExitStack() as stack:
        url, entry["schema"] = stack.enter_context(database(name, folder, args.postgres_url))
        settings = {"DATABASE_URL": url, "REPORTS_DIR": str(folder / "reports"), "BROKER_DIR": str(folder / "broker")}
        if args.chunk_size:
            settings["REPORT_CHUNK_SIZE"] = str(args.chunk_size)
        runner = ServiceRunner(folder, settings)
        env, out = runner.environment(), folder / "cli-report.csv"
        entry["ingest"] = asdict(measure(cli("ingest", str(args.data)), env, folder / "ingest.log"))
        runs = [measure(cli("report", "--out", str(out)), env, folder / f"cli-{i}.log") for i in range(args.repeat)]
        cli_seconds = best(runs).seconds
        entry["cli_report"] = {"seconds": round(cli_seconds, 4), "runs": [asdict(run) for run in runs]}
        expected = out.read_bytes()
        redis = stack.enter_context(running_redis(folder / "redis"))
        runner.use_redis(redis)
        stack.callback(runner.close)  # before Redis stops
        api = runner.start_api("--no-worker", name=f"{name}-api", processes=API_PROCESSES)
        processes += [{"name": f"{name}-redis", "pid": redis.pid}, {"name": f"{name}-api", "pid": api.process.popen.pid}]
        for count in args.workers:
            workers = [runner.start_worker(f"{name}-workers{count}-{i}") for i in range(count)]
            processes += [{"name": worker.name, "pid": worker.popen.pid} for worker in workers]
            warmup = report_through(api, url, expected, args.poll_interval, args.timeout)
            timed = [report_through(api, url, expected, args.poll_interval, args.timeout) for _ in range(args.repeat)]
            fastest = min(run["seconds"] for run in timed)
            entry["service"].append({
                "workers": count, "seconds": fastest, "ratio_to_cli": round(fastest / cli_seconds, 4),
                "trigger_ms_median": round(statistics.median(run["trigger_ms"] for run in timed), 3),
                "reports_identical": all(run["identical"] for run in [warmup, *timed]), "warmup": warmup,
                "runs": timed, "failure": None, "target_ratio": 1.2 if count == 2 else None,
                "worker_peak_mb": round(max(group_peak_mb(worker.popen.pid) for worker in workers)),
            })
            print(f"[{name}] {count} worker(s): best {fastest:.2f} s of {[run['seconds'] for run in timed]}", file=sys.stderr)
            for worker in workers:
                worker.stop()
        # With no worker up, a triggered report stays Running while it is polled.
        running = api.trigger()
        loaded, _, load_run = locust(["Poller"], api.base_url, args.connections, args.poll_seconds, folder,
                                  "--report-id", running)
        processes.append({"name": f"{name}-load", "pid": load_run.pid})
        entry["poll_throughput"] = poll_load(loaded["GET /get_report (Running)"], args.connections, args.poll_seconds)
        entry["api_peak_mb"] = round(group_peak_mb(api.process.popen.pid))
        done = api.report(entry["service"][-1]["runs"][-1]["report_id"]) if entry["service"] else None
        entry["completed_report_served"] = done is not None and done.content_type.startswith("text/csv")
    return entry


def reports(args: argparse.Namespace, work: Path) -> int:
    args.data = (args.data or generated(work / "data", work / "generate.log")).resolve()
    processes: list[dict[str, Any]] = []
    databases = [one_database(args, name, work, processes) for name in args.databases]
    identical = all(row["reports_identical"] for entry in databases for row in entry["service"])
    rows: list[list[object]] = []
    for entry in databases:
        if entry["skipped"]:
            print(f"{entry['database']}: skipped: {entry['skipped']}")
            continue
        rows.append([entry["database"], "CLI", f"{entry['cli_report']['seconds']:.2f}", "1.00", None,
                     f"{max(run['peak_mb'] for run in entry['cli_report']['runs']):.0f}"])
        rows += [[entry["database"], row["workers"], f"{row['seconds']:.2f}", f"{row['ratio_to_cli']:.2f}",
                  f"{row['trigger_ms_median']:.1f}", row["worker_peak_mb"]] for row in entry["service"]]
    print(table(["database", "workers", "seconds", "x CLI", "trigger ms", "peak MiB"], rows))
    for entry in databases:
        if poll := entry.get("poll_throughput"):
            print(f"poll throughput, {entry['database']}: {poll['requests_per_s']:,.0f} requests/s ({poll['requests']:,}, "
                  f"{poll['connections']} users, locust), p50 {poll['p50_ms']:g} ms, p99 {poll['p99_ms']:g} ms, "
                  f"{poll['errors']} errors; API peak {entry['api_peak_mb']} MiB")
    print(f"data: {args.data}; best of {args.repeat}; polled every {args.poll_interval * 1000:.0f} ms")
    print(f"service and CLI reports byte-identical: {'yes' if identical else 'NO'}")
    broken = not identical or any(entry.get("poll_throughput", {}).get("errors") for entry in databases)
    if args.json:
        with (args.data / STATUS_FILE).open("rb") as status:
            rows_count = sum(chunk.count(b"\n") for chunk in iter(lambda: status.read(1 << 20), b"")) - 1
        args.json.write_text(json.dumps({
            "data": str(args.data), "status_rows": rows_count, "repeat": args.repeat, "chunk_size": args.chunk_size,
            "databases": databases, "processes": processes, "broken": broken,
        }, indent=2) + "\n", encoding="utf-8")
    return 1 if broken else 0


def load(args: argparse.Namespace, work: Path) -> int:
    """The mixed load on the stack started here."""
    settings = {"DATABASE_URL": f"sqlite:///{work / 'store-monitor.sqlite3'}", "REPORTS_DIR": str(work / "reports")}
    runner = ServiceRunner(work, settings)
    with running_redis(work / "redis") as redis:
        try:
            runner.use_redis(redis)
            runner.run_cli("ingest", str(args.data))
            worker = runner.start_worker()
            api = runner.start_api("--no-worker", processes=API_PROCESSES)
            complete = api.trigger()
            api.complete_csv(complete)
            stats, triggers, run = locust(["Visitor", "Trigger"], api.base_url, args.connections + 1, args.seconds,
                                          work, "--report-id", complete, "--trigger-every", str(args.trigger_every))
            peaks = f"API {group_peak_mb(api.process.popen.pid):.0f} MiB, worker {group_peak_mb(worker.popen.pid):.0f} MiB"
        finally:
            runner.close()
    print(table(["request", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors"],
                [[s.name, s.requests, s.requests_per_s, s.p50_ms, s.p95_ms, s.p99_ms, s.errors] for s in stats.values()]))
    to_csv = triggers["seconds_to_csv"] or [0.0]
    print(f"triggered {triggers['triggered']}, completed {triggers['completed']}, failed {triggers['failed']} "
          f"(trigger to CSV: median {statistics.median(to_csv):.2f} s, at most {max(to_csv):.2f} s); "
          f"peak memory: {peaks}, load generator {run.peak_mb:.0f} MiB")
    clean = stats["Aggregated"].errors == 0 and triggers["completed"] == triggers["triggered"] > 0
    return 0 if clean else 1


def polls(args: argparse.Namespace, work: Path) -> int:
    runner = ServiceRunner(work, {"DATABASE_URL": f"sqlite:///{work / 'polls.sqlite3'}"})
    try:
        runner.run_cli("create-db")
        api = runner.start_api("--no-worker", processes=args.processes)
        stats, _, _ = locust(["Pusher"], api.base_url, args.clients, args.seconds, work, "--batch", str(args.batch))
        peak = group_peak_mb(api.process.popen.pid)
    finally:
        runner.close()
    pushed = stats["POST /polls"]
    print(f"{args.clients} clients, batches of {args.batch}, {args.processes} API processes: "
          f"{pushed.requests_per_s * args.batch:,.0f} polls/s stored ({pushed.requests * args.batch:,} polls); "
          f"a batch takes p50 {pushed.p50_ms:g} ms, p95 {pushed.p95_ms:g} ms; {pushed.errors} errors; API peak {peak:.0f} MiB")
    return 1 if pushed.errors else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_service", description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the work folder (databases, logs)")
    modes = parser.add_subparsers(dest="mode", required=True)
    one = modes.add_parser("reports", help="reports through the service beside the CLI's; polls of a Running one")
    one.add_argument("--data", type=Path, help="input folder (default: generate the full-scale week)")
    one.add_argument("--json", type=Path, help="also write the figures as JSON here")
    one.add_argument("--databases", type=lambda text: text.split(","), default=["sqlite", "postgres"])
    one.add_argument("--workers", type=lambda text: [int(n) for n in text.split(",")], default=[1, 2])
    one.add_argument("--repeat", type=int, default=3)
    one.add_argument("--poll-seconds", type=float, default=10.0)
    one.add_argument("--poll-interval", type=float, default=0.05)
    one.add_argument("--connections", type=int, default=16)
    one.add_argument("--chunk-size", type=int, help="REPORT_CHUNK_SIZE (default: the service's)")
    one.add_argument("--timeout", type=float, default=600.0, help="most seconds one report may take")
    mixed = modes.add_parser("load", help="health checks, reports and triggers at once")
    mixed.add_argument("--data", type=Path, default=REPO / "data")
    mixed.add_argument("--seconds", type=float, default=20.0)
    mixed.add_argument("--connections", type=int, default=16)
    mixed.add_argument("--trigger-every", type=float, default=1.0)
    pushed = modes.add_parser("polls", help="batches of new polls pushed to POST /polls")
    pushed.add_argument("--clients", type=int, default=4)
    pushed.add_argument("--batch", type=int, default=1000)
    pushed.add_argument("--seconds", type=float, default=8.0)
    pushed.add_argument("--processes", type=int, default=2, help="API processes")
    args = parser.parse_args(argv)
    args.postgres_url = os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stops what was started, as Ctrl-C does
    work = Path(tempfile.mkdtemp(prefix=f"store-monitor-bench-{args.mode}-"))
    try:
        return {"reports": reports, "load": load, "polls": polls}[args.mode](args, work)
    finally:
        if args.keep:
            print(f"kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
