"""Requests gunicorn refuses before the app sees them are answered in JSON too."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
from service_fixtures import REPO, ApiClient, ServiceRunner

SAMPLE_DATA = REPO / "data"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiClient]:
    """One API (no worker) over the sample data, for every malformed request."""
    folder = tmp_path_factory.mktemp("http-errors")
    runner = ServiceRunner(folder / "service", {"DATABASE_URL": f"sqlite:///{folder / 'store-monitor.sqlite3'}"})
    try:
        assert runner.run_cli("ingest", str(SAMPLE_DATA)).returncode == 0
        yield runner.start_api("--no-worker")
    finally:
        runner.close()


def raw_request(port: int, request: bytes) -> tuple[str, dict[str, str], bytes]:
    """Send ``request`` as it is; the status line, headers and body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, value in (line.split(":", 1) for line in lines)}
    return status, headers, body


MALFORMED = {
    "request line over 4 KB": (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    "header over 8 KB": (b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n", 431),
    "more than 100 headers": (
        b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(120)) + b"\r\n",
        431,
    ),
    "NUL in a header": (b"GET /health HTTP/1.1\r\nHost: x\r\nX-Nul: a\x00b\r\n\r\n", 400),
    "not HTTP at all": (b"\x16\x03\x01 hello\r\n\r\n", 400),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_request_gunicorn_refuses_gets_a_json_error(case: str, api: ApiClient) -> None:
    request, expected_status = MALFORMED[case]

    status, headers, body = raw_request(api.port, request)

    assert status.split()[1] == str(expected_status), status
    assert headers["content-type"] == "application/json"
    error = json.loads(body)["error"]
    assert isinstance(error, str) and error
    # The request is never echoed at length.
    assert len(error) < 300
