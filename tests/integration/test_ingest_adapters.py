"""The ingestion adapters: one suite for each port over memory, SQLite and PostgreSQL,
and the upload folder and the fingerprints on a real disk."""

from __future__ import annotations

import hashlib
import io
import os
import threading
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest
from sqlalchemy import Engine

from adapters.folder_fingerprints import FilesystemFingerprinter
from adapters.memory.reading import InMemoryFingerprintStore
from adapters.memory.uploads import InMemoryIngestRegistry
from adapters.sqlalchemy.ingest_registry import SqlAlchemyIngestRegistry
from adapters.sqlalchemy.watched_files import SqlAlchemyFingerprintStore
from adapters.upload_storage import FilesystemUploadStorage
from domain.model.ingestion import HOURS_FILE, STATUS_FILE, TIMEZONE_FILE
from domain.model.report import ReportStatus
from domain.model.upload_runs import FileFingerprint, IngestRun
from domain.ports.data import RepositoryError
from domain.ports.reading import FingerprintStore
from domain.ports.uploads import IngestNotFound, IngestRegistry, InvalidUpload, UploadStorageError, UploadTooLarge

BACKENDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
AT = datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
# A summary as IngestSummary.to_dict() gives it: order of keys and nesting matter.
SUMMARY: dict[str, Any] = {
    "store_status": {
        "rows": 3,
        "new": 1,
        "already_stored": 1,
        "duplicates": 0,
        "rejected": 1,
        "errors": [{"line": 4, "reason": "bad"}],
    },
    "menu_hours": {"rows": 0, "new": 0, "already_stored": 0, "duplicates": 0, "rejected": 0, "errors": []},
    "timezone": {"rows": 1, "new": 1, "already_stored": 0, "duplicates": 0, "rejected": 0, "errors": []},
}


@pytest.fixture(params=BACKENDS)
def registry(request: pytest.FixtureRequest) -> IngestRegistry:
    if request.param == "memory":
        return InMemoryIngestRegistry()
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    return SqlAlchemyIngestRegistry(engine)


@pytest.fixture(params=BACKENDS)
def fingerprints(request: pytest.FixtureRequest) -> FingerprintStore:
    if request.param == "memory":
        return InMemoryFingerprintStore()
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    return SqlAlchemyFingerprintStore(engine)


def running(ingest_id: str | None = None, files: tuple[str, ...] = (STATUS_FILE, TIMEZONE_FILE)) -> IngestRun:
    return IngestRun(ingest_id or str(uuid.uuid4()), ReportStatus.RUNNING, created_at=AT, updated_at=AT, files=files)


# --- IngestRegistry -------------------------------------------------------------------


@pytest.mark.parametrize("source", [None, "poller-eu 1/é"])
def test_a_run_reads_back_as_it_was_added(registry: IngestRegistry, source: str | None) -> None:
    run = attrs.evolve(running(), source=source)

    registry.add(run)

    assert registry.get(run.ingest_id) == run


def test_adding_an_existing_id_is_an_error(registry: IngestRegistry) -> None:
    run = running()
    registry.add(run)

    with pytest.raises(RepositoryError, match="exists already"):
        registry.add(run)


def test_every_method_but_add_refuses_an_unknown_id(registry: IngestRegistry) -> None:
    for call in (
        lambda: registry.get("nope"),
        lambda: registry.touch("nope", AT),
        lambda: registry.mark_complete("nope", SUMMARY, AT),
        lambda: registry.mark_failed("nope", "why", AT),
    ):
        with pytest.raises(IngestNotFound, match="nope"):
            call()


def test_touch_moves_only_updated_at(registry: IngestRegistry) -> None:
    run = running()
    registry.add(run)
    later = AT + timedelta(seconds=5)

    assert registry.touch(run.ingest_id, later) is True

    touched = registry.get(run.ingest_id)
    assert touched.updated_at == later
    assert (touched.created_at, touched.status, touched.finished_at) == (AT, ReportStatus.RUNNING, None)


def test_complete_keeps_the_summary_exactly_in_its_order(registry: IngestRegistry) -> None:
    run = running()
    registry.add(run)
    finished_at = AT + timedelta(minutes=1)

    assert registry.mark_complete(run.ingest_id, SUMMARY, finished_at) is True

    complete = registry.get(run.ingest_id)
    assert complete.status is ReportStatus.COMPLETE
    assert complete.summary == SUMMARY
    assert complete.summary is not None and list(complete.summary) == ["store_status", "menu_hours", "timezone"]
    assert list(complete.summary["store_status"]) == [
        "rows",
        "new",
        "already_stored",
        "duplicates",
        "rejected",
        "errors",
    ]
    assert (complete.finished_at, complete.updated_at, complete.error) == (finished_at, finished_at, None)
    assert complete.files == run.files


def test_failed_keeps_the_reason(registry: IngestRegistry) -> None:
    run = running()
    registry.add(run)

    assert registry.mark_failed(run.ingest_id, "menu_hours.csv has no column end_time_local", AT) is True

    failed = registry.get(run.ingest_id)
    assert (failed.status, failed.error, failed.summary) == (
        ReportStatus.FAILED,
        "menu_hours.csv has no column end_time_local",
        None,
    )


