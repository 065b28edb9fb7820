"""The service's Redis transport, against a real Redis: what a consumer took and did not finish goes back.

The visibility timeout here is an hour, so a message seen again within the
test was given back by the transport, not handed out again by Redis.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from celery import Celery
from kombu import Connection
from kombu.simple import SimpleQueue
from service_fixtures import RedisServer, redis_server

from adapters.celery.app import make_celery

__all__ = ["redis_server"]

AN_HOUR_S = 3600
QUEUE = "redis-broker-test"


def broker(redis: RedisServer, tmp_path: Path) -> Celery:
    return make_celery(redis.url, None, AN_HOUR_S, tmp_path / "broker")


def take_and_leave(connection: Connection) -> None:
    """Put one message on the queue; this connection takes it and does not acknowledge it."""
    queue = connection.SimpleQueue(QUEUE)
    queue.put({"part": 1})
    message = queue.get(timeout=5)
    assert message.payload == {"part": 1} and not message.acknowledged


def test_a_consumer_that_stops_gives_back_what_it_took_and_did_not_finish(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    app = broker(redis_server, tmp_path)
    with app.connection_for_read() as first:
        take_and_leave(first)
        with app.connection_for_read() as other:
            with pytest.raises(SimpleQueue.Empty):
                other.SimpleQueue(QUEUE).get(timeout=0.5)  # taken: nobody else sees it yet

    # The first connection is closed: the message is in the queue again, at once.
    with app.connection_for_read() as second:
        again = second.SimpleQueue(QUEUE).get(timeout=5)
        assert again.payload == {"part": 1}
        again.ack()


def test_a_consumer_whose_redis_went_away_stops_without_an_error(
    redis_server: RedisServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    if not redis_server.controllable:
        pytest.skip("REDIS_URL's server cannot be stopped by the test")
    app = broker(redis_server, tmp_path)
    connection = app.connection_for_read()
    take_and_leave(connection)
    redis_server.stop()
    with caplog.at_level(logging.WARNING, logger="adapters.celery.redis_broker"):
        connection.close()  # kombu raised AttributeError here, and the worker exited
    assert "1 messages not given back to Redis" in caplog.text
