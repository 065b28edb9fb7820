"""The log lines: their formats, the report and task ids they carry, and no secret in them."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator

import pytest
from celery.signals import task_postrun, task_prerun
from flask.testing import FlaskClient

from entrypoints.cli import main
from entrypoints.logging_setup import REDACTED, configure_logging, report_context
from fakes import App, AppMaker, make_app

TOKEN = "s3cret-T0ken_for/logs"


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """Where the root logger writes during the test; the handler goes afterwards."""
    stream = io.StringIO()
    handler = configure_logging("INFO", "json", stream=stream)
    try:
        yield stream
    finally:
        logging.getLogger().removeHandler(handler)


def records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_json_line_has_time_level_logger_and_message(lines: io.StringIO) -> None:
    logging.getLogger("store_monitor.test").warning("disk %s full", "/var")

    [line] = records(lines)
    assert set(line) == {"time", "level", "logger", "message"}
    assert line["level"] == "WARNING"
    assert line["logger"] == "store_monitor.test"
    assert line["message"] == "disk /var full"
    assert str(line["time"]).endswith("+00:00")


def test_a_kv_line_quotes_values_with_spaces() -> None:
    stream = io.StringIO()
    handler = configure_logging("INFO", "kv", stream=stream)
    try:
        with report_context("r-1"):
            logging.getLogger("store_monitor.test").info('said "hi" = twice')
    finally:
        logging.getLogger().removeHandler(handler)

    line = stream.getvalue().strip()
    assert line.startswith("time=")
    assert ' level=INFO logger=store_monitor.test message="said \\"hi\\" = twice" report_id=r-1' in line


def test_the_level_filters(lines: io.StringIO) -> None:
    configure_logging("WARNING", "json", stream=lines)
    logging.getLogger("store_monitor.test").info("not shown")
    logging.getLogger("store_monitor.test").error("shown")

    assert [line["message"] for line in records(lines)] == ["shown"]


def test_only_lines_inside_a_report_context_carry_its_id(lines: io.StringIO) -> None:
    logger = logging.getLogger("store_monitor.test")
    with report_context("r-42"):
        logger.info("inside")
    logger.info("outside")

    inside, outside = records(lines)
    assert inside["report_id"] == "r-42"
    assert "report_id" not in outside


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        configure_logging("INFO", "xml")
    with pytest.raises(ValueError, match="LOG_LEVEL"):
        configure_logging("LOUD", "kv")


def test_the_cli_refuses_a_bad_log_format(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LOG_FORMAT", "xml")

    assert main(["purge-reports"]) == 2
    assert "LOG_FORMAT" in capsys.readouterr().err


def test_a_worker_task_line_carries_the_task_and_report_ids(lines: io.StringIO) -> None:
    from entrypoints.worker import compute_part, ingest_upload

    task_prerun.send(sender=compute_part, task_id="task-1", task=compute_part, args=("report-9", 0, "a", "b", 0))
    logging.getLogger("store_monitor.test").info("computing")
    task_postrun.send(sender=compute_part, task_id="task-1", task=compute_part, args=("report-9",))
    logging.getLogger("store_monitor.test").info("between tasks")
    # An ingestion's first argument is no report id.
    task_prerun.send(sender=ingest_upload, task_id="task-2", task=ingest_upload, args=("ingest-1",))
    logging.getLogger("store_monitor.test").info("ingesting")
    task_postrun.send(sender=ingest_upload, task_id="task-2", task=ingest_upload, args=("ingest-1",))

    computing, between, ingesting = [line for line in records(lines) if line["logger"] == "store_monitor.test"]
    assert (computing["task_id"], computing["report_id"]) == ("task-1", "report-9")
    assert "task_id" not in between and "report_id" not in between
    assert ingesting["task_id"] == "task-2" and "report_id" not in ingesting


@pytest.fixture
def client(make_app: AppMaker) -> FlaskClient:
    return make_app(App, settings={"api_token": TOKEN}).client


def test_requests_are_logged_with_their_report_and_never_the_token(client: FlaskClient) -> None:
    # After create_app, which installs the handler of the environment's settings.
    stream = io.StringIO()
    handler = configure_logging("INFO", "json", secrets=[TOKEN], stream=stream)
    try:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        report_id = client.post("/trigger_report", headers=headers).get_json()["report_id"]
        client.get(f"/get_report/{report_id}", headers=headers)
        client.get(f"/get_report/{uuid.UUID(int=3)}", headers={"Authorization": "Bearer wrong"})
        # Even a careless message holding the token shows it redacted.
        logging.getLogger("store_monitor.test").info("token is %s", TOKEN)
    finally:
        logging.getLogger().removeHandler(handler)

    text = stream.getvalue()
    assert TOKEN not in text
    assert "Authorization" not in text and "Bearer" not in text
    found = records(stream)
    requests = [line for line in found if line["logger"] == "store_monitor.request"]
    assert [(line["method"], line["path"], line["status"]) for line in requests] == [
        ("POST", "/trigger_report", 200),
        ("GET", f"/get_report/{report_id}", 200),
        ("GET", f"/get_report/{uuid.UUID(int=3)}", 401),
    ]
    assert all(isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0 for line in requests)
    assert requests[0]["report_id"] == report_id and requests[1]["report_id"] == report_id
    # The refused request names no report: the next request of the thread starts clean.
    assert "report_id" not in requests[2]
    assert found[-1]["message"] == f"token is {REDACTED}"
