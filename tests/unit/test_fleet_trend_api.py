"""``POST /trigger_trend``, ``GET /get_trend/<id>`` and ``GET /trends`` through Flask's test client.

Over the in-memory adapters; the workers' job is done in-process
(``run_every_part``). Every answer is held to the OpenAPI document: its
status, its content type and, for JSON, its schema.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from fakes import App, AppMaker, RecordingWorkQueue, make_app, override_ports, run_every_part
from documented import DOCUMENT, conforms, is_canonical_uuid
from test_fleet_trend import NOW_US, sample_hours, sample_polls, sample_zones
from werkzeug.test import TestResponse

from adapters.memory.data import InMemoryStatusRepository
from adapters.memory.reports import InMemoryReportRegistry
from domain.model.clock import MICROS_PER_HOUR, to_micros
from domain.model.report import Report, ReportStatus, RunKind
from domain.model.trend import TREND_HEADER
from domain.ports.data import RepositoryError
from entrypoints.flask_app import create_app

JSON = "application/json"
CSV = "text/csv"
TRIGGER, GET, LIST = "/trigger_trend", "/get_trend/{trend_id}", "/trends"
STORES = 33
CHUNK_SIZE = 10


class UnreachableRegistry(InMemoryReportRegistry):
    REASON = "database error: connection refused"

    def add(self, report: Report) -> None:
        raise RepositoryError(self.REASON)

    def get(self, report_id: str) -> Report:
        raise RepositoryError(self.REASON)

    def recent(self, limit: int, kind: RunKind | None = None) -> list[Report]:
        raise RepositoryError(self.REASON)


@attrs.define
class Api(App):
    def trigger(self, body: Any = None) -> str:
        response = self.client.post(TRIGGER, json=body) if body is not None else self.client.post(TRIGGER)
        check_documented(response, "post", TRIGGER)
        assert response.status_code == 200, response.get_json()
        trend_id: str = response.get_json()["trend_id"]
        return trend_id

    def complete(self, body: Any = None) -> str:
        trend_id = self.trigger(body)
        run_every_part(self.runs(), trend_id)
        assert self.registry.get(trend_id).status is ReportStatus.COMPLETE
        return trend_id

    def get(self, trend_id: str, accept: str | None = None) -> TestResponse:
        headers = {} if accept is None else {"Accept": accept}
        response = self.client.get(f"/get_trend/{trend_id}", headers=headers)
        check_documented(response, "get", GET)
        return response


@pytest.fixture
def api(make_app: AppMaker) -> Api:
    return make_app(
        Api, settings={"report_chunk_size": CHUNK_SIZE}, polls=sample_polls(), hours=sample_hours(), zones=sample_zones()
    )


def check_documented(response: TestResponse, method: str, path: str) -> None:
    """The answer's status, content type and (JSON) body are the ones the document gives."""
    assert response.mimetype != "text/html"
    if response.status_code >= 400:
        assert response.mimetype == JSON
        assert isinstance(response.get_json()["error"], str) and response.get_json()["error"]
    documented = DOCUMENT["paths"][path][method]["responses"]
    assert str(response.status_code) in documented, f"{method} {path} answered an undocumented {response.status_code}"
    content = documented[str(response.status_code)]["content"]
    assert response.mimetype in content
    if response.mimetype == JSON:
        assert conforms(response.get_json(), content[JSON]["schema"]), response.get_json()


def micros_text(instant_us: int) -> str:
    return datetime.fromtimestamp(instant_us / 1e6, timezone.utc).isoformat(timespec="microseconds").replace(
        "+00:00", "Z"
    )


# --- POST /trigger_trend ----------------------------------------------------------------------


