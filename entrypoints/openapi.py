"""The OpenAPI 3.1 description of the HTTP API, served at ``/openapi.json``.

It lists exactly the routes of ``entrypoints.views``, ``entrypoints.ingest_views``,
``entrypoints.poll_views`` and ``entrypoints.trend_views`` and every status each can answer with; the unit tests check both against the
running app.

Every operation needs the bearer token (when the server sets ``API_TOKEN``)
unless it says ``security: []``; ``openapi_document`` gives each of the
others its 401 answer, so an operation added later is covered too.
"""

from __future__ import annotations

import copy
from typing import Any

from domain.use_cases.ingest_runs import MAX_SOURCE_CHARS

API_VERSION = "1.0.0"

TRIGGER_PATH = "/trigger_report"
GET_REPORT_PATH = "/get_report/{report_id}"
HEALTH_PATH = "/health"
METRICS_PATH = "/metrics"
OPENAPI_PATH = "/openapi.json"
INGEST_PATH = "/ingest"
GET_INGEST_PATH = "/ingest/{ingest_id}"
REPORTS_PATH = "/reports"
POLLS_PATH = "/polls"
NDJSON = "application/x-ndjson"
STORE_PATH = "/stores/{store_id}"
TREND_PATH = "/stores/{store_id}/trend"
TRIGGER_TREND_PATH = "/trigger_trend"
GET_TREND_PATH = "/get_trend/{trend_id}"
TRENDS_PATH = "/trends"

JSON = "application/json"
MULTIPART = "multipart/form-data"
CSV = "text/csv"


