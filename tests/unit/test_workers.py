"""A worker process never outlives the process that started it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

# Starts a worker, prints its pid and dies by SIGKILL at once: the worker is still starting
# its interpreter (in the idle class), so its parent is gone before its initializer runs.
PARENT = textwrap.dedent(
    """
    import os, signal, time
    from reddit_sentiment.workers import LazyWorker

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
