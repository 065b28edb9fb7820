"""The running service: reports through Celery beside the CLI's, the API under load, pushed polls.

* ``reports``: per database (SQLite; a PostgreSQL schema of its own), ingest, then ``store-monitor
  report`` (whole process) beside reports through a private Redis, ``serve --no-worker --processes 2``
  and each count of ``--workers`` (``--concurrency 1`` each, warmed by one report): from ``POST
  /trigger_report`` to the first ``GET /get_report/<id>`` serving the CSV (polled every
  ``--poll-interval``), best of ``--repeat``, every CSV the CLI's byte for byte; then, no worker up,
  ``--connections`` Locust users ask for a Running report for ``--poll-seconds``.
* ``load``: the sample in SQLite, one worker, the API as above; ``--connections`` users ask for the
  health check and reports while one triggers a report every ``--trigger-every`` s, each followed to
  its CSV. ``polls``: ``--clients`` users push batches of ``--batch`` new polls into a new SQLite file.

The load generator shares the CPUs with the service. A service's peak memory is the highest of its
process group (the API's or a worker's processes), read from /proc before they stop.

Usage::

    python -m benchmarks.bench_service reports [--data DIR] [--databases sqlite,postgres] [--workers 1,2] [--json F]
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
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks.common import (REPO, STATUS_FILE, best, cli, generated, group_peak_mb, locust, measure, postgres_schema,
                               table)
from service_fixtures import ApiClient, ServiceRunner, registry_row, running_redis

API_PROCESSES = 2


def report_through(api: ApiClient, url: str, expected: bytes, interval: float, timeout: float) -> dict[str, Any]:
    """One report from the POST to the CSV, and its parts as the registry planned them."""
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


def one_database(args: argparse.Namespace, name: str, work: Path, processes: list[dict[str, Any]]) -> dict[str, Any]:
    entry: dict[str, Any] = {"database": name, "skipped": None, "failure": None, "schema": None, "service": []}
    folder = work / name
    with ExitStack() as stack:
        url = f"sqlite:///{folder / 'store-monitor.sqlite3'}"
        if name == "postgres":
            try:
                url, entry["schema"] = stack.enter_context(postgres_schema(args.postgres_url))
            except Exception as error:  # noqa: BLE001 - any failure means: no server to measure
                entry["skipped"] = f"PostgreSQL not reachable: {str(error).strip().splitlines()[0]}"
                return entry
        settings = {"DATABASE_URL": url, "REPORTS_DIR": str(folder / "reports"), "BROKER_DIR": str(folder / "broker")}
        chunk = {"REPORT_CHUNK_SIZE": str(args.chunk_size)} if args.chunk_size else {}
        runner = ServiceRunner(folder, {**settings, **chunk})
        env, out = runner.environment(), folder / "cli-report.csv"
        entry["ingest"] = asdict(measure(cli("ingest", str(args.data)), env, folder / "ingest.log"))
        runs = [measure(cli("report", "--out", str(out)), env, folder / f"cli-{i}.log") for i in range(args.repeat)]
        cli_seconds, expected = best(runs).seconds, out.read_bytes()
        entry["cli_report"] = {"seconds": round(cli_seconds, 4), "runs": [asdict(run) for run in runs]}
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
            print(f"[{name}] {count} worker(s): {[run['seconds'] for run in timed]} s", file=sys.stderr)
            for worker in workers:
                worker.stop()
        running = api.trigger()  # no worker is up: it stays Running
        loads, _, run = locust(["Poller"], api.base_url, args.connections, args.poll_seconds, folder, "--report-id", running)
        processes.append({"name": f"{name}-load", "pid": run.pid})
        entry["poll_throughput"] = {"tool": "locust", "connections": args.connections, "seconds": args.poll_seconds,
                                    **loads["GET /get_report (Running)"]}
        entry["api_peak_mb"] = round(group_peak_mb(api.process.popen.pid))
        done = api.report(entry["service"][-1]["runs"][-1]["report_id"]) if entry["service"] else None
        entry["completed_report_served"] = done is not None and done.content_type.startswith("text/csv")
    return entry


def reports(args: argparse.Namespace, work: Path) -> int:
    args.data = (args.data or generated(work / "data", work / "generate.log")).resolve()
    processes: list[dict[str, Any]] = []
    databases = [one_database(args, name, work, processes) for name in args.databases]
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
            print(f"poll throughput, {entry['database']}: {poll['requests_per_s']:,.0f} requests/s ({poll['requests']:,}"
                  f", {poll['connections']} users), p50 {poll['p50_ms']:g} ms, p99 {poll['p99_ms']:g} ms, "
                  f"{poll['errors']} errors; API peak {entry['api_peak_mb']} MiB")
    identical = all(row["reports_identical"] for entry in databases for row in entry["service"])
    print(f"data: {args.data}; best of {args.repeat}; polled every {args.poll_interval * 1000:.0f} ms\n"
          f"service and CLI reports byte-identical: {'yes' if identical else 'NO'}")
    broken = not identical or any(entry.get("poll_throughput", {}).get("errors") for entry in databases)
    if args.json:
        with (args.data / STATUS_FILE).open("rb") as status:
            rows_count = sum(1 for _ in status) - 1
        args.json.write_text(json.dumps({
            "data": str(args.data), "status_rows": rows_count, "repeat": args.repeat, "chunk_size": args.chunk_size,
            "databases": databases, "processes": processes, "broken": broken}, indent=2) + "\n", encoding="utf-8")
    return 1 if broken else 0


def load(args: argparse.Namespace, work: Path) -> int:
    settings = {"DATABASE_URL": f"sqlite:///{work / 'load.sqlite3'}", "REPORTS_DIR": f"{work}/reports"}
    runner = ServiceRunner(work, settings)
    with running_redis(work / "redis") as redis:
        try:
            runner.use_redis(redis)
            runner.run_cli("ingest", str(args.data))
            worker = runner.start_worker()
            api = runner.start_api("--no-worker", processes=API_PROCESSES)
            complete = api.trigger()
            api.complete_csv(complete)
            loads, triggers, run = locust(["Visitor", "Trigger"], api.base_url, args.connections + 1, args.seconds,
                                          work, "--report-id", complete, "--trigger-every", str(args.trigger_every))
            peaks = f"API {group_peak_mb(api.process.popen.pid):.0f} MiB, worker {group_peak_mb(worker.popen.pid):.0f} MiB"
        finally:
            runner.close()
    print(table(["request", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors"],
                [[name, *(s[key] for key in ("requests", "requests_per_s", "p50_ms", "p95_ms", "p99_ms", "errors"))]
                 for name, s in loads.items()]))
    to_csv = triggers["seconds_to_csv"] or [0.0]
    print(f"triggered {triggers['triggered']}, completed {triggers['completed']}, failed {triggers['failed']} "
          f"(trigger to CSV: median {statistics.median(to_csv):.2f} s, at most {max(to_csv):.2f} s); "
          f"peak memory: {peaks}, load generator {run.peak_mb:.0f} MiB")
    return 0 if loads["Aggregated"]["errors"] == 0 and triggers["completed"] == triggers["triggered"] > 0 else 1


def polls(args: argparse.Namespace, work: Path) -> int:
    runner = ServiceRunner(work, {"DATABASE_URL": f"sqlite:///{work / 'polls.sqlite3'}"})
    try:
        runner.run_cli("create-db")
        api = runner.start_api("--no-worker", processes=args.processes)
        loads, _, _ = locust(["Pusher"], api.base_url, args.clients, args.seconds, work, "--batch", str(args.batch))
        peak = group_peak_mb(api.process.popen.pid)
    finally:
        runner.close()
    pushed = loads["POST /polls"]
    print(f"{args.clients} clients, batches of {args.batch}, {args.processes} API processes: "
          f"{pushed['requests_per_s'] * args.batch:,.0f} polls/s stored ({pushed['requests'] * args.batch:,} polls); a "
          f"batch takes p50 {pushed['p50_ms']:g} ms, p95 {pushed['p95_ms']:g} ms; {pushed['errors']} errors; API peak "
          f"{peak:.0f} MiB")
    return 1 if pushed["errors"] else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_service", description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the work folder (databases, logs)")
    modes = parser.add_subparsers(dest="mode", required=True)
    one = modes.add_parser("reports", help="reports through the service beside the CLI's; polls of a Running one")
    one.add_argument("--data", type=Path, help="input folder (default: generate the full-scale week)")
    one.add_argument("--json", type=Path, help="also write the figures as JSON here")
    one.add_argument("--databases", type=lambda text: text.split(","), default=["sqlite", "postgres"])
    one.add_argument("--workers", type=lambda text: [int(n) for n in text.split(",")], default=[1, 2])
    one.add_argument("--chunk-size", type=int, help="REPORT_CHUNK_SIZE (default: the service's)")
    mixed = modes.add_parser("load", help="health checks, reports and triggers at once")
    mixed.add_argument("--data", type=Path, default=REPO / "data")
    pushed = modes.add_parser("polls", help="batches of new polls pushed to POST /polls")
    # The numeric options: (subcommand, option, type, default).
    for mode, option, kind, default in (
        (one, "--repeat", int, 3), (one, "--poll-seconds", float, 10.0), (one, "--poll-interval", float, 0.05),
        (one, "--connections", int, 16), (one, "--timeout", float, 600.0), (mixed, "--seconds", float, 20.0),
        (mixed, "--connections", int, 16), (mixed, "--trigger-every", float, 1.0), (pushed, "--clients", int, 4),
        (pushed, "--batch", int, 1000), (pushed, "--seconds", float, 8.0), (pushed, "--processes", int, 2),
    ):
        mode.add_argument(option, type=kind, default=default, help=f"default {default}")
    args = parser.parse_args(argv)
    args.postgres_url = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stops what was started, as Ctrl-C does
    work = Path(tempfile.mkdtemp(prefix=f"store-monitor-bench-{args.mode}-"))
    try:
        return {"reports": reports, "load": load, "polls": polls}[args.mode](args, work)
    finally:
        print(f"kept: {work}", file=sys.stderr) if args.keep else shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
