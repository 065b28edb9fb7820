"""The in-memory repositories, registry and storage, checked against plain Python models."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.memory.data import InMemoryBusinessHoursRepository, InMemoryStatusRepository, InMemoryTimezoneRepository
from adapters.memory.reports import InMemoryReportRegistry, InMemoryReportStorage
from domain.model.inputs import BusinessHours, StatusPolls, StoreTimezones
from domain.model.report import Report, ReportStatus
from domain.ports.data import RepositoryError, StoreRange
from domain.ports.reports import ReportNotFound, ReportStorageError

HOUR = 3_600_000_000
PollRow = tuple[str, int, bool]


def model_add(stored: dict[tuple[str, int], bool], rows: list[PollRow]) -> int:
    """What add() must do: keep the first poll of each (store, instant), stored ones first."""
    before = len(stored)
    for store, instant, active in rows:
        stored.setdefault((store, instant), active)
    return len(stored) - before


def model_since(stored: dict[tuple[str, int], bool], start: int, stores: StoreRange | None) -> list[PollRow]:
    """Every poll at or after start, and each store's latest before it, sorted by (store, instant)."""
    chosen: list[PollRow] = []
    for store in sorted({store for store, _ in stored}):
        if stores is not None and store not in stores:
            continue
        instants = sorted(instant for key_store, instant in stored if key_store == store)
        before = [instant for instant in instants if instant < start]
        for instant in before[-1:] + [instant for instant in instants if instant >= start]:
            chosen.append((store, instant, stored[(store, instant)]))
    return chosen


stores = st.sampled_from(["a", "b", "0123", "123", "1234567890123456789", "é"])
# Small instants take the packed-key sort; instants ~2**61 apart overflow it and take the other path.
instants = st.one_of(st.integers(-5, 5), st.integers(-(2**61), 2**61))
poll_rows = st.lists(st.tuples(stores, instants, st.booleans()), max_size=12)


@settings(max_examples=200, deadline=None)
@given(batches=st.lists(poll_rows, min_size=1, max_size=4), start=st.integers(-6, 6), first=stores, last=stores)
def test_status_repository_matches_a_dictionary_model_at_every_snapshot(
    batches: list[list[PollRow]], start: int, first: str, last: str
) -> None:
    # Batch k is stored by version k; snapshot k sees the first k batches.
    repository = InMemoryStatusRepository()
    models: list[dict[tuple[str, int], bool]] = [{}]
    for version, rows in enumerate(batches, start=1):
        model = dict(models[-1])
        assert repository.add(StatusPolls.from_rows(rows), version=version) == model_add(model, rows)
        models.append(model)
    for snapshot, model in enumerate(models):
        assert repository.store_ids(snapshot=snapshot) == sorted({store for store, _ in model})
        assert repository.latest_timestamp(snapshot=snapshot) == max((instant for _, instant in model), default=None)
        assert repository.latest_timestamp(snapshot=snapshot, until_us=start) == max(
            (instant for _, instant in model if instant <= start), default=None
        )
        for selection in (None, StoreRange(first, last)):
            polls = repository.polls_since(start, selection, snapshot=snapshot)
            expected = model_since(model, start, selection)
            assert polls.rows() == expected
            assert polls.store_ids == tuple(sorted({store for store, _, _ in expected}))
    # Forgetting the last batch leaves the state before it.
    repository.discard_after(len(batches) - 1)
    assert repository.polls_since(-(2**62), snapshot=len(batches)).rows() == model_since(models[-2], -(2**62), None)
    assert repository.store_ids(snapshot=len(batches)) == sorted({store for store, _ in models[-2]})


def test_constructor_polls_are_added() -> None:
    repository = InMemoryStatusRepository(StatusPolls.from_rows([("b", 2, True), ("a", 1, False), ("b", 2, False)]))
    assert repository.polls_since(0, snapshot=0).rows() == [("a", 1, False), ("b", 2, True)]


def test_ids_without_polls_are_not_stores() -> None:
    polls = StatusPolls(("a", "b", "c"), [0, 2], [1, 2], [True, True])
    repository = InMemoryStatusRepository(polls)
    assert repository.store_ids(snapshot=0) == ["a", "c"]
    assert repository.polls_since(0, snapshot=0).store_ids == ("a", "c")


def test_an_empty_range_selects_nothing() -> None:
    repository = InMemoryStatusRepository(StatusPolls.from_rows([("a", 1, True), ("m", 1, True)]))
    assert len(repository.polls_since(0, StoreRange("n", "z"), snapshot=0)) == 0
    assert len(repository.polls_since(0, StoreRange("z", "a"), snapshot=0)) == 0


def test_adding_nothing_stores_nothing() -> None:
    repository = InMemoryStatusRepository()
    assert repository.add(StatusPolls.empty(), version=1) == 0
    assert repository.latest_timestamp(snapshot=1) is None
    assert repository.store_ids(snapshot=1) == []
    assert len(repository.polls_since(0, snapshot=1)) == 0


