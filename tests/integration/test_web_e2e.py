"""The web page at ``/`` in a real headless Chromium, against the running service.

A private redis-server, one ``store-monitor worker`` and ``store-monitor
serve`` over SQLite with real-2024 ingested. The browser triggers a report,
watches its progress reach 100%, downloads its CSV (which must be byte for
byte the one ``store-monitor report --out`` writes from the same database),
checks the summary against that CSV, opens a store and checks its six figures
against the store's row; a second server with ``API_TOKEN`` checks the token
prompt. Screenshots are kept under the test's folder and, when
``TEST_ARTIFACTS_DIR`` is set, copied there.

The browser is Debian's ``chromium`` (``/usr/bin/chromium``) driven by
Playwright's Python package; without either the tests are skipped with the
reason, unless ``REQUIRE_BROWSER=1``, which makes that a failure.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest
from service_fixtures import (
    STARTUP_TIMEOUT_S,
    ApiClient,
    LoadedDatabase,
    ServiceRunner,
    free_port,
    load_database,
    running_redis,
    wait_for,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
TOKEN = "web-page-token-0123456789"
TOKEN_KEY = "store-monitor.api-token"
# 359 stores in parts of 40: nine parts, so the bar has steps to show.
CHUNK_SIZE = 40
REPORT_TIMEOUT_MS = 40_000
WINDOWS = ("hour", "day", "week")


def require_browser() -> None:
    """Skip (or, with REQUIRE_BROWSER=1, fail) without Chromium or Playwright."""
    reason = None
    if not CHROMIUM.is_file():
        reason = f"{CHROMIUM} not found (Debian's chromium package)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "the playwright Python package is not installed (pip install -e '.[dev]')"
    if reason is None:
        return
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


# --------------------------------------------------------------------------- the report's CSV


@dataclass(frozen=True)
class Row:
    store_id: str
    texts: tuple[str, ...]  # the six figures as written

    @property
    def values(self) -> tuple[float, ...]:
        return tuple(float(text) for text in self.texts)

    def up(self, window: str) -> float:
        return self.values[WINDOWS.index(window)]

    def down(self, window: str) -> float:
        return self.values[3 + WINDOWS.index(window)]


def report_rows(content: bytes) -> list[Row]:
    rows = list(csv.reader(io.StringIO(content.decode("utf-8"))))
    return [Row(row[0], tuple(row[1:])) for row in rows[1:]]


def histogram(rows: list[Row]) -> list[int]:
    """Stores by weekly uptime %: ten 10-point bins, then exactly 100%."""
    counts = [0] * 11
    for row in rows:
        business = row.up("week") + row.down("week")
        if business > 0:
            share = 100 * row.up("week") / business
            counts[10 if share >= 100 else min(9, math.floor(share / 10))] += 1
    return counts


def most_downtime(rows: list[Row], window: str) -> list[str]:
    down = [row for row in rows if row.down(window) > 0]
    down.sort(key=lambda row: (-row.down(window), row.store_id))
    return [row.store_id for row in down[:10]]


def interesting_store(rows: list[Row]) -> Row:
    """A store with uptime, downtime and closed time in the week, or as many of them as any has."""

    def score(row: Row) -> tuple[int, str]:
        up, down = row.up("week"), row.down("week")
        return (-((up > 0) + (down > 0) + (up + down < 168)), row.store_id)

    return min(rows, key=score)


# --------------------------------------------------------------------------- the running service


@dataclass(frozen=True)
class Stack:
    runner: ServiceRunner
    open_api: ApiClient
    protected_api: ApiClient
    database: LoadedDatabase


@pytest.fixture(scope="module")
def stack(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Redis, a worker and two APIs (one open, one with API_TOKEN) over SQLite with real-2024."""
    require_browser()
    data = shared_data / "real-2024"
    if not (data / "store_status.csv").is_file():
        pytest.skip(f"real-2024 data not found at {data}")
    folder = tmp_path_factory.mktemp("web-stack")
    url = f"sqlite:///{folder / 'db' / 'store-monitor.sqlite3'}"
    runner = ServiceRunner(
        folder / "service",
        {"DATABASE_URL": url, "REPORTS_DIR": str(folder / "reports"), "REPORT_CHUNK_SIZE": str(CHUNK_SIZE)},
    )
    (folder / "db").mkdir()
    database = load_database(runner, url, data)
    with running_redis(folder / "redis") as server:
        runner.use_redis(server)
        try:
            runner.start_worker(concurrency=2)
            open_api = runner.start_api(name="api")
            protected_api = start_protected_api(runner)
            yield Stack(runner, open_api, protected_api, database)
        finally:
            runner.close()


