"""Ingestion as a run, and the watched folder, over in-memory repositories and registries.

The uploaded files are real files in a temporary folder, read by the real
CSV reader; the units of work are kept in memory: the only fakes are the broker (a work queue) and the clock.
"""

from __future__ import annotations

import io
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest
from fakes import RecordingWorkQueue, in_memory_work

from adapters.csv.reader import PandasCsvReader
from adapters.folder_fingerprints import FilesystemFingerprinter
from adapters.memory.data import (
    InMemoryBusinessHoursRepository,
    InMemoryIngestionLog,
    InMemoryStatusRepository,
    InMemoryTimezoneRepository,
)
from adapters.memory.reading import InMemoryFingerprintStore
from adapters.memory.uploads import InMemoryIngestRegistry
from adapters.upload_storage import FilesystemUploadStorage
from domain.model.errors import InvalidInputError
from domain.model.ingestion import HOURS_FILE, STATUS_FILE, TIMEZONE_FILE
from domain.model.report import ReportStatus
from domain.model.upload_runs import FileFingerprint, FolderFingerprints, IngestRun
from domain.ports.data import RepositoryError
from domain.ports.uploads import ByteStream, IngestNotFound, InvalidUpload, UploadTooLarge
from domain.ports.work import QueueUnavailable
from domain.use_cases.ingest import IngestService
from domain.use_cases.ingest_runs import IngestRunService, WatchedFolderIngestion, check_upload_names
from domain.use_cases.work import WorkTracker

STATUS_CSV = (
    b"store_id,status,timestamp_utc\n"
    b"a,active,2023-01-24 09:07:00.000000 UTC\n"
    b"a,inactive,2023-01-24 10:07:00 UTC\n"
    b"b,active,2023-01-24 09:30:00 UTC\n"
    b"b,active,2023-01-24 09:30:00 UTC\n"  # a duplicate
    b"c,sleeping,2023-01-24 09:30:00 UTC\n"  # rejected: unknown status
)
HOURS_CSV = b"store_id,dayOfWeek,start_time_local,end_time_local\na,1,09:00:00,17:00:00\nb,1,22:00:00,02:00:00\n"
TIMEZONE_CSV = b"store_id,timezone_str\na,America/New_York\nb,Asia/Tokyo\n"
# No end_time_local column: an error that names the file and the column.
HOURS_WITHOUT_END_CSV = b"store_id,dayOfWeek,start_time_local\na,1,09:00:00\n"

ALL_FILES = {STATUS_FILE: STATUS_CSV, HOURS_FILE: HOURS_CSV, TIMEZONE_FILE: TIMEZONE_CSV}
STALL = timedelta(minutes=10)


