"""The running service when its storage fails under a worker: reports never stay Running, never serve a CSV.

Real processes throughout (a private redis-server, ``store-monitor worker``,
``store-monitor serve``) over the sample data in ``data/``, and real faults
from the kernel, made so that they hold for root (which ignores file
permissions):

* the reports folder on a read-only bind mount (EROFS), or below a regular
  file (ENOTDIR);
* the reports folder on a full tmpfs (ENOSPC);
* the database opened read-only by the worker (SQLite ``mode=ro``).

A mount is made inside a mount namespace of the worker's own (``unshare
--mount``), so only the worker sees it, and it vanishes with the worker even
if the test is killed. The test looks at the worker's view of the folder
through ``/proc/<pid>/root``. Where mount namespaces are not allowed, those
cases are skipped with the reason.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from service_fixtures import (
    REPO,
    RedisServer,
    ServiceProcess,
    ServiceRunner,
    redis_server,
    registry_row,
    service,
    wait_for,
)

# Fixtures used by name below; listed so that pytest finds them in this module.
__all__ = ["redis_server", "service"]

SAMPLE_DATA = REPO / "data"
FAILED_WITHIN_S = 30.0
# UnitTask.max_retries (entrypoints/unit_task.py): retries of a task that met a database error.
TASK_RETRIES = 3


@pytest.fixture(scope="module")
def sample_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with ``data/`` ingested, once per module; each test works on a copy."""
    folder = tmp_path_factory.mktemp("sample-sqlite")
    path = folder / "store-monitor.sqlite3"
    ServiceRunner(folder / "cli").run_cli("ingest", str(SAMPLE_DATA), overrides={"DATABASE_URL": f"sqlite:///{path}"})
    return path


def configure(service: ServiceRunner, redis: RedisServer, template: Path, reports_dir: Path) -> str:
    """Settings for every process of the test; returns the (writable) database URL."""
    database = service.folder / "db" / "store-monitor.sqlite3"
    database.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, database)
    url = f"sqlite:///{database}"
    service.settings.update(DATABASE_URL=url, REPORTS_DIR=str(reports_dir), REPORT_CHUNK_SIZE="100")
    service.use_redis(redis)
    return url


@functools.cache
def mount_namespaces() -> str | None:
    """None when a process can get a mount namespace and mount a tmpfs in it; else why not."""
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    with tempfile.TemporaryDirectory() as folder:
        probe = subprocess.run(
            ["unshare", "--mount", "sh", "-c", f"mount -t tmpfs -o size=4k tmpfs {shlex.quote(folder)}"],
            capture_output=True,
            text=True,
        )
    if probe.returncode != 0:
        return f"cannot mount in a mount namespace here: {probe.stderr.strip() or probe.returncode}"
    return None


