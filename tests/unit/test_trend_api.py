"""``GET /stores/<store_id>/trend`` through Flask's test client over in-memory adapters.

Every JSON answer is checked against the OpenAPI document's schema for it;
the figures against the domain's trend and the report.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

import attrs
import pytest
from dependency_injector import providers
from fakes import App, AppMaker, make_app
from documented import DOCUMENT, conforms
from werkzeug.test import TestResponse

from adapters.memory.data import InMemoryIngestionLog, InMemoryStatusRepository
from domain.model.clock import MICROS_PER_DAY, MICROS_PER_HOUR, MICROS_PER_MINUTE, to_micros
from domain.model.inputs import BusinessHours, StatusPolls, StoreTimezones
from domain.model.trend import earliest_trend_poll
from domain.model.uptime import UptimeCalculator
from domain.ports.data import ReportInputs, RepositoryError, StoreRange
from domain.use_cases.reports import ReportService, RepositoryInputSource
from entrypoints.flask_app import create_app

JSON = "application/json"
PATH = "/stores/{store_id}/trend"
NOW = datetime(2023, 1, 25, 12, 0, 0, 479220, tzinfo=timezone.utc)
NOW_US = to_micros(NOW)
NOW_TEXT = "2023-01-25T12:00:00.479220Z"
# Opaque ids with a slash (and one ending in "/trend"): each must reach the view whole.
ODD_ID = "north/ville, café 7"
TREND_ID = "x/trend"
DAY_KEYS = ["day", "window_start_utc", "window_end_utc", "business_hours", "uptime_hours", "downtime_hours"]


class UnreachableStatus(InMemoryStatusRepository):
    def latest_timestamp(self, *, snapshot: int, until_us: int | None = None) -> int | None:
        raise RepositoryError("database error: connection refused")


def sample_polls() -> StatusPolls:
    """Hourly polls over ten days: 'a' always up, 'b' down every third hour, the odd ids alternating."""
    rows: list[tuple[str, int, bool]] = []
    for hour in range(240):
        instant = NOW_US - hour * MICROS_PER_HOUR - 7 * MICROS_PER_MINUTE
        rows.append(("a", instant, True))
        rows.append(("b", instant, hour % 3 != 0))
        rows.append((ODD_ID, instant, hour % 2 == 0))
        rows.append((TREND_ID, instant, hour % 5 != 0))
    rows.append(("b", NOW_US, False))
    # Started polling two days ago, inactive at first.
    rows.append(("late", NOW_US - 2 * MICROS_PER_DAY, False))
    rows.append(("late", NOW_US - MICROS_PER_DAY // 2, True))
    # Polled once, long ago: that poll holds every day.
    rows.append(("old", NOW_US - 40 * MICROS_PER_DAY, False))
    return StatusPolls.from_rows(rows)


def sample_hours() -> BusinessHours:
    # 'b' opens 09:00-17:00 local every day, 'late' 22:00-02:00 overnight every day; the others have no rows.
    rows = [("b", day, 9 * MICROS_PER_HOUR, 17 * MICROS_PER_HOUR) for day in range(7)]
    rows += [("late", day, 22 * MICROS_PER_HOUR, 2 * MICROS_PER_HOUR) for day in range(7)]
    return BusinessHours.from_rows(rows)


def sample_zones() -> StoreTimezones:
    zones: Any = StoreTimezones
    made: StoreTimezones = zones({"b": "America/New_York", "late": "Asia/Kolkata"})
    return made


@attrs.define
class Trend(App):
    def get(self, store_id: str, query: str = "") -> TestResponse:
        return self.client.get("/stores/" + quote(store_id, safe="") + "/trend" + query)


@pytest.fixture
def trend(make_app: AppMaker) -> Trend:
    return make_app(Trend, polls=sample_polls(), hours=sample_hours(), zones=sample_zones())


def check_documented(response: TestResponse) -> Any:
    """The answer's status and JSON body are the ones the document gives; returns the body."""
    assert response.mimetype == JSON
    documented = DOCUMENT["paths"][PATH]["get"]["responses"]
    assert str(response.status_code) in documented, f"undocumented {response.status_code}"
    body = response.get_json()
    assert conforms(body, documented[str(response.status_code)]["content"][JSON]["schema"]), body
    if response.status_code >= 400:
        assert isinstance(body["error"], str) and body["error"]
    return body


def micros(text: str) -> int:
    return to_micros(datetime.fromisoformat(text.replace("Z", "+00:00")))


# --- the answer --------------------------------------------------------------------------------


