"""The running service (trigger, then poll, through Celery) beside the synchronous CLI report.

For each database (a SQLite file; a fresh PostgreSQL schema, dropped afterwards):

1. ``store-monitor ingest DIR`` once;
2. ``store-monitor report --out F``: wall clock of the whole process
   (interpreter start and imports included), best of ``--repeat``;
3. a private ``redis-server`` on a free port and the API
   (``store-monitor serve --no-worker --processes 2 --threads 4``), started
   once per database; then, for each count of ``--workers``, that many worker
   processes (``store-monitor worker --concurrency 1`` each), warmed by one
   untimed report; a timed report is the time from ``POST /trigger_report`` to
   the first ``GET /get_report/<id>`` that answers with the CSV (polled every
   ``--poll-interval``), best of ``--repeat``; the POST's own latency is kept
   too (the table shows its median). Every CSV, the warm-up's included, must
   be byte-identical to the CLI's;
4. poll throughput: with the workers stopped, a triggered report stays
   Running; a load generator in its own process (``wrk`` when on PATH, else a
   Python one: threads, keep-alive ``http.client``) asks for it with
   ``--connections`` connections for ``--poll-seconds``. The load generator
   shares the machine's CPUs with the API (and the database server), as the
   API's access log stays on.

Where a report's time goes comes from the workers' own log lines (Celery logs
each task's duration): planning, and each part (the part that completes the
report also assembles the file).

Every process started here runs in a session of its own and is stopped (its
whole process group) at the end, on an error or on Ctrl-C too.

Targets: with 2 workers a report is Complete within 1.2x the CLI's time on the
same database, and faster than the CLI once the CLI takes more than
``LONG_REPORT_SECONDS``; the poll endpoint serves at least 1,000 requests/s.

Usage::

    python -m benchmarks.bench_service [--data DIR] [--json PATH] [--databases sqlite,postgres]
        [--workers 1,2] [--repeat N] [--poll-seconds S]

Without ``--data`` the full-scale week is generated first (it needs
``../shared/data/real-2023``, see ``benchmarks/generate_data.py``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

from benchmarks.bench_report import (
    DEFAULT_HOURS_FROM,
    REPO_ROOT,
    STATUS_FILE,
    Run,
    _cell,
    _count_rows,
    _verdict,
)

DATABASES = ("sqlite", "postgres")
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
API_PROCESSES = 2
API_THREADS = 4
# The targets of the issue.
TWO_WORKER_RATIO_TARGET = 1.2
LONG_REPORT_SECONDS = 3.0
POLL_RPS_TARGET = 1000.0
TARGET_WORKERS = 2

STARTUP_TIMEOUT_S = 60.0
STOP_GRACE_S = 15.0
PYTHON_LOAD_CODE = "import sys; from benchmarks.bench_service import load_main; sys.exit(load_main(sys.argv[1:]))"


class BenchmarkError(Exception):
    """Something the benchmark needs did not work; the message says what."""


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


# -- processes ----------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    name: str
    pid: int


class Processes:
    """Every process this benchmark started, each the leader of its own session.

    A service forks children (gunicorn workers, the Celery pool): stopping one
    means signalling its whole process group, whose id is the leader's pid.
    """

    def __init__(self, logs: Path) -> None:
        self._logs = logs
        self._running: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.started: list[Started] = []

    def start(self, name: str, command: Sequence[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
        with self.log_path(name).open("ab") as log:
            process = subprocess.Popen(
                list(command), cwd=REPO_ROOT, env=dict(env), stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        self._running.append((name, process))
        self.started.append(Started(name, process.pid))
        return process

    def log_path(self, name: str) -> Path:
        return self._logs / f"{name}.log"

    def run(self, name: str, command: Sequence[str], env: Mapping[str, str]) -> Run:
        """Run ``command`` to its end: wall clock, peak RSS (``wait4``), exit code.

        Like ``bench_report.measure``, but the process is known here while it
        runs, so an interruption stops it too.
        """
        log = self.log_path(name)
        started = time.perf_counter()
        process = self.start(name, command, env)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        self._forget(process)
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:]
        scale = 1 if sys.platform == "darwin" else 1024
        return Run(seconds, usage.ru_maxrss * scale / 2**20, process.returncode, "\n".join(tail))

    def stop(self, process: subprocess.Popen[bytes], grace_s: float = STOP_GRACE_S) -> None:
        """SIGTERM to the process group (a worker finishes its task), SIGKILL after ``grace_s``."""
        if process.poll() is None:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait()
        # The leader is gone; a child it left behind still carries its group id.
        _signal_group(process.pid, signal.SIGKILL)
        self._forget(process)

    def stop_all(self) -> None:
        for _, process in reversed(list(self._running)):
            self.stop(process)

    def _forget(self, process: subprocess.Popen[bytes]) -> None:
        self._running = [(name, known) for name, known in self._running if known is not process]


def _signal_group(group: int, signum: int) -> None:
    try:
        os.killpg(group, signum)
    except (ProcessLookupError, PermissionError):
        pass


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait until the block (the clean-up) has run."""
    deferred = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, deferred)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until(what: str, ready: Any, process: subprocess.Popen[bytes] | None, log: Path | None,
                timeout_s: float = STARTUP_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise BenchmarkError(f"{what} exited with code {process.returncode}{_log_tail(log)}")
        if ready():
            return
        time.sleep(0.1)
    raise BenchmarkError(f"{what} not ready after {timeout_s:.0f} s{_log_tail(log)}")


def _log_tail(log: Path | None, lines: int = 8) -> str:
    if log is None or not log.exists():
        return ""
    tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-lines:]
    return ":\n  " + "\n  ".join(tail) if tail else ""


