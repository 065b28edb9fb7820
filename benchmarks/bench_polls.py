"""Sustained ``POST /polls`` throughput: pollers pushing batches into SQLite.

Starts ``store-monitor serve --no-worker`` on a new SQLite database, then
``--clients`` processes each push batches of ``--batch`` new polls (every
batch different: fresh instants) for ``--seconds``; prints the polls stored
per second and the latency of a batch. Every answer must be 200 with every
poll new.

Usage::

    python -m benchmarks.bench_polls [--clients 4] [--batch 1000] [--seconds 10] [--processes 2]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
START_US = 1_700_000_000_000_000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def push(port: int, client: int, batch: int, seconds: float, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """One poller: batches of ``batch`` new polls of 1,000 stores until ``seconds`` pass."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    latencies: list[float] = []
    stored = sent = 0
    deadline = time.monotonic() + seconds
    number = 0
    while time.monotonic() < deadline:
        base = START_US + (client * 1_000_000 + number) * batch * 1_000
        polls = [
            {
                "store_id": f"store-{i % 1000}",
                "status": "active" if i % 7 else "inactive",
                "timestamp_utc": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime((base + i * 1_000) // 10**6))
                + f".{(base + i * 1_000) % 10**6:06d}Z",
            }
            for i in range(batch)
        ]
        body = json.dumps(polls)
        started = time.perf_counter()
        connection.request("POST", "/polls", body=body, headers={"Content-Type": "application/json"})
        answer = connection.getresponse()
        payload = json.loads(answer.read())
        latencies.append(time.perf_counter() - started)
        if answer.status != 200:
            raise SystemExit(f"POST /polls answered {answer.status}: {payload}")
        stored += payload["new"]
        sent += batch
        number += 1
    results.put((stored, sent, latencies))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_polls", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--processes", type=int, default=2, help="API processes of serve")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="store-monitor-polls-"))
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{work / 'db.sqlite3'}", "PYTHONPATH": str(REPO_ROOT)}
    cli = [sys.executable, "-m", "entrypoints.cli"]
    subprocess.run([*cli, "create-db"], env=env, cwd=work, check=True, capture_output=True)
    server = subprocess.Popen(
        [*cli, "serve", "--no-worker", "--port", str(port), "--processes", str(args.processes), "--threads", "2"],
        env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=(work / "serve.log").open("wb"),
    )
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        results: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
        clients = [
            multiprocessing.Process(target=push, args=(port, n, args.batch, args.seconds, results))
            for n in range(args.clients)
        ]
        started = time.perf_counter()
        for client in clients:
            client.start()
        outcomes = [results.get(timeout=args.seconds + 120) for _ in clients]
        elapsed = time.perf_counter() - started
        for client in clients:
            client.join()
    finally:
        server.terminate()
        server.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)
    stored = sum(outcome[0] for outcome in outcomes)
    sent = sum(outcome[1] for outcome in outcomes)
    latencies = sorted(latency for outcome in outcomes for latency in outcome[2])
    if stored != sent:
        print(f"error: {sent - stored} of {sent} polls were not stored as new", file=sys.stderr)
        return 1
    print(
        f"{args.clients} clients, batches of {args.batch}, {args.processes} API processes: "
        f"{stored / elapsed:,.0f} polls/s stored ({stored:,} in {elapsed:.1f} s); a batch takes "
        f"p50 {statistics.median(latencies) * 1000:.0f} ms, p95 {latencies[int(0.95 * (len(latencies) - 1))] * 1000:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
