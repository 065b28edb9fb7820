"""The Celery application: broker settings for Redis, RabbitMQ or the embedded default.

The database, not the broker, is the record of the work (``domain.use_cases.work``):
a message only names a unit of work, and the watchdog queues again whatever
a lost worker or a lost message left undone. The broker settings only make
recovery quicker. Each was measured on this kind of machine:
- ``acks_late``: a task is acknowledged once it ran; with Redis or RabbitMQ,
  ``reject_on_worker_lost`` gives the task of a pool process that died back
  to the broker at once. The embedded file broker cannot give a message
  back (it deleted the file when it handed it out) and, rejected, it left
  the worker's prefetch window full: there the lost task is acknowledged,
  and its unit's lease is ended so the watchdog queues it again;
- ``worker_lost_wait``: a pool process's death is acted on after one second,
  not ten (until then, its task keeps a place of the prefetch window);
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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from celery import Celery

EMBEDDED_BROKER = "filesystem://"
BROKER_SOCKET_TIMEOUT_S = 2.0
TASK_QUEUE = "store-monitor"
AMQP_SCHEMES = ("amqp://", "amqps://", "pyamqp://")
WORKER_LOST_WAIT_S = 1.0


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
    # Imported here, not with the module: a command that queues nothing (the
    # CLI's report, ingest...) loads no Celery, kombu or redis (0.17 s of its
    # start); each transport below is imported by the branch that uses it.
    from celery import Celery

    app = Celery("store_monitor")
    transport_options: dict[str, Any]
    # Only a broker that can take a message back should be asked to.
    redelivers = True
    if not broker_url or broker_url == EMBEDDED_BROKER:
        redelivers = False
        # The embedded default: messages are files in one folder, so one
        # machine needs no broker server at all (kombu's transport, each
        # message written atomically: adapters/celery/filesystem.py).
        from adapters.celery import filesystem

        broker_folder.mkdir(parents=True, exist_ok=True)
        broker_url = f"{filesystem.SCHEME}://"
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
        from adapters.celery import redis_broker

        if broker_url.startswith("redis://"):
            broker_url = redis_broker.SCHEME + broker_url.removeprefix("redis")
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
        # Celery reads CELERY_BROKER_URL from the environment before its own
        # broker_url setting, so the service's Redis transport (and the
        # embedded broker's) would not apply where the URL comes from there;
        # connections take the read and write URLs, which the environment
        # does not override unless it names them too.
        broker_read_url=broker_url,
        broker_write_url=broker_url,
        broker_transport_options=transport_options,
        broker_connection_timeout=BROKER_SOCKET_TIMEOUT_S,
        broker_connection_retry_on_startup=True,
        # Progress and results live in the report registry, not in Celery.
        result_backend=result_backend or None,
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=redelivers,
        worker_lost_wait=WORKER_LOST_WAIT_S,
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
