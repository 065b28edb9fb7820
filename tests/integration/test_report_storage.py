"""Report files on disk: atomic writes, safe names, clear errors."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from adapters.report_storage import FilesystemReportStorage
from domain.ports.reports import ReportStorageError

CONTENT = b"store_id,uptime_last_hour\n1,60.00\n"


def test_a_saved_report_is_a_csv_file_named_by_its_id(tmp_path: Path) -> None:
    storage = FilesystemReportStorage(tmp_path / "reports")  # created on first save
    report_id = str(uuid.uuid4())
    location = storage.save(report_id, CONTENT)
    assert location == f"{report_id}.csv"
    assert (tmp_path / "reports" / location).read_bytes() == CONTENT
    assert storage.load(location) == CONTENT


def test_saving_again_replaces_the_file_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    storage = FilesystemReportStorage(tmp_path)
    storage.save("r1", b"old")
    location = storage.save("r1", CONTENT)
    assert storage.load(location) == CONTENT
    assert sorted(path.name for path in tmp_path.iterdir()) == ["r1.csv"]


def test_a_failed_replace_keeps_the_old_file_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    storage = FilesystemReportStorage(tmp_path)
    storage.save("r1", b"old")

    def refuse(source: str, target: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(ReportStorageError, match="No space left on device"):
        storage.save("r1", CONTENT)
    assert (tmp_path / "r1.csv").read_bytes() == b"old"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["r1.csv"]


@pytest.mark.parametrize("report_id", ["", "../escape", "a/b", "a\\b", ".hidden", "a b", "x" * 200, "r1.csv"])
def test_an_id_that_cannot_name_a_file_is_refused(tmp_path: Path, report_id: str) -> None:
    storage = FilesystemReportStorage(tmp_path / "reports")
    with pytest.raises(ReportStorageError, match="cannot name a file"):
        storage.save(report_id, CONTENT)
    assert not (tmp_path / "reports").exists()


def test_loading_a_missing_report_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(ReportStorageError, match="gone"):
        FilesystemReportStorage(tmp_path).load("never-saved.csv")


@pytest.mark.parametrize("location", ["../secret.csv", "/etc/passwd", "r1", "sub/r1.csv"])
def test_loading_outside_the_folder_is_refused(tmp_path: Path, location: str) -> None:
    with pytest.raises(ReportStorageError, match="not the location of a report file"):
        FilesystemReportStorage(tmp_path / "reports").load(location)


def test_an_unusable_folder_is_a_storage_error_with_the_reason(tmp_path: Path) -> None:
    blocker = tmp_path / "reports"
    blocker.write_bytes(b"a file where the folder should be")
    with pytest.raises(ReportStorageError, match="cannot save report r1"):
        FilesystemReportStorage(blocker).save("r1", CONTENT)
