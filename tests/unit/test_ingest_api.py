"""``POST /ingest`` and ``GET /ingest/<id>`` through Flask's test client.

The providers the routes reach are overridden with in-memory registries and
repositories and a recording work queue; the uploads go to real files under a
temporary folder, and the real CSV reader ingests them. Every response is
checked against the OpenAPI document.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest
from dependency_injector import providers
from documented import DOCUMENT, conforms, is_canonical_uuid
from fakes import App, AppMaker, RecordingWorkQueue, make_app
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from adapters.csv.reader import PandasCsvReader
from adapters.memory.data import (
    InMemoryBusinessHoursRepository,
    InMemoryIngestionLog,
    InMemoryStatusRepository,
    InMemoryTimezoneRepository,
)
from adapters.memory.uploads import InMemoryIngestRegistry
from domain.model.ingestion import HOURS_FILE, STATUS_FILE, TIMEZONE_FILE
from domain.model.report import ReportStatus
from domain.model.upload_runs import IngestRun
from domain.model.work_units import INGEST_WATCHED_FOLDER_TASK
from domain.ports.data import RepositoryError
from domain.use_cases.ingest import IngestService
from domain.use_cases.ingest_runs import IngestRunService
from entrypoints.container import Container, build_container, periodic_tasks
from entrypoints.flask_app import create_app
from entrypoints.settings import ConfigurationError

JSON = "application/json"
POST_PATH = "/ingest"
GET_PATH = "/ingest/{ingest_id}"

STATUS_CSV = (
    b"store_id,status,timestamp_utc\n"
    b"a,active,2023-01-24 09:07:00 UTC\n"
    b"b,inactive,2023-01-24 09:30:00 UTC\n"
    b"b,inactive,2023-01-24 09:30:00 UTC\n"
    b"c,maybe,2023-01-24 09:30:00 UTC\n"
)
HOURS_CSV = b"store_id,dayOfWeek,start_time_local,end_time_local\na,1,09:00:00,17:00:00\n"
TIMEZONE_CSV = b"store_id,timezone_str\na,America/New_York\nb,Nowhere/Atlantis\n"
HOURS_WITHOUT_END_CSV = b"store_id,dayOfWeek,start_time_local\na,1,09:00:00\n"


class UnreachableRegistry(InMemoryIngestRegistry):
    REASON = "database error: connection refused"

    def add(self, run: IngestRun) -> None:
        raise RepositoryError(self.REASON)

    def get(self, ingest_id: str) -> IngestRun:
        raise RepositoryError(self.REASON)


@attrs.define
class Api:
    container: Container
    client: FlaskClient
    registry: InMemoryIngestRegistry
    queue: RecordingWorkQueue
    status: InMemoryStatusRepository
    uploads_dir: Path

    def runs(self) -> IngestRunService:
        return self.container.ingest_run_service()

    def replace(self, provider: providers.Provider[Any], instance: object) -> None:
        provider.override(providers.Object(instance))

    def post(self, data: Mapping[str, Any], **options: Any) -> TestResponse:
        return self.client.post(POST_PATH, data=dict(data), content_type="multipart/form-data", **options)

    def start(self, data: Mapping[str, Any] | None = None) -> str:
        response = self.post(data if data is not None else upload())
        assert response.status_code == 202, response.get_json()
        ingest_id: str = response.get_json()["ingest_id"]
        return ingest_id

    def poll(self, ingest_id: str) -> TestResponse:
        return self.client.get(f"/ingest/{ingest_id}")

    def stored_polls(self) -> int:
        """How many polls the latest complete ingestion left stored."""
        return len(self.status.polls_since(0, snapshot=self.container.ingestion_log().latest_complete()))

    def upload_folders(self) -> list[str]:
        return sorted(path.name for path in self.uploads_dir.iterdir()) if self.uploads_dir.exists() else []


def upload(**files: bytes) -> dict[str, tuple[io.BytesIO, str]]:
    """Form data with each file in the field named like it (the three files by default)."""
    chosen = files or {"store_status": STATUS_CSV, "menu_hours": HOURS_CSV, "timezone": TIMEZONE_CSV}
    return {field: (io.BytesIO(content), f"{field}.csv") for field, content in chosen.items()}


MakeApi = Callable[..., Api]


@pytest.fixture
def make_api(make_app: AppMaker, tmp_path: Path) -> MakeApi:
    """``make_api(**settings)``: the shared in-memory app, with ingestion's registry in memory, its queue recorded."""

    def make(**settings: Any) -> Api:
        uploads_dir = tmp_path / "uploads"
        app = make_app(App, settings={"uploads_dir": str(uploads_dir), **settings})
        api = Api(app.container, app.client, InMemoryIngestRegistry(), app.queue, app.status, uploads_dir)
        api.replace(app.container.ingest_registry, api.registry)
        return api

    return make


