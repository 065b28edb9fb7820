"""Generate input folders (store_status.csv, menu_hours.csv, timezone.csv).

* ``sample`` (default): about 300 made-up stores, a week of polls, business hours shaped like the
  real data and a handful of deliberately bad and duplicate rows (a first run shows the
  validation summary). Needs no other file.
* ``full``: the week of the original data set (or ``--weeks`` of them), about 1.9M polls a week
  over 14,092 stores, a poll every ~85 minutes per store, over the real store population of a
  real folder (``--hours-from``), whose hours and timezone rows are copied row for row.

Polls are simulated per store as a two-state chain (active / inactive), so outages come as runs
of inactive polls; rows are shuffled, as in the original file. The same seed gives the same bytes.

Usage::

    python -m benchmarks.generate_data --out DIR [--stores N] [--seed S] [--scale sample|full] [--hours-from DIR]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

Int64Array = NDArray[np.int64]
BoolArray = NDArray[np.bool_]
FloatArray = NDArray[np.float64]
STATUS_FILE, HOURS_FILE, TIMEZONE_FILE = "store_status.csv", "menu_hours.csv", "timezone.csv"
STATUS_HEADER = ("store_id", "status", "timestamp_utc")
HOURS_HEADER = ("store_id", "dayOfWeek", "start_time_local", "end_time_local")
TIMEZONE_HEADER = ("store_id", "timezone_str")
MICROS_PER_SECOND = 1_000_000
MICROS_PER_MINUTE = 60 * MICROS_PER_SECOND
MICROS_PER_DAY = 24 * 60 * MICROS_PER_MINUTE
DEFAULT_SEED, SAMPLE_STORES, FULL_STORES = 2023, 300, 14_092
# The real 2023 folder beside the repository (see ../shared/data/README.md).
DEFAULT_HOURS_FROM = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real-2023"


def _utc_micros(text: str) -> int:
    instant = datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
    return int(instant.timestamp()) * MICROS_PER_SECOND


# The week of the original 2023 data set: first and last poll.
WEEK_START_US = _utc_micros("2023-01-18 00:00:00")
WEEK_END_US = _utc_micros("2023-01-25 18:13:18")
# The real sample has no polls on this UTC day; so has the sample ("day without observations" rule).
SAMPLE_MISSING_DAY_US = _utc_micros("2023-01-23 00:00:00")
FULL_MEAN_GAP_MINUTES, SAMPLE_GAP_MINUTES = 85.0, (60.0, 90.0)
US_TIMEZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Phoenix",
                "America/Detroit", "America/Indiana/Indianapolis", "Pacific/Honolulu")
OTHER_TIMEZONES = ("Asia/Kolkata", "Asia/Beirut")

# The bad rows (each one a loader must reject) and exact duplicates the sample plants, per file and kind.
SAMPLE_PLANTED_ROWS: Mapping[str, Mapping[str, int]] = {
    STATUS_FILE: {"unknown status": 1, "unparsable timestamp": 1, "duplicate": 3},
    HOURS_FILE: {"day outside 0-6": 1, "unparsable time": 1, "duplicate": 2},
    TIMEZONE_FILE: {"unknown timezone": 1, "duplicate": 1},
}
BAD_STATUS, BAD_TIMESTAMP, BAD_TIMEZONE = "unknown", "2023-01-21 25:07:13.123456 UTC", "America/Atlantis"
BAD_DAY, BAD_TIME = "7", "25:00:00"


def _written(out_dir: Path, stores: int, status: int, hours: int, zones: int, started: float) -> str:
    """What was written: the folder and the data rows of each file."""
    return (f"{out_dir}: {stores} stores, {status} status rows, {hours} hours rows, {zones} timezone rows "
            f"in {time.perf_counter() - started:.1f} s")


@dataclass(frozen=True)
class Polls:
    """Simulated polls, one entry per row: store position, instant, status."""
    store_index: Int64Array
    timestamp_us: Int64Array
    active: BoolArray


def _new_store_ids(rng: np.random.Generator, count: int, taken: Iterable[str] = ()) -> list[str]:
    """``count`` distinct 19-digit ids (as strings) not in ``taken``."""
    excluded = set(taken)
    fresh: list[str] = []
    while len(fresh) < count:
        # 19 digits and still below 2**63, like the real ids.
        draws = rng.integers(10**18, 2**63 - 1, size=count - len(fresh) + 8, dtype=np.int64)
        for value in draws.tolist():
            store_id = str(value)
            if store_id not in excluded:
                excluded.add(store_id)
                fresh.append(store_id)
                if len(fresh) == count:
                    break
    return fresh


def _outage_parameters(rng: np.random.Generator, stores: int) -> tuple[FloatArray, FloatArray]:
    """Per store, the chance per poll to go down and to come back up: most stores fail rarely and
    recover within a few polls; some are flaky; a few go dark for a day or more."""
    kind = rng.random(stores)
    fail = rng.uniform(0.003, 0.03, stores)
    recover = rng.uniform(0.25, 0.6, stores)
    flaky = kind >= 0.85
    fail[flaky] = rng.uniform(0.05, 0.15, int(flaky.sum()))
    dark = kind >= 0.98
    recover[dark] = rng.uniform(0.01, 0.05, int(dark.sum()))
    return fail, recover


def _simulate_status(rng: np.random.Generator, fail: FloatArray, recover: FloatArray, polls_per_store: int) -> BoolArray:
    """A (store, poll) matrix of active flags from the two-state chain."""
    stores = len(fail)
    draws = rng.random((stores, polls_per_store))
    active = np.empty((stores, polls_per_store), dtype=np.bool_)
    steady_down = fail / (fail + recover)
    active[:, 0] = draws[:, 0] >= steady_down
    # A loop over polls (about 150), each step vectorised over all stores.
    for poll in range(1, polls_per_store):
        was_active = active[:, poll - 1]
        stays_up = was_active & (draws[:, poll] >= fail)
        comes_back = ~was_active & (draws[:, poll] < recover)
        active[:, poll] = stays_up | comes_back
    return active


def simulate_polls(rng: np.random.Generator, mean_gap_minutes: FloatArray, drop_chance: FloatArray,
                   start_us: int = WEEK_START_US, end_us: int = WEEK_END_US) -> Polls:
    """Polls of every store between ``start_us`` and ``end_us`` inclusive, in a random order: store ``i``
    every ``mean_gap_minutes[i]`` give or take a few minutes, from a random phase, each lost with chance
    ``drop_chance[i]``."""
    stores = len(mean_gap_minutes)
    mean_gap_us = mean_gap_minutes * MICROS_PER_MINUTE
    polls_per_store = int(np.ceil((end_us - start_us) / (0.8 * mean_gap_us.min()))) + 2
    jitter_sd_us = 0.05 * mean_gap_us[:, None]
    jitter = np.clip(rng.standard_normal((stores, polls_per_store)), -3.0, 3.0) * jitter_sd_us
    gaps = mean_gap_us[:, None] + jitter
    phase = rng.random(stores) * mean_gap_us
    offsets = np.cumsum(gaps, axis=1) - gaps[:, :1] + phase[:, None]
    timestamps = start_us + np.floor(offsets).astype(np.int64)
    # A whole second would print without a fraction; the real data always has one.
    timestamps += timestamps % MICROS_PER_SECOND == 0
    fail, recover = _outage_parameters(rng, stores)
    active = _simulate_status(rng, fail, recover, polls_per_store)
    kept = (timestamps <= end_us) & (rng.random((stores, polls_per_store)) >= drop_chance[:, None])
    store_index = np.broadcast_to(np.arange(stores, dtype=np.int64)[:, None], kept.shape)[kept]
    order = rng.permutation(int(kept.sum()))
    return Polls(np.ascontiguousarray(store_index[order]), np.ascontiguousarray(timestamps[kept][order]),
                 np.ascontiguousarray(active[kept][order]))


def format_timestamps(timestamp_us: Int64Array) -> list[str]:
    """``2023-01-22 12:09:39.388884 UTC``, trailing zeros of the fraction cut as in the real file."""
    iso = np.datetime_as_string(timestamp_us.astype("datetime64[us]"), unit="us").tolist()
    return [text.replace("T", " ").rstrip("0") + " UTC" for text in iso]


def _status_lines(store_ids: Sequence[str], polls: Polls) -> list[str]:
    ids = np.asarray(store_ids, dtype=object)[polls.store_index].tolist()
    statuses = np.where(polls.active, "active", "inactive").tolist()
    stamps = format_timestamps(polls.timestamp_us)
    return [f"{i},{s},{t}" for i, s, t in zip(ids, statuses, stamps)]


def _write_lines(path: Path, header: Sequence[str], lines: Sequence[str]) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(",".join(header) + "\n")
        out.writelines(line + "\n" for line in lines)


def _write_rows(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _read_table(path: Path, columns: Mapping[str, Sequence[str]]) -> list[tuple[str, ...]]:
    """Rows of a CSV as tuples in the order of ``columns`` (name -> accepted headers)."""
    if not path.exists():
        return []
    with path.open(encoding="utf-8-sig", newline="") as source:
        reader = csv.reader(source)
        header = [name.strip() for name in next(reader, [])]
        positions = []
        for name, accepted in columns.items():
            found = [header.index(alias) for alias in accepted if alias in header]
            if not found:
                raise ValueError(f"{path}: no column {name!r}")
            positions.append(found[0])
        width = max(positions) + 1
        return [tuple(row[p] for p in positions) for row in reader if len(row) >= width]


def read_population(folder: Path) -> tuple[list[str], list[tuple[str, ...]], list[tuple[str, ...]]]:
    """Store ids of a real folder (with hours, a timezone or polls), its hours and timezone rows."""
    hours = _read_table(folder / HOURS_FILE, {"store_id": ("store_id",), "dayOfWeek": ("dayOfWeek", "day"),
                                              "start_time_local": ("start_time_local",),
                                              "end_time_local": ("end_time_local",)})
    zones = _read_table(folder / TIMEZONE_FILE, {"store_id": ("store_id",), "timezone_str": ("timezone_str",)})
    polled = _read_table(folder / STATUS_FILE, {"store_id": ("store_id",)})
    ids = {row[0] for row in hours} | {row[0] for row in zones} | {row[0] for row in polled}
    ids.discard("")
    return sorted(ids), hours, zones


def generate_full(out_dir: Path, hours_from: Path = DEFAULT_HOURS_FROM, stores: int = FULL_STORES,
                  seed: int = DEFAULT_SEED, weeks: int = 1) -> str:
    """Full-scale weeks over the real stores of ``hours_from``.
    Stores beyond the real population are new ids with the hours and timezone of a real store each,
    so a bigger fleet keeps the real shapes. Weeks follow the original one, each simulated on its own
    (seeded by its number) and written in time order: the file of ``n`` weeks is a byte prefix of
    the file of ``n + 1``, as a file a poller appends to.
    """
    started = time.perf_counter()
    if not (hours_from / HOURS_FILE).exists() and not (hours_from / TIMEZONE_FILE).exists():
        raise FileNotFoundError(f"{hours_from}: no {HOURS_FILE} or {TIMEZONE_FILE}")
    rng = np.random.default_rng(seed)
    population, hours, zones = read_population(hours_from)
    if stores <= len(population):
        picked = rng.choice(len(population), size=stores, replace=False)
        store_ids = [population[i] for i in sorted(picked.tolist())]
        model_of = {store_id: store_id for store_id in store_ids}
    else:
        store_ids = population + _new_store_ids(rng, stores - len(population), population)
        model_of = {store_id: population[i % len(population)] for i, store_id in enumerate(store_ids)}
    mean_gap = FULL_MEAN_GAP_MINUTES * rng.uniform(0.95, 1.05, stores)
    out_dir.mkdir(parents=True, exist_ok=True)
    status_rows, week_ends = 0, []
    week_us = 7 * MICROS_PER_DAY
    with (out_dir / STATUS_FILE).open("w", encoding="utf-8", newline="") as out:
        out.write(",".join(STATUS_HEADER) + "\n")
        for week in range(weeks):
            # The first week is the original one; each later one starts where the last ended.
            start_us = WEEK_START_US if week == 0 else WEEK_END_US + 1 + (week - 1) * week_us
            end_us = WEEK_END_US + week * week_us
            week_rng = rng if week == 0 else np.random.default_rng([seed, week])
            polls = simulate_polls(week_rng, mean_gap, np.full(stores, 0.01), start_us, end_us)
            lines = _status_lines(store_ids, polls)
            out.writelines(line + "\n" for line in lines)
            status_rows += len(lines)
            week_ends.append(out.tell())
    models_of: dict[str, list[str]] = {}
    for store_id, model in model_of.items():
        models_of.setdefault(model, []).append(store_id)
    kept_hours = [(store_id, *row[1:]) for row in hours for store_id in models_of.get(row[0], ())]
    kept_zones = [(store_id, *row[1:]) for row in zones for store_id in models_of.get(row[0], ())]
    _write_rows(out_dir / HOURS_FILE, HOURS_HEADER, kept_hours)
    _write_rows(out_dir / TIMEZONE_FILE, TIMEZONE_HEADER, kept_zones)
    # Where each week ends in the status file, for benchmarks that grow a file week by week.
    ends = f"\n{STATUS_FILE}: weeks end at bytes {' '.join(map(str, week_ends))}"
    return _written(out_dir, stores, status_rows, len(kept_hours), len(kept_zones), started) + ends


# Sample: made-up stores with hours shaped like the real ones

HoursRow = tuple[str, str, str, str]


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _quarter_hour(rng: np.random.Generator, first_hour: int, last_hour: int) -> int:
    """Seconds of the day at a random quarter hour in ``[first_hour, last_hour]``."""
    return int(rng.integers(first_hour, last_hour + 1)) * 3600 + int(rng.integers(0, 4)) * 900


def _open_days(rng: np.random.Generator) -> list[int]:
    """Most stores open 7 days, some 6, a few only some days."""
    draw = rng.random()
    if draw < 0.80:
        return list(range(7))
    if draw < 0.92:
        closed = int(rng.integers(0, 7))
        return [day for day in range(7) if day != closed]
    return sorted(int(day) for day in rng.choice(7, size=int(rng.integers(1, 6)), replace=False))


def _store_hours(rng: np.random.Generator, store_id: str) -> list[HoursRow]:
    """One store's rows, in one of the shapes found in the real file."""
    days = _open_days(rng)
    shape = rng.choice(["plain", "split", "meals", "overnight", "always", "short"], p=[0.50, 0.15, 0.15, 0.10, 0.05, 0.05])
    rows: list[tuple[int, int, int]] = []
    if shape == "plain":
        opens, closes = _quarter_hour(rng, 6, 11), _quarter_hour(rng, 17, 22)
        for day in days:
            late = 3600 if day in (4, 5) else 0  # Friday and Saturday close later
            rows.append((day, opens, closes + late))
    elif shape == "split":
        # Past midnight, written as two rows: ... to 23:59:59, then 00:00:00 to ... next day.
        opens, closes = _quarter_hour(rng, 10, 17), _quarter_hour(rng, 0, 2)
        for day in days:
            rows.append((day, opens, 86_399))
            rows.append(((day + 1) % 7, 0, closes))
    elif shape == "meals":
        breakfast = (_quarter_hour(rng, 6, 7), _quarter_hour(rng, 9, 10))
        lunch = (_quarter_hour(rng, 11, 11), _quarter_hour(rng, 14, 15))
        dinner = (_quarter_hour(rng, 17, 17), _quarter_hour(rng, 21, 22))
        for day in days:
            meals = [lunch, dinner] if rng.random() < 0.6 else [breakfast, lunch, dinner]
            rows.extend((day, start, end) for start, end in meals)
    elif shape == "overnight":
        opens, closes = _quarter_hour(rng, 16, 20), _quarter_hour(rng, 1, 4)
        rows.extend((day, opens, closes) for day in days)
    elif shape == "always":
        # start == end: open 24 hours from that time.
        at = _quarter_hour(rng, 0, 10) if rng.random() < 0.5 else 0
        rows.extend((day, at, at) for day in days)
    else:
        # Very short openings, as the real file has (00:00:00 to 00:10:00).
        opens = _quarter_hour(rng, 0, 20)
        rows.extend((day, opens, opens + 600) for day in days)
    unique = list(dict.fromkeys(rows))
    order = rng.permutation(len(unique)).tolist()
    return [(store_id, str(unique[i][0]), _clock(unique[i][1]), _clock(unique[i][2])) for i in order]


