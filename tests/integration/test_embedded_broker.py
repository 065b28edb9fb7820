"""The embedded broker's message files: a reader never takes one half written."""

from __future__ import annotations

import threading
from pathlib import Path
from queue import Empty
from typing import Any

import pytest
from kombu import Connection

from adapters.celery.app import EMBEDDED_BROKER, make_celery
from adapters.celery.filesystem import SCHEME
from adapters.celery.redis_broker import SCHEME as REDIS_SCHEME

MESSAGES = 300
PAD = "x" * 50_000  # large messages widen the moment a file is open but not yet filled


def test_the_embedded_default_uses_the_atomic_transport(tmp_path: Path) -> None:
    for url in (None, "", EMBEDDED_BROKER):
        app = make_celery(url, None, 120, tmp_path / "broker")
        assert str(app.conf.broker_url).startswith(f"{SCHEME}://")
        assert app.conf.task_reject_on_worker_lost is False
    assert make_celery("redis://127.0.0.1:1/0", None, 120, tmp_path / "broker").conf.task_reject_on_worker_lost


@pytest.mark.parametrize("from_environment", [False, True])
def test_connections_take_the_services_transport_even_where_the_environment_names_the_broker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, from_environment: bool
) -> None:
    # Celery reads CELERY_BROKER_URL before its own broker_url setting.
    if from_environment:
        monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:1/0")
    redis_app = make_celery("redis://127.0.0.1:1/0", None, 120, tmp_path / "broker")
    assert redis_app.connection_for_read().transport_cls == REDIS_SCHEME
    assert redis_app.connection_for_write().transport_cls == REDIS_SCHEME
    if from_environment:
        monkeypatch.setenv("CELERY_BROKER_URL", EMBEDDED_BROKER)
    embedded = make_celery(EMBEDDED_BROKER, None, 120, tmp_path / "broker")
    assert embedded.connection_for_read().transport_cls == SCHEME
    assert embedded.connection_for_write().transport_cls == SCHEME


def test_messages_read_while_they_are_written_arrive_whole_and_once(tmp_path: Path) -> None:
    folder = tmp_path / "broker"
    folder.mkdir()
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder), "control_folder": str(folder / "c")}
    received: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    with Connection(f"{SCHEME}://", transport_options=options) as writing, Connection(
        f"{SCHEME}://", transport_options=options
    ) as reading:
        # The transport's own channels (kombu's typing knows only the generic one).
        writer: Any = writing.channel()
        reader: Any = reading.channel()

        def write() -> None:
            for number in range(MESSAGES):
                writer._put("q", {"n": number, "pad": PAD})

        def read() -> None:
            try:
                while len(received) < MESSAGES:
                    try:
                        received.append(reader._get("q"))
                    except Empty:
                        pass
            except BaseException as error:  # handed to the test below
                errors.append(error)

        threads = [threading.Thread(target=write), threading.Thread(target=read)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert errors == []
    assert sorted(message["n"] for message in received) == list(range(MESSAGES))
    assert all(message["pad"] == PAD for message in received)
    assert [path.name for path in folder.iterdir() if path.is_file()] == []
