"""The report: its rows, its CSV form, and the record of a report run."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs
import numpy as np

from domain.model.clock import MICROS_PER_HOUR, MICROS_PER_MINUTE
from domain.model.inputs import Int64Array, str_tuple

REPORT_HEADER = (
    "store_id,uptime_last_hour,uptime_last_day,uptime_last_week,"
    "downtime_last_hour,downtime_last_day,downtime_last_week"
)


def _int64(values: object) -> Int64Array:
    return np.ascontiguousarray(values, dtype=np.int64)


@attrs.frozen
class ReportRows:
    """Per store (sorted by id), uptime and downtime in each window, in microseconds."""

    store_ids: tuple[str, ...] = attrs.field(converter=str_tuple)
    uptime_hour: Int64Array = attrs.field(converter=_int64)
    uptime_day: Int64Array = attrs.field(converter=_int64)
    uptime_week: Int64Array = attrs.field(converter=_int64)
    downtime_hour: Int64Array = attrs.field(converter=_int64)
    downtime_day: Int64Array = attrs.field(converter=_int64)
    downtime_week: Int64Array = attrs.field(converter=_int64)

    def __len__(self) -> int:
        return len(self.store_ids)

    @classmethod
    def empty(cls) -> ReportRows:
        return cls((), [], [], [], [], [], [])

    @classmethod
    def concatenate(cls, parts: list[ReportRows]) -> ReportRows:
        """Join parts that cover consecutive, disjoint ranges of store ids."""
        if not parts:
            return cls.empty()
        columns = [f.name for f in attrs.fields(cls)][1:]
        return cls(
            tuple(store_id for part in parts for store_id in part.store_ids),
            *(np.concatenate([getattr(part, column) for part in parts]) for column in columns),
        )

    def figures(self, store_id: str) -> tuple[float, float, float, float, float, float]:
        """The six rounded figures of one store, as the CSV shows them."""
        i = self.store_ids.index(store_id)
        return _figures(self, i)


def _figures(rows: ReportRows, i: int) -> tuple[float, float, float, float, float, float]:
    return (
        round(int(rows.uptime_hour[i]) / MICROS_PER_MINUTE, 2),
        round(int(rows.uptime_day[i]) / MICROS_PER_HOUR, 2),
        round(int(rows.uptime_week[i]) / MICROS_PER_HOUR, 2),
        round(int(rows.downtime_hour[i]) / MICROS_PER_MINUTE, 2),
        round(int(rows.downtime_day[i]) / MICROS_PER_HOUR, 2),
        round(int(rows.downtime_week[i]) / MICROS_PER_HOUR, 2),
    )


def render_csv(rows: ReportRows) -> str:
    """The report file: header, then one line per store; hours minutes, day and week hours."""
    return REPORT_HEADER + "\n" + render_lines(rows)


def render_lines(rows: ReportRows) -> str:
    """The report's lines without the header, each ending in a newline.

    Lines of consecutive store ranges, joined in order under the header, give
    exactly ``render_csv`` of the whole report.
    """
    lines = []
    for i, store_id in enumerate(rows.store_ids):
        figures = ",".join("%.2f" % value for value in _figures(rows, i))
        lines.append(f"{csv_field(store_id)},{figures}\n")
    return "".join(lines)


# A spreadsheet runs a cell that starts with one of these as a formula
# ("=HYPERLINK(...)", "+1", "@SUM(...)"), so an id that does is written with a
# leading "'", which makes spreadsheets keep the cell as text (OWASP's advice
# against CSV injection). A "-" inside an id, not first, is left alone.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_field(value: str) -> str:
    """A store id as one CSV field: kept from running as a formula, quoted when needed."""
    if value.startswith(FORMULA_STARTS):
        value = "'" + value
    # Store ids are opaque; quote the ones that would break the CSV structure.
    if any(ch in value for ch in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


class ReportStatus(enum.Enum):
    RUNNING = "Running"
    COMPLETE = "Complete"
    FAILED = "Failed"


class RunKind(enum.Enum):
    """What a run computes: the report, or the daily trend over ``days`` days."""

    REPORT = "report"
    TREND = "trend"


@attrs.frozen
class Report:
    """One report run, as the registry keeps it.

    A report is computed in parts (consecutive ranges of stores);
    ``progress_done`` counts the parts saved, ``progress_total`` is known once
    the run is planned (0 before). ``updated_at`` moves with every step, so a
    run whose work was lost can be told from a slow one.

    ``as_of``, when given at the trigger, is the instant the report is as of:
    its ``now`` is the latest poll at or before it. The plan fixes the rest:
    ``snapshot`` is the ingestion version every part reads (None until
    planned), ``now_us`` the report's ``now`` in UTC microseconds (None when
    the snapshot has no poll to take it from: the report is the header alone).

    The same run computes the daily trend when ``kind`` is ``TREND``, over
    ``days`` days (None for a report); its ``summary`` (the fleet's exact
    sums, see ``domain.fleet_trend``) is recorded when it completes.
    """

    report_id: str
    status: ReportStatus
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None
    report_path: str | None = None
    error: str | None = None
    progress_done: int = 0
    progress_total: int = 0
    as_of: datetime | None = None
    snapshot: int | None = None
    now_us: int | None = None
    kind: RunKind = RunKind.REPORT
    days: int | None = None
    summary: Mapping[str, Any] | None = attrs.field(default=None, hash=False)

    @property
    def is_planned(self) -> bool:
        return self.snapshot is not None

    @property
    def is_running(self) -> bool:
        return self.status is ReportStatus.RUNNING
