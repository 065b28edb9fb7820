"""Reports survive faults: every kill, broker outage and cut database connection ends Complete.

Real processes on every broker this applies to: the embedded default
(``serve`` with its own worker), a private Redis, RabbitMQ. The units of
work live in the database with their leases; the watchdog queues again
what a fault lost. Each test measures the time from the end of the fault (the
kill, the restart, the broker back) to the report Complete, byte-identical
to ``store-monitor report``, and insists on less than ``RECOVERY_S``. The
lease and watchdog periods are short here (``LEASE_SECONDS``,
``WATCHDOG_SECONDS``), so faults heal in seconds.

Measured recovery times are printed (``pytest -s``) and, with
``TEST_ARTIFACTS_DIR`` set, appended to ``recovery-times.txt`` there.

Every test of the machine's RabbitMQ is here (the broker by configuration
alone, too): they share its queue, and a spread suite runs a module's tests
in one process, one after the other.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from service_fixtures import (
    ApiClient,
    require_empty_rabbitmq_queue,
    free_port,
    LoadedDatabase,
    RedisServer,
    ServiceProcess,
    ServiceRunner,
    load_database,
    real_2023_sqlite,
    redis_server,
    registry_row,
    service,
    sqlite_copy,
    wait_for,
)
from sqlalchemy import select, text

from adapters.sqlalchemy.database import create_engine_for
from adapters.sqlalchemy.tables import work_units

__all__ = ["real_2023_sqlite", "redis_server", "service"]

RECOVERY_S = 30.0
STALL_S = 60
# Short parts: a report takes a few seconds, so a fault meets it mid-run.
CHUNK_SIZE = 150
FAST = {
    "LEASE_SECONDS": "3",
    "WATCHDOG_SECONDS": "1",
    "REPORT_STALL_SECONDS": str(STALL_S),
    "REPORT_CHUNK_SIZE": str(CHUNK_SIZE),
}
RABBITMQ_URL = os.environ.get("RABBITMQ_URL") or "amqp://guest:guest@127.0.0.1:5672//"


def record(name: str, seconds: float) -> None:
    line = f"recovery {name}: {seconds:.1f} s (fault end -> Complete)"
    print(line)
    artifacts = os.environ.get("TEST_ARTIFACTS_DIR")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        with (Path(artifacts) / "recovery-times.txt").open("a") as out:
            out.write(line + "\n")


def holders(database_url: str) -> list[int]:
    """The process ids holding a part's lease right now (``host:pid``)."""
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(work_units.c.holder).where(work_units.c.state == "leased", work_units.c.holder.is_not(None))
            ).scalars()
            return [int(holder.rpartition(":")[2]) for holder in rows]
    finally:
        engine.dispose()


def leased_units(database_url: str) -> list[tuple[str, int]]:
    """(unit id, holder pid) of every leased unit."""
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(work_units.c.unit_id, work_units.c.holder).where(
                    work_units.c.state == "leased", work_units.c.holder.is_not(None)
                )
            ).all()
            return [(row[0], int(row[1].rpartition(":")[2])) for row in rows]
    finally:
        engine.dispose()


def wait_for_progress(api: ApiClient, report_id: str, parts: int, runner: ServiceRunner) -> None:
    def started() -> bool:
        answer = api.report(report_id)
        assert answer.content_type == "application/json", f"finished before the fault: {answer.shown()}"
        return bool(answer.json()["progress"]["done"] >= 2)

    wait_for(started, 30, "a few parts done", runner.diagnostics, interval=0.01)


def kill_a_part_holder(database_url: str, runner: ServiceRunner) -> int:
    """SIGKILL a pool process while it holds a part; return its pid."""
    found: list[int] = []

    def holding() -> bool:
        found[:] = [pid for pid in holders(database_url) if pid != os.getpid()]
        return bool(found)

    wait_for(holding, 20, "a pool process holding a part", runner.diagnostics, interval=0.005)
    os.kill(found[0], signal.SIGKILL)
    return found[0]


def descendants(pid: int) -> set[int]:
    """The processes below ``pid`` (its pool processes, its beat)."""
    found: set[int] = set()
    pending = [pid]
    while pending:
        parent = pending.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found.add(child)
            pending.append(child)
    return found