def test_a_trigger_records_a_running_trend_of_28_days_and_queues_its_planning(api: Api) -> None:
    trend_id = api.trigger()

    assert is_canonical_uuid(trend_id)
    trend = api.registry.get(trend_id)
    assert (trend.kind, trend.days, trend.status, trend.as_of) == (RunKind.TREND, 28, ReportStatus.RUNNING, None)
    assert api.queue.submitted == [trend_id]
    running = api.get(trend_id, JSON)
    assert running.get_json() == {"status": "Running", "progress": {"done": 0, "total": 0}}
    assert running.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("body", "days", "as_of"),
    [
        ({}, 28, None),
        ({"days": 1}, 1, None),
        ({"days": 90}, 90, None),
        ({"days": 7, "as_of": "2023-03-20T05:30:00+05:30"}, 7, datetime(2023, 3, 20, 0, 0, tzinfo=timezone.utc)),
        ({"as_of": "2023-03-20T00:00:00Z"}, 28, datetime(2023, 3, 20, 0, 0, tzinfo=timezone.utc)),
        # An integer to JSON Schema, so to the document.
        ({"days": 7.0}, 7, None),
    ],
)
def test_a_trigger_takes_days_and_as_of(api: Api, body: dict[str, Any], days: int, as_of: datetime | None) -> None:
    trend = api.registry.get(api.trigger(body))

    assert (trend.days, trend.as_of) == (days, as_of)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b"not json", "JSON"),
        (b"[7]", "JSON object"),
        (b'{"days": 0}', "days"),
        (b'{"days": 91}', "days"),
        (b'{"days": "7"}', "days"),
        (b'{"days": 7.5}', "days"),
        (b'{"days": 1e300}', "days"),
        (b'{"days": NaN}', "days"),
        (b'{"days": true}', "days"),
        (b'{"days": null}', "days"),
        (b'{"as_of": "2023-03-20T00:00:00"}', "as_of"),
        (b'{"as_of": 5}', "as_of"),
        (b'{"days": 7, "store": "x"}', '"store"'),
    ],
)
def test_a_bad_body_is_400_naming_the_field_and_records_nothing(api: Api, body: bytes, named: str) -> None:
    response = api.client.post(TRIGGER, data=body, content_type=JSON)

    assert response.status_code == 400
    check_documented(response, "post", TRIGGER)
    assert named in response.get_json()["error"]
    assert api.registry.reports == {} and api.queue.submitted == []


def test_a_refused_queue_is_503_and_the_trend_failed_with_the_reason(api: Api) -> None:
    api.replace(api.container.work_queue, RecordingWorkQueue(refuse=True))

    response = api.client.post(TRIGGER, json={"days": 14})

    assert response.status_code == 503
    check_documented(response, "post", TRIGGER)
    [trend] = api.registry.reports.values()
    assert trend.status is ReportStatus.FAILED
    assert trend.error is not None and trend.error.startswith("the trend could not be queued: the broker is unreachable")
    assert api.get(trend.report_id).get_json() == {"status": "Failed", "error": trend.error}


# --- GET /get_trend/<id> ----------------------------------------------------------------------