class TickingClock:
    """A clock that moves one second at every reading, so each step has its own instant."""

    def __init__(self) -> None:
        self.now = datetime(2023, 1, 25, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


class SequentialIds:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        return f"00000000-0000-4000-8000-{self.count:012d}"


class DownRegistry(InMemoryIngestRegistry):
    REASON = "database error: connection refused"

    def add(self, run: IngestRun) -> None:
        raise RepositoryError(self.REASON)


@attrs.define
class Setup:
    service: IngestRunService
    registry: InMemoryIngestRegistry
    uploads: FilesystemUploadStorage
    queue: RecordingWorkQueue
    work: WorkTracker
    clock: TickingClock
    status: InMemoryStatusRepository
    hours: InMemoryBusinessHoursRepository
    timezones: InMemoryTimezoneRepository
    ingest: IngestService
    log: InMemoryIngestionLog

    def stored_polls(self) -> list[tuple[str, int, bool]]:
        return self.status.polls_since(-(2**62), snapshot=self.log.latest_complete()).rows()

    def upload_folders(self) -> list[str]:
        directory = self.uploads.directory
        return sorted(path.name for path in directory.iterdir()) if directory.exists() else []


def make_setup(
    tmp_path: Path,
    queue: RecordingWorkQueue | None = None,
    registry: InMemoryIngestRegistry | None = None,
    max_bytes: int = 1 << 20,
) -> Setup:
    status, hours, timezones = InMemoryStatusRepository(), InMemoryBusinessHoursRepository(), InMemoryTimezoneRepository()
    log = InMemoryIngestionLog(status, hours, timezones)
    ingest = IngestService(PandasCsvReader(), status, hours, timezones, log)
    built_registry = registry if registry is not None else InMemoryIngestRegistry()
    uploads = FilesystemUploadStorage(tmp_path / "uploads")
    built_queue = queue if queue is not None else RecordingWorkQueue()
    clock = TickingClock()
    work = in_memory_work(clock, built_queue)
    service = IngestRunService(ingest, built_registry, uploads, work, clock, SequentialIds(), STALL, max_bytes=max_bytes)
    return Setup(service, built_registry, uploads, built_queue, work, clock, status, hours, timezones, ingest, log)


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    return make_setup(tmp_path)


def streams(files: dict[str, bytes]) -> dict[str, ByteStream]:
    return {name: io.BytesIO(content) for name, content in files.items()}


def expected_summary(tmp_path: Path, files: dict[str, bytes]) -> dict[str, Any]:
    """What ``store-monitor ingest`` of the same files into empty repositories reports."""
    folder = tmp_path / "expected"
    folder.mkdir()
    for name, content in files.items():
        (folder / name).write_bytes(content)
    fresh = make_setup(tmp_path / "fresh")
    return fresh.ingest.ingest(folder).to_dict()


# --- start ----------------------------------------------------------------------------


def test_start_stores_the_files_then_records_a_running_run_then_queues_it(setup: Setup) -> None:
    run = setup.service.start(streams({TIMEZONE_FILE: TIMEZONE_CSV, STATUS_FILE: STATUS_CSV}))

    assert run.status is ReportStatus.RUNNING and run.is_running
    assert setup.queue.submitted == [run.ingest_id]
    assert setup.registry.get(run.ingest_id) == run
    # Listed in the order of the input files, whatever the order given.
    assert run.files == (STATUS_FILE, TIMEZONE_FILE)
    assert (run.summary, run.error, run.finished_at) == (None, None, None)
    folder = setup.uploads.folder(run.ingest_id)
    assert sorted(path.name for path in folder.iterdir()) == [STATUS_FILE, TIMEZONE_FILE]
    assert (folder / STATUS_FILE).read_bytes() == STATUS_CSV
    # Nothing is ingested before a worker runs it.
    assert setup.stored_polls() == []


def test_each_start_is_a_new_run(setup: Setup) -> None:
    first = setup.service.start(streams(ALL_FILES))
    second = setup.service.start(streams(ALL_FILES))

    assert first.ingest_id != second.ingest_id
    assert setup.queue.submitted == [first.ingest_id, second.ingest_id]


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ([], "no file uploaded"),
        (["store_status.csv", "orders.csv"], "unknown file 'orders.csv'"),
        (["menu_hours.csv", "timezone.csv"], "store_status.csv is required"),
        (["store_status.csv", "store_status.csv"], "more than once"),
    ],
)
def test_files_that_cannot_be_ingested_are_refused(names: list[str], message: str) -> None:
    with pytest.raises(InvalidUpload, match=message):
        check_upload_names(names)


def test_a_refused_upload_keeps_nothing_records_nothing_and_queues_nothing(setup: Setup) -> None:
    with pytest.raises(InvalidUpload, match="store_status.csv is required"):
        setup.service.start(streams({HOURS_FILE: HOURS_CSV}))

    assert setup.registry.runs == {}
    assert setup.queue.submitted == []
    assert setup.upload_folders() == []


def test_files_larger_than_the_limit_in_all_are_refused_and_nothing_is_kept(tmp_path: Path) -> None:
    # Each file fits alone; together they pass the limit.
    limit = len(STATUS_CSV) + len(HOURS_CSV) - 1
    setup = make_setup(tmp_path, max_bytes=limit)

    with pytest.raises(UploadTooLarge, match=f"limit of {limit} bytes"):
        setup.service.start(streams({STATUS_FILE: STATUS_CSV, HOURS_FILE: HOURS_CSV}))

    assert setup.registry.runs == {}
    assert setup.queue.submitted == []
    assert setup.upload_folders() == []