def _ref(schema: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{schema}"}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(description, _ref("Error"))


_SCHEMAS: dict[str, Any] = {
    "TriggerResponse": {
        "type": "object",
        "properties": {"report_id": {"type": "string", "format": "uuid"}},
        "required": ["report_id"],
        "additionalProperties": False,
    },
    "RunningReport": {
        "type": "object",
        "properties": {
            "status": {"const": "Running"},
            "progress": {
                "type": "object",
                "description": "Parts of the report computed so far; total is 0 until the run is planned.",
                "properties": {
                    "done": {"type": "integer", "minimum": 0},
                    "total": {"type": "integer", "minimum": 0},
                },
                "required": ["done", "total"],
                "additionalProperties": False,
            },
            "as_of": {
                "type": "string",
                "format": "date-time",
                "description": "The instant the report is as of, when it was triggered with one (UTC, 'Z').",
            },
        },
        "required": ["status", "progress"],
        "additionalProperties": False,
    },
    "TriggerRequest": {
        "type": "object",
        "description": "Optional: no body, an empty one or {} is a report at the data's latest poll.",
        "properties": {
            "as_of": {
                "type": "string",
                "format": "date-time",
                "description": (
                    "An ISO 8601 instant with its UTC offset. The report's now is the latest poll at or "
                    "before it, and later polls are left out; before every poll the report is its header "
                    "alone. A time without an offset is refused (400)."
                ),
            },
        },
        "additionalProperties": False,
    },
    "FailedReport": {
        "type": "object",
        "properties": {
            "status": {"const": "Failed"},
            "error": {"type": "string", "description": "Why the run failed."},
        },
        "required": ["status", "error"],
        "additionalProperties": False,
    },
    "IngestStarted": {
        "type": "object",
        "properties": {"ingest_id": {"type": "string", "format": "uuid"}},
        "required": ["ingest_id"],
        "additionalProperties": False,
    },
    "RejectedRow": {
        "type": "object",
        "properties": {
            "line": {"type": "integer", "minimum": 1, "description": "1-based line in the file; the header is line 1."},
            "reason": {"type": "string"},
        },
        "required": ["line", "reason"],
        "additionalProperties": False,
    },
    "FileSummary": {
        "type": "object",
        "description": (
            "rows: data rows read, each counted in exactly one of new, already_stored, duplicates and "
            "rejected (rows = new + already_stored + duplicates + rejected); new: valid rows that changed what "
            "is stored; already_stored: valid rows the database already held; duplicates: valid rows repeating "
            "an earlier one of the file; rejected: rows not loaded; errors: the first rejected rows with line "
            "and reason."
        ),
        "properties": {
            "rows": {"type": "integer", "minimum": 0},
            "new": {"type": "integer", "minimum": 0},
            "already_stored": {"type": "integer", "minimum": 0},
            "duplicates": {"type": "integer", "minimum": 0},
            "rejected": {"type": "integer", "minimum": 0},
            "errors": {"type": "array", "items": _ref("RejectedRow")},
        },
        "required": ["rows", "new", "already_stored", "duplicates", "rejected", "errors"],
        "additionalProperties": False,
    },
    "IngestSummary": {
        "type": "object",
        "description": "The same JSON as 'store-monitor ingest --json' prints; a file not uploaded counts 0.",
        "properties": {
            "store_status": _ref("FileSummary"),
            "menu_hours": _ref("FileSummary"),
            "timezone": _ref("FileSummary"),
        },
        "required": ["store_status", "menu_hours", "timezone"],
        "additionalProperties": False,
    },
    "RunningIngestion": {
        "type": "object",
        "properties": {"status": {"const": "Running"}},
        "required": ["status"],
        "additionalProperties": False,
    },
    "CompleteIngestion": {
        "type": "object",
        "properties": {"status": {"const": "Complete"}, "summary": _ref("IngestSummary")},
        "required": ["status", "summary"],
        "additionalProperties": False,
    },
    "FailedIngestion": {
        "type": "object",
        "properties": {
            "status": {"const": "Failed"},
            "error": {
                "type": "string",
                "description": "Why the ingestion failed, e.g. the file and the column that is missing.",
            },
        },
        "required": ["status", "error"],
        "additionalProperties": False,
    },
    "Error": {
        "type": "object",
        "properties": {"error": {"type": "string"}},
        "required": ["error"],
        "additionalProperties": False,
    },
    "Health": {
        "type": "object",
        "description": (
            "Each part is 'ok' or says it does not answer: 'unavailable' for the database and the broker (the "
            "reason is in the server's log, as it may name hosts), the reason for the worker."
        ),
        "properties": {
            "status": {"enum": ["ok", "unavailable"]},
            "database": {"type": "string"},
            "broker": {"type": "string"},
            "worker": {
                "type": "string",
                "description": "'ok' while a worker recorded its heartbeat within LEASE_SECONDS (any machine's: "
                "heartbeats live in the shared database), else why none counts as alive.",
            },
            "error": {"type": "string", "description": "When unavailable: each failing part and its reason."},
        },
        "required": ["status", "database", "broker", "worker"],
        "additionalProperties": False,
    },
}


def _paths() -> dict[str, Any]:
    return {
        TRIGGER_PATH: {
            "post": {
                "operationId": "triggerReport",
                "summary": "Start computing a new report",
                "description": (
                    "Records a running report, then queues its work. Poll "
                    "GET /get_report/{report_id} until it is Complete or Failed. The report reads "
                    "the data as the latest complete ingestion left it when the work is planned."
                ),
                "requestBody": {
                    "required": False,
                    "description": "Optional: the instant the report is as of.",
                    "content": {JSON: {"schema": _ref("TriggerRequest")}},
                },
                "responses": {
                    "200": _json("The report was recorded and its work queued.", _ref("TriggerResponse")),
                    "400": _error(
                        "The body is not a JSON object, has a field other than as_of, or as_of is not an "
                        "ISO 8601 instant with its offset; the error names the field."
                    ),
                    "503": _error(
                        "The database or the work queue does not answer; a report that could not be "
                        "queued is recorded as Failed with the reason."
                    ),
                },
            }
        },
        GET_REPORT_PATH: {
            "get": {
                "operationId": "getReport",
                "summary": "The state of a report, or its CSV once complete",
                "parameters": [
                    {
                        "name": "report_id",
                        "in": "path",
                        "required": True,
                        "description": "The id returned by POST /trigger_report, in canonical (lowercase) form.",
                        "schema": {"type": "string", "format": "uuid"},
                    }
                ],
                "responses": {
                    "200": {
                        "description": (
                            "Running or Failed: a JSON status. Complete: the report CSV, as an attachment."
                        ),
                        "headers": {
                            "Content-Disposition": {
                                "description": "With the CSV: attachment; filename=report-<report_id>.csv",
                                "schema": {"type": "string"},
                            }
                        },
                        "content": {
                            JSON: {"schema": {"oneOf": [_ref("RunningReport"), _ref("FailedReport")]}},
                            CSV: {"schema": {"type": "string"}},
                        },
                    },
                    "400": _error("The report id is not a canonical UUID."),
                    "404": _error(
                        "No report has this id: it was never triggered, or it finished more than "
                        "REPORT_RETENTION_DAYS days ago and was deleted."
                    ),
                    "500": _error("The report is complete but its file cannot be read."),
                    "503": _error("The database does not answer."),
                },
            }
        },
        HEALTH_PATH: {
            "get": {
                "operationId": "health",
                "summary": "Whether the database and the work queue answer, and a worker is alive",
                # Open to all, so a load balancer can probe it without the token.
                "security": [],
                "responses": {
                    "200": _json("Both answer and a worker is alive.", _ref("Health")),
                    "503": _json("At least one does not; its reason is given.", _ref("Health")),
                },
            }
        },
        OPENAPI_PATH: {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "responses": {"200": _json("The OpenAPI document.", {"type": "object"})},
            }
        },
        METRICS_PATH: {
            "get": {
                "operationId": "metrics",
                "summary": "The service's Prometheus figures",
                "description": (
                    "Reports triggered, completed and failed, ingested rows by file and outcome, "
                    "report durations and queue waits, summed over the API and worker processes."
                ),
                "responses": {
                    "200": {
                        "description": "The figures in the Prometheus text exposition format.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        **_ingest_paths(),
        **_poll_paths(),
        **_web_paths(),
        **_trend_paths(),
    }


BEARER_SCHEME = "bearerAuth"
_SECURITY_SCHEMES: dict[str, Any] = {
    BEARER_SCHEME: {
        "type": "http",
        "scheme": "bearer",
        "description": (
            "The server's API_TOKEN, sent as 'Authorization: Bearer <API_TOKEN>'. "
            "A server without API_TOKEN asks for nothing."
        ),
    }
}


def _with_unauthorized(paths: dict[str, Any]) -> dict[str, Any]:
    """Every operation that needs the token also answers 401."""
    for operations in paths.values():
        for operation in operations.values():
            if operation.get("security") != []:
                operation["responses"].setdefault(
                    "401", _error("The Authorization header is missing, not Bearer, or its token is not valid.")
                )
    return paths


def openapi_document() -> dict[str, Any]:
    """The whole document, built afresh (callers may change it freely)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Store monitor",
            "version": API_VERSION,
            "description": (
                "Uptime and downtime of stores during their business hours. A report (or the "
                "fleet's daily trend) is triggered, then polled until it is ready."
            ),
        },
        "security": [{BEARER_SCHEME: []}],
        "paths": _with_unauthorized(_paths()),
        "components": {
            "schemas": copy.deepcopy({**_SCHEMAS, **_WEB_SCHEMAS, **_TREND_SCHEMAS}),
            "securitySchemes": copy.deepcopy(_SECURITY_SCHEMES),
        },
    }


def _ingest_paths() -> dict[str, Any]:
    """``POST /ingest`` and ``GET /ingest/{ingest_id}`` (``entrypoints.ingest_views``)."""
    # OpenAPI 3.1 spells a file part (one sent with a file name) as binary
    # content; the encoding below gives each part's media type.
    upload_file = {"type": "string", "contentMediaType": "application/octet-stream"}
    fields = ("store_status", "menu_hours", "timezone")
    return {
        INGEST_PATH: {
            "post": {
                "operationId": "startIngestion",
                "summary": "Upload data files to ingest",
                "description": (
                    "Stores the uploaded CSV files, records a running ingestion, then queues it; a "
                    "worker ingests them as 'store-monitor ingest' does a data folder. Poll "
                    "GET /ingest/{ingest_id} until it is Complete or Failed. Each file goes in the "
                    "field of its name, with or without '.csv'; store_status is required. The whole "
                    "request may not exceed the server's INGEST_MAX_BYTES (default 256 MiB). With a "
                    "'source' name, the files are that source's: a status file that is the one the "
                    "source's last upload held plus appended lines is read from where that ended, and "
                    "unchanged hours and timezone files are not read again."
                ),
                "requestBody": {
                    "required": True,
                    "content": {
                        MULTIPART: {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    **{field: dict(upload_file) for field in fields},
                                    "source": {
                                        "type": "string",
                                        "minLength": 1,
                                        "maxLength": MAX_SOURCE_CHARS,
                                        "description": "A name for where the files come from (a poller, say).",
                                    },
                                },
                                "required": ["store_status"],
                                "additionalProperties": False,
                            },
                            "encoding": {field: {"contentType": "text/csv"} for field in fields},
                        }
                    },
                },
                "responses": {
                    "202": {
                        **_json("The files were stored and their ingestion queued.", _ref("IngestStarted")),
                        "headers": {
                            "Location": {"description": "/ingest/<ingest_id>, to poll.", "schema": {"type": "string"}}
                        },
                    },
                    "400": _error(
                        "Not multipart/form-data, no file, an unknown field, a file sent twice, "
                        "no store_status file, or a source name that is empty, too long or holds a control character."
                    ),
                    "413": _error("The request is larger than INGEST_MAX_BYTES; nothing was kept."),
                    "500": _error("The uploaded files cannot be stored (UPLOADS_DIR)."),
                    "503": _error(
                        "The database or the work queue does not answer; an ingestion that could not be "
                        "queued is recorded as Failed with the reason."
                    ),
                },
            }
        },
        GET_INGEST_PATH: {
            "get": {
                "operationId": "getIngestion",
                "summary": "The state of an ingestion, with its summary once complete",
                "parameters": [
                    {
                        "name": "ingest_id",
                        "in": "path",
                        "required": True,
                        "description": "The id returned by POST /ingest, in canonical (lowercase) form.",
                        "schema": {"type": "string", "format": "uuid"},
                    }
                ],
                "responses": {
                    "200": _json(
                        "Running, Complete with the ingestion summary, or Failed with the reason.",
                        {"oneOf": [_ref("RunningIngestion"), _ref("CompleteIngestion"), _ref("FailedIngestion")]},
                    ),
                    "400": _error("The ingestion id is not a canonical UUID."),
                    "404": _error("No ingestion has this id."),
                    "503": _error("The database does not answer."),
                },
            }
        },
    }


def _poll_paths() -> dict[str, Any]:
    text = {"type": "string"}
    poll = {
        "type": "object",
        "properties": {"store_id": text, "status": text, "timestamp_utc": text},
        "required": ["store_id", "status", "timestamp_utc"],
        "description": "Fields as in a row of store_status.csv; a poll that is not such an object is rejected.",
    }
    counts = {name: {"type": "integer", "minimum": 0} for name in ("rows", "new", "already_stored", "duplicates", "rejected")}
    rejected = {
        "type": "object",
        "properties": {"poll": {"type": "integer", "minimum": 0, "description": "Position in the batch, from 0."}, "reason": text},
        "required": ["poll", "reason"],
        "additionalProperties": False,
    }
    return {
        POLLS_PATH: {
            "post": {
                "operationId": "pushPolls",
                "summary": "Store a batch of polls at once",
                "description": (
                    "Each poll is validated as a row of store_status.csv is, the valid ones stored "
                    "idempotently as one ingestion, visible to reports once this answers. At most "
                    "POLLS_MAX_ITEMS (default 10,000) polls a batch."
                ),
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {"schema": {"type": "array", "items": poll}},
                        NDJSON: {"schema": {"type": "string", "description": "One poll object per line."}},
                    },
                },
                "responses": {
                    "200": _json(
                        "What the batch held: rows = new + already_stored + duplicates + rejected; errors list "
                        "the first 500 rejected polls.",
                        {
                            "type": "object",
                            "properties": {**counts, "errors": {"type": "array", "items": rejected}},
                            "required": [*counts, "errors"],
                            "additionalProperties": False,
                        },
                    ),
                    "400": _error("The body is not JSON, or not an array of polls."),
                    "413": _error("More polls than POLLS_MAX_ITEMS; nothing was stored."),
                    "415": _error("Neither application/json nor application/x-ndjson."),
                    "503": _error("The database does not answer."),
                },
            }
        }
    }


# --- what the web page reads: recent reports, one store in detail -------------------

_INSTANT = {"type": "string", "format": "date-time", "description": "UTC, ISO 8601 with microseconds and 'Z'."}
_STATUS_WORD = {"enum": ["active", "inactive"]}
_FIGURE_DESCRIPTIONS = {
    "uptime_last_hour": "minutes",
    "uptime_last_day": "hours",
    "uptime_last_week": "hours",
    "downtime_last_hour": "minutes",
    "downtime_last_day": "hours",
    "downtime_last_week": "hours",
}


def _span(description: str, **extra: Any) -> dict[str, Any]:
    """An object with a ``[start, end)`` pair of instants, plus ``extra`` properties."""
    return {
        "type": "object",
        "description": description,
        "properties": {"start": _INSTANT, "end": _INSTANT, **extra},
        "required": ["start", "end", *extra],
        "additionalProperties": False,
    }


_WEB_SCHEMAS: dict[str, Any] = {
    "ReportSummary": {
        "type": "object",
        "properties": {
            "report_id": {"type": "string", "format": "uuid"},
            "status": {"enum": ["Running", "Complete", "Failed"]},
            "progress": {
                "type": "object",
                "description": "Parts saved so far and parts planned (0 until the run is planned).",
                "properties": {
                    "done": {"type": "integer", "minimum": 0},
                    "total": {"type": "integer", "minimum": 0},
                },
                "required": ["done", "total"],
                "additionalProperties": False,
            },
            "created_at": _INSTANT,
            "finished_at": {**_INSTANT, "type": ["string", "null"], "description": "null while running."},
            "error": {"type": ["string", "null"], "description": "Why a failed report failed; else null."},
            "as_of": {
                **_INSTANT,
                "type": ["string", "null"],
                "description": "The instant the report is as of; null for a report at the latest poll.",
            },
        },
        "required": ["report_id", "status", "progress", "created_at", "finished_at", "error", "as_of"],
        "additionalProperties": False,
    },
    "ReportList": {
        "type": "object",
        "description": "Reports only: fleet trends are listed by GET /trends.",
        "properties": {"reports": {"type": "array", "items": _ref("ReportSummary")}},
        "required": ["reports"],
        "additionalProperties": False,
    },
    "Span": _span("The half-open interval [start, end)."),
    "StatusSpan": _span("The store's status all through [start, end).", status=_STATUS_WORD),
    "LocalDay": _span(
        "A calendar date in the store's timezone and its [00:00, next 00:00) in UTC.",
        date={"type": "string", "format": "date"},
    ),
    "StoreFigures": {
        "type": "object",
        "description": "The six figures of the store's report row, as the CSV gives them (two decimals).",
        "properties": {
            name: {"type": "number", "minimum": 0, "description": unit} for name, unit in _FIGURE_DESCRIPTIONS.items()
        },
        "required": list(_FIGURE_DESCRIPTIONS),
        "additionalProperties": False,
    },
    "StoreDetail": {
        "type": "object",
        "description": (
            "One store at the data's current now (the latest poll of any store): the figures of its "
            "report row and what they are measured on. Lists hold what lies inside the week."
        ),
        "properties": {
            "store_id": {"type": "string"},
            "timezone": {"type": "string", "description": "IANA name; America/Chicago when none is stored."},
            "now": _INSTANT,
            "windows": {
                "type": "object",
                "properties": {"hour": _ref("Span"), "day": _ref("Span"), "week": _ref("Span")},
                "required": ["hour", "day", "week"],
                "additionalProperties": False,
            },
            "figures": _ref("StoreFigures"),
            "business_hours": {
                "type": "array",
                "description": "Disjoint business intervals, in order.",
                "items": _ref("Span"),
            },
            "status": {
                "type": "array",
                "description": "The status timeline, without gaps over the week; neighbours differ in status.",
                "items": _ref("StatusSpan"),
            },
            "polls": {
                "type": "array",
                "description": "The polls from the week's start to now, in time order.",
                "items": {
                    "type": "object",
                    "properties": {"at": _INSTANT, "status": _STATUS_WORD},
                    "required": ["at", "status"],
                    "additionalProperties": False,
                },
            },
            "days": {
                "type": "array",
                "description": "The store's local dates that touch the week, in order.",
                "items": _ref("LocalDay"),
            },
        },
        "required": ["store_id", "timezone", "now", "windows", "figures", "business_hours", "status", "polls", "days"],
        "additionalProperties": False,
    },
}


def _web_paths() -> dict[str, Any]:
    """``GET /reports`` and ``GET /stores/{store_id}``, which the web page at / reads."""
    return {
        REPORTS_PATH: {
            "get": {
                "operationId": "recentReports",
                "summary": "The most recently triggered reports, newest first",
                "description": (
                    "A running report whose work was lost is failed here, as when it is polled."
                ),
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "description": "How many reports at most (default 20).",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                    }
                ],
                "responses": {
                    "200": _json("The reports, newest first.", _ref("ReportList")),
                    "400": _error("limit is not a whole number from 1 to 100."),
                    "503": _error("The database does not answer."),
                },
            }
        },
        STORE_PATH: {
            "get": {
                "operationId": "storeDetail",
                "summary": "One store in detail: its figures, business hours, status timeline and polls",
                "parameters": [
                    {
                        "name": "store_id",
                        "in": "path",
                        "required": True,
                        "description": "The store's id exactly as in the report, URL-encoded.",
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {
                    "200": _json("The store at the data's current now.", _ref("StoreDetail")),
                    "404": _error("No store with this id has any status poll."),
                    "503": _error("The database does not answer."),
                },
            }
        },
    }


# --- one store's daily trend (entrypoints.trend_views) ---------------------------------


def _hours_figure(description: str) -> dict[str, Any]:
    return {"type": "number", "minimum": 0, "maximum": 24, "description": description + ", rounded to 4 decimals."}


_TREND_SCHEMAS: dict[str, Any] = {
    "TrendDay": {
        "type": "object",
        "description": (
            "One 24-hour window back from now: day k is [now - k * 24 h, now - (k - 1) * 24 h). "
            "uptime_hours + downtime_hours = business_hours before rounding."
        ),
        "properties": {
            "day": {"type": "integer", "minimum": 1, "maximum": 90, "description": "1 is the day ending at now."},
            "window_start_utc": _INSTANT,
            "window_end_utc": _INSTANT,
            "business_hours": _hours_figure("Business time inside the window, in hours"),
            "uptime_hours": _hours_figure("Business time inside the window while active, in hours"),
            "downtime_hours": _hours_figure("Business time inside the window while inactive, in hours"),
        },
        "required": [
            "day",
            "window_start_utc",
            "window_end_utc",
            "business_hours",
            "uptime_hours",
            "downtime_hours",
        ],
        "additionalProperties": False,
    },
    "TriggerTrendRequest": {
        "type": "object",
        "description": "Optional: no body, an empty one or {} is a trend over 28 days at the data's latest poll.",
        "properties": {
            "days": {
                "type": "integer",
                "minimum": 1,
                "maximum": 90,
                "default": 28,
                "description": "How many 24-hour days back from now.",
            },
            "as_of": {
                "type": "string",
                "format": "date-time",
                "description": (
                    "An ISO 8601 instant with its UTC offset. The trend's now is the latest poll at or before "
                    "it, and later polls are left out. A time without an offset is refused (400)."
                ),
            },
        },
        "additionalProperties": False,
    },
    "TriggerTrendResponse": {
        "type": "object",
        "properties": {"trend_id": {"type": "string", "format": "uuid"}},
        "required": ["trend_id"],
        "additionalProperties": False,
    },
    "FleetDay": {
        "type": "object",
        "description": (
            "One 24-hour window back from now, summed over the stores from their exact figures: day k is "
            "[now - k * 24 h, now - (k - 1) * 24 h)."
        ),
        "properties": {
            "day": {"type": "integer", "minimum": 1, "maximum": 90, "description": "1 is the day ending at now."},
            "window_start_utc": _INSTANT,
            "window_end_utc": _INSTANT,
            "business_hours": {
                "type": "number",
                "minimum": 0,
                "description": "The stores' business time inside the window, summed, in hours (4 decimals).",
            },
            "uptime_hours": {
                "type": "number",
                "minimum": 0,
                "description": "The stores' business time inside the window while active, summed, in hours (4 decimals).",
            },
            "uptime_percent": {
                "type": ["number", "null"],
                "minimum": 0,
                "maximum": 100,
                "description": "100 * uptime / business time (2 decimals); null when the fleet had no business time.",
            },
            "stores_below_90": {
                "type": "integer",
                "minimum": 0,
                "description": "Stores with business time that day whose uptime was below 90 % of it.",
            },
            "stores_below_50": {
                "type": "integer",
                "minimum": 0,
                "description": "Of those, the stores whose uptime was below 50 % of it.",
            },
        },
        "required": [
            "day",
            "window_start_utc",
            "window_end_utc",
            "business_hours",
            "uptime_hours",
            "uptime_percent",
            "stores_below_90",
            "stores_below_50",
        ],
        "additionalProperties": False,
    },
    "FleetWeek": {
        "type": "object",
        "description": "A full week of the trend: week 1 is days 1 to 7, week 2 days 8 to 14...",
        "properties": {
            "week": {"type": "integer", "minimum": 1, "maximum": 12},
            "window_start_utc": _INSTANT,
            "window_end_utc": _INSTANT,
        },
        "required": ["week", "window_start_utc", "window_end_utc"],
        "additionalProperties": False,
    },
    "SlippingStore": {
        "type": "object",
        "description": "A store whose uptime dropped from week 2 (the week before) to week 1 (the last week).",
        "properties": {
            "store_id": {"type": "string"},
            "weekly_uptime_percent": {
                "type": "array",
                "description": (
                    "Its uptime in % of its business time in each full week, week 1 first (2 decimals); null "
                    "for a week without business time."
                ),
                "items": {"type": ["number", "null"], "minimum": 0, "maximum": 100},
            },
            "change": {
                "type": "number",
                "maximum": 0,
                "description": "Week 1's uptime % minus week 2's, in points (2 decimals), from the exact figures.",
            },
        },
        "required": ["store_id", "weekly_uptime_percent", "change"],
        "additionalProperties": False,
    },
    "CompleteTrend": {
        "type": "object",
        "description": (
            "A complete fleet trend, as JSON (Accept: application/json). now is null, and there are no days, "
            "weeks nor stores, when no poll was stored (at or before as_of)."
        ),
        "properties": {
            "status": {"const": "Complete"},
            "trend_id": {"type": "string", "format": "uuid"},
            "now": {
                **_INSTANT,
                "type": ["string", "null"],
                "description": "The latest poll of any store (at or before as_of); UTC, ISO 8601 with microseconds and 'Z'.",
            },
            "days": {"type": "integer", "minimum": 1, "maximum": 90},
            "fleet": {"type": "array", "description": "One entry per day, day 1 first.", "items": _ref("FleetDay")},
            "weeks": {
                "type": "array",
                "description": "The full weeks, week 1 first; none under 7 days.",
                "items": _ref("FleetWeek"),
            },
            "slipping": {
                "type": "array",
                "description": (
                    "The stores whose weekly uptime % dropped most from week 2 to week 1 (change < 0; none under "
                    "14 days), at most 20, the largest drop first, ties by store id."
                ),
                "maxItems": 20,
                "items": _ref("SlippingStore"),
            },
        },
        "required": ["status", "trend_id", "now", "days", "fleet", "weeks", "slipping"],
        "additionalProperties": False,
    },
    "TrendRunSummary": {
        "type": "object",
        "properties": {
            "trend_id": {"type": "string", "format": "uuid"},
            "status": {"enum": ["Running", "Complete", "Failed"]},
            "progress": {
                "type": "object",
                "description": "Parts saved so far and parts planned (0 until the run is planned).",
                "properties": {
                    "done": {"type": "integer", "minimum": 0},
                    "total": {"type": "integer", "minimum": 0},
                },
                "required": ["done", "total"],
                "additionalProperties": False,
            },
            "created_at": _INSTANT,
            "finished_at": {**_INSTANT, "type": ["string", "null"], "description": "null while running."},
            "error": {"type": ["string", "null"], "description": "Why a failed trend failed; else null."},
            "as_of": {
                **_INSTANT,
                "type": ["string", "null"],
                "description": "The instant the trend is as of; null for a trend at the latest poll.",
            },
            "days": {"type": "integer", "minimum": 1, "maximum": 90},
        },
        "required": ["trend_id", "status", "progress", "created_at", "finished_at", "error", "as_of", "days"],
        "additionalProperties": False,
    },
    "TrendList": {
        "type": "object",
        "properties": {"trends": {"type": "array", "items": _ref("TrendRunSummary")}},
        "required": ["trends"],
        "additionalProperties": False,
    },
    "StoreTrend": {
        "type": "object",
        "description": (
            "One store's business time, uptime and downtime day by day, under the report's rules: "
            "day 1 is its report row's last day, days 1 to 7 add up to its last week."
        ),
        "properties": {
            "store_id": {"type": "string"},
            "now": {
                **_INSTANT,
                "description": "The latest poll of any store (at or before as_of); UTC, ISO 8601 with microseconds and 'Z'.",
            },
            "days": {"type": "integer", "minimum": 1, "maximum": 90},
            "series": {
                "type": "array",
                "description": "One entry per day, day 1 first.",
                "items": _ref("TrendDay"),
            },
        },
        "required": ["store_id", "now", "days", "series"],
        "additionalProperties": False,
    },
}


def _trend_paths() -> dict[str, Any]:
    """``GET /stores/{store_id}/trend``, and the fleet's trend as a run: trigger, poll, list."""
    return {
        **_fleet_trend_paths(),
        TREND_PATH: {
            "get": {
                "operationId": "storeTrend",
                "summary": "One store's business time, uptime and downtime for each of the last N days",
                "description": (
                    "Computed at once, from the store's own polls and rows only. now is fixed as for a "
                    "report: the latest poll of any store, or with as_of the latest at or before it (later "
                    "polls are left out)."
                ),
                "parameters": [
                    {
                        "name": "store_id",
                        "in": "path",
                        "required": True,
                        "description": (
                            "The store's id exactly as in the report, URL-encoded; an id holding '/' may "
                            "also be sent with its slashes, as everything before the last '/trend' is the id."
                        ),
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "days",
                        "in": "query",
                        "required": False,
                        "description": "How many 24-hour days back from now (default 28).",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 90, "default": 28},
                    },
                    {
                        "name": "as_of",
                        "in": "query",
                        "required": False,
                        "description": (
                            "An ISO 8601 instant with its UTC offset (2023-01-25T12:00:00Z): now is the latest "
                            "poll at or before it."
                        ),
                        "schema": {"type": "string", "format": "date-time"},
                    },
                ],
                "responses": {
                    "200": _json("The store's days, day 1 first.", _ref("StoreTrend")),
                    "400": _error(
                        "days is not a whole number from 1 to 90, or as_of is not an ISO 8601 instant with its "
                        "offset; the error names the parameter."
                    ),
                    "404": _error("No store with this id has any status poll (at or before as_of)."),
                    "503": _error("The database does not answer."),
                },
            }
        }
    }


def _fleet_trend_paths() -> dict[str, Any]:
    """``POST /trigger_trend``, ``GET /get_trend/{trend_id}`` and ``GET /trends``."""
    return {
        TRIGGER_TREND_PATH: {
            "post": {
                "operationId": "triggerTrend",
                "summary": "Start computing the fleet's daily trend",
                "description": (
                    "Records a running trend, then queues its work, computed on the workers in parts of "
                    "REPORT_CHUNK_SIZE stores as a report is, from one snapshot of the data. Poll "
                    "GET /get_trend/{trend_id} until it is Complete or Failed."
                ),
                "requestBody": {
                    "required": False,
                    "description": "Optional: how many days, and the instant the trend is as of.",
                    "content": {JSON: {"schema": _ref("TriggerTrendRequest")}},
                },
                "responses": {
                    "200": _json("The trend was recorded and its work queued.", _ref("TriggerTrendResponse")),
                    "400": _error(
                        "The body is not a JSON object, has a field other than days and as_of, days is not a "
                        "whole number from 1 to 90, or as_of is not an ISO 8601 instant with its offset; the "
                        "error names the field."
                    ),
                    "503": _error(
                        "The database or the work queue does not answer; a trend that could not be queued is "
                        "recorded as Failed with the reason."
                    ),
                },
            }
        },
        GET_TREND_PATH: {
            "get": {
                "operationId": "getTrend",
                "summary": "The state of a fleet trend, or, once complete, its CSV or its JSON summary",
                "description": (
                    "Running or Failed: a JSON status, whatever Accept says. Complete: with Accept asking for "
                    "application/json (over text/csv), the fleet's days, full weeks and the stores slipping "
                    "most; otherwise the CSV of 'store-monitor trend' (header store_id,day,window_start_utc,"
                    "window_end_utc,business_hours,uptime_hours,downtime_hours), as an attachment."
                ),
                "parameters": [
                    {
                        "name": "trend_id",
                        "in": "path",
                        "required": True,
                        "description": "The id returned by POST /trigger_trend, in canonical (lowercase) form.",
                        "schema": {"type": "string", "format": "uuid"},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "Running or Failed: a JSON status. Complete: the CSV, or the JSON summary.",
                        "headers": {
                            "Content-Disposition": {
                                "description": "With the CSV: attachment; filename=trend-<trend_id>.csv",
                                "schema": {"type": "string"},
                            }
                        },
                        "content": {
                            JSON: {
                                "schema": {
                                    "oneOf": [_ref("RunningReport"), _ref("FailedReport"), _ref("CompleteTrend")]
                                }
                            },
                            CSV: {"schema": {"type": "string"}},
                        },
                    },
                    "400": _error("The trend id is not a canonical UUID."),
                    "404": _error(
                        "No trend has this id (a report's id names no trend): it was never triggered, or it "
                        "finished more than REPORT_RETENTION_DAYS days ago and was deleted."
                    ),
                    "500": _error("The trend is complete but its file cannot be read."),
                    "503": _error("The database does not answer."),
                },
            }
        },
        TRENDS_PATH: {
            "get": {
                "operationId": "recentTrends",
                "summary": "The most recently triggered fleet trends, newest first",
                "description": (
                    "Trends only (GET /reports lists reports only). A running trend whose work was lost is "
                    "failed here, as when it is polled."
                ),
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "description": "How many trends at most (default 20).",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                    }
                ],
                "responses": {
                    "200": _json("The trends, newest first.", _ref("TrendList")),
                    "400": _error("limit is not a whole number from 1 to 100."),
                    "503": _error("The database does not answer."),
                },
            }
        },
    }

