"""File helpers shared by the adapters that keep files on disk."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, TypeVar

# Run and report ids become file or folder names: letters, digits, '-' and
# '_' only (a UUID fits).
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")

T = TypeVar("T")


def write_atomically(target: Path, write: Callable[[BinaryIO], T]) -> T:
    """Write ``target`` through a temporary file renamed into place, and return what ``write`` returned.

    A reader (or a crash) meets the old file or the whole new one, never a
    part; the temporary file is removed when anything fails.
    """
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            result = write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return result


def os_reason(error: OSError) -> str:
    """The operating system's words for an error, without the errno prefix."""
    return error.strerror or str(error)