def test_files_of_exactly_the_limit_are_taken(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, max_bytes=len(STATUS_CSV) + len(HOURS_CSV))

    run = setup.service.start(streams({STATUS_FILE: STATUS_CSV, HOURS_FILE: HOURS_CSV}))

    assert run.files == (STATUS_FILE, HOURS_FILE)


def test_with_the_broker_down_the_run_is_failed_with_the_reason_and_its_files_dropped(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, queue=RecordingWorkQueue(refuse=True))

    with pytest.raises(QueueUnavailable):
        setup.service.start(streams(ALL_FILES))

    [run] = setup.registry.runs.values()
    assert run.status is ReportStatus.FAILED
    assert run.error is not None and "could not be queued" in run.error and "connection refused" in run.error
    assert run.finished_at is not None
    assert setup.upload_folders() == []


def test_with_the_database_down_nothing_is_kept_or_queued(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, registry=DownRegistry())

    with pytest.raises(RepositoryError, match="connection refused"):
        setup.service.start(streams(ALL_FILES))

    assert setup.queue.submitted == []
    assert setup.upload_folders() == []


# --- run ------------------------------------------------------------------------------


def test_run_ingests_the_files_completes_with_the_summary_and_drops_the_files(setup: Setup, tmp_path: Path) -> None:
    run = setup.service.start(streams(ALL_FILES))
    steps: list[tuple[str, int, int]] = []

    finished = setup.service.run(run.ingest_id, lambda step, done, total: steps.append((step, done, total)))

    assert finished.status is ReportStatus.COMPLETE
    assert finished.summary == expected_summary(tmp_path, ALL_FILES)
    assert finished.summary is not None and finished.summary["store_status"]["rows"] == 5
    assert finished.summary["store_status"]["new"] == 3
    assert finished.summary["store_status"]["duplicates"] == 1
    assert finished.summary["store_status"]["rejected"] == 1
    assert finished.error is None and finished.finished_at is not None
    assert setup.registry.get(run.ingest_id) == finished
    assert [store for store, _, _ in setup.stored_polls()] == ["a", "a", "b"]
    assert setup.timezones.timezones(snapshot=setup.log.latest_complete()).by_store == {
        "a": "America/New_York",
        "b": "Asia/Tokyo",
    }
    assert steps[0][1] == 0 and steps[-1][1] == steps[-1][2]
    assert setup.upload_folders() == []


def test_run_moves_the_run_forward_at_every_step(setup: Setup) -> None:
    run = setup.service.start(streams(ALL_FILES))
    seen: list[datetime] = []

    def record(step: str, done: int, total: int) -> None:
        seen.append(setup.registry.get(run.ingest_id).updated_at)

    setup.service.run(run.ingest_id, record)

    assert len(seen) >= 2
    assert run.updated_at < seen[0] and seen == sorted(seen) and len(set(seen)) == len(seen)


def test_a_missing_column_fails_the_run_naming_file_and_column_and_stores_nothing(setup: Setup) -> None:
    run = setup.service.start(streams({STATUS_FILE: STATUS_CSV, HOURS_FILE: HOURS_WITHOUT_END_CSV}))

    finished = setup.service.run(run.ingest_id)

    assert finished.status is ReportStatus.FAILED
    assert finished.error is not None
    assert HOURS_FILE in finished.error and "end_time_local" in finished.error
    assert finished.summary is None
    # The whole folder is read before anything is stored: not even the valid status file.
    assert setup.stored_polls() == []
    assert len(setup.hours.hours(snapshot=setup.log.latest_complete())) == 0
    assert setup.upload_folders() == []


def test_a_run_delivered_again_after_it_finished_changes_nothing(setup: Setup) -> None:
    run = setup.service.start(streams(ALL_FILES))
    finished = setup.service.run(run.ingest_id)

    again = setup.service.run(run.ingest_id)

    assert again == finished
    assert setup.registry.get(run.ingest_id) == finished


