"""A report survives a worker on another host losing its network.

Three network namespaces stand for three machines (``netns.py``): ``core``
runs a private PostgreSQL, a private redis-server and the API; ``w1`` and
``w2`` each run one ``store-monitor worker --concurrency 1`` that reaches
them over its own link. While w1 is in the middle of a part (a table lock
holds it there, past reading its report, for the moment of the cut), its
link is cut at the core's end: its packets are lost without a reset and its
connections stay open, as when a machine's cable is pulled. The report must
still complete, byte for byte the CSV of ``store-monitor report`` from the
same database, within the time Redis takes to hand the lost part out again
(``CELERY_VISIBILITY_TIMEOUT``) plus a margin. When the link comes back and
w1 finishes its part late, the stored report must not change.

Needs root, ``ip netns``, redis-server and PostgreSQL's server binaries
(``/usr/lib/postgresql/*/bin``, run as the ``postgres`` user); skipped,
saying why, without them, unless ``REQUIRE_NETNS=1`` makes that a failure.
"""

from __future__ import annotations

import base64
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psycopg
import pytest
import redis
from service_fixtures import (
    ApiClient,
    HttpAnswer,
    LoadedDatabase,
    ReportRow,
    ServiceProcess,
    ServiceRunner,
    load_database,
    registry_row,
    tail,
    wait_for,
)
from sqlalchemy import func, select

from adapters.sqlalchemy.database import create_engine_for
from adapters.sqlalchemy.tables import report_parts, store_timezones
from netns import NETWORK, PREFIX_LENGTH, Namespace, Network, require_netns

pytestmark = pytest.mark.realdata

VISIBILITY_TIMEOUT_S = 10  # how long Redis keeps a delivered, unacknowledged task from everyone else
RECOVERY_MARGIN_S = 30  # on top of it: the rest of the report, and the period of the workers' restore sweep
CHUNK_SIZE = 100  # 82 parts of real-2023, each a few tens of milliseconds
LATE_WORK_TIMEOUT_S = 120  # a healed TCP connection resumes at its next retransmission, which backs off
WORKERS = ("w1", "w2")
UNACKED = "unacked"  # kombu's hash of delivered, unacknowledged messages

RECEIVED = re.compile(r"Task store_monitor\.compute_part\[([0-9a-f-]{36})\] received")


def _postgres_binaries() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding a server."""
    found = [path.parent for path in Path("/usr/lib/postgresql").glob("*/bin/postgres")]
    numbered = [path for path in found if path.parent.name.isdigit()]
    return max(numbered, key=lambda path: int(path.parent.name), default=None)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _ended(log: str, task_id: str, how: str = "succeeded|raised|retry|reject|ignored") -> list[str]:
    """The lines of a worker's log that end the task ``task_id`` (a pattern) in one of the ``how`` ways."""
    ended = re.compile(rf"compute_part\[{task_id}\] ({how})")
    return [line for line in log.splitlines() if ended.search(line)]


# --------------------------------------------------------------------------- servers on the core host


def _start_server(command: list[str], log_path: Path, name: str) -> ServiceProcess:
    log: IO[bytes]
    with log_path.open("ab") as log:
        popen = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    return ServiceProcess(name, popen, log_path)


