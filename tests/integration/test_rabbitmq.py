"""The service on RabbitMQ: by configuration alone, and surviving its faults (kills, the broker down).

Every test of the machine's RabbitMQ is here: they share its queue, and a
spread suite runs a module's tests in one process, one after the other (the
broker's outage uses a private RabbitMQ of its own). Needs a RabbitMQ server
(``RABBITMQ_URL``, by default guest at 127.0.0.1:5672); skipped with the
reason when none answers, unless ``REQUIRE_RABBITMQ=1``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from recovery import (
    CHUNK_SIZE,
    FAST,
    RABBITMQ_URL,
    complete_within,
    kill_a_part_holder,
    kill_worker_holding_a_part,
    wait_for_progress,
)
from service_fixtures import (
    LoadedDatabase,
    ServiceProcess,
    ServiceRunner,
    free_port,
    real_2023_sqlite,
    redis_server,
    require_empty_rabbitmq_queue,
    service,
    sqlite_copy,
    wait_for,
)

__all__ = ["real_2023_sqlite", "redis_server", "service"]

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
