"""Access control: with API_TOKEN set, every request but /health needs ``Authorization: Bearer <token>``."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from fakes import App, AppMaker, RecordingWorkQueue, make_app
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from entrypoints.api_spec import BEARER_SCHEME
from entrypoints.container import build_container
from entrypoints.flask_app import bearer_token, create_app
from entrypoints.openapi import openapi_document
from entrypoints.settings import ConfigurationError

TOKEN = "s3cret-Token_0123456789abcdef"
JSON = "application/json"


@pytest.fixture
def queue() -> RecordingWorkQueue:
    return RecordingWorkQueue()


MakeClient = Callable[[str], FlaskClient]


@pytest.fixture
def make_client(make_app: AppMaker, queue: RecordingWorkQueue) -> MakeClient:
    """Makes the app's test client, with ``token`` as API_TOKEN ("" for none); its ports are in memory."""

    def make(token: str) -> FlaskClient:
        return make_app(App, environ={"API_TOKEN": token}, queue=queue).client

    return make


@pytest.fixture
def protected(make_client: MakeClient) -> FlaskClient:
    return make_client(TOKEN)


def bearer(token: str, scheme: str = "Bearer") -> dict[str, str]:
    return {"Authorization": f"{scheme} {token}"}


PROTECTED_REQUESTS = [
    ("POST", "/trigger_report"),
    ("GET", f"/get_report/{uuid.UUID(int=7)}"),
    ("GET", "/openapi.json"),
    # Neither an unknown route nor a wrong method tells anything without the token.
    ("GET", "/nope"),
    ("PUT", "/trigger_report"),
]


def assert_unauthorized(response: TestResponse) -> None:
    assert response.status_code == 401
    assert response.mimetype == JSON
    body = response.get_json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    assert TOKEN not in response.get_data(as_text=True)


# --- token off ---------------------------------------------------------------------------


def test_without_a_token_every_endpoint_is_open(make_client: MakeClient, queue: RecordingWorkQueue) -> None:
    client = make_client("")

    trigger = client.post("/trigger_report")

    assert trigger.status_code == 200
    assert queue.submitted == [trigger.get_json()["report_id"]]
    assert client.get(f"/get_report/{trigger.get_json()['report_id']}").status_code == 200
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/health").status_code == 200


def test_without_a_token_the_app_warns_once_that_the_api_is_open(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    client = make_client("")
    client.post("/trigger_report")

    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert [record.getMessage() for record in warnings] == [
        "API_TOKEN is not set: the API is open to anyone who can reach it"
    ]


# --- token on ----------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), PROTECTED_REQUESTS)
def test_a_request_without_the_header_is_401_json(
    protected: FlaskClient, queue: RecordingWorkQueue, method: str, path: str
) -> None:
    response = protected.open(path, method=method)

    assert_unauthorized(response)
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="store-monitor"'
    assert queue.submitted == []


@pytest.mark.parametrize(
    "header",
    [
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        f"Bearer {TOKEN.upper()}",
        "Bearer wrong",
        f"Bearer x{TOKEN}",
        f"Bearer {TOKEN} {TOKEN}",
        "Bearer é-ünïcode",
    ],
    ids=["longer", "shorter", "other-case", "other", "prefixed", "twice", "non-ascii"],
)
def test_a_wrong_token_is_401_invalid_token(protected: FlaskClient, queue: RecordingWorkQueue, header: str) -> None:
    response = protected.post("/trigger_report", headers={"Authorization": header})

    assert_unauthorized(response)
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="store-monitor", error="invalid_token"'
    assert queue.submitted == []


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Bearer ", TOKEN, f"Basic {TOKEN}", f"Token {TOKEN}", f"Bearer-{TOKEN}", f"{TOKEN} Bearer"],
    ids=["empty", "scheme-only", "scheme-and-space", "bare-token", "basic", "token-scheme", "dash", "reversed"],
)
def test_a_header_that_is_not_bearer_credentials_is_401(
    protected: FlaskClient, queue: RecordingWorkQueue, header: str
) -> None:
    response = protected.post("/trigger_report", headers={"Authorization": header})

    assert_unauthorized(response)
    assert queue.submitted == []


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_the_right_token_passes_whatever_the_case_of_bearer(
    protected: FlaskClient, queue: RecordingWorkQueue, scheme: str
) -> None:
    trigger = protected.post("/trigger_report", headers=bearer(TOKEN, scheme))

    assert trigger.status_code == 200
    report_id = trigger.get_json()["report_id"]
    assert queue.submitted == [report_id]
    poll = protected.get(f"/get_report/{report_id}", headers=bearer(TOKEN, scheme))
    assert poll.status_code == 200 and poll.get_json()["status"] == "Running"
    assert protected.get("/openapi.json", headers=bearer(TOKEN, scheme)).status_code == 200


