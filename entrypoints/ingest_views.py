"""The HTTP routes of ingestion: upload data files, then poll their ingestion.

``POST /ingest`` takes ``multipart/form-data`` with each CSV file in the
field of its name (``store_status``, ``menu_hours``, ``timezone``, with or
without ``.csv``), and optionally a text field ``source`` naming where the
files come from, and answers 202 with the run's id; a worker ingests the
files. The files of a named source are read as a watched folder's are: a
status file that grew is read from where that source's last ingestion ended. ``GET /ingest/<ingest_id>`` gives the run's state and, once complete,
the same summary ``store-monitor ingest --json`` prints.

The request size is capped by Flask's ``MAX_CONTENT_LENGTH`` (the setting
``INGEST_MAX_BYTES``): a larger request is refused with 413 before its body
is read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dependency_injector.wiring import Provider, inject
from flask import Blueprint, Flask, Response, current_app, jsonify, request, url_for
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import BadRequest, NotFound, RequestEntityTooLarge

from domain.model.errors import quoted
from domain.model.ingestion import HOURS_FILE, STATUS_FILE, TIMEZONE_FILE
from domain.model.report import ReportStatus
from domain.model.upload_runs import IngestRun
from domain.ports.uploads import ByteStream, IngestNotFound, InvalidUpload, UploadTooLarge
from domain.use_cases.ingest_runs import IngestRunService
from entrypoints.api_models import Error, IngestionState, IngestStarted
from entrypoints.api_requests import IngestForm, inline_schema
from entrypoints.api_spec import ApiResponse, api
from entrypoints.container import Container
from entrypoints.views import RUN_ID, UNAVAILABLE_503, parse_run_id

bp = Blueprint("ingest", __name__)

# Form field -> the file it holds: the file's name, with or without ".csv".
FIELDS: dict[str, str] = {
    **{name.removesuffix(".csv"): name for name in (STATUS_FILE, HOURS_FILE, TIMEZONE_FILE)},
    **{name: name for name in (STATUS_FILE, HOURS_FILE, TIMEZONE_FILE)},
}
_FIELD_LIST = "store_status, menu_hours, timezone"
# The keys of a file's summary, in their order (``FileSummary.to_dict``).
_FILE_SUMMARY_KEYS = ("rows", "new", "already_stored", "duplicates", "rejected", "errors")
_EXAMPLE = "curl -F store_status=@store_status.csv -F menu_hours=@menu_hours.csv -F timezone=@timezone.csv"


def install(app: Flask, container: Container) -> None:
    """Serve the ingestion routes on ``app``, with its requests capped at INGEST_MAX_BYTES."""
    app.config["MAX_CONTENT_LENGTH"] = container.ingest_max_bytes()
    container.wire(modules=[__name__])
    app.register_blueprint(bp)


# The form is read by its view (uploaded_files), so it is documented, not validated, by its model.
UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": inline_schema(IngestForm),
            "encoding": {field: {"contentType": "text/csv"} for field in ("store_status", "menu_hours", "timezone")},
        }
    },
}


@bp.route("/ingest", methods=["POST"])
@inject
@api.operation(
    "startIngestion",
    tag="ingestion",
    resp=ApiResponse(
        HTTP_202=(IngestStarted, "The files were stored and their ingestion queued."),
        HTTP_400=(
            Error,
            "Not multipart/form-data, no file, an unknown field, a file sent twice, no store_status file, or a "
            "source name that is empty, too long or holds a control character.",
        ),
        HTTP_413=(Error, "The request is larger than INGEST_MAX_BYTES; nothing was kept."),
        HTTP_500=(Error, "The uploaded files cannot be stored (UPLOADS_DIR)."),
        HTTP_503=(
            Error,
            "The database or the work queue does not answer; an ingestion that could not be queued is recorded as "
            "Failed with the reason.",
        ),
    ),
    document={
        "requestBody": UPLOAD_BODY,
        "responses": {
            "202": {"headers": {"Location": {"description": "/ingest/<ingest_id>, to poll.", "schema": {"type": "string"}}}}
        },
    },
)
def start_ingestion(
    run_service: Callable[[], IngestRunService] = Provider[Container.ingest_run_service],
) -> tuple[Response, int]:
    """Upload data files to ingest

    Stores the uploaded CSV files, records a running ingestion, then queues it; a worker ingests them as
    'store-monitor ingest' does a data folder. Poll GET /ingest/{ingest_id} until it is Complete or Failed. Each
    file goes in the field of its name, with or without '.csv'; store_status is required. The whole request may
    not exceed the server's INGEST_MAX_BYTES (default 256 MiB). With a 'source' name, the files are that
    source's: a status file that is the one the source's last upload held plus appended lines is read from where
    that ended, and unchanged hours and timezone files are not read again.
    """
    try:
        files = uploaded_files()
    except RequestEntityTooLarge:
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        raise RequestEntityTooLarge(
            f"the request is larger than the limit of {limit} bytes (INGEST_MAX_BYTES); nothing was kept"
        ) from None
    try:
        run = run_service().start(files, request.form.get("source"))
    except InvalidUpload as error:
        raise BadRequest(str(error)) from None
    except UploadTooLarge as error:
        raise RequestEntityTooLarge(str(error)) from None
    response = jsonify(ingest_id=run.ingest_id)
    response.headers["Location"] = url_for(".get_ingestion", ingest_id=run.ingest_id)
    return response, 202


# ``path`` lets ids with slashes reach the view and get a 400, as for reports.
@bp.route("/ingest/<path:ingest_id>", methods=["GET"])
@inject
@api.operation(
    "getIngestion",
    tag="ingestion",
    path_parameters={"ingest_id": RUN_ID.format("POST /ingest")},
    resp=ApiResponse(
        HTTP_200=(IngestionState, "Running, Complete with the ingestion summary, or Failed with the reason."),
        HTTP_400=(Error, "The ingestion id is not a canonical UUID."),
        HTTP_404=(Error, "No ingestion has this id."),
        HTTP_503=UNAVAILABLE_503,
    ),
)
def get_ingestion(
    ingest_id: str,
    # The provider: the id is checked before anything that may open the database is built.
    run_service: Callable[[], IngestRunService] = Provider[Container.ingest_run_service],
) -> Response:
    """The state of an ingestion, with its summary once complete"""
    checked_id = parse_run_id(ingest_id, "ingest_id")
    try:
        run = run_service().status(checked_id)
    except IngestNotFound as error:
        raise NotFound(str(error)) from None
    response = jsonify(ingestion_state(run))
    # A polled state changes: no cache may answer for the server.
    response.headers["Cache-Control"] = "no-store"
    return response


def uploaded_files() -> dict[str, ByteStream]:
    """The request's files by file name; ``BadRequest`` for anything but files in the known fields.

    Reading the form is what enforces ``MAX_CONTENT_LENGTH`` (413).
    """
    if request.mimetype != "multipart/form-data":
        raise BadRequest(f"send the files as multipart/form-data, e.g. {_EXAMPLE} URL")
    for field in request.form:
        if field == "source":
            continue
        if field in FIELDS:
            raise BadRequest(f"field {field!r} holds text, not a file: send it as a file (curl -F {field}=@FILE)")
        raise BadRequest(f"unknown field {quoted(field)}: the fields are {_FIELD_LIST}")
    files: dict[str, ByteStream] = {}
    for field, parts in request.files.lists():
        name = FIELDS.get(field)
        if name is None:
            raise BadRequest(f"unknown field {quoted(field)}: the fields are {_FIELD_LIST}")
        for part in parts:
            if _no_file_chosen(part):
                continue
            if name in files:
                raise BadRequest(f"{name} was sent more than once")
            files[name] = part.stream
    if not files:
        raise BadRequest(f"no file uploaded: send one or more of the fields {_FIELD_LIST}, e.g. {_EXAMPLE} URL")
    return files


def _no_file_chosen(part: FileStorage) -> bool:
    """A browser form sends a file field left empty as a part with no name and no bytes."""
    if part.filename:
        return False
    stream = part.stream
    empty = not stream.read(1)
    stream.seek(0)
    return empty


def ingestion_state(run: IngestRun) -> dict[str, object]:
    """The JSON body of a polled ingestion."""
    if run.status is ReportStatus.COMPLETE:
        return {"status": run.status.value, "summary": _counted_in_full(run.summary or {})}
    if run.status is ReportStatus.FAILED:
        return {"status": run.status.value, "error": run.error or "unknown error"}
    return {"status": run.status.value}


def _counted_in_full(summary: dict[str, Any]) -> dict[str, Any]:
    """The stored summary; a file summary stored before ``already_stored`` was counted gets it.

    ``new`` meant the same then, so the valid rows that were not new are the ones already stored.
    """
    completed: dict[str, Any] = {}
    for name, counts in summary.items():
        if isinstance(counts, dict) and "already_stored" not in counts and "new" in counts:
            valid = int(counts["rows"]) - int(counts["duplicates"]) - int(counts["rejected"])
            counts = dict(counts, already_stored=valid - int(counts["new"]))
            counts = {key: counts[key] for key in _FILE_SUMMARY_KEYS if key in counts}
        completed[name] = counts
    return completed