@pytest.fixture
def api(make_api: MakeApi) -> Api:
    return make_api()


def expected_summary(tmp_path: Path) -> dict[str, Any]:
    """What ``store-monitor ingest --json`` prints for the three files on an empty database."""
    folder = tmp_path / "expected"
    folder.mkdir()
    (folder / STATUS_FILE).write_bytes(STATUS_CSV)
    (folder / HOURS_FILE).write_bytes(HOURS_CSV)
    (folder / TIMEZONE_FILE).write_bytes(TIMEZONE_CSV)
    status = InMemoryStatusRepository()
    hours, timezones = InMemoryBusinessHoursRepository(), InMemoryTimezoneRepository()
    service = IngestService(PandasCsvReader(), status, hours, timezones, InMemoryIngestionLog(status, hours, timezones))
    return service.ingest(folder).to_dict()


# --- checking responses against the OpenAPI document ------------------------------------


def check_documented(response: TestResponse, method: str, path: str) -> None:
    assert response.mimetype == JSON, response.get_data()
    documented = DOCUMENT["paths"][path][method]["responses"]
    assert str(response.status_code) in documented, f"{method} {path} answered an undocumented {response.status_code}"
    body = response.get_json()
    if response.status_code >= 400:
        assert isinstance(body["error"], str)
    schema = documented[str(response.status_code)]["content"][JSON]["schema"]
    assert conforms(body, schema), body


def check_post(response: TestResponse) -> None:
    check_documented(response, "post", POST_PATH)


def check_poll(response: TestResponse) -> None:
    check_documented(response, "get", GET_PATH)


# --- POST /ingest ---------------------------------------------------------------------


def test_an_upload_is_stored_recorded_running_and_queued_under_a_new_uuid4(api: Api) -> None:
    response = api.post(upload())

    check_post(response)
    assert response.status_code == 202
    ingest_id = response.get_json()["ingest_id"]
    assert uuid.UUID(ingest_id).version == 4 and is_canonical_uuid(ingest_id)
    assert response.headers["Location"] == f"/ingest/{ingest_id}"
    assert api.queue.submitted == [ingest_id]
    run = api.registry.get(ingest_id)
    assert run.status is ReportStatus.RUNNING
    assert run.files == (STATUS_FILE, HOURS_FILE, TIMEZONE_FILE)
    folder = api.uploads_dir / ingest_id
    assert (folder / STATUS_FILE).read_bytes() == STATUS_CSV
    assert (folder / HOURS_FILE).read_bytes() == HOURS_CSV
    assert (folder / TIMEZONE_FILE).read_bytes() == TIMEZONE_CSV


def test_fields_may_be_named_like_the_files_and_one_file_is_enough(api: Api) -> None:
    response = api.post({"store_status.csv": (io.BytesIO(STATUS_CSV), "whatever-name.txt")})

    check_post(response)
    assert response.status_code == 202
    assert api.registry.get(response.get_json()["ingest_id"]).files == (STATUS_FILE,)


