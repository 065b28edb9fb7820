"""Helpers for the CSV reader tests: writing input files, and an independent reading of them."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

import pytest

from domain.model.ingestion import HOURS_FILE, STATUS_FILE, TIMEZONE_FILE

REAL_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

STATUS_HEADER = "store_id,status,timestamp_utc"
HOURS_HEADER = "store_id,dayOfWeek,start_time_local,end_time_local"
TIMEZONE_HEADER = "store_id,timezone_str"


def real_folder(name: str) -> Path:
    """A real data folder beside the repository; skips the test when it is absent."""
    folder = REAL_DATA / name
    if not (folder / STATUS_FILE).is_file():
        pytest.skip(f"real data folder {folder} is absent (it lives in ../shared/data beside the repository)")
    return folder


def write(path: Path, lines: Iterable[str], newline: str = "\n", bom: bool = False, final_newline: bool = True) -> Path:
    """Write ``lines`` as UTF-8 with the given line end."""
    text = newline.join(lines) + (newline if final_newline else "")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def folder_with(
    folder: Path,
    status: Iterable[str] | None = None,
    hours: Iterable[str] | None = None,
    timezones: Iterable[str] | None = None,
) -> Path:
    """A data folder holding the files given (each as its lines, header first)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, lines in ((STATUS_FILE, status), (HOURS_FILE, hours), (TIMEZONE_FILE, timezones)):
        if lines is not None:
            write(folder / name, lines)
    return folder


def micros(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0) -> int:
    """UTC microseconds since the epoch, computed from a datetime."""
    moment = datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)
    return int(moment.timestamp()) * 1_000_000 + micro


def csv_rows(path: Path) -> list[dict[str, str]]:
    """The data rows of a file as the ``csv`` module reads them (a BOM is dropped)."""
    with path.open(encoding="utf-8-sig", newline="") as file:
        return list(csv.DictReader(file))
