"""``GET /metrics``: the Prometheus text format, protected like the API, and counters that move."""

from __future__ import annotations

import pytest
from fakes import App, AppMaker, make_app
from flask.testing import FlaskClient
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from domain.model.ingestion import FileSummary, IngestSummary
from entrypoints.metrics import count_ingested
from entrypoints.openapi import openapi_document

TOKEN = "metrics-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(make_app: AppMaker) -> FlaskClient:
    # In memory: a trigger is recorded and queued without a database or a broker.
    return make_app(App, settings={"api_token": TOKEN}).client


def sample(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def test_metrics_are_served_in_the_prometheus_text_format(client: FlaskClient) -> None:
    response = client.get("/metrics", headers=AUTH)

    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert "text/plain" in openapi_document()["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    families = {family.name: family.type for family in text_string_to_metric_families(response.get_data(as_text=True))}
    assert families["reports_triggered"] == "counter"
    assert families["reports_completed"] == "counter"
    assert families["reports_failed"] == "counter"
    assert families["ingest_rows"] == "counter"
    assert families["report_duration_seconds"] == "histogram"
    assert families["report_queue_wait_seconds"] == "histogram"


def test_metrics_need_the_token(client: FlaskClient) -> None:
    response = client.get("/metrics")

    assert response.status_code == 401
    assert response.get_json()["error"]
    assert set(openapi_document()["paths"]["/metrics"]["get"]["responses"]) == {"200", "401"}


def test_a_trigger_moves_the_triggered_counter(client: FlaskClient) -> None:
    before = sample("reports_triggered_total")

    assert client.post("/trigger_report", headers=AUTH).status_code == 200
    assert client.post("/trigger_report", headers=AUTH).status_code == 200

    assert sample("reports_triggered_total") == before + 2
    scraped = client.get("/metrics", headers=AUTH).get_data(as_text=True)
    assert f"reports_triggered_total {before + 2}" in scraped


def test_a_refused_request_counts_nothing(client: FlaskClient) -> None:
    before = sample("reports_triggered_total")

    assert client.post("/trigger_report").status_code == 401

    assert sample("reports_triggered_total") == before


def test_ingested_rows_are_counted_by_file_and_outcome() -> None:
    outcomes = ("loaded", "already_stored", "duplicate", "rejected")
    labels = {"file": "menu_hours.csv"}
    before = {outcome: sample("ingest_rows_total", {**labels, "outcome": outcome}) for outcome in outcomes}
    summary = IngestSummary(
        store_status=FileSummary(),
        menu_hours=FileSummary(rows=10, duplicates=3, rejected=2).with_new(4),
        timezone=FileSummary(),
    ).to_dict()

    count_ingested(summary)

    after = {outcome: sample("ingest_rows_total", {**labels, "outcome": outcome}) for outcome in outcomes}
    counted = {outcome: after[outcome] - before[outcome] for outcome in after}
    assert counted == {"loaded": 4, "already_stored": 1, "duplicate": 3, "rejected": 2}
    # Every row is counted under exactly one outcome.
    assert sum(counted.values()) == summary["menu_hours"]["rows"]
