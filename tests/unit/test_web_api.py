"""What the web page reads and is served from: ``GET /reports``, ``GET /stores/<id>``, ``/`` and ``/static/``.

Through Flask's test client over in-memory adapters; every JSON answer is also
checked against the OpenAPI document's schema for it.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote

import attrs
import pytest
from fakes import App, AppMaker, make_app, run_every_part
from documented import DOCUMENT, conforms
from werkzeug.test import TestResponse

from adapters.memory.data import InMemoryIngestionLog, InMemoryStatusRepository
from adapters.memory.reports import InMemoryReportRegistry
from domain.model.clock import MICROS_PER_DAY, MICROS_PER_HOUR, MICROS_PER_MINUTE, to_micros
from domain.model.inputs import BusinessHours, StatusPolls, StoreTimezones
from domain.model.interval import Interval
from domain.model.report import REPORT_HEADER, Report, ReportStatus, RunKind
from domain.model.uptime import UptimeCalculator
from domain.ports.data import ReportInputs, RepositoryError, StoreRange
from domain.use_cases.reports import ReportService, RepositoryInputSource, StoreNotFound
from entrypoints.flask_app import create_app
from entrypoints.web import CONTENT_SECURITY_POLICY

JSON = "application/json"
NOW = datetime(2023, 1, 25, 12, 0, tzinfo=timezone.utc)
NOW_US = to_micros(NOW)
WEEK_START_US = NOW_US - 7 * MICROS_PER_DAY
STATIC = Path(__file__).resolve().parents[2] / "entrypoints" / "static"
# An opaque id with a slash, a space, a comma and a non-ASCII letter: it must reach the view whole.
ODD_ID = "north/ville, café 7"
FIGURE_NAMES = REPORT_HEADER.split(",")[1:]


class UnreachableRegistry(InMemoryReportRegistry):
    REASON = "database error: connection refused"

    def recent(self, limit: int, kind: RunKind | None = None) -> list[Report]:
        raise RepositoryError(self.REASON)


class UnreachableStatus(InMemoryStatusRepository):
    REASON = "database error: connection refused"

    def latest_timestamp(self, *, snapshot: int, until_us: int | None = None) -> int | None:
        raise RepositoryError(self.REASON)


def sample_polls() -> StatusPolls:
    """Hourly polls over the last 30 hours: 'a' always up, 'b' down every third hour, 'c' down lately."""
    rows: list[tuple[str, int, bool]] = []
    for hour in range(30):
        instant = NOW_US - hour * MICROS_PER_HOUR - 7 * MICROS_PER_MINUTE
        rows.append(("a", instant, True))
        rows.append(("b", instant, hour % 3 != 0))
        rows.append(("c", instant, hour >= 2))
        rows.append((ODD_ID, instant, hour % 2 == 0))
    rows.append(("c", NOW_US, False))
    # Long before the week: it only says how 'old' began its first day.
    rows.append(("old", NOW_US - 20 * MICROS_PER_DAY, False))
    return StatusPolls.from_rows(rows)


def sample_hours() -> BusinessHours:
    # 'b' opens 09:00-17:00 local every day; 'c' 22:00-02:00 overnight on Mondays; the others have no rows.
    rows = [("b", day, 9 * MICROS_PER_HOUR, 17 * MICROS_PER_HOUR) for day in range(7)]
    rows.append(("c", 0, 22 * MICROS_PER_HOUR, 2 * MICROS_PER_HOUR))
    return BusinessHours.from_rows(rows)


SAMPLE_ZONES = StoreTimezones({"b": "America/New_York", "c": "Asia/Tokyo"})


@attrs.define
class Web(App):
    def complete_report_csv(self) -> str:
        response = self.client.post("/trigger_report")
        report_id = response.get_json()["report_id"]
        run_every_part(self.container.report_run_service(), report_id)
        answer = self.client.get(f"/get_report/{report_id}")
        assert answer.mimetype == "text/csv"
        return answer.get_data(as_text=True)

    def store(self, store_id: str) -> TestResponse:
        return self.client.get("/stores/" + quote_path(store_id))


def quote_path(text: str) -> str:
    return quote(text, safe="")


@pytest.fixture
def web(make_app: AppMaker) -> Web:
    return make_app(
        Web, settings={"report_chunk_size": 2}, polls=sample_polls(), hours=sample_hours(), zones=SAMPLE_ZONES
    )


# --- the OpenAPI schemas, as far as these answers use them ----------------------------------


def check_documented(response: TestResponse, path: str) -> Any:
    """The answer's status and JSON body are the ones the document gives; returns the body."""
    assert response.mimetype == JSON
    documented = DOCUMENT["paths"][path]["get"]["responses"]
    assert str(response.status_code) in documented, f"GET {path} answered an undocumented {response.status_code}"
    body = response.get_json()
    assert conforms(body, documented[str(response.status_code)]["content"][JSON]["schema"]), body
    if response.status_code >= 400:
        assert isinstance(body["error"], str) and body["error"]
    return body


