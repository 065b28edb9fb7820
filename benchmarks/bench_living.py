"""Time and memory of ingestion and reports as the data lives: files that grow, history that piles up.

Scenarios, each step a fresh process measured like ``bench_report`` (wall
clock of the whole process, peak resident memory from ``wait4``):

* ``growth``: a status file of ``--weeks`` weeks (default 8) at full scale.
  The first ``weeks - 1`` weeks are ingested into a new SQLite file; then the
  same file, grown by the last week, is ingested again (``grown``), then once
  more unchanged (``unchanged``). ``alone`` ingests only the last week into a
  new database: what that week costs by itself. Then a report from the
  database with every week (``report``).
* ``year``: the file grows by one week at a time up to ``--weeks`` (e.g. 52);
  after each week it is ingested and a report is made. Each week's ingestion
  and report should cost what the first week's did.

Usage::

    python -m benchmarks.bench_living growth [--weeks 8] [--work DIR]
    python -m benchmarks.bench_living year --weeks 52 [--work DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.bench_report import DEFAULT_HOURS_FROM, REPO_ROOT, STATUS_FILE, Run, measure
from benchmarks.generate_data import MICROS_PER_DAY, WEEK_END_US

WEEK_US = 7 * MICROS_PER_DAY

HOURS_FILE = "menu_hours.csv"
TIMEZONE_FILE = "timezone.csv"


class Bench:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.env = dict(os.environ)
        self.env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), self.env.get("PYTHONPATH", "")]))
        self.logs = work / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def run(self, name: str, *arguments: str, database: Path | None = None) -> Run:
        """``store-monitor ARGUMENTS`` (or ``python -m ARGUMENTS`` for a module), measured."""
        env = dict(self.env)
        if database is not None:
            env["DATABASE_URL"] = f"sqlite:///{database}"
        self.count += 1
        command = [sys.executable, "-m", *arguments] if arguments[0].startswith("benchmarks.") else [
            sys.executable, "-m", "entrypoints.cli", *arguments
        ]
        run = measure(command, env, self.logs / f"{self.count:03d}-{name}.stderr")
        if run.returncode != 0:
            raise SystemExit(f"{name} failed ({run.returncode}):\n{run.stderr_tail}")
        return run

    def generate(self, weeks: int, seed: int) -> Path:
        """``weeks`` weeks of the full-scale fleet, in time order (see ``generate_data``)."""
        folder = self.work / f"generated-{weeks}"
        if not (folder / STATUS_FILE).exists():
            self.run(
                "generate", "benchmarks.generate_data", "--scale", "full", "--weeks", str(weeks),
                "--seed", str(seed), "--hours-from", str(DEFAULT_HOURS_FROM), "--out", str(folder),
            )
        return folder


def week_offsets(path: Path) -> list[int]:
    """The byte offset where each week of a generated status file starts, then the file's end.

    Weeks are written in time order (lines shuffled within a week), so the
    week of the line at an offset never falls as the offset grows: each
    boundary is found by a binary search over offsets.
    """
    size = path.stat().st_size
    with path.open("rb") as source:
        header_end = len(source.readline())

        def line_from(offset: int) -> tuple[int, int]:
            """The first line starting at or after ``offset``: its start and its week."""
            source.seek(max(offset - 1, 0))
            if offset > header_end:
                source.readline()  # the rest of the line ``offset`` falls in
            start = source.tell()
            line = source.readline()
            if not line:
                return size, 1 << 30
            stamp = line.rsplit(b",", 1)[1][:19].decode()
            instant = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
            micros = int(instant.timestamp()) * 1_000_000
            return start, 0 if micros <= WEEK_END_US else 1 + (micros - WEEK_END_US - 1) // WEEK_US

        offsets = [header_end]
        week = 1
        while True:
            low, high = offsets[-1], size
            while low < high:
                middle = (low + high) // 2
                if line_from(middle)[1] >= week:
                    high = middle
                else:
                    low = middle + 1
            start = line_from(low)[0]
            if start >= size:
                break
            offsets.append(start)
            week += 1
    return [*offsets, size]


def folder_with(path: Path, source: Path, *ranges: tuple[int, int]) -> Path:
    """A data folder at ``path``: ``source``'s hours and timezones, and these byte ranges of its status file.

    Copied a MiB at a time: this process stays small, as its size at each
    fork would count in the measured process's peak.
    """
    path.mkdir(parents=True, exist_ok=True)
    for name in (HOURS_FILE, TIMEZONE_FILE):
        shutil.copyfile(source / name, path / name)
    with (source / STATUS_FILE).open("rb") as whole, (path / STATUS_FILE).open("wb") as out:
        for start, end in ranges:
            whole.seek(start)
            left = end - start
            while left > 0:
                chunk = whole.read(min(left, 1 << 20))
                out.write(chunk)
                left -= len(chunk)
    return path


def row(title: str, run: Run, base: Run | None = None) -> str:
    ratio = f"{run.seconds / base.seconds:5.2f}" if base is not None else "     "
    return f"{title:<48} {run.seconds:8.2f} s {ratio} x  {run.peak_mb:7.0f} MiB"


def growth(bench: Bench, weeks: int, seed: int) -> None:
    source = bench.generate(weeks, seed)
    offsets = week_offsets(source / STATUS_FILE)
    header, last_week, end = (0, offsets[0]), (offsets[-2], offsets[-1]), offsets[-1]
    database = bench.work / "growth.db"
    data = folder_with(bench.work / "growth", source, (0, offsets[-2]))
    first = bench.run("ingest-first", "ingest", str(data), database=database)
    folder_with(data, source, (0, end))
    grown = bench.run("ingest-grown", "ingest", str(data), database=database)
    unchanged = bench.run("ingest-unchanged", "ingest", str(data), database=database)
    report = bench.run("report", "report", "--out", str(bench.work / "report.csv"), database=database)
    alone_data = folder_with(bench.work / "alone", source, header, last_week)
    alone = bench.run("ingest-alone", "ingest", str(alone_data), database=bench.work / "alone.db")
    print(f"{weeks} weeks, {end / 2**20:,.0f} MiB of polls; the last week {(last_week[1] - last_week[0]) / 2**20:,.0f} MiB")
    print(row(f"ingest the first {weeks - 1} weeks (new database)", first))
    print(row("ingest the last week alone (new database)", alone))
    print(row("ingest the file grown by the last week", grown, alone))
    print(row("ingest the same file unchanged", unchanged, alone))
    print(row(f"report from the database of {weeks} weeks", report))


def year(bench: Bench, weeks: int, seed: int) -> None:
    source = bench.generate(weeks, seed)
    offsets = week_offsets(source / STATUS_FILE)
    database = bench.work / "year.db"
    data = folder_with(bench.work / "year", source)
    ingests: list[Run] = []
    reports: list[Run] = []
    with (source / STATUS_FILE).open("rb") as whole, (data / STATUS_FILE).open("wb") as grown:
        for week, end in enumerate(offsets[1:], start=1):
            # The file grows as a poller appends: the header and every week up to this one.
            grown.write(whole.read(end - whole.tell()))
            grown.flush()
            ingests.append(bench.run(f"ingest-week-{week}", "ingest", str(data), database=database))
            reports.append(bench.run(f"report-week-{week}", "report", "--out", str(bench.work / "r.csv"), database=database))
            print(f"week {week:3d}: {row('ingest', ingests[-1])} | {row('report', reports[-1])}", flush=True)
    for name, runs in (("ingest", ingests), ("report", reports)):
        seconds = [run.seconds for run in runs]
        print(
            f"{name}: first {seconds[0]:.2f} s, median {statistics.median(seconds):.2f} s, "
            f"min {min(seconds):.2f} s, max {max(seconds):.2f} s "
            f"({max(seconds) / seconds[0]:.2f}x the first), peak {max(run.peak_mb for run in runs):.0f} MiB"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_living", description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", choices=("growth", "year"))
    parser.add_argument("--weeks", type=int, default=8)
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--work", type=Path, help="work folder, kept (default: a temporary one, removed)")
    args = parser.parse_args(argv)
    if args.weeks < 2:
        parser.error("--weeks must be at least 2")
    work = args.work or Path(tempfile.mkdtemp(prefix="store-monitor-living-"))
    try:
        bench = Bench(work)
        (growth if args.scenario == "growth" else year)(bench, args.weeks, args.seed)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
