"""The use cases against in-memory repositories: ingestion counts, report runs in parts."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import attrs
import pytest
from fakes import RecordingWorkQueue, in_memory_work

from adapters.memory.data import (
    InMemoryBusinessHoursRepository,
    InMemoryIngestionLog,
    InMemoryStatusRepository,
    InMemoryTimezoneRepository,
)
from adapters.memory.reports import InMemoryReportRegistry, InMemoryReportStorage
from domain.model.clock import from_micros
from domain.model.ingestion import START, BatchCounts, FileSummary, ParsedInput, ResumePoint, StatusBatch
from domain.model.inputs import BusinessHours, StatusPolls, StoreTimezones
from domain.model.report import REPORT_HEADER, ReportStatus, render_csv
from domain.model.uptime import UptimeCalculator
from domain.ports.data import StoreRange
from domain.ports.reading import InputReader
from domain.ports.reports import ReportNotFound, ReportStorageError
from domain.ports.work import QueueUnavailable
from domain.use_cases.ingest import IngestService
from domain.use_cases.report_runs import ReportNotReady, ReportRunService
from domain.use_cases.reports import ReportService, split_stores

HOUR = 3_600_000_000
NOW = 1_674_000_000_000_000


class StaticReader(InputReader):
    """Returns the same parsed folder whatever the path."""

    def __init__(self, parsed: ParsedInput) -> None:
        self.parsed = parsed

    def read(self, folder: Path) -> ParsedInput:
        return self.parsed


class ManualClock:
    def __init__(self) -> None:
        self.now = datetime(2023, 1, 25, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


def parsed_input(polls: StatusPolls) -> ParsedInput:
    return ParsedInput(
        polls=polls,
        polls_summary=FileSummary(rows=len(polls) + 2, duplicates=1, rejected=1),
        hours=BusinessHours.from_rows([("a", 0, 0, HOUR), ("a", 1, 0, HOUR)]),
        hours_summary=FileSummary(rows=2),
        timezones=StoreTimezones({"a": "Asia/Kolkata"}),
        timezones_summary=FileSummary(rows=1),
    )


def make_polls(stores: list[str]) -> StatusPolls:
    return StatusPolls.from_rows(
        [(store, NOW - k * HOUR, (k + i) % 3 != 0) for i, store in enumerate(stores) for k in range(0, 200, 7)]
    )


def ingest_service(reader: InputReader) -> IngestService:
    status = InMemoryStatusRepository()
    hours, timezones = InMemoryBusinessHoursRepository(), InMemoryTimezoneRepository()
    return IngestService(reader, status, hours, timezones, InMemoryIngestionLog(status, hours, timezones))


def test_ingest_counts_new_rows_and_a_repeat_stores_nothing_new() -> None:
    polls = make_polls(["a", "b"])
    service = ingest_service(StaticReader(parsed_input(polls)))
    first = service.ingest(Path("any"))
    second = service.ingest(Path("any"))

    assert (first.store_status.new, first.menu_hours.new, first.timezone.new) == (len(polls), 2, 1)
    assert (second.store_status.new, second.menu_hours.new, second.timezone.new) == (0, 0, 0)
    # the reader's counts pass through untouched
    assert (first.store_status.rows, first.store_status.duplicates, first.store_status.rejected) == (
        len(polls) + 2,
        1,
        1,
    )


class BatchReader(StaticReader):
    """Hands out the status file as the given batches of polls."""

    def __init__(self, parsed: ParsedInput, batches: list[StatusPolls]) -> None:
        super().__init__(parsed)
        self.batches = batches

    def status_batches(self, folder: Path, resume: ResumePoint | None = None) -> Iterator[StatusBatch]:
        return iter(StatusBatch(batch, BatchCounts(rows=len(batch)), START) for batch in self.batches)


def test_a_poll_repeated_in_a_later_batch_of_the_file_is_a_duplicate_not_already_stored() -> None:
    first = StatusPolls.from_rows([("a", NOW, True), ("b", NOW, True)])
    second = StatusPolls.from_rows([("b", NOW, False), ("c", NOW, True)])
    service = ingest_service(BatchReader(parsed_input(first), [first, second]))

    summary = service.ingest(Path("any")).store_status

    assert (summary.rows, summary.new, summary.already_stored, summary.duplicates) == (4, 3, 0, 1)
    # Read again, every poll was stored by the earlier ingestion: the repeat in a later
    # batch cannot be told from the others and counts as already stored (the sum holds).
    again = service.ingest(Path("any")).store_status
    assert (again.rows, again.new, again.already_stored, again.duplicates) == (4, 0, 4, 0)


def test_ingest_reports_each_step_to_the_progress_listener() -> None:
    steps: list[tuple[int, int]] = []
    service = ingest_service(StaticReader(parsed_input(make_polls(["a"]))))
    service.ingest(Path("any"), lambda step, done, total: steps.append((done, total)))
    assert steps[0] == (0, 4) and steps[-1] == (4, 4)
    assert [done for done, _ in steps] == sorted(done for done, _ in steps)


def report_service(
    polls: StatusPolls | InMemoryStatusRepository, log: InMemoryIngestionLog | None = None
) -> ReportService:
    status = polls if isinstance(polls, InMemoryStatusRepository) else InMemoryStatusRepository(polls)
    hours = InMemoryBusinessHoursRepository(BusinessHours.from_rows([("b", 2, 0, 5 * HOUR)]))
    timezones = InMemoryTimezoneRepository(StoreTimezones({"c": "Europe/Berlin"}))
    return ReportService(
        status, hours, timezones, UptimeCalculator(), log=log or InMemoryIngestionLog(status, hours, timezones)
    )


STORES = [f"store-{i:02d}" for i in range(23)]


def runs(
    polls: StatusPolls | ReportService, queue: RecordingWorkQueue, chunk_size: int = 5
) -> tuple[ReportRunService, InMemoryReportRegistry, InMemoryReportStorage, ManualClock]:
    registry, storage, clock = InMemoryReportRegistry(), InMemoryReportStorage(), ManualClock()
    ids = (f"r{i}" for i in itertools.count())
    reports = polls if isinstance(polls, ReportService) else report_service(polls)
    work = in_memory_work(clock, queue)
    service = ReportRunService(
        reports, registry, storage, work, clock, lambda: next(ids), chunk_size, timedelta(minutes=10)
    )
    return service, registry, storage, clock


def test_parts_computed_in_any_order_and_twice_assemble_exactly_the_whole_report() -> None:
    polls = make_polls(STORES)
    queue = RecordingWorkQueue()
    service, registry, storage, _ = runs(polls, queue)

    report = service.trigger()
    assert queue.submitted == [report.report_id]
    assert registry.get(report.report_id).status is ReportStatus.RUNNING

    plan = service.plan(report.report_id)
    assert len(plan.chunks) == 5  # 23 stores in parts of 5
    finished = [service.run_chunk(report.report_id, i, plan.chunks[i]) for i in (3, 0, 0, 4, 2)]
    assert not any(finished)
    assert registry.get(report.report_id).progress_done == 4
    assert service.run_chunk(report.report_id, 1, plan.chunks[1]) is not None

    whole = render_csv(report_service(polls).compute())
    assert service.content(report.report_id) == whole.encode()
    assert registry.get(report.report_id).status is ReportStatus.COMPLETE


def test_a_part_that_comes_after_completion_changes_nothing() -> None:
    service, registry, storage, _ = runs(make_polls(STORES[:3]), RecordingWorkQueue(), chunk_size=10)
    report = service.trigger()
    plan = service.plan(report.report_id)
    assert service.run_chunk(report.report_id, 0, plan.chunks[0]) is not None
    saved = dict(storage.saved)
    assert service.run_chunk(report.report_id, 0, plan.chunks[0]) is None
    assert storage.saved == saved


def test_a_last_part_saved_twice_at_once_never_overwrites_the_file_with_the_header_only() -> None:
    service, registry, storage, _ = runs(make_polls(STORES[:3]), RecordingWorkQueue(), chunk_size=10)
    report = service.trigger()
    plan = service.plan(report.report_id)
    # Two deliveries of the only part both saved it before either assembled.
    registry.save_part(report.report_id, 0, "late\n", datetime.now(timezone.utc))
    assert service.run_chunk(report.report_id, 0, plan.chunks[0]) is not None
    good = storage.saved[report.report_id]
    assert service._assemble(report.report_id) is None  # what the second delivery then does
    assert storage.saved[report.report_id] == good
    assert good.count(b"\n") == 4  # header + 3 stores


def test_a_report_without_any_poll_completes_with_the_header_only() -> None:
    service, registry, _, _ = runs(StatusPolls.empty(), RecordingWorkQueue())
    report = service.trigger()
    assert service.plan(report.report_id).chunks == ()
    assert service.content(report.report_id) == render_csv(report_service(StatusPolls.empty()).compute()).encode()


def test_a_refused_queue_fails_the_report_with_the_reason() -> None:
    service, registry, _, _ = runs(make_polls(STORES), RecordingWorkQueue(refuse=True))
    with pytest.raises(QueueUnavailable):
        service.trigger()
    (report,) = registry.reports.values()
    assert report.status is ReportStatus.FAILED
    assert report.error is not None and "connection refused" in report.error


def test_a_report_without_progress_for_too_long_is_failed_when_polled() -> None:
    service, registry, _, clock = runs(make_polls(STORES), RecordingWorkQueue())
    report = service.trigger()
    clock.now += timedelta(minutes=9)
    assert service.status(report.report_id).status is ReportStatus.RUNNING
    clock.now += timedelta(minutes=2)
    stalled = service.status(report.report_id)
    assert stalled.status is ReportStatus.FAILED
    assert stalled.error is not None and "no progress" in stalled.error
    with pytest.raises(ReportNotReady):
        service.content(report.report_id)


def test_a_report_failed_before_its_planning_arrived_is_not_planned() -> None:
    service, registry, _, _ = runs(make_polls(STORES), RecordingWorkQueue())
    report = service.trigger()
    service.fail(report.report_id, "queueing timed out")
    assert service.plan(report.report_id).chunks == ()
    assert registry.get(report.report_id).progress_total == 0
    assert registry.get(report.report_id).status is ReportStatus.FAILED


def test_a_failed_report_stays_failed_when_a_late_part_arrives() -> None:
    service, registry, storage, _ = runs(make_polls(STORES[:3]), RecordingWorkQueue(), chunk_size=10)
    report = service.trigger()
    plan = service.plan(report.report_id)
    service.fail(report.report_id, "disk full")
    assert service.run_chunk(report.report_id, 0, plan.chunks[0]) is None
    assert registry.get(report.report_id).status is ReportStatus.FAILED
    assert storage.saved == {}


def test_polls_after_the_planned_now_do_not_change_a_part() -> None:
    # "a" was last polled days ago; "b" holds the latest poll, so it sets now.
    status = InMemoryStatusRepository(
        StatusPolls.from_rows([("a", NOW - 50 * HOUR, True), ("b", NOW, True)])
    )
    log = InMemoryIngestionLog(status)
    service = report_service(status, log)
    snapshot = service.snapshot()
    now = service.now()
    assert now == NOW
    before = render_csv(service.compute(now))
    # Ingested while the report runs: the first poll of "a" on now's local day,
    # which would otherwise decide that whole day from its start.
    version = log.begin()
    status.add(StatusPolls.from_rows([("a", NOW + 60_000_000, False)]), version=version)
    log.complete(version)
    assert render_csv(service.compute(now, snapshot=snapshot)) == before
    # Even at the new snapshot, polls after now are left out.
    assert render_csv(service.compute(now)) == before
    assert render_csv(service.compute(now + 60_000_000)) != before


# --- one snapshot per report -----------------------------------------------------------------


@attrs.frozen
class Memory:
    """In-memory repositories and their ingestion log."""

    status: InMemoryStatusRepository
    hours: InMemoryBusinessHoursRepository
    timezones: InMemoryTimezoneRepository
    log: InMemoryIngestionLog

    @classmethod
    def of(cls, polls: StatusPolls) -> Memory:
        status = InMemoryStatusRepository(polls)
        hours = InMemoryBusinessHoursRepository(BusinessHours.from_rows([("b", 2, 0, 5 * HOUR)]))
        timezones = InMemoryTimezoneRepository(StoreTimezones({"c": "Europe/Berlin"}))
        return cls(status, hours, timezones, InMemoryIngestionLog(status, hours, timezones))

    def reports(self) -> ReportService:
        return ReportService(self.status, self.hours, self.timezones, UptimeCalculator(), log=self.log)

    def ingest(self, parsed: ParsedInput) -> None:
        IngestService(StaticReader(parsed), self.status, self.hours, self.timezones, self.log).ingest(Path("any"))


def later_data() -> ParsedInput:
    """New stores, a later poll of every store, other hours for a, b and c, another zone for c."""
    polls = StatusPolls.from_rows([(store, NOW + HOUR, i % 2 == 0) for i, store in enumerate([*STORES, "zz-new"])])
    hours = BusinessHours.from_rows([(store, day, 8 * HOUR, 20 * HOUR) for store in "abc" for day in range(7)])
    return attrs.evolve(
        parsed_input(polls),
        hours=hours,
        hours_summary=FileSummary(rows=len(hours)),
        timezones=StoreTimezones({"c": "Asia/Tokyo", "zz-new": "UTC"}),
        timezones_summary=FileSummary(rows=2),
    )


def run_all(service: ReportRunService, report_id: str) -> bytes:
    plan = service.plan(report_id)
    for index, chunk in enumerate(plan.chunks):
        service.run_chunk(report_id, index, chunk)
    return service.content(report_id)


def test_a_report_reads_the_snapshot_of_its_plan_whatever_is_ingested_before_its_parts() -> None:
    memory = Memory.of(make_polls(["a", "b", "c", *STORES[:10]]))
    service, registry, _, _ = runs(memory.reports(), RecordingWorkQueue(), chunk_size=3)
    before = memory.reports().csv().encode()
    report = service.trigger().report_id
    plan = service.plan(report)
    assert registry.get(report).snapshot == plan.snapshot == memory.log.latest_complete()

    memory.ingest(later_data())
    # Planned again (its task delivered twice): the first plan stands.
    assert service.plan(report) == plan
    for index, chunk in enumerate(plan.chunks):
        service.run_chunk(report, index, chunk)

    after = memory.reports().csv().encode()
    assert after != before and b"zz-new" in after
    assert service.content(report) == before
    assert run_all(service, service.trigger().report_id) == after


def test_an_ingestion_that_fails_halfway_is_never_seen_and_the_next_one_is() -> None:
    memory = Memory.of(make_polls(STORES[:5]))
    before = memory.reports().csv()

    class FailingTimezones(InMemoryTimezoneRepository):
        def replace(self, timezones: StoreTimezones, *, version: int) -> int:
            raise ReportStorageError("disk full")

    failing = IngestService(StaticReader(later_data()), memory.status, memory.hours, FailingTimezones(), memory.log)
    with pytest.raises(ReportStorageError):
        failing.ingest(Path("any"))

    # Its polls and hours were stored, but no snapshot sees them.
    assert memory.reports().csv() == before
    memory.ingest(parsed_input(make_polls(["zz-other"])))
    assert "zz-new" not in memory.reports().csv() and "zz-other" in memory.reports().csv()


# --- reports as of an instant ----------------------------------------------------------------

AS_OF_BETWEEN = NOW - 30 * HOUR - 5 * 60_000_000  # polls are every 7 hours: the latest before is NOW - 35 h


def as_of_csv(polls: StatusPolls, as_of: datetime | None) -> tuple[bytes, ReportRunService, str]:
    service, _, _, _ = runs(polls, RecordingWorkQueue(), chunk_size=4)
    report = service.trigger(as_of).report_id
    return run_all(service, report), service, report


def test_a_report_as_of_an_instant_between_polls_is_the_report_of_the_polls_until_it() -> None:
    polls = make_polls(STORES)
    as_of = from_micros(AS_OF_BETWEEN)

    content, service, report_id = as_of_csv(polls, as_of)

    recorded = service.status(report_id)
    assert (recorded.as_of, recorded.now_us) == (as_of, NOW - 35 * HOUR)
    only_until = StatusPolls.from_rows([row for row in polls.rows() if row[1] <= AS_OF_BETWEEN])
    offline = report_service(only_until).csv().encode()
    assert content == offline
    assert content == report_service(polls).csv(as_of).encode()
    assert content != report_service(polls).csv().encode()


def test_a_report_as_of_an_instant_before_every_poll_is_the_header_alone() -> None:
    before_all = from_micros(NOW - 1000 * HOUR)

    content, service, report_id = as_of_csv(make_polls(STORES), before_all)

    assert content == (REPORT_HEADER + "\n").encode()
    assert report_service(make_polls(STORES)).csv(before_all) == REPORT_HEADER + "\n"
    assert service.status(report_id).now_us is None


@pytest.mark.parametrize("as_of", [from_micros(NOW), from_micros(NOW + 1), datetime(9999, 1, 1, tzinfo=timezone.utc)])
def test_a_report_as_of_an_instant_after_every_poll_is_the_report_without_one(as_of: datetime) -> None:
    polls = make_polls(STORES)

    content, _, _ = as_of_csv(polls, as_of)

    assert content == as_of_csv(polls, None)[0] == report_service(polls).csv().encode()


def test_as_of_is_an_instant_whatever_its_offset() -> None:
    polls = make_polls(STORES)
    in_utc = from_micros(AS_OF_BETWEEN)
    elsewhere = in_utc.astimezone(timezone(timedelta(hours=-7, minutes=-30)))

    assert as_of_csv(polls, elsewhere)[0] == as_of_csv(polls, in_utc)[0]


@pytest.mark.parametrize(("count", "size", "expected"), [(0, 3, 0), (1, 3, 1), (3, 3, 1), (4, 3, 2), (10, 1, 10)])
def test_split_stores_covers_every_store_once(count: int, size: int, expected: int) -> None:
    ids = [f"s{i:03d}" for i in range(count)]
    chunks = split_stores(ids, size)
    assert len(chunks) == expected
    assert [s for s in ids if any(s in c for c in chunks)] == ids
    assert all(sum(s in c for c in chunks) == 1 for s in ids)


def test_report_parts_over_store_ranges_join_into_the_whole_report() -> None:
    service = report_service(make_polls(STORES))
    now = service.now()
    assert now is not None
    parts = [service.compute(now, StoreRange(c.first, c.last)) for c in split_stores(STORES, 4)]
    joined = "".join(render_csv(part).split("\n", 1)[1] for part in parts)
    assert render_csv(service.compute(now)).split("\n", 1)[1] == joined


# --- purging old reports ------------------------------------------------------------------


def finished_reports(service: ReportRunService) -> tuple[str, str, str]:
    """A complete, a failed and a running report, all triggered at the clock's time."""
    complete = service.trigger().report_id
    plan = service.plan(complete)
    for index, chunk in enumerate(plan.chunks):
        service.run_chunk(complete, index, chunk)
    failed = service.trigger().report_id
    service.plan(failed)
    service.fail(failed, "disk full")
    running = service.trigger().report_id
    return complete, failed, running