class PrivatePostgres:
    """A temporary PostgreSQL cluster on ``host``: trust auth on the test network only, nothing kept afterwards."""

    def __init__(self, host: Namespace, binaries: Path, log_path: Path) -> None:
        self.host = host
        self.binaries = binaries
        self.log_path = log_path
        self.port = host.free_port()
        # Under /tmp, not the test's folder: the postgres user must reach it.
        self.root = Path(tempfile.mkdtemp(prefix=f"store-monitor-netns-{os.getpid()}-pg-"))
        shutil.chown(self.root, "postgres", "postgres")
        self.data = self.root / "data"
        self.process: ServiceProcess | None = None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@{self.host.address}:{self.port}/postgres"

    def start(self) -> None:
        as_postgres = ["runuser", "-u", "postgres", "--"]
        initdb = [
            *as_postgres, str(self.binaries / "initdb"), "--pgdata", str(self.data), "--username", "postgres",
            "--auth", "trust", "--encoding", "UTF8", "--locale", "C", "--no-sync",
        ]
        completed = subprocess.run(initdb, capture_output=True, text=True, timeout=120)
        assert completed.returncode == 0, f"initdb failed:\n{completed.stdout}\n{completed.stderr}"
        hba = self.data / "pg_hba.conf"
        hba.write_text(f"host all postgres {NETWORK}.0/{PREFIX_LENGTH} trust\n")
        shutil.chown(hba, "postgres", "postgres")
        server = [
            *self.host.exec, *as_postgres, str(self.binaries / "postgres"), "-D", str(self.data),
            "-p", str(self.port),
            "-c", f"listen_addresses={self.host.address}",
            "-c", f"unix_socket_directories={self.root}",
            "-c", "log_line_prefix=%m [%p] %h ",
            # A throw-away cluster: durability buys nothing here.
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
        ]
        self.process = _start_server(server, self.log_path, "postgres")
        wait_for(self.answers, 30, f"PostgreSQL on {self.host.address}:{self.port}", self.diagnostics)

    def connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        """A connection opened from the core host."""
        with self.host.entered():
            return psycopg.connect(
                host=self.host.address, port=self.port, user="postgres", dbname="postgres", connect_timeout=2
            )

    def answers(self) -> bool:
        if self.process is not None and not self.process.alive:
            pytest.fail(f"postgres exited\n{self.diagnostics()}")
        try:
            self.connect().close()
        except psycopg.OperationalError:
            return False
        return True

    def stop(self) -> None:
        """A fast shutdown (which leaves no shared memory behind), then the whole group killed; the files go."""
        try:
            if self.process is not None and self.process.alive:
                try:
                    postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
                    os.kill(postmaster, signal.SIGINT)
                    self.process.popen.wait(timeout=15)
                except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
                    pass
                self.process.kill()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def diagnostics(self) -> str:
        if self.process is None:
            return f"--- postgres ({self.log_path}):\n{tail(self.log_path)}"
        return self.process.diagnostics()


class PrivateRedis:
    """A redis-server on ``host``'s address, keeping nothing on disk."""

    def __init__(self, host: Namespace, executable: str, folder: Path) -> None:
        self.host = host
        self.port = host.free_port()
        folder.mkdir(parents=True, exist_ok=True)
        command = [
            *host.exec, executable, "--port", str(self.port), "--bind", host.address,
            "--save", "", "--appendonly", "no", "--dir", str(folder),
            # Reached from the other hosts without a password; nothing else can reach it.
            "--protected-mode", "no",
        ]
        self.process = _start_server(command, folder / "redis.log", "redis")
        try:
            wait_for(self.answers, 10, f"redis-server on {host.address}:{self.port}", self.process.diagnostics)
        except BaseException:
            self.stop()  # no one else holds it yet
            raise

    @property
    def url(self) -> str:
        return f"redis://{self.host.address}:{self.port}/0"

    def call(self, command: Callable[[redis.Redis], Any]) -> Any:
        """``command(client)`` on a connection opened from the core host."""
        with self.host.entered(), redis.Redis.from_url(self.url, socket_connect_timeout=2, socket_timeout=5) as client:
            return command(client)

    def answers(self) -> bool:
        if not self.process.alive:
            pytest.fail(f"redis-server exited\n{self.process.diagnostics()}")
        try:
            return bool(self.call(lambda client: client.ping()))
        except redis.RedisError:
            return False

    def unacked_part(self, task_id: str) -> int | None:
        """The part index of ``compute_part`` task ``task_id`` while it is delivered and unacknowledged, else None."""
        payloads: dict[bytes, bytes] = self.call(lambda client: client.hgetall(UNACKED))
        for payload in payloads.values():
            message = json.loads(payload)[0]
            if message["headers"]["id"] == task_id:
                args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
                return int(args[1])
        return None

    def stop(self) -> None:
        self.process.kill()


# --------------------------------------------------------------------------- the stack


