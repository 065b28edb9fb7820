"""A bounded load test of the HTTP API: concurrent polls and periodic triggers for a fixed time.

For ``--seconds``, ``--connections`` keep-alive connections (``http.client``),
spread over ``--processes`` load processes (``multiprocessing``), each send
one request after another, picked at random:

* ``GET /health``;
* ``GET /get_report/<id>`` of a report completed before the load began (its CSV);
* ``GET /get_report/<id>`` of one of the latest triggered reports (Running or
  Complete, whichever it is by then);
* ``GET /get_report/<random uuid>``, which must answer 404.

Meanwhile one more process sends ``POST /trigger_report`` every
``--trigger-every`` seconds and polls each triggered report until it is
Complete or Failed (after the load ends too, for up to ``--drain-seconds``).

Reported, per kind of request (a ``GET /get_report`` is filed under the state
its answer shows): requests, requests/s, p50/p95/p99 latency, errors (any
answer but 2xx, except the expected 404s, and any connection failure); and
whether every triggered report completed.

Without ``--url`` the stack is started here and stopped at the end (also on
an error or Ctrl-C): a private ``redis-server`` on a free port, a SQLite file
with ``--data`` (default: the sample in ``data/``) ingested, one
``store-monitor worker --concurrency 1`` and ``store-monitor serve --no-worker
--processes 2 --threads 4``; with ``--token`` the server requires it. The
load generator shares the machine's CPUs with them.

Usage::

    python -m benchmarks.load_test [--seconds 20] [--connections 16] [--trigger-every 1.0]
        [--url URL] [--token T] [--processes 2] [--data DIR] [--json PATH]

Every request loop is bounded in time and only loopback addresses are used
when the stack is started here.
"""

from __future__ import annotations

import argparse
import ctypes
import http.client
import json
import math
import multiprocessing
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from multiprocessing.sharedctypes import SynchronizedString
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT / "data"
API_PROCESSES = 2
API_THREADS = 4
STARTUP_TIMEOUT_S = 60.0
REQUEST_TIMEOUT_S = 30.0
# How many of the latest triggered reports the poll connections choose from.
RECENT_REPORTS = 4
ID_BYTES = 36  # a canonical UUID
TRIGGER_POLL_INTERVAL_S = 0.1

HEALTH = "GET /health"
RUNNING = "GET /get_report (Running)"
COMPLETE = "GET /get_report (Complete, CSV)"
FAILED = "GET /get_report (Failed)"
UNKNOWN = "GET /get_report (unknown id: 404 expected)"
# A known report answered with another status, or not at all.
BAD_REPORT = "GET /get_report (known id: not 200)"
TRIGGER = "POST /trigger_report"
KINDS = (HEALTH, RUNNING, COMPLETE, FAILED, UNKNOWN, BAD_REPORT, TRIGGER)
# What each poll connection asks for, and how often.
POLL_CHOICES = ("health", "complete", "recent", "unknown")
POLL_WEIGHTS = (3, 3, 3, 1)

# Every variable the service reads: each is given to a started process explicitly ("" = its default),
# so neither this shell's environment nor a .env file changes the stack.
SERVICE_VARIABLES = (
    "DATABASE_URL", "STORAGE_BACKEND", "CSV_DIR", "REPORTS_DIR", "REPORT_STORAGE", "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND", "CELERY_VISIBILITY_TIMEOUT", "BROKER_DIR", "REPORT_CHUNK_SIZE",
    "REPORT_STALL_SECONDS", "HOST", "PORT", "API_TOKEN", "REPORT_RETENTION_DAYS", "UPLOADS_DIR",
    "INGEST_MAX_BYTES", "INGEST_WATCH_DIR", "INGEST_EVERY_MINUTES",
)


class LoadTestError(Exception):
    """Something the load test needs did not work; the message says what."""