def test_a_file_field_left_empty_in_a_browser_form_is_ignored(api: Api) -> None:
    data = {**upload(store_status=STATUS_CSV), "menu_hours": (io.BytesIO(b""), "")}

    response = api.post(data)

    assert response.status_code == 202
    assert api.registry.get(response.get_json()["ingest_id"]).files == (STATUS_FILE,)


BAD_UPLOADS: dict[str, tuple[Callable[[], dict[str, Any]], str]] = {
    "unknown field": (lambda: {**upload(), "orders": (io.BytesIO(b"x"), "orders.csv")}, "unknown field 'orders'"),
    "no file": (lambda: {}, "no file uploaded"),
    "text instead of a file": (lambda: {"store_status": STATUS_CSV.decode()}, "holds text, not a file"),
    "unknown text field": (lambda: {**upload(), "note": "hello"}, "unknown field 'note'"),
    "a file twice": (
        lambda: {**upload(store_status=STATUS_CSV), "store_status.csv": (io.BytesIO(STATUS_CSV), "s.csv")},
        "store_status.csv was sent more than once",
    ),
    "two files in one field": (
        lambda: {"store_status": [(io.BytesIO(STATUS_CSV), "a.csv"), (io.BytesIO(STATUS_CSV), "b.csv")]},
        "more than once",
    ),
    "no status file": (lambda: upload(menu_hours=HOURS_CSV), "store_status.csv is required"),
}


@pytest.mark.parametrize("case", sorted(BAD_UPLOADS))
def test_a_bad_upload_is_400_json_and_nothing_is_kept(api: Api, case: str) -> None:
    build, message = BAD_UPLOADS[case]

    response = api.post(build())

    check_post(response)
    assert response.status_code == 400
    assert message in response.get_json()["error"]
    assert api.registry.runs == {} and api.queue.submitted == []
    assert api.upload_folders() == []


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"", None), (b'{"store_status": "x"}', "application/json"), (STATUS_CSV, "text/csv")],
    ids=["empty", "json", "csv"],
)
def test_a_body_that_is_not_multipart_is_400(api: Api, body: bytes, content_type: str | None) -> None:
    response = api.client.post(POST_PATH, data=body, content_type=content_type)

    check_post(response)
    assert response.status_code == 400
    assert "multipart/form-data" in response.get_json()["error"]


def test_a_request_larger_than_ingest_max_bytes_is_413_json_and_nothing_is_kept(make_api: MakeApi) -> None:
    api = make_api(ingest_max_bytes="1000")
    assert api.client.application.config["MAX_CONTENT_LENGTH"] == 1000

    response = api.post(upload(store_status=b"store_id,status,timestamp_utc\n" + b"x" * 1000))

    check_post(response)
    assert response.status_code == 413
    assert "limit of 1000 bytes (INGEST_MAX_BYTES)" in response.get_json()["error"]
    assert api.registry.runs == {} and api.queue.submitted == []
    assert api.upload_folders() == []
    # A small upload still goes through.
    assert api.post(upload(store_status=STATUS_CSV)).status_code == 202


def test_with_the_broker_down_the_upload_is_503_and_its_run_failed(api: Api) -> None:
    api.replace(api.container.work_queue, RecordingWorkQueue(refuse=True))

    response = api.post(upload())

    check_post(response)
    assert response.status_code == 503
    assert RecordingWorkQueue.REASON in response.get_json()["error"]
    [run] = api.registry.runs.values()
    assert run.status is ReportStatus.FAILED
    assert run.error is not None and "could not be queued" in run.error
    assert api.upload_folders() == []
    polled = api.poll(run.ingest_id)
    check_poll(polled)
    assert polled.get_json() == {"status": "Failed", "error": run.error}


def test_with_the_database_down_the_upload_is_503_and_nothing_is_kept(api: Api) -> None:
    api.replace(api.container.ingest_registry, UnreachableRegistry())

    response = api.post(upload())

    check_post(response)
    assert response.status_code == 503
    assert response.get_json() == {"error": UnreachableRegistry.REASON}
    assert api.queue.submitted == [] and api.upload_folders() == []


