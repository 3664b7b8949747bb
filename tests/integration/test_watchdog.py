"""The watchdog: no exception of any kind leaves a run `running`.

A cycle killed by an exception nobody foresaw ends `failed` with the error's class and
message, readiness says so, and the next cycle runs; an exception escaping the cycle entirely
is recorded by the scheduler; a hung cycle process is stopped after the budget and its grace
period and its run recorded `interrupted`; and a run left `running` past that time is marked
`interrupted` by the lease holder.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from fakereddit import FakeReddit, Fault
from reddit_sentiment.api.app import create_app
from reddit_sentiment.collection.cycle import CollectionCycle
from reddit_sentiment.collection.cycle_process import ProcessCycle
from reddit_sentiment.collection.keywords import KeywordMatcher
from reddit_sentiment.collection.scheduler import CollectionService
from reddit_sentiment.models import CollectionRun, ListingError, RunStatus
from reddit_sentiment.settings import load_settings
from reddit_sentiment.store.base import Store
from tests.factories import make_run
from tests.integration.conftest import settings_for
from tests.procfs import alive, children

T = TypeVar("T")

ADMIN_KEY = "watchdog-admin-key"
POSTS, COMMENTS = 20, 40
# new and hot list the same posts: each item is stored once per run
STORED = POSTS + COMMENTS


@pytest.fixture
def fake() -> Iterator[FakeReddit]:
    with FakeReddit.generated(subreddits=1, posts=POSTS, comments=COMMENTS, seed=11).start() as f:
        yield f


@asynccontextmanager
async def serving(
    fake: FakeReddit, db: Path, **extra: object
) -> AsyncIterator[tuple[CollectionService, httpx.AsyncClient]]:
    """The real app (lifespan, scheduler, store) and a client for its API."""
    values: dict[str, object] = {
        "collector_mode": "inline",
        "sqlite_path": str(db),
        "admin_api_key": ADMIN_KEY,
        "collection_start_delay_seconds": 3600,  # cycles run when a test starts them
        "collection_interval_seconds": 3600,
        "collector_warm_up": False,
    }
    values.update(extra)
    settings = settings_for(fake, fake.subreddit_names(), **values)
    app = create_app(settings)  # its own store, as in production
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t/api/v1") as client:
            yield app.state.service, client


async def eventually(probe: Callable[[], Awaitable[T | None]], seconds: float, what: str) -> T:
    """Poll `probe` until it returns something other than None."""
    deadline = time.monotonic() + seconds
    while True:
        value = await probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def trigger(client: httpx.AsyncClient) -> str:
    r = await client.post("/collections", headers={"X-API-Key": ADMIN_KEY})
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


async def ended_run(client: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    """The run as the API shows it, once it is no longer running."""

    async def probe() -> dict[str, Any] | None:
        r = await client.get(f"/collections/{run_id}")
        if r.status_code == 404:
            return None  # the cycle has not saved it yet
        assert r.status_code == 200, r.text
        run: dict[str, Any] = r.json()
        return None if run["status"] == "running" else run

    return await eventually(probe, 30, f"run {run_id} to end")


async def last_run(client: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    """Readiness, once it reports `run_id` as this process's last run."""

    async def probe() -> dict[str, Any] | None:
        r = await client.get("/health/ready")
        # a failed collection is reported; it does not take the API out of rotation
        assert r.status_code == 200, r.text
        ready: dict[str, Any] = r.json()
        last = ready["collection"]["last_run"]
        return ready if last is not None and last["id"] == run_id else None

    return await eventually(probe, 10, f"readiness to report run {run_id}")


async def stored_run(store: Store, run_id: str) -> CollectionRun:
    """The run as the store holds it, once it is no longer running."""

    async def probe() -> CollectionRun | None:
        run = await store.get_run(run_id)
        return run if run is not None and run.status is not RunStatus.RUNNING else None

    return await eventually(probe, 10, f"run {run_id} to be recorded")


async def running_runs(store: Store) -> list[str]:
    page = await store.list_runs(limit=100)
    return [r.id for r in page.runs if r.status is RunStatus.RUNNING]


async def stored_items(store: Store) -> int:
    return sum(a.posts + a.comments for a in await store.aggregates())


def fail_once(
    monkeypatch: pytest.MonkeyPatch, cls: type, name: str, error: BaseException
) -> list[BaseException]:
    """Make `cls.<name>` raise `error` on its first call only; the list returned holds what
    was raised."""
    original = getattr(cls, name)
    raised: list[BaseException] = []

    def failing(self: object, *args: Any, **kwargs: Any) -> Any:
        if not raised:
            raised.append(error)
            raise error
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, name, failing)
    return raised


# ---- an exception the cycle did not foresee ---------------------------------------------


