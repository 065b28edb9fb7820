"""Report files in a folder: ``<directory>/<report_id>.csv``, written atomically."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from adapters.files import SAFE_ID, os_reason, write_atomically
from domain.ports.reports import ReportStorage, ReportStorageError

_SUFFIX = ".csv"
# A file passed on in pieces is read this much at a time.
READ_BLOCK_BYTES = 1024 * 1024


class FilesystemReportStorage(ReportStorage):
    """Saves each report as ``<report_id>.csv``; the location is that file name."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def save(self, report_id: str, content: bytes) -> str:
        return self.save_pieces(report_id, [content])

    def save_pieces(self, report_id: str, pieces: Iterable[bytes]) -> str:
        """Each piece is written as it comes: the file is never held whole."""
        if not SAFE_ID.fullmatch(report_id):
            raise ReportStorageError(f"report id {report_id!r} cannot name a file: use letters, digits, '-' and '_'")
        name = report_id + _SUFFIX

        def write(file: BinaryIO) -> None:
            for piece in pieces:
                file.write(piece)

        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            write_atomically(self.directory / name, write)
        except OSError as error:
            raise ReportStorageError(f"cannot save report {report_id} in {self.directory}: {os_reason(error)}") from error
        return name

    def load(self, location: str) -> bytes:
        with self._open(location) as file:
            try:
                return file.read()
            except OSError as error:
                raise ReportStorageError(f"cannot read the report file {location}: {os_reason(error)}") from error

    def load_pieces(self, location: str) -> Iterator[bytes]:
        """The file opened now (so a missing one is an error at once), then read a block at a time."""
        return _blocks(self._open(location), location)

    def _open(self, location: str) -> BinaryIO:
        _check_location(location)
        try:
            return (self.directory / location).open("rb")
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


def _blocks(file: BinaryIO, location: str) -> Iterator[bytes]:
    with file:
        while True:
            try:
                block = file.read(READ_BLOCK_BYTES)
            except OSError as error:
                raise ReportStorageError(f"cannot read the report file {location}: {os_reason(error)}") from error
            if not block:
                return
            yield block


def _check_location(location: str) -> None:
    """Refuse anything but ``<safe id>.csv``: no path ever climbs out of the folder."""
    if not (location.endswith(_SUFFIX) and SAFE_ID.fullmatch(location[: -len(_SUFFIX)])):
        raise ReportStorageError(f"{location!r} is not the location of a report file")