# -- HTTP -------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    token: str | None

    @classmethod
    def parse(cls, url: str, token: str | None) -> Target:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise LoadTestError(f"not an http://host:port URL: {url}")
        return cls(parts.hostname, parts.port or 80, token)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """One keep-alive connection; reconnects after a failure."""

    def __init__(self, target: Target) -> None:
        self._target = target
        self._headers = {"Authorization": f"Bearer {target.token}"} if target.token else {}
        self._connection: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str) -> Answer:
        if self._connection is None:
            self._connection = http.client.HTTPConnection(self._target.host, self._target.port, timeout=REQUEST_TIMEOUT_S)
        try:
            self._connection.request(method, path, headers=self._headers)
            response = self._connection.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        return Answer(response.status, response.getheader("Content-Type", ""), body)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def report_kind(answer: Answer) -> str | None:
    """The kind a 200 answer of GET /get_report shows; None if it shows none."""
    if answer.status != 200:
        return None
    if answer.content_type.startswith("text/csv"):
        return COMPLETE
    try:
        status = answer.json().get("status")
    except (ValueError, AttributeError):
        return None
    return {"Running": RUNNING, "Failed": FAILED}.get(status)


# -- what each load process records ------------------------------------------------


@dataclass
class Tally:
    """Latencies (ms) and errors of one kind of request."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)

    def error(self, what: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(what)

    def merge(self, other: Mapping[str, Any]) -> None:
        """Add a tally sent by a load process (as a plain dict: it crosses a process boundary)."""
        self.latencies_ms.extend(other["latencies_ms"])
        self.errors += other["errors"]
        self.error_samples.extend(other["error_samples"][: 5 - len(self.error_samples)])


class Recorder:
    """Tallies by kind, shared by the threads of one process."""

    def __init__(self) -> None:
        self.tallies: dict[str, Tally] = {kind: Tally() for kind in KINDS}
        self._lock = threading.Lock()

    def plain(self) -> dict[str, dict[str, Any]]:
        return {kind: asdict(tally) for kind, tally in self.tallies.items()}

    def ok(self, kind: str, latency_ms: float) -> None:
        with self._lock:
            self.tallies[kind].latencies_ms.append(latency_ms)

    def error(self, kind: str, latency_ms: float | None, what: str) -> None:
        with self._lock:
            tally = self.tallies[kind]
            tally.error(what)
            if latency_ms is not None:
                tally.latencies_ms.append(latency_ms)

    def get_report(self, client: Client, report_id: str, expected_unknown: bool = False) -> Answer | None:
        """GET /get_report/<id>, filed under the state its answer shows."""
        started = time.perf_counter()
        try:
            answer = client.request("GET", f"/get_report/{report_id}")
        except (OSError, http.client.HTTPException) as error:
            self.error(UNKNOWN if expected_unknown else BAD_REPORT, None, f"{type(error).__name__}: {error}")
            return None
        latency = (time.perf_counter() - started) * 1000
        if expected_unknown:
            if answer.status == 404:
                self.ok(UNKNOWN, latency)
            else:
                self.error(UNKNOWN, latency, f"HTTP {answer.status} for an unknown id: {answer.body[:120]!r}")
            return answer
        kind = report_kind(answer)
        if kind is None:
            self.error(BAD_REPORT, latency, f"HTTP {answer.status} for report {report_id}: {answer.body[:120]!r}")
        else:
            self.ok(kind, latency)
        return answer


# -- the load processes -------------------------------------------------------------


def _recent_ids(recent: SynchronizedString) -> list[str]:
    with recent.get_lock():
        raw = recent.raw
    ids = [raw[i : i + ID_BYTES].decode() for i in range(0, len(raw), ID_BYTES)]
    return [report_id for report_id in ids if report_id.strip("\x00")]


def _poll_connection(
    target: Target, recorder: Recorder, deadline: float, complete_id: str,
    recent: SynchronizedString, seed: int,
) -> None:
    choices = random.Random(seed)
    client = Client(target)
    try:
        while time.time() < deadline:
            choice = choices.choices(POLL_CHOICES, POLL_WEIGHTS)[0]
            if choice == "health":
                started = time.perf_counter()
                try:
                    answer = client.request("GET", "/health")
                except (OSError, http.client.HTTPException) as error:
                    recorder.error(HEALTH, None, f"{type(error).__name__}: {error}")
                    continue
                latency = (time.perf_counter() - started) * 1000
                if answer.status == 200:
                    recorder.ok(HEALTH, latency)
                else:
                    recorder.error(HEALTH, latency, f"HTTP {answer.status}: {answer.body[:120]!r}")
            elif choice == "complete":
                recorder.get_report(client, complete_id)
            elif choice == "recent":
                ids = _recent_ids(recent)
                recorder.get_report(client, choices.choice(ids) if ids else complete_id)
            else:
                recorder.get_report(client, str(uuid.UUID(int=choices.getrandbits(128), version=4)), True)
    finally:
        client.close()


def poll_process(
    target: Target, connections: int, start: float, seconds: float, complete_id: str,
    recent: SynchronizedString, seed: int, results: multiprocessing.Queue[Any],
) -> None:
    """One load process: ``connections`` threads, each with its own keep-alive connection."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the load
    recorder = Recorder()
    deadline = start + seconds
    while time.time() < start:
        time.sleep(0.001)
    threads = [
        threading.Thread(target=_poll_connection, args=(target, recorder, deadline, complete_id, recent, seed * 1000 + i))
        for i in range(connections)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put({"tallies": recorder.plain()})


@dataclass
class TriggerOutcome:
    triggered: int = 0
    completed: int = 0
    failed: list[str] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)
    seconds_to_complete: list[float] = field(default_factory=list)


