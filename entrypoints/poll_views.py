"""``POST /polls``: pollers push a batch of polls instead of dropping a file.

The body is a JSON array of ``{"store_id", "status", "timestamp_utc"}``
objects (``application/json``), or one such object per line
(``application/x-ndjson``). Each poll is validated exactly as a row of
``store_status.csv`` is, stored idempotently as one ingestion (visible to
reports when the answer is sent), and the answer counts them like a file's
summary, each rejected poll with its position in the batch (from 0) and why.
A batch of more than ``POLLS_MAX_ITEMS`` polls is refused with 413, unread
beyond what shows it too large.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from dependency_injector.wiring import Provide, Provider, inject
from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnsupportedMediaType

from domain.model.ingestion import FileSummary, RejectedRow
from domain.ports.reading import PollRowReader, PollText
from domain.use_cases.ingest import IngestService
from entrypoints import metrics
from entrypoints.api_models import Error, PollBatch
from entrypoints.api_requests import Poll, inline_schema
from entrypoints.api_spec import ApiResponse, api
from entrypoints.container import Container
from entrypoints.views import UNAVAILABLE_503

bp = Blueprint("polls", __name__)

FIELDS = ("store_id", "status", "timestamp_utc")
JSON_TYPES = ("application/json",)
NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")
# Bytes a poll may take in a request, on average, before the batch is refused unread.
MAX_BYTES_PER_POLL = 1024


@bp.route("/polls", methods=["POST"])
@inject
@api.operation(
    "pushPolls",
    tag="ingestion",
    resp=ApiResponse(
        HTTP_200=(PollBatch, "What the batch held, each rejected poll with its position and why."),
        HTTP_400=(Error, "The body is not JSON, or not an array of polls."),
        HTTP_413=(Error, "More polls than POLLS_MAX_ITEMS; nothing was stored."),
        HTTP_415=(Error, "Neither application/json nor application/x-ndjson."),
        HTTP_503=UNAVAILABLE_503,
    ),
    # A malformed poll is rejected alone, in the answer, so the batch is read here, not validated whole.
    document={
        "requestBody": {
            "required": True,
            "content": {
                JSON_TYPES[0]: {"schema": {"type": "array", "items": inline_schema(Poll)}},
                NDJSON_TYPES[0]: {"schema": {"type": "string", "description": "One poll object per line."}},
            },
        }
    },
)
def push_polls(
    reader: PollRowReader = Provide[Container.poll_row_reader],
    ingest: Callable[[], IngestService] = Provider[Container.ingest_service],
    max_items: int = Provide[Container.polls_max_items],
) -> tuple[Response, int]:
    """Store a batch of polls at once

    Each poll is validated as a row of store_status.csv is, the valid ones stored idempotently as one ingestion,
    visible to reports once this answers. At most POLLS_MAX_ITEMS (default 10,000) polls a batch.
    """
    items = _items(max_items)
    rows: list[PollText] = []
    malformed: list[RejectedRow] = []
    # The reader numbers the rows it is given; a malformed item is listed by its own position.
    positions: list[int] = []
    for position, item in enumerate(items):
        if isinstance(item, dict) and all(isinstance(item.get(field), str) for field in FIELDS):
            rows.append((item["store_id"], item["status"], item["timestamp_utc"]))
            positions.append(position)
        else:
            malformed.append(RejectedRow(position, f"poll {position} is not an object with text fields {', '.join(FIELDS)}"))
    polls, read = reader.read(rows)
    summary = ingest().add_polls(polls, read) if len(polls) else read
    errors = sorted(
        [*malformed, *(RejectedRow(positions[error.line - 1], error.reason) for error in summary.errors)],
        key=lambda error: error.line,
    )
    counted = FileSummary(
        rows=len(items),
        new=summary.new,
        already_stored=summary.already_stored,
        duplicates=summary.duplicates,
        rejected=summary.rejected + len(malformed),
    )
    metrics.count_ingested({"store_status": counted.to_dict()})
    body = counted.to_dict()
    body["errors"] = [{"poll": error.line, "reason": error.reason} for error in errors[:500]]
    return jsonify(body), 200


def _items(max_items: int) -> list[Any]:
    """The batch's items; 413 past ``max_items`` (or its bytes past what they could take), 400 if unreadable."""
    if request.content_length is not None and request.content_length > max_items * MAX_BYTES_PER_POLL:
        raise RequestEntityTooLarge(_too_large(max_items))
    mimetype = request.mimetype
    text = request.get_data(cache=False).decode("utf-8", errors="replace")
    try:
        if mimetype in JSON_TYPES:
            items = json.loads(text)
            if not isinstance(items, list):
                raise BadRequest('the body must be a JSON array of polls: [{"store_id": ..., "status": ..., "timestamp_utc": ...}]')
        elif mimetype in NDJSON_TYPES:
            items = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            raise UnsupportedMediaType("send the polls as application/json (an array) or application/x-ndjson")
    except json.JSONDecodeError as error:
        raise BadRequest(f"the body is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    if len(items) > max_items:
        raise RequestEntityTooLarge(_too_large(max_items))
    return items


def _too_large(max_items: int) -> str:
    return f"a batch holds at most {max_items} polls (POLLS_MAX_ITEMS); send several batches; nothing was stored"
