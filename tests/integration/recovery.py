"""What the fault tests share: short leases, waiting for a report's progress, killing what holds
its parts, and the time from the end of a fault to the report Complete (``RECOVERY_S`` at most).

Measured recovery times are printed (``pytest -s``) and, with ``TEST_ARTIFACTS_DIR`` set,
appended to ``recovery-times.txt`` there.
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

from service_fixtures import (
    ApiClient,
    LoadedDatabase,
    ServiceProcess,
    ServiceRunner,
    wait_for,
)
from sqlalchemy import select

from adapters.sqlalchemy.database import create_engine_for
from adapters.sqlalchemy.tables import work_units
from entrypoints.worker_process import POOL_STALLED_EXIT

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


def wait_until_it_takes_parts_again(
    worker: ServiceProcess, pool: set[int], killed: int, runner: ServiceRunner
) -> ServiceProcess:
    """Once ``kill_a_part_holder`` killed ``killed``: if it was of ``worker``'s ``pool``, return when the
    worker finished a task it received after it saw that process exit.

    A task the killed process was running keeps the worker's only place for a task until the
    worker gives it up (it logs the ``WorkerLostError``, a second or more later), so the parts of
    a report triggered meanwhile could all be done by the other worker before this one takes any.
    The process may also have died between two tasks: then nothing is lost, nothing is logged,
    and the next task (a watchdog's, every second) runs at once.

    Should the pool start none of the tasks received after the kill, the worker exits with
    ``POOL_STALLED_EXIT``. It is started again here, as its process manager would, and the
    worker returned is the one that takes parts.
    """
    if killed not in pool:
        return worker
    exited = f"pid:{killed} exited"
    runner.wait_for_log(worker, exited)

    def finished_a_later_task() -> bool:
        since = worker.log_text().split(exited, 1)[1]
        received = re.findall(r"Task \S+\[([0-9a-f-]+)\] received", since)
        return any(f"[{task_id}] succeeded" in since for task_id in received)

    def took_one_or_exited() -> bool:
        return not worker.alive or finished_a_later_task()

    wait_for(took_one_or_exited, 30, f"{worker.name} finishing a task after {exited}", runner.diagnostics)
    if worker.alive:
        return worker
    assert worker.popen.returncode == POOL_STALLED_EXIT, f"{worker.name} died: {worker.popen.returncode}"
    # The second of ``start_workers``, started again.
    return runner.start_worker(f"{worker.name}-again", concurrency=1)


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


def start_workers(service: ServiceRunner, overrides: dict[str, str] | None = None) -> list[ServiceProcess]:
    """Two workers, the first with beat (the watchdog)."""
    first = service.start("worker-1", "worker", "--concurrency", "2", "--beat", overrides=overrides)
    second = service.start("worker-2", "worker", "--concurrency", "1", overrides=overrides)
    for worker in (first, second):
        service.wait_for_log(worker, "ready.")
    return [first, second]
