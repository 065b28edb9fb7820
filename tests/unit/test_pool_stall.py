"""A worker's pool that stopped taking tasks is told by how long a received task waits with a process free."""

from __future__ import annotations

from entrypoints.worker_process import PoolStall


def test_a_task_waiting_while_a_process_is_free_stalls_for_as_long_as_it_waits() -> None:
    stall = PoolStall()
    assert stall.stalled_for(["a"], active=0, slots=2, now=100.0) == 0.0
    assert stall.stalled_for(["a", "b"], active=1, slots=2, now=104.0) == 4.0
    # The oldest of them counts; once it starts, the next one's own wait does.
    assert stall.stalled_for(["b"], active=1, slots=2, now=107.0) == 3.0


def test_a_busy_pool_does_not_stall_and_waits_count_again_from_when_a_process_is_free() -> None:
    stall = PoolStall()
    stall.stalled_for(["a"], active=0, slots=1, now=0.0)
    assert stall.stalled_for(["a"], active=1, slots=1, now=50.0) == 0.0
    assert stall.stalled_for(["a"], active=0, slots=1, now=60.0) == 0.0
    assert stall.stalled_for(["a"], active=0, slots=1, now=61.5) == 1.5


def test_nothing_waiting_is_no_stall() -> None:
    stall = PoolStall()
    stall.stalled_for(["a"], active=0, slots=1, now=0.0)
    assert stall.stalled_for([], active=0, slots=1, now=30.0) == 0.0
    assert stall.stalled_for(["a"], active=0, slots=1, now=31.0) == 0.0
