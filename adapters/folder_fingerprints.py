"""Fingerprints of the input files of a folder on disk, for the watched-folder ingestion."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from domain.model.errors import InvalidInputError, clipped
from domain.model.ingestion import UPLOAD_FILES
from domain.model.upload_runs import FileFingerprint, FolderFingerprints
from domain.ports.reading import FileFingerprinter

_HASH_CHUNK_BYTES = 1024 * 1024


class FilesystemFingerprinter(FileFingerprinter):
    """Size, modification time and SHA-256 of each input file present.

    Every file is hashed on every check: a week of polls (about 90 MB) takes
    a fraction of a second, and a change that keeps the size and the time is
    still seen.
    """

    def fingerprints(self, folder: Path) -> FolderFingerprints:
        # The absolute path names the folder whatever the working directory.
        location = str(Path(folder).resolve())
        files = []
        for name in UPLOAD_FILES:
            fingerprint = _fingerprint(Path(location) / name)
            if fingerprint is not None:
                files.append(fingerprint)
        return FolderFingerprints(location, files)


def _fingerprint(path: Path) -> FileFingerprint | None:
    """The file's fingerprint, None when it is not there (or vanishes while read)."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as file:
            # Size and time of the bytes actually hashed: those of the open file.
            before = os.fstat(file.fileno())
            while chunk := file.read(_HASH_CHUNK_BYTES):
                digest.update(chunk)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    except OSError as error:
        raise InvalidInputError(f"cannot read {clipped(str(path))}: {error.strerror or error}") from error
    return FileFingerprint(path.name, before.st_size, before.st_mtime_ns, digest.hexdigest())
