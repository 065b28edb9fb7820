"""What the benchmarks share: a command timed in a fresh process with its own peak memory, the
generated data, a table, the stack (started by the integration tests' launcher) and the load (Locust)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
STATUS_FILE = "store_status.csv"
# The real 2023 folder beside the repository, which the full-scale weeks are built on.
HOURS_FROM = REPO.parent / "shared" / "data" / "real-2023"
# One launcher of the stack for tests and benchmarks: the integration tests' own.
sys.path.insert(0, str(REPO / "tests" / "integration"))


@dataclass(frozen=True)
class Run:
    """One process: wall-clock seconds, its peak resident memory (MiB), exit code, last lines of its stderr."""

    seconds: float
    peak_mb: float
    returncode: int
    tail: str
    pid: int = 0


def environment(**settings: str) -> dict[str, str]:
    """This environment with the checkout importable and ``settings`` over it."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            **settings}


def cli(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "entrypoints.cli", *arguments]


def measure(command: Sequence[str], env: Mapping[str, str], log: Path, check: bool = True) -> Run:
    """``command`` in a fresh process (interpreter start and imports included); its peak RSS from ``wait4``.

    Linux counts the parent's resident size at the fork in the child's peak, so
    the caller stays small: it never loads the data (nor numpy) itself.
    """
    with log.with_suffix(".out").open("wb") as stdout, log.open("wb") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(list(command), cwd=REPO, env=dict(env), stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:])
    run = Run(seconds, usage.ru_maxrss / 1024, process.returncode, tail, process.pid)  # ru_maxrss: KiB on Linux
    if check and run.returncode != 0:
        raise SystemExit(f"{' '.join(command[1:4])} ... failed ({run.returncode}):\n{tail}")
    return run


def best(runs: Sequence[Run]) -> Run:
    """The fastest run, with the highest peak of them all."""
    fastest = min(runs, key=lambda run: run.seconds)
    return Run(fastest.seconds, max(run.peak_mb for run in runs), fastest.returncode, fastest.tail)


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
    """The highest peak resident memory (VmHWM) of the live processes of a process group, in MiB."""
    peak = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[2]) == group:
                status = (stat.parent / "status").read_text()
                peak = max(peak, int(status.split("VmHWM:")[1].split()[0]))
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile, or a kernel thread
    return peak / 1024


@dataclass(frozen=True)
class Load:
    """Locust's figures of one kind of request (or ``Aggregated``); latencies in ms, as Locust rounds them."""

    name: str
    requests: int
    errors: int
    requests_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


def locust(users: Sequence[str], host: str, count: int, seconds: float, work: Path,
           *options: str) -> tuple[dict[str, Load], dict[str, Any], Run]:
    """``count`` users of ``benchmarks/locustfile.py`` against ``host`` for ``seconds``, Locust in its own process.

    Its figures by kind of request, the triggers' outcome, and its own process.
    """
    prefix = work / f"locust-{'-'.join(users).lower()}"
    command = [
        sys.executable, "-m", "locust", "-f", str(REPO / "benchmarks" / "locustfile.py"), "--headless", "--only-summary",
        "--host", host, "--users", str(count), "--spawn-rate", str(count), "--run-time", f"{seconds:g}s",
        "--stop-timeout", "60", "--exit-code-on-error", "0", "--loglevel", "WARNING",
        "--figures", f"{prefix}.json", *options, *users,
    ]
    run = measure(command, environment(), prefix.with_suffix(".log"))
    figures = json.loads(Path(f"{prefix}.json").read_text(encoding="utf-8"))
    return {name: Load(name, **row) for name, row in figures["requests"].items()}, figures["triggers"], run