def test_a_run_delivered_again_while_running_ingests_again_without_duplicates(setup: Setup, tmp_path: Path) -> None:
    run = setup.service.start(streams(ALL_FILES))
    # A first delivery stored everything, then its worker died before recording the end.
    setup.ingest.ingest(setup.uploads.folder(run.ingest_id))
    polls_before = setup.stored_polls()

    finished = setup.service.run(run.ingest_id)

    assert finished.status is ReportStatus.COMPLETE
    assert finished.summary is not None
    assert [finished.summary[name]["new"] for name in ("store_status", "menu_hours", "timezone")] == [0, 0, 0]
    assert finished.summary["store_status"]["rows"] == expected_summary(tmp_path, ALL_FILES)["store_status"]["rows"]
    assert setup.stored_polls() == polls_before


class FlakyStatusRepository(InMemoryStatusRepository):
    def add(self, polls: object, *, version: int) -> int:
        raise RepositoryError("database error: database is locked")


def test_a_database_error_during_the_run_leaves_it_running_with_its_files_for_a_retry(setup: Setup) -> None:
    run = setup.service.start(streams(ALL_FILES))
    flaky = IngestService(PandasCsvReader(), FlakyStatusRepository(), setup.hours, setup.timezones, setup.log)
    retrying = IngestRunService(
        flaky, setup.registry, setup.uploads, setup.work, setup.clock, SequentialIds(), STALL
    )

    with pytest.raises(RepositoryError, match="locked"):
        retrying.run(run.ingest_id)

    assert setup.registry.get(run.ingest_id).is_running
    assert setup.upload_folders() == [run.ingest_id]
    # The retry, with the database back, completes it.
    assert setup.service.run(run.ingest_id).status is ReportStatus.COMPLETE


def test_a_run_whose_files_are_gone_fails_with_the_reason(setup: Setup) -> None:
    run = setup.service.start(streams(ALL_FILES))
    setup.uploads.delete(run.ingest_id)

    finished = setup.service.run(run.ingest_id)

    assert finished.status is ReportStatus.FAILED
    assert finished.error is not None and "UPLOADS_DIR" in finished.error


def test_fail_only_changes_a_running_run(setup: Setup) -> None:
    run = setup.service.start(streams(ALL_FILES))
    setup.service.run(run.ingest_id)

    assert setup.service.fail(run.ingest_id, "WorkerLostError") is False
    assert setup.registry.get(run.ingest_id).status is ReportStatus.COMPLETE


def test_an_unknown_id_is_not_found(setup: Setup) -> None:
    with pytest.raises(IngestNotFound, match="no ingestion with id x"):
        setup.service.status("x")
    with pytest.raises(IngestNotFound):
        setup.service.run("x")


# --- status ---------------------------------------------------------------------------


def test_status_of_a_running_run_within_the_stall_time_is_running(setup: Setup) -> None:
    run = setup.service.start(streams(ALL_FILES))
    setup.clock.now = run.updated_at + STALL - timedelta(seconds=2)

    assert setup.service.status(run.ingest_id).status is ReportStatus.RUNNING


def test_a_run_without_progress_for_the_stall_time_is_failed_when_polled(setup: Setup) -> None:
    run = setup.service.start(streams(ALL_FILES))
    setup.clock.now = run.updated_at + STALL

    polled = setup.service.status(run.ingest_id)

    assert polled.status is ReportStatus.FAILED
    assert polled.error is not None and "no progress for 600 s" in polled.error
    assert setup.upload_folders() == []
    # The worker that comes too late changes nothing.
    assert setup.service.run(run.ingest_id).status is ReportStatus.FAILED
    assert setup.stored_polls() == []


def test_a_finished_run_never_stalls(setup: Setup) -> None:
    run = setup.service.start(streams(ALL_FILES))
    setup.service.run(run.ingest_id)
    setup.clock.now += timedelta(days=30)

    assert setup.service.status(run.ingest_id).status is ReportStatus.COMPLETE


# --- the watched folder ---------------------------------------------------------------