def test_hours_replace_sets_each_listed_store_and_counts_new_rows() -> None:
    repository = InMemoryBusinessHoursRepository(BusinessHours.from_rows([("a", 0, 1, 2), ("b", 1, 1, 2)]))
    # a gets exactly these rows; one of them it had already.
    given = BusinessHours.from_rows([("a", 0, 1, 2), ("a", 2, 3, 4), ("a", 2, 3, 4)])
    assert repository.replace(given, version=1) == 1
    assert repository.hours(snapshot=1).rows() == [("a", 0, 1, 2), ("a", 2, 3, 4), ("b", 1, 1, 2)]
    assert repository.hours(StoreRange("b", "b"), snapshot=1).rows() == [("b", 1, 1, 2)]
    # A store listed without rows has none afterwards.
    assert repository.replace(BusinessHours(("b",), [], [], [], []), version=2) == 0
    assert repository.hours(snapshot=2).store_ids == ("a",)
    # Earlier snapshots keep what they saw; forgetting version 2 brings b's row back.
    assert repository.hours(snapshot=0).rows() == [("a", 0, 1, 2), ("b", 1, 1, 2)]
    repository.discard_after(1)
    assert repository.hours(snapshot=2).rows() == repository.hours(snapshot=1).rows()


def test_timezone_replace_counts_new_or_changed_stores() -> None:
    repository = InMemoryTimezoneRepository(StoreTimezones({"a": "UTC"}))
    assert repository.replace(StoreTimezones({"a": "UTC", "b": "Asia/Beirut"}), version=1) == 1
    assert repository.replace(StoreTimezones({"a": "America/Boise"}), version=2) == 1
    assert dict(repository.timezones(snapshot=2).by_store) == {"a": "America/Boise", "b": "Asia/Beirut"}
    assert dict(repository.timezones(StoreRange("b", "c"), snapshot=2).by_store) == {"b": "Asia/Beirut"}
    assert dict(repository.timezones(snapshot=1).by_store) == {"a": "UTC", "b": "Asia/Beirut"}
    assert dict(repository.timezones(snapshot=0).by_store) == {"a": "UTC"}


CREATED = datetime(2023, 1, 25, tzinfo=timezone.utc)
LATER = datetime(2023, 1, 25, 0, 1, tzinfo=timezone.utc)
LAST = datetime(2023, 1, 25, 0, 2, tzinfo=timezone.utc)


def running(report_id: str) -> Report:
    return Report(report_id, ReportStatus.RUNNING, CREATED, CREATED)


def test_registry_keeps_parts_in_index_order_and_counts_them() -> None:
    registry = InMemoryReportRegistry()
    registry.add(running("r1"))
    registry.plan("r1", 3, LATER, snapshot=1, now_us=None)
    assert registry.save_part("r1", 2, "c\n", LATER) == 1
    assert registry.save_part("r1", 0, "a\n", LATER) == 2
    assert registry.save_part("r1", 0, "A\n", LAST) == 2  # saved again: replaced
    assert registry.parts("r1") == ["A\n", "c\n"]
    report = registry.get("r1")
    assert (report.progress_done, report.progress_total, report.updated_at) == (2, 3, LAST)


def test_a_report_leaves_running_once() -> None:
    registry = InMemoryReportRegistry()
    registry.add(running("r1"))
    registry.add(running("r2"))
    assert registry.mark_complete("r1", "r1.csv", LATER)
    assert registry.get("r1") == attrs.evolve(
        running("r1"), status=ReportStatus.COMPLETE, report_path="r1.csv", finished_at=LATER, updated_at=LATER
    )
    assert not registry.mark_failed("r1", "too late", LAST)
    assert registry.get("r1").status is ReportStatus.COMPLETE
    assert registry.mark_failed("r2", "boom", LATER)
    assert not registry.mark_complete("r2", "r2.csv", LAST)
    assert registry.get("r2") == attrs.evolve(
        running("r2"), status=ReportStatus.FAILED, error="boom", finished_at=LATER, updated_at=LATER
    )


def test_registry_refuses_a_second_report_with_the_same_id() -> None:
    registry = InMemoryReportRegistry()
    registry.ping()
    registry.add(running("r1"))
    with pytest.raises(RepositoryError):
        registry.add(running("r1"))


@pytest.mark.parametrize(
    "action",
    [
        lambda registry: registry.get("nope"),
        lambda registry: registry.plan("nope", 1, LATER, snapshot=1, now_us=None),
        lambda registry: registry.save_part("nope", 0, "", LATER),
        lambda registry: registry.parts("nope"),
        lambda registry: registry.mark_complete("nope", "x.csv", LATER),
        lambda registry: registry.mark_failed("nope", "x", LATER),
    ],
)
def test_registry_unknown_report_is_not_found(action: Callable[[InMemoryReportRegistry], object]) -> None:
    with pytest.raises(ReportNotFound):
        action(InMemoryReportRegistry())


def test_storage_keeps_bytes_by_location() -> None:
    storage = InMemoryReportStorage()
    location = storage.save("r1", b"store_id\n")
    assert storage.load(location) == b"store_id\n"
    assert storage.saved == {"r1": b"store_id\n"}
    with pytest.raises(ReportStorageError):
        storage.load("other")