def test_a_running_trend_shows_its_progress_in_parts_then_its_csv(api: Api) -> None:
    trend_id = api.trigger({"days": 14})
    runs = api.runs()
    plan = runs.plan(trend_id)
    parts = -(-STORES // CHUNK_SIZE)
    assert len(plan.chunks) == parts
    for index, chunk in enumerate(plan.chunks):
        # Running answers are JSON whatever Accept asks for.
        for accept in (None, CSV, JSON):
            assert api.get(trend_id, accept).get_json() == {
                "status": "Running",
                "progress": {"done": index, "total": parts},
            }
        runs.run_chunk(trend_id, index, chunk)

    complete = api.get(trend_id)

    assert complete.status_code == 200 and complete.mimetype == CSV
    assert complete.headers["Content-Disposition"] == f"attachment; filename=trend-{trend_id}.csv"
    assert complete.headers["Vary"] == "Accept"
    assert complete.get_data(as_text=True) == "".join(api.reports().trend_pieces(14, chunk_size=7))


@pytest.mark.parametrize(
    ("accept", "mimetype"),
    [
        (None, CSV),
        ("*/*", CSV),
        (CSV, CSV),
        ("text/html,application/xhtml+xml,*/*;q=0.8", CSV),
        ("text/csv, application/json;q=0.9", CSV),
        (JSON, JSON),
        ("application/json, text/csv;q=0.5", JSON),
        ("application/json, */*;q=0.1", JSON),
    ],
)
def test_a_complete_trend_is_csv_unless_accept_prefers_json(api: Api, accept: str | None, mimetype: str) -> None:
    trend_id = api.complete({"days": 7})

    assert api.get(trend_id, accept).mimetype == mimetype


def test_the_json_of_a_complete_trend_sums_the_csvs_days(api: Api) -> None:
    trend_id = api.complete({"days": 21})
    csv_text = api.get(trend_id).get_data(as_text=True)

    body = api.get(trend_id, JSON).get_json()

    assert list(body) == ["status", "trend_id", "now", "days", "fleet", "weeks", "slipping"]
    assert (body["status"], body["trend_id"], body["days"]) == ("Complete", trend_id, 21)
    assert body["now"] == micros_text(NOW_US)
    rows = list(csv.reader(io.StringIO(csv_text)))[1:]
    for day in body["fleet"]:
        lines = [row for row in rows if int(row[1]) == day["day"]]
        assert len(lines) == STORES
        # The CSV writes instants without microseconds when there are none; the JSON always with them.
        assert {(row[2], row[3]) for row in lines} == {
            (
                datetime.fromisoformat(day["window_start_utc"].replace("Z", "+00:00")).isoformat().replace("+00:00", "Z"),
                datetime.fromisoformat(day["window_end_utc"].replace("Z", "+00:00")).isoformat().replace("+00:00", "Z"),
            )
        }
        business = sum(float(row[4]) for row in lines)
        up = sum(float(row[5]) for row in lines)
        assert abs(business - day["business_hours"]) <= STORES * 0.00005 + 1e-9
        assert abs(up - day["uptime_hours"]) <= STORES * 0.00005 + 1e-9
        assert abs(100 * up / business - day["uptime_percent"]) < 0.01
        open_rows = [(float(row[5]), float(row[4])) for row in lines if float(row[4]) > 0]
        assert day["stores_below_90"] == sum(1 for u, b in open_rows if u < 0.9 * b)
        assert day["stores_below_50"] == sum(1 for u, b in open_rows if u < 0.5 * b)
    assert [week["week"] for week in body["weeks"]] == [1, 2, 3]
    assert body["weeks"][0]["window_end_utc"] == body["now"]
    assert body["weeks"][1]["window_end_utc"] == body["weeks"][0]["window_start_utc"]
    assert len(body["slipping"]) == 20
    first = body["slipping"][0]
    assert first["store_id"] == "tie-a" and len(first["weekly_uptime_percent"]) == 3
    assert abs(first["weekly_uptime_percent"][0] - first["weekly_uptime_percent"][1] - first["change"]) <= 0.01
    assert body["slipping"][1]["store_id"] == "tie-b"


def test_a_trend_as_of_an_instant_answers_its_now(api: Api) -> None:
    as_of = datetime(2023, 3, 20, 0, 0, tzinfo=timezone.utc)
    latest = max(instant for _, instant, _ in sample_polls().rows() if instant <= to_micros(as_of))
    trend_id = api.trigger({"days": 3, "as_of": "2023-03-20T00:00:00Z"})
    assert api.get(trend_id, JSON).get_json()["as_of"] == "2023-03-20T00:00:00.000000Z"
    run_every_part(api.runs(), trend_id)

    body = api.get(trend_id, JSON).get_json()

    assert body["now"] == micros_text(latest)
    assert [day["window_end_utc"] for day in body["fleet"]] == [
        micros_text(latest - k * 24 * MICROS_PER_HOUR) for k in range(3)
    ]
    assert (body["weeks"], body["slipping"]) == ([], [])


def test_a_report_id_names_no_trend_and_a_trend_id_no_report(api: Api) -> None:
    report = api.client.post("/trigger_report").get_json()["report_id"]
    trend = api.complete({"days": 7})

    not_trend = api.get(report)
    not_report = api.client.get(f"/get_report/{trend}")

    assert not_trend.status_code == 404 and f"no trend with id {report}" in not_trend.get_json()["error"]
    assert not_report.status_code == 404 and f"no report with id {trend}" in not_report.get_json()["error"]


# --- GET /trends, and /reports without trends ------------------------------------------------------


def test_trends_are_listed_apart_from_reports(api: Api) -> None:
    report = api.client.post("/trigger_report").get_json()["report_id"]
    first = api.complete({"days": 7})
    second = api.trigger({"days": 14, "as_of": "2023-03-20T00:00:00Z"})

    trends = api.client.get(LIST)
    reports = api.client.get("/reports")

    check_documented(trends, "get", LIST)
    assert [item["report_id"] for item in reports.get_json()["reports"]] == [report]
    items = trends.get_json()["trends"]
    assert [item["trend_id"] for item in items] == [second, first]
    assert items[0] == {
        "trend_id": second,
        "status": "Running",
        "progress": {"done": 0, "total": 0},
        "created_at": items[0]["created_at"],
        "finished_at": None,
        "error": None,
        "as_of": "2023-03-20T00:00:00.000000Z",
        "days": 14,
    }
    assert (items[1]["status"], items[1]["days"]) == ("Complete", 7)
    assert trends.headers["Cache-Control"] == "no-store"
    assert [item["trend_id"] for item in api.client.get(LIST + "?limit=1").get_json()["trends"]] == [second]


# --- the documented statuses, each from its case -----------------------------------------------------


def without_the_token(api: Api, method: str, path: str) -> TestResponse:
    api.container.config.api_token.from_value("the-api-token")
    return create_app(api.container).test_client().open(path, method=method)


def file_gone(api: Api) -> TestResponse:
    trend_id = api.trigger()
    api.registry.mark_complete(trend_id, "gone", datetime.now(timezone.utc), summary=None)
    return api.client.get(f"/get_trend/{trend_id}")


def queue_down(api: Api) -> TestResponse:
    api.replace(api.container.work_queue, RecordingWorkQueue(refuse=True))
    return api.client.post(TRIGGER)


def database_down(api: Api, method: str, path: str) -> TestResponse:
    api.replace(api.container.report_registry, UnreachableRegistry())
    return api.client.open(path, method=method)


CASES: dict[tuple[str, str, str], Callable[[Api], TestResponse]] = {
    ("post", TRIGGER, "200"): lambda api: api.client.post(TRIGGER, json={"days": 3}),
    ("post", TRIGGER, "400"): lambda api: api.client.post(TRIGGER, json={"days": 0}),
    ("post", TRIGGER, "503"): lambda api: queue_down(api),
    ("post", TRIGGER, "401"): lambda api: without_the_token(api, "POST", TRIGGER),
    ("get", GET, "200"): lambda api: api.client.get(f"/get_trend/{api.complete({'days': 2})}"),
    ("get", GET, "400"): lambda api: api.client.get("/get_trend/../etc/passwd"),
    ("get", GET, "404"): lambda api: api.client.get(f"/get_trend/{uuid.uuid4()}"),
    ("get", GET, "500"): file_gone,
    ("get", GET, "503"): lambda api: database_down(api, "GET", f"/get_trend/{uuid.uuid4()}"),
    ("get", GET, "401"): lambda api: without_the_token(api, "GET", f"/get_trend/{uuid.uuid4()}"),
    ("get", LIST, "200"): lambda api: api.client.get(LIST),
    ("get", LIST, "400"): lambda api: api.client.get(LIST + "?limit=0"),
    ("get", LIST, "503"): lambda api: database_down(api, "GET", LIST),
    ("get", LIST, "401"): lambda api: without_the_token(api, "GET", LIST),
}


def test_the_documented_statuses_are_exactly_the_cases() -> None:
    documented = {
        (method, path, status)
        for path in (TRIGGER, GET, LIST)
        for method, operation in DOCUMENT["paths"][path].items()
        for status in operation["responses"]
    }
    assert documented == set(CASES)


@pytest.mark.parametrize("case", sorted(CASES), ids=lambda case: " ".join(case))
def test_each_documented_status_is_what_its_case_returns(api: Api, case: tuple[str, str, str]) -> None:
    method, path, status = case

    response = CASES[case](api)

    assert str(response.status_code) == status
    check_documented(response, method, path)
    if status == "401":
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_trend_of_a_database_without_polls_is_its_header_and_no_day(api: Api) -> None:
    empty = InMemoryStatusRepository()
    override_ports(
        api.container,
        registry=api.registry,
        storage=api.storage,
        queue=api.queue,
        status=empty,
        hours=api.hours,
        timezones=api.timezones,
    )
    trend_id = api.complete({"days": 4})

    assert api.get(trend_id).get_data(as_text=True) == TREND_HEADER + "\n"
    body = api.get(trend_id, JSON).get_json()
    assert (body["now"], body["fleet"], body["weeks"], body["slipping"]) == (None, [], [], [])


def test_a_stalled_trend_is_listed_as_failed(api: Api) -> None:
    trend_id = api.trigger()
    stale = datetime.now(timezone.utc) - timedelta(days=1)
    api.registry.reports[trend_id] = attrs.evolve(api.registry.get(trend_id), updated_at=stale)

    [item] = api.client.get(LIST).get_json()["trends"]

    assert item["status"] == "Failed" and item["error"].startswith("no progress for")
