"""What the API's requests may hold, as pydantic models: JSON bodies, query strings, upload forms.

``entrypoints.api_spec`` validates each request against its operation's
models before the view runs and documents them from the same models. A value
that does not fit is refused with 400 and a message naming the field
(``{"error": "days must be a whole number from 1 to 90"}``): each field's own
check raises a ``refused`` error, whose text is the answer.

Path parameters are not modelled: a run id is checked by its view (a
canonical UUID), a store id is opaque. The upload form and a batch of polls
are read by their views (each has answers a model cannot give: 413 while
reading, a malformed poll rejected alone), so their models only document.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from domain.model.clock import parse_instant
from domain.model.trend import DEFAULT_TREND_DAYS, MAX_TREND_DAYS, MIN_TREND_DAYS, check_days
from domain.use_cases.ingest_runs import MAX_SOURCE_CHARS
from entrypoints.api_models import untitled

# The error type whose message is the whole answer.
REQUEST_ERROR = "request"


def refused(message: str) -> PydanticCustomError:
    """A validation error that the API answers as ``400 {"error": message}``."""
    # Without a context the message is not a template: braces stay as they are.
    return PydanticCustomError(REQUEST_ERROR, message)


def first_value(value: Any) -> Any:
    """A query parameter's first value, when it is given more than once (as Flask's ``args.get`` reads it)."""
    return value[0] if isinstance(value, list) and value else value


def instant_value(value: Any) -> datetime:
    """``as_of``: an ISO 8601 instant with its offset, as an aware UTC datetime."""
    if not isinstance(value, str):
        raise refused("as_of must be a string: an ISO 8601 instant such as 2023-01-25T12:00:00Z")
    try:
        return parse_instant(value)
    except ValueError as error:
        raise refused(f"as_of {error}") from None


def days_value(value: Any) -> int:
    """``days`` of a JSON body: a whole number from 1 to 90 (7.0 is 7, true is no number of days)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    try:
        return check_days(value)
    except ValueError as error:
        raise refused(str(error)) from None


def days_text(value: Any) -> int:
    """``days`` of a query string: its digits, then as in a body."""
    text = first_value(value)
    if not (isinstance(text, str) and text.isascii() and text.isdigit()):
        raise refused(f"days must be a whole number from {MIN_TREND_DAYS} to {MAX_TREND_DAYS}")
    return days_value(int(text))


DEFAULT_RECENT_LIMIT = 20
MAX_RECENT_LIMIT = 100


