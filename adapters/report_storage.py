"""Report files in a folder: ``<directory>/<report_id>.csv``, written atomically."""

from __future__ import annotations

from pathlib import Path

from adapters.files import SAFE_ID, os_reason, write_atomically
from domain.ports import ReportStorage, ReportStorageError

_SUFFIX = ".csv"


class FilesystemReportStorage(ReportStorage):
    """Saves each report as ``<report_id>.csv``; the location is that file name."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def save(self, report_id: str, content: bytes) -> str:
        if not SAFE_ID.fullmatch(report_id):
            raise ReportStorageError(f"report id {report_id!r} cannot name a file: use letters, digits, '-' and '_'")
        name = report_id + _SUFFIX
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            write_atomically(self.directory / name, lambda file: file.write(content))
        except OSError as error:
            raise ReportStorageError(f"cannot save report {report_id} in {self.directory}: {os_reason(error)}") from error
        return name

    def load(self, location: str) -> bytes:
        _check_location(location)
        try:
            return (self.directory / location).read_bytes()
        except FileNotFoundError as error:
            raise ReportStorageError(f"the report file {location} is gone from {self.directory}") from error
        except OSError as error:
            raise ReportStorageError(f"cannot read the report file {location}: {os_reason(error)}") from error


    def delete(self, location: str) -> None:
        _check_location(location)
        try:
            (self.directory / location).unlink(missing_ok=True)
        except OSError as error:
            raise ReportStorageError(f"cannot delete the report file {location}: {os_reason(error)}") from error


def _check_location(location: str) -> None:
    """Refuse anything but ``<safe id>.csv``: no path ever climbs out of the folder."""
    if not (location.endswith(_SUFFIX) and SAFE_ID.fullmatch(location[: -len(_SUFFIX)])):
        raise ReportStorageError(f"{location!r} is not the location of a report file")

