"""Time and memory of the report pipeline against a pandas floor, side by side.

Steps, each run in a fresh Python process so that its peak memory is its own:

1. ``floor``: pandas merely reading the three CSV files (``dtype=str``) and
   parsing the status timestamps with ``pd.to_datetime`` (its fastest form:
   `` UTC`` cut, ``format="ISO8601"``);
2. ``offline``: ``store-monitor report --from-csv DIR --out F``;
3. ``ingest``: ``store-monitor ingest DIR`` into a fresh SQLite file;
4. ``sqlite``: ``store-monitor report --out F`` from that SQLite file;
5. ``ingest_pg`` and ``pg``: the same two on PostgreSQL, with ``--postgres URL``
   (its store-monitor tables are dropped first).

Each time is the best of ``--repeat`` runs (ingestion runs once: it needs an
empty database). Time is the wall clock of the whole process, interpreter
start and imports included, for the floor as for the others. Peak memory is
the process's maximum resident set size as the kernel reports it on exit.

The offline and database reports must be byte-identical.

Usage::

    python -m benchmarks.bench_report [--data DIR] [--postgres URL] [--keep] [--repeat N] [--json PATH]

Without ``--data`` the full-scale week is generated first (it needs
``../shared/data/real-2023``, see ``benchmarks/generate_data.py``).
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
STATUS_FILE = "store_status.csv"
# The real 2023 folder beside the repository, which the full-scale week is built on.
DEFAULT_HOURS_FROM = REPO_ROOT.parent / "shared" / "data" / "real-2023"
STEPS = ("floor", "offline", "ingest", "sqlite", "ingest_pg", "pg")
STEP_TITLES: Mapping[str, str] = {
    "floor": "floor: pandas read + to_datetime",
    "offline": "report --from-csv (offline)",
    "ingest": "ingest into SQLite",
    "sqlite": "report from SQLite",
    "ingest_pg": "ingest into PostgreSQL",
    "pg": "report from PostgreSQL",
}
# Each database step and the ingestion it needs first.
NEEDS = {"sqlite": "ingest", "pg": "ingest_pg"}
# Most a step may take, as a multiple of the floor's time.
TIME_TARGETS: Mapping[str, float] = {"offline": 1.5, "sqlite": 1.5, "ingest": 3.5}
PEAK_MEMORY_TARGET_MB = 1024
# Run by the ``ingest_pg`` step first, as ``python -c DROP_CODE``: an empty database.
DROP_CODE = """
from adapters.sqlalchemy.database import create_engine_for
from adapters.sqlalchemy.tables import metadata
metadata.drop_all(create_engine_for(__import__("os").environ["DATABASE_URL"]))
"""

# Run by the floor step as ``python -c FLOOR_CODE DIR``.
FLOOR_CODE = """
import sys
from pathlib import Path
import pandas as pd
folder = Path(sys.argv[1])
status = pd.read_csv(folder / "store_status.csv", dtype=str)
for name in ("menu_hours.csv", "timezone.csv"):
    if (folder / name).exists():
        pd.read_csv(folder / name, dtype=str)
