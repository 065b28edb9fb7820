"""A command forked by the launcher is what a new interpreter running it is, to a test."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import launcher
import pytest
from service_fixtures import ServiceRunner

BAD_URL = "postgres:nocolon@host/db"
SAMPLE = Path(__file__).resolve().parents[2] / "data"


@pytest.mark.parametrize("fork", [True, False], ids=["forked", "new interpreter"])
def test_a_command_gets_its_folder_environment_output_and_exit_status(tmp_path: Path, fork: bool) -> None:
    written = launcher.run(["report", "--from-csv", str(SAMPLE), "--out", "r.csv"], cwd=tmp_path, env={}, fork=fork)
    assert written.returncode == 0, written.stderr
    assert (tmp_path / "r.csv").read_bytes() == (SAMPLE / "sample_report.csv").read_bytes()  # in its own folder
    # The environment given, not the test's: this URL is refused in one line, with status 2.
    refused = launcher.run(["report", "--out", "r.csv"], cwd=tmp_path, env={"DATABASE_URL": BAD_URL}, fork=fork)
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.startswith("store-monitor: error:") and "Traceback" not in refused.stderr
    helped = launcher.run(["--help"], cwd=tmp_path, env={}, fork=fork)
    assert helped.returncode == 0 and helped.stdout.startswith("usage: store-monitor"), helped.stderr


@pytest.mark.parametrize("fork", [True, False], ids=["forked", "new interpreter"])
def test_a_started_command_leads_a_session_of_its_own_and_logs_as_it_runs(
    tmp_path: Path, fork: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_LAUNCH", "fork" if fork else "exec")  # as the runner's commands are told
    runner = ServiceRunner(tmp_path, {"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"})
    try:
        runner.run_cli("create-db")
        # Waits for its "ready." while it runs (PYTHONUNBUFFERED, as the runner sets it), failing if it exits.
        child = runner.start_worker().popen
        assert isinstance(child, launcher.ForkedChild) == fork
        if os.getsid(child.pid) != child.pid:
            os.kill(child.pid, signal.SIGKILL)  # a SIGKILL to its group would miss it
            pytest.fail(f"the worker (pid {child.pid}) is in session {os.getsid(child.pid)}, not one of its own")
        assert os.getpgid(child.pid) == child.pid
        with pytest.raises(subprocess.TimeoutExpired):
            child.wait(timeout=0.2)
        os.killpg(child.pid, signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL and child.returncode == -signal.SIGKILL
    finally:
        runner.close()
