"""The OpenAPI 3.1 description of the HTTP API, served at ``/openapi.json``.

It lists exactly the routes of ``entrypoints.views`` and every status each
can answer with; the unit tests check both against the running app.
"""

from __future__ import annotations

import copy
from typing import Any

API_VERSION = "1.0.0"

TRIGGER_PATH = "/trigger_report"
GET_REPORT_PATH = "/get_report/{report_id}"
HEALTH_PATH = "/health"
OPENAPI_PATH = "/openapi.json"

JSON = "application/json"
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
        },
        "required": ["status", "progress"],
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
    "Error": {
        "type": "object",
        "properties": {"error": {"type": "string"}},
        "required": ["error"],
        "additionalProperties": False,
    },
    "Health": {
        "type": "object",
        "description": "Each part is 'ok' or the one-line reason it does not answer.",
        "properties": {
            "status": {"enum": ["ok", "unavailable"]},
            "database": {"type": "string"},
            "broker": {"type": "string"},
            "error": {"type": "string", "description": "When unavailable: each failing part and its reason."},
        },
        "required": ["status", "database", "broker"],
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
                    "GET /get_report/{report_id} until it is Complete or Failed."
                ),
                "responses": {
                    "200": _json("The report was recorded and its work queued.", _ref("TriggerResponse")),
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
                    "404": _error("No report has this id."),
                    "500": _error("The report is complete but its file cannot be read."),
                    "503": _error("The database does not answer."),
                },
            }
        },
        HEALTH_PATH: {
            "get": {
                "operationId": "health",
                "summary": "Whether the database and the work queue answer",
                "responses": {
                    "200": _json("Both answer.", _ref("Health")),
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
    }


def openapi_document() -> dict[str, Any]:
    """The whole document, built afresh (callers may change it freely)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Store monitor",
            "version": API_VERSION,
            "description": (
                "Uptime and downtime of stores during their business hours. A report is "
                "triggered, then polled until its CSV is ready."
            ),
        },
        "paths": _paths(),
        "components": {"schemas": copy.deepcopy(_SCHEMAS)},
    }