def start_isolated_worker(service: ServiceRunner, setup: str) -> ServiceProcess:
    """A ``store-monitor worker`` in a mount namespace of its own, started once ``setup`` (sh) ran there."""
    reason = mount_namespaces()
    if reason is not None:
        pytest.skip(reason)
    log_path = service.logs / "worker.log"
    command = [
        "unshare", "--mount", "--propagation", "private",
        "sh", "-c", f'set -e; {setup}; exec "$@"', "sh",
        sys.executable, "-m", "entrypoints.cli", "worker", "--concurrency", "1",
    ]
    with log_path.open("ab") as log:
        popen = subprocess.Popen(
            command,
            cwd=service.folder,
            env=service.environment(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    # unshare and sh exec: the pid is the worker's, and so is /proc/<pid>/root.
    worker = ServiceProcess("worker", popen, log_path)
    service.processes.append(worker)
    service.wait_for_log(worker, "ready.")
    return worker


def as_seen_by(process: ServiceProcess, folder: Path) -> Path:
    """``folder`` in ``process``'s mount namespace."""
    return Path(f"/proc/{process.popen.pid}/root") / folder.relative_to("/")


def assert_failed_without_csv(service: ServiceRunner, database_url: str, expected: str) -> str:
    """Trigger a report; it must end Failed, its reason containing ``expected``, and never serve a CSV."""
    api = service.start_api()
    report_id = api.trigger()
    finished = api.wait_until_finished(report_id, timeout=FAILED_WITHIN_S)
    answer = finished.answer
    assert answer.status == 200 and answer.content_type == "application/json", answer.shown()
    state = answer.json()
    assert state["status"] == "Failed" and expected in state["error"], f"{state}\n{service.diagnostics()}"
    row = registry_row(database_url, report_id)
    assert (row.status, row.error) == ("Failed", state["error"])
    # Asked again, the same Failed answer: nothing turns it into a CSV later.
    again = api.report(report_id)
    assert again.content_type == "application/json" and again.json() == state
    return report_id


def test_a_read_only_reports_folder_fails_the_report_with_the_reason(
    service: ServiceRunner, redis_server: RedisServer, sample_database: Path, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    url = configure(service, redis_server, sample_database, reports)
    folder = shlex.quote(str(reports))
    worker = start_isolated_worker(service, f"mount --bind {folder} {folder}; mount -o remount,bind,ro {folder}")

    report_id = assert_failed_without_csv(service, url, "Read-only file system")

    error = registry_row(url, report_id).error or ""
    assert f"cannot save report {report_id} in {reports}" in error, error
    assert list(as_seen_by(worker, reports).iterdir()) == []


def test_a_reports_folder_below_a_regular_file_fails_the_report_with_the_reason(
    service: ServiceRunner, redis_server: RedisServer, sample_database: Path, tmp_path: Path
) -> None:
    # mkdir fails with ENOTDIR for root too: no mount needed, so this runs everywhere.
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    reports = blocker / "reports"
    url = configure(service, redis_server, sample_database, reports)
    service.start_worker(concurrency=1)

    report_id = assert_failed_without_csv(service, url, "Not a directory")

    error = registry_row(url, report_id).error or ""
    # Which unit failed, then why.
    assert error.startswith("task failed: ") and f"ReportStorageError: cannot save report {report_id} in {reports}" in error
    assert blocker.read_text() == "not a folder\n"


def test_a_full_disk_fails_the_report_and_leaves_no_file_behind(
    service: ServiceRunner, redis_server: RedisServer, sample_database: Path, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    url = configure(service, redis_server, sample_database, reports)
    folder = shlex.quote(str(reports))
    # A one-page tmpfs, filled up: the report's bytes get ENOSPC.
    worker = start_isolated_worker(
        service,
        f"mount -t tmpfs -o size=4k tmpfs {folder}; head -c 65536 /dev/zero > {folder}/filler || true",
    )
    seen = as_seen_by(worker, reports)
    assert [path.name for path in seen.iterdir()] == ["filler"]

    report_id = assert_failed_without_csv(service, url, "No space left on device")

    # Neither the report nor its temporary file: only what was there before.
    assert [path.name for path in seen.iterdir()] == ["filler"]
    assert not (reports / f"{report_id}.csv").exists()


def test_a_database_the_worker_cannot_write_fails_the_report_once_its_work_stalls(
    service: ServiceRunner, redis_server: RedisServer, sample_database: Path, tmp_path: Path
) -> None:
    stall_seconds = 8
    reports = tmp_path / "reports"
    url = configure(service, redis_server, sample_database, reports)
    service.settings["REPORT_STALL_SECONDS"] = str(stall_seconds)
    database = url.removeprefix("sqlite:///")
    # The worker opens the same file read-only; the API writes it as usual.
    worker = service.start_worker(
        concurrency=1, overrides={"DATABASE_URL": f"sqlite:///file:{database}?mode=ro&uri=true"}
    )
    api = service.start_api()
    started = time.monotonic()
    report_id = api.trigger()

    # The worker's write is refused, and the task retried (database errors are retried).
    wait_for(
        lambda: "readonly database" in worker.log_text() and "Retry in" in worker.log_text(),
        FAILED_WITHIN_S,
        "the worker retrying after the read-only database refused a write",
        service.diagnostics,
    )
    # It cannot record the failure either; the API fails the run once it made no progress for the stall time.
    finished = api.wait_until_finished(report_id, timeout=stall_seconds + FAILED_WITHIN_S, interval=0.2)
    elapsed = time.monotonic() - started

    answer = finished.answer
    assert answer.content_type == "application/json", answer.shown()
    state = answer.json()
    assert state["status"] == "Failed" and f"no progress for {stall_seconds} s" in state["error"], state
    assert elapsed >= stall_seconds
    assert all(running["status"] == "Running" for running in finished.running_states)
    assert registry_row(url, report_id).status == "Failed"
    assert not reports.exists() or not any(reports.iterdir())
    # The worker gave up after its retries; its own attempt to record the failure was refused too.
    wait_for(
        lambda: worker.log_text().count("Retry in") == TASK_RETRIES and "Exception raised outside body" in worker.log_text(),
        FAILED_WITHIN_S,
        f"the worker giving up after {TASK_RETRIES} retries",
        service.diagnostics,
    )


def test_the_isolated_mounts_never_reach_the_test(tmp_path: Path) -> None:
    """A mount made for a worker stays in its namespace: the folder the test sees is untouched."""
    reason = mount_namespaces()
    if reason is not None:
        pytest.skip(reason)
    folder = tmp_path / "mounted-elsewhere"
    folder.mkdir()
    inside = subprocess.run(
        ["unshare", "--mount", "sh", "-c", f"mount -t tmpfs tmpfs {folder} && touch {folder}/inside && ls {folder}"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert inside.stdout.split() == ["inside"]
    assert list(folder.iterdir()) == []
    assert os.stat(folder).st_dev == os.stat(tmp_path).st_dev
