"""COLLECTOR_MODE=process (the default when the service opens its own store): the cycle runs in
a child process that writes the same database; its death fails one run, never the service, and
a shutdown reaches it."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from fastapi import FastAPI

from fakereddit import FakeReddit
from reddit_sentiment.api.app import create_app
from reddit_sentiment.collection.cycle_process import ProcessCycle
from reddit_sentiment.collection.scheduler import CollectionService
from reddit_sentiment.models import RunStatus
from tests.integration.conftest import settings_for
from tests.procfs import alive, children

pytestmark = pytest.mark.processes

SUBS, POSTS, COMMENTS = 2, 150, 300
# new (150) + hot (150, the same posts) + comments (300), per subreddit
STORED = SUBS * (POSTS + COMMENTS)


@pytest.fixture
def fake() -> Iterator[FakeReddit]:
    with FakeReddit.generated(subreddits=SUBS, posts=POSTS, comments=COMMENTS, seed=3).start() as f:
        yield f


@asynccontextmanager
async def service_for(
    fake: FakeReddit, db: Path, collector_warm_up: bool = False
) -> AsyncIterator[CollectionService]:
    settings = settings_for(
        fake,
        sorted(fake.subreddit_names()),
        collection_limit=300,
        collection_start_delay_seconds=3600,
        sqlite_path=str(db),
        collection_shutdown_timeout_seconds=10,
        collector_warm_up=collector_warm_up,
    )
    app: FastAPI = create_app(settings)  # no store handed in: the service opens its own
    async with app.router.lifespan_context(app):
        yield app.state.service


def _rows(db: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


async def _wait(condition: object, seconds: float, what: str) -> None:
    for _ in range(int(seconds / 0.02)):
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.serial  # asserts the idle class: every process has it in the parallel phase
async def test_a_cycle_runs_in_a_child_process_and_stores_everything(
    fake: FakeReddit, tmp_path: Path
) -> None:
    db = tmp_path / "child.db"
    async with service_for(fake, db) as service:
        _, future = service.start_collection("test")
        run = await asyncio.wait_for(future, 60)
        cycle = service._cycle
        assert isinstance(cycle, ProcessCycle)
        child = cycle.pid
        assert child is not None and child != os.getpid()
        # a health probe waking on its core preempts the child at once
        assert os.sched_getscheduler(child) == os.SCHED_IDLE
        assert run.status is RunStatus.SUCCEEDED, run.errors
        # hot and new list the same posts: each is fetched and counted once per run
        assert sum(c.fetched for c in run.subreddits.values()) == STORED
        assert sum(c.new for c in run.subreddits.values()) == STORED
        assert run.owner == service.owner  # the lease holder, not the child
        # written by the child, read through the service's own store
        recorded = await service.store.get_run(run.id)
        assert recorded is not None and recorded.status is RunStatus.SUCCEEDED
        assert _rows(db, "SELECT COUNT(*), COUNT(DISTINCT id) FROM items") == [(STORED, STORED)]

        again = await asyncio.wait_for(service.start_collection("test")[1], 60)
        assert again.status is RunStatus.SUCCEEDED
        assert sum(c.updated for c in again.subreddits.values()) == STORED
        assert cycle.pid == child  # the same child, reused
    assert not alive(child)  # the shutdown stopped it


async def test_a_killed_cycle_process_fails_one_run_and_the_next_recovers(
    fake: FakeReddit, tmp_path: Path
) -> None:
    db = tmp_path / "killed.db"
    fake.set_latency(0.1)
    async with service_for(fake, db) as service:
        _, future = service.start_collection("test")
        await _wait(lambda: isinstance(service._cycle, ProcessCycle), 30, "the cycle")
        cycle = service._cycle
        assert isinstance(cycle, ProcessCycle)
        await _wait(
            lambda: db.exists() and _rows(db, "SELECT COUNT(*) FROM items")[0][0] > 0,
            60,
            "the first stored page",
        )
        pid = cycle.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        run = await asyncio.wait_for(future, 30)
        assert run.status is RunStatus.FAILED
        assert [e.error for e in run.errors] == ["CycleProcessDied"]
        assert service.running
        assert _rows(db, "SELECT status FROM runs WHERE id = ?", run.id) == [("failed",)]

        fake.set_latency(0.0)
        again = await asyncio.wait_for(service.start_collection("test")[1], 60)
        assert again.status is RunStatus.SUCCEEDED, again.errors
        assert cycle.pid is not None and cycle.pid != pid  # a new child
        assert _rows(db, "SELECT COUNT(*), COUNT(DISTINCT id) FROM items") == [(STORED, STORED)]


async def test_shutdown_reaches_the_cycle_in_the_child(fake: FakeReddit, tmp_path: Path) -> None:
    db = tmp_path / "stop.db"
    fake.set_latency(0.1)
    async with service_for(fake, db) as service:
        service.start_collection("test")
        await _wait(
            lambda: db.exists() and _rows(db, "SELECT COUNT(*) FROM items")[0][0] > 0,
            60,
            "the first stored page",
        )
        cycle = service._cycle
        assert isinstance(cycle, ProcessCycle)
        pid = cycle.pid
    # the lifespan's shutdown asked the child to stop at the next listing, then stopped it
    ((status,),) = _rows(db, "SELECT status FROM runs")
    assert status == "interrupted"
    assert pid is not None and not alive(pid)


async def test_a_new_leader_warms_the_cycle_up_before_the_first_cycle(
    fake: FakeReddit, tmp_path: Path
) -> None:
    db = tmp_path / "warm.db"
    async with service_for(fake, db, collector_warm_up=True) as service:
        await _wait(lambda: service.warm, 60, "the warm-up")
        cycle = service._cycle
        assert isinstance(cycle, ProcessCycle)
        child = cycle.pid
        assert child is not None and alive(child)
        # the child started its scorer (which loaded VADER) and asked Reddit for nothing
        assert len(children(child)) == 1
        assert [r for r in fake.requests if not r.path.startswith("/_fake")] == []
        assert _rows(db, "SELECT COUNT(*) FROM runs") == [(0,)]

        run = await asyncio.wait_for(service.start_collection("test")[1], 60)
        assert run.status is RunStatus.SUCCEEDED, run.errors
        assert sum(c.new for c in run.subreddits.values()) == STORED
        assert cycle.pid == child  # the warmed-up child ran it
    assert not alive(child)


async def test_a_shutdown_during_the_warm_up_leaves_no_process_behind(
    fake: FakeReddit, tmp_path: Path
) -> None:
    before = set(children(os.getpid()))
    async with service_for(fake, tmp_path / "quick.db", collector_warm_up=True) as service:
        await _wait(lambda: service._warming is not None, 10, "the warm-up to start")
        assert not service.warm  # shutting down while the child is still being started
    # the shutdown waited for the warm-up to build the cycle, then stopped its process
    assert isinstance(service._cycle, ProcessCycle)
    assert [pid for pid in set(children(os.getpid())) - before if alive(pid)] == []
