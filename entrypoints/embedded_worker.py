"""The embedded worker's process (``serve`` starts it): it becomes ``store-monitor worker``
that stops, warmly, when the ``serve`` that started it is gone.

A module of its own, importing nothing of the service: the process execs the
worker command at once, so it would import the API (``entrypoints.server``)
for nothing.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

# prctl(2) option: the signal this process gets when its parent dies.
_PR_SET_PDEATHSIG = 1


def run(parent: int, worker_arguments: list[str]) -> int:
    """Exec ``store-monitor worker WORKER_ARGUMENTS``, to be stopped when ``parent`` dies.

    In a session of its own it is out of reach of a signal to ``serve``'s
    group, so the kernel tells it when its parent dies (Linux's
    ``PR_SET_PDEATHSIG``); a parent that died before that was set shows as
    a changed parent process id.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:
        return 0
    # The death signal is kept across exec: the worker command runs in this process.
    os.execv(sys.executable, [sys.executable, "-m", "entrypoints.cli", "worker", *worker_arguments])


if __name__ == "__main__":
    sys.exit(run(int(sys.argv[1]), sys.argv[2:]))