# --- GET /reports ----------------------------------------------------------------------------


def add_report(web: Web, created: datetime, **changes: Any) -> Report:
    report = Report(str(uuid.uuid4()), ReportStatus.RUNNING, created, created)
    report = attrs.evolve(report, **changes)
    web.registry.add(report)
    return report


def test_no_report_yet_is_an_empty_list_that_no_cache_keeps(web: Web) -> None:
    response = web.client.get("/reports")

    assert response.status_code == 200
    assert check_documented(response, "/reports") == {"reports": []}
    assert response.headers["Cache-Control"] == "no-store"


def test_recent_reports_come_newest_first_with_their_state(web: Web) -> None:
    just_now = datetime.now(timezone.utc)
    finished = just_now - timedelta(minutes=1)
    complete = add_report(
        web,
        just_now - timedelta(minutes=3),
        status=ReportStatus.COMPLETE,
        finished_at=finished,
        report_path="somewhere",
        progress_done=4,
        progress_total=4,
    )
    running = add_report(web, just_now - timedelta(seconds=5), progress_done=1, progress_total=3)
    failed = add_report(
        web,
        just_now - timedelta(minutes=10),
        status=ReportStatus.FAILED,
        finished_at=finished,
        error="no worker",
        as_of=datetime(2023, 1, 25, 5, 30, tzinfo=timezone(timedelta(hours=-5))),
    )

    body = check_documented(web.client.get("/reports"), "/reports")

    assert [item["report_id"] for item in body["reports"]] == [running.report_id, complete.report_id, failed.report_id]
    first, second, third = body["reports"]
    assert first == {
        "report_id": running.report_id,
        "status": "Running",
        "progress": {"done": 1, "total": 3},
        "created_at": running.created_at.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "finished_at": None,
        "error": None,
        "as_of": None,
    }
    assert (second["status"], second["progress"], second["error"]) == ("Complete", {"done": 4, "total": 4}, None)
    assert second["finished_at"] == finished.isoformat(timespec="microseconds").replace("+00:00", "Z")
    assert (third["status"], third["error"], third["as_of"]) == ("Failed", "no worker", "2023-01-25T10:30:00.000000Z")
    # The report file's location is the server's business, never shown.
    assert all("report_path" not in item for item in body["reports"])


def test_limit_keeps_the_newest(web: Web) -> None:
    base = datetime.now(timezone.utc)
    added = [add_report(web, base - timedelta(seconds=i)) for i in range(25)]

    default = check_documented(web.client.get("/reports"), "/reports")["reports"]
    two = check_documented(web.client.get("/reports?limit=2"), "/reports")["reports"]

    assert [item["report_id"] for item in default] == [report.report_id for report in added[:20]]
    assert [item["report_id"] for item in two] == [added[0].report_id, added[1].report_id]


@pytest.mark.parametrize("limit", ["0", "101", "-1", "1.5", "ten", "", " 5", "٣"])
def test_a_limit_that_is_not_1_to_100_is_400(web: Web, limit: str) -> None:
    response = web.client.get("/reports", query_string={"limit": limit})

    assert response.status_code == 400
    assert "limit" in check_documented(response, "/reports")["error"]


def test_a_report_without_progress_for_too_long_is_listed_as_failed(web: Web) -> None:
    stalled = add_report(web, datetime.now(timezone.utc) - timedelta(hours=2))

    [item] = check_documented(web.client.get("/reports"), "/reports")["reports"]

    assert item["report_id"] == stalled.report_id
    assert item["status"] == "Failed"
    assert "no progress" in item["error"]
    assert web.registry.get(stalled.report_id).status is ReportStatus.FAILED


# --- GET /stores/<store_id> ----------------------------------------------------------------


