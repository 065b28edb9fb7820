"""The embedded broker: kombu's ``filesystem://`` transport, with each message file written atomically.

kombu writes a message into its final file name, then fills it. A worker
polling the folder can take the file in between (it renames it away without
waiting for the writer's lock) and read it empty: measured here with
messages published by the workers themselves (the parts of a plan, the
watchdog's), it crashed the worker with ``JSONDecodeError`` and lost the
message. Here a message is written to a name no queue matches, then renamed
into place, so a reader sees a whole message or none.
"""

from __future__ import annotations

import os
import uuid
from contextlib import suppress
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

# The broker URL scheme of this transport.
SCHEME = "storemonitor-filesystem"


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: dict[str, Any], **kwargs: Any) -> None:  # type: ignore[override]  # kombu-stubs disagree with themselves
        """Put a message on ``queue``: complete under a temporary name, then renamed into the queue."""
        folder = self.data_folder_out
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        # A leading dot: "<uuid>.partial" after the first dot matches no "<queue>.msg".
        partial = os.path.join(folder, f".{uuid.uuid4()}.partial")
        try:
            with open(partial, "wb") as out:
                out.write(str_to_bytes(dumps(payload)))
            os.rename(partial, os.path.join(folder, name))
        except OSError as exc:
            with suppress(OSError):
                os.remove(partial)
            raise ChannelError(f"Cannot add file {name!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel


TRANSPORT_ALIASES[SCHEME] = f"{__name__}:Transport"
