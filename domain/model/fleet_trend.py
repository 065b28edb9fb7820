"""The fleet trend's summary: the fleet's days, its full weeks, and the stores slipping most.

A trend run computes its stores in parts; each part also sums its own
stores (``summarize_part``) from the exact microseconds, never from the
rounded CSV: per day the business time and uptime, and how many stores were
below 90 % and below 50 % of their business time; and the stores of the
part whose uptime dropped most from the week before to the last week, at
most ``SLIPPING_STORES`` of them, with their weekly sums. Parts join
(``combine``) into the summary of the whole, whatever their number and
order: the sums add up, and the stores slipping most in the fleet are among
those slipping most in their part. So the summary costs memory in days and
weeks, never in stores.

``fleet_trend`` turns a summary into the figures people read: percentages
and hours, rounded only there.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from typing import Any

import attrs
import numpy as np

from domain.model.clock import MICROS_PER_HOUR
from domain.model.interval import Interval
from domain.model.trend import TrendSeries, check_days, day_window

# The stores slipping most that a trend names.
SLIPPING_STORES = 20
DAYS_PER_WEEK = 7
# A store is "below 90 %" on a day when uptime < 90/100 of its business time.
BELOW_90 = Fraction(9, 10)
BELOW_50 = Fraction(1, 2)


def full_weeks(days: int) -> int:
    """The full weeks in ``days`` days: week 1 is days 1-7, week 2 days 8-14..."""
    return days // DAYS_PER_WEEK


def week_window(now: int, week: int) -> Interval:
    """Week ``week`` (1 = the one ending at ``now``): its days ``7 * week`` back to ``7 * (week - 1) + 1``."""
    return Interval(day_window(now, DAYS_PER_WEEK * week).start, day_window(now, DAYS_PER_WEEK * (week - 1) + 1).end)


def _int_tuple(values: Iterable[Any]) -> tuple[int, ...]:
    return tuple(int(value) for value in values)


@attrs.frozen
class WeeklyStore:
    """One store's business time and uptime in each full week (microseconds), week 1 first."""

    store_id: str
    business: tuple[int, ...] = attrs.field(converter=_int_tuple)
    uptime: tuple[int, ...] = attrs.field(converter=_int_tuple)

    def share(self, week: int) -> Fraction | None:
        """Uptime as an exact share of business time in week ``week`` (from 1); None without business time."""
        business = self.business[week - 1]
        return None if business == 0 else Fraction(self.uptime[week - 1], business)

    @property
    def change(self) -> Fraction | None:
        """Week 1's share minus week 2's, exactly; None when either week has no business time (or no week 2)."""
        if len(self.business) < 2:
            return None
        first, second = self.share(1), self.share(2)
        if first is None or second is None:
            return None
        return first - second

    def to_json(self) -> dict[str, Any]:
        return {"store_id": self.store_id, "business": list(self.business), "uptime": list(self.uptime)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WeeklyStore:
        return cls(str(data["store_id"]), data["business"], data["uptime"])


def _slipping_key(store: WeeklyStore) -> tuple[Fraction, str]:
    change = store.change
    assert change is not None
    return (change, store.store_id)


def most_slipping(stores: Iterable[WeeklyStore], limit: int = SLIPPING_STORES) -> tuple[WeeklyStore, ...]:
    """The stores whose share dropped (change < 0), most first, ties by id; at most ``limit``.

    Keeps ``limit`` candidates at a time, however many stores pass.
    """
    dropped = (store for store in stores if (change := store.change) is not None and change < 0)
    return tuple(heapq.nsmallest(limit, dropped, key=_slipping_key))


@attrs.frozen
class TrendSummary:
    """What a trend sums over its stores, exactly: per day (day 1 first) and its stores slipping most.

    ``business`` and ``uptime`` are microseconds summed over the stores;
    ``below_90`` and ``below_50`` count the stores with business time that
    day whose uptime was below 90 % (50 %) of it (a store below 50 % is below
    90 % too). ``slipping`` is ``most_slipping`` of the stores summed.
    """

    days: int
    business: tuple[int, ...] = attrs.field(converter=_int_tuple)
    uptime: tuple[int, ...] = attrs.field(converter=_int_tuple)
    below_90: tuple[int, ...] = attrs.field(converter=_int_tuple)
    below_50: tuple[int, ...] = attrs.field(converter=_int_tuple)
    slipping: tuple[WeeklyStore, ...] = ()

    def __attrs_post_init__(self) -> None:
        check_days(self.days)
        columns = (self.business, self.uptime, self.below_90, self.below_50)
        if any(len(column) != self.days for column in columns):
            raise ValueError(f"a trend summary over {self.days} days needs one figure per day")

    @classmethod
    def empty(cls, days: int) -> TrendSummary:
        zeros = [0] * days
        return cls(days, zeros, zeros, zeros, zeros)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values (integers, strings), as a registry stores them."""
        return {
            "days": self.days,
            "business": list(self.business),
            "uptime": list(self.uptime),
            "below_90": list(self.below_90),
            "below_50": list(self.below_50),
            "slipping": [store.to_json() for store in self.slipping],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrendSummary:
        return cls(
            int(data["days"]),
            data["business"],
            data["uptime"],
            data["below_90"],
            data["below_50"],
            tuple(WeeklyStore.from_json(store) for store in data["slipping"]),
        )


def summarize_part(series: TrendSeries) -> TrendSummary:
    """The summary of the stores of one part, from their exact figures."""
    business, uptime = series.business, series.uptime
    if len(series) == 0:
        return TrendSummary.empty(series.days)
    open_ = business > 0
    # Exact in int64: a day holds at most 25 hours of microseconds, times 10.
    below_90 = open_ & (BELOW_90.denominator * uptime < BELOW_90.numerator * business)
    below_50 = open_ & (BELOW_50.denominator * uptime < BELOW_50.numerator * business)
    weeks = full_weeks(series.days)
    count = len(series)
    weekly_business = business[:, : weeks * DAYS_PER_WEEK].reshape(count, weeks, DAYS_PER_WEEK).sum(axis=2)
    weekly_uptime = uptime[:, : weeks * DAYS_PER_WEEK].reshape(count, weeks, DAYS_PER_WEEK).sum(axis=2)
    stores = (
        WeeklyStore(store_id, weekly_business[i].tolist(), weekly_uptime[i].tolist())
        for i, store_id in enumerate(series.store_ids)
    )
    return TrendSummary(
        series.days,
        business.sum(axis=0, dtype=np.int64).tolist(),
        uptime.sum(axis=0, dtype=np.int64).tolist(),
        below_90.sum(axis=0).tolist(),
        below_50.sum(axis=0).tolist(),
        most_slipping(stores) if weeks >= 2 else (),
    )


def combine(days: int, parts: Iterable[TrendSummary]) -> TrendSummary:
    """The summary of the union of disjoint parts' stores (in any order)."""
    total = TrendSummary.empty(days)
    business, uptime = list(total.business), list(total.uptime)
    below_90, below_50 = list(total.below_90), list(total.below_50)
    candidates: tuple[WeeklyStore, ...] = ()
    for part in parts:
        if part.days != days:
            raise ValueError(f"a part over {part.days} days cannot join a trend over {days} days")
        for k in range(days):
            business[k] += part.business[k]
            uptime[k] += part.uptime[k]
            below_90[k] += part.below_90[k]
            below_50[k] += part.below_50[k]
        # Only the best candidates so far are kept: memory never grows with the parts.
        candidates = most_slipping((*candidates, *part.slipping))
    return TrendSummary(days, business, uptime, below_90, below_50, candidates)


# --- the figures people read ----------------------------------------------------------------


def _percent(share: Fraction | None) -> float | None:
    return None if share is None else round(float(100 * share), 2)


def _hours(micros: int) -> float:
    return round(micros / MICROS_PER_HOUR, 4)


@attrs.frozen
class FleetDay:
    day: int
    window: Interval
    business_hours: float
    uptime_hours: float
    uptime_percent: float | None
    stores_below_90: int
    stores_below_50: int


@attrs.frozen
class FleetWeek:
    week: int
    window: Interval


@attrs.frozen
class SlippingStore:
    store_id: str
    weekly_uptime_percent: tuple[float | None, ...]
    change: float


@attrs.frozen
class FleetTrend:
    """A trend's figures: hours to 4 decimals, percentages (and their change, in points) to 2.

    ``now`` is None when the trend's data had no poll (by its ``as_of``):
    then there are no days, no weeks and no stores.
    """

    now: int | None
    days: int
    fleet: tuple[FleetDay, ...]
    weeks: tuple[FleetWeek, ...]
    slipping: tuple[SlippingStore, ...]


def fleet_trend(now: int | None, summary: TrendSummary) -> FleetTrend:
    """The figures of a trend at ``now`` from its summary."""
    days = summary.days
    if now is None:
        return FleetTrend(None, days, (), (), ())
    fleet = tuple(
        FleetDay(
            day=k + 1,
            window=day_window(now, k + 1),
            business_hours=_hours(summary.business[k]),
            uptime_hours=_hours(summary.uptime[k]),
            uptime_percent=_percent(None if summary.business[k] == 0 else Fraction(summary.uptime[k], summary.business[k])),
            stores_below_90=summary.below_90[k],
            stores_below_50=summary.below_50[k],
        )
        for k in range(days)
    )
    weeks = tuple(FleetWeek(week, week_window(now, week)) for week in range(1, full_weeks(days) + 1))
    slipping = tuple(_slipping_store(store) for store in summary.slipping)
    return FleetTrend(now, days, fleet, weeks, slipping)


def _slipping_store(store: WeeklyStore) -> SlippingStore:
    change = store.change
    assert change is not None
    weekly: Sequence[float | None] = [_percent(store.share(week)) for week in range(1, len(store.business) + 1)]
    return SlippingStore(store.store_id, tuple(weekly), round(float(100 * change), 2))