def spans(items: list[dict[str, str]]) -> list[Interval]:
    return [Interval(micros(item["start"]), micros(item["end"])) for item in items]


def micros(text: str) -> int:
    return to_micros(datetime.fromisoformat(text.replace("Z", "+00:00")))


def csv_figures(text: str) -> dict[str, list[str]]:
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == REPORT_HEADER.split(",")
    return {row[0]: row[1:] for row in rows[1:]}


@pytest.mark.parametrize("store_id", ["a", "b", "c", ODD_ID, "old"])
def test_a_stores_figures_are_its_report_row(web: Web, store_id: str) -> None:
    rows = csv_figures(web.complete_report_csv())

    body = check_documented(web.store(store_id), "/stores/{store_id}")

    assert body["store_id"] == store_id
    assert list(body["figures"]) == FIGURE_NAMES
    assert ["%.2f" % body["figures"][name] for name in FIGURE_NAMES] == rows[store_id]


@pytest.mark.parametrize("store_id", ["a", "b", "c", ODD_ID, "old"])
def test_uptime_and_downtime_of_the_week_are_what_the_detail_shows(web: Web, store_id: str) -> None:
    """Business hours x status segments, as the page draws them, give the week's figures."""
    body = check_documented(web.store(store_id), "/stores/{store_id}")
    business = spans(body["business_hours"])
    up = down = 0
    for segment in body["status"]:
        span = Interval(micros(segment["start"]), micros(segment["end"]))
        inside = sum(span.intersection(open_span).length for open_span in business)
        if segment["status"] == "active":
            up += inside
        else:
            down += inside

    assert round(up / MICROS_PER_HOUR, 2) == body["figures"]["uptime_last_week"]
    assert round(down / MICROS_PER_HOUR, 2) == body["figures"]["downtime_last_week"]


def test_the_detail_lays_out_the_week(web: Web) -> None:
    body = check_documented(web.store("b"), "/stores/{store_id}")
    week = Interval(WEEK_START_US, NOW_US)

    assert body["timezone"] == "America/New_York"
    assert micros(body["now"]) == NOW_US
    assert spans([body["windows"]["week"], body["windows"]["day"], body["windows"]["hour"]]) == [
        week,
        Interval(NOW_US - MICROS_PER_DAY, NOW_US),
        Interval(NOW_US - MICROS_PER_HOUR, NOW_US),
    ]
    # 09:00-17:00 New York is 14:00-22:00 UTC in January: seven such days end before now.
    # The week starts 18 January 12:00 UTC, so each opening is 2 h to 10 h after a day of the week starts.
    day_starts = [WEEK_START_US + MICROS_PER_DAY * day for day in range(7)]
    assert spans(body["business_hours"]) == [
        Interval(start + 2 * MICROS_PER_HOUR, start + 10 * MICROS_PER_HOUR) for start in day_starts
    ]
    # The status segments cover the week without gaps; neighbours differ.
    segments = body["status"]
    assert micros(segments[0]["start"]) == week.start and micros(segments[-1]["end"]) == week.end
    for before, after in zip(segments, segments[1:]):
        assert before["end"] == after["start"]
        assert before["status"] != after["status"]
    # Every poll of the week, in time order: b's 30 hourly polls.
    expected_polls = sorted(
        (t, active) for store, t, active in sample_polls().rows() if store == "b" and week.start <= t <= NOW_US
    )
    assert [(micros(poll["at"]), poll["status"] == "active") for poll in body["polls"]] == expected_polls
    assert len(expected_polls) == 30
    # The local dates that touch the week: 18 to 25 January in New York, midnight to midnight.
    days = body["days"]
    assert [day["date"] for day in days] == [f"2023-01-{d}" for d in range(18, 26)]
    assert micros(days[0]["start"]) == to_micros(datetime(2023, 1, 18, 5, 0, tzinfo=timezone.utc))
    assert all(before["end"] == after["start"] for before, after in zip(days, days[1:]))
    assert micros(days[0]["start"]) <= week.start and micros(days[-1]["end"]) >= week.end


def test_a_store_without_hours_is_open_all_week(web: Web) -> None:
    body = check_documented(web.store("a"), "/stores/{store_id}")

    assert spans(body["business_hours"]) == [Interval(WEEK_START_US, NOW_US)]
    assert body["timezone"] == "America/Chicago"
    assert [segment["status"] for segment in body["status"]] == ["active"]


