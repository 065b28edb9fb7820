"""How the tests start the project's commands: each in a process of its own.

A command started here is what ``python -m MODULE ARGUMENTS`` is: a process in a
session (process group) of its own, with the working directory, environment
and arguments it is given, its output in a file, its exit status for the test.

By default it is forked from a server process that has already imported the
libraries the service uses (``multiprocessing``'s forkserver, preloaded): a
new interpreter spends about a second of CPU importing them, and a run of the
suite starts some 400 commands. The child imports the project's own modules
afresh, as a new interpreter does. ``TEST_LAUNCH=exec`` starts every command
as a new interpreter instead, and so is a command that must start inside
another program (``ip netns exec``).
"""

from __future__ import annotations

import atexit
import functools
import io
import multiprocessing
import os
import runpy
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

CLI_MODULE = "entrypoints.cli"

# The libraries the service's commands import, heavy ones first. Only those
# whose import reads no setting a test varies: prometheus_client is left out,
# it chooses its multi-process mode from the environment when imported.
# "__main__" (the test run's own script, when it has one) is imported once by
# the server, not again by every child.
PRELOADED = (
    "__main__",
    "numpy",
    "pandas",
    "pyarrow",
    "pyarrow.csv",
    "sqlalchemy",
    "sqlalchemy.dialects.postgresql",
    "sqlalchemy.dialects.sqlite",
    "psycopg",
    "alembic",
    "pydantic",
    "pydantic_settings",
    "dependency_injector.containers",
    "dependency_injector.providers",
    "dependency_injector.wiring",
    "attrs",
    "pytz",
    "dotenv",
    "redis",
    "kombu",
    "kombu.transport.redis",
    "celery",
    "celery.app.base",
    "celery.apps.worker",
    "celery.worker.worker",
    "celery.concurrency.prefork",
    "billiard.pool",
    "flask",
    "spectree",
    "gunicorn.app.base",
    "gunicorn.arbiter",
    "gunicorn.workers.gthread",
)


class Child(Protocol):
    """What a test needs of a started process; ``subprocess.Popen`` has it too."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...


def _forks(fork: bool | None, prefix: Sequence[str]) -> bool:
    """Fork unless told not to, by ``fork`` or else by ``TEST_LAUNCH=exec``, or unless another program starts it."""
    if fork is None:
        fork = os.environ.get("TEST_LAUNCH", "fork") != "exec"
    return fork and not prefix


class ForkedChild:
    """A command forked from the preloaded server, with ``subprocess.Popen``'s manners."""

    def __init__(self, process: multiprocessing.process.BaseProcess) -> None:
        self._process = process

    @property
    def pid(self) -> int:
        assert self._process.pid is not None
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def poll(self) -> int | None:
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        if self._process.exitcode is None:
            raise subprocess.TimeoutExpired(str(self._process.name), timeout or 0.0)
        return self._process.exitcode


@functools.cache
def _context() -> multiprocessing.context.ForkServerContext:
    """The forkserver, told once what to import when it starts (on the first fork)."""
    context = multiprocessing.get_context("forkserver")
    assert isinstance(context, multiprocessing.context.ForkServerContext)
    context.set_forkserver_preload(list(PRELOADED))
    return context


def _fork(
    module: str, arguments: Sequence[str], cwd: Path, env: Mapping[str, str], stdout: Path, stderr: Path
) -> ForkedChild:
    process = _context().Process(
        target=_run_module, args=(module, list(arguments), str(cwd), dict(env), str(stdout), str(stderr))
    )
    process.start()
    return ForkedChild(process)


def _run_module(
    module: str, arguments: Sequence[str], cwd: str, env: Mapping[str, str], stdout: str, stderr: str
) -> None:
    """The forked child: become ``python -m MODULE ARGUMENTS`` with its own session, folder, environment and output."""
    os.setsid()
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    for fd, path, flags in ((0, os.devnull, os.O_RDONLY), (1, stdout, os.O_WRONLY), (2, stderr, os.O_WRONLY)):
        opened = os.open(path, flags | (os.O_CREAT | os.O_APPEND if fd else 0), 0o644)
        os.dup2(opened, fd)
        os.close(opened)
    # New streams on the new descriptors, as an interpreter started with this environment makes them.
    unbuffered = bool(env.get("PYTHONUNBUFFERED"))
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115 - the process's stdin until it exits
    sys.stdout, sys.stderr = (
        io.TextIOWrapper(
            open(fd, "wb", buffering=0 if unbuffered else -1, closefd=False),  # noqa: SIM115 - likewise
            encoding="utf-8",
            errors="backslashreplace" if fd == 2 else "strict",
            write_through=unbuffered,
            line_buffering=fd == 2 and not unbuffered,
        )
        for fd in (1, 2)
    )
    sys.argv = [module, *arguments]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    finally:
        atexit._run_exitfuncs()  # an interpreter runs them when it exits; multiprocessing's child does not
        sys.stdout.flush()
        sys.stderr.flush()


def start(
    arguments: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    log_path: Path,
    prefix: Sequence[str] = (),
    module: str = CLI_MODULE,
    fork: bool | None = None,
) -> Child:
    """``python -m MODULE ARGUMENTS`` in a session of its own, stdout and stderr appended to ``log_path``.

    ``fork``: forked from the preloaded server (the default unless ``TEST_LAUNCH=exec``) or a new interpreter.
    """
    if not _forks(fork, prefix):
        with log_path.open("ab") as log:
            return subprocess.Popen(
                [*prefix, sys.executable, "-m", module, *arguments],
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
    return _fork(module, arguments, cwd, env, log_path, log_path)


def run(
    arguments: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float = 300,
    prefix: Sequence[str] = (),
    module: str = CLI_MODULE,
    fork: bool | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command to its end, as ``subprocess.run(..., capture_output=True, text=True)`` does."""
    command = [*prefix, sys.executable, "-m", module, *arguments]
    if not _forks(fork, prefix):
        return subprocess.run(command, cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout)
    with tempfile.TemporaryDirectory(prefix="launch-") as folder:
        stdout, stderr = Path(folder) / "stdout", Path(folder) / "stderr"
        child = _fork(module, arguments, cwd, env, stdout, stderr)
        try:
            returncode = child.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            raise
        return subprocess.CompletedProcess(command, returncode, _read(stdout), _read(stderr))


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