def kill_worker_holding_a_part(worker: ServiceProcess, database_url: str, runner: ServiceRunner) -> None:
    """SIGKILL a whole worker (its process group) while one of its pool processes holds a part."""
    pool = descendants(worker.popen.pid)
    wait_for(
        lambda: any(pid in pool for pid in holders(database_url)),
        20,
        f"{worker.name} holding a part",
        runner.diagnostics,
        interval=0.002,
    )
    worker.kill()


def complete_within(api: ApiClient, report_id: str, database: LoadedDatabase, since: float, name: str) -> None:
    finished = api.complete_csv(report_id, timeout=RECOVERY_S + 5)
    elapsed = time.monotonic() - since
    assert finished.answer.body == database.cli_csv
    record(name, elapsed)
    assert elapsed < RECOVERY_S, f"{name}: Complete {elapsed:.1f} s after the fault ended"


def embedded_worker_pids(api_process: ServiceProcess) -> list[int]:
    return [int(pid) for pid in re.findall(r"embedded worker started \(pid (\d+)\)", api_process.log_text())]


def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# --------------------------------------------------------------------------- the embedded default


@pytest.fixture
def embedded(service: ServiceRunner, real_2023_sqlite: tuple[Path, bytes], sqlite_url: str) -> LoadedDatabase:
    database = sqlite_copy(real_2023_sqlite, sqlite_url)
    service.settings.update(DATABASE_URL=database.url, REPORTS_DIR=str(service.folder / "reports"), **FAST)
    return database


def start_embedded(service: ServiceRunner, name: str = "api") -> ApiClient:
    api = service.start_api("--worker-concurrency", "2", name=name)
    service.wait_for_log(api.process, "ready.")
    return api


def test_embedded_a_killed_pool_process_neither_wedges_the_worker_nor_fails_the_report(
    service: ServiceRunner, embedded: LoadedDatabase
) -> None:
    api = start_embedded(service)
    report_id = api.trigger()
    wait_for_progress(api, report_id, embedded.parts(CHUNK_SIZE), service)

    kill_a_part_holder(embedded.url, service)
    killed_at = time.monotonic()

    complete_within(api, report_id, embedded, killed_at, "embedded, SIGKILL of a pool process")
    # The worker goes on taking work: a second report completes too, and the first was never failed.
    second = api.trigger()
    assert api.complete_csv(second, timeout=RECOVERY_S).answer.body == embedded.cli_csv
    assert len(embedded_worker_pids(api.process)) == 1, "the worker was replaced, not healed"


def test_embedded_a_killed_worker_is_replaced_and_its_report_completes(
    service: ServiceRunner, embedded: LoadedDatabase
) -> None:
    api = start_embedded(service)
    report_id = api.trigger()
    wait_for_progress(api, report_id, embedded.parts(CHUNK_SIZE), service)

    [worker] = embedded_worker_pids(api.process)
    kill_group(worker)
    killed_at = time.monotonic()

    complete_within(api, report_id, embedded, killed_at, "embedded, SIGKILL of the worker")
    assert len(embedded_worker_pids(api.process)) == 2


def test_embedded_the_whole_serve_tree_killed_then_started_again_completes_the_report(
    service: ServiceRunner, embedded: LoadedDatabase
) -> None:
    api = start_embedded(service)
    report_id = api.trigger()
    wait_for_progress(api, report_id, embedded.parts(CHUNK_SIZE), service)

    # As a machine losing power: the worker (a session of its own) and serve's group, at once.
    [worker] = embedded_worker_pids(api.process)
    kill_group(worker)
    api.process.kill()
    assert registry_row(embedded.url, report_id).status == "Running"

    again = start_embedded(service, name="api-again")
    restarted_at = time.monotonic()
    complete_within(again, report_id, embedded, restarted_at, "embedded, serve tree SIGKILLed and restarted")


def test_embedded_a_wedged_worker_is_replaced_and_health_names_the_worker(
    service: ServiceRunner, embedded: LoadedDatabase
) -> None:
    api = start_embedded(service)
    assert api.get("/health").status == 200
    report_id = api.trigger()
    wait_for_progress(api, report_id, embedded.parts(CHUNK_SIZE), service)

    # Alive but taking nothing: its main process stopped (its pool keeps running).
    [worker] = embedded_worker_pids(api.process)
    os.kill(worker, signal.SIGSTOP)
    stopped_at = time.monotonic()

    def health_names_the_worker() -> bool:
        answer = api.get("/health")
        return answer.status == 503 and "worker" in answer.json()["error"]

    wait_for(health_names_the_worker, 20, "/health 503 naming the worker", service.diagnostics, interval=0.2)
    complete_within(api, report_id, embedded, stopped_at, "embedded, worker wedged (SIGSTOP)")
    assert f"embedded worker (pid {worker}) is alive but its heartbeat" in api.process.log_text()
    assert api.get("/health").status == 200


