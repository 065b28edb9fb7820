"""The live API against its own OpenAPI document, with schemathesis.

One stack for the module, all real processes: a private redis-server, a
``store-monitor worker``, ``store-monitor serve`` over HTTP with API_TOKEN set,
and a SQLite file with a small generated sample ingested: its size does not
change what an answer must look like, and the worker computes every report and
trend the generated requests trigger. schemathesis reads ``/openapi.json`` from
the running server and, for every operation the document lists, sends
generated requests (valid ones, and ones the document forbids) with the bearer
token. Every answer must not be a server error, and its status, content type
and body must be ones the document declares.

Generated report and ingestion ids are random, so they meet "no such id";
the other states (Running, Complete, Failed) are then checked one by one with
ids the stack really has, against the same document.
"""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import requests

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is a dev extra: pip install -e '.[dev]'")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from service_fixtures import ServiceRunner, free_port, generate_sample, running_redis, wait_for  # noqa: E402

from adapters.sqlalchemy.database import create_engine_for  # noqa: E402
from adapters.sqlalchemy.registry import SqlAlchemyReportRegistry  # noqa: E402
from domain.model.ingestion import STATUS_FILE
from domain.model.report import Report, ReportStatus
from entrypoints.openapi import openapi_document  # noqa: E402

SAMPLE_STORES = 30
TOKEN = "schemathesis-token-1234"
AUTHORIZATION = {"Authorization": f"Bearer {TOKEN}"}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# For each operation and kind of data (valid, invalid).
EXAMPLES_PER_OPERATION = 40
POLL_TIMEOUT_S = 40.0

# Generated requests sent, and the statuses they got, per operation and kind; printed by the last test.
STATUSES_SEEN: dict[str, Counter[int]] = {}


@dataclass(frozen=True)
class Stack:
    runner: ServiceRunner
    base_url: str
    data: Path  # the folder ingested