def test_spaces_around_the_credentials_are_allowed(protected: FlaskClient) -> None:
    response = protected.get("/openapi.json", headers={"Authorization": f"  Bearer   {TOKEN}  "})

    assert response.status_code == 200


def test_with_the_token_errors_keep_their_own_status(protected: FlaskClient) -> None:
    headers = bearer(TOKEN)

    assert protected.get("/nope", headers=headers).status_code == 404
    assert protected.put("/trigger_report", headers=headers).status_code == 405
    assert protected.get(f"/get_report/{uuid.uuid4()}", headers=headers).status_code == 404
    assert protected.get("/get_report/not-a-uuid", headers=headers).status_code == 400


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, bearer(TOKEN)], ids=["none", "wrong", "right"])
def test_health_is_open_whatever_the_header(protected: FlaskClient, headers: dict[str, str]) -> None:
    response = protected.get("/health", headers=headers)

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "broker": "ok", "worker": "ok"}


def test_the_static_prefix_is_open_and_only_that_prefix(protected: FlaskClient) -> None:
    # The web page's files are served; a missing one is 404, not 401.
    assert protected.get("/static/app.js").status_code == 200
    assert protected.get("/static/nope.js").status_code == 404
    assert_unauthorized(protected.get("/staticx"))
    assert_unauthorized(protected.get("/health/"))


# --- the token never shows ---------------------------------------------------------------


def test_the_token_is_never_logged(make_client: MakeClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    client = make_client(TOKEN)
    client.post("/trigger_report", headers=bearer(TOKEN))
    client.post("/trigger_report", headers=bearer(TOKEN + "x"))
    client.post("/trigger_report")
    client.get(f"/get_report/{uuid.uuid4()}", headers=bearer(TOKEN))

    assert "API_TOKEN is set" in caplog.text
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert TOKEN not in caplog.text
    assert TOKEN[: len(TOKEN) // 2] not in caplog.text


@pytest.mark.parametrize("token", ["has space", "tab\there", "ünïcode", " leading"])
def test_an_unusable_token_is_a_configuration_error_that_hides_it(token: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        build_container({"API_TOKEN": token})

    assert "API_TOKEN" in str(raised.value)
    assert token.strip() not in str(raised.value)


def test_the_app_from_the_environment_reads_api_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("API_TOKEN", TOKEN)
    monkeypatch.setenv("DATABASE_URL", "sqlite:///" + str(tmp_path / "never-opened.db"))
    monkeypatch.setenv("BROKER_DIR", str(tmp_path / "broker"))
    monkeypatch.setenv("REPORTS_DIR", str(tmp_path / "reports"))
    app = create_app()
    try:
        client = app.test_client()
        assert_unauthorized(client.get("/openapi.json"))
        assert client.get("/openapi.json", headers=bearer(TOKEN)).status_code == 200
    finally:
        app.container.unwire()
        app.container.shutdown_resources()


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer abc", "abc"),
        ("Bearer   abc  ", "abc"),
        ("Bearer", None),
        ("Bearer ", None),
        ("Basic abc", None),
        ("", None),
        ("abc", None),
    ],
)
def test_bearer_token_parses_the_header(header: str, token: str | None) -> None:
    assert bearer_token(header) == token


# --- the OpenAPI document ----------------------------------------------------------------


def test_the_document_asks_every_operation_but_health_for_the_bearer_token() -> None:
    document = openapi_document()

    assert document["components"]["securitySchemes"][BEARER_SCHEME] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"][BEARER_SCHEME]["description"],
    }
    assert document["security"] == [{BEARER_SCHEME: []}]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if path == "/health":
                assert operation["security"] == []
                assert "401" not in operation["responses"]
            else:
                assert "security" not in operation, (method, path)
                assert operation["responses"]["401"]["content"][JSON]["schema"] == {
                    "$ref": "#/components/schemas/Error"
                }


def test_a_401_answer_is_the_documented_error_shape(protected: FlaskClient) -> None:
    response = protected.post("/trigger_report")

    documented = openapi_document()["paths"]["/trigger_report"]["post"]["responses"]["401"]
    assert response.mimetype in documented["content"]
    assert set(response.get_json()) == {"error"}