def test_embedded_an_upload_whose_pool_process_is_killed_mid_ingestion_completes(
    service: ServiceRunner, embedded: LoadedDatabase, shared_data: Path
) -> None:
    from test_ingest_service import finished_ingestion, upload

    api = start_embedded(service)
    ingest_id = upload(api, shared_data / "real-2023")

    def ingesting() -> bool:
        return any(unit == f"ingest/{ingest_id}" for unit, _ in leased_units(embedded.url))

    wait_for(ingesting, 20, "a pool process ingesting the upload", service.diagnostics, interval=0.002)
    [holder] = [pid for unit, pid in leased_units(embedded.url) if unit == f"ingest/{ingest_id}"]
    os.kill(holder, signal.SIGKILL)
    killed_at = time.monotonic()

    state = finished_ingestion(api, ingest_id, timeout=RECOVERY_S)
    elapsed = time.monotonic() - killed_at
    assert state["status"] == "Complete", state
    counts = state["summary"]["store_status"]
    assert counts["rows"] == counts["new"] + counts["already_stored"] + counts["duplicates"] + counts["rejected"]
    assert counts["new"] == 0  # the database held this data already: ingesting again stores nothing twice
    record("embedded, SIGKILL of the pool process ingesting an upload", elapsed)


def test_with_no_worker_a_report_fails_after_the_stall_time_saying_no_worker_is_alive(
    service: ServiceRunner, real_2023_sqlite: tuple[Path, bytes], sqlite_url: str
) -> None:
    database = sqlite_copy(real_2023_sqlite, sqlite_url)
    service.settings.update({**FAST, "DATABASE_URL": database.url, "REPORT_STALL_SECONDS": "2"})
    api = service.start_api("--no-worker")
    health = api.get("/health")
    assert health.status == 503 and health.json()["worker"] != "ok" and "worker" in health.json()["error"]

    report_id = api.trigger()
    finished = api.wait_until_finished(report_id, timeout=15, interval=0.2)

    state = finished.answer.json()
    assert state["status"] == "Failed", state
    assert state["error"].startswith("no progress for 2 s: no worker has recorded a heartbeat"), state


# --------------------------------------------------------------------------- Redis


@pytest.fixture
def on_redis(
    service: ServiceRunner, redis_server: RedisServer, real_2023_sqlite: tuple[Path, bytes], sqlite_url: str
) -> LoadedDatabase:
    database = sqlite_copy(real_2023_sqlite, sqlite_url)
    service.settings.update(DATABASE_URL=database.url, REPORTS_DIR=str(service.folder / "reports"), **FAST)
    service.use_redis(redis_server)
    return database


def start_workers(service: ServiceRunner, overrides: dict[str, str] | None = None) -> list[ServiceProcess]:
    """Two workers, the first with beat (the watchdog)."""
    first = service.start("worker-1", "worker", "--concurrency", "2", "--beat", overrides=overrides)
    second = service.start("worker-2", "worker", "--concurrency", "1", overrides=overrides)
    for worker in (first, second):
        service.wait_for_log(worker, "ready.")
    return [first, second]


def test_redis_a_killed_pool_process_and_a_killed_worker(service: ServiceRunner, on_redis: LoadedDatabase) -> None:
    beat_worker, other = start_workers(service)
    api = service.start_api()

    report_id = api.trigger()
    wait_for_progress(api, report_id, on_redis.parts(CHUNK_SIZE), service)
    kill_a_part_holder(on_redis.url, service)
    killed_at = time.monotonic()
    complete_within(api, report_id, on_redis, killed_at, "Redis, SIGKILL of a pool process")

    report_id = api.trigger()
    wait_for_progress(api, report_id, on_redis.parts(CHUNK_SIZE), service)
    kill_worker_holding_a_part(other, on_redis.url, service)
    killed_at = time.monotonic()
    complete_within(api, report_id, on_redis, killed_at, "Redis, SIGKILL of a worker")


