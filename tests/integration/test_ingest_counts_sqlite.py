"""Every row of every file is counted once, against SQLite: the random folders of
``tests/unit/ingest_counts.py``, ingested in turn through the service's container."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from entrypoints.container import build_container

UNIT_TESTS = Path(__file__).resolve().parents[1] / "unit"
if str(UNIT_TESTS) not in sys.path:
    sys.path.insert(0, str(UNIT_TESTS))

from ingest_counts import Folder, check_ingestions, folder_sequences  # noqa: E402


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(folder_sequences())
def test_every_row_is_counted_once_in_every_sqlite_ingestion(folders: list[Folder]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        container = build_container({}, {"database_url": f"sqlite:///{folder}/store-monitor.sqlite3"})
        try:
            check_ingestions(container.ingest_service(), folders)
        finally:
            container.shutdown_resources()
