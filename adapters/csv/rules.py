"""The reading rules' constants and the reading machine's clock, shared by the
reader (``adapters.csv.reader``) and the modules that do the reading."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TypeVar

import numpy as np


_Scalar = TypeVar("_Scalar", bound=np.generic)
_Value = TypeVar("_Value")
# The reading machine's clock: an aware datetime of the current instant.
Clock = Callable[[], datetime]

# Each required column: the header names it may have, the preferred first.
ColumnNames = tuple[str, ...]
STATUS_COLUMNS: tuple[ColumnNames, ...] = (("store_id",), ("status",), ("timestamp_utc",))
HOURS_COLUMNS: tuple[ColumnNames, ...] = (
    ("store_id",),
    ("dayOfWeek", "day"),
    ("start_time_local",),
    ("end_time_local",),
)
TIMEZONE_COLUMNS: tuple[ColumnNames, ...] = (("store_id",), ("timezone_str",))

# Bytes pyarrow parses at a time: about 70,000 polls. A row longer than a
# block is read by parsing again from the last batch with larger blocks.
BLOCK_BYTES = 4 << 20

_BOM = b"\xef\xbb\xbf"
_LF = ord("\n")
_CR = ord("\r")
_BLOCK_ROWS = 1 << 15
# Days of each month (index 1-12) in a common year.
_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
# What counts as white space on a blank line (the same bytes as bytes.strip()).
_ASCII_SPACE = " \t\n\r\x0b\x0c"
# A bad value is shown in a reason up to this many characters.
_SHOWN_CHARS = 40
# A message lists a header's names up to about this many characters.
_SHOWN_HEADER_CHARS = 120
# The longest store id kept; a longer one is rejected.
MAX_STORE_ID_CHARS = 255
# C0 controls and DEL: never part of a store id.
_CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f]")
_TIME_OF_DAY = re.compile(r"([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{0,9}))?)?")
_WEEKDAY = re.compile(r"[0-9]+")
_UTC_SUFFIX = re.compile(r"\s*(?i:utc)$")
# What a byte that is not UTF-8 becomes before pyarrow sees it: one ASCII byte
# for each, so that no offset moves; its row is rejected anyway.
_NOT_UTF8_STANDIN = b"?"
# Bytes of each end of what was read that a fingerprint covers.
_FINGERPRINT_BYTES = 1 << 20
# Distinct values remembered per column and file; past it the memory starts again.
_MAX_REMEMBERED = 1 << 20


def system_clock() -> datetime:
    """This machine's clock, in UTC."""
    return datetime.now(timezone.utc)

