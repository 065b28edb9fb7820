"""One log format for every process: the CLI, the API and the workers.

``configure_logging`` installs one handler on the root logger; each process
does it once, through the container's ``logs`` resource (``logging_resource``).
Each line has the time (UTC), the level, the logger, the message and, while a
report or a task is being handled, its ``report_id`` and ``task_id``: those come from
context variables that the views and the worker's task signals set, so no
call site has to pass them along. ``LOG_FORMAT`` picks ``kv`` (``key=value``
pairs, the default) or ``json`` (one object per line).

Secrets never reach a line: any text equal to a registered secret (the API
token) is replaced by ``[redacted]`` whatever logger wrote it.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, TextIO

LOG_FORMATS = ("kv", "json")
DEFAULT_LOG_LEVEL = "INFO"
DEFAULT_LOG_FORMAT = "kv"
REDACTED = "[redacted]"

report_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("report_id", default=None)
task_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("task_id", default=None)

# Fields a caller may add through ``extra=`` and that the line shows, in this order.
EXTRA_FIELDS = ("method", "path", "status", "duration_ms")
CONTEXT_FIELDS = ("report_id", "task_id")


class ContextFilter(logging.Filter):
    """Puts the current report and task ids on every record (None outside any)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "report_id", None) is None:
            record.report_id = report_id_var.get()
        if getattr(record, "task_id", None) is None:
            record.task_id = task_id_var.get()
        return True


def _fields(record: logging.LogRecord, secrets: tuple[str, ...]) -> dict[str, Any]:
    message = record.getMessage()
    if record.exc_info:
        message += "\n" + logging.Formatter().formatException(record.exc_info)
    fields: dict[str, Any] = {
        "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
        "level": record.levelname,
        "logger": record.name,
        "message": _redact(message, secrets),
    }
    for name in (*CONTEXT_FIELDS, *EXTRA_FIELDS):
        value = getattr(record, name, None)
        if value is not None:
            fields[name] = _redact(value, secrets) if isinstance(value, str) else value
    return fields


def _redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(secret for secret in secrets if secret)

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_fields(record, self.secrets), ensure_ascii=False, default=str)


class KeyValueFormatter(logging.Formatter):
    """``key=value`` pairs; a value with spaces, quotes or ``=`` is quoted JSON-style."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(secret for secret in secrets if secret)

    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{key}={_kv_value(value)}" for key, value in _fields(record, self.secrets).items())


def _kv_value(value: Any) -> str:
    text = str(value)
    if text and not any(character in text for character in ' "=\n\t\\'):
        return text
    return json.dumps(text, ensure_ascii=False)


class _Handler(logging.StreamHandler[TextIO]):
    """The handler this module installs, told apart from others (pytest's) on the root logger."""


def configure_logging(
    level: str = DEFAULT_LOG_LEVEL,
    fmt: str = DEFAULT_LOG_FORMAT,
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> logging.Handler:
    """Send every logger's records through one handler in format ``fmt``; safe to call again.

    Handlers installed by others stay; only this module's previous handler is replaced.
    """
    if fmt not in LOG_FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {fmt!r}")
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"LOG_LEVEL must be a logging level such as INFO or DEBUG, not {level!r}")
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _Handler):
            root.removeHandler(handler)
    handler = _Handler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(secrets) if fmt == "json" else KeyValueFormatter(secrets))
    handler.addFilter(ContextFilter())
    root.addHandler(handler)
    root.setLevel(numeric)
    # Flask's and gunicorn's loggers reach the root handler instead of their own.
    for name in ("werkzeug", "flask.app"):
        logging.getLogger(name).handlers.clear()
    return handler


def logging_resource(level: str, fmt: str, secret: str = "") -> Iterator[logging.Handler]:
    """The container's ``logs`` resource: ``configure_logging`` once per process, its handler gone at shutdown.

    ``secret`` (the API token) is replaced by ``[redacted]`` in every line.
    """
    handler = configure_logging(level, fmt, secrets=[secret])
    yield handler
    # Not in a ``finally``: only the container's shutdown removes it. A forked
    # pool process drops its parent's container, whose garbage-collected
    # resource must leave the logging it inherited in place.
    logging.getLogger().removeHandler(handler)


@contextmanager
def report_context(report_id: str | None) -> Iterator[None]:
    """Lines logged inside carry ``report_id``."""
    token = report_id_var.set(report_id)
    try:
        yield
    finally:
        report_id_var.reset(token)
