"""Hands units of work to Celery workers through the broker."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from kombu.exceptions import KombuError, OperationalError

from domain.ports.work import QueueUnavailable, WorkQueue

if TYPE_CHECKING:
    from celery import Celery

__all__ = ["CeleryWorkQueue"]


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0, "interval_max": 0}


class CeleryWorkQueue(WorkQueue):
    """Publishes a unit of work's message by task name (so the API needs no worker code), with its arguments."""

    def __init__(self, app: Celery) -> None:
        self._app = app

    def publish(self, task: str, args: Sequence[Any]) -> None:
        try:
            # One retry on a fresh connection, at once: a pooled connection
            # that a broker restart broke (RabbitMQ: "connection reset")
            # must not fail the publish; an unreachable broker still fails
            # within its connect timeout, not after kombu's retry loop.
            self._app.send_task(task, args=list(args), retry=True, retry_policy=PUBLISH_RETRY_POLICY)
        except (OperationalError, KombuError, OSError) as error:
            raise QueueUnavailable(f"the broker is unreachable ({_first_line(error)})") from error

    def ping(self) -> None:
        try:
            with self._app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=2)
        except (OperationalError, KombuError, OSError) as error:
            raise QueueUnavailable(f"the broker is unreachable ({_first_line(error)})") from error