class CoreApiClient(ApiClient):
    """An ``ApiClient`` whose requests are made on the core host (to the API on the core's loopback)."""

    def __init__(self, core: Namespace, port: int, process: ServiceProcess, diagnostics: Callable[[], str]) -> None:
        super().__init__(port, process, diagnostics)
        self.core = core

    def request(self, method: str, path: str, timeout: float = 10.0) -> HttpAnswer:
        with self.core.entered():
            return super().request(method, path, timeout)


@dataclass(frozen=True)
class Hosts:
    network: Network
    runner: ServiceRunner
    postgres: PrivatePostgres
    redis: PrivateRedis
    database: LoadedDatabase
    workers: dict[str, ServiceProcess]
    api: CoreApiClient

    def report_row(self, report_id: str) -> ReportRow:
        with self.network.core.entered():
            return registry_row(self.database.url, report_id)

    def stored_parts(self, report_id: str) -> int:
        """Rows of ``report_id`` in the registry's table of saved parts."""
        query = select(func.count()).select_from(report_parts).where(report_parts.c.report_id == report_id)
        with self.network.core.entered():
            engine = create_engine_for(self.database.url)
            try:
                with engine.connect() as connection:
                    return int(connection.execute(query).scalar_one())
            finally:
                engine.dispose()

    def diagnostics(self) -> str:
        return self.api.diagnostics()


@pytest.fixture
def network() -> Iterator[Network]:
    """core, w1 and w2, linked; deleted afterwards (after the processes in them: fixtures end in reverse)."""
    require_netns(
        (shutil.which("redis-server") is not None, "redis-server is not on PATH"),
        (_postgres_binaries() is not None, "no PostgreSQL server under /usr/lib/postgresql/*/bin"),
        (_has_user("postgres"), "there is no postgres user to run PostgreSQL as"),
        (shutil.which("runuser") is not None, "runuser is not on PATH"),
    )
    network = Network(f"store-monitor-{os.getpid()}", WORKERS)
    try:
        network.build()
        yield network
    finally:
        network.close()


@pytest.fixture
def hosts(network: Network, shared_data: Path, tmp_path: Path) -> Iterator[Hosts]:
    """PostgreSQL, Redis and the API on core with real-2023 loaded; one worker on each of w1 and w2."""
    core = network.core
    binaries, redis_server = _postgres_binaries(), shutil.which("redis-server")
    assert binaries is not None and redis_server is not None
    runner = ServiceRunner(tmp_path / "service")
    postgres = PrivatePostgres(core, binaries, runner.logs / "postgres.log")
    broker: PrivateRedis | None = None

    def diagnostics() -> str:
        servers = [postgres.diagnostics()] + ([broker.process.diagnostics()] if broker else [])
        return "\n".join([runner.diagnostics(), *servers])

    try:
        postgres.start()
        broker = PrivateRedis(core, redis_server, tmp_path / "redis")
        database = load_database(runner, postgres.url, shared_data / "real-2023", prefix=core.exec)
        runner.settings.update(
            DATABASE_URL=database.url,
            CELERY_BROKER_URL=broker.url,
            REPORT_STORAGE="database",
            REPORTS_DIR=str(runner.folder / "reports"),
            REPORT_CHUNK_SIZE=str(CHUNK_SIZE),
            CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT_S),
        )
        workers = {
            name: runner.start(name, "worker", "--concurrency", "1", prefix=network.hosts[name].exec)
            for name in WORKERS
        }
        for worker in workers.values():
            runner.wait_for_log(worker, "ready.")

        port = core.free_port()
        serve = runner.start(
            "api",
            "serve", "--no-worker", "--host", "127.0.0.1", "--port", str(port), "--processes", "1", "--threads", "4",
            prefix=core.exec,
        )
        api = CoreApiClient(core, port, serve, diagnostics)

        def answering() -> bool:
            if not serve.alive:
                pytest.fail(f"the API exited before answering\n{diagnostics()}")
            return api.answers()

        wait_for(answering, 30, "the API answering on core", diagnostics)
        yield Hosts(network, runner, postgres, broker, database, workers, api)
    finally:
        runner.close()
        postgres.stop()
        if broker is not None:
            broker.stop()