def test_an_uploads_dir_that_cannot_be_written_is_500_with_the_reason(api: Api) -> None:
    api.uploads_dir.write_text("a file where the folder should be")

    response = api.post(upload())

    check_post(response)
    assert response.status_code == 500
    assert "cannot save the upload" in response.get_json()["error"]
    assert api.registry.runs == {} and api.queue.submitted == []


# --- GET /ingest/<ingest_id> ----------------------------------------------------------


def test_a_queued_ingestion_is_running(api: Api) -> None:
    response = api.poll(api.start())

    check_poll(response)
    assert response.status_code == 200
    assert response.get_json() == {"status": "Running"}
    assert response.headers["Cache-Control"] == "no-store"


def test_a_complete_ingestion_gives_the_summary_ingest_json_prints(api: Api, tmp_path: Path) -> None:
    ingest_id = api.start()
    api.runs().run(ingest_id)

    response = api.poll(ingest_id)

    check_poll(response)
    assert response.get_json() == {"status": "Complete", "summary": expected_summary(tmp_path)}
    summary = response.get_json()["summary"]
    assert (summary["store_status"]["rows"], summary["store_status"]["new"]) == (4, 2)
    assert summary["store_status"]["rejected"] == 1 and summary["timezone"]["rejected"] == 1
    assert [error["line"] for error in summary["store_status"]["errors"]] == [5]
    assert api.stored_polls() == 2
    assert api.upload_folders() == []


def test_a_file_missing_a_column_fails_the_ingestion_naming_them(api: Api) -> None:
    ingest_id = api.start(upload(store_status=STATUS_CSV, menu_hours=HOURS_WITHOUT_END_CSV))
    api.runs().run(ingest_id)

    response = api.poll(ingest_id)

    check_poll(response)
    body = response.get_json()
    assert body["status"] == "Failed" and set(body) == {"status", "error"}
    assert HOURS_FILE in body["error"] and "end_time_local" in body["error"]
    assert api.stored_polls() == 0


def test_poison_rows_of_an_upload_are_rejected_and_the_rest_is_ingested(api: Api) -> None:
    status = (
        b"store_id,status,timestamp_utc\n"
        b"a,active,2023-01-24 09:07:00 UTC\n"
        b"future-1,active,9999-12-31 23:59:59 UTC\n"
        b"a,inactive,0000-01-01 00:00:00 UTC\n"
        b"b\x00,active,2023-01-24 09:30:00 UTC\n"
        + b"7" * (1 << 20)
        + b",active,2023-01-24 09:30:00 UTC\n"
        b"b,inactive,2023-01-24 09:30:00 UTC\n"
    )
    hours = b"store_id,dayOfWeek,start_time_local,end_time_local\na\x7f,1,09:00,17:00\na,1,09:00,17:00\n"
    timezones = b"store_id,timezone_str\n" + b"t" * 256 + b",UTC\na,UTC\n"
    ingest_id = api.start(upload(store_status=status, menu_hours=hours, timezone=timezones))
    api.runs().run(ingest_id)

    response = api.poll(ingest_id)

    check_poll(response)
    body = response.get_json()
    assert body["status"] == "Complete", body
    summary = body["summary"]
    assert [error["line"] for error in summary["store_status"]["errors"]] == [3, 4, 5, 6]
    reasons = [error["reason"] for error in summary["store_status"]["errors"]]
    assert "more than a day after this machine's clock" in reasons[0]
    assert reasons[1].endswith("is before 1970-01-01 UTC")
    assert "control character" in reasons[2] and reasons[3].endswith("is longer than 255 characters")
    assert all(len(reason) < 200 for reason in reasons)
    for name in ("store_status", "menu_hours", "timezone"):
        counts = summary[name]
        assert counts["rows"] == counts["new"] + counts["already_stored"] + counts["duplicates"] + counts["rejected"]
    assert [summary[name]["rejected"] for name in ("store_status", "menu_hours", "timezone")] == [4, 1, 1]
    assert [summary[name]["new"] for name in ("store_status", "menu_hours", "timezone")] == [2, 1, 1]