def trigger_process(
    target: Target, start: float, seconds: float, every: float, drain_seconds: float,
    recent: SynchronizedString, results: multiprocessing.Queue[Any],
) -> None:
    """POST /trigger_report every ``every`` s until the end; each report polled until it is done."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    recorder = Recorder()
    outcome = TriggerOutcome()
    client = Client(target)
    pending: dict[str, float] = {}  # report id -> when it was triggered
    deadline = start + seconds
    next_trigger = start
    while time.time() < start:
        time.sleep(0.001)
    try:
        while True:
            now = time.time()
            if now >= deadline + drain_seconds or (now >= deadline and not pending):
                break
            if now >= next_trigger and now < deadline:
                next_trigger += every
                report_id = _trigger(client, recorder)
                if report_id is not None:
                    outcome.triggered += 1
                    pending[report_id] = time.perf_counter()
                    _remember(recent, report_id, outcome.triggered)
            for report_id, triggered_at in list(pending.items()):
                answer = recorder.get_report(client, report_id)
                kind = None if answer is None else report_kind(answer)
                if kind == COMPLETE:
                    outcome.completed += 1
                    outcome.seconds_to_complete.append(time.perf_counter() - triggered_at)
                    del pending[report_id]
                elif kind == FAILED:
                    outcome.failed.append(f"{report_id}: {answer.body[:200]!r}" if answer else report_id)
                    del pending[report_id]
            time.sleep(TRIGGER_POLL_INTERVAL_S)
    finally:
        client.close()
    outcome.unfinished = sorted(pending)
    results.put({"tallies": recorder.plain(), "outcome": asdict(outcome)})


def _trigger(client: Client, recorder: Recorder) -> str | None:
    started = time.perf_counter()
    try:
        answer = client.request("POST", "/trigger_report")
    except (OSError, http.client.HTTPException) as error:
        recorder.error(TRIGGER, None, f"{type(error).__name__}: {error}")
        return None
    latency = (time.perf_counter() - started) * 1000
    if answer.status != 200:
        recorder.error(TRIGGER, latency, f"HTTP {answer.status}: {answer.body[:120]!r}")
        return None
    recorder.ok(TRIGGER, latency)
    report_id: str = answer.json()["report_id"]
    return report_id


def _remember(recent: SynchronizedString, report_id: str, count: int) -> None:
    slot = (count - 1) % RECENT_REPORTS
    with recent.get_lock():
        slots = bytearray(recent.raw)
        slots[slot * ID_BYTES : (slot + 1) * ID_BYTES] = report_id.encode().ljust(ID_BYTES, b"\x00")
        recent.raw = bytes(slots)


# -- the stack started here -----------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Stack:
    """The processes started here, each leading its own process group; all stopped by ``stop``."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.logs = work / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self._processes: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, command: Sequence[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                list(command), cwd=REPO_ROOT, env=dict(env), stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
        self._processes.append((name, process))
        return process

    def run(self, name: str, command: Sequence[str], env: Mapping[str, str]) -> None:
        process = self.start(name, command, env)
        if process.wait() != 0:
            raise LoadTestError(f"{' '.join(command[2:])} failed:{self.tail(name)}")

    def wait_until(self, what: str, ready: Any, name: str) -> None:
        process = dict(self._processes)[name]
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not ready():
            if process.poll() is not None:
                raise LoadTestError(f"{what} exited with code {process.returncode}:{self.tail(name)}")
            if time.monotonic() > deadline:
                raise LoadTestError(f"{what} not ready after {STARTUP_TIMEOUT_S:.0f} s:{self.tail(name)}")
            time.sleep(0.1)

    def tail(self, name: str, lines: int = 10) -> str:
        path = self.logs / f"{name}.log"
        text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
        return "\n  " + "\n  ".join(text.strip().splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM to every group (newest first), SIGKILL to what is left after a grace period."""
        for _, process in reversed(self._processes):
            _signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for _, process in reversed(self._processes):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            # The leader is gone; a child it left behind still carries its group id.
            _signal_group(process.pid, signal.SIGKILL)
            process.wait()
        self._processes.clear()


def _signal_group(group: int, signum: int) -> None:
    try:
        os.killpg(group, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _service_env(settings: Mapping[str, str]) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in SERVICE_VARIABLES}
    env.update({name: "" for name in SERVICE_VARIABLES})
    env.update(settings)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]))
    return env


def _cli(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "entrypoints.cli", *arguments]


def _healthy(target: Target) -> bool:
    client = Client(target)
    try:
        return client.request("GET", "/health").status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        client.close()


def start_stack(stack: Stack, data: Path, token: str | None) -> Target:
    """Redis, the database with ``data`` ingested, one worker and the API; returns the API's address."""
    redis_port = free_port()
    stack.start("redis", ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                          "--appendonly", "no"], os.environ)
    env = _service_env({
        "DATABASE_URL": f"sqlite:///{stack.work / 'store-monitor.sqlite3'}",
        "REPORTS_DIR": str(stack.work / "reports"),
        "UPLOADS_DIR": str(stack.work / "uploads"),
        "BROKER_DIR": str(stack.work / "broker"),
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
        "API_TOKEN": token or "",
    })
    print(f"ingesting {data} ...", file=sys.stderr)
    stack.run("ingest", _cli("ingest", str(data)), env)
    stack.start("worker", _cli("worker", "--concurrency", "1"), env)
    stack.wait_until("the worker", lambda: b" ready." in (stack.logs / "worker.log").read_bytes(), "worker")
    api_port = free_port()
    stack.start("api", _cli("serve", "--no-worker", "--host", "127.0.0.1", "--port", str(api_port),
                            "--processes", str(API_PROCESSES), "--threads", str(API_THREADS)), env)
    target = Target("127.0.0.1", api_port, token)
    stack.wait_until("the API", lambda: _healthy(target), "api")
    return target


