"""The app on the container's real adapters (moved from the unit tests, which reach none)."""

from __future__ import annotations

import sys
from pathlib import Path

from dependency_injector import providers

from entrypoints.container import build_container
from entrypoints.flask_app import create_app

UNIT_TESTS = Path(__file__).resolve().parents[1] / "unit"
if str(UNIT_TESTS) not in sys.path:
    sys.path.insert(0, str(UNIT_TESTS))

from documented import check_documented  # noqa: E402


def test_the_app_connects_to_nothing_until_a_request_needs_it(tmp_path: Path) -> None:
    # Real adapters: a PostgreSQL server that is not there, the embedded broker.
    container = build_container(
        {},
        {
            "database_url": "postgresql://nobody@127.0.0.1:1/none",
            "reports_dir": str(tmp_path / "reports"),
            "broker_dir": str(tmp_path / "broker"),
        },
    )
    engine = container.engine
    assert isinstance(engine, providers.Resource)
    try:
        client = create_app(container).test_client()
        assert client.get("/openapi.json").status_code == 200
        assert not engine.initialized

        health = client.get("/health")
        check_documented(health, "get", "/health")
        assert health.status_code == 503
        body = health.get_json()
        assert body["database"] != "ok" and "\n" not in body["database"]
        assert body["broker"] == "ok"

        trigger = client.post("/trigger_report")
        check_documented(trigger, "post", "/trigger_report")
        assert trigger.status_code == 503
    finally:
        container.unwire()
        container.shutdown_resources()
