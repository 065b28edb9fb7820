"""Redis as the broker: kombu's ``redis://`` transport, made to survive a broken connection.

A worker that stops (a warm shutdown, as a service manager asks for) gives
the messages it took but did not start back to their queue at once, so
another worker runs them now rather than after the visibility timeout.

When a worker's connection to Redis breaks, Celery closes it, and giving
those messages back needs the broken connection: kombu raised
``AttributeError: 'NoneType' object has no attribute 'hostname'`` and the
worker exited ("Unrecoverable error"), measured with Redis stopped for ten
seconds mid-report. A task that finishes after that point acknowledges its
message on the closed channel, which failed the same way
(``... has no attribute 'client'``). So on a broken connection this
transport neither gives messages back nor lets an acknowledgement fail:
such a message stays in Redis's index of unacknowledged messages, and Redis
hands it out again after the visibility timeout (a part computed twice
changes nothing), while the watchdog queues the units of lost messages again
once their leases expire.
"""

from __future__ import annotations

import logging
from typing import Any

from kombu.transport import TRANSPORT_ALIASES, redis, virtual
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# The broker URL scheme of this transport (``redis://`` URLs are rewritten to it).
SCHEME = "storemonitor-redis"

logger = logging.getLogger(__name__)


class QoS(redis.QoS):
    def restore_unacked(self, client: Any = None) -> None:
        try:
            super().restore_unacked(client)
        except (AttributeError, RedisConnectionError, RedisTimeoutError) as error:
            # The connection is broken (kombu's AttributeError names its missing address).
            logger.warning(
                "%d messages not given back to Redis (%s); it hands them out again after the visibility timeout",
                len(self._delivered or ()),
                error,
            )

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


class Transport(redis.Transport):
    Channel = Channel


TRANSPORT_ALIASES[SCHEME] = f"{__name__}:Transport"