def test_a_megabyte_header_fails_the_ingestion_with_a_short_reason(api: Api) -> None:
    status = b"store_id,status," + b"x" * (1 << 20) + b"\na,active,2023-01-24 09:07:00 UTC\n"
    ingest_id = api.start(upload(store_status=status))
    api.runs().run(ingest_id)

    response = api.poll(ingest_id)

    check_poll(response)
    body = response.get_json()
    assert body["status"] == "Failed"
    assert STATUS_FILE in body["error"] and "'timestamp_utc'" in body["error"]
    assert len(body["error"]) < 300, body["error"]


def test_a_long_unknown_field_is_named_briefly(api: Api) -> None:
    response = api.post({"f" * 100_000: (io.BytesIO(STATUS_CSV), "x.csv")})

    check_post(response)
    assert response.status_code == 400
    assert "unknown field 'fff" in response.get_json()["error"]
    assert len(response.get_json()["error"]) < 400


def test_a_summary_stored_before_already_stored_was_counted_is_served_with_it(api: Api) -> None:
    ingest_id = api.start()
    old = {
        "store_status": {"rows": 10, "new": 4, "duplicates": 3, "rejected": 2, "errors": []},
        "menu_hours": {"rows": 0, "new": 0, "duplicates": 0, "rejected": 0, "errors": []},
        "timezone": {"rows": 1, "new": 0, "duplicates": 0, "rejected": 0, "errors": []},
    }
    api.registry.mark_complete(ingest_id, old, datetime.now(timezone.utc))

    response = api.poll(ingest_id)

    check_poll(response)
    summary = response.get_json()["summary"]
    assert summary["store_status"] == {
        "rows": 10, "new": 4, "already_stored": 1, "duplicates": 3, "rejected": 2, "errors": []
    }
    assert list(summary["store_status"]) == ["rows", "new", "already_stored", "duplicates", "rejected", "errors"]
    assert summary["timezone"]["already_stored"] == 1


def test_an_ingestion_without_progress_for_too_long_is_failed_when_polled(api: Api) -> None:
    ingest_id = api.start()
    stale = datetime.now(timezone.utc) - timedelta(days=1)
    api.registry.runs[ingest_id] = attrs.evolve(api.registry.get(ingest_id), updated_at=stale)

    response = api.poll(ingest_id)

    check_poll(response)
    assert response.get_json()["status"] == "Failed"
    assert "no progress" in response.get_json()["error"]


def test_an_unknown_ingestion_is_404(api: Api) -> None:
    unknown = str(uuid.uuid4())

    response = api.poll(unknown)

    check_poll(response)
    assert response.status_code == 404
    assert unknown in response.get_json()["error"]


def refuse_to_build() -> IngestRunService:
    raise AssertionError("the ingestion service was built for a malformed id")


@pytest.mark.parametrize(
    "ingest_id",
    ["abc", "../etc/passwd", "3F2B8C1E-9D4A-4B7E-8F6A-2C1D0E9B7A65", "3f2b8c1e9d4a4b7e8f6a2c1d0e9b7a65", "a/b"],
)
def test_a_malformed_id_is_400_before_anything_is_built(api: Api, ingest_id: str) -> None:
    api.container.ingest_run_service.override(providers.Callable(refuse_to_build))

    response = api.poll(ingest_id)

    check_poll(response)
    assert response.status_code == 400
    assert "UUID" in response.get_json()["error"]


def test_polling_with_the_database_down_is_503(api: Api) -> None:
    api.replace(api.container.ingest_registry, UnreachableRegistry())

    response = api.poll(str(uuid.uuid4()))

    check_poll(response)
    assert response.status_code == 503


