"""``store-monitor serve``: the API under gunicorn, and on the embedded default a worker beside it.

gunicorn runs the app factory in each of its worker processes after the
fork, so every process has its own container and database engine.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

from gunicorn.app.base import BaseApplication

from entrypoints.flask_app import UptimeFlask, create_app


class ApiServer(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type information
    def __init__(self, options: dict[str, Any]) -> None:
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> UptimeFlask:
        return create_app()


def _child_exit(_server: Any, child: Any) -> None:
    # A gunicorn worker that exited keeps its counters; its live gauges go.
    from entrypoints.metrics import mark_process_dead

    mark_process_dead(int(child.pid))


def start_embedded_worker(concurrency: int) -> subprocess.Popen[bytes]:
    """A real Celery worker process beside the API; the only worker, so it also runs beat."""
    return subprocess.Popen(
        [sys.executable, "-m", "entrypoints.cli", "worker", "--concurrency", str(concurrency), "--beat"],
        env=os.environ.copy(),
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    """Warm shutdown: the worker finishes the task in hand, then exits."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def serve(host: str, port: int, processes: int, threads: int, with_worker: bool, worker_concurrency: int) -> None:
    worker = start_embedded_worker(worker_concurrency) if with_worker else None
    try:
        ApiServer(
            {
                "bind": f"{host}:{port}",
                "workers": processes,
                "threads": threads,
                "worker_class": "gthread" if threads > 1 else "sync",
                # Each request is logged by the app (entrypoints/observability.py), in the service's format.
                "accesslog": None,
                "child_exit": _child_exit,
                "timeout": 60,
                "graceful_timeout": 30,
            }
        ).run()
    finally:
        if worker is not None:
            stop(worker)
