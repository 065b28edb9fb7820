"""Holds the API's answers to its own OpenAPI document, with jsonschema-rs.

Shared by the API tests, so every answer they see is held to the document.
The formats are checked as the API writes them: a UUID in canonical form,
an instant with microseconds and "Z", a date as ISO 8601.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import date
from typing import Any

import jsonschema_rs
from werkzeug.test import TestResponse

from entrypoints.openapi import openapi_document

DOCUMENT = openapi_document()
JSON = "application/json"
INSTANT_TEXT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def resolve(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in schema:
        target: Any = DOCUMENT
        for key in schema["$ref"].removeprefix("#/").split("/"):
            target = target[key]
        schema = target
    return schema


def is_canonical_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


def _is_date(text: str) -> bool:
    try:
        return date.fromisoformat(text).isoformat() == text
    except ValueError:
        return False


FORMATS = {
    "uuid": is_canonical_uuid,
    "date-time": lambda text: bool(INSTANT_TEXT.match(text)),
    "date": _is_date,
}


def conforms(value: Any, schema: Mapping[str, Any]) -> bool:
    """Whether ``value`` fits ``schema``, whose references point into the document."""
    rooted = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "components": DOCUMENT["components"],
    }
    validator = jsonschema_rs.validator_for(rooted, formats=FORMATS, validate_formats=True)
    return bool(validator.is_valid(value))


def check_documented(response: TestResponse, method: str, path: str) -> None:
    """The response's status, content type and body are the ones the document gives."""
    # Never an HTML page, whatever the status.
    assert response.mimetype != "text/html"
    if response.status_code >= 400:
        assert response.mimetype == JSON
        assert isinstance(response.get_json()["error"], str)
    documented = DOCUMENT["paths"][path][method]["responses"]
    assert str(response.status_code) in documented, f"{method} {path} answered an undocumented {response.status_code}"
    content = documented[str(response.status_code)]["content"]
    assert response.mimetype in content
    if response.mimetype == JSON:
        body = response.get_json()
        assert conforms(body, content[JSON]["schema"]), body