def test_the_answer_has_the_agreed_shape_and_28_days_by_default(trend: Trend) -> None:
    response = trend.get("b")
    body = check_documented(response)

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert list(body) == ["store_id", "now", "days", "series"]
    assert (body["store_id"], body["now"], body["days"]) == ("b", NOW_TEXT, 28)
    assert [day["day"] for day in body["series"]] == list(range(1, 29))
    for day in body["series"]:
        assert list(day) == DAY_KEYS
        k = day["day"]
        assert micros(day["window_start_utc"]) == NOW_US - k * MICROS_PER_DAY
        assert micros(day["window_end_utc"]) == NOW_US - (k - 1) * MICROS_PER_DAY
        assert day["window_end_utc"].endswith(".479220Z")


@pytest.mark.parametrize("store_id", ["a", "b", ODD_ID, TREND_ID, "late", "old"])
@pytest.mark.parametrize("days", [1, 7, 90])
def test_the_figures_are_the_domains_trend_rounded_to_four_decimals(trend: Trend, store_id: str, days: int) -> None:
    series = trend.reports().trend(NOW_US, days)
    i = series.store_ids.index(store_id)

    body = check_documented(trend.get(store_id, f"?days={days}"))

    assert body["days"] == days and len(body["series"]) == days
    for k, day in enumerate(body["series"]):
        assert (day["business_hours"], day["uptime_hours"], day["downtime_hours"]) == (
            round(int(series.business[i, k]) / MICROS_PER_HOUR, 4),
            round(int(series.uptime[i, k]) / MICROS_PER_HOUR, 4),
            round(int(series.downtime[i, k]) / MICROS_PER_HOUR, 4),
        )


@pytest.mark.parametrize("store_id", ["a", "b", ODD_ID, "late", "old"])
def test_day_one_is_the_stores_report_row_for_the_last_day(trend: Trend, store_id: str) -> None:
    rows = trend.reports().compute()
    i = rows.store_ids.index(store_id)

    [day] = check_documented(trend.get(store_id, "?days=1"))["series"]

    assert day["uptime_hours"] == round(int(rows.uptime_day[i]) / MICROS_PER_HOUR, 4)
    assert day["downtime_hours"] == round(int(rows.downtime_day[i]) / MICROS_PER_HOUR, 4)


def test_known_figures(trend: Trend) -> None:
    """'a' has no hours: open 24 h a day, always up. 'old' is inactive every day of the ten it could be."""
    always_up = check_documented(trend.get("a", "?days=3"))["series"]
    stale = check_documented(trend.get("old", "?days=10"))["series"]

    assert [(d["business_hours"], d["uptime_hours"], d["downtime_hours"]) for d in always_up] == [(24.0, 24.0, 0.0)] * 3
    assert [(d["business_hours"], d["uptime_hours"], d["downtime_hours"]) for d in stale] == [(24.0, 0.0, 24.0)] * 10


def test_a_store_that_started_polling_lately_takes_its_first_poll_before_that(trend: Trend) -> None:
    """'late' opens 22:00-02:00 Kolkata (16:30-20:30 UTC); its first poll, two days ago, was inactive."""
    series = check_documented(trend.get("late", "?days=5"))["series"]

    # 12:00 UTC now: each day holds one 4-hour opening. The first poll's status covers the
    # days before it; in day 1, 22:00-24:00 of 24 January (a local day without polls) keeps
    # it too, while 25 January's active poll at 05:30 covers that day from 00:00.
    assert [d["business_hours"] for d in series] == [4.0] * 5
    assert [d["downtime_hours"] for d in series[1:]] == [4.0] * 4
    assert (series[0]["uptime_hours"], series[0]["downtime_hours"]) == (2.0, 2.0)


@pytest.mark.parametrize("store_id", [ODD_ID, TREND_ID])
def test_an_id_with_slashes_reaches_the_view_encoded_or_not(trend: Trend, store_id: str) -> None:
    encoded = check_documented(trend.get(store_id, "?days=2"))
    raw = check_documented(trend.client.get("/stores/" + quote(store_id, safe="/") + "/trend?days=2"))

    assert encoded["store_id"] == raw["store_id"] == store_id
    assert encoded == raw
    # The store's own page is still the store's, not a trend.
    assert trend.client.get("/stores/" + quote(ODD_ID, safe="")).get_json()["store_id"] == ODD_ID


# --- as_of --------------------------------------------------------------------------------------