def _timezone_of(rng: np.random.Generator) -> str:
    if rng.random() < 0.05:
        return str(rng.choice(OTHER_TIMEZONES))
    # Weighted roughly like the real file: mostly Eastern and Pacific.
    weights = np.array([0.50, 0.12, 0.05, 0.20, 0.05, 0.04, 0.02, 0.02])
    return str(rng.choice(US_TIMEZONES, p=weights / weights.sum()))


def _insert_at_random(rng: np.random.Generator, lines: list[str], extra: Sequence[str]) -> list[str]:
    """``lines`` with each of ``extra`` inserted at a random place after the header."""
    result = list(lines)
    for line in extra:
        result.insert(int(rng.integers(1, len(result) + 1)), line)
    return result


def _plant_duplicates(rng: np.random.Generator, lines: list[str], count: int) -> list[str]:
    """Copies of ``count`` distinct lines, each placed somewhere after its original."""
    result = list(lines)
    for source in rng.choice(len(lines), size=count, replace=False).tolist():
        line = lines[source]
        original = result.index(line)
        result.insert(int(rng.integers(original + 1, len(result) + 1)), line)
    return result


def generate_sample(out_dir: Path, stores: int = SAMPLE_STORES, seed: int = DEFAULT_SEED) -> str:
    """A small realistic folder, with the bad and duplicate rows of ``SAMPLE_PLANTED_ROWS``."""
    started = time.perf_counter()
    if stores < 10:
        raise ValueError("the sample needs at least 10 stores")
    rng = np.random.default_rng(seed)
    store_ids = sorted(_new_store_ids(rng, stores))
    # A few stores have hours and a timezone but were never polled.
    never_polled = set(rng.choice(store_ids, size=max(1, stores // 60), replace=False).tolist())
    polled_ids = [store_id for store_id in store_ids if store_id not in never_polled]
    polled = len(polled_ids)
    # The poller lost many polls (and a whole day), as in the real sample.
    mean_gap = rng.uniform(*SAMPLE_GAP_MINUTES, polled)
    polls = simulate_polls(rng, mean_gap, rng.uniform(0.2, 0.5, polled))
    keep = (polls.timestamp_us < SAMPLE_MISSING_DAY_US) | (polls.timestamp_us >= SAMPLE_MISSING_DAY_US + MICROS_PER_DAY)
    # A few stores were polled only one to three times.
    for sparse in rng.choice(polled, size=max(2, polled // 60), replace=False).tolist():
        rows = np.flatnonzero(keep & (polls.store_index == sparse))
        keep[rng.permutation(rows)[int(rng.integers(1, 4)) :]] = False
    polls = Polls(polls.store_index[keep], polls.timestamp_us[keep], polls.active[keep])
    status_lines = _status_lines(polled_ids, polls)
    hours_rows: list[HoursRow] = []
    zone_rows: list[tuple[str, str]] = []
    for store_id in store_ids:
        if rng.random() >= 0.10:  # the rest have no hours: open 24/7
            hours_rows.extend(_store_hours(rng, store_id))
        if rng.random() >= 0.12:  # the rest have no timezone: America/Chicago
            zone_rows.append((store_id, _timezone_of(rng)))
    hours_lines = [",".join(row) for row in hours_rows]
    zone_lines = [",".join(row) for row in zone_rows]
    status_lines = _plant_duplicates(rng, status_lines, SAMPLE_PLANTED_ROWS[STATUS_FILE]["duplicate"])
    hours_lines = _plant_duplicates(rng, hours_lines, SAMPLE_PLANTED_ROWS[HOURS_FILE]["duplicate"])
    zone_lines = _plant_duplicates(rng, zone_lines, SAMPLE_PLANTED_ROWS[TIMEZONE_FILE]["duplicate"])
    def some_store() -> str:
        return str(rng.choice(polled_ids))
    status_lines = _insert_at_random(rng, status_lines, [f"{some_store()},{BAD_STATUS},2023-01-20 08:15:42.271828 UTC",
                                                          f"{some_store()},active,{BAD_TIMESTAMP}"])
    hours_lines = _insert_at_random(rng, hours_lines, [f"{some_store()},{BAD_DAY},10:00:00,22:00:00",
                                                        f"{some_store()},2,09:00:00,{BAD_TIME}"])
    without_zone = sorted(set(store_ids) - {row[0] for row in zone_rows})
    zone_lines = _insert_at_random(rng, zone_lines, [f"{rng.choice(without_zone)},{BAD_TIMEZONE}"])
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_lines(out_dir / STATUS_FILE, STATUS_HEADER, status_lines)
    _write_lines(out_dir / HOURS_FILE, HOURS_HEADER, hours_lines)
    _write_lines(out_dir / TIMEZONE_FILE, TIMEZONE_HEADER, zone_lines)
    return _written(out_dir, stores, len(status_lines), len(hours_lines), len(zone_lines), started)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.generate_data", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write the three CSV files into")
    parser.add_argument("--scale", choices=("sample", "full"), default="sample")
    parser.add_argument("--stores", type=int, help=f"number of stores (sample: {SAMPLE_STORES}, full: {FULL_STORES})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--weeks", type=int, default=1, help="full scale: weeks of polls, oldest first")
    parser.add_argument("--hours-from", type=Path,
                        help=f"full scale: real folder whose stores, hours and timezones are used ({DEFAULT_HOURS_FROM})")
    args = parser.parse_args(argv)
    if args.stores is not None and args.stores < 1:
        parser.error("--stores must be positive")
    if args.weeks < 1:
        parser.error("--weeks must be positive")
    if args.scale == "sample":
        if args.hours_from is not None or args.weeks != 1:
            parser.error("--hours-from and --weeks are for --scale full")
        try:
            generated = generate_sample(args.out, args.stores or SAMPLE_STORES, args.seed)
        except ValueError as error:
            parser.error(str(error))
    else:
        hours_from: Path = args.hours_from or DEFAULT_HOURS_FROM
        try:
            generated = generate_full(args.out, hours_from, args.stores or FULL_STORES, args.seed, args.weeks)
        except (FileNotFoundError, ValueError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    print(generated)
    return 0


if __name__ == "__main__":
    sys.exit(main())