def test_redis_down_for_ten_seconds_at_the_trigger_and_mid_report(
    service: ServiceRunner, on_redis: LoadedDatabase, redis_server: RedisServer
) -> None:
    start_workers(service)
    api = service.start_api()

    report_id = api.trigger()
    redis_server.stop()  # with its queued messages: it keeps nothing on disk
    time.sleep(10)
    assert api.report(report_id).json()["status"] == "Running"
    redis_server.start()
    back_at = time.monotonic()
    complete_within(api, report_id, on_redis, back_at, "Redis down 10 s at the trigger")

    report_id = api.trigger()
    wait_for_progress(api, report_id, on_redis.parts(CHUNK_SIZE), service)
    redis_server.stop()
    time.sleep(10)
    redis_server.start()
    back_at = time.monotonic()

    complete_within(api, report_id, on_redis, back_at, "Redis down 10 s mid-report")


def test_a_stalled_report_with_redis_down_says_the_broker_is_unreachable(
    service: ServiceRunner, on_redis: LoadedDatabase, redis_server: RedisServer
) -> None:
    service.settings["REPORT_STALL_SECONDS"] = "3"
    api = service.start_api()
    report_id = api.trigger()  # no worker yet: the message waits in Redis
    redis_server.stop()

    finished = api.wait_until_finished(report_id, timeout=20, interval=0.2)

    error = finished.answer.json()["error"]
    assert error.startswith("no progress for 3 s: the broker is unreachable"), error


# --------------------------------------------------------------------------- PostgreSQL


@pytest.mark.postgres
def test_postgres_connections_of_the_workers_terminated_mid_report(
    service: ServiceRunner, redis_server: RedisServer, postgres_schema_url: str, shared_data: Path
) -> None:
    database = load_database(service, postgres_schema_url, shared_data / "real-2023")
    service.settings.update(DATABASE_URL=database.url, REPORT_STORAGE="database", **FAST)
    service.use_redis(redis_server)
    # The workers' connections carry a name of their own: only they are cut.
    name = f"sm-worker-{uuid.uuid4().hex[:8]}"
    separator = "&" if "?" in database.url else "?"
    start_workers(service, overrides={"DATABASE_URL": f"{database.url}{separator}application_name={name}"})
    api = service.start_api()

    report_id = api.trigger()
    wait_for_progress(api, report_id, database.parts(CHUNK_SIZE), service)
    admin = create_engine_for(postgres_schema_url)
    try:
        with admin.begin() as connection:
            terminated = connection.execute(
                text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = :name"),
                {"name": name},
            ).scalar_one()
    finally:
        admin.dispose()
    cut_at = time.monotonic()
    assert terminated >= 1

    complete_within(api, report_id, database, cut_at, "PostgreSQL, workers' connections terminated")


# --------------------------------------------------------------------------- RabbitMQ


@pytest.fixture
def on_rabbitmq(
    service: ServiceRunner, real_2023_sqlite: tuple[Path, bytes], sqlite_url: str
) -> Iterator[LoadedDatabase]:
    require_empty_rabbitmq_queue(RABBITMQ_URL)
    database = sqlite_copy(real_2023_sqlite, sqlite_url)
    service.settings.update(
        DATABASE_URL=database.url, REPORTS_DIR=str(service.folder / "reports"), CELERY_BROKER_URL=RABBITMQ_URL, **FAST
    )
    yield database


@pytest.mark.rabbitmq
def test_a_report_through_rabbitmq_is_the_clis(service: ServiceRunner, on_rabbitmq: LoadedDatabase) -> None:
    """The service with RabbitMQ as its broker, by configuration alone: CELERY_BROKER_URL=amqp://..."""
    service.start_worker(concurrency=2)
    api = service.start_api()

    health = api.get("/health")
    report_id = api.trigger()
    finished = api.complete_csv(report_id, timeout=120)

    assert health.status == 200, health.shown()
    assert finished.answer.body == on_rabbitmq.cli_csv


@pytest.mark.rabbitmq
def test_with_rabbitmq_down_a_trigger_answers_503_quickly(service: ServiceRunner) -> None:
    assert service.run_cli("create-db").returncode == 0
    # Nothing listens on port 1: the broker is down.
    api = service.start_api(overrides={"CELERY_BROKER_URL": "amqp://guest:guest@127.0.0.1:1//"})

    started = time.monotonic()
    answer = api.post("/trigger_report")
    elapsed = time.monotonic() - started

    assert answer.status == 503, answer.shown()
    assert "broker" in answer.json()["error"]
    assert elapsed < 5, f"took {elapsed:.1f} s"


