"""Redis as the broker: kombu's ``redis://`` transport, made to survive a broken connection.

When a worker's connection to Redis breaks, Celery closes it, and kombu's
channel then gives the worker's unacknowledged messages back to their
queue, which needs the broken connection: it raised
``AttributeError: 'NoneType' object has no attribute 'hostname'`` and the
worker exited ("Unrecoverable error"), measured with Redis stopped for ten
seconds mid-report. A task that finishes after that point acknowledges its
message on the closed channel, which failed the same way
(``... has no attribute 'client'``). So this transport neither gives
messages back on a broken connection nor lets an acknowledgement on one
fail: such a message stays in Redis's index of unacknowledged messages, and
Redis hands it out again after the visibility timeout (a part computed twice
changes nothing), while the watchdog queues the units of lost messages again
once their leases expire.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import TRANSPORT_ALIASES, redis, virtual
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# The broker URL scheme of this transport (``redis://`` URLs are rewritten to it).
SCHEME = "storemonitor-redis"


class QoS(redis.QoS):
    def ack(self, delivery_tag: Any) -> None:
        self._settle(delivery_tag, lambda: super(QoS, self).ack(delivery_tag))

    def reject(self, delivery_tag: Any, requeue: bool = False) -> None:
        self._settle(delivery_tag, lambda: super(QoS, self).reject(delivery_tag, requeue))

    def _settle(self, delivery_tag: Any, settle: Any) -> None:
        if self.channel.connection is not None:
            try:
                settle()
                return
            except (RedisConnectionError, RedisTimeoutError):
                pass
        # Redis cannot be told: forget the message here only; Redis hands it out again.
        virtual.QoS.ack(self, delivery_tag)


class Channel(redis.Channel):
    QoS = QoS
    do_restore = False


class Transport(redis.Transport):
    Channel = Channel


TRANSPORT_ALIASES[SCHEME] = f"{__name__}:Transport"
