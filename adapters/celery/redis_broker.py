"""Redis as the broker: kombu's ``redis://`` transport, without giving messages back on a broken connection.

When a worker's connection to Redis breaks, Celery closes it, and kombu's
channel then gives the worker's unacknowledged messages back to their
queue, which needs the broken connection: it raised
``AttributeError: 'NoneType' object has no attribute 'hostname'`` and the
worker exited ("Unrecoverable error"), measured with Redis stopped for ten
seconds mid-report. Nothing is lost by not giving them back there: Redis
hands them out again after the visibility timeout, and the watchdog queues
their units again once their leases expire.
"""

from __future__ import annotations

from kombu.transport import TRANSPORT_ALIASES, redis

# The broker URL scheme of this transport (``redis://`` URLs are rewritten to it).
SCHEME = "storemonitor-redis"


class Channel(redis.Channel):
    do_restore = False


class Transport(redis.Transport):
    Channel = Channel


TRANSPORT_ALIASES[SCHEME] = f"{__name__}:Transport"
