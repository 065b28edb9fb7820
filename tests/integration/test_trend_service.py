"""The fleet trend through the running service: redis-server, ``store-monitor worker``, ``store-monitor serve``.

A trend triggered over HTTP is planned and computed in parts by real worker
processes; its CSV must be byte for byte the one ``store-monitor trend``
writes from the same database, and its JSON summary must agree with that CSV.
"""

from __future__ import annotations

import csv
import http.client
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from recovery import CHUNK_SIZE as FAST_CHUNK_SIZE
from recovery import (
    FAST,
    descendants,
    kill_a_part_holder,
    kill_worker_holding_a_part,
    start_workers,
    wait_until_it_takes_parts_again,
)
from service_fixtures import (
    ApiClient,
    HttpAnswer,
    RedisServer,
    ServiceRunner,
    Stack,
    load_database,
    real_2023_sqlite,
    redis_server,
    registry_row,
    service,
    sqlite_copy,
    sqlite_redis_stack,
    wait_for,
)

# Fixtures used by name below; listed so that pytest finds them in this module.
__all__ = ["real_2023_sqlite", "redis_server", "service"]

CHUNK_SIZE = 1000
# A guard against waiting forever, not a measure: nothing here is timed.
TREND_TIMEOUT_S = 120.0
JSON = "application/json"


