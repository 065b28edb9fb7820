"""Time and memory of the report pipeline against a pandas floor, each step a fresh process.

Steps: the floor (pandas reads the three CSV files as text and parses the timestamps in their fastest
form), ``report --from-csv DIR``, ``ingest DIR`` into a new SQLite file, ``report`` from it; with
``--postgres URL`` the same two on PostgreSQL (in a schema of its own, dropped at the end). With
``--reader``, the service's ways of reading the files instead: ``status`` (``store_status.csv``, polls
kept), ``read`` (the folder, as the offline report reads it), ``batches`` (in batches, none kept).
Best of ``--repeat`` (ingestion once), the whole process's wall clock; its own peak memory. Without
``--data``, the full-scale week is generated first. The reports must be byte-identical.

Usage::

    python -m benchmarks.bench_report [--data DIR] [--postgres URL] [--repeat N] [--reader] [--keep]
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

from benchmarks.common import best, cli, environment, generated, measure, postgres_schema, table

FLOOR_CODE = """
import sys, pathlib, pandas as pd
folder = pathlib.Path(sys.argv[1])
status = pd.read_csv(folder / "store_status.csv", dtype=str)
for name in ("menu_hours.csv", "timezone.csv"):
    if (folder / name).exists():
        pd.read_csv(folder / name, dtype=str)
print(len(pd.to_datetime(status["timestamp_utc"].str.removesuffix(" UTC"), format="ISO8601", utc=True, errors="coerce")))
"""
# Run by the reader's steps as ``python -c READ_CODE WAY DIR``; the clock is never behind generated weeks.
READ_CODE = """
import sys, pathlib
from datetime import datetime, timezone
from adapters.csv.batches import iter_status_batches, read_status
from adapters.csv.reader import CsvInputReader
way, folder, clock = sys.argv[1], pathlib.Path(sys.argv[2]), datetime(2030, 1, 1, tzinfo=timezone.utc)
if way == "status":
    print(len(read_status(folder / "store_status.csv", clock)[0]), "polls kept")
elif way == "read":
    print(len(CsvInputReader(clock=lambda: clock).read(folder).polls), "polls read")
else:
    print(sum(len(batch.valid) for batch in iter_status_batches(folder / "store_status.csv", lambda: clock)), "valid")
"""
# Most a step may take, as a multiple of the floor's time; and the memory of every step but the floor.
TIME_TARGETS = {"offline": 1.5, "ingest": 3.5, "sqlite": 1.5}
PEAK_TARGET_MB = 1024


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="input folder (default: generate the full-scale week)")
    parser.add_argument("--postgres", metavar="URL", help="also ingest into and report from this PostgreSQL database")
    parser.add_argument("--repeat", type=int, default=3, help="runs per step, best kept (ingestion: 1)")
    parser.add_argument("--reader", action="store_true", help="the ways of reading the files, not the pipeline")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="store-monitor-bench-"))
    with ExitStack() as stack:
        stack.callback(lambda: print(f"kept: {work}", file=sys.stderr) if args.keep else shutil.rmtree(work, True))
        data = str((args.data or generated(work / "data", work / "generate.log")).resolve())
        env = environment(DATABASE_URL=f"sqlite:///{work / 'bench.db'}")
        steps = [
            ("floor", "floor: pandas reads the three CSVs and parses the timestamps",
             [sys.executable, "-c", FLOOR_CODE, data], env),
            ("offline", "report --from-csv (offline)", cli("report", "--from-csv", data, "--out", f"{work}/offline.csv"), env),
            ("ingest", "ingest into a new SQLite file", cli("ingest", data), env),
            ("sqlite", "report from SQLite", cli("report", "--out", f"{work}/sqlite.csv"), env),
        ]
        if args.reader:
            steps[1:] = [(way, f"read: {way}", [sys.executable, "-c", READ_CODE, way, data], env)
                         for way in ("status", "read", "batches")]
        elif args.postgres:
            pg = environment(DATABASE_URL=stack.enter_context(postgres_schema(args.postgres))[0])
            steps += [("ingest_pg", "ingest into PostgreSQL", cli("ingest", data), pg),
                      ("pg", "report from PostgreSQL", cli("report", "--out", f"{work}/pg.csv"), pg)]
        rows: list[list[object]] = []
        floor = 0.0
        for name, title, command, step_env in steps:
            times = 1 if name.startswith("ingest") else args.repeat
            run = best([measure(command, step_env, work / f"{name}-{i}.log") for i in range(times)])
            print(f"  {name}: {run.seconds:.2f} s, {run.peak_mb:.0f} MiB", file=sys.stderr)
            floor = floor or run.seconds
            target = TIME_TARGETS.get(name)
            verdicts = [] if target is None else ["pass" if run.seconds / floor <= target else "FAIL"]
            if name != "floor":
                verdicts.append("pass" if run.peak_mb <= PEAK_TARGET_MB else "FAIL")
            rows.append([title, f"{run.seconds:.2f}", f"{run.seconds / floor:.2f}", f"{run.peak_mb:.0f}",
                         "" if target is None else f"<= {target:g}x", ", ".join(verdicts)])
        print(table(["step", "seconds", "x floor", "peak MiB", "time target", f"time, <= {PEAK_TARGET_MB} MiB"], rows))
        made = [path for path in (work / "offline.csv", work / "sqlite.csv", work / "pg.csv") if path.exists()]
        identical = all(filecmp.cmp(made[0], path, shallow=False) for path in made[1:])
        shown = "not compared" if len(made) < 2 else "yes" if identical else "NO"
        print(f"data: {data}\noffline and database reports byte-identical: {shown}")
        return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