stamps = status["timestamp_utc"].str.removesuffix(" UTC")
parsed = pd.to_datetime(stamps, format="ISO8601", utc=True, errors="coerce")
print(len(parsed))
"""


@dataclass(frozen=True)
class Run:
    """One process: wall-clock seconds, peak resident memory (MiB), exit code."""

    seconds: float
    peak_mb: float
    returncode: int
    stderr_tail: str


@dataclass
class StepResult:
    name: str
    title: str
    runs: list[Run] = field(default_factory=list)
    skipped: str | None = None

    @property
    def ok(self) -> bool:
        return bool(self.runs) and all(run.returncode == 0 for run in self.runs)

    @property
    def best_seconds(self) -> float | None:
        return min(run.seconds for run in self.runs) if self.ok else None

    @property
    def peak_mb(self) -> float | None:
        return max(run.peak_mb for run in self.runs) if self.runs else None

    @property
    def failure(self) -> str | None:
        failed = [run for run in self.runs if run.returncode != 0]
        if not failed:
            return None
        return f"exit code {failed[0].returncode}: {failed[0].stderr_tail}"


def measure(command: Sequence[str], env: Mapping[str, str], log: Path) -> Run:
    """Run ``command`` in a new process; its own peak RSS comes from ``wait4``.

    Linux counts the parent's resident size at the moment of the fork in the
    child's peak, so this process stays small: it never loads the data (nor
    numpy) itself. ``launcher_peak_mb`` tells how small.
    """
    with log.with_suffix(".stdout").open("wb") as stdout, log.open("wb") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(list(command), cwd=REPO_ROOT, env=dict(env), stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    # Popen did not reap the child itself; tell it the outcome.
    process.returncode = os.waitstatus_to_exitcode(status)
    tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:]
    # ru_maxrss is in KiB on Linux, bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    return Run(seconds, usage.ru_maxrss * scale / 2**20, process.returncode, "\n".join(tail))


def generate_week(out: Path, hours_from: Path, seed: int, log: Path) -> Run:
    """The full-scale week, generated in its own process so this one stays small."""
    command = [
        sys.executable, "-m", "benchmarks.generate_data", "--scale", "full",
        "--out", str(out), "--hours-from", str(hours_from), "--seed", str(seed),
    ]
    generation = measure(command, os.environ, log)
    print(log.with_suffix(".stdout").read_text(encoding="utf-8").strip(), file=sys.stderr)
    return generation


def _launcher_peak_mb() -> float:
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def _cli_available() -> bool:
    entrypoints = REPO_ROOT / "entrypoints"
    return (entrypoints / "cli.py").exists() or (entrypoints / "cli" / "__init__.py").exists()


def _count_rows(path: Path) -> int:
    lines = 0
    with path.open("rb") as source:
        while chunk := source.read(1 << 20):
            lines += chunk.count(b"\n")
    return max(lines - 1, 0)


@dataclass
class Benchmark:
    data: Path
    work: Path
    repeat: int
    steps: Sequence[str]
    postgres: str | None = None
    results: dict[str, StepResult] = field(default_factory=dict)
    reports_identical: bool | None = None

    def __post_init__(self) -> None:
        self.database = self.work / "bench.db"
        self.offline_report = self.work / "report-offline.csv"
        self.reports = {"sqlite": self.work / "report-sqlite.csv", "pg": self.work / "report-pg.csv"}
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH", "")]))
        env["DATABASE_URL"] = f"sqlite:///{self.database}"
        self.env = env
        self.pg_env = {**env, "DATABASE_URL": self.postgres or ""}

    def _cli(self, *arguments: str) -> list[str]:
        return [sys.executable, "-m", "entrypoints.cli", *arguments]

    def _command(self, step: str) -> list[str]:
        if step == "floor":
            return [sys.executable, "-c", FLOOR_CODE, str(self.data)]
        if step == "offline":
            return self._cli("report", "--from-csv", str(self.data), "--out", str(self.offline_report))
        if step in ("ingest", "ingest_pg"):
            return self._cli("ingest", str(self.data))
        return self._cli("report", "--out", str(self.reports[step]))

    def _run_step(self, step: str, times: int) -> StepResult:
        result = StepResult(step, STEP_TITLES[step])
        for attempt in range(times):
            if step == "ingest":
                for leftover in self.work.glob("bench.db*"):
                    leftover.unlink()
            env = self.pg_env if step in ("ingest_pg", "pg") else self.env
            if step == "ingest_pg":
                dropped = measure([sys.executable, "-c", DROP_CODE], env, self.work / "drop.stderr")
                if dropped.returncode != 0:
                    result.runs.append(dropped)
                    break
            run = measure(self._command(step), env, self.work / f"{step}-{attempt}.stderr")
            result.runs.append(run)
            print(f"  {step} run {attempt + 1}/{times}: {run.seconds:.2f} s, {run.peak_mb:.0f} MB"
                  + ("" if run.returncode == 0 else f", FAILED ({run.returncode})"), file=sys.stderr)
            if run.returncode != 0:
                break
        return result

    def run(self) -> None:
        cli = _cli_available()
        for step in STEPS:
            if step not in self.steps:
                continue
            if step != "floor" and not cli:
                self.results[step] = StepResult(step, STEP_TITLES[step], skipped="entrypoints.cli not found")
                continue
            if step in ("ingest_pg", "pg") and not self.postgres:
                self.results[step] = StepResult(step, STEP_TITLES[step], skipped="no --postgres URL")
                continue
            if step in NEEDS and not self.results.get(NEEDS[step], StepResult("", "")).ok:
                self.results[step] = StepResult(step, STEP_TITLES[step], skipped=f"needs a successful {NEEDS[step]}")
                continue
            self.results[step] = self._run_step(step, 1 if step.startswith("ingest") else self.repeat)
        made = [path for step, path in [("offline", self.offline_report), *self.reports.items()]
                if step in self.results and self.results[step].ok]
        if len(made) > 1:
            self.reports_identical = all(filecmp.cmp(made[0], path, shallow=False) for path in made[1:])

    def floor_seconds(self) -> float | None:
        floor = self.results.get("floor")
        return floor.best_seconds if floor is not None else None

    def rows(self) -> list[dict[str, Any]]:
        """One dict per step: what the table and the JSON show."""
        floor = self.floor_seconds()
        rows = []
        for name, result in self.results.items():
            best = result.best_seconds
            ratio = best / floor if best is not None and floor else None
            target = TIME_TARGETS.get(name)
            peak = result.peak_mb
            rows.append(
                {
                    "step": name,
                    "title": result.title,
                    "seconds": best,
                    "runs": [asdict(run) for run in result.runs],
                    "ratio_to_floor": ratio,
                    "peak_rss_mb": peak,
                    "time_target_ratio": target,
                    "time_pass": None if target is None or ratio is None else ratio <= target,
                    "memory_target_mb": PEAK_MEMORY_TARGET_MB,
                    # The floor is what pandas alone needs: measured, not judged.
                    "memory_pass": None if peak is None or not result.ok or name == "floor" else peak <= PEAK_MEMORY_TARGET_MB,
                    "skipped": result.skipped,
                    "failure": result.failure,
                }
            )
        return rows

    def passed(self) -> bool:
        """Every step that ran succeeded and met its targets, and the reports agree."""
        for row in self.rows():
            if row["failure"] or row["time_pass"] is False or row["memory_pass"] is False:
                return False
        return self.reports_identical is not False

    def to_json(self, generator_seconds: float | None) -> dict[str, Any]:
        return {
            "data": str(self.data),
            "status_rows": _count_rows(self.data / STATUS_FILE),
            "generator_seconds": generator_seconds,
            "launcher_peak_mb": _launcher_peak_mb(),
            "repeat": self.repeat,
            "python": platform.python_version(),
            "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
            "steps": self.rows(),
            "reports_identical": self.reports_identical,
            "passed": self.passed(),
        }


def _cell(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _verdict(value: bool | None) -> str:
    return "-" if value is None else ("pass" if value else "FAIL")


def format_table(summary: Mapping[str, Any]) -> str:
    header = ("step", "seconds", "runs", "x floor", "peak MiB", "time target", "time", "memory")
    lines = [header]
    for row in summary["steps"]:
        if row["skipped"]:
            lines.append((row["title"], "skipped: " + row["skipped"], "", "", "", "", "", ""))
            continue
        target = row["time_target_ratio"]
        lines.append(
            (
                row["title"],
                _cell(row["seconds"], 2) if not row["failure"] else "FAILED",
                str(len(row["runs"])),
                _cell(row["ratio_to_floor"], 2),
                _cell(row["peak_rss_mb"], 0),
                "-" if target is None else f"<= {target:g}x",
                _verdict(row["time_pass"]),
                _verdict(row["memory_pass"]),
            )
        )
    widths = [max(len(line[i]) for line in lines if not line[1].startswith("skipped")) for i in range(len(header))]
    text = []
    for line in lines:
        if line[1].startswith("skipped"):
            text.append(f"{line[0]:<{widths[0]}}  {line[1]}")
        else:
            text.append("  ".join(cell.ljust(width) if i == 0 else cell.rjust(width)
                                  for i, (cell, width) in enumerate(zip(line, widths))))
    text.insert(1, "-" * len(text[0]))
    text.append("")
    text.append(f"data: {summary['data']} ({summary['status_rows']:,} status rows)")
    if summary["generator_seconds"] is not None:
        text.append(f"generated in {summary['generator_seconds']:.1f} s")
    text.append(f"peak memory target: <= {PEAK_MEMORY_TARGET_MB:.0f} MiB per step")
    identical = summary["reports_identical"]
    text.append("offline and database reports byte-identical: "
                + {True: "yes", False: "NO", None: "not compared"}[identical])
    for row in summary["steps"]:
        if row["failure"]:
            text.append(f"{row['step']} failed: {row['failure']}")
    return "\n".join(text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_report", description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, help="input folder (default: generate the full-scale week)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (data, database, reports)")
    parser.add_argument("--postgres", metavar="URL",
                        help="also ingest into and report from this PostgreSQL database (its tables are dropped first)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per step, best kept (ingestion: 1)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated subset of {','.join(STEPS)}")
    parser.add_argument("--hours-from", type=Path, default=DEFAULT_HOURS_FROM,
                        help="real folder the full-scale week is generated from")
    parser.add_argument("--seed", type=int, default=2023, help="seed of the generated week")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed, too")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    steps = [step.strip() for step in args.steps.split(",") if step.strip()]
    unknown = sorted(set(steps) - set(STEPS))
    if unknown:
        parser.error(f"unknown steps: {', '.join(unknown)}")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.data is not None and not (args.data / STATUS_FILE).exists():
        parser.error(f"{args.data}: no {STATUS_FILE}")

    work = Path(tempfile.mkdtemp(prefix="store-monitor-bench-"))
    generator_seconds: float | None = None
    try:
        data: Path | None = args.data
        if data is None:
            print(f"generating the full-scale week from {args.hours_from} ...", file=sys.stderr)
            data = work / "data"
            generation = generate_week(data, args.hours_from.resolve(), args.seed, work / "generate.stderr")
            if generation.returncode != 0:
                print(f"error: could not generate the data (pass --data DIR):\n{generation.stderr_tail}",
                      file=sys.stderr)
                return 2
            generator_seconds = generation.seconds
        benchmark = Benchmark(data.resolve(), work, args.repeat, steps, args.postgres)
        benchmark.run()
        summary = benchmark.to_json(generator_seconds)
        print(format_table(summary))
        if args.json is not None:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        if args.keep:
            print(f"kept: {work}")
        broken = any(row["failure"] for row in summary["steps"]) or summary["reports_identical"] is False
        if broken or (args.strict and not summary["passed"]):
            return 1
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
