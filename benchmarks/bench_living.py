"""Time and memory as the data lives: files that grow, history that piles up, trends over it.

Each step is a fresh process (wall clock of the whole process, its own peak memory from ``wait4``):

* ``growth``: a status file of ``--weeks`` weeks (default 8) at full scale. The first
  ``weeks - 1`` weeks are ingested into a new SQLite file; then the same file, grown by the last
  week, is ingested again, then once more unchanged; beside it, the last week alone into a new
  database; then a report from the database of every week.
* ``year``: the file grows by one week at a time up to ``--weeks`` (e.g. 52); after each week it
  is ingested and a report is made. Each week should cost what the first one did.
* ``trend``: ``--weeks`` weeks (e.g. 4) ingested; the report and the fleet's trend of ``--days``
  days (best of ``--repeat``), then one store's trend over HTTP (``serve --no-worker``) for
  ``--stores`` stores spread over the fleet, one request at a time after ten untimed ones.

Usage::

    python -m benchmarks.bench_living growth [--weeks 8] [--work DIR]
    python -m benchmarks.bench_living year --weeks 52 [--work DIR]
    python -m benchmarks.bench_living trend --weeks 4 [--days 28] [--repeat 3] [--stores 50] [--work DIR]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.common import STATUS_FILE, Run, best, cli, environment, generated, measure
from benchmarks.generate_data import HOURS_FILE, MICROS_PER_DAY, TIMEZONE_FILE, WEEK_END_US

WEEK_US = 7 * MICROS_PER_DAY
WARM_UP = 10  # requests sent before the timed ones: each API process loads the calculator on its first trend


class Bench:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.logs = work / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def run(self, name: str, database: Path, *arguments: str) -> Run:
        """``store-monitor ARGUMENTS`` on the SQLite file ``database``, measured."""
        self.count += 1
        env = environment(DATABASE_URL=f"sqlite:///{database}")
        return measure(cli(*arguments), env, self.logs / f"{self.count:03d}-{name}.log")


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


def growth(bench: Bench, source: Path, args: argparse.Namespace) -> None:
    offsets = week_offsets(source / STATUS_FILE)
    header, last_week, end = (0, offsets[0]), (offsets[-2], offsets[-1]), offsets[-1]
    database = bench.work / "growth.db"
    data = folder_with(bench.work / "growth", source, (0, offsets[-2]))
    first = bench.run("ingest-first", database, "ingest", str(data))
    folder_with(data, source, (0, end))
    grown = bench.run("ingest-grown", database, "ingest", str(data))
    unchanged = bench.run("ingest-unchanged", database, "ingest", str(data))
    report = bench.run("report", database, "report", "--out", str(bench.work / "report.csv"))
    alone_data = folder_with(bench.work / "alone", source, header, last_week)
    alone = bench.run("ingest-alone", bench.work / "alone.db", "ingest", str(alone_data))
    weeks = args.weeks
    print(f"{weeks} weeks, {end / 2**20:,.0f} MiB of polls; the last week {(last_week[1] - last_week[0]) / 2**20:,.0f} MiB")
    print(row(f"ingest the first {weeks - 1} weeks (new database)", first))
    print(row("ingest the last week alone (new database)", alone))
    print(row("ingest the file grown by the last week", grown, alone))
    print(row("ingest the same file unchanged", unchanged, alone))
    print(row(f"report from the database of {weeks} weeks", report))


def year(bench: Bench, source: Path, args: argparse.Namespace) -> None:
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
            ingests.append(bench.run(f"ingest-week-{week}", database, "ingest", str(data)))
            reports.append(bench.run(f"report-week-{week}", database, "report", "--out", str(bench.work / "r.csv")))
            print(f"week {week:3d}: {row('ingest', ingests[-1])} | {row('report', reports[-1])}", flush=True)
    for name, runs in (("ingest", ingests), ("report", reports)):
        seconds = [run.seconds for run in runs]
        within = sum(abs(value / seconds[0] - 1) <= 0.2 for value in seconds)
        late = max(seconds[len(seconds) // 2 :])
        print(
            f"{name}: first {seconds[0]:.2f} s, median {statistics.median(seconds):.2f} s, {within} of {len(runs)} "
            f"weeks within 20 % of the first, slowest of the last half {late:.2f} s ({late / seconds[0]:.2f}x), "
            f"max {max(seconds):.2f} s, peak {max(run.peak_mb for run in runs):.0f} MiB"
        )


def trend(bench: Bench, source: Path, args: argparse.Namespace) -> None:
    database = bench.work / "trend.db"
    if not database.exists():
        bench.run("ingest", database, "ingest", str(source))
    out = bench.work / "report.csv"
    report = best([bench.run("report", database, "report", "--out", str(out)) for _ in range(args.repeat)])
    days = str(args.days)
    fleet = best([bench.run("trend", database, "trend", "--days", days, "--out", str(bench.work / "trend.csv"))
                  for _ in range(args.repeat)])
    with out.open(encoding="utf-8") as lines:
        ids = [line.split(",", 1)[0] for line in list(lines)[1:]]
    ids = ids[:: max(len(ids) // args.stores, 1)][: args.stores]
    from service_fixtures import ServiceRunner  # the launcher, once the measured processes have run

    runner = ServiceRunner(bench.work / "serve", {"DATABASE_URL": f"sqlite:///{database}"})
    try:
        api = runner.start_api("--no-worker", processes=2)
        latencies = []
        for store_id in [*ids[:WARM_UP], *ids]:
            started = time.perf_counter()
            answer = api.get(f"/stores/{urllib.parse.quote(store_id, safe='')}/trend?days={days}")
            latencies.append(time.perf_counter() - started)
            if answer.status != 200:
                raise SystemExit(f"trend of {store_id}: {answer.shown()}")
    finally:
        runner.close()
    timed = sorted(latencies[WARM_UP:])
    print(f"{args.weeks} weeks of history, a trend of {days} days")
    print(row("report from SQLite", report, report))
    print(row("fleet trend from SQLite", fleet, report))
    print(f"{'one store trend over HTTP':<48} median {statistics.median(timed) * 1000:.1f} ms, "
          f"95th percentile {timed[max(int(len(timed) * 0.95) - 1, 0)] * 1000:.1f} ms ({len(timed)} stores)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_living", description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", choices=("growth", "year", "trend"))
    parser.add_argument("--weeks", type=int, default=8)
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--days", type=int, default=28, help="trend: days of the trend")
    parser.add_argument("--repeat", type=int, default=3, help="trend: runs of the report and the trend, best kept")
    parser.add_argument("--stores", type=int, default=50, help="trend: stores asked for over HTTP")
    parser.add_argument("--work", type=Path, help="work folder, kept (default: a temporary one, removed)")
    args = parser.parse_args(argv)
    if args.weeks < 2 and args.scenario != "trend":
        parser.error("--weeks must be at least 2")
    work = args.work or Path(tempfile.mkdtemp(prefix="store-monitor-living-"))
    try:
        bench = Bench(work)
        source = generated(work / f"generated-{args.weeks}", bench.logs / "generate.log", args.weeks, args.seed)
        {"growth": growth, "year": year, "trend": trend}[args.scenario](bench, source, args)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
