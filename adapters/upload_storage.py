"""Uploaded files in a folder per ingestion run: ``<directory>/<ingest_id>/<name>``.

The API writes them and a worker reads them, so both must see the same
directory (``UPLOADS_DIR``: one machine, or a shared volume).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from adapters.files import SAFE_ID, os_reason, write_atomically
from domain.model.ingestion import UPLOAD_FILES
from domain.ports.uploads import ByteStream, InvalidUpload, UploadStorage, UploadStorageError, UploadTooLarge

DEFAULT_UPLOADS_DIR = "var/uploads"
# Bytes read from the request and written at a time: memory stays flat
# whatever the size of the upload.
CHUNK_BYTES = 1024 * 1024



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
            size = write_atomically(folder / name, lambda file: _copy(stream, file.write, max_bytes, name))
        except OSError as error:
            raise UploadStorageError(f"cannot save the upload {name} in {folder}: {os_reason(error)}") from error
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
            raise UploadStorageError(f"cannot remove the uploads in {folder}: {os_reason(error)}") from error

    def _folder_of(self, ingest_id: str) -> Path:
        if not SAFE_ID.fullmatch(ingest_id):
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