# --------------------------------------------------------------------------- the test


class LatePartChangedTheReport(AssertionError):
    """A part finished after its report completed changed what the registry holds of that report."""


def test_a_report_completes_when_a_worker_host_loses_its_network_and_its_late_part_changes_nothing(
    hosts: Hosts,
) -> None:
    api, postgres, w1, w2 = hosts.api, hosts.postgres, hosts.workers["w1"], hosts.workers["w2"]
    parts = hosts.database.parts(CHUNK_SIZE)
    assert parts >= 20, parts

    # A first report warms both workers up: each has done parts, and its pool
    # process holds open database connections, as after any time in service.
    assert api.complete_csv(api.trigger()).answer.body == hosts.database.cli_csv
    for worker in (w1, w2):
        assert _ended(worker.log_text(), "[0-9a-f-]{36}", "succeeded"), worker.diagnostics()

    # The moment of the cut: the timezones are held locked, so a worker that
    # takes a part reads its report (Running), then waits inside the part,
    # with the task delivered and unacknowledged, until the lock goes.
    locker, watcher = postgres.connect(), postgres.connect()
    watcher.autocommit = True  # each look at pg_stat_activity sees it afresh
    try:
        locker.execute(f"LOCK TABLE {store_timezones.name} IN ACCESS EXCLUSIVE MODE")
        report_id = api.trigger()

        def w1_waiting() -> bool:
            waiting = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE client_addr = %s AND wait_event_type = 'Lock'",
                (hosts.network.hosts["w1"].address,),
            ).fetchone()
            return waiting is not None and waiting[0] >= 1

        wait_for(w1_waiting, 30, "w1 inside a part, waiting for the database", hosts.diagnostics)
        task_id = RECEIVED.findall(w1.log_text())[-1]
        index = hosts.redis.unacked_part(task_id)
        assert index is not None, f"w1's part {task_id} is not unacknowledged in Redis\n{hosts.diagnostics()}"

        hosts.network.cut("w1")
        cut_at = time.monotonic()
    finally:
        locker.rollback()
        locker.close()
        watcher.close()

    finished = api.complete_csv(report_id, timeout=VISIBILITY_TIMEOUT_S + RECOVERY_MARGIN_S)
    recovered_in = time.monotonic() - cut_at

    assert finished.answer.body == hosts.database.cli_csv
    complete = hosts.report_row(report_id)
    assert (complete.status, complete.progress_done, complete.progress_total, complete.error) == (
        "Complete", parts, parts, None,
    ), complete
    # Redis gave w1's part out again and w2 did it; w1, cut off, did not finish it.
    assert task_id in RECEIVED.findall(w2.log_text()), f"w2 never received {task_id}\n{hosts.diagnostics()}"
    assert not _ended(w1.log_text(), task_id, "succeeded"), f"w1 finished part {index} without a network"
    print(f"\nreport complete {recovered_in:.1f} s after w1's link was cut holding part {index}")

    # Back on the network, w1 ends its part late; that must change nothing.
    hosts.network.heal("w1")
    healed_at = time.monotonic()
    wait_for(
        lambda: bool(_ended(w1.log_text(), task_id)),
        LATE_WORK_TIMEOUT_S,
        f"w1 ending its late part {index}",
        hosts.diagnostics,
        interval=0.1,
    )
    print(f"w1 ended part {index} {time.monotonic() - healed_at:.1f} s after its link came back")

    again = api.report(report_id)
    assert again.status == 200 and again.content_type.startswith("text/csv"), again.shown()
    assert again.body == hosts.database.cli_csv
    after, parts_left = hosts.report_row(report_id), hosts.stored_parts(report_id)
    if after != complete or parts_left:
        raise LatePartChangedTheReport(
            f"w1's late part {index} changed report {report_id}: {complete} became {after}, "
            f"with {parts_left} part(s) stored\n{_ended(w1.log_text(), task_id)[-1]}"
        )
    assert not (hosts.runner.folder / "reports").exists(), "REPORT_STORAGE=database wrote a file"
