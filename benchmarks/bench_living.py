"""Time and memory as the data lives: files that grow, history that piles up, trends over it.

Each step is a fresh process (wall clock of the whole process, its own peak memory):

* ``growth``: ``--weeks`` full-scale weeks; the first ``weeks - 1`` ingested into a new SQLite file,
  then the file grown by the last week, then once more unchanged; beside it, the last week alone into
  a new database; then a report from the database of every week.
* ``year``: the file grows a week at a time up to ``--weeks`` (e.g. 52), each week ingested and reported.
* ``trend``: ``--weeks`` weeks ingested; the report and the fleet's trend of ``--days`` days (best of
  ``--repeat``), then one store's trend over HTTP (``serve --no-worker``) for ``--stores`` stores spread
  over the fleet, one request at a time after ten untimed ones.

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
from pathlib import Path

from benchmarks.common import STATUS_FILE, Run, best, cli, environment, generated, measure
from benchmarks.generate_data import HOURS_FILE, TIMEZONE_FILE

WARM_UP = 10  # requests sent before the timed ones: each API process loads the calculator on its first trend


def run(work: Path, name: str, database: Path, *arguments: str) -> Run:
    """``store-monitor ARGUMENTS`` on the SQLite file ``database``, measured; its log in ``work/logs``."""
    log = work / "logs" / f"{time.monotonic_ns()}-{name}.log"
    return measure(cli(*arguments), environment(DATABASE_URL=f"sqlite:///{database}"), log)


def week_offsets(source: Path, log: Path) -> list[int]:
    """Where the status file's header ends, then where each of its weeks ends (as ``generate_data`` printed)."""
    ends = log.with_suffix(".out").read_text(encoding="utf-8").split("weeks end at bytes ")[1].split()
    with (source / STATUS_FILE).open("rb") as status:
        return [len(status.readline()), *map(int, ends)]


def folder_with(path: Path, source: Path, *ranges: tuple[int, int]) -> Path:
    """A data folder at ``path``: ``source``'s hours and timezones, and these byte ranges of its status file
    (copied a MiB at a time: this process stays small, as its size at a fork counts in the measured peak)."""
    path.mkdir(parents=True, exist_ok=True)
    for name in (HOURS_FILE, TIMEZONE_FILE):
        shutil.copyfile(source / name, path / name)
    with (source / STATUS_FILE).open("rb") as whole, (path / STATUS_FILE).open("wb") as out:
        for start, end in ranges:
            whole.seek(start)
            while (left := end - whole.tell()) > 0:
                out.write(whole.read(min(left, 1 << 20)))
    return path


def row(title: str, run: Run, base: Run | None = None) -> str:
    ratio = f"{run.seconds / base.seconds:5.2f}" if base is not None else "     "
    return f"{title:<48} {run.seconds:8.2f} s {ratio} x  {run.peak_mb:7.0f} MiB"


def growth(work: Path, source: Path, args: argparse.Namespace) -> None:
    offsets = week_offsets(source, work / "logs" / "generate.log")
    header, last_week, end = (0, offsets[0]), (offsets[-2], offsets[-1]), offsets[-1]
    database = work / "growth.db"
    data = folder_with(work / "growth", source, (0, offsets[-2]))
    first = run(work, "ingest-first", database, "ingest", str(data))
    folder_with(data, source, (0, end))
    grown = run(work, "ingest-grown", database, "ingest", str(data))
    unchanged = run(work, "ingest-unchanged", database, "ingest", str(data))
    report = run(work, "report", database, "report", "--out", str(work / "report.csv"))
    alone_data = folder_with(work / "alone", source, header, last_week)
    alone = run(work, "ingest-alone", work / "alone.db", "ingest", str(alone_data))
    weeks = args.weeks
    print(f"{weeks} weeks, {end / 2**20:,.0f} MiB of polls; the last week {(last_week[1] - last_week[0]) / 2**20:,.0f} MiB")
    print(row(f"ingest the first {weeks - 1} weeks (new database)", first))
    print(row("ingest the last week alone (new database)", alone))
    print(row("ingest the file grown by the last week", grown, alone))
    print(row("ingest the same file unchanged", unchanged, alone))
    print(row(f"report from the database of {weeks} weeks", report))


def year(work: Path, source: Path, args: argparse.Namespace) -> None:
    offsets = week_offsets(source, work / "logs" / "generate.log")
    database = work / "year.db"
    data = folder_with(work / "year", source)
    ingests: list[Run]
    reports: list[Run]
    ingests, reports = [], []
    with (source / STATUS_FILE).open("rb") as whole, (data / STATUS_FILE).open("wb") as grown:
        for week, end in enumerate(offsets[1:], start=1):
            # The file grows as a poller appends: the header and every week up to this one.
            grown.write(whole.read(end - whole.tell()))
            grown.flush()
            ingests.append(run(work, f"ingest-week-{week}", database, "ingest", str(data)))
            reports.append(run(work, f"report-week-{week}", database, "report", "--out", str(work / "r.csv")))
            print(f"week {week:3d}: {row('ingest', ingests[-1])} | {row('report', reports[-1])}", flush=True)
    for name, runs in (("ingest", ingests), ("report", reports)):
        seconds = [run.seconds for run in runs]
        within = sum(abs(value / seconds[0] - 1) <= 0.2 for value in seconds)
        late = max(seconds[len(seconds) // 2 :])
        print(f"{name}: first {seconds[0]:.2f} s, median {statistics.median(seconds):.2f} s, {within} of {len(runs)} "
              f"weeks within 20 % of the first, slowest of the last half {late:.2f} s ({late / seconds[0]:.2f}x), "
              f"max {max(seconds):.2f} s, peak {max(run.peak_mb for run in runs):.0f} MiB")


def trend(work: Path, source: Path, args: argparse.Namespace) -> None:
    database = work / "trend.db"
    if not database.exists():
        run(work, "ingest", database, "ingest", str(source))
    out = work / "report.csv"
    report = best([run(work, "report", database, "report", "--out", str(out)) for _ in range(args.repeat)])
    days = str(args.days)
    fleet = best([run(work, "trend", database, "trend", "--days", days, "--out", str(work / "trend.csv"))
                  for _ in range(args.repeat)])
    ids = [line.split(",", 1)[0] for line in out.read_text(encoding="utf-8").splitlines()[1:]]
    ids = ids[:: max(len(ids) // args.stores, 1)][: args.stores]  # spread over the fleet
    from service_fixtures import ServiceRunner  # the launcher, once the measured processes have run

    runner = ServiceRunner(work / "serve", {"DATABASE_URL": f"sqlite:///{database}"})
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
        (work / "logs").mkdir(parents=True, exist_ok=True)
        source = generated(work / f"generated-{args.weeks}", work / "logs" / "generate.log", args.weeks, args.seed)
        {"growth": growth, "year": year, "trend": trend}[args.scenario](work, source, args)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