@attrs.define
class Watched:
    watcher: WatchedFolderIngestion
    store: InMemoryFingerprintStore
    folder: Path
    setup: Setup

    def write(self, name: str, content: bytes) -> None:
        (self.folder / name).write_bytes(content)

    def recorded(self) -> tuple[FileFingerprint, ...]:
        return self.store.load(str(self.folder.resolve()))


@pytest.fixture
def watched(tmp_path: Path) -> Watched:
    setup = make_setup(tmp_path)
    store = InMemoryFingerprintStore()
    folder = tmp_path / "watched"
    folder.mkdir()
    built = Watched(WatchedFolderIngestion(setup.ingest, FilesystemFingerprinter(), store), store, folder, setup)
    for name, content in ALL_FILES.items():
        built.write(name, content)
    return built


def test_a_folder_is_ingested_once_then_skipped_while_unchanged(watched: Watched, tmp_path: Path) -> None:
    first = watched.watcher.ingest_if_changed(watched.folder)

    assert first is not None and first.to_dict() == expected_summary(tmp_path, ALL_FILES)
    assert [f.name for f in watched.recorded()] == sorted(ALL_FILES)
    assert watched.watcher.ingest_if_changed(watched.folder) is None


def test_a_changed_file_makes_the_folder_ingested_again(watched: Watched) -> None:
    watched.watcher.ingest_if_changed(watched.folder)
    watched.write(STATUS_FILE, STATUS_CSV + b"d,active,2023-01-24 11:00:00 UTC\n")

    again = watched.watcher.ingest_if_changed(watched.folder)

    assert again is not None and again.store_status.new == 1 and again.timezone.new == 0
    assert watched.watcher.ingest_if_changed(watched.folder) is None


def test_a_new_file_in_the_folder_is_a_change(watched: Watched) -> None:
    (watched.folder / TIMEZONE_FILE).unlink()
    watched.watcher.ingest_if_changed(watched.folder)
    watched.write(TIMEZONE_FILE, TIMEZONE_CSV)

    again = watched.watcher.ingest_if_changed(watched.folder)

    assert again is not None and again.timezone.new == 2


def test_a_file_touched_but_not_changed_is_skipped_and_its_new_time_recorded(watched: Watched) -> None:
    watched.watcher.ingest_if_changed(watched.folder)
    before = {f.name: f for f in watched.recorded()}
    path = watched.folder / HOURS_FILE
    later = before[HOURS_FILE].mtime_ns + 5_000_000_000
    os.utime(path, ns=(later, later))

    assert watched.watcher.ingest_if_changed(watched.folder) is None
    after = {f.name: f for f in watched.recorded()}
    assert after[HOURS_FILE] == attrs.evolve(before[HOURS_FILE], mtime_ns=later)
    assert after[STATUS_FILE] == before[STATUS_FILE]


def test_a_failed_ingestion_records_nothing_so_the_next_check_tries_again(watched: Watched) -> None:
    watched.write(HOURS_FILE, HOURS_WITHOUT_END_CSV)

    for _ in range(2):
        with pytest.raises(InvalidInputError, match="end_time_local"):
            watched.watcher.ingest_if_changed(watched.folder)
        assert watched.recorded() == ()
    assert watched.setup.stored_polls() == []

    watched.write(HOURS_FILE, HOURS_CSV)
    assert watched.watcher.ingest_if_changed(watched.folder) is not None


def test_a_folder_without_its_status_file_is_never_skipped(tmp_path: Path, watched: Watched) -> None:
    missing = tmp_path / "nowhere"
    for _ in range(2):
        with pytest.raises(InvalidInputError, match="does not exist"):
            watched.watcher.ingest_if_changed(missing)


def test_folder_fingerprints_compare_content_not_times() -> None:
    one = FileFingerprint(STATUS_FILE, 10, 1, "ab")
    touched = attrs.evolve(one, mtime_ns=2)
    changed = attrs.evolve(one, sha256="cd")

    assert FolderFingerprints("/f", [one]).same_content([touched])
    assert not FolderFingerprints("/f", [one]).same_content([changed])
    assert not FolderFingerprints("/f", [one]).same_content([])
    assert not FolderFingerprints("/f", []).same_content([one])