@pytest.mark.parametrize(("method", "path"), [("GET", POST_PATH), ("PUT", POST_PATH), ("POST", "/ingest/b0c3b263-4b27-484b-86df-3067d092a938")])
def test_a_wrong_method_is_405_json(api: Api, method: str, path: str) -> None:
    response = api.client.open(path, method=method)

    assert response.status_code == 405
    assert response.mimetype == JSON
    assert api.queue.submitted == []


# --- the OpenAPI document -------------------------------------------------------------


def test_the_document_lists_both_routes_and_the_app_serves_them(api: Api) -> None:
    served = api.client.get("/openapi.json").get_json()

    assert set(served["paths"][POST_PATH]) == {"post"}
    assert set(served["paths"][GET_PATH]) == {"get"}
    rules = {rule.rule: rule.methods or set() for rule in api.client.application.url_map.iter_rules()}
    assert "POST" in rules["/ingest"]
    assert "GET" in rules["/ingest/<path:ingest_id>"]
    fields = served["paths"][POST_PATH]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert set(fields["properties"]) == {"store_status", "menu_hours", "timezone", "source"}
    [parameter] = served["paths"][GET_PATH]["get"]["parameters"]
    assert (parameter["name"], parameter["in"], parameter["required"]) == ("ingest_id", "path", True)


def without_the_token(api: Api, method: str, path: str, **options: Any) -> TestResponse:
    """The same app with API_TOKEN set, asked without the token."""
    api.container.config.api_token.from_value("the-api-token")
    return create_app(api.container).test_client().open(path, method=method, **options)


def post_too_large(api: Api) -> TestResponse:
    api.client.application.config["MAX_CONTENT_LENGTH"] = 100
    return api.post(upload())


def post_uploads_dir_unusable(api: Api) -> TestResponse:
    api.uploads_dir.write_text("not a folder")
    return api.post(upload())


def post_queue_down(api: Api) -> TestResponse:
    api.replace(api.container.work_queue, RecordingWorkQueue(refuse=True))
    return api.post(upload())


def poll_database_down(api: Api) -> TestResponse:
    api.replace(api.container.ingest_registry, UnreachableRegistry())
    return api.poll(str(uuid.uuid4()))


# One request per documented (method, path, status) of the two routes.
CASES: dict[tuple[str, str, str], Callable[[Api], TestResponse]] = {
    ("post", POST_PATH, "202"): lambda api: api.post(upload()),
    ("post", POST_PATH, "400"): lambda api: api.post({}),
    ("post", POST_PATH, "413"): post_too_large,
    ("post", POST_PATH, "500"): post_uploads_dir_unusable,
    ("post", POST_PATH, "503"): post_queue_down,
    ("post", POST_PATH, "401"): lambda api: without_the_token(
        api, "POST", POST_PATH, data=upload(), content_type="multipart/form-data"
    ),
    ("get", GET_PATH, "200"): lambda api: api.poll(api.start()),
    ("get", GET_PATH, "400"): lambda api: api.poll("not-a-uuid"),
    ("get", GET_PATH, "404"): lambda api: api.poll(str(uuid.uuid4())),
    ("get", GET_PATH, "503"): poll_database_down,
    ("get", GET_PATH, "401"): lambda api: without_the_token(api, "GET", f"/ingest/{api.start()}"),
}


def test_the_documented_statuses_are_exactly_the_cases() -> None:
    documented = {
        (method, path, status)
        for path in (POST_PATH, GET_PATH)
        for method, operation in DOCUMENT["paths"][path].items()
        for status in operation["responses"]
    }
    assert documented == set(CASES)


@pytest.mark.parametrize("case", sorted(CASES), ids=lambda case: " ".join(case))
def test_each_documented_status_is_what_its_case_returns(api: Api, case: tuple[str, str, str]) -> None:
    method, path, status = case

    response = CASES[case](api)

    assert str(response.status_code) == status, response.get_json()
    check_documented(response, method, path)