# -- redis ----------------------------------------------------------------------


def _redis_command(port: int, *words: str) -> bytes | None:
    """One command in RESP; the answer's payload, or None when nothing answers."""
    request = f"*{len(words)}\r\n" + "".join(f"${len(word)}\r\n{word}\r\n" for word in words)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as connection:
            connection.sendall(request.encode())
            answer = b""
            while b"\r\n" not in answer:
                chunk = connection.recv(65536)
                if not chunk:
                    return None
                answer += chunk
            first, _, rest = answer.partition(b"\r\n")
            if not first.startswith(b"$"):
                return first
            # A bulk string: its length, then that many bytes.
            length = int(first[1:])
            while len(rest) < length:
                chunk = connection.recv(65536)
                if not chunk:
                    return None
                rest += chunk
            return rest[:length]
    except (OSError, ValueError):
        return None


def start_redis(processes: Processes, name: str) -> tuple[subprocess.Popen[bytes], int]:
    """A private redis-server on a free port, checked to be this very process."""
    if shutil.which("redis-server") is None:
        raise BenchmarkError("redis-server not found on PATH (Debian package redis-server)")
    port = free_port()
    process = processes.start(name, ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                     "--save", "", "--appendonly", "no"], os.environ)

    def ours() -> bool:
        # Another redis could own the port after a race: check the answering pid.
        answer = _redis_command(port, "INFO", "server")
        return answer is not None and f"process_id:{process.pid}\r\n".encode() in answer

    _wait_until("redis-server", ours, process, processes.log_path(name), timeout_s=15.0)
    return process, port


# -- databases ------------------------------------------------------------------


@dataclass
class Database:
    name: str
    url: str
    shown: str
    schema: str | None = None
    admin_url: str | None = None


def prepare_database(name: str, folder: Path, postgres_url: str) -> Database:
    if name == "sqlite":
        path = folder / "store-monitor.sqlite3"
        return Database(name, f"sqlite:///{path}", f"sqlite:///{path}")
    # Imported here: the load generator imports this module and stays small.
    from sqlalchemy.engine import make_url

    from adapters.sqlalchemy.database import create_engine_for

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine_for(postgres_url)
    try:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    finally:
        admin.dispose()
    parsed = make_url(postgres_url)
    options = " ".join(part for part in (str(parsed.query.get("options", "")), f"-csearch_path={schema}") if part)
    url = parsed.update_query_dict({"options": options})
    return Database(name, url.render_as_string(hide_password=False), url.render_as_string(hide_password=True),
                    schema=schema, admin_url=postgres_url)


def drop_database(database: Database) -> None:
    if database.schema is None or database.admin_url is None:
        return
    from adapters.sqlalchemy.database import create_engine_for

    admin = create_engine_for(database.admin_url)
    try:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{database.schema}" CASCADE')
    finally:
        admin.dispose()


def postgres_unreachable(url: str) -> str | None:
    """Why PostgreSQL at ``url`` cannot be used, or None when it answers."""
    try:
        from adapters.sqlalchemy.database import create_engine_for

        engine = create_engine_for(url)
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        finally:
            engine.dispose()
    except Exception as error:  # noqa: BLE001 - any failure means: no server to benchmark
        return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return None


# -- HTTP -----------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes

    def json(self) -> dict[str, Any]:
        value = json.loads(self.body)
        if not isinstance(value, dict):
            raise BenchmarkError(f"expected a JSON object, got {self.body[:200]!r}")
        return value