def test_an_overnight_opening_crosses_midnight(web: Web) -> None:
    body = check_documented(web.store("c"), "/stores/{store_id}")

    # Monday 23 January 22:00 to Tuesday 02:00 in Tokyo (UTC+9).
    assert spans(body["business_hours"]) == [
        Interval(
            to_micros(datetime(2023, 1, 23, 13, 0, tzinfo=timezone.utc)),
            to_micros(datetime(2023, 1, 23, 17, 0, tzinfo=timezone.utc)),
        )
    ]
    assert body["polls"][-1] == {"at": body["now"], "status": "inactive"}


def test_a_store_polled_only_before_the_week_has_no_polls_in_it(web: Web) -> None:
    body = check_documented(web.store("old"), "/stores/{store_id}")

    assert body["polls"] == []
    assert [segment["status"] for segment in body["status"]] == ["inactive"]
    assert body["figures"]["downtime_last_week"] == 168.0


@pytest.mark.parametrize("store_id", ["nope", "A", "a ", "b/", "%"])
def test_an_unknown_store_is_404_json(web: Web, store_id: str) -> None:
    response = web.store(store_id)

    assert response.status_code == 404
    assert store_id in check_documented(response, "/stores/{store_id}")["error"]


def test_without_any_poll_every_store_is_unknown(web: Web) -> None:
    web.replace(web.container.status_repository, InMemoryStatusRepository())
    web.replace(
        web.container.report_inputs, RepositoryInputSource(InMemoryStatusRepository(), web.hours, web.timezones)
    )

    assert web.store("b").status_code == 404


def test_the_service_reads_only_the_one_store(web: Web) -> None:
    """store_detail reads the inputs of StoreRange(id, id) only, whatever the others hold."""
    read: list[StoreRange | None] = []

    class Recording(RepositoryInputSource):
        def read(self, start_us: int, stores: StoreRange | None = None, *, snapshot: int) -> ReportInputs:
            read.append(stores)
            return super().read(start_us, stores, snapshot=snapshot)

    service = ReportService(
        web.status,
        web.hours,
        web.timezones,
        UptimeCalculator(),
        Recording(web.status, web.hours, web.timezones),
        log=InMemoryIngestionLog(),
    )
    detail = service.store_detail("b")

    assert read == [StoreRange("b", "b")]
    assert detail.figures == web.reports().compute().figures("b")
    with pytest.raises(StoreNotFound):
        service.store_detail("zzz")


# --- the documented statuses of both routes ---------------------------------------------------


def without_the_token(web: Web, path: str) -> TestResponse:
    web.container.config.api_token.from_value("the-api-token")
    return create_app(web.container).test_client().get(path)


def list_database_down(web: Web) -> TestResponse:
    web.replace(web.container.report_registry, UnreachableRegistry())
    return web.client.get("/reports")


def store_database_down(web: Web) -> TestResponse:
    web.replace(web.container.status_repository, UnreachableStatus())
    return web.store("b")


CASES: dict[tuple[str, str], Callable[[Web], TestResponse]] = {
    ("/reports", "200"): lambda web: web.client.get("/reports?limit=5"),
    ("/reports", "400"): lambda web: web.client.get("/reports?limit=0"),
    ("/reports", "503"): list_database_down,
    ("/reports", "401"): lambda web: without_the_token(web, "/reports"),
    ("/stores/{store_id}", "200"): lambda web: web.store("b"),
    ("/stores/{store_id}", "404"): lambda web: web.store("nope"),
    ("/stores/{store_id}", "503"): store_database_down,
    ("/stores/{store_id}", "401"): lambda web: without_the_token(web, "/stores/b"),
}


def test_the_documented_statuses_are_exactly_the_cases() -> None:
    documented = {
        (path, status)
        for path in ("/reports", "/stores/{store_id}")
        for method, operation in DOCUMENT["paths"][path].items()
        for status in operation["responses"]
    }
    assert set(DOCUMENT["paths"]["/reports"]) == set(DOCUMENT["paths"]["/stores/{store_id}"]) == {"get"}
    assert documented == set(CASES)


@pytest.mark.parametrize("case", sorted(CASES), ids=" ".join)
def test_each_documented_status_is_what_its_case_returns(web: Web, case: tuple[str, str]) -> None:
    path, status = case

    response = CASES[case](web)

    assert str(response.status_code) == status
    check_documented(response, path)


