"""Uploaded files in a folder per ingestion run: ``<directory>/<ingest_id>/<name>``.

The API writes them and a worker reads them, so both must see the same
directory (``UPLOADS_DIR``: one machine, or a shared volume).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from domain.ingest_runs import UPLOAD_FILES
from domain.ports import ByteStream, InvalidUpload, UploadStorage, UploadStorageError, UploadTooLarge

DEFAULT_UPLOADS_DIR = "var/uploads"
# Bytes read from the request and written at a time: memory stays flat
# whatever the size of the upload.
CHUNK_BYTES = 1024 * 1024

# Run ids become folder names: letters, digits, '-' and '_' only (a UUID fits).
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")


class FilesystemUploadStorage(UploadStorage):
    """Saves each uploaded file whole, through a temporary file renamed into place."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def save(self, ingest_id: str, name: str, stream: ByteStream, max_bytes: int) -> int:
        if name not in UPLOAD_FILES:
            raise InvalidUpload(f"unknown file {name!r}: the files are {', '.join(UPLOAD_FILES)}")
        folder = self._folder_of(ingest_id)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            # The final name only ever holds a whole file: a reader (or a
            # crash) meets the file complete or not at all.
            handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
            try:
                with os.fdopen(handle, "wb") as file:
                    size = _copy(stream, file.write, max_bytes, name)
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(temporary, folder / name)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as error:
            raise UploadStorageError(f"cannot save the upload {name} in {folder}: {_reason(error)}") from error
        return size

    def folder(self, ingest_id: str) -> Path:
        folder = self._folder_of(ingest_id)
        if not folder.is_dir():
            raise UploadStorageError(
                f"the uploaded files of ingestion {ingest_id} are not in {self.directory}: they were removed, "
                "or this worker does not share UPLOADS_DIR with the API"
            )
        return folder

    def delete(self, ingest_id: str) -> None:
        folder = self._folder_of(ingest_id)
        try:
            shutil.rmtree(folder)
        except FileNotFoundError:
            pass
        except OSError as error:
            raise UploadStorageError(f"cannot remove the uploads in {folder}: {_reason(error)}") from error

    def _folder_of(self, ingest_id: str) -> Path:
        if not _SAFE_ID.fullmatch(ingest_id):
            raise UploadStorageError(
                f"ingestion id {ingest_id!r} cannot name a folder: use letters, digits, '-' and '_'"
            )
        return self.directory / ingest_id


def _copy(stream: ByteStream, write: Callable[[bytes], object], max_bytes: int, name: str) -> int:
    """Copy ``stream`` in chunks; ``UploadTooLarge`` as soon as it passes ``max_bytes``."""
    size = 0
    while True:
        # One byte more than allowed is enough to know the limit is passed.
        chunk = stream.read(min(CHUNK_BYTES, max(max_bytes - size, 0) + 1))
        if not chunk:
            return size
        size += len(chunk)
        if size > max_bytes:
            raise UploadTooLarge(f"{name} is larger than the {max_bytes} bytes left of the upload limit")
        write(chunk)


def _reason(error: OSError) -> str:
    return error.strerror or str(error)