class HttpClient:
    """One keep-alive connection to the API, reopened when the server closed it."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._connection: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str) -> Answer:
        for attempt in (1, 2):
            if self._connection is None:
                self._connection = http.client.HTTPConnection("127.0.0.1", self._port, timeout=30)
            try:
                self._connection.request(method, path)
                response = self._connection.getresponse()
                body = response.read()
                return Answer(response.status, response.getheader("Content-Type") or "", body)
            except (http.client.RemoteDisconnected, ConnectionError, http.client.CannotSendRequest):
                # An idle keep-alive connection the server closed: one retry.
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _healthy(client: HttpClient) -> bool:
    """The API answers with its database and broker; workers (started after it) may not be up yet."""
    try:
        answer = client.request("GET", "/health")
        return answer.status == 200 or (answer.json().get("database"), answer.json().get("broker")) == ("ok", "ok")
    except OSError:
        client.close()
        return False


def trigger(client: HttpClient) -> tuple[str, float]:
    """A new report's id, and the POST's latency in seconds."""
    started = time.perf_counter()
    answer = client.request("POST", "/trigger_report")
    latency = time.perf_counter() - started
    if answer.status != 200:
        raise BenchmarkError(f"POST /trigger_report answered {answer.status}: {answer.body[:300]!r}")
    return str(answer.json()["report_id"]), latency


# -- one report through the service ----------------------------------------------


@dataclass
class ServiceRun:
    """One report: seconds from the POST to the CSV, the POST's latency, what the polls saw."""

    report_id: str
    seconds: float
    trigger_ms: float
    polls: int
    # Seconds after the POST when a poll first saw the plan (its total of parts).
    planned_s: float | None
    parts: int | None
    identical: bool
    tasks: dict[str, Any] = field(default_factory=dict)


def run_report(client: HttpClient, expected: bytes, poll_interval_s: float, timeout_s: float) -> ServiceRun:
    started = time.perf_counter()
    report_id, trigger_s = trigger(client)
    path = f"/get_report/{report_id}"
    polls = 0
    planned_s: float | None = None
    parts: int | None = None
    while True:
        asked = time.perf_counter()
        answer = client.request("GET", path)
        polls += 1
        if answer.status == 200 and answer.content_type.startswith("text/csv"):
            seconds = time.perf_counter() - started
            return ServiceRun(report_id, seconds, trigger_s * 1000, polls, planned_s, parts, answer.body == expected)
        if answer.status != 200:
            raise BenchmarkError(f"GET {path} answered {answer.status}: {answer.body[:300]!r}")
        state = answer.json()
        if state.get("status") != "Running":
            raise BenchmarkError(f"report {report_id}: {state}")
        total = int(state.get("progress", {}).get("total", 0))
        if total and planned_s is None:
            planned_s, parts = asked - started, total
        if asked - started > timeout_s:
            raise BenchmarkError(f"report {report_id} not complete after {timeout_s:.0f} s: {state}")
        time.sleep(max(0.0, asked + poll_interval_s - time.perf_counter()))


# Celery's own log lines of a task: "Task store_monitor.compute_part[<id>] received", then
# "Task store_monitor.compute_part[<id>] succeeded in 0.07s: False".
_TASK_LINE = re.compile(
    r"Task store_monitor\.(?P<task>\w+)\[(?P<id>[0-9a-f-]+)\] "
    r"(?:(?P<received>received)|succeeded in (?P<seconds>[0-9.e+-]+)s)"
)


class WorkerLogs:
    """Task durations that the workers logged since the last ``take``."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self._offsets = {path: path.stat().st_size if path.exists() else 0 for path in paths}

    def _read(self) -> tuple[str, dict[Path, int]]:
        texts, ends = [], {}
        for path, offset in self._offsets.items():
            with path.open("rb") as log:
                log.seek(offset)
                texts.append(log.read().decode("utf-8", errors="replace"))
                ends[path] = log.tell()
        return "\n".join(texts), ends

    def take(self, settle_s: float = 10.0) -> dict[str, Any]:
        """Waits (up to ``settle_s``) until every task received has logged its end."""
        deadline = time.monotonic() + settle_s
        while True:
            text, ends = self._read()
            received, done = set(), {}
            for match in _TASK_LINE.finditer(text):
                if match["received"]:
                    received.add(match["id"])
                else:
                    done[match["id"]] = (match["task"], float(match["seconds"]))
            if (received and received <= done.keys()) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self._offsets = ends
        plan = [seconds for task, seconds in done.values() if task == "plan_report"]
        parts = [seconds for task, seconds in done.values() if task != "plan_report"]
        return {
            "plans": len(plan),
            "plan_s": round(sum(plan), 4),
            "parts": len(parts),
            "part_s_min": round(min(parts), 4) if parts else None,
            "part_s_median": round(statistics.median(parts), 4) if parts else None,
            "part_s_max": round(max(parts), 4) if parts else None,
            "part_s_sum": round(sum(parts), 4),
            "unfinished_tasks": len(received - done.keys()),
        }


# -- poll throughput -------------------------------------------------------------


@dataclass
class PollLoad:
    tool: str
    connections: int
    seconds: float
    requests: int
    requests_per_s: float
    p50_ms: float | None
    p99_ms: float | None
    errors: int


def _percentile(ordered: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile of an ascending sequence."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def generate_load(host: str, port: int, path: str, connections: int, seconds: float) -> PollLoad:
    """GET ``path`` on ``connections`` keep-alive connections (one thread each) for ``seconds``."""
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections
    start = threading.Barrier(connections + 1)
    deadline = [0.0]

    def hammer(slot: int) -> None:
        connection = http.client.HTTPConnection(host, port, timeout=10)
        mine = latencies[slot]
        start.wait()
        while (now := time.perf_counter()) < deadline[0]:
            try:
                connection.request("GET", path)
                response = connection.getresponse()
                response.read()
                mine.append(time.perf_counter() - now)
                if response.status != 200:
                    errors[slot] += 1
            except (OSError, http.client.HTTPException):
                errors[slot] += 1
                connection.close()
                connection = http.client.HTTPConnection(host, port, timeout=10)
        connection.close()

    threads = [threading.Thread(target=hammer, args=(slot,), daemon=True) for slot in range(connections)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    deadline[0] = began + seconds
    start.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    ordered = sorted(latency for slot in latencies for latency in slot)
    p50, p99 = _percentile(ordered, 0.50), _percentile(ordered, 0.99)
    return PollLoad(
        tool="python", connections=connections, seconds=round(elapsed, 3), requests=len(ordered),
        requests_per_s=round(len(ordered) / elapsed, 1) if elapsed > 0 else 0.0,
        p50_ms=None if p50 is None else round(p50 * 1000, 3),
        p99_ms=None if p99 is None else round(p99 * 1000, 3),
        errors=sum(errors),
    )


def load_main(argv: Sequence[str]) -> int:
    """The Python load generator's process: ``URL CONNECTIONS SECONDS`` in, one JSON line out."""
    url, connections, seconds = argv
    match = re.fullmatch(r"http://([^:/]+):(\d+)(/.*)", url)
    if match is None:
        print(f"not an http://host:port/path URL: {url}", file=sys.stderr)
        return 2
    load = generate_load(match[1], int(match[2]), match[3], int(connections), float(seconds))
    print(json.dumps(asdict(load)))
    return 0


