"""Flower, the Celery monitor of the ``ops`` extra, starts against the service's app and answers HTTP."""

from __future__ import annotations

import http.client
import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from service_fixtures import ServiceRunner, free_port, wait_for

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("flower") is None, reason="flower is not installed (pip install -e '.[ops]')"
)


def answer(port: int, path: str) -> tuple[int, bytes] | None:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()
    except OSError:
        return None


def test_flower_starts_against_the_app_and_answers(tmp_path: Path) -> None:
    runner = ServiceRunner(tmp_path / "service")
    port = free_port()
    log_path = runner.logs / "flower.log"
    with log_path.open("ab") as log:
        flower = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "entrypoints.worker", "flower", "--address=127.0.0.1", f"--port={port}"],
            cwd=runner.folder,
            env=runner.environment(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def diagnostics() -> str:
        return log_path.read_text(encoding="utf-8", errors="replace")[-3000:]

    try:

        def answering() -> bool:
            if flower.poll() is not None:
                pytest.fail(f"flower exited with {flower.returncode}\n{diagnostics()}")
            return answer(port, "/healthcheck") is not None

        wait_for(answering, 60, "flower answering on its port", diagnostics)
        health = answer(port, "/healthcheck")
        page = answer(port, "/")
        assert health == (200, b"OK"), diagnostics()
        assert page is not None and page[0] == 200 and b"Flower" in page[1]
    finally:
        os.killpg(flower.pid, signal.SIGKILL)
        flower.wait(timeout=10)