# -- the run --------------------------------------------------------------------------


@dataclass
class Settings:
    seconds: float
    connections: int
    processes: int
    trigger_every: float
    drain_seconds: float


def complete_report(target: Target, timeout_s: float = 120.0) -> str:
    """A report triggered and polled until its CSV is served: the load's complete report."""
    client = Client(target)
    try:
        answer = client.request("POST", "/trigger_report")
        if answer.status != 200:
            raise LoadTestError(f"POST /trigger_report answered {answer.status}: {answer.body[:300]!r}")
        report_id: str = answer.json()["report_id"]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            kind = report_kind(client.request("GET", f"/get_report/{report_id}"))
            if kind == COMPLETE:
                return report_id
            if kind != RUNNING:
                raise LoadTestError(f"the first report did not complete: {kind}")
            time.sleep(0.1)
        raise LoadTestError(f"the first report was not complete after {timeout_s:.0f} s")
    finally:
        client.close()


def generate_load(target: Target, settings: Settings) -> dict[str, Any]:
    complete_id = complete_report(target)
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[Any] = context.Queue()
    recent: SynchronizedString = context.Array(ctypes.c_char, RECENT_REPORTS * ID_BYTES)
    # Processes take a moment to spawn: all of them begin at the same instant.
    start = time.time() + 2.0
    shares = [settings.connections // settings.processes + (i < settings.connections % settings.processes)
              for i in range(settings.processes)]
    workers = [
        context.Process(target=poll_process, args=(target, share, start, settings.seconds, complete_id, recent,
                                                   i + 1, results), name=f"poll-{i}")
        for i, share in enumerate(shares) if share
    ]
    workers.append(context.Process(target=trigger_process, args=(target, start, settings.seconds,
                                                                 settings.trigger_every, settings.drain_seconds,
                                                                 recent, results), name="trigger"))
    for worker in workers:
        worker.start()
    try:
        collected = []
        wait_s = settings.seconds + settings.drain_seconds + 60
        for _ in workers:
            collected.append(results.get(timeout=wait_s))
        for worker in workers:
            worker.join(timeout=10)
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
                worker.join()
    tallies = {kind: Tally() for kind in KINDS}
    outcome = TriggerOutcome()
    for result in collected:
        for kind, tally in result["tallies"].items():
            tallies[kind].merge(tally)
        if "outcome" in result:
            outcome = TriggerOutcome(**result["outcome"])
    return summarize(tallies, outcome, settings, complete_id)


