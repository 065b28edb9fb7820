"""What only the SQLAlchemy adapters do: URLs, schema, connection settings, bulk loads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, inspect, select

from adapters.sqlalchemy import (
    SqlAlchemyBusinessHoursRepository,
    SqlAlchemyIngestionLog,
    SqlAlchemyReportRegistry,
    SqlAlchemyStatusRepository,
    create_engine_for,
    create_schema,
)
from adapters.sqlalchemy.report_storage import SqlAlchemyReportStorage
from adapters.sqlalchemy.tables import metadata, report_parts
from domain.model.inputs import BusinessHours, StatusPolls
from domain.model.report import Report, ReportStatus
from domain.ports.data import RepositoryError, StoreRange
from domain.ports.reports import ReportNotFound, ReportStorageError

HOUR = 3_600_000_000
WEEK = 7 * 24 * HOUR
START = 1_674_000_000_000_000  # 2023-01-18


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    database: Engine = request.getfixturevalue(f"{request.param}_engine")
    return database


def synthetic_polls(count: int, stores: int, seed: int) -> StatusPolls:
    """``count`` polls, at most one per (store, instant), in random order; 19-digit ids."""
    rng = np.random.default_rng(seed)
    numbers = rng.integers(10**18, 10**19 - 1, size=stores, dtype=np.uint64)
    ids = tuple(sorted({str(number) for number in numbers}))
    store_index = rng.integers(0, len(ids), size=count)
    # Instants unique per store: distinct seconds of the week, spread over stores.
    seconds = rng.permutation(WEEK // 1_000_000)[:count]
    timestamp_us = START + seconds * 1_000_000 + rng.integers(0, 1_000_000, size=count)
    return StatusPolls(ids, store_index, timestamp_us, rng.random(count) < 0.9)


def as_key_set(polls: StatusPolls) -> set[tuple[str, int, bool]]:
    return set(polls.rows())


@contextmanager
def ingestion(engine: Engine) -> Iterator[int]:
    """The version of one ingestion, completed when the block ends."""
    log = SqlAlchemyIngestionLog(engine)
    version = log.begin()
    try:
        yield version
    except BaseException:
        log.abandon(version)
        raise
    log.complete(version)


def latest(engine: Engine) -> int:
    return SqlAlchemyIngestionLog(engine).latest_complete()


# -- URLs and engines --------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["", "not a url", "mysql://user@localhost/db", "oracle://scott@host/orcl", "http://example.com/db"],
)
def test_a_url_that_is_not_sqlite_or_postgresql_is_refused(url: str) -> None:
    with pytest.raises(RepositoryError) as raised:
        create_engine_for(url)

    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    "url",
    [
        "postgres://user@db.invalid:5432/monitor",
        "postgresql://user@db.invalid:5432/monitor",
        "postgresql+psycopg2://user@db.invalid:5432/monitor",
        "postgresql+psycopg://user@db.invalid:5432/monitor",
    ],
)
def test_every_postgresql_url_uses_psycopg_3_without_connecting(url: str) -> None:
    engine = create_engine_for(url)  # db.invalid does not resolve: no connection was tried

    assert (engine.dialect.name, engine.dialect.driver) == ("postgresql", "psycopg")
    assert engine.url.host == "db.invalid"
    assert engine.url.database == "monitor"


def test_an_unreachable_postgresql_server_is_a_one_line_repository_error() -> None:
    # Port 1 on the loopback: nothing listens there, the refusal is immediate.
    engine = create_engine_for("postgresql://postgres@127.0.0.1:1/test")

    with pytest.raises(RepositoryError) as raised:
        create_schema(engine)

    message = str(raised.value)
    assert message.startswith("database error:")
    assert "\n" not in message
    assert "127.0.0.1" in message


def test_every_repository_method_reports_an_unreachable_database_as_repository_error() -> None:
    engine = create_engine_for("postgresql://postgres@127.0.0.1:1/test")
    status = SqlAlchemyStatusRepository(engine)

    with pytest.raises(RepositoryError):
        status.latest_timestamp(snapshot=1)
    with pytest.raises(RepositoryError):
        status.add(StatusPolls.from_rows([("a", 1, True)]), version=1)
    with pytest.raises(RepositoryError):
        SqlAlchemyIngestionLog(engine).begin()
    with pytest.raises(RepositoryError):
        SqlAlchemyReportRegistry(engine).get("r")


def test_a_sqlite_database_gets_its_folder_made(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "monitor.db"
    engine = create_engine_for(f"sqlite:///{path}")

    create_schema(engine)

    assert path.is_file()
    engine.dispose()


def test_a_sqlite_folder_that_cannot_be_made_is_a_repository_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")

    with pytest.raises(RepositoryError) as raised:
        create_engine_for(f"sqlite:///{blocker / 'monitor.db'}")

    assert "a-file" in str(raised.value)


def test_a_sqlite_database_that_is_not_a_database_is_a_repository_error(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is no SQLite file " * 100)
    engine = create_engine_for(f"sqlite:///{path}")

    with pytest.raises(RepositoryError) as raised:
        create_schema(engine)

    assert "\n" not in str(raised.value)
    engine.dispose()


def test_sqlite_connections_use_wal_a_busy_timeout_and_foreign_keys(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as connection:
        settings = {
            name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")
        }

    assert settings == {"journal_mode": "wal", "busy_timeout": 30_000, "foreign_keys": 1, "synchronous": 1}


# -- schema -------------------------------------------------------------------------


def test_creating_the_schema_again_keeps_the_data(engine: Engine) -> None:
    status = SqlAlchemyStatusRepository(engine)
    with ingestion(engine) as version:
        status.add(StatusPolls.from_rows([("a", HOUR, True)]), version=version)

    create_schema(engine)
    create_schema(engine)

    assert status.polls_since(0, snapshot=latest(engine)).rows() == [("a", HOUR, True)]
    assert set(inspect(engine).get_table_names()) >= set(metadata.tables)


# A database made by an earlier release is upgraded in place by its migrations:
# tests/integration/test_migrations.py.


@pytest.mark.postgres
def test_postgresql_compares_store_ids_bytewise(postgres_engine: Engine) -> None:
    with postgres_engine.connect() as connection:
        collation = connection.exec_driver_sql(
            "SELECT collation_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = 'stores' AND column_name = 'store_id'"
        ).scalar()

    assert collation == "C"


# -- bulk work --------------------------------------------------------------------


def test_a_bulk_add_of_200k_polls_counts_and_reads_back_exactly(engine: Engine) -> None:
    status = SqlAlchemyStatusRepository(engine)
    polls = synthetic_polls(200_000, stores=1_500, seed=7)

    with ingestion(engine) as version:
        assert status.add(polls, version=version) == 200_000
    with ingestion(engine) as version:
        assert status.add(polls, version=version) == 0

    stored = status.polls_since(START - 1, snapshot=latest(engine))
    assert len(stored) == 200_000
    assert stored.store_ids == tuple(sorted(polls.store_ids[i] for i in set(polls.store_index.tolist())))
    assert as_key_set(stored) == as_key_set(polls)
    order = np.lexsort((stored.timestamp_us, stored.store_index))
    assert np.array_equal(order, np.arange(len(stored)))


def test_a_bulk_add_that_overlaps_stored_polls_counts_only_the_new_ones(engine: Engine) -> None:
    status = SqlAlchemyStatusRepository(engine)
    polls = synthetic_polls(200_000, stores=1_000, seed=11)
    rows = polls.rows()
    first_half = StatusPolls.from_rows(rows[:100_000])
    # The second batch repeats 50k stored polls with the opposite status.
    repeated = [(store_id, instant, not active) for store_id, instant, active in rows[50_000:100_000]]
    second = StatusPolls.from_rows(repeated + rows[100_000:])

    with ingestion(engine) as version:
        assert status.add(first_half, version=version) == 100_000
    with ingestion(engine) as version:
        assert status.add(second, version=version) == 100_000
    assert as_key_set(status.polls_since(START - 1, snapshot=latest(engine))) == set(rows)


def test_polls_since_reads_a_range_of_a_bulk_load_exactly(engine: Engine) -> None:
    status = SqlAlchemyStatusRepository(engine)
    polls = synthetic_polls(50_000, stores=400, seed=3)
    with ingestion(engine) as version:
        status.add(polls, version=version)
    start = START + WEEK // 2
    stores = StoreRange(polls.store_ids[100], polls.store_ids[250])

    by_store: dict[str, list[tuple[str, int, bool]]] = {}
    for row in sorted(polls.rows()):
        by_store.setdefault(row[0], []).append(row)
    expected: list[tuple[str, int, bool]] = []
    for store_id in polls.store_ids[100:251]:
        own = by_store.get(store_id, [])
        before = [row for row in own if row[1] < start]
        expected += before[-1:] + [row for row in own if row[1] >= start]

    assert status.polls_since(start, stores, snapshot=latest(engine)).rows() == sorted(expected)


def test_concurrent_adds_store_every_poll_once(engine: Engine) -> None:
    polls = synthetic_polls(60_000, stores=300, seed=5)
    rows = polls.rows()
    # Two writers whose batches share 20k polls.
    batches = [StatusPolls.from_rows(rows[:40_000]), StatusPolls.from_rows(rows[20_000:])]
    counts: list[int] = []
    errors: list[BaseException] = []

    def load(batch: StatusPolls, version: int) -> None:
        try:
            counts.append(SqlAlchemyStatusRepository(engine).add(batch, version=version))
        except BaseException as error:
            errors.append(error)

    # Batches of one ingestion written at once.
    with ingestion(engine) as version:
        writers = [threading.Thread(target=load, args=(batch, version)) for batch in batches]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join()

    assert errors == []
    assert sum(counts) == 60_000
    assert len(SqlAlchemyStatusRepository(engine).polls_since(START - 1, snapshot=latest(engine))) == 60_000


def test_a_bulk_hours_replace_of_many_stores(engine: Engine) -> None:
    repository = SqlAlchemyBusinessHoursRepository(engine)
    stores = [f"store-{number:05d}" for number in range(3_000)]
    rows = [(store, day, 9 * HOUR, 17 * HOUR + i) for i, store in enumerate(stores) for day in range(7)]
    with ingestion(engine) as version:
        assert repository.replace(BusinessHours.from_rows(rows), version=version) == 21_000
    first = latest(engine)

    # Every store loses Sunday and gets a later Monday closing.
    changed = [row for row in rows if row[1] != 6]
    changed = [(s, d, start, end + 1 if d == 0 else end) for s, d, start, end in changed]

    with ingestion(engine) as version:
        assert repository.replace(BusinessHours.from_rows(changed), version=version) == 3_000
    assert repository.hours(snapshot=latest(engine)).rows() == sorted(changed)
    assert repository.hours(snapshot=first).rows() == sorted(rows)


# -- registry ---------------------------------------------------------------------

UTC_2024 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def test_report_times_come_back_in_utc(engine: Engine) -> None:
    registry = SqlAlchemyReportRegistry(engine)
    created = datetime.fromisoformat("2024-03-10T01:59:59.000001-06:00")
    planned = datetime.fromisoformat("2024-03-10T13:30:00.5+05:30")
    finished = datetime.fromisoformat("2024-03-10T03:00:00.000002-05:00")
    registry.add(Report("r", ReportStatus.RUNNING, created, created))
    registry.plan("r", 1, planned, snapshot=1, now_us=None)
    assert registry.get("r").updated_at == planned

    registry.mark_complete("r", "db:r", finished)
    stored = registry.get("r")

    assert (stored.created_at, stored.updated_at, stored.finished_at) == (created, finished, finished)
    for instant in (stored.created_at, stored.updated_at, stored.finished_at):
        assert instant is not None and instant.tzinfo == timezone.utc
    assert stored.created_at.hour == 7 and stored.created_at.microsecond == 1


def test_a_naive_report_time_is_refused(engine: Engine) -> None:
    registry = SqlAlchemyReportRegistry(engine)

    with pytest.raises(RepositoryError):
        registry.add(Report("r", ReportStatus.RUNNING, datetime(2024, 1, 1), UTC_2024))
    with pytest.raises(ReportNotFound):
        registry.get("r")

    registry.add(Report("r", ReportStatus.RUNNING, UTC_2024, UTC_2024))
    for refused in (
        lambda: registry.plan("r", 2, datetime(2024, 1, 2), snapshot=1, now_us=None),
        lambda: registry.save_part("r", 0, "a\n", datetime(2024, 1, 2)),
        lambda: registry.mark_complete("r", "db:r", datetime(2024, 1, 2)),
        lambda: registry.mark_failed("r", "boom", datetime(2024, 1, 2)),
    ):
        with pytest.raises(RepositoryError, match="naive"):
            refused()
    assert registry.get("r") == Report("r", ReportStatus.RUNNING, UTC_2024, UTC_2024)
    assert registry.parts("r") == []


def test_adding_a_report_id_twice_is_refused_and_keeps_the_first(engine: Engine) -> None:
    registry = SqlAlchemyReportRegistry(engine)
    first = Report("r", ReportStatus.RUNNING, UTC_2024, UTC_2024)
    registry.add(first)

    with pytest.raises(RepositoryError) as raised:
        later = datetime(2024, 2, 1, tzinfo=timezone.utc)
        registry.add(Report("r", ReportStatus.FAILED, later, later, error="x"))

    assert "exists already" in str(raised.value)
    assert registry.get("r") == first


def test_completion_deletes_the_part_rows(engine: Engine) -> None:
    registry = SqlAlchemyReportRegistry(engine)
    registry.add(Report("r", ReportStatus.RUNNING, UTC_2024, UTC_2024))
    registry.add(Report("other", ReportStatus.RUNNING, UTC_2024, UTC_2024))
    for index in range(3):
        registry.save_part("r", index, f"{index}\n", UTC_2024)
    registry.save_part("other", 0, "kept\n", UTC_2024)

    registry.mark_complete("r", "db:r", UTC_2024)

    with engine.connect() as connection:
        rows = connection.execute(select(report_parts.c.report_id, report_parts.c.part_index)).all()
    assert [tuple(row) for row in rows] == [("other", 0)]


def test_an_unreachable_registry_fails_its_ping_in_one_line() -> None:
    engine = create_engine_for("postgresql://postgres@127.0.0.1:1/test")

    with pytest.raises(RepositoryError) as raised:
        SqlAlchemyReportRegistry(engine).ping()

    assert str(raised.value).startswith("database error:")
    assert "\n" not in str(raised.value)


def test_a_ping_fails_on_a_sqlite_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is no SQLite file " * 100)
    engine = create_engine_for(f"sqlite:///{path}")

    with pytest.raises(RepositoryError) as raised:
        SqlAlchemyReportRegistry(engine).ping()

    assert "\n" not in str(raised.value)
    engine.dispose()


# -- report storage -------------------------------------------------------------------


def test_a_report_file_is_located_by_its_id_in_the_database(engine: Engine) -> None:
    location = SqlAlchemyReportStorage(engine).save("f47ac10b-58cc-4372-a567-0e02b2c3d479", b"store_id\n")

    assert location == "db:f47ac10b-58cc-4372-a567-0e02b2c3d479"


def test_a_report_file_saved_through_one_engine_is_read_through_another(engine: Engine) -> None:
    # A worker saves the file; an API process elsewhere, with its own engine, serves it.
    content = b"".join(b"%d,60.00,24.00,168.00,0.00,0.00,0.00\n" % i for i in range(100_000))  # ~3.7 MB
    location = SqlAlchemyReportStorage(engine).save("r1", content)

    other = create_engine_for(engine.url.render_as_string(hide_password=False))
    try:
        assert SqlAlchemyReportStorage(other).load(location) == content
    finally:
        other.dispose()


def test_loading_never_reads_a_file_named_by_the_location(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "r1.csv").write_bytes(b"a file on disk\n")
    (tmp_path / "db:r1").write_bytes(b"a file on disk\n")
    storage = SqlAlchemyReportStorage(engine)

    for location in ("r1.csv", str(tmp_path / "r1.csv"), "db:r1", "file:r1.csv"):
        with pytest.raises(ReportStorageError):
            storage.load(location)


def test_a_report_file_needs_an_id(engine: Engine) -> None:
    with pytest.raises(ReportStorageError):
        SqlAlchemyReportStorage(engine).save("", b"x")


def test_an_unreachable_database_storage_is_a_repository_error() -> None:
    storage = SqlAlchemyReportStorage(create_engine_for("postgresql://postgres@127.0.0.1:1/test"))

    with pytest.raises(RepositoryError):
        storage.save("r1", b"x")
    with pytest.raises(RepositoryError):
        storage.load("db:r1")
