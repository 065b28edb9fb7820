"""The HTTP API through Flask's test client, over in-memory adapters.

Every response is also checked against the OpenAPI document: its status,
its content type and, for JSON, the documented schema.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from dependency_injector import providers
from documented import DOCUMENT, check_documented, is_canonical_uuid, resolve
from fakes import App, AppMaker, RecordingWorkQueue, make_app, run_every_part
from werkzeug.test import TestResponse

from adapters.memory.data import InMemoryIngestionLog, InMemoryStatusRepository
from adapters.memory.reports import InMemoryReportRegistry
from domain.model.clock import MICROS_PER_HOUR, to_micros
from domain.model.errors import InvalidInputError, UptimeError
from domain.model.inputs import BusinessHours, StatusPolls, StoreTimezones
from domain.model.report import REPORT_HEADER, Report, ReportStatus
from domain.model.uptime import UptimeCalculator
from domain.ports.data import RepositoryError
from domain.ports.reports import ReportNotFound, ReportStorage, ReportStorageError
from domain.ports.work import QueueUnavailable
from domain.use_cases.report_runs import ReportNotReady, ReportRunService
from domain.use_cases.reports import ReportService
from entrypoints import views
from entrypoints.flask_app import create_app, json_error
from entrypoints.openapi import openapi_document

JSON = "application/json"
CSV = "text/csv"
NOW_US = to_micros(datetime(2023, 1, 25, 12, 0, tzinfo=timezone.utc))


# --- fakes for the ports the API reaches -------------------------------------------------


class UnreachableRegistry(InMemoryReportRegistry):
    """A registry whose database is down."""

    REASON = "database error: connection refused"

    def add(self, report: Report) -> None:
        raise RepositoryError(self.REASON)

    def get(self, report_id: str) -> Report:
        raise RepositoryError(self.REASON)

    def ping(self) -> None:
        raise RepositoryError(self.REASON)


class BuggyRegistry(InMemoryReportRegistry):
    """A registry with a bug: an exception no view expects."""

    def get(self, report_id: str) -> Report:
        raise RuntimeError("secret detail of a bug")


# --- the input data ----------------------------------------------------------------------


def sample_polls() -> StatusPolls:
    """Three stores polled hourly over the last 30 hours, each with its own pattern."""
    rows: list[tuple[str, int, bool]] = []
    for hour in range(30):
        instant = NOW_US - hour * MICROS_PER_HOUR - 7 * 60_000_000
        rows.append(("a", instant, True))
        rows.append(("b", instant, hour % 3 != 0))
        rows.append(("c", instant, hour >= 2))
    rows.append(("c", NOW_US, False))
    return StatusPolls.from_rows(rows)


def sample_hours() -> BusinessHours:
    # Store b opens 09:00-17:00 local every day; a and c have no rows (open all week).
    return BusinessHours(("b",), [0] * 7, list(range(7)), [9 * MICROS_PER_HOUR] * 7, [17 * MICROS_PER_HOUR] * 7)


@attrs.define
class Api(App):
    def trigger(self) -> str:
        response = self.client.post("/trigger_report")
        assert response.status_code == 200
        report_id: str = response.get_json()["report_id"]
        return report_id

    def poll(self, report_id: str) -> TestResponse:
        return self.client.get(f"/get_report/{report_id}")

    def poll_complete_id(self) -> str:
        """A report triggered and computed to completion."""
        report_id = self.trigger()
        run_every_part(self.runs(), report_id)
        assert self.registry.get(report_id).status is ReportStatus.COMPLETE
        return report_id

    def expected_csv(self) -> str:
        return self.reports().csv()


@pytest.fixture
def api(make_app: AppMaker) -> Api:
    return make_app(
        Api,
        # Three stores in parts of two: a report has two parts.
        settings={"report_chunk_size": 2},
        polls=sample_polls(),
        hours=sample_hours(),
        zones=StoreTimezones({"b": "America/New_York", "c": "Asia/Tokyo"}),
    )


# --- checking responses against the OpenAPI document -------------------------------------


def check_poll(response: TestResponse) -> None:
    check_documented(response, "get", "/get_report/{report_id}")


# --- POST /trigger_report ----------------------------------------------------------------


def test_trigger_records_a_running_report_then_queues_its_uuid4(api: Api) -> None:
    response = api.client.post("/trigger_report")

    check_documented(response, "post", "/trigger_report")
    assert response.status_code == 200
    report_id = response.get_json()["report_id"]
    assert uuid.UUID(report_id).version == 4 and is_canonical_uuid(report_id)
    assert api.queue.submitted == [report_id]
    report = api.registry.get(report_id)
    assert report.status is ReportStatus.RUNNING
    assert (report.progress_done, report.progress_total) == (0, 0)


def test_each_trigger_makes_a_new_report(api: Api) -> None:
    first, second = api.trigger(), api.trigger()

    assert first != second
    assert api.queue.submitted == [first, second]


def test_a_refused_queue_gives_503_and_fails_the_report_with_the_reason(api: Api) -> None:
    api.replace(api.container.work_queue, RecordingWorkQueue(refuse=True))

    response = api.client.post("/trigger_report")

    check_documented(response, "post", "/trigger_report")
    assert response.status_code == 503
    assert RecordingWorkQueue.REASON in response.get_json()["error"]
    [report] = api.registry.reports.values()
    assert report.status is ReportStatus.FAILED
    assert report.error is not None and RecordingWorkQueue.REASON in report.error
    # The failed report reads as such when polled.
    polled = api.poll(report.report_id)
    check_poll(polled)
    assert polled.get_json() == {"status": "Failed", "error": report.error}


def test_trigger_with_the_database_down_gives_503_and_queues_nothing(api: Api) -> None:
    api.replace(api.container.report_registry, UnreachableRegistry())

    response = api.client.post("/trigger_report")

    check_documented(response, "post", "/trigger_report")
    assert response.status_code == 503
    assert response.get_json() == {"error": UnreachableRegistry.REASON}
    assert api.queue.submitted == []


AS_OF = "2023-01-25T05:30:00-05:00"  # 10:30 UTC, between two hourly polls (each at :53)


def test_a_trigger_as_of_an_instant_records_it_and_the_report_is_as_of_it(api: Api) -> None:
    response = api.client.post("/trigger_report", json={"as_of": AS_OF})

    check_documented(response, "post", "/trigger_report")
    assert response.status_code == 200
    report_id = response.get_json()["report_id"]
    as_of = datetime(2023, 1, 25, 10, 30, tzinfo=timezone.utc)
    assert api.registry.get(report_id).as_of == as_of
    running = api.poll(report_id)
    check_poll(running)
    assert running.get_json() == {
        "status": "Running",
        "progress": {"done": 0, "total": 0},
        "as_of": "2023-01-25T10:30:00.000000Z",
    }

    run_every_part(api.runs(), report_id)

    # now is the latest poll at or before 10:30 UTC: 09:53.
    assert api.registry.get(report_id).now_us == to_micros(datetime(2023, 1, 25, 9, 53, tzinfo=timezone.utc))
    log = InMemoryIngestionLog()
    expected = ReportService(api.status, api.hours, api.timezones, UptimeCalculator(), log=log).csv(as_of)
    assert api.poll(report_id).get_data() == expected.encode("utf-8")
    assert expected != api.expected_csv()


@pytest.mark.parametrize(
    "body",
    [b"", b"  \n", b"{}"],
    ids=["no body", "blank", "empty object"],
)
def test_a_trigger_without_as_of_is_a_report_at_the_latest_poll(api: Api, body: bytes) -> None:
    response = api.client.post("/trigger_report", data=body, content_type="application/json")

    check_documented(response, "post", "/trigger_report")
    assert response.status_code == 200
    report_id = response.get_json()["report_id"]
    assert api.registry.get(report_id).as_of is None
    assert api.poll(report_id).get_json() == {"status": "Running", "progress": {"done": 0, "total": 0}}
    run_every_part(api.runs(), report_id)
    assert api.poll(report_id).get_data() == api.expected_csv().encode("utf-8")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"as_of=2023-01-25T12:00:00Z", "not JSON"),
        (b'{"as_of": "2023-01-25T12:00:00Z"', "not JSON"),
        (b"\xff\xfe{", "not JSON"),
        (b'["2023-01-25T12:00:00Z"]', "not a JSON object"),
        (b'"2023-01-25T12:00:00Z"', "not a JSON object"),
        (b'{"asof": "2023-01-25T12:00:00Z"}', 'unknown field "asof"'),
        (b'{"as_of": "2023-01-25T12:00:00Z", "stores": ["a"]}', 'unknown field "stores"'),
        (b'{"as_of": null}', "as_of must be a string"),
        (b'{"as_of": 1674648000}', "as_of must be a string"),
        (b'{"as_of": "yesterday"}', "as_of is not an ISO 8601"),
        (b'{"as_of": "2023-01-25T25:00:00Z"}', "as_of is not an ISO 8601"),
        (b'{"as_of": ""}', "as_of is not an ISO 8601"),
        (b'{"as_of": "2023-01-25T12:00:00"}', "as_of has no UTC offset"),
        (b'{"as_of": "2023-01-25"}', "as_of has no UTC offset"),
        (b'{"as_of": "0001-01-01T00:00:00+01:00"}', "as_of is outside"),
    ],
)
def test_a_trigger_with_a_bad_body_is_400_naming_the_field_and_records_nothing(
    api: Api, body: bytes, words: str
) -> None:
    response = api.client.post("/trigger_report", data=body, content_type="application/json")

    check_documented(response, "post", "/trigger_report")
    assert response.status_code == 400
    assert words in response.get_json()["error"]
    assert api.registry.reports == {} and api.queue.submitted == []


def test_a_bad_trigger_body_is_refused_before_anything_is_built(api: Api) -> None:
    api.container.report_run_service.override(providers.Callable(refuse_to_build))

    response = api.client.post("/trigger_report", json={"as_of": "soon"})

    assert response.status_code == 400


# --- GET /get_report/<report_id> ---------------------------------------------------------


def test_a_running_report_shows_its_progress_in_parts(api: Api) -> None:
    report_id = api.trigger()
    runs = api.runs()

    before_plan = api.poll(report_id)
    check_poll(before_plan)
    assert before_plan.status_code == 200
    assert before_plan.get_json() == {"status": "Running", "progress": {"done": 0, "total": 0}}
    assert before_plan.headers["Cache-Control"] == "no-store"

    plan = runs.plan(report_id)
    assert len(plan.chunks) == 2
    assert api.poll(report_id).get_json() == {"status": "Running", "progress": {"done": 0, "total": 2}}

    assert runs.run_chunk(report_id, 1, plan.chunks[1]) is None
    after_one = api.poll(report_id)
    check_poll(after_one)
    assert after_one.get_json() == {"status": "Running", "progress": {"done": 1, "total": 2}}


def test_a_failed_report_shows_why(api: Api) -> None:
    report_id = api.trigger()
    api.runs().fail(report_id, "WorkerLostError: the worker died")

    response = api.poll(report_id)

    check_poll(response)
    assert response.status_code == 200
    assert response.get_json() == {"status": "Failed", "error": "WorkerLostError: the worker died"}


def test_a_report_with_no_progress_for_too_long_is_failed_when_polled(api: Api) -> None:
    report_id = api.trigger()
    # Make the run look abandoned: its last step long before the stall timeout.
    stale = datetime.now(timezone.utc) - timedelta(days=1)
    api.registry.reports[report_id] = attrs.evolve(api.registry.get(report_id), updated_at=stale)

    response = api.poll(report_id)

    check_poll(response)
    assert response.get_json()["status"] == "Failed"
    assert "no progress" in response.get_json()["error"]


@pytest.mark.parametrize("storage", ["memory", "filesystem"])
def test_a_whole_report_through_the_api_gives_the_report_csv(api: Api, storage: str) -> None:
    if storage == "filesystem":
        # The container's own storage: files in reports_dir.
        api.container.report_storage.reset_override()
    report_id = api.trigger()
    assert api.queue.submitted == [report_id]

    runs = api.runs()
    plan = runs.plan(report_id)
    completed = [runs.run_chunk(report_id, index, chunk) is not None for index, chunk in enumerate(plan.chunks)]
    assert completed == [False, True]

    response = api.poll(report_id)
    check_poll(response)
    assert response.status_code == 200
    assert response.mimetype == CSV
    assert response.headers["Content-Disposition"] == f"attachment; filename=report-{report_id}.csv"
    expected = api.expected_csv()
    assert response.get_data() == expected.encode("utf-8")
    assert expected.splitlines()[0] == REPORT_HEADER
    assert [line.split(",")[0] for line in expected.splitlines()[1:]] == ["a", "b", "c"]
    location = api.registry.get(report_id).report_path
    assert location is not None
    stored: ReportStorage = api.container.report_storage()
    assert response.get_data() == stored.load(location)


def test_a_report_of_no_stores_is_complete_with_the_header_only(api: Api) -> None:
    api.replace(api.container.status_repository, InMemoryStatusRepository())
    report_id = api.trigger()
    assert api.runs().plan(report_id).chunks == ()

    response = api.poll(report_id)

    check_poll(response)
    assert response.mimetype == CSV
    assert response.get_data() == (REPORT_HEADER + "\n").encode("utf-8")


def test_an_unknown_id_is_404_json(api: Api) -> None:
    unknown = str(uuid.uuid4())

    response = api.poll(unknown)

    check_poll(response)
    assert response.status_code == 404
    assert unknown in response.get_json()["error"]


def test_a_purged_report_is_404_saying_how_long_reports_are_kept(api: Api) -> None:
    report_id = api.poll_complete_id()
    finished = api.registry.get(report_id).finished_at
    assert finished is not None
    # Purged as if 31 days had passed: the service's clock is the real one.
    api.registry.reports[report_id] = attrs.evolve(
        api.registry.get(report_id), finished_at=finished - timedelta(days=31)
    )
    assert api.runs().purge(timedelta(days=30)) == 1

    response = api.poll(report_id)

    check_poll(response)
    assert response.status_code == 404
    message = response.get_json()["error"]
    assert report_id in message and "kept 30 days" in message
    assert api.storage.saved == {}


def test_with_retention_off_a_404_does_not_speak_of_deletion(api: Api) -> None:
    api.container.config.report_retention_days.from_value(0)
    unknown = str(uuid.uuid4())

    response = api.poll(unknown)

    check_poll(response)
    assert response.get_json() == {"error": f"no report with id {unknown}"}


MALFORMED_IDS = [
    "../etc/passwd",
    "..%2Fetc%2Fpasswd",
    "abc",
    "3f2b8c1e-9d4a-4b7e-8f6a-2c1d0e9b7a65x",
    "3f2b8c1e-9d4a-4b7e-8f6a-2c1d0e9b7a65/x",
    "3f2b8c1e-9d4a-4b7e-8f6a-2c1d0e9b7a6",
    "3F2B8C1E-9D4A-4B7E-8F6A-2C1D0E9B7A65",
    "{3f2b8c1e-9d4a-4b7e-8f6a-2c1d0e9b7a65}",
    "3f2b8c1e9d4a4b7e8f6a2c1d0e9b7a65",
    "urn:uuid:3f2b8c1e-9d4a-4b7e-8f6a-2c1d0e9b7a65",
    "%203f2b8c1e-9d4a-4b7e-8f6a-2c1d0e9b7a65",
]


def refuse_to_build() -> ReportRunService:
    raise AssertionError("the report service was built for a malformed id")


@pytest.mark.parametrize("report_id", MALFORMED_IDS)
def test_a_malformed_id_is_400_before_anything_is_built(api: Api, report_id: str) -> None:
    # Building the service could open the database: it must not happen at all.
    api.container.report_run_service.override(providers.Callable(refuse_to_build))

    response = api.client.get(f"/get_report/{report_id}")

    check_poll(response)
    assert response.status_code == 400
    assert "UUID" in response.get_json()["error"]


def test_a_complete_report_whose_file_is_gone_is_500_with_the_reason(api: Api) -> None:
    report_id = api.trigger()
    api.registry.mark_complete(report_id, "gone-location", datetime.now(timezone.utc))

    response = api.poll(report_id)

    check_poll(response)
    assert response.status_code == 500
    assert "gone-location" in response.get_json()["error"]


def test_polling_with_the_database_down_is_503(api: Api) -> None:
    api.replace(api.container.report_registry, UnreachableRegistry())

    response = api.poll(str(uuid.uuid4()))

    check_poll(response)
    assert response.status_code == 503
    assert response.get_json() == {"error": UnreachableRegistry.REASON}


def test_an_unexpected_error_is_500_json_without_its_details(api: Api) -> None:
    api.replace(api.container.report_registry, BuggyRegistry())

    response = api.poll(str(uuid.uuid4()))

    assert response.status_code == 500
    assert response.mimetype == JSON
    assert response.get_json() == {"error": "internal server error"}


def a_report(status: ReportStatus) -> Report:
    at = datetime.now(timezone.utc)
    return Report(str(uuid.uuid4()), status, created_at=at, updated_at=at)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ReportNotFound("r1"), 404),
        (ReportNotReady(a_report(ReportStatus.RUNNING)), 409),
        (QueueUnavailable("the broker is unreachable"), 503),
        (RepositoryError("database error: locked"), 503),
        (ReportStorageError("the report file r1.csv is gone"), 500),
        (InvalidInputError("store_status.csv has no column status"), 500),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_each_domain_error_has_its_status_and_its_message(api: Api, error: UptimeError, status: int) -> None:
    with api.client.application.app_context():
        response, code = json_error(error)

    assert code == status
    assert response.mimetype == JSON
    assert response.get_json() == {"error": str(error)}


# --- errors of routing -------------------------------------------------------------------


# "/" is the web page (tests/unit/test_web_api.py).
@pytest.mark.parametrize("path", ["/nope", "/get_report", "/get_report/", "/trigger_report/x", "/static/nope.js"])
def test_an_unknown_route_is_404_json(api: Api, path: str) -> None:
    response = api.client.get(path)

    assert response.status_code == 404
    assert response.mimetype == JSON
    assert isinstance(response.get_json()["error"], str)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("get", "/trigger_report", "POST"),
        ("put", "/trigger_report", "POST"),
        ("post", "/health", "GET"),
        ("delete", "/get_report/4c601e84-756a-4048-9b35-33ae0b9c633e", "GET"),
        ("post", "/openapi.json", "GET"),
    ],
)
def test_a_wrong_method_is_405_json_with_the_allowed_ones(api: Api, method: str, path: str, allowed: str) -> None:
    response = api.client.open(path, method=method.upper())

    assert response.status_code == 405
    assert response.mimetype == JSON
    assert isinstance(response.get_json()["error"], str)
    assert allowed in response.headers["Allow"]
    assert api.queue.submitted == []


# --- GET /health -------------------------------------------------------------------------


def test_health_is_200_when_database_and_broker_answer(api: Api) -> None:
    response = api.client.get("/health")

    check_documented(response, "get", "/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "broker": "ok", "worker": "ok"}


@pytest.mark.parametrize(
    ("database_down", "broker_down"), [(True, False), (False, True), (True, True)], ids=["database", "broker", "both"]
)
def test_health_is_503_with_the_reason_of_each_failing_part(api: Api, database_down: bool, broker_down: bool) -> None:
    if database_down:
        api.replace(api.container.report_registry, UnreachableRegistry())
    if broker_down:
        api.replace(api.container.work_queue, RecordingWorkQueue(refuse=True))

    response = api.client.get("/health")

    check_documented(response, "get", "/health")
    assert response.status_code == 503
    # The reasons go to the log only: they may name hosts and ports.
    database = "unavailable" if database_down else "ok"
    broker = "unavailable" if broker_down else "ok"
    failing = [f"database: {database}"] * database_down + [f"broker: {broker}"] * broker_down
    assert response.get_json() == {
        "status": "unavailable",
        "database": database,
        "broker": broker,
        "worker": "unknown" if database_down else "ok",
        "error": "; ".join(failing),
    }


# --- GET /openapi.json -------------------------------------------------------------------

ROUTES = {
    "/trigger_report": {"post"},
    "/get_report/{report_id}": {"get"},
    "/health": {"get"},
    "/openapi.json": {"get"},
    "/ingest": {"post"},
    "/ingest/{ingest_id}": {"get"},
    "/reports": {"get"},
    "/stores/{store_id}": {"get"},
    "/stores/{store_id}/trend": {"get"},
    "/trigger_trend": {"post"},
    "/get_trend/{trend_id}": {"get"},
    "/trends": {"get"},
    "/metrics": {"get"},
    "/polls": {"post"},
}
# Each of their documented statuses is checked in test_ingest_api.py (and /polls in test_poll_api.py).
INGEST_PATHS = {"/ingest", "/ingest/{ingest_id}", "/polls"}
# ... and of these in test_web_api.py.
WEB_PATHS = {"/reports", "/stores/{store_id}"}
# ... and of this in test_metrics.py.
METRICS_PATHS = {"/metrics"}
# ... and of this in test_trend_api.py, and of the fleet's trend in test_fleet_trend_api.py.
TREND_PATHS = {"/stores/{store_id}/trend", "/trigger_trend", "/get_trend/{trend_id}", "/trends"}
# The endpoints of the web page itself (/ and its files), which the API document leaves out.
PAGE_ENDPOINTS = {"web.index", "web.static"}


def test_openapi_json_serves_the_document(api: Api) -> None:
    response = api.client.get("/openapi.json")

    check_documented(response, "get", "/openapi.json")
    assert response.status_code == 200
    assert response.get_json() == openapi_document()


def test_the_served_document_is_the_one_of_the_running_app(api: Api) -> None:
    assert api.client.get("/openapi.json").get_json() == openapi_document(api.client.application)


def test_an_answer_that_drifts_from_its_model_is_a_logged_500_in_the_error_shape(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    api.trigger()
    monkeypatch.setattr(views, "report_summary", lambda report: {"report_id": report.report_id})

    response = api.client.get("/reports")

    assert response.status_code == 500
    assert response.get_json() == {"error": "internal server error"}
    assert "Response Validation Error" in caplog.text


def test_the_document_describes_exactly_the_routes(api: Api) -> None:
    assert DOCUMENT["openapi"].startswith("3.1.")
    assert {path: set(operations) for path, operations in DOCUMENT["paths"].items()} == ROUTES
    app_routes = {
        rule.rule.replace("<path:report_id>", "{report_id}")
        .replace("<path:ingest_id>", "{ingest_id}")
        .replace("<path:store_id>", "{store_id}")
        .replace("<path:trend_id>", "{trend_id}"): (set(rule.methods or ()) - {"HEAD", "OPTIONS"})
        for rule in api.client.application.url_map.iter_rules()
        if rule.endpoint not in PAGE_ENDPOINTS
    }
    assert app_routes == {path: {method.upper() for method in methods} for path, methods in ROUTES.items()}
    [parameter] = DOCUMENT["paths"]["/get_report/{report_id}"]["get"]["parameters"]
    assert parameter["name"] == "report_id" and parameter["in"] == "path" and parameter["required"] is True
    assert parameter["schema"] == {"type": "string", "format": "uuid"}
    assert set(DOCUMENT["components"]["schemas"]) == {
        "TriggerResponse",
        "TriggerRequest",
        "RunningReport",
        "FailedReport",
        "Error",
        "Health",
        "IngestStarted",
        "RejectedRow",
        "FileSummary",
        "IngestSummary",
        "RunningIngestion",
        "CompleteIngestion",
        "FailedIngestion",
        "ReportSummary",
        "ReportList",
        "Span",
        "StatusSpan",
        "LocalDay",
        "StoreFigures",
        "StoreDetail",
        "TrendDay",
        "StoreTrend",
        "TriggerTrendRequest",
        "TriggerTrendResponse",
        "FleetDay",
        "FleetWeek",
        "SlippingStore",
        "CompleteTrend",
        "TrendRunSummary",
        "TrendList",
        # The shapes once written in place: a run's progress, each state a run can be polled in,
        # a store's windows and polls, a batch of polls, and the query strings.
        "Progress",
        "ReportState",
        "TrendState",
        "IngestionState",
        "StoreWindows",
        "StorePoll",
        "PollBatch",
        "RejectedPoll",
        "RecentQuery",
        "TrendQuery",
    }


def test_every_reference_in_the_document_resolves() -> None:
    def references(value: Any) -> Iterator[str]:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "$ref":
                    yield item
                else:
                    yield from references(item)
        elif isinstance(value, list):
            for item in value:
                yield from references(item)

    found = list(references(DOCUMENT))
    assert found
    for reference in found:
        assert resolve({"$ref": reference})


# One request per documented (method, path, status): each must give exactly that status.


def trigger_ok(api: Api) -> TestResponse:
    return api.client.post("/trigger_report")


def trigger_bad_body(api: Api) -> TestResponse:
    return api.client.post("/trigger_report", json={"as_of": "2023-01-25T12:00:00"})


def trigger_queue_down(api: Api) -> TestResponse:
    api.replace(api.container.work_queue, RecordingWorkQueue(refuse=True))
    return api.client.post("/trigger_report")


def poll_running(api: Api) -> TestResponse:
    return api.poll(api.trigger())


def poll_complete(api: Api) -> TestResponse:
    return api.poll(api.poll_complete_id())


def poll_malformed(api: Api) -> TestResponse:
    return api.poll("../etc/passwd")


def poll_unknown(api: Api) -> TestResponse:
    return api.poll(str(uuid.uuid4()))


def poll_file_gone(api: Api) -> TestResponse:
    report_id = api.trigger()
    api.registry.mark_complete(report_id, "gone", datetime.now(timezone.utc))
    return api.poll(report_id)


def poll_database_down(api: Api) -> TestResponse:
    api.replace(api.container.report_registry, UnreachableRegistry())
    return api.poll(str(uuid.uuid4()))


def health_ok(api: Api) -> TestResponse:
    return api.client.get("/health")


def health_broker_down(api: Api) -> TestResponse:
    api.replace(api.container.work_queue, RecordingWorkQueue(refuse=True))
    return api.client.get("/health")


def openapi_ok(api: Api) -> TestResponse:
    return api.client.get("/openapi.json")


def without_the_token(api: Api, method: str, path: str) -> TestResponse:
    """The same app with API_TOKEN set, asked without the token."""
    api.container.config.api_token.from_value("the-api-token")
    return create_app(api.container).test_client().open(path, method=method)


def trigger_unauthorized(api: Api) -> TestResponse:
    return without_the_token(api, "POST", "/trigger_report")


def poll_unauthorized(api: Api) -> TestResponse:
    return without_the_token(api, "GET", f"/get_report/{api.trigger()}")


def openapi_unauthorized(api: Api) -> TestResponse:
    return without_the_token(api, "GET", "/openapi.json")


CASES: dict[tuple[str, str, str], Callable[[Api], TestResponse]] = {
    ("post", "/trigger_report", "200"): trigger_ok,
    ("post", "/trigger_report", "400"): trigger_bad_body,
    ("post", "/trigger_report", "503"): trigger_queue_down,
    ("post", "/trigger_report", "401"): trigger_unauthorized,
    ("get", "/get_report/{report_id}", "200"): poll_running,
    ("get", "/get_report/{report_id}", "400"): poll_malformed,
    ("get", "/get_report/{report_id}", "404"): poll_unknown,
    ("get", "/get_report/{report_id}", "500"): poll_file_gone,
    ("get", "/get_report/{report_id}", "503"): poll_database_down,
    ("get", "/get_report/{report_id}", "401"): poll_unauthorized,
    ("get", "/health", "200"): health_ok,
    ("get", "/health", "503"): health_broker_down,
    ("get", "/openapi.json", "200"): openapi_ok,
    ("get", "/openapi.json", "401"): openapi_unauthorized,
}


def test_the_documented_statuses_are_exactly_the_cases() -> None:
    documented = {
        (method, path, status)
        for path, operations in DOCUMENT["paths"].items()
        for method, operation in operations.items()
        for status in operation["responses"]
        if path not in INGEST_PATHS | WEB_PATHS | METRICS_PATHS | TREND_PATHS
    }
    assert documented == set(CASES)


@pytest.mark.parametrize("case", sorted(CASES), ids=lambda case: " ".join(case))
def test_each_documented_status_is_what_its_case_returns(api: Api, case: tuple[str, str, str]) -> None:
    method, path, status = case

    response = CASES[case](api)

    assert str(response.status_code) == status
    check_documented(response, method, path)


def test_the_json_and_csv_answers_of_a_poll_are_both_documented(api: Api) -> None:
    running, complete = poll_running(api), poll_complete(api)

    assert (running.mimetype, complete.mimetype) == (JSON, CSV)
    check_poll(running)
    check_poll(complete)
