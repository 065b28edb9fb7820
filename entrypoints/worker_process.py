"""A worker process's own state: its container (built after the fork), who holds a lease,
the thread that keeps a lease, and the worker's heartbeat."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Iterable
from typing import Any, NoReturn

from celery.signals import worker_process_init, worker_ready, worker_shutdown
from celery.utils.log import get_task_logger

from domain.model.errors import UptimeError
from domain.use_cases.work import WorkTracker
from entrypoints.container import Container, make_container, utc_now
from entrypoints.settings import load_settings

logger = get_task_logger(__name__)


_process_container: Container | None = None


def process_container() -> Container:
    global _process_container
    if _process_container is None:
        # The environment (and .env) as this process sees it: read once, checked.
        _process_container = make_container(load_settings())
    return _process_container


@worker_process_init.connect
def _forget_parent_container(**_: Any) -> None:
    # A pool child starts from a copy of the parent; build afresh.
    global _process_container
    _process_container = None


def work_tracker() -> WorkTracker:
    return process_container().work_tracker()


def holder_id(pid: int | None = None) -> str:
    """Who holds a lease: this machine and process (``host:pid``)."""
    return f"{socket.gethostname()}:{os.getpid() if pid is None else pid}"


def holder_is_gone(holder: str) -> bool:
    """A holder on this machine whose process no longer exists (one elsewhere cannot be told)."""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class LeaseKeeper:
    """Renews a unit's lease every third of it, in a thread, while the task works."""

    def __init__(self, work: WorkTracker, unit_id: str, holder: str) -> None:
        self._work = work
        self._unit_id = unit_id
        self._holder = holder
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease {unit_id}", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        interval = self._work.lease.total_seconds() / 3
        while not self._stop.wait(interval):
            try:
                if not self._work.renew(self._unit_id, self._holder):
                    # Another worker does the unit now; this one's result, saved too, changes nothing.
                    logger.warning("%s: the lease was lost (taken again after it expired)", self._unit_id)
                    return
            except UptimeError as error:
                # The next renewal may pass; if none does, the lease expires and the unit is done again.
                logger.warning("%s: the lease could not be renewed: %s", self._unit_id, error)


# The status a worker exits with when its pool stopped taking tasks: its process manager
# (``serve``'s supervisor, systemd...) starts a fresh one.
POOL_STALLED_EXIT = 3


class PoolStall:
    """Tells a pool that stopped taking tasks: a received task kept waiting while a pool process was free.

    A last resort (a pool process forked while a lock was held: see
    ``_BEATING``): the worker goes on receiving tasks and none of them starts.
    Its main process still beats, so only the tasks' wait can tell.
    """

    def __init__(self) -> None:
        self._waiting_since: dict[str, float] = {}

    def stalled_for(self, waiting: Iterable[str], active: int, slots: int, now: float) -> float:
        """Seconds the longest-waiting of the ``waiting`` tasks has waited while fewer than ``slots`` were active."""
        if active >= slots:
            # A busy pool: tasks wait their turn, and their wait counts from when a process is free.
            self._waiting_since.clear()
            return 0.0
        ids = set(waiting)
        self._waiting_since = {task: self._waiting_since.get(task, now) for task in ids}
        return now - min(self._waiting_since.values(), default=now)


def _pool_load(consumer: Any) -> tuple[list[str], int, int] | None:
    """The ids of the tasks received and not started, the number started, and the pool's size; None if not known."""
    from celery.worker import state

    slots = getattr(getattr(consumer, "controller", None), "concurrency", None)
    if not isinstance(slots, int) or slots < 1:
        return None
    try:
        active = set(state.active_requests)
        waiting = [request.id for request in state.reserved_requests if request not in active]
    except RuntimeError:
        return None  # changed by the event loop while read here: the next beat looks again
    return waiting, len(active), slots


