"""What the benchmarks share: a command timed in a fresh process with its own peak memory, the
generated data, a table, the stack (started by the integration tests' launcher) and the load (Locust)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
STATUS_FILE = "store_status.csv"
# The real 2023 folder beside the repository, which the full-scale weeks are built on.
HOURS_FROM = REPO.parent / "shared" / "data" / "real-2023"
# One launcher of the stack for tests and benchmarks: the integration tests' own. Its processes start
# as new interpreters, as users start them (TEST_LAUNCH=fork: forked from preloaded libraries instead).
sys.path.insert(0, str(REPO / "tests" / "integration"))
os.environ.setdefault("TEST_LAUNCH", "exec")


@dataclass(frozen=True)
class Run:
    """One process that succeeded: wall-clock seconds, its peak resident memory (MiB), exit code, id."""

    seconds: float
    peak_mb: float
    returncode: int = 0
    pid: int = 0


def environment(**settings: str) -> dict[str, str]:
    """This environment with the checkout importable and ``settings`` over it."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            **settings}


def cli(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "entrypoints.cli", *arguments]


def measure(command: Sequence[str], env: Mapping[str, str], log: Path) -> Run:
    """``command`` in a fresh process (interpreter start and imports included); its peak RSS from ``wait4``.

    Linux counts the parent's resident size at the fork in the child's peak, so the caller stays
    small: it never loads the data (nor numpy) itself.
    """
    with log.with_suffix(".out").open("wb") as stdout, log.open("wb") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(list(command), cwd=REPO, env=dict(env), stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    if process.returncode != 0:
        tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:])
        raise SystemExit(f"{' '.join(command[1:4])} ... failed ({process.returncode}):\n{tail}")
    return Run(seconds, usage.ru_maxrss / 1024, pid=process.pid)  # ru_maxrss: KiB on Linux


def best(runs: Sequence[Run]) -> Run:
    """The fastest run, with the highest peak of them all."""
    return Run(min(run.seconds for run in runs), max(run.peak_mb for run in runs))


def generated(folder: Path, log: Path, weeks: int = 1, seed: int = 2023) -> Path:
    """``weeks`` weeks of the full-scale fleet in ``folder`` (made once, in a process of its own)."""
    if not (folder / STATUS_FILE).exists():
        print(f"generating {weeks} full-scale week(s) from {HOURS_FROM} ...", file=sys.stderr)
        measure([sys.executable, "-m", "benchmarks.generate_data", "--scale", "full", "--weeks", str(weeks),
                 "--seed", str(seed), "--hours-from", str(HOURS_FROM), "--out", str(folder)], environment(), log)
    return folder


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Aligned columns: the first to the left, the others (figures) to the right."""
    cells = [list(header), *[["-" if cell is None else str(cell) for cell in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
             for row in cells]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])


def group_peak_mb(group: int) -> float:
    """The highest peak resident memory (VmHWM, MiB) of the live processes of a process group."""
    peaks = [0]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError, IndexError, ValueError):  # gone meanwhile, or a kernel thread
            if int(stat.read_text().rsplit(")", 1)[1].split()[2]) == group:
                peaks.append(int((stat.parent / "status").read_text().split("VmHWM:")[1].split()[0]))
    return max(peaks) / 1024


@contextmanager
def postgres_schema(postgres_url: str) -> Iterator[tuple[str, str]]:
    """A URL whose tables live in a new schema, and the schema (dropped at the end)."""
    from sqlalchemy.engine import make_url

    from adapters.sqlalchemy.database import create_engine_for

    schema, admin = f"bench_{uuid.uuid4().hex[:12]}", create_engine_for(postgres_url)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        url = make_url(postgres_url)
        options = " ".join(filter(None, [str(url.query.get("options", "")), f"-csearch_path={schema}"]))
        yield url.update_query_dict({"options": options}).render_as_string(hide_password=False), schema
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


def locust(users: Sequence[str], host: str, count: int, seconds: float, work: Path,
           *options: str) -> tuple[dict[str, dict[str, Any]], dict[str, Any], Run]:
    """``count`` users of ``benchmarks/locustfile.py`` on ``host`` for ``seconds``, Locust in a process of its own.

    Its figures by kind of request (requests, errors, requests_per_s, p50_ms, p95_ms, p99_ms; latencies as
    Locust rounds them: to the ms under 100 ms, then to two digits), the triggers' outcome, and its process.
    """
    prefix = work / f"locust-{'-'.join(users).lower()}"
    command = [sys.executable, "-m", "locust", "-f", str(REPO / "benchmarks" / "locustfile.py"), "--headless",
               "--only-summary", "--host", host, "--users", str(count), "--spawn-rate", str(count), "--run-time",
               f"{seconds:g}s", "--stop-timeout", "60", "--exit-code-on-error", "0", "--loglevel", "WARNING",
               "--figures", f"{prefix}.json", *options, *users]
    run = measure(command, environment(), prefix.with_suffix(".log"))
    figures = json.loads(Path(f"{prefix}.json").read_text(encoding="utf-8"))
    return figures["requests"], figures["triggers"], run
