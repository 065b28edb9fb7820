"""``store-monitor serve``: the API under gunicorn, and on the embedded default a worker beside it.

gunicorn runs the app factory in each of its worker processes after the
fork, so every process has its own container and database engine.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from gunicorn import util as gunicorn_util
from gunicorn.app.base import BaseApplication

from domain.model.errors import clipped
from entrypoints.flask_app import UptimeFlask, create_app
from entrypoints.settings import Settings

if TYPE_CHECKING:
    from entrypoints.container import Container

_log = logging.getLogger("store_monitor.server")


class ApiServer(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type information
    def __init__(self, options: dict[str, Any]) -> None:
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> UptimeFlask:
        return create_app()


def write_json_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's own answer to a request it cannot parse (a request line over
    4 KB, a header over 8 KB, a NUL in a header...), as JSON like every other
    error of the API rather than gunicorn's HTML page; the request is echoed
    at most ``SHOWN_INPUT_CHARS`` characters."""
    body = json.dumps({"error": clipped(f"{reason}: {mesg}" if mesg else reason)}).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    gunicorn_util.write_nonblock(sock, head.encode("latin-1") + body)


# gunicorn's workers call ``util.write_error`` for requests that never reach the app.
gunicorn_util.write_error = write_json_error


def _child_exit(_server: Any, child: Any) -> None:
    # A gunicorn worker that exited keeps its counters; its live gauges go.
    from entrypoints.metrics import mark_process_dead

    mark_process_dead(int(child.pid))


def start_embedded_worker(concurrency: int) -> subprocess.Popen[bytes]:
    """A real Celery worker process beside the API; the only worker, so it also runs beat.

    It leads a process group of its own, so its pool and beat children can be
    stopped with it even when it was killed before it could stop them.
    """
    return subprocess.Popen(
        # It inherits this process's environment: the .env variables and the exported metrics folder.
        [sys.executable, "-m", "entrypoints.embedded_worker", str(os.getpid())]
        + ["--concurrency", str(concurrency), "--beat"],
        start_new_session=True,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    """Warm shutdown: the worker finishes the task in hand, then exits; then its whole group goes."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    _kill_group(process.pid)


def _kill_group(group: int) -> None:
    """Children left by a worker that died (pool processes, beat)."""
    try:
        os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        pass


HeartbeatAge = Callable[[int], "float | None"]


class HeartbeatReader:
    """Seconds since the worker process ``pid`` of this machine recorded its heartbeat; None if it never did.

    Its container is built at the first check and kept, but its connections are
    closed after each one: none is left for gunicorn's forked processes to inherit.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._container: Container | None = None

    def __call__(self, pid: int) -> float | None:
        if self._container is None:
            from entrypoints.container import make_container

            self._container = make_container(self._settings)
        try:
            beat = self._container.worker_registry().get(f"{socket.gethostname()}:{pid}")
        finally:
            self._container.engine().dispose()
        if beat is None:
            return None
        return (datetime.now(timezone.utc) - beat.seen_at).total_seconds()


class WorkerSupervisor:
    """Keeps one embedded worker running: a worker that dies, or whose heartbeat goes stale, is replaced.

    A worker alive but wedged (its heartbeat older than ``stale_after_s``,
    or none recorded ``startup_grace_s`` after its start) is killed with its
    group, and replaced like one that died. Restarts come at once the first
    time, then back off (up to ``MAX_BACKOFF_S``) while the worker keeps
    dying within a minute of its start.
    """

    POLL_S = 0.5
    MAX_BACKOFF_S = 30.0
    STABLE_S = 60.0

    def __init__(
        self,
        start: Callable[[], subprocess.Popen[bytes]],
        heartbeat_age: HeartbeatAge | None = None,
        stale_after_s: float = 15.0,
        startup_grace_s: float = 60.0,
    ) -> None:
        self._start = start
        self._heartbeat_age = heartbeat_age
        self._stale_after_s = stale_after_s
        self._startup_grace_s = startup_grace_s
        self._checked = time.monotonic()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._process = start()
        self._thread = threading.Thread(target=self._watch, name="worker-supervisor", daemon=True)

    @property
    def pid(self) -> int:
        return self._process.pid

    def __enter__(self) -> WorkerSupervisor:
        _log.info("embedded worker started (pid %d)", self._process.pid)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._thread.join()
        with self._lock:
            stop(self._process)

    def _watch(self) -> None:
        backoff = 0.0
        started = time.monotonic()
        while not self._stopping.wait(self.POLL_S):
            if self._process.poll() is None:
                if not self._wedged(time.monotonic() - started):
                    continue
                # Killed with its group; then replaced as a worker that died.
                _kill_group(self._process.pid)
                self._process.wait()
            _kill_group(self._process.pid)
            lived = time.monotonic() - started
            backoff = 0.0 if lived >= self.STABLE_S else min(self.MAX_BACKOFF_S, max(1.0, 2 * backoff))
            # No exit code: gunicorn's arbiter reaps every child of this
            # process, ours included, so poll() may only learn that it is gone.
            _log.warning(
                "embedded worker (pid %d) is gone; starting another in %.0f s", self._process.pid, backoff
            )
            if self._stopping.wait(backoff):
                return
            with self._lock:
                self._process = self._start()
            started = time.monotonic()
            _log.info("embedded worker started (pid %d)", self._process.pid)

    def _wedged(self, lived: float) -> bool:
        """Whether the running worker's heartbeat says it is stuck (checked every few seconds)."""
        now = time.monotonic()
        if self._heartbeat_age is None or now - self._checked < max(1.0, self._stale_after_s / 5):
            return False
        self._checked = now
        try:
            age = self._heartbeat_age(self._process.pid)
        except Exception as error:  # noqa: BLE001 - the database down says nothing about the worker
            _log.warning("embedded worker's heartbeat not readable: %s", error)
            return False
        if age is None:
            if lived < self._startup_grace_s:
                return False
            _log.warning(
                "embedded worker (pid %d) recorded no heartbeat in %.0f s: replacing it", self._process.pid, lived
            )
            return True
        if age <= self._stale_after_s:
            return False
        _log.warning(
            "embedded worker (pid %d) is alive but its heartbeat is %.0f s old: replacing it", self._process.pid, age
        )
        return True


def serve(
    settings: Settings, host: str, port: int, processes: int, threads: int, with_worker: bool, worker_concurrency: int
) -> None:
    lease = float(settings.lease_seconds)
    supervisor = (
        WorkerSupervisor(
            lambda: start_embedded_worker(worker_concurrency),
            HeartbeatReader(settings),
            stale_after_s=lease,
            startup_grace_s=max(60.0, 4 * lease),
        )
        if with_worker
        else contextlib.nullcontext()
    )
    with supervisor:
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