def test_purge_deletes_finished_reports_older_than_the_age_with_their_files_and_parts() -> None:
    service, registry, storage, clock = runs(make_polls(STORES), RecordingWorkQueue(), chunk_size=5)
    old_complete, old_failed, old_running = finished_reports(service)
    registry.save_part(old_failed, 0, "a,1\n", clock.now)
    clock.now += timedelta(days=20)
    new_complete, new_failed, new_running = finished_reports(service)
    assert set(storage.saved) == {old_complete, new_complete}

    clock.now += timedelta(days=15)  # the first ones finished 35 days ago, the others 15
    deleted = service.purge(timedelta(days=30))

    assert deleted == 2
    assert set(registry.reports) == {old_running, new_complete, new_failed, new_running}
    assert set(storage.saved) == {new_complete}
    assert old_failed not in registry.saved_parts
    for gone in (old_complete, old_failed):
        with pytest.raises(ReportNotFound):
            service.status(gone)
    assert service.content(new_complete).startswith(b"store_id,")


def test_a_running_report_is_never_purged_however_old() -> None:
    service, registry, storage, clock = runs(make_polls(STORES[:3]), RecordingWorkQueue())
    running = service.trigger().report_id
    service.plan(running)
    registry.save_part(running, 0, "a,1\n", clock.now)
    clock.now += timedelta(days=400)

    assert service.purge(timedelta(days=1)) == 0

    assert registry.get(running).is_running
    assert registry.parts(running) == ["a,1\n"]