def start_beat_worker(service: ServiceRunner, name: str) -> ServiceProcess:
    """One worker with beat: two on one machine would share RabbitMQ's exclusive node queue."""
    worker = service.start(name, "worker", "--concurrency", "2", "--beat")
    service.wait_for_log(worker, "ready.")
    return worker


@pytest.mark.rabbitmq
def test_rabbitmq_a_killed_pool_process_and_a_killed_worker(
    service: ServiceRunner, on_rabbitmq: LoadedDatabase
) -> None:
    worker = start_beat_worker(service, "worker-1")
    api = service.start_api()

    report_id = api.trigger()
    wait_for_progress(api, report_id, on_rabbitmq.parts(CHUNK_SIZE), service)
    kill_a_part_holder(on_rabbitmq.url, service)
    killed_at = time.monotonic()
    complete_within(api, report_id, on_rabbitmq, killed_at, "RabbitMQ, SIGKILL of a pool process")

    report_id = api.trigger()
    wait_for_progress(api, report_id, on_rabbitmq.parts(CHUNK_SIZE), service)
    kill_worker_holding_a_part(worker, on_rabbitmq.url, service)
    killed_at = time.monotonic()
    start_beat_worker(service, "worker-2")
    complete_within(api, report_id, on_rabbitmq, killed_at, "RabbitMQ, SIGKILL of the worker, another started")


RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"


class PrivateRabbitMQ:
    """A RabbitMQ node of the test's own (its port, its files), which it may stop and start again.

    The machine's RabbitMQ is shared: stopping it would break everyone else's work.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}//"
        self.process: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n")
        (folder / "enabled_plugins").write_text("[].\n")
        self.environment = {
            **os.environ,
            "HOME": str(folder),
            "RABBITMQ_CONF_ENV_FILE": "/dev/null",
            "RABBITMQ_NODENAME": f"store-monitor-test-{uuid.uuid4().hex[:8]}@localhost",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_MNESIA_BASE": str(folder / "mnesia"),
            "RABBITMQ_LOG_BASE": str(folder / "log"),
            "RABBITMQ_CONFIG_FILE": str(folder / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(folder / "enabled_plugins"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def start(self) -> None:
        with (self.folder / "server.log").open("ab") as log:
            self.process = subprocess.Popen(
                [RABBITMQ_SERVER], env=self.environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_for(self.answers, 30, f"RabbitMQ on port {self.port}", self.diagnostics, interval=0.1)

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)
        self.process = None
        wait_for(lambda: not self.answers(), 10, "RabbitMQ stopped", self.diagnostics)

    def diagnostics(self) -> str:
        log = self.folder / "server.log"
        return f"--- rabbitmq ({log}):\n" + (log.read_text(errors="replace")[-2000:] if log.exists() else "")


@pytest.fixture
def private_rabbitmq(tmp_path: Path) -> Iterator[PrivateRabbitMQ]:
    if not (os.access(RABBITMQ_SERVER, os.X_OK) and shutil.which("erl") is not None):
        reason = f"no RabbitMQ server to start here ({RABBITMQ_SERVER})"
        if os.environ.get("REQUIRE_RABBITMQ") == "1":
            pytest.fail(f"REQUIRE_RABBITMQ=1 but {reason}")
        pytest.skip(reason)
    server = PrivateRabbitMQ(tmp_path / "rabbitmq")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.rabbitmq
def test_rabbitmq_down_for_ten_seconds_at_the_trigger_and_mid_report(
    service: ServiceRunner,
    private_rabbitmq: PrivateRabbitMQ,
    real_2023_sqlite: tuple[Path, bytes],
    sqlite_url: str,
) -> None:
    database = sqlite_copy(real_2023_sqlite, sqlite_url)
    service.settings.update(
        {**FAST, "DATABASE_URL": database.url, "REPORTS_DIR": str(service.folder / "reports")},
        CELERY_BROKER_URL=private_rabbitmq.url,
    )
    start_beat_worker(service, "worker")
    api = service.start_api()

    report_id = api.trigger()
    private_rabbitmq.stop()
    time.sleep(10)
    private_rabbitmq.start()
    complete_within(api, report_id, database, time.monotonic(), "RabbitMQ down 10 s at the trigger")

    report_id = api.trigger()
    wait_for_progress(api, report_id, database.parts(CHUNK_SIZE), service)
    private_rabbitmq.stop()
    time.sleep(10)
    private_rabbitmq.start()
    complete_within(api, report_id, database, time.monotonic(), "RabbitMQ down 10 s mid-report")