def test_as_of_fixes_now_at_the_latest_poll_at_or_before_it_and_leaves_later_polls_out(trend: Trend) -> None:
    as_of = NOW_US - 3 * MICROS_PER_DAY - 30 * MICROS_PER_MINUTE
    # The hourly polls fall 7 minutes before each hour: the latest at or before as_of.
    expected_now = NOW_US - 3 * MICROS_PER_DAY - MICROS_PER_HOUR - 7 * MICROS_PER_MINUTE
    cut = StatusPolls.from_rows([row for row in sample_polls().rows() if row[1] <= expected_now])
    alone = ReportService(
        InMemoryStatusRepository(cut), trend.hours, trend.timezones, UptimeCalculator(), log=InMemoryIngestionLog()
    )
    series = alone.trend(expected_now, 4)
    i = series.store_ids.index("b")

    as_of_text = "2023-01-22T06:30:00.479220-05:00"
    assert micros(as_of_text) == as_of

    body = check_documented(trend.get("b", "?days=4&as_of=" + quote(as_of_text)))

    assert micros(body["now"]) == expected_now
    assert [d["uptime_hours"] for d in body["series"]] == [
        round(int(series.uptime[i, k]) / MICROS_PER_HOUR, 4) for k in range(4)
    ]
    assert body != check_documented(trend.get("b", "?days=4"))


def test_a_store_first_polled_after_as_of_is_not_found(trend: Trend) -> None:
    response = trend.get("late", "?as_of=2023-01-23T00:00:00Z")

    assert response.status_code == 404
    assert "as_of" in check_documented(response)["error"]


# --- refusals -------------------------------------------------------------------------------------


@pytest.mark.parametrize("days", ["0", "91", "-1", "1.5", "abc", "", " 7", "٣", "1e1", "100000000000000000000"])
def test_days_outside_1_to_90_is_400_naming_it(trend: Trend, days: str) -> None:
    response = trend.get("b", "?days=" + quote(days))

    assert response.status_code == 400
    assert check_documented(response)["error"] == "days must be a whole number from 1 to 90"


@pytest.mark.parametrize("as_of", ["2023-01-25T12:00:00", "2023-01-25", "yesterday", ""])
def test_an_as_of_that_is_no_instant_is_400_naming_it(trend: Trend, as_of: str) -> None:
    response = trend.get("b", "?as_of=" + quote(as_of))

    assert response.status_code == 400
    assert check_documented(response)["error"].startswith("as_of ")


@pytest.mark.parametrize("store_id", ["nope", "a/b", "trend"])
def test_an_unknown_store_is_404(trend: Trend, store_id: str) -> None:
    response = trend.get(store_id)

    assert response.status_code == 404
    assert "no store with id" in check_documented(response)["error"]


def test_the_view_reads_only_the_one_store_from_far_enough_back(trend: Trend) -> None:
    read: list[tuple[int, StoreRange | None]] = []

    class Recording(RepositoryInputSource):
        def read(self, start_us: int, stores: StoreRange | None = None, *, snapshot: int) -> ReportInputs:
            read.append((start_us, stores))
            return super().read(start_us, stores, snapshot=snapshot)

    trend.container.report_inputs.override(
        providers.Object(Recording(trend.status, trend.hours, trend.timezones))
    )
    check_documented(trend.get(ODD_ID, "?days=60"))

    assert read == [(earliest_trend_poll(NOW_US, 60), StoreRange(ODD_ID, ODD_ID))]
    assert earliest_trend_poll(NOW_US, 60) < NOW_US - 60 * MICROS_PER_DAY


# --- the documented statuses ---------------------------------------------------------------------


def without_the_token(trend: Trend) -> TestResponse:
    trend.container.config.api_token.from_value("the-api-token")
    return create_app(trend.container).test_client().get("/stores/b/trend")


def database_down(trend: Trend) -> TestResponse:
    trend.container.status_repository.override(providers.Object(UnreachableStatus()))
    return trend.get("b")


CASES: dict[str, Callable[[Trend], TestResponse]] = {
    "200": lambda trend: trend.get("b", "?days=3"),
    "400": lambda trend: trend.get("b", "?days=0"),
    "404": lambda trend: trend.get("nope"),
    "401": without_the_token,
    "503": database_down,
}


def test_the_documented_statuses_are_exactly_the_cases() -> None:
    assert set(DOCUMENT["paths"][PATH]) == {"get"}
    assert set(DOCUMENT["paths"][PATH]["get"]["responses"]) == set(CASES)


@pytest.mark.parametrize("status", sorted(CASES))
def test_each_documented_status_is_what_its_case_returns(trend: Trend, status: str) -> None:
    response = CASES[status](trend)

    assert str(response.status_code) == status
    check_documented(response)
