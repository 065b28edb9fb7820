"""What the API adds for its operators: one log line per request and ``GET /metrics``.

The request line gives the method, the path, the status and the duration in
milliseconds, never a header (the ``Authorization`` header holds the token)
nor the query string.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request

from domain.model.errors import clipped
from entrypoints import metrics
from entrypoints.logging_setup import report_id_var

request_logger = logging.getLogger("store_monitor.request")


def install(app: Flask) -> None:
    """Serve ``/metrics`` and log every request (the container's ``logs`` set the format up).

    Call it before the token check is installed, so a refused request is
    timed and logged too.
    """
    app.register_blueprint(metrics.bp)
    app.before_request(_start_clock)
    app.after_request(_log_request)
    app.teardown_request(_forget_report)


def _start_clock() -> None:
    g.request_started = time.perf_counter()


def _log_request(response: Response) -> Response:
    started = g.get("request_started")
    duration_ms = None if started is None else round((time.perf_counter() - started) * 1000.0, 2)
    path = clipped(request.path)  # a path is input, and may be long
    request_logger.info(
        "%s %s %d",
        request.method,
        path,
        response.status_code,
        extra={
            "method": request.method,
            "path": path,
            "status": response.status_code,
            "duration_ms": duration_ms,
        },
    )
    return response


def _forget_report(_: BaseException | None) -> None:
    # A server thread serves many requests: the next one starts with no report.
    report_id_var.set(None)