def test_a_run_leaves_running_once(registry: IngestRegistry) -> None:
    run = running()
    registry.add(run)
    registry.mark_complete(run.ingest_id, SUMMARY, AT)

    assert registry.mark_failed(run.ingest_id, "late", AT) is False
    assert registry.mark_complete(run.ingest_id, {}, AT) is False
    assert registry.touch(run.ingest_id, AT + timedelta(hours=1)) is False
    assert registry.get(run.ingest_id).status is ReportStatus.COMPLETE
    assert registry.get(run.ingest_id).summary == SUMMARY


def test_times_in_another_timezone_come_back_as_the_same_instant(registry: IngestRegistry) -> None:
    paris = timezone(timedelta(hours=1))
    run = IngestRun(str(uuid.uuid4()), ReportStatus.RUNNING, created_at=AT.astimezone(paris), updated_at=AT)

    registry.add(run)

    stored = registry.get(run.ingest_id)
    assert stored.created_at == AT  # aware datetimes compare as instants
    assert stored.files == ()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_of_two_concurrent_finishers_exactly_one_wins(backend: str, request: pytest.FixtureRequest) -> None:
    engine: Engine = request.getfixturevalue(f"{backend}_engine")
    run = running()
    SqlAlchemyIngestRegistry(engine).add(run)
    results: list[bool] = []
    barrier = threading.Barrier(2)

    def finish(complete: bool) -> None:
        registry = SqlAlchemyIngestRegistry(engine)
        barrier.wait()
        if complete:
            results.append(registry.mark_complete(run.ingest_id, SUMMARY, AT))
        else:
            results.append(registry.mark_failed(run.ingest_id, "stalled", AT))

    threads = [threading.Thread(target=finish, args=(complete,)) for complete in (True, False)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [False, True]
    final = SqlAlchemyIngestRegistry(engine).get(run.ingest_id)
    assert (final.status is ReportStatus.COMPLETE) == (final.summary is not None)
    assert (final.status is ReportStatus.FAILED) == (final.error == "stalled")


# --- FingerprintStore -----------------------------------------------------------------


def fingerprint(name: str, content: bytes, mtime_ns: int = 1_700_000_000_123_456_789) -> FileFingerprint:
    return FileFingerprint(name, len(content), mtime_ns, hashlib.sha256(content).hexdigest())


def test_an_unknown_folder_has_no_fingerprints(fingerprints: FingerprintStore) -> None:
    assert fingerprints.load("/data/never") == ()


def test_fingerprints_read_back_by_name_per_folder(fingerprints: FingerprintStore) -> None:
    first = (fingerprint(TIMEZONE_FILE, b"t"), fingerprint(STATUS_FILE, b"s" * 10))
    other = (fingerprint(STATUS_FILE, b"other"),)

    fingerprints.replace("/data/a", first)
    fingerprints.replace("/data/b", other)

    assert fingerprints.load("/data/a") == tuple(sorted(first, key=lambda f: f.name))
    assert fingerprints.load("/data/b") == other


def test_replace_makes_the_new_fingerprints_the_whole_record(fingerprints: FingerprintStore) -> None:
    fingerprints.replace("/data/a", [fingerprint(STATUS_FILE, b"s"), fingerprint(HOURS_FILE, b"h")])
    # A big file, a time past 2**62 ns: both fit.
    big = FileFingerprint(STATUS_FILE, 5 * 2**32, 2**62 + 7, "0" * 64)

    fingerprints.replace("/data/a", [big])

    assert fingerprints.load("/data/a") == (big,)
    fingerprints.replace("/data/a", [])
    assert fingerprints.load("/data/a") == ()


# --- FilesystemUploadStorage ----------------------------------------------------------


class TrickleStream:
    """A stream that hands out a few bytes per read, as a slow network does."""

    def __init__(self, content: bytes, step: int = 7) -> None:
        self._content = content
        self._position = 0
        self._step = step
        self.read_bytes = 0

    def read(self, size: int = -1, /) -> bytes:
        take = self._step if size < 0 else min(size, self._step)
        chunk = self._content[self._position : self._position + take]
        self._position += len(chunk)
        self.read_bytes += len(chunk)
        return chunk


def test_a_saved_upload_is_the_whole_file_in_the_runs_folder(tmp_path: Path) -> None:
    storage = FilesystemUploadStorage(tmp_path / "uploads")  # made on first save
    content = b"store_id,status,timestamp_utc\n" + b"a,active,2024-01-01 00:00:00 UTC\n" * 1000

    size = storage.save("run-1", STATUS_FILE, TrickleStream(content, step=1000), max_bytes=len(content))

    assert size == len(content)
    assert storage.folder("run-1") == tmp_path / "uploads" / "run-1"
    assert [path.name for path in storage.folder("run-1").iterdir()] == [STATUS_FILE]
    assert (storage.folder("run-1") / STATUS_FILE).read_bytes() == content


def test_an_upload_past_the_limit_stops_reading_and_leaves_no_file(tmp_path: Path) -> None:
    storage = FilesystemUploadStorage(tmp_path)
    stream = TrickleStream(b"x" * 10_000, step=100)

    with pytest.raises(UploadTooLarge, match="store_status.csv is larger than the 1000 bytes"):
        storage.save("run-1", STATUS_FILE, stream, max_bytes=1000)

    # It read just past the limit, not the whole stream.
    assert stream.read_bytes <= 1100
    assert list((tmp_path / "run-1").iterdir()) == []


def test_only_the_three_input_files_are_taken(tmp_path: Path) -> None:
    storage = FilesystemUploadStorage(tmp_path)
    for name in ("orders.csv", "../store_status.csv", "store_status.csv/x", ".store_status.csv"):
        with pytest.raises(InvalidUpload, match="unknown file"):
            storage.save("run-1", name, io.BytesIO(b"x"), max_bytes=10)
    assert list(tmp_path.iterdir()) == []
    for name in (STATUS_FILE, HOURS_FILE, TIMEZONE_FILE):
        storage.save("run-1", name, io.BytesIO(name.encode()), max_bytes=100)
    assert sorted(path.name for path in (tmp_path / "run-1").iterdir()) == sorted((STATUS_FILE, HOURS_FILE, TIMEZONE_FILE))


@pytest.mark.parametrize("ingest_id", ["../escape", "a/b", "", ".hidden", "x" * 200])
def test_an_id_that_cannot_name_a_folder_is_refused(tmp_path: Path, ingest_id: str) -> None:
    storage = FilesystemUploadStorage(tmp_path / "uploads")
    with pytest.raises(UploadStorageError, match="cannot name a folder"):
        storage.save(ingest_id, STATUS_FILE, io.BytesIO(b"x"), max_bytes=10)
    with pytest.raises(UploadStorageError):
        storage.delete(ingest_id)
    assert not (tmp_path / "uploads").exists() and not (tmp_path / "escape").exists()


def test_saving_a_file_again_replaces_it_whole(tmp_path: Path) -> None:
    storage = FilesystemUploadStorage(tmp_path)
    storage.save("run-1", STATUS_FILE, io.BytesIO(b"old content"), max_bytes=100)
    storage.save("run-1", STATUS_FILE, io.BytesIO(b"new"), max_bytes=100)

    assert (tmp_path / "run-1" / STATUS_FILE).read_bytes() == b"new"
    assert [path.name for path in (tmp_path / "run-1").iterdir()] == [STATUS_FILE]


def test_a_failed_write_keeps_no_partial_file(tmp_path: Path) -> None:
    storage = FilesystemUploadStorage(tmp_path)

    class Broken:
        def read(self, size: int = -1, /) -> bytes:
            raise OSError(104, "Connection reset by peer")

    with pytest.raises(UploadStorageError, match="Connection reset by peer"):
        storage.save("run-1", STATUS_FILE, Broken(), max_bytes=100)
    assert list((tmp_path / "run-1").iterdir()) == []


def test_delete_removes_the_runs_files_and_is_safe_to_repeat(tmp_path: Path) -> None:
    storage = FilesystemUploadStorage(tmp_path)
    storage.save("run-1", STATUS_FILE, io.BytesIO(b"s"), max_bytes=10)
    storage.save("run-2", STATUS_FILE, io.BytesIO(b"s"), max_bytes=10)

    storage.delete("run-1")
    storage.delete("run-1")
    storage.delete("never-saved")

    assert [path.name for path in tmp_path.iterdir()] == ["run-2"]
    with pytest.raises(UploadStorageError, match="UPLOADS_DIR"):
        storage.folder("run-1")


# --- FilesystemFingerprinter ----------------------------------------------------------


def test_the_fingerprints_are_size_time_and_sha256_of_the_input_files_present(tmp_path: Path) -> None:
    (tmp_path / STATUS_FILE).write_bytes(b"status bytes")
    (tmp_path / TIMEZONE_FILE).write_bytes(b"tz")
    (tmp_path / "notes.txt").write_bytes(b"ignored")
    os.utime(tmp_path / STATUS_FILE, ns=(1_000, 1_700_000_000_000_000_001))

    found = FilesystemFingerprinter().fingerprints(tmp_path)

    assert found.location == str(tmp_path.resolve())
    assert found.files == (
        FileFingerprint(STATUS_FILE, 12, 1_700_000_000_000_000_001, hashlib.sha256(b"status bytes").hexdigest()),
        FileFingerprint(TIMEZONE_FILE, 2, (tmp_path / TIMEZONE_FILE).stat().st_mtime_ns, hashlib.sha256(b"tz").hexdigest()),
    )


def test_a_folder_reached_by_another_path_has_the_same_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)

    relative = FilesystemFingerprinter().fingerprints(Path("data"))
    dotted = FilesystemFingerprinter().fingerprints(tmp_path / "data" / ".." / "data")

    assert relative.location == dotted.location == str((tmp_path / "data").resolve())
    assert relative.files == ()


def test_a_missing_folder_has_no_files(tmp_path: Path) -> None:
    assert FilesystemFingerprinter().fingerprints(tmp_path / "nowhere").files == ()
