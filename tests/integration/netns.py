"""Hosts of their own for tests: Linux network namespaces linked by a bridge.

``Network`` builds one ``core`` namespace holding a bridge with the address
``198.18.0.1`` and, per worker host, a namespace linked to that bridge by a
veth pair (``198.18.0.11``, ``198.18.0.12``, ...). The addresses come from the
benchmarking range 198.18.0.0/15 (RFC 2544), no route leads anywhere else, and
nothing is added to the namespace the tests run in: traffic stays between
these namespaces and their loopbacks.

A process runs on a host under ``ip netns exec NAME`` (``Namespace.exec``);
the test itself opens sockets on a host with ``Namespace.entered``, which
moves only the calling thread into the namespace for the block (a socket
keeps the namespace it was created in).

``cut`` takes a host's link down at the bridge, as when a machine's cable is
pulled: its packets are dropped without a reset, and its open TCP
connections stay open on both sides, retransmitting, until ``heal``. The
host sees its link without carrier, so a new connection it tries fails
("No route to host") once ARP gives up, about 3 s later.

All of it needs root and ``ip netns``; ``require_netns`` skips a test that
cannot have them, saying why, unless ``REQUIRE_NETNS=1`` makes that a failure.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

CLONE_NEWNET = 0x40000000  # <sched.h>
NETWORK = "198.18.0"  # a /24 of RFC 2544's benchmarking range
PREFIX_LENGTH = 24
CORE_ADDRESS = f"{NETWORK}.1"
BRIDGE = "br0"
HOST_LINK = "eth0"  # a worker host's end of its link

_libc = ctypes.CDLL(None, use_errno=True)


def netns_unavailable() -> str | None:
    """Why this process cannot build namespaces, or None when it can (checked by building one)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is not on PATH"
    probe = f"sm-probe-{os.getpid()}"
    try:
        _ip("netns", "add", probe)
    except subprocess.CalledProcessError as error:
        return f"ip netns add failed: {error.stderr.strip() or error}"
    try:
        _ip("-n", probe, "link", "add", BRIDGE, "type", "bridge")
    except subprocess.CalledProcessError as error:
        return f"cannot make a bridge in a namespace: {error.stderr.strip() or error}"
    finally:
        _ip("netns", "del", probe, check=False)
    return None


def require_netns(*also_needed: tuple[bool, str]) -> None:
    """Skip (or, with ``REQUIRE_NETNS=1``, fail) unless namespaces and everything in ``also_needed`` are here.

    ``also_needed`` holds ``(present, reason when absent)`` pairs, e.g. a binary found on PATH.
    """
    reason = netns_unavailable()
    if reason is None:
        reason = next((why for present, why in also_needed if not present), None)
    if reason is None:
        return
    if os.environ.get("REQUIRE_NETNS") == "1":
        pytest.fail(f"REQUIRE_NETNS=1 but {reason}")
    pytest.skip(reason)


def _ip(*arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *arguments], capture_output=True, text=True, timeout=30, check=check)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"setns: {os.strerror(number)}")


@dataclass(frozen=True)
class Namespace:
    """One host: a network namespace with an address on the test network."""

    name: str
    address: str

    @property
    def exec(self) -> list[str]:
        """The command prefix that runs a program on this host."""
        return ["ip", "netns", "exec", self.name]

    def ip(self, *arguments: str) -> None:
        """``ip -n NAME ARGUMENTS``, failing with ip's message."""
        completed = _ip("-n", self.name, *arguments, check=False)
        if completed.returncode != 0:
            raise RuntimeError(f"ip -n {self.name} {' '.join(arguments)}: {completed.stderr.strip()}")

    @contextmanager
    def entered(self) -> Iterator[None]:
        """Run the block with the calling thread in this namespace: sockets it opens live on this host."""
        with open(f"/run/netns/{self.name}", "rb") as target, open("/proc/thread-self/ns/net", "rb") as home:
            _setns(target.fileno())
            try:
                yield
            finally:
                _setns(home.fileno())

    def free_port(self) -> int:
        """A TCP port that nothing on this host listens on right now."""
        with self.entered(), socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((self.address, 0))
            port: int = probe.getsockname()[1]
            return port


class Network:
    """A ``core`` host with a bridge, and worker hosts each linked to it; ``close`` removes them all."""

    def __init__(self, tag: str, workers: Sequence[str]) -> None:
        self.tag = tag
        self.core = Namespace(f"{tag}-core", CORE_ADDRESS)
        self.hosts = {
            name: Namespace(f"{tag}-{name}", f"{NETWORK}.{11 + index}") for index, name in enumerate(workers)
        }
        self._created: list[Namespace] = []

    def build(self) -> None:
        """Create the namespaces, the bridge and the links, all up."""
        for namespace in (self.core, *self.hosts.values()):
            _ip("netns", "add", namespace.name)
            self._created.append(namespace)
            namespace.ip("link", "set", "lo", "up")
        self.core.ip("link", "add", BRIDGE, "type", "bridge")
        self.core.ip("addr", "add", f"{self.core.address}/{PREFIX_LENGTH}", "dev", BRIDGE)
        self.core.ip("link", "set", BRIDGE, "up")
        for name, host in self.hosts.items():
            # The core's end is named after the host; the host's end is its eth0.
            self.core.ip("link", "add", name, "type", "veth", "peer", "name", HOST_LINK, "netns", host.name)
            self.core.ip("link", "set", name, "master", BRIDGE, "up")
            host.ip("addr", "add", f"{host.address}/{PREFIX_LENGTH}", "dev", HOST_LINK)
            host.ip("link", "set", HOST_LINK, "up")

    def cut(self, host: str) -> None:
        """Take ``host``'s link down at the bridge: from now on its packets are lost, without a reset."""
        self.core.ip("link", "set", host, "down")

    def heal(self, host: str) -> None:
        self.core.ip("link", "set", host, "up")

    def close(self) -> None:
        """Delete every namespace made (their links go with them); the processes in them must be gone first."""
        errors = []
        for namespace in reversed(self._created):
            completed = _ip("netns", "del", namespace.name, check=False)
            if completed.returncode != 0:
                errors.append(f"{namespace.name}: {completed.stderr.strip()}")
        self._created.clear()
        if errors:
            raise RuntimeError("could not delete namespaces: " + "; ".join(errors))

