"""The JSON the API answers with, as pydantic models.

Each model is declared once: ``entrypoints.api_spec`` turns it into its
schema in the OpenAPI document and checks every JSON answer against it
before it leaves (a view that drifts from its model answers 500, not a
shape the document does not give). The views keep building their bodies as
dicts, so the bytes sent are the ones the views write.

Every model forbids fields it does not list (``additionalProperties: false``).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel
from pydantic.json_schema import SkipJsonSchema

from domain.model.trend import MAX_TREND_DAYS, MIN_TREND_DAYS


def untitled(schema: dict[str, Any], _model: type[Any] | None = None) -> None:
    """The schema without pydantic's generated titles, and without ``default: null``.

    A field that defaults to None here (typed ``SkipJsonSchema[None]``) may be
    absent but is never null, so the default says nothing a reader needs.
    """
    schema.pop("title", None)
    for field in schema.get("properties", {}).values():
        field.pop("title", None)
        if "default" in field and field["default"] is None:
            del field["default"]


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=untitled)


UNTITLED_ROOT = ConfigDict(json_schema_extra=untitled)

INSTANT_PATTERN = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$"
# An instant as the API writes it: 2024-10-03T12:00:00.000000Z.
Instant = Annotated[
    str,
    Field(
        pattern=INSTANT_PATTERN,
        description="UTC, ISO 8601 with microseconds and 'Z'.",
        json_schema_extra={"format": "date-time"},
    ),
]
Count = Annotated[int, Field(ge=0)]
TrendDays = Annotated[int, Field(ge=MIN_TREND_DAYS, le=MAX_TREND_DAYS)]
Percent = Annotated[float, Field(ge=0, le=100)]
RunStatus = Literal["Running", "Complete", "Failed"]
StatusWord = Literal["active", "inactive"]


class Error(ApiModel):
    """Every error answer."""

    error: str


# --- runs: reports, trends, ingestions ---------------------------------------------------


class Progress(ApiModel):
    """Parts of a run saved so far, and parts planned (0 until the run is planned)."""

    done: Count
    total: Count


class TriggerResponse(ApiModel):
    report_id: uuid.UUID


class RunningReport(ApiModel):
    status: Literal["Running"]
    progress: Progress = Field(description="Parts of the report computed so far; total is 0 until the run is planned.")
    as_of: Instant | SkipJsonSchema[None] = Field(
        default=None, description="The instant the report is as of, when it was triggered with one (UTC, 'Z')."
    )


class FailedReport(ApiModel):
    status: Literal["Failed"]
    error: str = Field(description="Why the run failed.")


class ReportState(RootModel[Annotated[RunningReport | FailedReport, Field(discriminator="status")]]):
    """A report (or a trend) that is not complete."""

    model_config = UNTITLED_ROOT


class RunSummary(ApiModel):
    """What the lists of reports and of trends say of each run, beside its id."""

    status: RunStatus
    progress: Progress = Field(description="Parts saved so far and parts planned (0 until the run is planned).")
    created_at: Instant
    finished_at: Instant | None = Field(description="null while running.")
    error: str | None = Field(description="Why a failed run failed; else null.")
    as_of: Instant | None = Field(description="The instant the run is as of; null for a run at the latest poll.")


class ReportSummary(RunSummary):
    report_id: uuid.UUID


class ReportList(ApiModel):
    """Reports only: fleet trends are listed by GET /trends."""

    reports: list[ReportSummary]


class Health(ApiModel):
    """Each part is 'ok' or says it does not answer: 'unavailable' for the database and the broker (the
    reason is in the server's log, as it may name hosts), the reason for the worker."""

    status: Literal["ok", "unavailable"]
    database: str
    broker: str
    worker: str = Field(
        description="'ok' while a worker recorded its heartbeat within LEASE_SECONDS (any machine's: "
        "heartbeats live in the shared database), else why none counts as alive."
    )
    error: str | SkipJsonSchema[None] = Field(default=None, description="When unavailable: each failing part and its reason.")


# --- ingestion ---------------------------------------------------------------------------


class IngestStarted(ApiModel):
    ingest_id: uuid.UUID


class RejectedRow(ApiModel):
    line: int = Field(ge=1, description="1-based line in the file; the header is line 1.")
    reason: str


class FileSummary(ApiModel):
    """rows: data rows read, each counted in exactly one of new, already_stored, duplicates and rejected (rows
    = new + already_stored + duplicates + rejected); new: valid rows that changed what is stored;
    already_stored: valid rows the database already held; duplicates: valid rows repeating an earlier one of
    the file; rejected: rows not loaded; errors: the first rejected rows with line and reason."""

    rows: Count
    new: Count
    already_stored: Count
    duplicates: Count
    rejected: Count
    errors: list[RejectedRow]


class IngestSummary(ApiModel):
    """The same JSON as 'store-monitor ingest --json' prints; a file not uploaded counts 0."""

    store_status: FileSummary
    menu_hours: FileSummary
    timezone: FileSummary


class RunningIngestion(ApiModel):
    status: Literal["Running"]


class CompleteIngestion(ApiModel):
    status: Literal["Complete"]
    summary: IngestSummary


class FailedIngestion(ApiModel):
    status: Literal["Failed"]
    error: str = Field(description="Why the ingestion failed, e.g. the file and the column that is missing.")


class IngestionState(
    RootModel[Annotated[RunningIngestion | CompleteIngestion | FailedIngestion, Field(discriminator="status")]]
):
    """Running, Complete with the ingestion summary, or Failed with the reason."""

    model_config = UNTITLED_ROOT


class RejectedPoll(ApiModel):
    poll: int = Field(ge=0, description="Position in the batch, from 0.")
    reason: str


class PollBatch(ApiModel):
    """What a batch of polls held: rows = new + already_stored + duplicates + rejected; errors list the first
    500 rejected polls."""

    rows: Count
    new: Count
    already_stored: Count
    duplicates: Count
    rejected: Count
    errors: list[RejectedPoll]


# --- one store in detail (the web page reads it) ------------------------------------------


class Span(ApiModel):
    """The half-open interval [start, end)."""

    start: Instant
    end: Instant


class StatusSpan(ApiModel):
    """The store's status all through [start, end)."""

    start: Instant
    end: Instant
    status: StatusWord


class LocalDay(ApiModel):
    """A calendar date in the store's timezone and its [00:00, next 00:00) in UTC."""

    start: Instant
    end: Instant
    date: date


class StoreFigures(ApiModel):
    """The six figures of the store's report row, as the CSV gives them (two decimals)."""

    uptime_last_hour: float = Field(ge=0, description="minutes")
    uptime_last_day: float = Field(ge=0, description="hours")
    uptime_last_week: float = Field(ge=0, description="hours")
    downtime_last_hour: float = Field(ge=0, description="minutes")
    downtime_last_day: float = Field(ge=0, description="hours")
    downtime_last_week: float = Field(ge=0, description="hours")


class StoreWindows(ApiModel):
    """The report's last hour, day and week, up to now."""

    hour: Span
    day: Span
    week: Span


class StorePoll(ApiModel):
    at: Instant
    status: StatusWord


class StoreDetail(ApiModel):
    """One store at the data's current now (the latest poll of any store): the figures of its report row and
    what they are measured on. Lists hold what lies inside the week."""

    store_id: str
    timezone: str = Field(description="IANA name; America/Chicago when none is stored.")
    now: Instant
    windows: StoreWindows
    figures: StoreFigures
    business_hours: list[Span] = Field(description="Disjoint business intervals, in order.")
    status: list[StatusSpan] = Field(
        description="The status timeline, without gaps over the week; neighbours differ in status."
    )
    polls: list[StorePoll] = Field(description="The polls from the week's start to now, in time order.")
    days: list[LocalDay] = Field(description="The store's local dates that touch the week, in order.")


# --- trends ------------------------------------------------------------------------------


def _hours(description: str) -> Any:
    return Field(ge=0, le=24, description=description + ", rounded to 4 decimals.")


class TrendDay(ApiModel):
    """One 24-hour window back from now: day k is [now - k * 24 h, now - (k - 1) * 24 h).
    uptime_hours + downtime_hours = business_hours before rounding."""

    day: TrendDays = Field(description="1 is the day ending at now.")
    window_start_utc: Instant
    window_end_utc: Instant
    business_hours: float = _hours("Business time inside the window, in hours")
    uptime_hours: float = _hours("Business time inside the window while active, in hours")
    downtime_hours: float = _hours("Business time inside the window while inactive, in hours")


class StoreTrend(ApiModel):
    """One store's business time, uptime and downtime day by day, under the report's rules: day 1 is its
    report row's last day, days 1 to 7 add up to its last week."""

    store_id: str
    now: Instant = Field(
        description="The latest poll of any store (at or before as_of); UTC, ISO 8601 with microseconds and 'Z'."
    )
    days: TrendDays
    series: list[TrendDay] = Field(description="One entry per day, day 1 first.")


class TriggerTrendResponse(ApiModel):
    trend_id: uuid.UUID


class FleetDay(ApiModel):
    """One 24-hour window back from now, summed over the stores from their exact figures: day k is
    [now - k * 24 h, now - (k - 1) * 24 h)."""

    day: TrendDays = Field(description="1 is the day ending at now.")
    window_start_utc: Instant
    window_end_utc: Instant
    business_hours: float = Field(
        ge=0, description="The stores' business time inside the window, summed, in hours (4 decimals)."
    )
    uptime_hours: float = Field(
        ge=0, description="The stores' business time inside the window while active, summed, in hours (4 decimals)."
    )
    uptime_percent: Percent | None = Field(
        description="100 * uptime / business time (2 decimals); null when the fleet had no business time."
    )
    stores_below_90: Count = Field(description="Stores with business time that day whose uptime was below 90 % of it.")
    stores_below_50: Count = Field(description="Of those, the stores whose uptime was below 50 % of it.")


class FleetWeek(ApiModel):
    """A full week of the trend: week 1 is days 1 to 7, week 2 days 8 to 14..."""

    week: int = Field(ge=1, le=12)
    window_start_utc: Instant
    window_end_utc: Instant


class SlippingStore(ApiModel):
    """A store whose uptime dropped from week 2 (the week before) to week 1 (the last week)."""

    store_id: str
    weekly_uptime_percent: list[Percent | None] = Field(
        description="Its uptime in % of its business time in each full week, week 1 first (2 decimals); null "
        "for a week without business time."
    )
    change: float = Field(
        le=0, description="Week 1's uptime % minus week 2's, in points (2 decimals), from the exact figures."
    )


class CompleteTrend(ApiModel):
    """A complete fleet trend, as JSON (Accept: application/json). now is null, and there are no days, weeks
    nor stores, when no poll was stored (at or before as_of)."""

    status: Literal["Complete"]
    trend_id: uuid.UUID
    now: Instant | None = Field(
        description="The latest poll of any store (at or before as_of); UTC, ISO 8601 with microseconds and 'Z'."
    )
    days: TrendDays
    fleet: list[FleetDay] = Field(description="One entry per day, day 1 first.")
    weeks: list[FleetWeek] = Field(description="The full weeks, week 1 first; none under 7 days.")
    slipping: list[SlippingStore] = Field(
        max_length=20,
        description="The stores whose weekly uptime % dropped most from week 2 to week 1 (change < 0; none "
        "under 14 days), at most 20, the largest drop first, ties by store id.",
    )


class TrendState(
    RootModel[Annotated[RunningReport | FailedReport | CompleteTrend, Field(discriminator="status")]]
):
    """A trend running or failed, or complete as JSON."""

    model_config = UNTITLED_ROOT


class TrendRunSummary(RunSummary):
    trend_id: uuid.UUID
    days: TrendDays


class TrendList(ApiModel):
    trends: list[TrendRunSummary]
