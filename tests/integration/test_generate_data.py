"""The data generator: the sample's shape and planted rows, and the full-scale week."""

from __future__ import annotations

import csv
import re
import statistics
import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest
import pytz

REPO_ROOT = Path(__file__).resolve().parents[2]
# benchmarks/ is not part of the installed package: import it from the checkout.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.generate_data import (  # noqa: E402
    HOURS_FILE,
    SAMPLE_PLANTED_ROWS,
    STATUS_FILE,
    TIMEZONE_FILE,
    main,
)

REAL_2023 = REPO_ROOT.parent / "shared" / "data" / "real-2023"
needs_real_2023 = pytest.mark.skipif(
    not (REAL_2023 / HOURS_FILE).exists(), reason=f"real data not found at {REAL_2023}"
)

HEADERS = {
    STATUS_FILE: ["store_id", "status", "timestamp_utc"],
    HOURS_FILE: ["store_id", "dayOfWeek", "start_time_local", "end_time_local"],
    TIMEZONE_FILE: ["store_id", "timezone_str"],
}
DAYS = {str(day) for day in range(7)}
WEEK_FIRST = datetime(2023, 1, 18, tzinfo=timezone.utc)
WEEK_LAST = datetime(2023, 1, 25, 18, 13, 18, tzinfo=timezone.utc)