_WRK_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def parse_wrk(text: str, connections: int) -> PollLoad:
    """The figures of ``wrk --latency`` output."""

    def latency_ms(percent: str) -> float | None:
        found = re.search(rf"^\s*{percent}%\s+([0-9.]+)(us|ms|s|m)\s*$", text, re.MULTILINE)
        return None if found is None else round(float(found[1]) * _WRK_UNITS[found[2]], 3)

    total = re.search(r"(\d+) requests in ([0-9.]+)(us|ms|s|m)", text)
    rate = re.search(r"Requests/sec:\s+([0-9.]+)", text)
    if total is None or rate is None:
        raise BenchmarkError(f"wrk output not understood:\n{text}")
    errors = 0
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if sockets is not None:
        errors += sum(int(value) for value in sockets.groups())
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if non_2xx is not None:
        errors += int(non_2xx[1])
    return PollLoad(
        tool="wrk", connections=connections,
        seconds=round(float(total[2]) * _WRK_UNITS[total[3]] / 1000, 3),
        requests=int(total[1]), requests_per_s=float(rate[1]),
        p50_ms=latency_ms("50"), p99_ms=latency_ms("99"), errors=errors,
    )


def measure_poll_load(processes: Processes, tool: str, url: str, connections: int, seconds: float,
                      env: Mapping[str, str], name: str) -> PollLoad:
    """The load generator, in a process of its own."""
    if tool == "wrk":
        threads = max(1, min(2, connections))
        command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", url]
    else:
        command = [sys.executable, "-c", PYTHON_LOAD_CODE, url, str(connections), str(seconds)]
    run = processes.run(name, command, env)
    output = processes.log_path(name).read_text(encoding="utf-8", errors="replace")
    if run.returncode != 0:
        raise BenchmarkError(f"the load generator exited with code {run.returncode}:\n{run.stderr_tail}")
    if tool == "wrk":
        return parse_wrk(output, connections)
    last = [line for line in output.splitlines() if line.startswith("{")][-1]
    return PollLoad(**json.loads(last))


# -- the benchmark ----------------------------------------------------------------


@dataclass
class Settings:
    data: Path
    work: Path
    databases: Sequence[str]
    workers: Sequence[int]
    repeat: int
    poll_seconds: float
    poll_interval_s: float
    connections: int
    load_tool: str
    chunk_size: int | None
    timeout_s: float
    postgres_url: str


@dataclass
class ServiceResult:
    workers: int
    warmup: ServiceRun | None = None
    runs: list[ServiceRun] = field(default_factory=list)
    failure: str | None = None

    @property
    def best(self) -> ServiceRun | None:
        return min(self.runs, key=lambda run: run.seconds) if self.runs and self.failure is None else None

    @property
    def identical(self) -> bool | None:
        checked = ([self.warmup] if self.warmup else []) + self.runs
        return all(run.identical for run in checked) if checked else None