def _health_answers(base_url: str) -> bool:
    try:
        return requests.get(f"{base_url}/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Redis, one worker and the API (token required) over a SQLite file holding a generated sample."""
    folder = tmp_path_factory.mktemp("schemathesis-stack")
    (folder / "db").mkdir()
    data = generate_sample(folder / "data", SAMPLE_STORES)
    runner = ServiceRunner(
        folder / "service",
        {
            "DATABASE_URL": f"sqlite:///{folder / 'db' / 'store-monitor.sqlite3'}",
            "REPORTS_DIR": str(folder / "reports"),
            "UPLOADS_DIR": str(folder / "uploads"),
            "API_TOKEN": TOKEN,
            "REPORT_CHUNK_SIZE": "100",
        },
    )
    runner.run_cli("ingest", str(data))
    with running_redis(folder / "redis") as server:
        runner.use_redis(server)
        try:
            runner.start_worker(concurrency=1)
            port = free_port()
            # Started here, not with ServiceRunner.start_api: that one waits on /openapi.json, which needs the token.
            api = runner.start(
                "api", "serve", "--host", "127.0.0.1", "--port", str(port), "--processes", "1", "--threads", "4"
            )
            base_url = f"http://127.0.0.1:{port}"

            def answering() -> bool:
                if not api.alive:
                    pytest.fail(f"the API exited before answering\n{runner.diagnostics()}")
                return _health_answers(base_url)

            wait_for(answering, 30, "the API answering GET /health", runner.diagnostics)
            yield Stack(runner, base_url, data)
        finally:
            runner.close()


@pytest.fixture(scope="module")
def api_schema(stack: Stack) -> Any:
    """The document the running server serves, read as a client would (with the token)."""
    loaded = schemathesis.openapi.from_url(f"{stack.base_url}/openapi.json", headers=AUTHORIZATION, timeout=10)
    loaded.config.update(base_url=stack.base_url)
    return loaded


def _operations() -> list[tuple[str, str]]:
    """(METHOD, path) of every operation in the document, built by the code the server runs."""
    paths = openapi_document()["paths"]
    return [(method.upper(), path) for path, operations in paths.items() for method in operations]


def _has_inputs(method: str, path: str) -> bool:
    """Whether an operation takes something that can be made invalid (a parameter or a body)."""
    operation = openapi_document()["paths"][path][method.lower()]
    return bool(operation.get("parameters") or operation.get("requestBody"))


GENERATED = [
    pytest.param(method, path, mode, id=f"{method} {path} {mode.value}")
    for method, path in _operations()
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or _has_inputs(method, path)
]


def test_the_tests_cover_every_operation_the_server_documents(stack: Stack, api_schema: Any) -> None:
    served = requests.get(f"{stack.base_url}/openapi.json", headers=AUTHORIZATION, timeout=10).json()
    documented = sorted((method.upper(), path) for path, operations in served["paths"].items() for method in operations)
    assert documented == sorted(_operations())
    for method, path in documented:
        assert api_schema[path][method].method.upper() == method  # schemathesis reads every one


@pytest.mark.parametrize(("method", "path", "mode"), GENERATED)
def test_every_operation_answers_as_its_document_says(
    api_schema: Any, stack: Stack, method: str, path: str, mode: GenerationMode
) -> None:
    """Generated requests, each answer checked against the document; sent with the token (else all are 401)."""
    operation = api_schema[path][method]
    statuses = STATUSES_SEEN.setdefault(f"{method} {path} {mode.value}", Counter())

    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def answers_as_documented(case: Any) -> None:
        response = case.call(headers=AUTHORIZATION, timeout=20)
        statuses[response.status_code] += 1
        case.validate_response(response, checks=CHECKS, headers=AUTHORIZATION)

    try:
        answers_as_documented()
    except BaseException:
        print(stack.runner.diagnostics())
        raise
    assert statuses, "no request was generated"


# --- The states a random id never reaches --------------------------------------------------


def _call(api_schema: Any, path: str, method: str, **case_fields: Any) -> Any:
    """One request built from the document's operation, sent with the token, checked like the generated ones."""
    case = api_schema[path][method].Case(**case_fields)
    return case.call_and_validate(headers=AUTHORIZATION, checks=CHECKS, timeout=20)


def _content_type(response: Any) -> str:
    values: list[str] = response.headers.get("content-type", [""])
    return values[0]


def _poll(api_schema: Any, stack: Stack, path: str, name: str, value: str) -> Any:
    """GET the state at ``path`` until it is no longer Running, every answer checked against the document."""
    deadline = time.monotonic() + POLL_TIMEOUT_S
    while True:
        response = _call(api_schema, path, "GET", path_parameters={name: value})
        if not (_content_type(response).startswith("application/json") and response.json()["status"] == "Running"):
            return response
        if time.monotonic() > deadline:
            pytest.fail(f"{path} {value} still Running after {POLL_TIMEOUT_S:.0f} s\n{stack.runner.diagnostics()}")
        time.sleep(0.05)


def test_a_triggered_report_conforms_until_its_csv_is_served(api_schema: Any, stack: Stack) -> None:
    report_id = _call(api_schema, "/trigger_report", "POST").json()["report_id"]
    finished = _poll(api_schema, stack, "/get_report/{report_id}", "report_id", report_id)
    assert finished.status_code == 200
    assert _content_type(finished).startswith("text/csv"), finished.text[:300]
    assert finished.text.startswith("store_id,uptime_last_hour,")


def test_a_triggered_trend_conforms_until_its_csv_and_its_json_are_served(api_schema: Any, stack: Stack) -> None:
    started = _call(api_schema, "/trigger_trend", "POST", body={"days": 14}, media_type="application/json")
    trend_id = started.json()["trend_id"]
    finished = _poll(api_schema, stack, "/get_trend/{trend_id}", "trend_id", trend_id)
    assert finished.status_code == 200
    assert _content_type(finished).startswith("text/csv"), finished.text[:300]
    assert finished.text.startswith("store_id,day,window_start_utc,")

    case = api_schema["/get_trend/{trend_id}"]["GET"].Case(path_parameters={"trend_id": trend_id})
    as_json = case.call_and_validate(headers={**AUTHORIZATION, "Accept": "application/json"}, checks=CHECKS, timeout=20)
    body = as_json.json()
    assert (body["status"], body["trend_id"], len(body["fleet"]), len(body["weeks"])) == ("Complete", trend_id, 14, 2)


def test_a_real_store_conforms_in_detail(api_schema: Any, stack: Stack) -> None:
    # Generated store ids are random text, so they all meet 404: this one has polls in the data.
    first_row = (stack.data / STATUS_FILE).read_text(encoding="utf-8-sig").splitlines()[1]
    store_id = first_row.split(",")[0].strip()
    response = _call(api_schema, "/stores/{store_id}", "GET", path_parameters={"store_id": store_id})
    assert response.status_code == 200, response.text


def _upload(api_schema: Any, stack: Stack, content: bytes) -> Any:
    """POST /ingest with a store_status file part (as curl -F sends it); the answer checked against the document."""
    response = requests.post(
        f"{stack.base_url}/ingest",
        files={"store_status": ("store_status.csv", content, "text/csv")},
        headers=AUTHORIZATION,
        timeout=20,
    )
    case = api_schema["/ingest"]["POST"].Case(body={"store_status": content.decode()}, media_type="multipart/form-data")
    case.validate_response(response, checks=CHECKS)
    assert response.status_code == 202, response.text
    return _poll(api_schema, stack, "/ingest/{ingest_id}", "ingest_id", response.json()["ingest_id"])


def test_an_ingestion_conforms_when_complete_and_when_failed(api_schema: Any, stack: Stack) -> None:
    complete = _upload(api_schema, stack, (stack.data / STATUS_FILE).read_bytes())
    state = complete.json()
    assert state["status"] == "Complete" and state["summary"]["store_status"]["rows"] > 0, state

    # Without its timestamp column the file is refused: the ingestion fails with the reason.
    failed = _upload(api_schema, stack, b"store_id,status\ns1,active\n")
    state = failed.json()
    assert state["status"] == "Failed" and "timestamp_utc" in state["error"], state


def test_an_upload_built_from_the_document_is_accepted(api_schema: Any, stack: Stack) -> None:
    # The file parts as schemathesis builds them from the document alone: they must be what the server wants.
    content = (stack.data / STATUS_FILE).read_bytes()
    started = _call(api_schema, "/ingest", "POST", body={"store_status": content}, media_type="multipart/form-data")
    assert started.status_code == 202, started.text
    finished = _poll(api_schema, stack, "/ingest/{ingest_id}", "ingest_id", started.json()["ingest_id"])
    assert finished.json()["status"] == "Complete", finished.text


def _add_report(stack: Stack, report: Report) -> None:
    """A report put straight into the stack's registry: a state the worker would take long to reach."""
    engine = create_engine_for(stack.runner.settings["DATABASE_URL"])
    try:
        SqlAlchemyReportRegistry(engine).add(report)
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("status", "fields", "expected_status"),
    [
        # Planned, one part done; never queued, so it stays Running.
        (ReportStatus.RUNNING, {"progress_done": 1, "progress_total": 3}, 200),
        (ReportStatus.FAILED, {"error": "a reason given by the test"}, 200),
        # Complete, but its file is not in REPORTS_DIR: the documented 500.
        (ReportStatus.COMPLETE, {"report_path": "gone.csv"}, 500),
    ],
    ids=["running", "failed", "complete-without-its-file"],
)
def test_a_report_in_each_state_conforms(
    api_schema: Any, stack: Stack, status: ReportStatus, fields: dict[str, Any], expected_status: int
) -> None:
    now = datetime.now(timezone.utc)
    report_id = str(uuid.uuid4())
    finished_at = None if status is ReportStatus.RUNNING else now
    _add_report(stack, Report(report_id, status, created_at=now, updated_at=now, finished_at=finished_at, **fields))
    case = api_schema["/get_report/{report_id}"]["GET"].Case(path_parameters={"report_id": report_id})
    response = case.call(headers=AUTHORIZATION, timeout=10)
    # The 500 is documented: every other check still applies to it.
    case.validate_response(response, checks=[check for check in CHECKS if check is not not_a_server_error])
    assert response.status_code == expected_status, response.text
    body = response.json()
    if status is ReportStatus.RUNNING:
        assert body == {"status": "Running", "progress": {"done": 1, "total": 3}}
    elif status is ReportStatus.FAILED:
        assert body == {"status": "Failed", "error": "a reason given by the test"}
    else:
        assert "gone.csv" in body["error"], body


def test_without_the_token_the_answers_are_documented_401s(api_schema: Any) -> None:
    for method, path in _operations():
        if path == "/health":
            continue
        # Any id will do (a UUID is a valid store id too): the token is checked first.
        ids = {name: str(uuid.uuid4()) for name in re.findall(r"{(\w+)}", path)}
        case = api_schema[path][method].Case(path_parameters=ids or None)
        response = case.call(timeout=10)
        assert response.status_code == 401, (method, path, response.text)
        case.validate_response(response, checks=CHECKS)
    health = api_schema["/health"]["GET"].Case().call(timeout=10)
    assert health.status_code == 200


def test_how_many_requests_were_sent(capsys: pytest.CaptureFixture[str]) -> None:
    """Runs last: prints the generated requests sent per operation, and the statuses they got."""
    with capsys.disabled():
        total = sum(sum(statuses.values()) for statuses in STATUSES_SEEN.values())
        print(f"\nschemathesis: {total} generated requests")
        for label, statuses in sorted(STATUSES_SEEN.items()):
            print(f"  {label}: {dict(sorted(statuses.items()))}")
    assert all(STATUSES_SEEN.values())