def limit_text(value: Any) -> int:
    """``limit`` of a query string: 1 to MAX_RECENT_LIMIT."""
    text = first_value(value)
    if not (isinstance(text, str) and text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_RECENT_LIMIT:
        raise refused(f"limit must be a whole number from 1 to {MAX_RECENT_LIMIT}")
    return int(text)


AS_OF_SCHEMA = {"type": "string", "format": "date-time"}
AS_OF_OFFSET = "A time without an offset is refused (400)."


class JsonBody(BaseModel):
    """A JSON object holding only the model's fields; no body, an empty one or ``{}`` takes every default."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=untitled)
    # What the answer to a body that is not such an object tells the client to send.
    EXAMPLE: ClassVar[str]

    @model_validator(mode="before")
    @classmethod
    def only_known_fields(cls, document: Any) -> Any:
        if not isinstance(document, dict):
            raise refused(f"the body is not a JSON object: send {cls.EXAMPLE}")
        fields = tuple(cls.model_fields)
        unknown = sorted(set(document) - set(fields))
        if unknown:
            name = json.dumps(unknown[0])
            shown = name if len(name) <= 60 else name[:60] + "..."
            allowed = f"the only field is {fields[0]}" if len(fields) == 1 else f"the fields are {' and '.join(fields)}"
            raise refused(f"unknown field {shown}: {allowed}")
        return document


class TriggerRequest(JsonBody):
    """Optional: no body, an empty one or {} is a report at the data's latest poll."""

    EXAMPLE: ClassVar[str] = 'a JSON object such as {"as_of": "2023-01-25T12:00:00Z"}, or nothing'

    as_of: Annotated[datetime | None, BeforeValidator(instant_value), WithJsonSchema(AS_OF_SCHEMA)] = Field(
        default=None,
        description="An ISO 8601 instant with its UTC offset. The report's now is the latest poll at or before it, "
        "and later polls are left out; before every poll the report is its header alone. " + AS_OF_OFFSET,
    )


class TriggerTrendRequest(JsonBody):
    """Optional: no body, an empty one or {} is a trend over 28 days at the data's latest poll."""

    EXAMPLE: ClassVar[str] = '{"days": 28, "as_of": "2023-01-25T12:00:00Z"} (both optional), or nothing'

    days: Annotated[int, BeforeValidator(days_value)] = Field(
        default=DEFAULT_TREND_DAYS, ge=MIN_TREND_DAYS, le=MAX_TREND_DAYS, description="How many 24-hour days back from now."
    )
    as_of: Annotated[datetime | None, BeforeValidator(instant_value), WithJsonSchema(AS_OF_SCHEMA)] = Field(
        default=None,
        description="An ISO 8601 instant with its UTC offset. The trend's now is the latest poll at or before it, "
        "and later polls are left out. " + AS_OF_OFFSET,
    )


class Query(BaseModel):
    # Parameters the API does not read are ignored, as they always were.
    model_config = ConfigDict(extra="ignore", json_schema_extra=untitled)


class TrendQuery(Query):
    days: Annotated[int, BeforeValidator(days_text)] = Field(
        default=DEFAULT_TREND_DAYS,
        ge=MIN_TREND_DAYS,
        le=MAX_TREND_DAYS,
        description="How many 24-hour days back from now (default 28).",
    )
    as_of: Annotated[
        datetime | None, BeforeValidator(lambda value: instant_value(first_value(value))), WithJsonSchema(AS_OF_SCHEMA)
    ] = Field(
        default=None,
        description="An ISO 8601 instant with its UTC offset (2023-01-25T12:00:00Z): now is the latest poll at or "
        "before it.",
    )


class RecentQuery(Query):
    limit: Annotated[int, BeforeValidator(limit_text)] = Field(
        default=DEFAULT_RECENT_LIMIT,
        ge=1,
        le=MAX_RECENT_LIMIT,
        description=f"How many runs at most (default {DEFAULT_RECENT_LIMIT}).",
    )


# --- documented only: their views read these bodies themselves --------------------------

# OpenAPI 3.1 spells a file part (one sent with a file name) as text of a media type.
UploadFile = Annotated[str, WithJsonSchema({"type": "string", "contentMediaType": "application/octet-stream"})]


# Documented only: the view reads the form itself, since a request over INGEST_MAX_BYTES is refused
# while it is read, a browser sends an empty part for a file it was not given, and each field may
# also be named after its file (store_status.csv).
class IngestForm(BaseModel):
    """The CSV files to ingest, each in the field of its name, and where they come from."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=untitled)

    store_status: UploadFile
    menu_hours: UploadFile | SkipJsonSchema[None] = Field(default=None)
    timezone: UploadFile | SkipJsonSchema[None] = Field(default=None)
    source: str | SkipJsonSchema[None] = Field(
        default=None,
        min_length=1,
        max_length=MAX_SOURCE_CHARS,
        description="A name for where the files come from (a poller, say).",
    )


class Poll(BaseModel):
    """Fields as in a row of store_status.csv; a poll that is not such an object is rejected."""

    # Its view rejects a malformed poll alone and stores the others, so the schema stays open.
    model_config = ConfigDict(json_schema_extra=untitled)

    store_id: str
    status: str
    timestamp_utc: str


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A model's schema to write in place (it has no nested models)."""
    return model.model_json_schema()
