"""Anything ingestion accepts, the report can be computed from.

Ingestion keeps polls from 1970-01-01 UTC to a day after the reading
machine's clock (so, in time, any instant after 1970), store ids of up to 255
characters without control characters (commas, quotes, a leading ``=``...),
and any timezone pytz knows. Over that whole range the calculator must
return, uptime + downtime must equal the business time (as the reference
implementation measures it), and the report's CSV must give the ids back
through Python's csv reader.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

import pytz
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import HoursRow, reference_business_time

from domain.model.clock import MICROS_PER_DAY, MICROS_PER_HOUR, MICROS_PER_MINUTE, to_micros
from domain.model.inputs import DEFAULT_TIMEZONE, BusinessHours, StatusPolls, StoreTimezones
from domain.model.report import FORMULA_STARTS, REPORT_HEADER, render_csv
from domain.model.uptime import UptimeCalculator

EPOCH_US = 0
# The clock bound is relative; these tests go well past any clock in use.
LATEST_US = to_micros(datetime(2200, 1, 1, tzinfo=timezone.utc))
MAX_STORE_ID_CHARS = 255
CONTROL_CHARACTERS = [chr(code) for code in range(0x20)] + ["\x7f"]

# Any character but controls and lone surrogates (which UTF-8 cannot hold).
id_characters = st.characters(exclude_categories=["Cs"], exclude_characters=CONTROL_CHARACTERS)
store_ids = st.one_of(
    st.text(id_characters, min_size=1, max_size=MAX_STORE_ID_CHARS),
    st.tuples(
        st.sampled_from(("=", "+", "-", "@", '"', ",", "'", "=cmd|' /C calc'!A0", '=HYPERLINK("x","y")')),
        st.text(id_characters, max_size=MAX_STORE_ID_CHARS - 20),
    ).map("".join),
    st.text(st.sampled_from(',"=\'\u2028\u00a0é中'), min_size=1, max_size=8),
).map(str.strip).filter(bool)

# Instants anywhere in the range, with a bias to its ends (the week before 1970-01-01
# 00:00 is in 1969) and to a few days before a report's "now".
instants = st.one_of(
    st.integers(EPOCH_US, LATEST_US),
    st.integers(EPOCH_US, EPOCH_US + 20 * MICROS_PER_DAY),
    st.integers(LATEST_US - 20 * MICROS_PER_DAY, LATEST_US),
)
zones = st.one_of(
    st.sampled_from(sorted(pytz.all_timezones)),
    st.sampled_from(("UTC", "Pacific/Apia", "Pacific/Kiritimati", "Etc/GMT+12", "Asia/Kathmandu", "America/St_Johns")),
)


@st.composite
def accepted_inputs(draw: st.DrawFn) -> tuple[int, StatusPolls, BusinessHours, StoreTimezones]:
    ids = draw(st.lists(store_ids, min_size=1, max_size=5, unique=True))
    now = draw(instants)
    polls: list[tuple[str, int, bool]] = []
    hours: list[HoursRow] = []
    timezones: dict[str, str] = {}
    for store_id in ids:
        offsets = draw(st.lists(st.integers(0, 10 * MICROS_PER_DAY), min_size=1, max_size=8, unique=True))
        # Polls long before: anything back to 1970.
        older = draw(st.lists(st.integers(EPOCH_US, now), max_size=2))
        polls.extend((store_id, max(EPOCH_US, now - offset), draw(st.booleans())) for offset in offsets)
        polls.extend((store_id, instant, draw(st.booleans())) for instant in older)
        for _ in range(draw(st.integers(0, 4))):
            start = draw(st.integers(0, 96)) * 15 * MICROS_PER_MINUTE % MICROS_PER_DAY
            end = draw(st.integers(0, 96)) * 15 * MICROS_PER_MINUTE % MICROS_PER_DAY
            hours.append((store_id, draw(st.integers(0, 6)), start, end))
        zone = draw(st.one_of(st.none(), zones))
        if zone is not None:
            timezones[store_id] = zone
    # The report's now is the latest poll.
    polls.append((ids[0], now, draw(st.booleans())))
    unique: dict[tuple[str, int], bool] = {}
    for store_id, instant, active in polls:
        unique.setdefault((store_id, instant), active)
    status = StatusPolls.from_rows([(s, t, a) for (s, t), a in unique.items()])
    return now, status, BusinessHours.from_rows(hours), StoreTimezones(timezones)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(accepted_inputs())
def test_the_report_of_anything_accepted_is_computed_and_adds_up(
    inputs: tuple[int, StatusPolls, BusinessHours, StoreTimezones],
) -> None:
    now, polls, hours, timezones = inputs
    rows = UptimeCalculator().compute(now, polls, hours, timezones)

    assert rows.store_ids == tuple(sorted(polls.store_ids))
    by_store: dict[str, list[HoursRow]] = {}
    for row in hours.rows():
        by_store.setdefault(row[0], []).append(row)
    for i, store_id in enumerate(rows.store_ids):
        uptime = (int(rows.uptime_hour[i]), int(rows.uptime_day[i]), int(rows.uptime_week[i]))
        downtime = (int(rows.downtime_hour[i]), int(rows.downtime_day[i]), int(rows.downtime_week[i]))
        business = reference_business_time(now, by_store.get(store_id, []), timezones.by_store.get(store_id, DEFAULT_TIMEZONE))
        assert all(up >= 0 and down >= 0 for up, down in zip(uptime, downtime)), (store_id, uptime, downtime)
        assert tuple(up + down for up, down in zip(uptime, downtime)) == business, store_id
        assert business[0] <= MICROS_PER_HOUR and business[1] <= MICROS_PER_DAY

    text = render_csv(rows)
    read = list(csv.reader(io.StringIO(text, newline="")))
    assert read[0] == REPORT_HEADER.split(",")
    assert len(read) == len(rows.store_ids) + 1
    for store_id, line in zip(rows.store_ids, read[1:]):
        expected = "'" + store_id if store_id.startswith(FORMULA_STARTS) else store_id
        assert line[0] == expected
        assert len(line) == 7 and all(float(figure) >= 0 for figure in line[1:])
    text.encode("utf-8")