def percentile(ordered: Sequence[float], percent: float) -> float | None:
    """The nearest-rank percentile of sorted values."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]


def summarize(tallies: Mapping[str, Tally], outcome: TriggerOutcome, settings: Settings, complete_id: str) -> dict[str, Any]:
    rows = []
    for kind in KINDS:
        tally = tallies[kind]
        ordered = sorted(tally.latencies_ms)
        rows.append({
            "kind": kind,
            "requests": len(ordered),
            "requests_per_s": round(len(ordered) / settings.seconds, 1),
            "p50_ms": _rounded(percentile(ordered, 50)),
            "p95_ms": _rounded(percentile(ordered, 95)),
            "p99_ms": _rounded(percentile(ordered, 99)),
            "errors": tally.errors,
            "error_samples": tally.error_samples,
        })
    everything = sorted(latency for tally in tallies.values() for latency in tally.latencies_ms)
    to_complete = sorted(outcome.seconds_to_complete)
    return {
        "settings": vars(settings),
        "complete_report_id": complete_id,
        "kinds": rows,
        "total": {
            "requests": len(everything),
            "requests_per_s": round(len(everything) / settings.seconds, 1),
            "p50_ms": _rounded(percentile(everything, 50)),
            "p95_ms": _rounded(percentile(everything, 95)),
            "p99_ms": _rounded(percentile(everything, 99)),
            "errors": sum(tally.errors for tally in tallies.values()),
        },
        "triggers": {
            "triggered": outcome.triggered,
            "completed": outcome.completed,
            "failed": outcome.failed,
            "unfinished": outcome.unfinished,
            "all_completed": outcome.triggered > 0 and outcome.completed == outcome.triggered,
            "seconds_to_complete_p50": _rounded(percentile(to_complete, 50), 2),
            "seconds_to_complete_max": _rounded(to_complete[-1] if to_complete else None, 2),
        },
    }


def _rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def render(summary: Mapping[str, Any]) -> str:
    settings = summary["settings"]
    lines = [
        f"{settings['seconds']:g} s, {settings['connections']} poll connections in {settings['processes']} "
        f"processes, a trigger every {settings['trigger_every']:g} s",
        "",
        f"{'request':<45} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}",
    ]
    for row in [*summary["kinds"], {"kind": "all", **summary["total"]}]:
        lines.append(
            f"{row['kind']:<45} {row['requests']:>9} {row['requests_per_s']:>8} {_cell(row['p50_ms']):>8} "
            f"{_cell(row['p95_ms']):>8} {_cell(row['p99_ms']):>8} {row['errors']:>7}"
        )
    triggers = summary["triggers"]
    lines += [
        "",
        f"triggered {triggers['triggered']}, completed {triggers['completed']}, failed {len(triggers['failed'])}, "
        f"unfinished {len(triggers['unfinished'])}: every triggered report completed: "
        f"{'yes' if triggers['all_completed'] else 'NO'} (trigger to CSV: p50 "
        f"{_cell(triggers['seconds_to_complete_p50'])} s, max {_cell(triggers['seconds_to_complete_max'])} s)",
    ]
    for row in summary["kinds"]:
        for sample in row["error_samples"]:
            lines.append(f"  error ({row['kind']}): {sample}")
    return "\n".join(lines)


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def stack_if_needed(url: str | None, token: str | None, data: Path) -> Iterator[Target]:
    """The target named by ``url``, or a stack started here (stopped when the block ends)."""
    if url is not None:
        yield Target.parse(url, token)
        return
    with tempfile.TemporaryDirectory(prefix="store-monitor-load-") as folder:
        stack = Stack(Path(folder))
        try:
            yield start_stack(stack, data, token)
        finally:
            # Ctrl-C and SIGTERM wait until everything started here is stopped.
            previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
            try:
                stack.stop()
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load_test", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the load lasts (default 20)")
    parser.add_argument("--connections", type=int, default=16, help="poll connections in all (default 16)")
    parser.add_argument("--processes", type=int, default=2, help="load processes sharing them (default 2)")
    parser.add_argument("--trigger-every", type=float, default=1.0, help="seconds between triggers (default 1)")
    parser.add_argument("--drain-seconds", type=float, default=60.0,
                        help="how long triggered reports may take to finish after the load (default 60)")
    parser.add_argument("--url", default=None, help="a running API (default: start one here)")
    parser.add_argument("--token", default=None, help="the API_TOKEN, sent as Authorization: Bearer")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="data folder for the stack started here")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    arguments = parser.parse_args(argv)
    if arguments.seconds <= 0 or arguments.connections < 1 or arguments.processes < 1 or arguments.trigger_every <= 0:
        parser.error("--seconds and --trigger-every must be positive, --connections and --processes at least 1")
    return arguments


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _interrupt)
    settings = Settings(arguments.seconds, arguments.connections, min(arguments.processes, arguments.connections),
                        arguments.trigger_every, arguments.drain_seconds)
    try:
        with stack_if_needed(arguments.url, arguments.token, arguments.data) as target:
            print(f"load on {target.url} for {settings.seconds:g} s ...", file=sys.stderr)
            summary = generate_load(target, settings)
    except LoadTestError as error:
        print(f"load test failed: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: everything started here was stopped", file=sys.stderr)
        return 130
    print(render(summary))
    if arguments.json is not None:
        arguments.json.write_text(json.dumps(summary, indent=2) + "\n")
    clean = summary["total"]["errors"] == 0 and summary["triggers"]["all_completed"]
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
