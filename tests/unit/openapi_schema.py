"""Checks a JSON value against the API's own OpenAPI document, for the keywords it uses.

Shared by the API tests, so every answer they see is held to the document.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

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


_TYPE_CHECKS: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "null": lambda v: v is None,
}


def _format_ok(value: str, form: str | None) -> bool:
    if form == "uuid":
        return is_canonical_uuid(value)
    if form == "date-time":
        return bool(INSTANT_TEXT.match(value))
    if form == "date":
        return date.fromisoformat(value).isoformat() == value
    return True


def conforms(value: Any, schema: Mapping[str, Any]) -> bool:
    """Whether ``value`` fits ``schema``."""
    schema = resolve(schema)
    if "oneOf" in schema:
        return sum(conforms(value, option) for option in schema["oneOf"]) == 1
    if "const" in schema and value != schema["const"]:
        return False
    if "enum" in schema and value not in schema["enum"]:
        return False
    kinds = schema.get("type")
    if kinds is None:
        return True
    kinds = [kinds] if isinstance(kinds, str) else kinds
    if not any(_TYPE_CHECKS[kind](value) for kind in kinds):
        return False
    if isinstance(value, dict):
        properties: Mapping[str, Any] = schema.get("properties", {})
        if not set(schema.get("required", [])) <= set(value):
            return False
        if schema.get("additionalProperties") is False and not set(value) <= set(properties):
            return False
        return all(conforms(item, properties[key]) for key, item in value.items() if key in properties)
    if isinstance(value, list):
        return all(conforms(item, schema.get("items", {})) for item in value)
    if isinstance(value, str):
        return _format_ok(value, schema.get("format"))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return bool(schema.get("minimum", value) <= value <= schema.get("maximum", value))
    return True


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