def read(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8", newline="") as source:
        rows = list(csv.reader(source))
    return rows[0], rows[1:]


def parse_instant(text: str) -> datetime | None:
    for pattern in ("%Y-%m-%d %H:%M:%S.%f UTC", "%Y-%m-%d %H:%M:%S UTC"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    return None


def parse_clock(text: str) -> bool:
    try:
        datetime.strptime(text, "%H:%M:%S")
    except ValueError:
        return False
    return True


def generate_sample(out: Path, seed: int = 2023, stores: int | None = None) -> Path:
    arguments = ["--out", str(out), "--seed", str(seed)]
    if stores is not None:
        arguments += ["--stores", str(stores)]
    assert main(arguments) == 0
    return out


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_sample(tmp_path_factory.mktemp("sample"))


def planted_status_rows(rows: list[list[str]]) -> Counter[str]:
    found: Counter[str] = Counter()
    seen: set[tuple[str, str]] = set()
    for store_id, status, stamp in rows:
        if status not in ("active", "inactive"):
            found["unknown status"] += 1
        elif parse_instant(stamp) is None:
            found["unparsable timestamp"] += 1
        elif (store_id, stamp) in seen:
            found["duplicate"] += 1
        else:
            seen.add((store_id, stamp))
    return found


def planted_hours_rows(rows: list[list[str]]) -> Counter[str]:
    found: Counter[str] = Counter()
    seen: set[tuple[str, ...]] = set()
    for row in rows:
        if row[1] not in DAYS:
            found["day outside 0-6"] += 1
        elif not (parse_clock(row[2]) and parse_clock(row[3])):
            found["unparsable time"] += 1
        elif tuple(row) in seen:
            found["duplicate"] += 1
        else:
            seen.add(tuple(row))
    return found


def planted_timezone_rows(rows: list[list[str]]) -> Counter[str]:
    found: Counter[str] = Counter()
    seen: set[tuple[str, ...]] = set()
    for row in rows:
        if row[1] not in pytz.all_timezones_set:
            found["unknown timezone"] += 1
        elif tuple(row) in seen:
            found["duplicate"] += 1
        else:
            seen.add(tuple(row))
    return found


def test_sample_has_the_three_files_with_their_headers(sample: Path) -> None:
    for name, header in HEADERS.items():
        assert read(sample / name)[0] == header


def test_sample_is_the_same_for_the_same_seed_and_differs_for_another(sample: Path, tmp_path: Path) -> None:
    again = generate_sample(tmp_path / "again")
    other = generate_sample(tmp_path / "other", seed=7)
    for name in HEADERS:
        assert (again / name).read_bytes() == (sample / name).read_bytes()
        assert (other / name).read_bytes() != (sample / name).read_bytes()


def test_sample_store_ids_are_19_digit_strings(sample: Path) -> None:
    ids = {row[0] for name in HEADERS for row in read(sample / name)[1]}
    assert 280 <= len(ids) <= 300
    assert all(len(store_id) == 19 and store_id.isdigit() for store_id in ids)


def test_sample_holds_exactly_the_planted_bad_and_duplicate_rows(sample: Path) -> None:
    assert planted_status_rows(read(sample / STATUS_FILE)[1]) == Counter(SAMPLE_PLANTED_ROWS[STATUS_FILE])
    assert planted_hours_rows(read(sample / HOURS_FILE)[1]) == Counter(SAMPLE_PLANTED_ROWS[HOURS_FILE])
    assert planted_timezone_rows(read(sample / TIMEZONE_FILE)[1]) == Counter(SAMPLE_PLANTED_ROWS[TIMEZONE_FILE])


def test_sample_polls_cover_the_week_and_include_outages(sample: Path) -> None:
    rows = read(sample / STATUS_FILE)[1]
    instants = [parse_instant(row[2]) for row in rows]
    valid = [instant for instant in instants if instant is not None]
    assert min(valid) >= WEEK_FIRST and max(valid) <= WEEK_LAST
    assert max(valid) - min(valid) > (WEEK_LAST - WEEK_FIRST) * 0.99
    statuses = Counter(row[1] for row in rows)
    assert 0.02 < statuses["inactive"] / len(rows) < 0.2
    assert sum((sample / name).stat().st_size for name in HEADERS) < 2_000_000


def test_sample_hours_and_timezones_have_the_real_shapes(sample: Path) -> None:
    hours = [row for row in read(sample / HOURS_FILE)[1] if row[1] in DAYS and parse_clock(row[3])]
    zones = dict(read(sample / TIMEZONE_FILE)[1])
    polled = {row[0] for row in read(sample / STATUS_FILE)[1]}
    with_hours = {row[0] for row in hours}
    days_per_store = Counter({store: len({row[1] for row in hours if row[0] == store}) for store in with_hours})
    rows_per_day = Counter((row[0], row[1]) for row in hours)

    assert sum(1 for days in days_per_store.values() if days == 7) > 0.7 * len(with_hours)
    assert any(days < 7 for days in days_per_store.values())
    assert polled - with_hours, "some polled stores have no hours (open 24/7)"
    assert max(rows_per_day.values()) in (2, 3)
    assert any(row[2] > row[3] for row in hours), "overnight rows"
    assert any(row[2] == row[3] for row in hours), "24-hour rows"
    assert any(row[3] == "23:59:59" for row in hours) and any(row[2] == "00:00:00" for row in hours)
    assert polled - set(zones), "some polled stores have no timezone"
    assert "Asia/Kolkata" in zones.values()
    assert len({zone for zone in zones.values() if zone.startswith("America/")}) >= 6


def test_committed_sample_is_what_the_documented_command_writes(sample: Path) -> None:
    committed = REPO_ROOT / "data"
    for name in HEADERS:
        assert (committed / name).read_bytes() == (sample / name).read_bytes(), name


def test_data_readme_shows_the_planted_rows_where_they_are() -> None:
    readme = (REPO_ROOT / "data" / "README.md").read_text(encoding="utf-8")
    listed = re.findall(r"^\| `([a-z_]+\.csv)` \| (\d+) \| `(\d{19},[^`]+)` \|", readme, flags=re.MULTILINE)
    assert len(listed) == 5
    for name, line, row in listed:
        lines = (REPO_ROOT / "data" / name).read_text(encoding="utf-8").splitlines()
        assert lines[int(line) - 1] == row


def test_sample_refuses_hours_from(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path), "--hours-from", str(tmp_path)])