def start_protected_api(runner: ServiceRunner) -> ApiClient:
    """``store-monitor serve`` with API_TOKEN, once its page answers (``start_api`` waits for an open API)."""
    port = free_port()
    process = runner.start(
        "api-token",
        "serve", "--host", "127.0.0.1", "--port", str(port), "--processes", "1", "--threads", "4",
        overrides={"API_TOKEN": TOKEN},
    )
    api = ApiClient(port, process, runner.diagnostics)

    def page_answers() -> bool:
        if not process.alive:
            pytest.fail(f"api-token exited before answering\n{runner.diagnostics()}")
        try:
            return api.get("/", timeout=2).status == 200
        except OSError:
            return False

    wait_for(page_answers, STARTUP_TIMEOUT_S, "api-token answering GET /", runner.diagnostics)
    return api


@pytest.fixture(scope="module")
def browser(stack: Stack) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield launched
        finally:
            launched.close()


class Screenshots:
    """PNGs under the test's folder, copied to TEST_ARTIFACTS_DIR (when set) at the end, pass or fail."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.taken: list[Path] = []

    def page(self, page: Page, name: str, full_page: bool = False) -> None:
        path = self.folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        self.taken.append(path)

    def element(self, page: Page, selector: str, name: str) -> None:
        path = self.folder / f"{name}.png"
        page.locator(selector).screenshot(path=str(path))
        self.taken.append(path)

    def publish(self) -> None:
        target = os.environ.get("TEST_ARTIFACTS_DIR")
        if not target:
            return
        destination = Path(target) / "web-e2e"
        destination.mkdir(parents=True, exist_ok=True)
        for path in self.taken:
            shutil.copy2(path, destination / path.name)


@pytest.fixture
def screenshots(tmp_path: Path) -> Iterator[Screenshots]:
    shots = Screenshots(tmp_path / "screenshots")
    try:
        yield shots
    finally:
        shots.publish()


def new_page(browser: Browser, viewport: ViewportSize, errors: list[str], **options: Any) -> Page:
    """A page in a fresh context (its own sessionStorage) that records script errors."""
    # Reduced motion: the progress bar's width changes without a transition, so a screenshot shows its value.
    context = browser.new_context(viewport=viewport, reduced_motion="reduce", accept_downloads=True, **options)
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    page.on("console", lambda message: errors.append(f"console: {message.text}") if message.type == "error" else None)
    # Every value the progress bar takes, in order, with the report it shows.
    page.add_init_script(
        """
        window.progressValues = [];
        document.addEventListener("DOMContentLoaded", () => {
          const bar = document.getElementById("progress");
          const report = document.getElementById("progress-report-id");
          new MutationObserver(() =>
            window.progressValues.push([report.textContent, Number(bar.getAttribute("aria-valuenow"))])
          ).observe(bar, { attributes: true, attributeFilter: ["aria-valuenow"] });
        });
        """
    )
    return page


def trigger_and_watch(page: Page) -> str:
    """Click the trigger button and wait until the bar shows that report at 100%; return its id.

    The id comes from the trigger's own answer: the page may be showing an
    older report (the newest one, opened on load) when the button is clicked.
    """
    from playwright.sync_api import expect

    with page.expect_response(lambda response: response.url.endswith("/trigger_report")) as answer:
        page.get_by_role("button", name="Create a new report").click()
    report_id: str = answer.value.json()["report_id"]
    expect(page.locator("#progress-report-id")).to_have_text(report_id)
    expect(page.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100", timeout=REPORT_TIMEOUT_MS)
    return report_id


def figures_shown(page: Page) -> dict[str, str]:
    texts: dict[str, str] = page.eval_on_selector_all(
        "#store-figures [data-figure]",
        "cells => Object.fromEntries(cells.map(cell => [cell.dataset.figure, cell.textContent.trim()]))",
    )
    return texts


FIGURE_NAMES = (
    "uptime_last_hour",
    "uptime_last_day",
    "uptime_last_week",
    "downtime_last_hour",
    "downtime_last_day",
    "downtime_last_week",
)


# --------------------------------------------------------------------------- the tests


def test_trigger_watch_download_and_look_into_a_store(
    stack: Stack, browser: Browser, screenshots: Screenshots, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    rows = report_rows(stack.database.cli_csv)
    errors: list[str] = []
    page = new_page(browser, DESKTOP, errors)
    page.goto(stack.open_api.base_url + "/")
    expect(page.get_by_role("heading", name="Store monitor")).to_be_visible()

    report_id = trigger_and_watch(page)
    bar = page.get_by_role("progressbar")
    expect(page.locator("#progress-text")).to_contain_text("Complete")
    seen: list[tuple[str, int]] = page.evaluate("window.progressValues")
    values = [value for shown_id, value in seen if shown_id == report_id]
    assert values and values[-1] == 100
    assert values == sorted(values), f"the progress bar went back: {values}"
    assert bar.get_attribute("aria-valuemin") == "0" and bar.get_attribute("aria-valuemax") == "100"

    # The download is the CLI's report, byte for byte.
    with page.expect_download() as download_info:
        page.get_by_role("link", name=re.compile("Download the report")).click()
    download = download_info.value
    assert download.suggested_filename == f"report-{report_id}.csv"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert saved.read_bytes() == stack.database.cli_csv

    # The list of recent reports shows it complete.
    expect(page.locator(f'#recent-list li[data-report-id="{report_id}"]')).to_have_attribute("data-status", "Complete")

    # Totals, histogram and the most downtime, as the CSV gives them.
    business = sum(row.up("week") + row.down("week") for row in rows)
    uptime = sum(row.up("week") for row in rows)
    expect(page.locator("#summary-section")).to_be_visible()
    assert page.locator("#total-stores").get_attribute("data-value") == str(len(rows))
    assert float(page.locator("#total-hours").get_attribute("data-value") or "nan") == pytest.approx(business)
    assert page.locator("#total-uptime").get_attribute("data-value") == "%.2f" % (100 * uptime / business)
    bars = page.locator("#histogram rect[data-count]")
    bins = [int(count) for count in bars.evaluate_all("bars => bars.map(bar => bar.dataset.count)")]
    assert bins == histogram(rows)
    for window in WINDOWS:
        shown = page.locator(f'#top-lists [data-window="{window}"] tr[data-store-id]').evaluate_all(
            "rows => rows.map(row => row.dataset.storeId)"
        )
        assert shown == most_downtime(rows, window), window
    screenshots.page(page, "desktop-report", full_page=True)

    # One store, found with the search box: its six figures are its CSV row.
    store = interesting_store(rows)
    page.get_by_label("Store id (or part of it)").fill(store.store_id)
    page.get_by_label("Store id (or part of it)").press("Enter")
    section = page.locator("#store-section")
    expect(section).to_have_attribute("data-store-id", store.store_id)
    expect(page.locator("#store-heading")).to_be_focused()
    assert figures_shown(page) == dict(zip(FIGURE_NAMES, store.texts))
    detail = stack.open_api.get("/stores/" + quote(store.store_id, safe="")).json()
    kinds = set(page.locator("#timeline rect[data-kind]").evaluate_all("rects => rects.map(rect => rect.dataset.kind)"))
    if store.up("week") > 0:
        assert "up" in kinds
    if store.down("week") > 0:
        assert "down" in kinds
    if store.up("week") + store.down("week") < 168:
        assert "closed" in kinds
    assert page.locator("#timeline .poll").count() == len(detail["polls"])
    # Each kind carries a word, not only a colour.
    labels = set(page.locator("#timeline .seg-label").evaluate_all("texts => texts.map(text => text.textContent)"))
    assert labels and labels <= {"Up", "Down", "Closed"}
    screenshots.element(page, "#store-section", "desktop-store")

    # Another store, opened from the most-downtime table by keyboard.
    worst = most_downtime(rows, "week")[0]
    button = page.locator(f'#top-lists [data-window="week"] tr[data-store-id="{worst}"] button')
    button.focus()
    page.keyboard.press("Enter")
    expect(section).to_have_attribute("data-store-id", worst)
    worst_row = next(row for row in rows if row.store_id == worst)
    assert figures_shown(page) == dict(zip(FIGURE_NAMES, worst_row.texts))
    assert errors == []


def test_on_a_phone_the_report_and_a_store_fit_the_screen(
    stack: Stack, browser: Browser, screenshots: Screenshots
) -> None:
    from playwright.sync_api import expect

    rows = report_rows(stack.database.cli_csv)
    # A report to show (the page opens the newest one by itself).
    stack.open_api.complete_csv(stack.open_api.trigger())
    errors: list[str] = []
    page = new_page(browser, PHONE, errors, is_mobile=True, has_touch=True)
    page.goto(stack.open_api.base_url + "/")
    expect(page.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100", timeout=REPORT_TIMEOUT_MS)
    expect(page.locator("#summary-section")).to_be_visible()
    screenshots.page(page, "phone-top")
    screenshots.element(page, "#summary-section", "phone-report")

    store = interesting_store(rows)
    page.get_by_label("Store id (or part of it)").fill(store.store_id)
    page.get_by_role("button", name="Find", exact=True).tap()
    expect(page.locator("#store-section")).to_have_attribute("data-store-id", store.store_id)
    assert figures_shown(page) == dict(zip(FIGURE_NAMES, store.texts))
    screenshots.element(page, "#store-section", "phone-store")

    # Nothing is wider than the screen: no sideways scrolling of the page.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert errors == []


def test_the_page_asks_for_the_token_once_and_sends_it(
    stack: Stack, browser: Browser, screenshots: Screenshots
) -> None:
    from playwright.sync_api import Request, expect

    api = stack.protected_api
    errors: list[str] = []
    page = new_page(browser, DESKTOP, errors)
    sent: list[tuple[str, str | None]] = []

    def record(request: Request) -> None:
        path = request.url.removeprefix(api.base_url)
        if not path.startswith("/static/") and path != "/":
            sent.append((path, request.headers.get("authorization")))

    page.on("request", record)
    page.goto(api.base_url + "/")

    # The page itself loads; the data asks for the token.
    form = page.locator("#token-section")
    expect(form).to_be_visible()
    expect(page.get_by_label("API token", exact=True)).to_be_focused()
    screenshots.page(page, "token-prompt")

    page.get_by_label("API token", exact=True).fill("not-the-token")
    page.get_by_role("button", name="Use this token").click()
    expect(page.locator("#token-reason")).to_contain_text("did not accept")
    assert page.evaluate(f"sessionStorage.getItem({json.dumps(TOKEN_KEY)})") is None

    page.get_by_label("API token", exact=True).fill(TOKEN)
    page.get_by_role("button", name="Use this token").click()
    expect(form).to_be_hidden()
    assert page.evaluate(f"sessionStorage.getItem({json.dumps(TOKEN_KEY)})") == TOKEN

    # Triggering and polling carry the token.
    report_id = trigger_and_watch(page)
    expect(page.locator(f'#recent-list li[data-report-id="{report_id}"]')).to_have_attribute("data-status", "Complete")

    # Kept for the tab: a reload asks for nothing.
    asked_before = len(sent)
    page.reload()
    expect(page.locator(f'#recent-list li[data-report-id="{report_id}"]')).to_be_visible()
    expect(form).to_be_hidden()

    # Without a token first, then the wrong one, then always the right one.
    assert sent[0] == ("/reports?limit=10", None)
    assert sent[1] == ("/reports?limit=10", "Bearer not-the-token")
    after = sent[2:]
    assert any(path == "/trigger_report" for path, _ in after)
    assert any(path == f"/get_report/{report_id}" for path, _ in after)
    assert all(header == f"Bearer {TOKEN}" for _, header in after), after
    assert len(sent) > asked_before
    # The 401 answers are the server's; the page itself reports no error.
    assert [error for error in errors if "401" not in error] == []
