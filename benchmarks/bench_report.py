"""Time and memory of the report pipeline against a pandas floor, each step a fresh process.

Steps: the floor (pandas reads the three CSV files as text and parses the status timestamps in
their fastest form), ``store-monitor report --from-csv DIR``, ``store-monitor ingest DIR`` into a
new SQLite file, ``store-monitor report`` from it; with ``--postgres URL`` the same two on
PostgreSQL (its store-monitor tables dropped first). Each time is the best of ``--repeat``
(ingestion runs once: it needs an empty database) and is the wall clock of the whole process,
interpreter start and imports included; peak memory is the process's own, from ``wait4``. The
offline and database reports must be byte-identical.

Usage::

    python -m benchmarks.bench_report [--data DIR] [--postgres URL] [--repeat N] [--keep]

Without ``--data`` the full-scale week is generated first (from ``../shared/data/real-2023``).
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchmarks.common import best, cli, environment, generated, measure, table

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
print(len(pd.to_datetime(stamps, format="ISO8601", utc=True, errors="coerce")))
"""
DROP_CODE = """
from adapters.sqlalchemy.database import create_engine_for
from adapters.sqlalchemy.tables import metadata
metadata.drop_all(create_engine_for(__import__("os").environ["DATABASE_URL"]))
"""
# Most a step may take, as a multiple of the floor's time; and the memory of every step but the floor.
TIME_TARGETS = {"offline": 1.5, "ingest": 3.5, "sqlite": 1.5}
PEAK_TARGET_MB = 1024


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="input folder (default: generate the full-scale week)")
    parser.add_argument("--postgres", metavar="URL", help="also ingest into and report from this PostgreSQL database")
    parser.add_argument("--repeat", type=int, default=3, help="runs per step, best kept (ingestion: 1)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="store-monitor-bench-"))
    try:
        data = str((args.data or generated(work / "data", work / "generate.log")).resolve())
        env = environment(DATABASE_URL=f"sqlite:///{work / 'bench.db'}")
        steps = [
            ("floor", "floor: pandas reads the three CSVs and parses the timestamps",
             [sys.executable, "-c", FLOOR_CODE, data], env),
            ("offline", "report --from-csv (offline)", cli("report", "--from-csv", data, "--out", f"{work}/offline.csv"), env),
            ("ingest", "ingest into a new SQLite file", cli("ingest", data), env),
            ("sqlite", "report from SQLite", cli("report", "--out", f"{work}/sqlite.csv"), env),
        ]
        if args.postgres:
            pg = environment(DATABASE_URL=args.postgres)
            measure([sys.executable, "-c", DROP_CODE], pg, work / "drop.log")
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
        print(f"data: {data}\noffline and database reports byte-identical: {'yes' if identical else 'NO'}")
        return 0 if identical else 1
    finally:
        if args.keep:
            print(f"kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
