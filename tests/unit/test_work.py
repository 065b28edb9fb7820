"""The rules of units of work, leases, heartbeats and the watchdog, on in-memory adapters with a fake clock."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fakes import RecordingWorkQueue

from adapters.memory.data import (
    InMemoryBusinessHoursRepository,
    InMemoryIngestionLog,
    InMemoryStatusRepository,
    InMemoryTimezoneRepository,
)
from adapters.memory.reports import InMemoryReportRegistry, InMemoryReportStorage
from adapters.memory.uploads import InMemoryIngestRegistry
from adapters.memory.work import InMemoryWorkerRegistry, InMemoryWorkLedger
from domain.model.inputs import BusinessHours, StatusPolls, StoreTimezones
from domain.model.report import ReportStatus, RunKind
from domain.model.uptime import UptimeCalculator
from domain.model.work_units import (
    COMPUTE_PART_TASK,
    INGEST_UPLOAD_TASK,
    PLAN_REPORT_TASK,
    UnitState,
    label_for,
    unit_id_for,
)
from domain.ports.work import QueueUnavailable
from domain.use_cases.report_runs import ReportRunService
from domain.use_cases.reports import ReportService
from domain.use_cases.work import WorkTracker, unit_for

LEASE = timedelta(seconds=10)
PERIOD = timedelta(seconds=2)
HOUR = 3_600_000_000
NOW_US = 1_674_000_000_000_000


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 10, 3, 12, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class World:
    def __init__(self) -> None:
        self.clock = Clock()
        self.ledger = InMemoryWorkLedger()
        self.workers = InMemoryWorkerRegistry()
        self.broker = RecordingWorkQueue()
        self.work = WorkTracker(self.ledger, self.workers, self.broker, self.clock, LEASE, PERIOD)

    def part(self, index: int, run_id: str = "r1") -> str:
        unit = unit_for(self.work, run_id, COMPUTE_PART_TASK, [run_id, index, f"a{index}", f"z{index}"])
        self.work.submit([unit])
        return unit.unit_id

    def worker_alive(self) -> None:
        self.work.beat("host:1", "host", 1, self.clock())


@pytest.fixture
def world() -> World:
    return World()


def test_a_message_names_its_unit_and_a_unit_its_message() -> None:
    assert unit_id_for(PLAN_REPORT_TASK, ["r"]) == "report/r/plan"
    assert unit_id_for(COMPUTE_PART_TASK, ["r", 3, "a", "b"]) == "report/r/part/3"
    assert unit_id_for(INGEST_UPLOAD_TASK, ["i"]) == "ingest/i"
    assert unit_id_for("store_monitor.purge_reports", []) is None
    assert label_for(COMPUTE_PART_TASK, ["r", 3, "a", "b"]) == "part 3 (stores 'a' to 'b')"


def test_submit_records_a_queued_unit_then_publishes_its_message(world: World) -> None:
    unit_id = world.part(0)

    unit = world.work.get(unit_id)
    assert (unit.state, unit.attempts, unit.holder, unit.publish_error) == (UnitState.QUEUED, 0, None, None)
    assert world.broker.messages == [(COMPUTE_PART_TASK, ("r1", 0, "a0", "z0"))]


def test_a_claim_leases_the_unit_and_a_duplicate_message_finds_nothing_to_do(world: World) -> None:
    unit_id = world.part(0)

    claimed = world.work.claim(unit_id, "w1")
    assert claimed is not None
    assert (claimed.state, claimed.holder, claimed.attempts) == (UnitState.LEASED, "w1", 1)
    assert claimed.lease_until == world.clock() + LEASE
    assert world.work.claim(unit_id, "w2") is None  # held by a live lease


def test_a_renewed_lease_holds_and_an_expired_one_is_taken_by_the_next_claim(world: World) -> None:
    unit_id = world.part(0)
    world.work.claim(unit_id, "w1")

    world.clock.advance(8)
    assert world.work.renew(unit_id, "w1")
    assert not world.work.renew(unit_id, "w2")
    world.clock.advance(8)
    assert world.work.claim(unit_id, "w2") is None  # renewed 8 s ago: still held

    world.clock.advance(3)
    taken = world.work.claim(unit_id, "w2")
    assert taken is not None and (taken.holder, taken.attempts) == ("w2", 2)
    assert not world.work.renew(unit_id, "w1")  # the first holder lost it


def test_a_done_unit_and_a_forgotten_one_are_never_claimed_again(world: World) -> None:
    first, second = world.part(0), world.part(1)
    world.work.claim(first, "w1")
    assert world.work.done(first)
    world.clock.advance(60)
    assert world.work.claim(first, "w2") is None
    assert not world.work.done(first)

    world.work.forget("r1")
    assert world.work.claim(second, "w1") is None
    assert world.work.units("r1") == []


def test_recording_a_unit_again_keeps_it_and_reopening_queues_a_finished_one(world: World) -> None:
    unit_id = world.part(0)
    world.work.claim(unit_id, "w1")
    again = unit_for(world.work, "r1", COMPUTE_PART_TASK, ["r1", 0, "a0", "z0"])

    world.work.record([again])
    assert world.work.get(unit_id).state is UnitState.LEASED
    world.work.record([again], reopen=True)
    assert world.work.get(unit_id).state is UnitState.LEASED  # not finished: kept

    world.work.done(unit_id)
    world.work.record([again], reopen=True)
    reopened = world.work.get(unit_id)
    assert (reopened.state, reopened.attempts) == (UnitState.QUEUED, 0)


def test_the_watchdog_queues_again_a_unit_whose_worker_died_once(world: World) -> None:
    unit_id = world.part(0)
    world.work.claim(unit_id, "w1")  # ... and w1 dies
    world.broker.messages.clear()

    world.clock.advance(9)
    assert world.work.sweep().requeued == ()
    world.clock.advance(1)
    sweep = world.work.sweep()

    assert [unit.unit_id for unit in sweep.requeued] == [unit_id]
    assert world.broker.messages == [(COMPUTE_PART_TASK, ("r1", 0, "a0", "z0"))]
    assert world.work.get(unit_id).state is UnitState.QUEUED
    # A second watchdog at the same instant finds nothing left to do.
    assert world.work.sweep().requeued == ()
    assert len(world.broker.messages) == 1


def test_a_released_unit_is_queued_again_at_the_next_pass_not_at_the_end_of_its_lease(world: World) -> None:
    unit_id = world.part(0)
    world.work.claim(unit_id, "w1")

    assert world.work.release(unit_id, None, "its worker process was lost")
    world.clock.advance(PERIOD.total_seconds())

    assert [unit.unit_id for unit in world.work.sweep().requeued] == [unit_id]
    assert world.work.get(unit_id).error == "its worker process was lost"


def test_a_queued_unit_nobody_picked_up_is_published_again_once_the_queue_stops_moving(world: World) -> None:
    lost = world.part(0)  # its message is lost (a flushed broker)
    busy = world.part(1)
    world.broker.messages.clear()

    world.clock.advance(5)
    world.work.claim(busy, "w1")  # the queue moves: the lost one may just be waiting its turn
    world.clock.advance(3)
    assert world.work.sweep().requeued == ()

    world.clock.advance(2 * PERIOD.total_seconds())  # nothing claimed or renewed since
    assert [unit.unit_id for unit in world.work.sweep().requeued] == [lost]
    assert world.broker.messages == [(COMPUTE_PART_TASK, ("r1", 0, "a0", "z0"))]


def test_a_unit_the_broker_refused_is_retried_at_every_pass_and_says_why(world: World) -> None:
    world.broker.refuse = True
    with pytest.raises(QueueUnavailable):
        world.part(0)
    unit_id = "report/r1/part/0"
    assert world.work.get(unit_id).publish_error == "the broker is unreachable (connection refused)"

    world.clock.advance(PERIOD.total_seconds())
    sweep = world.work.sweep()
    assert [unit.unit_id for unit in sweep.requeued] == [unit_id]
    assert sweep.publish_error == "the broker is unreachable (connection refused)"
    world.worker_alive()
    assert world.work.stall_cause("r1") == (
        "part 0 (stores 'a0' to 'z0') could not be queued: the broker is unreachable (connection refused)"
    )

    world.broker.refuse = False
    world.clock.advance(PERIOD.total_seconds())
    world.work.sweep()
    assert world.broker.messages == [(COMPUTE_PART_TASK, ("r1", 0, "a0", "z0"))]
    assert world.work.get(unit_id).publish_error is None


def test_a_unit_started_too_often_is_given_up_with_the_reason(world: World) -> None:
    unit_id = world.part(0)
    for attempt in range(world.work.max_attempts):
        assert world.work.claim(unit_id, f"w{attempt}") is not None
        world.clock.advance(LEASE.total_seconds())

    sweep = world.work.sweep()

    assert sweep.requeued == ()
    [(unit, reason)] = sweep.given_up
    assert unit.unit_id == unit_id
    assert reason == "part 0 (stores 'a0' to 'z0') was started 5 times and never finished: its worker was lost each time"
    assert world.work.get(unit_id).state is UnitState.FAILED
    assert world.work.stall_cause("r1").startswith("task failed: part 0")


def test_the_stall_cause_names_no_worker_then_a_stale_heartbeat_then_the_broker(world: World) -> None:
    world.part(0)
    assert world.work.stall_cause("r1").startswith("no worker has recorded a heartbeat")

    world.worker_alive()
    world.clock.advance(LEASE.total_seconds() + 5)
    assert world.work.stall_cause("r1").startswith("no worker heartbeat for 15 s")
    assert world.work.worker_problem() is not None

    world.worker_alive()
    assert world.work.worker_problem() is None
    world.broker.refuse = True
    assert world.work.stall_cause("r1") == (
        "the broker is unreachable (connection refused): no message can reach a worker"
    )


def test_the_watchdog_forgets_workers_gone_for_a_day(world: World) -> None:
    world.worker_alive()
    world.clock.advance(86_400 - 1)
    world.work.sweep()
    assert world.workers.get("host:1") is not None

    world.clock.advance(2)
    world.work.sweep()
    assert world.workers.get("host:1") is None


def test_the_stall_cause_names_a_task_error_and_a_holder(world: World) -> None:
    unit_id = world.part(0)
    world.worker_alive()
    world.work.claim(unit_id, "w1")
    assert world.work.stall_cause("r1") == "part 0 (stores 'a0' to 'z0') is held by w1 and made no progress"

    world.work.release(unit_id, "w1", "RepositoryError: database error: terminating connection")
    assert world.work.stall_cause("r1") == (
        "task failed: part 0 (stores 'a0' to 'z0'), attempt 1: RepositoryError: database error: terminating connection"
    )


# --- the use cases with a ledger ---------------------------------------------------------


def report_runs(world: World, stores: int = 7, chunk_size: int = 3) -> tuple[ReportRunService, InMemoryReportRegistry]:
    ids = [f"s{i}" for i in range(stores)]
    polls = StatusPolls.from_rows([(store, NOW_US - k * HOUR, k % 2 == 0) for store in ids for k in range(5)])
    status = InMemoryStatusRepository(polls)
    hours, zones = InMemoryBusinessHoursRepository(BusinessHours.empty()), InMemoryTimezoneRepository(StoreTimezones({}))
    reports = ReportService(status, hours, zones, UptimeCalculator(), log=InMemoryIngestionLog(status, hours, zones))
    registry = InMemoryReportRegistry()
    counter = itertools.count()
    runs = ReportRunService(
        reports,
        registry,
        InMemoryReportStorage(),
        world.work,
        world.clock,
        lambda: f"r{next(counter)}",
        chunk_size,
        timedelta(seconds=60),
    )
    return runs, registry


def test_a_report_records_its_planning_and_its_parts_as_units_and_forgets_them_when_complete(world: World) -> None:
    runs, registry = report_runs(world)
    report = runs.trigger()

    assert world.broker.messages == [(PLAN_REPORT_TASK, (report.report_id,))]
    plan = runs.plan(report.report_id)  # queues its parts
    assert [unit.unit_id for unit in world.work.units(report.report_id)] == [
        f"report/{report.report_id}/part/{i}" for i in range(3)
    ] + [f"report/{report.report_id}/plan"]

    # A part computed twice (a late duplicate) changes nothing; the last one completes the report.
    for index, chunk in enumerate(plan.chunks):
        runs.run_chunk(report.report_id, index, chunk)
    runs.run_chunk(report.report_id, 0, plan.chunks[0])

    assert registry.get(report.report_id).status is ReportStatus.COMPLETE
    assert world.work.units(report.report_id) == []


def test_planning_while_the_broker_is_down_records_the_parts_and_says_why_they_wait(world: World) -> None:
    runs, registry = report_runs(world)
    report = runs.trigger()
    world.broker.refuse = True

    plan = runs.plan(report.report_id)

    assert plan.unqueued == "the broker is unreachable (connection refused)"
    parts = [unit for unit in world.work.units(report.report_id) if "/part/" in unit.unit_id]
    assert len(parts) == len(plan.chunks) == 3
    assert all(unit.publish_error == plan.unqueued for unit in parts)
    assert registry.get(report.report_id).status is ReportStatus.RUNNING
    world.broker.refuse = False
    assert runs.plan(report.report_id).unqueued is None


def test_the_part_that_completes_a_run_returns_it_as_recorded_and_only_that_part(world: World) -> None:
    runs, registry = report_runs(world)
    report = runs.trigger()
    plan = runs.plan(report.report_id)
    assert plan.run is not None and plan.run.progress_total == 3 and plan.run.is_running

    returned = [runs.run_chunk(report.report_id, index, chunk) for index, chunk in enumerate(plan.chunks)]

    assert returned[:2] == [None, None]
    assert returned[2] == registry.get(report.report_id)
    assert returned[2] is not None and returned[2].status is ReportStatus.COMPLETE
    assert runs.run_chunk(report.report_id, 2, plan.chunks[2]) is None  # a late duplicate


def test_failing_a_run_returns_it_once_and_nothing_for_a_finished_or_unknown_run(world: World) -> None:
    runs, registry = report_runs(world)
    trend = runs.trigger_trend(7)

    failed = runs.fail(trend.report_id, "task failed: planning the trend")

    assert failed is not None and failed.kind is RunKind.TREND and failed.status is ReportStatus.FAILED
    assert failed.error == "task failed: planning the trend"
    assert runs.fail(trend.report_id, "again") is None
    assert registry.get(trend.report_id).error == "task failed: planning the trend"
    assert runs.fail("no-such-run", "lost") is None


def test_a_report_the_broker_refused_is_failed_at_once(world: World) -> None:
    runs, registry = report_runs(world)
    world.broker.refuse = True

    with pytest.raises(QueueUnavailable):
        runs.trigger()

    [report] = registry.reports.values()
    assert report.status is ReportStatus.FAILED and report.error is not None
    assert report.error.startswith("the report could not be queued")


def test_a_stalled_report_is_failed_with_its_cause(world: World) -> None:
    runs, registry = report_runs(world)
    report = runs.trigger()

    world.clock.advance(61)
    polled = runs.status(report.report_id)

    assert polled.status is ReportStatus.FAILED
    assert polled.error == (
        "no progress for 60 s: no worker has recorded a heartbeat: none is running, or none can write to the database"
    )


class Uploads:
    def save(self, ingest_id: str, name: str, stream: Any, max_bytes: int) -> int:
        return len(stream.read())

    def folder(self, ingest_id: str) -> Path:
        return Path("/nonexistent")

    def delete(self, ingest_id: str) -> None:
        pass


def test_an_upload_is_one_unit_of_work(world: World) -> None:
    import io

    from domain.use_cases.ingest_runs import IngestRunService

    registry = InMemoryIngestRegistry()
    ingestions = IngestRunService(
        ingest_service=None,  # type: ignore[arg-type]  # never reached: nothing is ingested here
        registry=registry,
        uploads=Uploads(),  # type: ignore[arg-type]
        work=world.work,
        clock=world.clock,
        new_id=lambda: "i1",
        stall_timeout=timedelta(seconds=60),
    )

    ingestions.start({"store_status.csv": io.BytesIO(b"store_id,status,timestamp_utc\n")})

    assert world.broker.messages == [(INGEST_UPLOAD_TASK, ("i1",))]
    [unit] = world.work.units("i1")
    assert (unit.unit_id, unit.state) == ("ingest/i1", UnitState.QUEUED)
    world.clock.advance(61)
    assert ingestions.status("i1").error == (
        "no progress for 60 s: no worker has recorded a heartbeat: none is running, or none can write to the database"
    )
    assert world.work.units("i1") == []
