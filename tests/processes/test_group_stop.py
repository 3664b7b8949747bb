"""SIGTERM mid-cycle, to the service alone (docker, k8s) or to its whole process group
(`timeout`, a supervisor stopping the group): the service stops the cycle at a checkpoint,
records it as interrupted, closes its workers itself and exits cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from fakereddit import FakeReddit
from tests.processes.conftest import Service, runs, wait_for_a_running_cycle

pytestmark = pytest.mark.processes


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("group", [False, True], ids=["service", "process group"])
def test_sigterm_mid_cycle_stops_the_cycle_and_exits_cleanly(
    service_env: tuple[dict[str, str], FakeReddit], tmp_path: Path, group: bool
) -> None:
    env, fake = service_env
    env |= {"COLLECTION_INTERVAL_SECONDS": "3600"}
    db = Path(env["SQLITE_PATH"])
    fake.set_latency(0.3)  # the cycle lasts seconds
    service = Service(env, workers=1, log=tmp_path / "service.log")
    workers: set[int] = set()
    try:
        service.wait_healthy()
        wait_for_a_running_cycle(db)
        workers = _descendants(service.proc.pid)
        assert len(workers) >= 2  # the cycle process and its scorer (and their helpers)
        (os.killpg if group else os.kill)(service.proc.pid, signal.SIGTERM)
        code = service.proc.wait(30)
    finally:
        if service.proc.poll() is None:
            os.killpg(service.proc.pid, signal.SIGKILL)
        service.stop()
        for pid in workers:
            if _running(pid):
                subprocess.run(["kill", "-9", str(pid)], check=False)
    log = (tmp_path / "service.log").read_text()
    # uvicorn ends a graceful shutdown by re-raising the signal it caught.
    assert code in (0, -signal.SIGTERM), log[-3000:]
    assert "Application shutdown complete" in log, log[-3000:]
    assert [r["status"] for r in runs(db)] == ["interrupted"], log[-3000:]
    for trouble in ("Traceback", "did not finish", "leaked semaphore"):
        assert trouble not in log, log[-3000:]
    deadline = time.monotonic() + 5
    while any(_running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_running(pid) for pid in workers)
