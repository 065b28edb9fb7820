"""Time of reading the input files, one way per process (run it under ``/usr/bin/time -v`` for peak memory).

Usage::

    python -m benchmarks.bench_reader status DIR    # read_status of DIR/store_status.csv, polls kept
    python -m benchmarks.bench_reader read DIR      # the whole folder, as the offline report reads it
    python -m benchmarks.bench_reader batches DIR   # store_status.csv in batches, none kept

The clock is fixed (2030-01-01 UTC) so that generated weeks are never ahead of it.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from adapters.csv.batches import iter_status_batches, read_status
from adapters.csv.reader import CsvInputReader
from domain.model.ingestion import STATUS_FILE

CLOCK = datetime(2030, 1, 1, tzinfo=timezone.utc)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("way", choices=["status", "read", "batches"])
    parser.add_argument("data", type=Path)
    arguments = parser.parse_args(argv)
    start = time.perf_counter()
    if arguments.way == "status":
        polls, summary = read_status(arguments.data / STATUS_FILE, CLOCK)
        counts = f"{len(polls)} polls kept of {summary.rows} rows"
    elif arguments.way == "read":
        parsed = CsvInputReader(clock=lambda: CLOCK).read(arguments.data)
        counts = f"{len(parsed.polls)} polls, {len(parsed.hours)} hours rows, {len(parsed.timezones)} timezones"
    else:
        rows = valid = 0
        for batch in iter_status_batches(arguments.data / STATUS_FILE, lambda: CLOCK):
            rows += batch.counts.rows
            valid += len(batch.valid)
        counts = f"{valid} valid of {rows} rows, in batches"
    print(f"{arguments.way}: {counts} in {time.perf_counter() - start:.2f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