def _exit_stalled_worker() -> NoReturn:
    """End the worker and its pool at once: its received tasks go back to the broker, or the watchdog queues them."""
    from billiard.process import active_children

    for child in active_children():
        if child.pid is not None:
            os.kill(child.pid, signal.SIGKILL)
    os._exit(POOL_STALLED_EXIT)


class Heartbeat:
    """The worker's heartbeat: its main process records itself alive every ``WATCHDOG_SECONDS``.

    The consumer's event loop ticks a clock; a loop that stopped turning
    while connected to its broker (a wedged worker) stops the heartbeat, so
    ``serve`` replaces the worker and ``/health`` says no worker is alive. A
    consumer waiting for its broker to come back is alive: it beats on.

    A pool that has kept a received task waiting for two leases while one of
    its processes was free takes nothing any more: the worker exits with
    ``POOL_STALLED_EXIT``, for its process manager to start it afresh.
    """

    def __init__(self, work: WorkTracker, consumer: Any = None) -> None:
        self.work = work
        self.consumer = consumer
        self.worker_id = holder_id()
        self.started_at = utc_now()
        self.loop_tick = time.monotonic()
        self._pool_stall = PoolStall()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def tick(self) -> None:
        self.loop_tick = time.monotonic()

    def start(self) -> None:
        # The first beat too is the thread's: a database that keeps a write
        # waiting (a long SQLite transaction) must not hold up the worker's start.
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        try:
            self.work.leave(self.worker_id)
        except UptimeError:
            pass

    def _connected(self) -> bool:
        connection = getattr(self.consumer, "connection", None)
        try:
            return bool(connection is not None and connection.connected)
        except Exception:  # noqa: BLE001 - a connection that cannot say is not connected
            return False

    def beat(self) -> None:
        lease = self.work.lease.total_seconds()
        silent = time.monotonic() - self.loop_tick
        if silent > lease and self._connected():
            logger.warning("the worker's event loop has not turned for %.0f s: no heartbeat recorded", silent)
            return
        load = _pool_load(self.consumer)
        if load is not None:
            waiting, active, slots = load
            stalled = self._pool_stall.stalled_for(waiting, active, slots, time.monotonic())
            if stalled > 2 * lease:
                logger.error(
                    "the worker's pool has started none of the %d tasks it received for %.0f s though %d of its "
                    "%d processes are free: exiting (status %d) to be started afresh",
                    len(waiting),
                    stalled,
                    slots - active,
                    slots,
                    POOL_STALLED_EXIT,
                )
                self.stop()
                _exit_stalled_worker()
        try:
            self.work.beat(self.worker_id, socket.gethostname(), os.getpid(), self.started_at)
        except UptimeError as error:
            logger.warning("heartbeat not recorded: %s", error)

    def _run(self) -> None:
        while True:
            with _BEATING:
                self.beat()
            if self._stop.wait(self.work.watchdog_period.total_seconds()):
                return


# Held by the heartbeat thread while it beats (its database write, its log lines). The worker's
# main process forks a pool process whenever one exits: a child forked while this thread held a
# lock (a log stream's, a connection pool's) would wait for it forever, taking tasks and starting
# none. So a fork waits for the beat in hand, and the child starts with the lock free.
_BEATING = threading.Lock()
os.register_at_fork(before=_BEATING.acquire, after_in_parent=_BEATING.release, after_in_child=_BEATING.release)


_heartbeat: Heartbeat | None = None


@worker_ready.connect
def _start_heartbeat(sender: Any = None, **_: Any) -> None:
    global _heartbeat
    heartbeat = Heartbeat(work_tracker(), sender)
    timer = getattr(sender, "timer", None)
    if timer is not None:
        timer.call_repeatedly(1.0, heartbeat.tick)
    heartbeat.start()
    _heartbeat = heartbeat


@worker_shutdown.connect
def _stop_heartbeat(**_: Any) -> None:
    if _heartbeat is not None:
        _heartbeat.stop()