@dataclass
class DatabaseResult:
    database: str
    url: str
    schema: str | None = None
    ingest: Run | None = None
    cli_runs: list[Run] = field(default_factory=list)
    service: list[ServiceResult] = field(default_factory=list)
    poll: PollLoad | None = None
    completed_get_ok: bool | None = None
    skipped: str | None = None
    failure: str | None = None

    @property
    def cli_seconds(self) -> float | None:
        ok = [run.seconds for run in self.cli_runs if run.returncode == 0]
        return min(ok) if ok and len(ok) == len(self.cli_runs) else None


def _child_env(settings: Settings, database: Database, broker_url: str, work: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DATABASE_URL", "CELERY_", "REPORT", "STORAGE_", "CSV_DIR", "BROKER_DIR"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]))
    env.update({
        "DATABASE_URL": database.url,
        "CELERY_BROKER_URL": broker_url,
        "CELERY_RESULT_BACKEND": "",
        "REPORT_STORAGE": "filesystem",
        "REPORTS_DIR": str(work / "reports"),
        "BROKER_DIR": str(work / "broker"),
    })
    if settings.chunk_size is not None:
        env["REPORT_CHUNK_SIZE"] = str(settings.chunk_size)
    return env


def _cli(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "entrypoints.cli", *arguments]


def benchmark_database(settings: Settings, name: str, processes: Processes, result: DatabaseResult,
                       database: Database) -> None:
    """Fills ``result`` step by step, so a failure keeps what was measured before it."""
    work = settings.work / name
    work.mkdir(parents=True, exist_ok=True)
    # The CLI runs without a broker: it never queues anything.
    cli_env = _child_env(settings, database, "", work)

    print(f"[{name}] ingesting {settings.data} ...", file=sys.stderr)
    result.ingest = processes.run(f"{name}-ingest", _cli("ingest", str(settings.data)), cli_env)
    if result.ingest.returncode != 0:
        raise BenchmarkError(f"ingest failed: {result.ingest.stderr_tail}")
    cli_report = work / "cli-report.csv"
    for attempt in range(settings.repeat):
        run = processes.run(f"{name}-cli-report-{attempt}", _cli("report", "--out", str(cli_report)), cli_env)
        result.cli_runs.append(run)
        print(f"[{name}] CLI report {attempt + 1}/{settings.repeat}: {run.seconds:.2f} s", file=sys.stderr)
        if run.returncode != 0:
            raise BenchmarkError(f"CLI report failed: {run.stderr_tail}")
    expected = cli_report.read_bytes()

    redis, redis_port = start_redis(processes, f"{name}-redis")
    env = _child_env(settings, database, f"redis://127.0.0.1:{redis_port}/0", work)
    api_port = free_port()
    api = processes.start(f"{name}-api", _cli(
        "serve", "--no-worker", "--host", "127.0.0.1", "--port", str(api_port),
        "--processes", str(API_PROCESSES), "--threads", str(API_THREADS),
    ), env)
    client = HttpClient(api_port)
    try:
        _wait_until("the API", lambda: _healthy(client), api, processes.log_path(f"{name}-api"))
        for count in settings.workers:
            service = ServiceResult(count)
            result.service.append(service)
            try:
                _benchmark_workers(settings, name, processes, env, client, expected, service)
            except BenchmarkError as error:
                service.failure = str(error)
                print(f"[{name}] {count} worker(s) failed: {error}", file=sys.stderr)
        _benchmark_polls(settings, name, processes, env, client, api_port, result)
    finally:
        client.close()
        processes.stop(api)
        processes.stop(redis)


def _benchmark_workers(settings: Settings, name: str, processes: Processes, env: Mapping[str, str],
                       client: HttpClient, expected: bytes, service: ServiceResult) -> None:
    workers = []
    logs = []
    for index in range(service.workers):
        worker_name = f"{name}-workers{service.workers}-{index}"
        workers.append(processes.start(worker_name, _cli("worker", "--concurrency", "1", "--loglevel", "INFO"), env))
        logs.append(processes.log_path(worker_name))
    try:
        for worker, log in zip(workers, logs):
            _wait_until("a worker", lambda log=log: b" ready." in log.read_bytes(), worker, log)
        tasks = WorkerLogs(logs)
        service.warmup = run_report(client, expected, settings.poll_interval_s, settings.timeout_s)
        service.warmup.tasks = tasks.take()
        for attempt in range(settings.repeat):
            run = run_report(client, expected, settings.poll_interval_s, settings.timeout_s)
            run.tasks = tasks.take()
            service.runs.append(run)
            print(f"[{name}] {service.workers} worker(s), report {attempt + 1}/{settings.repeat}: "
                  f"{run.seconds:.2f} s (trigger {run.trigger_ms:.1f} ms, planned at "
                  f"{_cell(run.planned_s, 2)} s, {run.parts} parts)"
                  + ("" if run.identical else ", CSV DIFFERS from the CLI's"), file=sys.stderr)
    finally:
        for worker in workers:
            processes.stop(worker)


def _benchmark_polls(settings: Settings, name: str, processes: Processes, env: Mapping[str, str],
                     client: HttpClient, api_port: int, result: DatabaseResult) -> None:
    """GET of a Running report (no worker is up, so it stays Running) under load."""
    completed = [run for service in result.service for run in service.runs]
    report_id, _ = trigger(client)
    answer = client.request("GET", f"/get_report/{report_id}")
    if answer.status != 200 or answer.json().get("status") != "Running":
        raise BenchmarkError(f"the report to poll is not Running: {answer.status} {answer.body[:200]!r}")
    url = f"http://127.0.0.1:{api_port}/get_report/{report_id}"
    print(f"[{name}] poll throughput: {settings.connections} connections, {settings.poll_seconds:g} s "
          f"({settings.load_tool}) ...", file=sys.stderr)
    result.poll = measure_poll_load(processes, settings.load_tool, url, settings.connections,
                                    settings.poll_seconds, env, f"{name}-load")
    if completed:
        # The completed report still answers with its CSV after the load.
        done = client.request("GET", f"/get_report/{completed[-1].report_id}")
        result.completed_get_ok = done.status == 200 and done.content_type.startswith("text/csv")


# -- results ------------------------------------------------------------------------


def _service_row(database: DatabaseResult, service: ServiceResult) -> dict[str, Any]:
    best = service.best
    cli = database.cli_seconds
    ratio = best.seconds / cli if best is not None and cli else None
    trigger_ms = [run.trigger_ms for run in service.runs]
    row: dict[str, Any] = {
        "workers": service.workers,
        "seconds": None if best is None else round(best.seconds, 4),
        "ratio_to_cli": None if ratio is None else round(ratio, 4),
        "trigger_ms_median": round(statistics.median(trigger_ms), 3) if trigger_ms else None,
        "trigger_ms_best": round(min(trigger_ms), 3) if trigger_ms else None,
        "reports_identical": service.identical,
        "warmup": None if service.warmup is None else asdict(service.warmup),
        "runs": [asdict(run) for run in service.runs],
        "failure": service.failure,
        "target_ratio": None,
        "must_beat_cli": None,
        "pass": None,
    }
    if service.workers == TARGET_WORKERS and ratio is not None and cli is not None:
        must_beat = cli > LONG_REPORT_SECONDS
        row["target_ratio"] = TWO_WORKER_RATIO_TARGET
        row["must_beat_cli"] = must_beat
        row["pass"] = ratio <= TWO_WORKER_RATIO_TARGET and (ratio < 1.0 or not must_beat)
    return row


def database_summary(database: DatabaseResult) -> dict[str, Any]:
    poll = None if database.poll is None else asdict(database.poll)
    if poll is not None:
        poll["target_rps"] = POLL_RPS_TARGET
        poll["pass"] = database.poll is not None and (
            database.poll.requests_per_s >= POLL_RPS_TARGET and database.poll.errors == 0
        )
    return {
        "database": database.database,
        "url": database.url,
        "schema": database.schema,
        "skipped": database.skipped,
        "failure": database.failure,
        "ingest": None if database.ingest is None else asdict(database.ingest),
        "cli_report": {
            "seconds": None if database.cli_seconds is None else round(database.cli_seconds, 4),
            "runs": [asdict(run) for run in database.cli_runs],
        },
        "service": [_service_row(database, service) for service in database.service],
        "poll_throughput": poll,
        "completed_report_served": database.completed_get_ok,
    }


def summarize(settings: Settings, results: Sequence[DatabaseResult], processes: Processes,
              generator_seconds: float | None, load_tool: str) -> dict[str, Any]:
    databases = [database_summary(result) for result in results]
    broken = any(
        entry["failure"]
        or any(row["failure"] or row["reports_identical"] is False for row in entry["service"])
        or (entry["poll_throughput"] is not None and entry["poll_throughput"]["errors"])
        for entry in databases
    )
    verdicts = [row["pass"] for entry in databases for row in entry["service"]] + [
        entry["poll_throughput"]["pass"] for entry in databases if entry["poll_throughput"] is not None
    ]
    return {
        "data": str(settings.data),
        "status_rows": _count_rows(settings.data / STATUS_FILE),
        "generator_seconds": generator_seconds,
        "repeat": settings.repeat,
        "poll_interval_s": settings.poll_interval_s,
        "chunk_size": settings.chunk_size,
        "api": {"processes": API_PROCESSES, "threads": API_THREADS},
        "load_tool": load_tool,
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "targets": {
            "workers": TARGET_WORKERS,
            "max_ratio_to_cli": TWO_WORKER_RATIO_TARGET,
            "beat_cli_when_cli_seconds_over": LONG_REPORT_SECONDS,
            "poll_requests_per_s": POLL_RPS_TARGET,
        },
        "databases": databases,
        "processes": [asdict(started) for started in processes.started],
        "broken": broken,
        "passed": not broken and all(verdict is not False for verdict in verdicts),
    }


def format_table(summary: Mapping[str, Any]) -> str:
    header = ("database", "workers", "seconds", "x CLI", "trigger ms", "plan s", "parts", "target", "result")
    lines: list[tuple[str, ...]] = [header]
    notes: list[str] = []
    for entry in summary["databases"]:
        name = entry["database"]
        if entry["skipped"]:
            notes.append(f"{name}: skipped: {entry['skipped']}")
            continue
        cli = entry["cli_report"]["seconds"]
        lines.append((name, "CLI", _cell(cli, 2), "1.00" if cli else "-", "-", "-", "-", "-", "-"))
        for row in entry["service"]:
            best = min(row["runs"], key=lambda run: run["seconds"]) if row["runs"] and not row["failure"] else None
            plan = None if best is None else best["tasks"].get("plan_s")
            target = "-"
            if row["target_ratio"] is not None:
                target = f"<= {row['target_ratio']:g}x" + (", < 1x" if row["must_beat_cli"] else "")
            lines.append((
                name, str(row["workers"]), "FAILED" if row["failure"] else _cell(row["seconds"], 2),
                _cell(row["ratio_to_cli"], 2), _cell(row["trigger_ms_median"], 1), _cell(plan, 2),
                "-" if best is None else str(best["tasks"].get("parts") or best["parts"] or "-"), target,
                _verdict(row["pass"]),
            ))
            if row["failure"]:
                notes.append(f"{name}, {row['workers']} worker(s) failed: {row['failure']}")
            if row["reports_identical"] is False:
                notes.append(f"{name}, {row['workers']} worker(s): a CSV DIFFERS from the CLI's")
        if entry["failure"]:
            notes.append(f"{name} failed: {entry['failure']}")
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["  ".join(cell.ljust(width) if i < 2 else cell.rjust(width) for i, (cell, width) in enumerate(zip(line, widths)))
            for line in lines]
    text.insert(1, "-" * len(text[0]))
    text.append("")
    for entry in summary["databases"]:
        for row in entry["service"]:
            best = min(row["runs"], key=lambda run: run["seconds"]) if row["runs"] and not row["failure"] else None
            if best is None or not best["tasks"].get("parts"):
                continue
            tasks = best["tasks"]
            text.append(
                f"where the time goes, {entry['database']}, {row['workers']} worker(s): planned (seen by a poll) at "
                f"{_cell(best['planned_s'], 2)} s; plan task {tasks['plan_s']:.2f} s; {tasks['parts']} parts of "
                f"{tasks['part_s_min']:.2f}-{tasks['part_s_max']:.2f} s (median {tasks['part_s_median']:.2f}, "
                f"sum {tasks['part_s_sum']:.2f} s)"
            )
    for entry in summary["databases"]:
        poll = entry["poll_throughput"]
        if poll is None:
            continue
        text.append(
            f"poll throughput, {entry['database']}: {poll['requests_per_s']:,.0f} requests/s "
            f"({poll['requests']:,} in {poll['seconds']:.1f} s, {poll['connections']} connections, {poll['tool']}), "
            f"p50 {_cell(poll['p50_ms'], 2)} ms, p99 {_cell(poll['p99_ms'], 2)} ms, {poll['errors']} errors"
            f" [target >= {POLL_RPS_TARGET:,.0f}/s: {_verdict(poll['pass'])}]"
        )
    text.append("")
    text.append(f"targets: with {TARGET_WORKERS} workers Complete within {TWO_WORKER_RATIO_TARGET:g}x the CLI report "
                f"on the same database, and faster than it when the CLI takes over {LONG_REPORT_SECONDS:g} s; "
                f"poll endpoint >= {POLL_RPS_TARGET:,.0f} requests/s")
    text.append(f"data: {summary['data']} ({summary['status_rows']:,} status rows); best of {summary['repeat']}; "
                f"polled every {summary['poll_interval_s'] * 1000:.0f} ms; CLI time is the whole process's")
    if summary["generator_seconds"] is not None:
        text.append(f"generated in {summary['generator_seconds']:.1f} s")
    identical = [row["reports_identical"] for entry in summary["databases"] for row in entry["service"]]
    text.append("service and CLI reports byte-identical: "
                + ("not compared" if not identical or all(value is None for value in identical)
                   else "yes" if all(value is not False for value in identical) else "NO"))
    text.extend(notes)
    return "\n".join(text)


# -- command line -------------------------------------------------------------------


def _list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_service",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument("--data", type=Path, help="input folder (default: generate the full-scale week)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--databases", default=",".join(DATABASES), help="comma-separated: sqlite,postgres")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker process counts (default 1,2)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs each, best kept (default 3)")
    parser.add_argument("--poll-seconds", type=float, default=10.0, help="duration of the poll load (default 10)")
    parser.add_argument("--poll-interval", type=float, default=0.05, help="seconds between polls of a report")
    parser.add_argument("--connections", type=int, default=16, help="connections of the poll load (default 16)")
    parser.add_argument("--load-tool", choices=("auto", "wrk", "python"), default="auto",
                        help="poll load generator (auto: wrk when on PATH)")
    parser.add_argument("--chunk-size", type=int, default=None,
                        help="REPORT_CHUNK_SIZE of the service (default: the service's own)")
    parser.add_argument("--timeout", type=float, default=600.0, help="most seconds one report may take")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (data, databases, logs)")
    parser.add_argument("--hours-from", type=Path, default=DEFAULT_HOURS_FROM,
                        help="real folder the full-scale week is generated from")
    parser.add_argument("--seed", type=int, default=2023, help="seed of the generated week")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed, too")
    return parser


