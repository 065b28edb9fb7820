"""The Celery application: broker settings for Redis, RabbitMQ or the embedded default.

Reliability settings, each measured on this kind of machine:
- ``acks_late`` + ``reject_on_worker_lost``: a task whose worker process dies
  is delivered again instead of being lost;
- Redis ``visibility_timeout``: a task taken by a worker that vanished comes
  back after this many seconds; it must stay longer than any task runs, or a
  running task is delivered twice (parts are idempotent, so that only wastes
  work);
- short socket timeouts: with Redis down or hanging, publishing fails within
  about two seconds instead of retrying for a minute;
- RabbitMQ (``amqp://``): publisher confirms, and the connect timeout
  (``broker_connection_timeout``) bounds a publish to an unreachable server.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from celery import Celery

EMBEDDED_BROKER = "filesystem://"
BROKER_SOCKET_TIMEOUT_S = 2.0
TASK_QUEUE = "store-monitor"
AMQP_SCHEMES = ("amqp://", "amqps://", "pyamqp://")


def make_celery(
    broker_url: str | None,
    result_backend: str | None,
    visibility_timeout_s: int,
    broker_folder: Path,
    periodic_tasks: Mapping[str, float] | None = None,
) -> Celery:
    """A configured Celery app; no connection is made until it publishes or consumes.

    ``periodic_tasks`` maps task names to their period in seconds; ``celery
    beat`` (``store-monitor worker --beat``) sends them.
    """
    app = Celery("store_monitor")
    transport_options: dict[str, Any]
    if not broker_url or broker_url == EMBEDDED_BROKER:
        # The embedded default: messages are files in one folder, so one
        # machine needs no broker server at all.
        broker_folder.mkdir(parents=True, exist_ok=True)
        broker_url = EMBEDDED_BROKER
        transport_options = {
            "data_folder_in": str(broker_folder),
            "data_folder_out": str(broker_folder),
            # Exchange tables too (kombu's default is ``control/`` in the
            # working directory): the embedded broker keeps all it has here.
            "control_folder": str(broker_folder / "control"),
            "store_processed": False,
            "polling_interval": 0.1,
        }
    elif broker_url.startswith(AMQP_SCHEMES):
        # RabbitMQ redelivers an unacknowledged task when its consumer's
        # connection closes, so it needs no visibility timeout; the Redis
        # options would be passed to the AMQP connection and refused.
        transport_options = {
            # A publish returns once RabbitMQ has the message, not before.
            "confirm_publish": True,
            "max_retries": 1,
        }
    else:
        transport_options = {
            "visibility_timeout": visibility_timeout_s,
            # How often a worker looks for tasks whose worker vanished: by
            # default only every ~100 s, far longer than the timeout itself.
            "unacked_restore_interval": max(1, min(10, visibility_timeout_s // 4)),
            "unacked_restore_throttle": 1,
            "socket_timeout": BROKER_SOCKET_TIMEOUT_S,
            "socket_connect_timeout": BROKER_SOCKET_TIMEOUT_S,
            "max_retries": 1,
        }
    app.conf.update(
        broker_url=broker_url,
        broker_transport_options=transport_options,
        broker_connection_timeout=BROKER_SOCKET_TIMEOUT_S,
        broker_connection_retry_on_startup=True,
        # Progress and results live in the report registry, not in Celery.
        result_backend=result_backend or None,
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=TASK_QUEUE,
        task_serializer="json",
        accept_content=["json"],
        worker_hijack_root_logger=False,
        beat_schedule={
            name: {"task": name, "schedule": float(period)} for name, period in (periodic_tasks or {}).items()
        },
    )
    return app