@pytest.fixture(scope="module")
def sqlite_stack(
    real_2023_sqlite: tuple[Path, bytes], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """One Redis, one worker of two processes and the API over a SQLite copy of real-2023, for this module."""
    with sqlite_redis_stack(real_2023_sqlite, tmp_path_factory.mktemp("trend-stack"), CHUNK_SIZE, 2) as stack:
        yield stack


def send(api: ApiClient, method: str, path: str, body: Any = None, accept: str | None = None) -> HttpAnswer:
    """A request with an optional JSON body and Accept header."""
    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
    try:
        headers = {} if accept is None else {"Accept": accept}
        payload = None
        if body is not None:
            payload = json.dumps(body)
            headers["Content-Type"] = JSON
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        content = response.read()
        return HttpAnswer(response.status, {name.lower(): value for name, value in response.getheaders()}, content)
    finally:
        connection.close()


def trigger_trend(api: ApiClient, body: Any = None) -> str:
    answer = send(api, "POST", "/trigger_trend", body)
    assert answer.status == 200, f"{answer.shown()}\n{api.diagnostics()}"
    trend_id = answer.json()["trend_id"]
    assert isinstance(trend_id, str)
    return trend_id


def finished_trend(api: ApiClient, trend_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Poll (asking for JSON) until the trend is no longer Running: its last state, and every Running one in order."""
    running: list[dict[str, Any]] = []
    deadline = time.monotonic() + TREND_TIMEOUT_S
    while True:
        answer = send(api, "GET", f"/get_trend/{trend_id}", accept=JSON)
        assert answer.status == 200 and answer.content_type == JSON, f"{answer.shown()}\n{api.diagnostics()}"
        state = answer.json()
        if state["status"] != "Running":
            return state, running
        running.append(state)
        if time.monotonic() > deadline:
            pytest.fail(f"trend {trend_id} still Running after {TREND_TIMEOUT_S:.0f} s: {state}\n{api.diagnostics()}")
        time.sleep(0.05)


def wait_for_trend(api: ApiClient, trend_id: str) -> list[dict[str, Any]]:
    """Poll until the trend is Complete (failing otherwise); every Running answer is returned, in order."""
    state, running = finished_trend(api, trend_id)
    assert state["status"] == "Complete", f"trend {trend_id} ended as {state}\n{api.diagnostics()}"
    return running


def cli_trend(runner: ServiceRunner, url: str, *arguments: str) -> bytes:
    """What ``store-monitor trend`` writes from the database at ``url``."""
    out = runner.folder / "cli-trend.csv"
    runner.run_cli("trend", *arguments, "--out", str(out), overrides={"DATABASE_URL": url})
    return out.read_bytes()


def check_summary_against_csv(summary: dict[str, Any], content: bytes, days: int) -> None:
    """The JSON's days agree with the CSV's lines summed, to the CSV's rounding."""
    rows = list(csv.reader(io.StringIO(content.decode("utf-8"))))[1:]
    assert [day["day"] for day in summary["fleet"]] == list(range(1, days + 1))
    by_day: dict[int, list[tuple[float, float]]] = {}
    for row in rows:
        by_day.setdefault(int(row[1]), []).append((float(row[4]), float(row[5])))
    for day in summary["fleet"]:
        lines = by_day[day["day"]]
        rounding = len(lines) * 0.00005 + 1e-6
        assert abs(sum(business for business, _ in lines) - day["business_hours"]) <= rounding
        assert abs(sum(up for _, up in lines) - day["uptime_hours"]) <= rounding
        # Counted from exact figures: between the stores surely below and those that may be, given the rounding.
        for share, name in ((0.9, "stores_below_90"), (0.5, "stores_below_50")):
            surely = sum(1 for b, u in lines if b > 0 and u + 0.0001 < share * (b - 0.0001))
            maybe = sum(1 for b, u in lines if b > 0 and u - 0.0001 < share * (b + 0.0001))
            assert surely <= day[name] <= maybe, (day, surely, maybe)
        assert day["stores_below_50"] <= day["stores_below_90"]
    assert len(summary["weeks"]) == days // 7
    changes = [store["change"] for store in summary["slipping"]]
    assert changes == sorted(changes) and all(change <= 0 for change in changes)
    assert len(changes) <= 20


def test_a_trend_run_completes_with_the_csv_of_store_monitor_trend(sqlite_stack: Stack) -> None:
    api, database = sqlite_stack.api, sqlite_stack.database
    parts = database.parts(CHUNK_SIZE)

    trend_id = trigger_trend(api)
    running = wait_for_trend(api, trend_id)

    # Progress only ever moves forward, in parts of the plan.
    seen = [(state["progress"]["done"], state["progress"]["total"]) for state in running]
    assert seen == sorted(seen) and all(total in (0, parts) and done <= total for done, total in seen)
    answer = send(api, "GET", f"/get_trend/{trend_id}")
    assert answer.status == 200 and answer.content_type.startswith("text/csv"), answer.shown()
    assert answer.headers["content-disposition"] == f"attachment; filename=trend-{trend_id}.csv"
    cli = cli_trend(sqlite_stack.runner, database.url, "--days", "28")
    assert answer.body == cli
    assert answer.body.count(b"\n") == 1 + 28 * database.stores
    row = registry_row(database.url, trend_id)
    assert (row.status, row.progress_done, row.progress_total, row.error) == ("Complete", parts, parts, None)

    summary = send(api, "GET", f"/get_trend/{trend_id}", accept=JSON).json()
    assert (summary["status"], summary["trend_id"], summary["days"]) == ("Complete", trend_id, 28)
    check_summary_against_csv(summary, cli, 28)
    assert summary["slipping"], "real-2023 has stores whose uptime dropped"


def test_a_trend_as_of_an_instant_is_the_clis_as_of_it(sqlite_stack: Stack) -> None:
    api, database = sqlite_stack.api, sqlite_stack.database
    as_of = "2023-01-22T09:30:00+01:00"

    trend_id = trigger_trend(api, {"days": 9, "as_of": as_of})
    wait_for_trend(api, trend_id)

    answer = send(api, "GET", f"/get_trend/{trend_id}", accept="text/csv")
    cli = cli_trend(sqlite_stack.runner, database.url, "--days", "9", "--as-of", as_of)
    assert answer.body == cli
    summary = send(api, "GET", f"/get_trend/{trend_id}", accept=JSON).json()
    check_summary_against_csv(summary, cli, 9)
    assert summary["now"] <= "2023-01-22T08:30:00.000000Z" and summary["slipping"] == []


def test_trends_are_listed_apart_from_reports_and_their_ids_are_no_reports(sqlite_stack: Stack) -> None:
    api = sqlite_stack.api
    trend_id = trigger_trend(api, {"days": 2})
    report_id = api.trigger()
    wait_for_trend(api, trend_id)
    api.complete_csv(report_id)

    trends = [item["trend_id"] for item in send(api, "GET", "/trends?limit=100").json()["trends"]]
    reports = [item["report_id"] for item in send(api, "GET", "/reports?limit=100").json()["reports"]]

    assert trend_id in trends and report_id not in trends
    assert report_id in reports and trend_id not in reports
    assert send(api, "GET", f"/get_report/{trend_id}").status == 404
    assert send(api, "GET", f"/get_trend/{report_id}").status == 404
    bad = send(api, "POST", "/trigger_trend", {"days": 91})
    assert bad.status == 400 and "days" in bad.json()["error"]


@pytest.mark.postgres
def test_a_trend_on_postgres_kept_in_the_database_by_two_workers(
    postgres_schema_url: str, redis_server: RedisServer, service: ServiceRunner, shared_data: Path
) -> None:
    """REPORT_STORAGE=database: the 20-odd MB file is stored in rows, a part at a time, and served whole."""
    database = load_database(service, postgres_schema_url, shared_data / "real-2023")
    reports_dir = service.folder / "reports"
    service.settings.update(
        DATABASE_URL=database.url,
        REPORT_STORAGE="database",
        REPORTS_DIR=str(reports_dir),
        REPORT_CHUNK_SIZE=str(CHUNK_SIZE),
    )
    service.use_redis(redis_server)
    service.start_worker("worker-1", concurrency=1)
    service.start_worker("worker-2", concurrency=1)
    api = service.start_api()

    trend_id = trigger_trend(api, {"days": 28})
    wait_for_trend(api, trend_id)

    answer = send(api, "GET", f"/get_trend/{trend_id}")
    assert answer.body == cli_trend(service, database.url, "--days", "28")
    assert not reports_dir.exists(), "REPORT_STORAGE=database wrote a file"


# --------------------------------------------------------------------------- faults


def test_a_trend_survives_a_killed_pool_process_and_a_killed_worker(
    service: ServiceRunner, redis_server: RedisServer, real_2023_sqlite: tuple[Path, bytes], sqlite_url: str
) -> None:
    """The units of a trend are a report's: leases, the watchdog and redelivery finish it, byte for byte."""
    database = sqlite_copy(real_2023_sqlite, sqlite_url)
    service.settings.update(DATABASE_URL=database.url, REPORTS_DIR=str(service.folder / "reports"), **FAST)
    service.use_redis(redis_server)
    _, other = start_workers(service)
    api = service.start_api()
    cli = cli_trend(service, database.url, "--days", "21")
    parts = database.parts(FAST_CHUNK_SIZE)

    def some_parts_done(trend_id: str) -> None:
        def started() -> bool:
            state = send(api, "GET", f"/get_trend/{trend_id}", accept=JSON).json()
            assert state["status"] == "Running", f"finished before the fault: {state}"
            return bool(state["progress"]["done"] >= 2)

        wait_for(started, 60, "a few parts done", service.diagnostics, interval=0.01)

    trend_id = trigger_trend(api, {"days": 21})
    some_parts_done(trend_id)
    pool = descendants(other.popen.pid)
    killed = kill_a_part_holder(database.url, service)
    wait_for_trend(api, trend_id)
    assert send(api, "GET", f"/get_trend/{trend_id}").body == cli
    assert registry_row(database.url, trend_id).progress_done == parts
    wait_until_it_takes_parts_again(other, pool, killed, service)

    trend_id = trigger_trend(api, {"days": 21})
    some_parts_done(trend_id)
    kill_worker_holding_a_part(other, database.url, service)
    wait_for_trend(api, trend_id)
    assert send(api, "GET", f"/get_trend/{trend_id}").body == cli


def test_with_no_worker_a_trend_fails_after_the_stall_time_saying_why(
    service: ServiceRunner, real_2023_sqlite: tuple[Path, bytes], sqlite_url: str
) -> None:
    database = sqlite_copy(real_2023_sqlite, sqlite_url)
    service.settings.update({**FAST, "DATABASE_URL": database.url, "REPORT_STALL_SECONDS": "2"})
    api = service.start_api("--no-worker")

    trend_id = trigger_trend(api, {"days": 7})
    state, _ = finished_trend(api, trend_id)

    assert state["status"] == "Failed", state
    assert state["error"].startswith("no progress for 2 s: no worker has recorded a heartbeat"), state
    listed = send(api, "GET", "/trends").json()["trends"]
    assert [(item["trend_id"], item["status"]) for item in listed] == [(trend_id, "Failed")]

