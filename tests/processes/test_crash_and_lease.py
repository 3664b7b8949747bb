"""kill -9 in the middle of a cycle, and one collector across several worker processes."""

from __future__ import annotations

import itertools
import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from fakereddit import FakeReddit
from tests.processes.conftest import Service, runs, wait_for, wait_for_a_running_cycle

pytestmark = pytest.mark.processes


def test_kill_9_mid_cycle_then_restart(
    service_env: tuple[dict[str, str], FakeReddit], tmp_path: Path
) -> None:
    env, fake = service_env
    env |= {"COLLECTION_INTERVAL_SECONDS": "3600", "LEASE_TTL_SECONDS": "2"}
    db = Path(env["SQLITE_PATH"])
    fake.set_latency(0.4)  # a cycle of 2 subs x 3 listings x 2 pages now lasts seconds
    first = Service(env, workers=1, log=tmp_path / "first.log")
    try:
        first.wait_healthy()
        wait_for_a_running_cycle(db)
        wait_for(
            lambda: any(r["status"] == "running" and r["subreddits"] != "{}" for r in runs(db)),
            20,
            "the cycle to store something",
        )
        first.kill9()
    finally:
        first.stop()
    interrupted_id = next(r["id"] for r in runs(db) if r["status"] == "running")

    fake.set_latency(0)
    second = Service(env, workers=1, log=tmp_path / "second.log")
    try:
        second.wait_healthy()
        wait_for(lambda: any(r["status"] == "succeeded" for r in runs(db)), 30, "a clean cycle")
    finally:
        second.stop()
    by_id = {r["id"]: r for r in runs(db)}
    assert by_id[interrupted_id]["status"] == "interrupted"
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        total, unique = conn.execute("SELECT COUNT(*), COUNT(DISTINCT id) FROM items").fetchone()
        hourly = conn.execute("SELECT SUM(posts) + SUM(comments) FROM hourly").fetchone()[0]
    finally:
        conn.close()
    assert total == unique > 0
    assert hourly == total  # aggregates match the items after the crash
    expected = fake.expected_counts() if hasattr(fake, "expected_counts") else None
    if expected is not None:
        assert total == expected


def test_one_collector_across_four_workers_and_takeover(
    service_env: tuple[dict[str, str], FakeReddit], tmp_path: Path
) -> None:
    env, _ = service_env
    env |= {"COLLECTION_INTERVAL_SECONDS": "2", "LEASE_TTL_SECONDS": "3"}
    db = Path(env["SQLITE_PATH"])
    service = Service(env, workers=4, log=tmp_path / "workers.log")
    try:
        service.wait_healthy()
        wait_for(lambda: db.exists() and len(runs(db)) >= 4, 30, "four cycles")
        first = runs(db)
        owners = {r["owner"] for r in first}
        assert len(owners) == 1, owners  # exactly one process collects
        # one interval apart; the first cycle may start late, behind the collector's warm-up
        starts = [r["started_at"] for r in first][1:]
        assert all(b - a >= 1.5 for a, b in itertools.pairwise(starts)), starts
        holder_pid = int(next(iter(owners)).rsplit(":", 1)[1])

        os.kill(holder_pid, signal.SIGKILL)
        killed_at = time.time()
        wait_for(lambda: {r["owner"] for r in runs(db)} - owners, 15, "another worker to take over")
        takeover = min(r["started_at"] for r in runs(db) if r["owner"] not in owners)
        assert takeover - killed_at < 3 + 2 + 2  # lease ttl + interval + slack
        later = [r for r in runs(db) if r["started_at"] > takeover]
        assert {r["owner"] for r in later} <= {
            r["owner"] for r in runs(db) if r["owner"] not in owners
        }
    finally:
        service.stop()
