"""Worker processes: they never outlive the process that started them, and they give their
core back to the service often."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from reddit_sentiment.collection.workers import GIVE_WAY_EVERY_SECONDS, LazyWorker, give_way

pytestmark = pytest.mark.processes

# Starts a worker, prints its pid and dies by SIGKILL at once: the worker is still starting
# its interpreter (in the idle class), so its parent is gone before its initializer runs.
PARENT = textwrap.dedent(
    """
    import os, signal, time
    from reddit_sentiment.collection.workers import LazyWorker

    pool = LazyWorker(time.sleep, 0).get()
    print(*pool._processes, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"  # a zombie has exited; only its parent's reaping is left


def test_a_worker_whose_parent_died_while_it_started_exits(tmp_path: Path) -> None:
    out, err = tmp_path / "parent.out", tmp_path / "parent.err"
    with out.open("w") as stdout, err.open("w") as stderr:  # files: the worker inherits them
        parent = subprocess.run(
            [sys.executable, "-c", PARENT], stdout=stdout, stderr=stderr, timeout=60
        )
    assert parent.returncode == -9, err.read_text()
    (pid,) = (int(word) for word in out.read_text().split())
    deadline = time.monotonic() + 20
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    running = _running(pid)
    if running:
        subprocess.run(["kill", "-9", str(pid)], check=False)
    assert not running, "the worker outlived its parent"


def _yields_while_busy(cpu_seconds: float) -> tuple[int, float]:
    """Run give_way() in a busy loop for `cpu_seconds` of this thread's CPU time; how many
    times it yielded the core, and the wall time that took."""
    calls = 0
    real_yield = os.sched_yield

    def counting_yield() -> None:
        nonlocal calls
        calls += 1
        real_yield()

    os.sched_yield = counting_yield
    try:
        start, end = time.perf_counter(), time.thread_time() + cpu_seconds
        while time.thread_time() < end:
            give_way()
    finally:
        os.sched_yield = real_yield
    return calls, time.perf_counter() - start


def test_a_worker_gives_its_core_back_every_half_millisecond() -> None:
    worker = LazyWorker(time.sleep, 0)
    try:
        pool = worker.get()
        assert pool is not None
        calls, wall = pool.submit(_yields_while_busy, 0.1).result(timeout=60)
    finally:
        worker.close()
    every = GIVE_WAY_EVERY_SECONDS
    # Running 0.1 s takes at least 0.1 s of wall time: at least 200 intervals went by (half
    # of that, for the clocks' granularity). At most one yield per interval of wall time.
    assert 0.1 / every / 2 <= calls <= wall / every + 1


def test_the_service_process_never_yields() -> None:
    assert _yields_while_busy(0.02)[0] == 0