# --- the page and its files ----------------------------------------------------------------------


class References(HTMLParser):
    """Every src and href of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attributes: list[tuple[str, str | None]]) -> None:
        self.found.extend(value for name, value in attributes if name in ("src", "href") and value)


def test_the_page_is_served_at_the_root_with_a_strict_policy(web: Web) -> None:
    response = web.client.get("/")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in CONTENT_SECURITY_POLICY and "unsafe" not in CONTENT_SECURITY_POLICY
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    page = response.get_data(as_text=True)
    # A module script: deferred like ``defer``, and it may import the page's other modules.
    assert '<script type="module" src="/static/app.js"></script>' in page
    assert "<script>" not in page  # no inline script: the policy would refuse it


# `import { a, b } from "./module.js";`: the page's modules name each other by relative path.
MODULE_IMPORT = re.compile(r'^import \{[^}]*\} from "\./([\w-]+\.js)";$', re.MULTILINE)


def scripts_reached_from(entry: str) -> set[str]:
    """``entry`` and every module it imports, directly or not (each must exist: it is read)."""
    reached = {entry}
    waiting = [entry]
    while waiting:
        for imported in MODULE_IMPORT.findall((STATIC / waiting.pop()).read_text(encoding="utf-8")):
            if imported not in reached:
                reached.add(imported)
                waiting.append(imported)
    return reached


def test_the_page_loads_only_its_own_files(web: Web) -> None:
    parser = References()
    parser.feed(web.client.get("/").get_data(as_text=True))

    # The empty icon keeps the browser from asking for /favicon.ico.
    inline = [reference for reference in parser.found if reference.startswith("data:")]
    assert inline == ["data:,"]
    local = [reference for reference in parser.found if not reference.startswith(("#", "data:"))]
    assert sorted(local) == ["/static/app.css", "/static/app.js"]
    scripts = scripts_reached_from("app.js")
    for name in ["app.css", *sorted(scripts)]:
        served = web.client.get(f"/static/{name}")
        assert served.status_code == 200, name
        assert served.get_data() == (STATIC / name).read_bytes()
        # A browser runs a module only when it is served as JavaScript (either name of the type).
        expected = ("text/css",) if name == "app.css" else ("text/javascript", "application/javascript")
        assert served.mimetype in expected, name
    # Hand-written, self-contained: nothing is fetched from another host.
    for path in STATIC.iterdir():
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), path.name
        assert "//cdn" not in text and "@import" not in text


@pytest.mark.parametrize("path", ["/static/../flask_app.py", "/static/%2e%2e/flask_app.py", "/static/"])
def test_nothing_outside_the_static_folder_is_served(web: Web, path: str) -> None:
    response = web.client.get(path)

    assert response.status_code == 404
    assert response.mimetype == JSON


def test_with_a_token_the_page_and_its_files_are_open_and_the_data_is_not(web: Web) -> None:
    web.container.config.api_token.from_value("the-api-token")
    client = create_app(web.container).test_client()

    for path in ("/", "/static/app.js", "/static/app.css"):
        assert client.get(path).status_code == 200, path
    for path in ("/reports", "/stores/b"):
        answer = client.get(path)
        assert answer.status_code == 401, path
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/reports", headers={"Authorization": "Bearer the-api-token"}).status_code == 200
    assert client.get("/stores/b", headers={"Authorization": "Bearer the-api-token"}).status_code == 200


def test_the_static_files_are_package_data() -> None:
    """A wheel carries entrypoints/static/*: pyproject.toml names them."""
    import tomllib

    pyproject = tomllib.loads((STATIC.parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["tool"]["setuptools"]["package-data"]["entrypoints"] == ["static/*"]
    # Flat: "static/*" takes no subfolder. Every script is one the page reaches.
    assert {path.name for path in STATIC.iterdir()} == {"index.html", "app.css", *scripts_reached_from("app.js")}


def test_the_page_s_modules_import_each_other_in_no_circle() -> None:
    imports = {name: MODULE_IMPORT.findall((STATIC / name).read_text(encoding="utf-8")) for name in scripts_reached_from("app.js")}
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, " -> ".join((*path, name))
        if name not in done:
            for imported in imports[name]:
                visit(imported, (*path, name))
            done.add(name)

    visit("app.js", ())