def _settings(parser: argparse.ArgumentParser, args: argparse.Namespace, work: Path) -> Settings:
    databases = _list(args.databases)
    unknown = sorted(set(databases) - set(DATABASES))
    if unknown or not databases:
        parser.error(f"--databases: choose from {','.join(DATABASES)}")
    try:
        workers = [int(count) for count in _list(args.workers)]
    except ValueError:
        parser.error("--workers: comma-separated whole numbers")
    if not workers or min(workers) < 1:
        parser.error("--workers: at least one count, each at least 1")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.poll_seconds <= 0 or args.poll_interval <= 0 or args.connections < 1:
        parser.error("--poll-seconds, --poll-interval and --connections must be positive")
    if args.chunk_size is not None and args.chunk_size < 1:
        parser.error("--chunk-size must be at least 1")
    if args.data is not None and not (args.data / STATUS_FILE).exists():
        parser.error(f"{args.data}: no {STATUS_FILE}")
    load_tool = args.load_tool
    if load_tool == "auto":
        load_tool = "wrk" if shutil.which("wrk") else "python"
    elif load_tool == "wrk" and shutil.which("wrk") is None:
        parser.error("--load-tool wrk: wrk not found on PATH (Debian package wrk)")
    return Settings(
        data=(args.data or work / "data").resolve(), work=work, databases=databases, workers=workers,
        repeat=args.repeat, poll_seconds=args.poll_seconds, poll_interval_s=args.poll_interval,
        connections=args.connections, load_tool=load_tool, chunk_size=args.chunk_size, timeout_s=args.timeout,
        postgres_url=os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL),
    )