def test_full_scale_fills_a_small_population_with_new_ids(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / HOURS_FILE).write_text(
        "store_id,day,start_time_local,end_time_local\n"
        "123456789012345,0,09:00:00,17:00:00\n"
        "123456789012345,1,09:00:00,17:00:00\n"
        "9876543210987654321,3,10:00:00,23:59:59\n",
        encoding="utf-8",
    )
    (real / TIMEZONE_FILE).write_text("store_id,timezone_str\n555,Asia/Beirut\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["--scale", "full", "--out", str(out), "--stores", "10", "--hours-from", str(real)]) == 0

    ids = {row[0] for row in read(out / STATUS_FILE)[1]}
    assert {"123456789012345", "9876543210987654321", "555"} <= ids
    assert len(ids) == 10
    assert all(len(store_id) == 19 for store_id in ids - {"123456789012345", "555"})
    # Every new id takes the hours and timezone of one real store, in turn.
    real_hours = {
        "123456789012345": [("0", "09:00:00", "17:00:00"), ("1", "09:00:00", "17:00:00")],
        "555": [],
        "9876543210987654321": [("3", "10:00:00", "23:59:59")],
    }
    header, hours_rows = read(out / HOURS_FILE)
    assert header == HEADERS[HOURS_FILE]
    hours_of: dict[str, list[tuple[str, ...]]] = {}
    for store_id, *row in hours_rows:
        hours_of.setdefault(store_id, []).append(tuple(row))
    zone_of = {row[0]: row[1] for row in read(out / TIMEZONE_FILE)[1]}
    copies = {model: 0 for model in real_hours}
    for store_id in ids:
        signature = (sorted(hours_of.get(store_id, [])), zone_of.get(store_id))
        models = [m for m in real_hours if signature == (real_hours[m], "Asia/Beirut" if m == "555" else None)]
        assert len(models) == 1, store_id
        copies[models[0]] += 1
    # 10 stores over 3 real ones, in turn: 4, 3, 3.
    assert sorted(copies.values()) == [3, 3, 4]


def test_full_scale_weeks_are_appended_so_fewer_weeks_are_a_prefix(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / TIMEZONE_FILE).write_text("store_id,timezone_str\n555,Asia/Beirut\n", encoding="utf-8")
    one, three = tmp_path / "one", tmp_path / "three"
    assert main(["--scale", "full", "--out", str(one), "--stores", "5", "--hours-from", str(real)]) == 0
    assert main(["--scale", "full", "--out", str(three), "--stores", "5", "--hours-from", str(real), "--weeks", "3"]) == 0

    grown = (three / STATUS_FILE).read_bytes()
    first_week = (one / STATUS_FILE).read_bytes()
    assert grown.startswith(first_week) and len(grown) > 2.5 * len(first_week)
    instants = [parse_instant(row[2]) for row in read(three / STATUS_FILE)[1]]
    assert all(instant is not None for instant in instants)
    # Later weeks follow the first one, each in time order after the last.
    later = [instant for instant in instants[len(read(one / STATUS_FILE)[1]) :] if instant is not None]
    assert min(later) > WEEK_LAST


@pytest.mark.realdata
@needs_real_2023
def test_full_scale_polls_real_stores_every_85_minutes(tmp_path: Path) -> None:
    out = tmp_path / "full"
    arguments = ["--scale", "full", "--out", str(out), "--stores", "50", "--hours-from", str(REAL_2023)]
    assert main([*arguments, "--seed", "5"]) == 0

    header, rows = read(out / STATUS_FILE)
    assert header == HEADERS[STATUS_FILE]
    by_store: dict[str, list[datetime]] = {}
    for store_id, status, stamp in rows:
        assert status in ("active", "inactive")
        instant = parse_instant(stamp)
        assert instant is not None and WEEK_FIRST <= instant <= WEEK_LAST
        by_store.setdefault(store_id, []).append(instant)
    assert len(by_store) == 50
    all_gaps: list[float] = []
    for store_id, instants in by_store.items():
        instants.sort()
        gaps = [(later - earlier).total_seconds() / 60 for earlier, later in zip(instants, instants[1:])]
        # Each store has its own pace, within 5% of 85 minutes.
        assert 78 <= statistics.median(gaps) <= 92, store_id
        assert 115 <= len(instants) <= 145, store_id
        all_gaps += gaps
    assert 83 <= statistics.median(all_gaps) <= 87

    _, real_hours = read(REAL_2023 / HOURS_FILE)
    _, real_zones = read(REAL_2023 / TIMEZONE_FILE)
    chosen = set(by_store)
    assert chosen <= {row[0] for row in real_hours} | {row[0] for row in real_zones} | {
        row[0] for row in read(REAL_2023 / STATUS_FILE)[1]
    }
    assert read(out / HOURS_FILE) == (HEADERS[HOURS_FILE], [row for row in real_hours if row[0] in chosen])
    assert read(out / TIMEZONE_FILE) == (HEADERS[TIMEZONE_FILE], [row for row in real_zones if row[0] in chosen])
    assert any(row[0] in chosen for row in real_hours)

    again = tmp_path / "again"
    assert main(["--scale", "full", "--out", str(again), "--stores", "50", "--hours-from", str(REAL_2023), "--seed", "5"]) == 0
    assert (again / STATUS_FILE).read_bytes() == (out / STATUS_FILE).read_bytes()
