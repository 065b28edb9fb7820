"""Database fixtures: a SQLite file per test, a fresh PostgreSQL schema per test.

PostgreSQL comes from ``TEST_POSTGRES_URL`` (default: the local ``test``
database). When the server cannot be reached its tests are skipped with the
reason, unless ``REQUIRE_POSTGRES=1``, which makes that a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from adapters.sqlalchemy.database import create_engine_for, create_schema

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


# The order of the whole suite's modules (unit ones too: this hook sees every
# item), for ``make test``'s processes. pytest-xdist (``--dist loadfile``) runs
# each module whole in one process, handing out modules in the order they
# come; with ``--no-loadscope-reorder`` that is this order, not the one of
# their number of tests. The longest modules (as measured, in their order
# here) go first, so that the processes end at about the same time instead of
# one finishing a long module alone.
LONGEST_FIRST = (
    "test_work_recovery.py",
    "test_fuzz_csv.py",
    "test_report_snapshots.py",
    "test_rabbitmq.py",
    "test_schemathesis.py",
    "test_service_faults.py",
    "test_repository_contract.py",
    "test_bench_service.py",
    "test_across_hosts.py",
    "test_trend_properties.py",
    "test_trend_service.py",
    "test_report_properties.py",
    "test_cli.py",
    "test_service.py",
    "test_web_e2e.py",
    "test_sqlalchemy_repositories.py",
    "test_ingest_service.py",
    "test_api.py",
    "test_migrations.py",
    "test_fleet_trend_api.py",
    "test_storage_faults.py",
    "test_ingest_counts.py",
    "test_ingest_api.py",
    "test_ingest_counts_sqlite.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: position for position, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real input data beside the repository (never copied into it)."""
    if not (SHARED_DATA / "real-2023" / "store_status.csv").is_file():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'db' / 'store-monitor.sqlite3'}"


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    engine = create_engine_for(sqlite_url)
    create_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The server's URL (psycopg driver), once it answered; skips (or fails) when it does not."""
    url = os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    try:
        engine = create_engine_for(url)
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        finally:
            engine.dispose()
    except Exception as error:  # any failure to reach it means: no server for these tests
        reason = f"PostgreSQL not reachable at {_shown(url)}: {error}".splitlines()[0]
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(f"REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def postgres_schema_url(postgres_url: str) -> Iterator[str]:
    """A URL whose tables live in a schema of their own, dropped afterwards."""
    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin = create_engine_for(postgres_url)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield _with_search_path(postgres_url, schema)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture
def postgres_engine(postgres_schema_url: str) -> Iterator[Engine]:
    """An engine on a schema of its own, with the tables in place."""
    engine = create_engine_for(postgres_schema_url)
    try:
        create_schema(engine)
        yield engine
    finally:
        engine.dispose()


def _with_search_path(url: str, schema: str) -> str:
    """``url`` whose connections look up tables in ``schema`` first."""
    parsed = make_url(url)
    options = parsed.query.get("options", "")
    joined = " ".join(part for part in (str(options), f"-csearch_path={schema}") if part)
    return parsed.update_query_dict({"options": joined}).render_as_string(hide_password=False)


def _shown(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparsable URL>"

