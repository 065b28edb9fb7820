"""The running service in real processes: a private redis-server, workers, the HTTP API.

Every process is started in a session (process group) of its own, writes its
output to a log file under the test's folder, and is killed with its whole
group when the test ends. When something does not happen in time, the test
fails with the tails of those logs, so the cause is in the report.

Redis comes from ``REDIS_URL`` when it is set (each use takes a database
number of its own, flushed first; a test that must stop and start Redis is
skipped); otherwise a ``redis-server`` found on PATH is started on a
free port. Without one the tests are skipped with the reason, unless
``REQUIRE_REDIS=1``, which makes that a failure.

Test modules import the fixtures they use by name, e.g.
``from service_fixtures import redis_server, service``.
"""

from __future__ import annotations

import fcntl
import http.client
import itertools
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from sqlalchemy import select

from adapters.sqlalchemy.database import create_engine_for
from adapters.sqlalchemy.tables import reports

import launcher
from launcher import Child

REPO = Path(__file__).resolve().parents[2]

# Every setting the service reads from its environment. Each is given to a
# started process explicitly ("" means the default), so neither the caller's
# environment nor a .env file found by ``load_dotenv`` can change a test.
SERVICE_VARIABLES = (
    "DATABASE_URL",
    "STORAGE_BACKEND",
    "CSV_DIR",
    "REPORTS_DIR",
    "REPORT_STORAGE",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "CELERY_VISIBILITY_TIMEOUT",
    "BROKER_DIR",
    "REPORT_CHUNK_SIZE",
    "REPORT_STALL_SECONDS",
    "LEASE_SECONDS",
    "WATCHDOG_SECONDS",
    "HOST",
    "PORT",
    "API_TOKEN",
    "REPORT_RETENTION_DAYS",
    "UPLOADS_DIR",
    "INGEST_MAX_BYTES",
    "INGEST_WATCH_DIR",
    "INGEST_EVERY_MINUTES",
)

STARTUP_TIMEOUT_S = 30.0
REDIS_DATABASES = 16  # redis-server's default number of databases
LOG_TAIL_LINES = 25


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# A request line of a successful or refused request: gunicorn's access log ("GET /x HTTP/1.1" 200 57)
# or the API's own, in kv (logger=store_monitor.request ... status=200) or JSON ("status": 200).
_QUIET_ACCESS_LINE = re.compile(
    r'"[A-Z]+ \S+ HTTP/1\.[01]" [1-4]\d\d |store_monitor\.request.*(status=|"status": )[1-4]\d\d\b'
)


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file ('' when it does not exist), without the polls' access lines."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    kept = [line for line in text.splitlines() if not _QUIET_ACCESS_LINE.search(line)]
    return "\n".join(kept[-lines:])