def test_the_three_poll_answers_are_each_one_documented_shape(api: Api) -> None:
    running = api.start()
    complete = api.start()
    api.runs().run(complete)
    failed = api.start(upload(store_status=b"store_id,status\n"))
    api.runs().run(failed)

    bodies = [api.poll(ingest_id).get_json() for ingest_id in (running, complete, failed)]

    assert [body["status"] for body in bodies] == ["Running", "Complete", "Failed"]
    schema = DOCUMENT["paths"][GET_PATH]["get"]["responses"]["200"]["content"][JSON]["schema"]
    assert all(conforms(body, schema) for body in bodies)
    assert "timestamp_utc" in bodies[2]["error"]


# --- settings -------------------------------------------------------------------------


def test_the_watched_folder_task_is_periodic_only_when_a_folder_is_set() -> None:
    quiet = build_container({})
    watching = build_container({"INGEST_WATCH_DIR": "/srv/drop", "INGEST_EVERY_MINUTES": "5"})

    assert INGEST_WATCHED_FOLDER_TASK not in periodic_tasks(quiet.config())
    assert periodic_tasks(watching.config())[INGEST_WATCHED_FOLDER_TASK] == 300.0
    schedule = watching.celery_app().conf.beat_schedule
    assert schedule[INGEST_WATCHED_FOLDER_TASK] == {"task": INGEST_WATCHED_FOLDER_TASK, "schedule": 300.0}


def test_the_ingestion_settings_have_their_defaults() -> None:
    config = build_container({}).config

    assert int(config.ingest_max_bytes()) == 256 * 1024 * 1024
    assert int(config.ingest_every_minutes()) == 15
    assert config.uploads_dir() == Path("var/uploads")
    assert config.ingest_watch_dir() == ""


@pytest.mark.parametrize(
    ("variable", "value"),
    [("INGEST_MAX_BYTES", "0"), ("INGEST_MAX_BYTES", "1e6"), ("INGEST_EVERY_MINUTES", "-1")],
)
def test_a_bad_ingestion_setting_is_an_error_naming_its_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        build_container({variable: value})


def rows_read(api: Api, data: Mapping[str, Any]) -> tuple[int, int]:
    """Rows the ingestion of an upload read from the status and the hours file."""
    ingest_id = api.start(data)
    api.runs().run(ingest_id)
    summary = api.poll(ingest_id).get_json()["summary"]
    return summary["store_status"]["rows"], summary["menu_hours"]["rows"]


def test_uploads_of_one_named_source_read_only_what_its_last_upload_did_not_hold(api: Api) -> None:
    grown = STATUS_CSV + b"d,active,2023-01-24 10:00:00 UTC\n"
    log = api.container.ingestion_log()

    assert rows_read(api, {**upload(store_status=STATUS_CSV, menu_hours=HOURS_CSV), "source": "poller-eu"}) == (4, 1)
    assert rows_read(api, {**upload(store_status=grown, menu_hours=HOURS_CSV), "source": "poller-eu"}) == (1, 0)
    assert api.stored_polls() == 3
    version = log.latest_complete()
    # The same files again: nothing new, and no ingestion begins.
    assert rows_read(api, {**upload(store_status=grown, menu_hours=HOURS_CSV), "source": "poller-eu"}) == (0, 0)
    assert log.latest_complete() == version
    # Another source, or none, is read whole.
    assert rows_read(api, {**upload(store_status=grown), "source": "poller-us"}) == (5, 0)
    assert rows_read(api, upload(store_status=grown)) == (5, 0)


@pytest.mark.parametrize(
    ("source", "reason"),
    [("", "blank"), ("  ", "blank"), ("x" * 201, "longer than 200"), ("a\x00b", "control character")],
)
def test_a_source_name_that_cannot_name_a_source_is_a_400_and_nothing_is_kept(api: Api, source: str, reason: str) -> None:
    response = api.post({**upload(), "source": source})

    check_post(response)
    assert response.status_code == 400 and reason in response.get_json()["error"]
    assert api.upload_folders() == [] and api.queue.submitted == []
