"""The folder where the processes of ``serve`` and ``worker`` share their Prometheus figures.

prometheus-client's multi-process mode: every process (each gunicorn worker,
each Celery pool process) writes its figures to files named after its pid in
``PROMETHEUS_MULTIPROC_DIR``, and ``GET /metrics`` adds them all up. The
variable must be set before ``prometheus_client`` is first imported, so this
module does not import it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
DEFAULT_DIR = "var/metrics"

# counter_1234.db, histogram_1234.db, gauge_livesum_1234.db ...
_PID_FILE = re.compile(r"_(\d+)\.db$")


def prepare_multiprocess_dir(configured: Path | None) -> Path:
    """Export ``PROMETHEUS_MULTIPROC_DIR`` (the setting, ``var/metrics`` when unset) and clear what dead processes left.

    Exported to this process's environment: prometheus_client reads it from
    there, and so do the processes this one starts (gunicorn's, Celery's).

    ``serve`` and ``worker`` share the folder on one machine, so neither may
    wipe it whole: only the files of processes that no longer run go (those
    of an earlier run). The counters therefore start from zero with a new
    run, which Prometheus reads as a counter reset.
    """
    folder = (configured or Path(DEFAULT_DIR)).absolute()
    folder.mkdir(parents=True, exist_ok=True)
    os.environ[VARIABLE] = str(folder)
    for path in folder.glob("*.db"):
        match = _PID_FILE.search(path.name)
        if match is not None and not _running(int(match.group(1))):
            path.unlink(missing_ok=True)
    return folder


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