async def test_an_unforeseen_exception_fails_the_run_and_the_next_cycle_runs(
    fake: FakeReddit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Deep inside a listing, after the run was saved `running` and its first page fetched:
    # the keyword matcher, tagging the first item, fails in a way nobody foresaw.
    raised = fail_once(monkeypatch, KeywordMatcher, "find", ZeroDivisionError("injected"))
    async with serving(fake, tmp_path / "unforeseen.db", track_keywords="python,rust") as (
        service,
        client,
    ):
        run_id = await trigger(client)
        run = await ended_run(client, run_id)
        assert raised, "the injected fault was never reached"
        assert run["status"] == "failed"
        assert run["finished_at"] is not None
        (error,) = run["errors"]
        assert (error["subreddit"], error["listing"], error["error"]) == (
            "*",
            "cycle",
            "ZeroDivisionError",
        )
        assert "injected" in error["message"]
        # ended by the cycle itself, which keeps what it had counted
        assert list(run["subreddits"]) == fake.subreddit_names()

        ready = await last_run(client, run_id)
        assert ready["scheduler"]["running"] is True
        assert ready["collection"]["running"] is False
        last = ready["collection"]["last_run"]
        assert last["status"] == "failed"
        assert last["error"].startswith("ZeroDivisionError") and "injected" in last["error"]
        assert last["errors"] == 1 and last["finished_at"] is not None

        # the service is not stuck: the next trigger is taken, and that cycle collects
        again_id = await trigger(client)
        again = await ended_run(client, again_id)
        assert again["status"] == "succeeded", again["errors"]
        assert again["errors"] == []
        assert sum(c["new"] for c in again["subreddits"].values()) == STORED
        ready = await last_run(client, again_id)
        assert ready["collection"]["last_run"]["status"] == "succeeded"
        assert ready["collection"]["last_run"]["error"] is None

        assert await stored_items(service.store) == STORED
        assert await running_runs(service.store) == []
        assert len(raised) == 1


async def test_an_exception_escaping_the_cycle_is_recorded_by_the_scheduler(
    fake: FakeReddit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Raised before the cycle could save any record: only the scheduler can end this run.
    fail_once(monkeypatch, CollectionCycle, "run", RuntimeError("boom"))
    async with serving(fake, tmp_path / "escaped.db") as (service, client):
        run_id, future = service.start_collection("test")
        with pytest.raises(RuntimeError, match="boom"):
            await future
        run = await stored_run(service.store, run_id)
        assert run.status is RunStatus.FAILED
        assert run.trigger == "test" and run.owner == service.owner
        assert run.finished_at is not None and run.finished_at >= run.started_at
        assert run.errors == [ListingError("*", "cycle", "RuntimeError", "boom")]
        assert service.active_run_id is None and not service.busy

        last = (await last_run(client, run_id))["collection"]["last_run"]
        assert last["status"] == "failed"
        assert last["error"] == "RuntimeError: boom"

        again_id, again_future = service.start_collection("test")
        again = await asyncio.wait_for(again_future, 30)
        assert again.id == again_id
        assert again.status is RunStatus.SUCCEEDED, again.errors
        assert await stored_items(service.store) == STORED
        assert await running_runs(service.store) == []


class Unforeseen(BaseException):
    """Not an Exception: passes every `except Exception` on its way out."""


async def test_a_base_exception_leaves_no_run_running_and_the_scheduler_goes_on(
    fake: FakeReddit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Raised after the cycle saved the run `running`; it escapes the cycle's own handler.
    fail_once(monkeypatch, CollectionCycle, "_collect", Unforeseen("not an Exception"))
    async with serving(fake, tmp_path / "base.db") as (service, client):

        async def scheduled_run(previous: str | None) -> str:
            # the scheduler's own path: lease renewal, start, and awaiting the cycle
            service.scheduler.modify_job(service.COLLECT_JOB, next_run_time=datetime.now(UTC))

            async def probe() -> str | None:
                last = service.last_run
                return last.id if last is not None and last.id != previous else None

            return await eventually(probe, 30, "a scheduled cycle")

        run_id = await scheduled_run(None)
        run = await stored_run(service.store, run_id)
        assert run.status is RunStatus.FAILED
        assert run.trigger == "scheduled"
        assert run.errors == [ListingError("*", "cycle", "Unforeseen", "not an Exception")]
        last = (await last_run(client, run_id))["collection"]["last_run"]
        assert (last["status"], last["error"]) == ("failed", "Unforeseen: not an Exception")
        assert service.running

        again_id = await scheduled_run(run_id)
        again = await stored_run(service.store, again_id)
        assert again.status is RunStatus.SUCCEEDED, again.errors
        assert await stored_items(service.store) == STORED
        assert await running_runs(service.store) == []
        assert service.running


# ---- a hung cycle process -----------------------------------------------------------------


@pytest.mark.processes
async def test_a_hung_cycle_process_is_stopped_and_its_run_interrupted(
    fake: FakeReddit, tmp_path: Path
) -> None:
    # Stopped after 3 s; the budget leaves the next cycle time to spare on a busy machine.
    budget, grace = 2.0, 1.0
    (name,) = fake.subreddit_names()
    new = rf"^/r/{name}/new"
    async with serving(
        fake,
        tmp_path / "hung.db",
        collector_mode="process",
        collector_warm_up=True,  # the child is up before the cycle: its budget is all Reddit's
        collection_budget_seconds=budget,
        collection_grace_seconds=grace,
        reddit_timeout_seconds=30,  # the request hangs instead of timing out
    ) as (service, client):

        async def warm() -> bool | None:
            return True if service.warm else None

        await eventually(warm, 60, "the warm-up")
        cycle = service._cycle
        assert isinstance(cycle, ProcessCycle)
        child = cycle.pid
        assert child is not None
        scorer = children(child)
        assert len(scorer) == 1  # the warm-up started the child's scoring process

        fake.add_fault(Fault(path_pattern=new, kind="slow", delay=20, times=1))
        started = time.monotonic()
        run_id, future = service.start_collection("test")
        run = await stored_run(service.store, run_id)
        waited = time.monotonic() - started
        assert run.status is RunStatus.INTERRUPTED
        assert [e.error for e in run.errors] == ["Stalled"]
        assert run.finished_at is not None
        # stopped after the budget and its grace period, not after Reddit's 20 s or the timeout
        assert budget + grace <= run.finished_at - run.started_at < budget + grace + 1.5
        assert waited < budget + grace + 3
        assert fake.request_count(new) == 1

        # the hung child was killed, its scorer left with it
        async def dead() -> bool | None:
            return True if not alive(child) and all(not alive(p) for p in scorer) else None

        await eventually(dead, 5, "the hung child to die")
        done = await asyncio.wait_for(future, 30)  # the run the service returned
        assert done.id == run_id and done.status is RunStatus.INTERRUPTED
        last = (await last_run(client, run_id))["collection"]["last_run"]
        assert last["status"] == "interrupted"
        assert last["error"].startswith("Stalled")
        assert service.running

        fake.clear_faults()
        # The new child's first cycle would load PRAW and start its scorer within this test's
        # short budget (and could run past it on a busy machine): load them first.
        await asyncio.wait_for(asyncio.to_thread(cycle.warm_up), 60)
        again = await asyncio.wait_for(service.start_collection("test")[1], 60)
        assert again.status is RunStatus.SUCCEEDED, again.errors
        assert cycle.pid is not None and cycle.pid != child  # in a new child
        assert await stored_items(service.store) == STORED
        assert await running_runs(service.store) == []


# ---- runs left running ------------------------------------------------------------------


@asynccontextmanager
async def service_on(store: Store, budget: float, grace: float) -> AsyncIterator[CollectionService]:
    settings = load_settings(
        collection_budget_seconds=budget, collection_grace_seconds=grace, collector_warm_up=False
    )
    service = CollectionService(settings, store, cycle_factory=None)
    try:
        yield service
    finally:
        await service.shutdown()


async def test_the_lease_holder_interrupts_runs_past_the_budget_and_grace(store: Store) -> None:
    budget, grace = 30.0, 10.0
    now = time.time()
    stalled = make_run("stalled", now - (budget + grace + 10), RunStatus.RUNNING)
    recent = make_run("recent", now - 5, RunStatus.RUNNING)
    finished = make_run("finished", now - 3600)
    async with service_on(store, budget, grace) as service:
        # becoming the leader ends every run left running (no cycle of its own is running)
        assert await service.renew_lease() is True
        for run in (stalled, recent, finished):
            store.save_run(run)
        # renewing: only what ran past the budget and its grace period is ended
        assert await service.renew_lease() is True
        assert await service.end_stalled_runs() == 0  # done already, by the renewal

    got = {r.id: r for r in (await store.list_runs(limit=10)).runs}
    assert got["stalled"].status is RunStatus.INTERRUPTED
    assert got["stalled"].finished_at is not None and got["stalled"].finished_at >= now
    assert got["stalled"].errors[-1].error == "Stalled"
    assert got["stalled"].subreddits == stalled.subreddits  # its counts are kept
    assert got["recent"].status is RunStatus.RUNNING and got["recent"].finished_at is None
    assert got["recent"].errors == []
    assert got["finished"].status is RunStatus.SUCCEEDED and got["finished"].errors == []


async def test_end_stalled_runs_marks_only_old_running_runs(store: Store) -> None:
    budget, grace = 5.0, 2.0
    now = time.time()
    store.save_run(make_run("old", now - (budget + grace + 10), RunStatus.RUNNING))
    store.save_run(make_run("young", now - 1, RunStatus.RUNNING))
    async with service_on(store, budget, grace) as service:
        assert await service.end_stalled_runs() == 1
        assert await service.end_stalled_runs() == 0
    old, young = await store.get_run("old"), await store.get_run("young")
    assert old is not None and old.status is RunStatus.INTERRUPTED
    assert [e.error for e in old.errors] == ["Stalled"]
    assert young is not None and young.status is RunStatus.RUNNING