def process_state(pid: int) -> str | None:
    """The scheduler state of ``pid`` from /proc ('R', 'S', 'T' stopped, 'Z' exited...); None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def wait_for(
    condition: Callable[[], bool], timeout: float, what: str, diagnostics: Callable[[], str], interval: float = 0.05
) -> None:
    """Return once ``condition()`` holds; fail the test with ``diagnostics()`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:.0f} s\n{diagnostics()}")
        time.sleep(interval)


# --------------------------------------------------------------------------- Redis


class RedisServer:
    """A Redis the test can use; a private one can also be stopped and started again on its port."""

    def __init__(self, url: str, executable: str | None = None, port: int = 0, directory: Path | None = None) -> None:
        self.url = url
        self._executable = executable
        self._port = port
        self._directory = directory
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def controllable(self) -> bool:
        """True for a private server, which ``stop`` and ``start`` may control."""
        return self._executable is not None

    @property
    def log_path(self) -> Path | None:
        return None if self._directory is None else self._directory / "redis.log"

    @property
    def pid(self) -> int | None:
        """The private server's process id (None for a shared one, or a stopped one)."""
        return None if self._process is None else self._process.pid

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=2)

    def answers(self) -> bool:
        try:
            with self.client() as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def start(self) -> None:
        """Start the private server (again, on the same port) and wait until it answers PING."""
        self._require_control()
        assert self._executable is not None and self._directory is not None and self.log_path is not None
        if self._process is not None and self._process.poll() is None:
            return
        self._directory.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    self._executable,
                    "--port", str(self._port),
                    "--bind", "127.0.0.1",
                    "--save", "",
                    "--appendonly", "no",
                    "--dir", str(self._directory),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(self.answers, 10, f"redis-server on port {self._port} answering PING", self.diagnostics)

    def stop(self) -> None:
        """Stop the private server; its port refuses connections until ``start``."""
        self._require_control()
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def flush(self) -> None:
        """Drop every key: queued messages included."""
        with self.client() as client:
            if self.controllable:
                client.flushall()
            else:
                client.flushdb()  # a shared server: only the database of the URL

    def close(self) -> None:
        if self.controllable:
            self.stop()

    def diagnostics(self) -> str:
        if self.log_path is None:
            return f"--- redis at {self.url}"
        return f"--- redis ({self.log_path}):\n{tail(self.log_path)}"

    def _require_control(self) -> None:
        if not self.controllable:
            pytest.skip("REDIS_URL names a shared Redis: this test must stop and start its own redis-server")


_databases_used = itertools.count()


def _next_database(url: str) -> str:
    """``url`` with a database number of its own (the URL's, then the next ones, of Redis's 16).

    Stacks alive at the same time (a module's and a test's) must not share a
    queue: one's worker would take the other's tasks.
    """
    parsed = urlsplit(url)
    first = int(parsed.path.strip("/") or 0)
    number = (first + next(_databases_used)) % REDIS_DATABASES
    return urlunsplit(parsed._replace(path=f"/{number}"))


@contextmanager
def running_redis(directory: Path) -> Iterator[RedisServer]:
    """``REDIS_URL``'s server, or a private ``redis-server`` on a free port; skips (or fails) without either."""
    external = os.environ.get("REDIS_URL")
    if external:
        server = RedisServer(_next_database(external))
        if not server.answers():
            pytest.fail(f"REDIS_URL={external} does not answer PING")
        server.flush()  # messages left by an earlier run name reports this run does not know
        yield server
        return
    executable = shutil.which("redis-server")
    if executable is None:
        reason = "redis-server is not on PATH and REDIS_URL is not set"
        if os.environ.get("REQUIRE_REDIS") == "1":
            pytest.fail(f"REQUIRE_REDIS=1 but {reason}")
        pytest.skip(reason)
    port = free_port()
    server = RedisServer(f"redis://127.0.0.1:{port}/0", executable, port, directory)
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis for one test; a private one is killed afterwards."""
    with running_redis(tmp_path / "redis") as server:
        yield server


# --------------------------------------------------------------------------- processes


@dataclass
class ServiceProcess:
    """One started process (and its children, in the same process group)."""

    name: str
    popen: Child
    log_path: Path

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def signal(self, number: signal.Signals) -> None:
        """Send ``number`` to the whole process group."""
        os.killpg(self.popen.pid, number)

    def state(self) -> str | None:
        """The leader's scheduler state (``process_state``)."""
        return process_state(self.popen.pid)

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM to the whole group (a worker finishes its task), SIGKILL to what is left after ``grace`` s."""
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
            self.popen.wait(timeout=grace)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        self.kill()  # the leader is gone; a child it left behind still carries its group id

    def kill(self) -> None:
        """SIGKILL the whole process group at once: nothing gets to shut down cleanly."""
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait(timeout=10)

    def diagnostics(self) -> str:
        state = "running" if self.alive else f"exited with {self.popen.returncode}"
        return f"--- {self.name} ({state}, {self.log_path}):\n{tail(self.log_path)}"


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: Mapping[str, str]  # names in lower case
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def json(self) -> Any:
        return json.loads(self.body)

    def shown(self) -> str:
        return f"HTTP {self.status} {self.content_type}: {self.body[:300]!r}"


@dataclass(frozen=True)
class Finished:
    """How a polled report ended, and every Running state seen on the way."""

    answer: HttpAnswer
    running_states: list[dict[str, Any]]


class ApiClient:
    """Requests to one running API; failures carry the logs of the whole stack."""

    def __init__(self, port: int, process: ServiceProcess, diagnostics: Callable[[], str]) -> None:
        self.port = port
        self.process = process
        self.diagnostics = diagnostics

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(self, method: str, path: str, timeout: float = 10.0) -> HttpAnswer:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path)
            response = connection.getresponse()
            body = response.read()
            headers = {name.lower(): value for name, value in response.getheaders()}
            return HttpAnswer(response.status, headers, body)
        finally:
            connection.close()

    def get(self, path: str, timeout: float = 10.0) -> HttpAnswer:
        return self.request("GET", path, timeout)

    def post(self, path: str, timeout: float = 10.0) -> HttpAnswer:
        return self.request("POST", path, timeout)

    def answers(self) -> bool:
        try:
            return self.get("/openapi.json", timeout=2).status == 200
        except OSError:
            return False

    def trigger(self) -> str:
        answer = self.post("/trigger_report")
        assert answer.status == 200, f"{answer.shown()}\n{self.diagnostics()}"
        report_id = answer.json()["report_id"]
        assert isinstance(report_id, str)
        return report_id

    def report(self, report_id: str) -> HttpAnswer:
        return self.get(f"/get_report/{report_id}")

    def wait_until_finished(self, report_id: str, timeout: float, interval: float = 0.1) -> Finished:
        """Poll a report until it is Complete or Failed; every Running answer is kept."""
        running: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while True:
            answer = self.report(report_id)
            if answer.status != 200:
                pytest.fail(f"polling {report_id}: {answer.shown()}\n{self.diagnostics()}")
            if answer.content_type.startswith("text/csv"):
                return Finished(answer, running)
            state = answer.json()
            if state.get("status") != "Running":
                return Finished(answer, running)
            running.append(state)
            if time.monotonic() > deadline:
                pytest.fail(
                    f"report {report_id} still Running after {timeout:.0f} s (last: {state})\n{self.diagnostics()}"
                )
            time.sleep(interval)

    def complete_csv(self, report_id: str, timeout: float = 40.0) -> Finished:
        """Poll until the report finishes and insist it is Complete with a CSV body."""
        finished = self.wait_until_finished(report_id, timeout)
        answer = finished.answer
        assert answer.content_type.startswith("text/csv"), (
            f"report {report_id} ended as {answer.shown()}\n{self.diagnostics()}"
        )
        return finished


class ServiceRunner:
    """Starts the service's processes in ``folder`` (their working directory) and kills them all at the end."""

    def __init__(self, folder: Path, settings: Mapping[str, str] | None = None) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.logs = folder / "logs"
        self.logs.mkdir(exist_ok=True)
        self.settings: dict[str, str] = {name: "" for name in SERVICE_VARIABLES}
        self.settings.update(settings or {})
        self.processes: list[ServiceProcess] = []
        self.redis: RedisServer | None = None

    def environment(self, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {name: value for name, value in os.environ.items() if name not in SERVICE_VARIABLES}
        env.update(self.settings)
        env.update(overrides or {})
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")]))
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def use_redis(self, server: RedisServer) -> None:
        """Route every process started from now on through ``server``."""
        self.redis = server
        self.settings["CELERY_BROKER_URL"] = server.url

    def start(
        self, name: str, *arguments: str, overrides: Mapping[str, str] | None = None, prefix: Sequence[str] = ()
    ) -> ServiceProcess:
        """``python -m entrypoints.cli ARGUMENTS`` in a new process group, output to ``logs/NAME.log``.

        ``prefix`` goes before the command: ``ip netns exec NAME`` starts it in that network namespace.
        """
        log_path = self.logs / f"{name}.log"
        popen = launcher.start(arguments, cwd=self.folder, env=self.environment(overrides), log_path=log_path, prefix=prefix)
        process = ServiceProcess(name, popen, log_path)
        self.processes.append(process)
        return process

    def start_worker(
        self, name: str = "worker", concurrency: int = 1, overrides: Mapping[str, str] | None = None
    ) -> ServiceProcess:
        """A ``store-monitor worker``, once it says it is ready."""
        worker = self.start(name, "worker", "--concurrency", str(concurrency), overrides=overrides)
        self.wait_for_log(worker, "ready.")
        return worker

    def start_api(
        self, *arguments: str, name: str = "api", overrides: Mapping[str, str] | None = None, processes: int = 1
    ) -> ApiClient:
        """``store-monitor serve`` on a free port with ``processes`` processes of four threads, once it answers."""
        port = free_port()
        process = self.start(
            name,
            "serve", "--host", "127.0.0.1", "--port", str(port), "--processes", str(processes), "--threads", "4",
            *arguments,
            overrides=overrides,
        )
        api = ApiClient(port, process, self.diagnostics)

        def answering() -> bool:
            if not process.alive:
                pytest.fail(f"{name} exited before answering\n{self.diagnostics()}")
            return api.answers()

        wait_for(answering, STARTUP_TIMEOUT_S, f"{name} answering GET /openapi.json", self.diagnostics)
        return api

    def wait_for_log(self, process: ServiceProcess, text: str, timeout: float = STARTUP_TIMEOUT_S) -> None:
        def logged() -> bool:
            if not process.alive:
                pytest.fail(f"{process.name} exited before logging {text!r}\n{self.diagnostics()}")
            return text in process.log_text()

        wait_for(logged, timeout, f"{process.name} logging {text!r}", self.diagnostics)

    def run_cli(
        self, *arguments: str, overrides: Mapping[str, str] | None = None, prefix: Sequence[str] = ()
    ) -> subprocess.CompletedProcess[str]:
        """A short ``store-monitor`` command, run to its end (``prefix`` as for ``start``)."""
        return run_cli(self.folder, self.environment(overrides), *arguments, prefix=prefix)

    def diagnostics(self) -> str:
        parts = [process.diagnostics() for process in self.processes]
        if self.redis is not None:
            parts.append(self.redis.diagnostics())
        return "\n".join(parts)

    def close(self) -> None:
        for process in self.processes:
            process.kill()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[ServiceRunner]:
    """A runner for this test's processes; all of them are killed afterwards."""
    runner = ServiceRunner(tmp_path / "service")
    try:
        yield runner
    finally:
        runner.close()


# --------------------------------------------------------------------------- data


def run_cli(
    cwd: Path, env: Mapping[str, str], *arguments: str, prefix: Sequence[str] = ()
) -> subprocess.CompletedProcess[str]:
    completed = launcher.run(arguments, cwd=cwd, env=env, prefix=prefix)
    assert completed.returncode == 0, f"store-monitor {' '.join(arguments)} failed:\n{completed.stderr}"
    return completed


@dataclass(frozen=True)
class LoadedDatabase:
    """A database with the real data ingested, and the CLI's report of it."""

    url: str
    cli_csv: bytes

    @property
    def stores(self) -> int:
        """Stores in the report: one line each after the header."""
        return self.cli_csv.count(b"\n") - 1

    def parts(self, chunk_size: int) -> int:
        return math.ceil(self.stores / chunk_size)


def generate_sample(folder: Path, stores: int, seed: int | None = None) -> Path:
    """A made-up input folder of ``stores`` stores (the project's generator, ``--scale sample``)."""
    arguments = ["--out", str(folder), "--scale", "sample", "--stores", str(stores)]
    if seed is not None:
        arguments += ["--seed", str(seed)]
    generated = launcher.run(arguments, module="benchmarks.generate_data", cwd=REPO, env=os.environ, timeout=120)
    assert generated.returncode == 0, generated.stderr
    return folder


def load_database(runner: ServiceRunner, url: str, data_dir: Path, prefix: Sequence[str] = ()) -> LoadedDatabase:
    """Ingest ``data_dir`` into ``url`` and write the CLI's report of it (``prefix`` as for ``start``)."""
    runner.run_cli("ingest", str(data_dir), overrides={"DATABASE_URL": url}, prefix=prefix)
    out = runner.folder / "cli-report.csv"
    runner.run_cli("report", "--out", str(out), overrides={"DATABASE_URL": url}, prefix=prefix)
    return LoadedDatabase(url, out.read_bytes())


@pytest.fixture(scope="session")
def real_2023_sqlite(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """A SQLite file with real-2023 ingested once per run, and the CLI's report of it.

    Each module that imports this fixture gets its own copy of it from pytest,
    and a spread run has a session per process: the loaded file is kept in
    the run's base folder (shared by its processes, under a lock) and reused.
    """
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the run's folder, above each process's own
    folder = base / "real-2023-sqlite"
    path, report = folder / "store-monitor.sqlite3", folder / "cli-report.csv"
    with (base / "real-2023-sqlite.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not report.is_file():
            shutil.rmtree(folder, ignore_errors=True)
            load_database(ServiceRunner(folder), f"sqlite:///{path}", shared_data / "real-2023")
    return path, report.read_bytes()


def sqlite_copy(template: tuple[Path, bytes], url: str) -> LoadedDatabase:
    """The session's loaded SQLite file copied to ``url``'s path: the same database, the same CLI report."""
    source, cli_csv = template
    target = Path(url.removeprefix("sqlite:///"))
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return LoadedDatabase(url, cli_csv)


@dataclass(frozen=True)
class Stack:
    """A running service: its processes, its API and the database it reads."""

    runner: ServiceRunner
    api: ApiClient
    database: LoadedDatabase


@contextmanager
def sqlite_redis_stack(
    template: tuple[Path, bytes], folder: Path, chunk_size: int, concurrency: int
) -> Iterator[Stack]:
    """A private Redis, one worker of ``concurrency`` processes and the API over a copy of ``template``."""
    database = sqlite_copy(template, f"sqlite:///{folder / 'db' / 'store-monitor.sqlite3'}")
    runner = ServiceRunner(
        folder / "service",
        {"DATABASE_URL": database.url, "REPORTS_DIR": str(folder / "reports"), "REPORT_CHUNK_SIZE": str(chunk_size)},
    )
    with running_redis(folder / "redis") as server:
        runner.use_redis(server)
        try:
            runner.start_worker(concurrency=concurrency)
            # CELERY_BROKER_URL is set: serve starts no worker of its own.
            yield Stack(runner, runner.start_api(), database)
        finally:
            runner.close()


@dataclass(frozen=True)
class ReportRow:
    report_id: str
    status: str
    error: str | None
    progress_done: int
    progress_total: int


def registry_rows(database_url: str) -> list[ReportRow]:
    """Every report the registry holds, read straight from its table."""
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(
                    reports.c.report_id,
                    reports.c.status,
                    reports.c.error,
                    reports.c.progress_done,
                    reports.c.progress_total,
                ).order_by(reports.c.created_at)
            ).all()
    finally:
        engine.dispose()
    return [ReportRow(row[0], row[1], row[2], int(row[3]), int(row[4])) for row in rows]


def registry_row(database_url: str, report_id: str) -> ReportRow:
    matching = [row for row in registry_rows(database_url) if row.report_id == report_id]
    assert len(matching) == 1, f"report {report_id} is not in the registry once: {matching}"
    return matching[0]


def check_running_states(states: list[dict[str, Any]], expected_total: int) -> None:
    """Running answers are well formed: 0 <= done <= total, total 0 (unplanned) or the plan's, never going back."""
    previous_done, previous_total = 0, 0
    for state in states:
        assert set(state) == {"status", "progress"}, state
        progress = state["progress"]
        done, total = progress["done"], progress["total"]
        assert total in (0, expected_total), state
        assert 0 <= done <= total, state
        assert done >= previous_done and total >= previous_total, f"progress went back: {states}"
        previous_done, previous_total = done, total


def require_empty_rabbitmq_queue(url: str) -> None:
    """Empty the service's queue on the RabbitMQ at ``url``; skip (fail with REQUIRE_RABBITMQ=1) if it does not answer."""
    from kombu import Connection, Queue

    from adapters.celery.app import TASK_QUEUE

    try:
        with Connection(url, connect_timeout=2) as connection:
            connection.ensure_connection(max_retries=1)
            # Declared as Celery declares it, then emptied of an earlier run's messages.
            queue = Queue(TASK_QUEUE, durable=True)(connection.default_channel)
            queue.declare()
            queue.purge()
    except Exception as error:  # noqa: BLE001 - any failure means no usable server
        reason = f"RabbitMQ does not answer at {url}: {error}"
        if os.environ.get("REQUIRE_RABBITMQ") == "1":
            pytest.fail(f"REQUIRE_RABBITMQ=1 but {reason}")
        pytest.skip(reason)