def run_benchmark(settings: Settings, processes: Processes, results: list[DatabaseResult],
                  prepared: list[Database]) -> None:
    for name in settings.databases:
        result = DatabaseResult(name, "")
        results.append(result)
        if name == "postgres":
            reason = postgres_unreachable(settings.postgres_url)
            if reason is not None:
                result.skipped = f"PostgreSQL not reachable: {reason}"
                print(f"[{name}] skipped: {result.skipped}", file=sys.stderr)
                continue
        (settings.work / name).mkdir(parents=True, exist_ok=True)
        database = prepare_database(name, settings.work / name, settings.postgres_url)
        prepared.append(database)
        result.url, result.schema = database.shown, database.schema
        try:
            benchmark_database(settings, name, processes, result, database)
        except BenchmarkError as error:
            result.failure = str(error)
            print(f"[{name}] failed: {error}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="store-monitor-bench-service-"))
    settings = _settings(parser, args, work)
    logs = work / "logs"
    logs.mkdir()
    processes = Processes(logs)
    results: list[DatabaseResult] = []
    prepared: list[Database] = []
    previous = {signum: signal.signal(signum, _interrupt) for signum in (signal.SIGTERM, signal.SIGHUP)}
    generator_seconds: float | None = None
    try:
        if args.data is None:
            print(f"generating the full-scale week from {args.hours_from} ...", file=sys.stderr)
            generation = processes.run("generate", [
                sys.executable, "-m", "benchmarks.generate_data", "--scale", "full", "--out", str(settings.data),
                "--hours-from", str(args.hours_from.resolve()), "--seed", str(args.seed),
            ], os.environ)
            if generation.returncode != 0:
                print(f"error: could not generate the data (pass --data DIR):\n{generation.stderr_tail}",
                      file=sys.stderr)
                return 2
            generator_seconds = generation.seconds
        run_benchmark(settings, processes, results, prepared)
        summary = summarize(settings, results, processes, generator_seconds, settings.load_tool)
        print(format_table(summary))
        if args.json is not None:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        if summary["broken"] or (args.strict and not summary["passed"]):
            return 1
        return 0
    except BenchmarkError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: stopping everything started", file=sys.stderr)
        return 130
    finally:
        with _signals_deferred():
            processes.stop_all()
            for database in prepared:
                try:
                    drop_database(database)
                except Exception as error:  # noqa: BLE001 - clean-up goes on; the schema is named
                    print(f"warning: could not drop schema {database.schema}: {error}", file=sys.stderr)
            if args.keep:
                print(f"kept: {work}", file=sys.stderr)
            else:
                shutil.rmtree(work, ignore_errors=True)
            for signum, handler in previous.items():
                signal.signal(signum, handler)


if __name__ == "__main__":
    sys.exit(main())