def test_a_report_finished_exactly_at_the_cutoff_is_kept() -> None:
    service, registry, storage, clock = runs(make_polls(STORES[:3]), RecordingWorkQueue())
    report = service.trigger().report_id
    service.fail(report, "boom")
    clock.now += timedelta(days=30)

    assert service.purge(timedelta(days=30)) == 0
    clock.now += timedelta(microseconds=1)
    assert service.purge(timedelta(days=30)) == 1
    assert registry.reports == {}


class UndeletableStorage(InMemoryReportStorage):
    def delete(self, location: str) -> None:
        raise ReportStorageError(f"cannot delete {location}: read-only file system")


def test_purge_deletes_the_files_before_the_records() -> None:
    registry, storage, clock = InMemoryReportRegistry(), UndeletableStorage(), ManualClock()
    ids = (f"r{i}" for i in itertools.count())
    service = ReportRunService(
        report_service(make_polls(STORES[:3])),
        registry,
        storage,
        in_memory_work(clock),
        clock,
        lambda: next(ids),
        10,
        timedelta(minutes=10),
    )
    complete, failed, _ = finished_reports(service)
    clock.now += timedelta(days=31)

    # The file cannot go, so no record goes: a record never disappears before its file.
    with pytest.raises(ReportStorageError):
        service.purge(timedelta(days=30))
    assert registry.get(complete).status is ReportStatus.COMPLETE
    assert registry.get(failed).status is ReportStatus.FAILED
    assert service.content(complete).startswith(b"store_id,")


def test_a_record_whose_file_is_gone_is_still_purged_and_a_second_purge_deletes_nothing() -> None:
    service, registry, storage, clock = runs(make_polls(STORES[:3]), RecordingWorkQueue(), chunk_size=10)
    _, _, running = finished_reports(service)
    storage.saved.clear()  # the file went before its record, e.g. a purge stopped halfway
    clock.now += timedelta(days=31)

    assert service.purge(timedelta(days=30)) == 2
    assert service.purge(timedelta(days=30)) == 0
    assert set(registry.reports) == {running}


@pytest.mark.parametrize("age", [timedelta(0), timedelta(days=-1)])
def test_purge_refuses_an_age_that_is_not_positive(age: timedelta) -> None:
    service, registry, _, clock = runs(make_polls(STORES[:3]), RecordingWorkQueue())
    report = service.trigger().report_id
    service.fail(report, "boom")

    with pytest.raises(ValueError):
        service.purge(age)
    assert registry.get(report).status is ReportStatus.FAILED
