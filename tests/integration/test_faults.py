"""Each injected Reddit fault: recorded in the run, the rest goes on, the next clean cycle
succeeds without duplicates, and the scheduler keeps running."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fakereddit import FakeReddit, Fault
from reddit_sentiment.collection.cycle import build_cycle
from reddit_sentiment.collection.scheduler import CollectionService
from reddit_sentiment.models import RunKind, RunStatus
from reddit_sentiment.store.sqlite import SqliteStore
from tests.integration.conftest import settings_for

HOT = r"^/r/askreddit/hot"


@pytest.fixture
async def service(recorded_reddit: FakeReddit, db: SqliteStore) -> AsyncIterator[CollectionService]:
    settings = settings_for(
        recorded_reddit,
        ["askreddit", "nosuchsub"],
        collection_interval_seconds=3600,
        collection_start_delay_seconds=3600,
        reddit_timeout_seconds=0.5,
    )
    svc = CollectionService(settings, db, lambda: build_cycle(settings, db))
    svc.start()
    yield svc
    await svc.shutdown()


async def collect(service: CollectionService):  # type: ignore[no-untyped-def]
    _, future = service.start_collection("test")
    return await future


@pytest.mark.parametrize(
    ("fault", "error", "hot_requests"),
    [
        (
            Fault(path_pattern=HOT, kind="status", status=429, retry_after=0.05),
            "TooManyRequests",
            3,
        ),
        (Fault(path_pattern=HOT, kind="status", status=500), "ServerError", 3),
        (Fault(path_pattern=HOT, kind="malformed"), "BadJSON", 1),
        (Fault(path_pattern=HOT, kind="slow", delay=1.5), "RequestException", 3),
        (Fault(path_pattern=HOT, kind="status", status=403), "Forbidden", 1),
    ],
    ids=["429", "500", "malformed", "slow", "403"],
)
async def test_listing_fault_is_recorded_and_the_cycle_goes_on(
    service: CollectionService,
    recorded_reddit: FakeReddit,
    db: SqliteStore,
    fault: Fault,
    error: str,
    hot_requests: int,
) -> None:
    recorded_reddit.add_fault(fault)
    run = await collect(service)
    assert run.status is RunStatus.PARTIAL
    errors = {(e.subreddit, e.listing): e for e in run.errors}
    assert errors[("askreddit", "hot")].error == error
    assert {e.error for k, e in errors.items() if k[0] == "nosuchsub"} == {"NotFound"}
    assert run.subreddits["askreddit"].failed == 1
    assert run.subreddits["askreddit"].fetched == 200  # new and comments still collected
    assert recorded_reddit.request_count(HOT) == hot_requests
    assert service.running

    recorded_reddit.clear_faults()
    clean = await collect(service)
    assert ("askreddit", "hot") not in {(e.subreddit, e.listing) for e in clean.errors}
    assert clean.subreddits["askreddit"].failed == 0
    (agg,) = await db.aggregates()
    page = await db.list_runs(limit=10, kind=RunKind.COLLECT)  # a reconcile pass follows each
    assert [r.id for r in page.runs] == [clean.id, run.id]
    # nothing stored twice: one row per fullname
    assert agg.comments == 100 and agg.posts == clean.subreddits["askreddit"].new + (
        run.subreddits["askreddit"].new - 100
    )


async def test_one_429_is_retried_after_retry_after(
    service: CollectionService, recorded_reddit: FakeReddit
) -> None:
    recorded_reddit.add_fault(
        Fault(path_pattern=HOT, kind="status", status=429, retry_after=0.1, times=1)
    )
    run = await collect(service)
    assert ("askreddit", "hot") not in {(e.subreddit, e.listing) for e in run.errors}
    assert (
        run.subreddits["askreddit"].fetched == 294
    )  # distinct items: 6 posts are both hot and new
    assert recorded_reddit.request_count(HOT) == 2


async def test_flaky_503_is_absorbed_by_praw_retries(
    service: CollectionService, recorded_reddit: FakeReddit
) -> None:
    recorded_reddit.add_fault(Fault(path_pattern=HOT, kind="flaky"))
    run = await collect(service)
    assert run.subreddits["askreddit"].failed == 0
    assert (
        run.subreddits["askreddit"].fetched == 294
    )  # distinct items: 6 posts are both hot and new


async def test_failing_token_endpoint_fails_the_whole_cycle(
    service: CollectionService, recorded_reddit: FakeReddit
) -> None:
    recorded_reddit.add_fault(
        Fault(path_pattern=r"^/api/v1/access_token", kind="status", status=401)
    )
    run = await collect(service)
    assert run.status is RunStatus.FAILED
    assert [e.listing for e in run.errors] == ["new", "hot", "comments"] * 2
    kinds = [e.error for e in run.errors]
    # three upstream failures in a row open the breaker: the rest are not even tried
    assert kinds[3:] == ["CircuitOpen"] * 3 and "CircuitOpen" not in kinds[:3]
    tried = recorded_reddit.request_count(r"^/api/v1/access_token")
    assert service.running

    another = await collect(service)  # still failing: one trial call, then open again
    assert [e.error for e in another.errors][1:] == ["CircuitOpen"] * 5
    assert tried == 3  # one token request per listing tried
    assert recorded_reddit.request_count(r"^/api/v1/access_token") == tried + 1
    recorded_reddit.clear_faults()
    again = await collect(service)
    assert (
        again.subreddits["askreddit"].fetched == 294
    )  # distinct items: 6 posts are both hot and new


async def test_second_trigger_while_running_is_refused(
    service: CollectionService, recorded_reddit: FakeReddit
) -> None:
    recorded_reddit.set_latency(0.2)
    run_id, future = service.start_collection("test")
    with pytest.raises(Exception, match=run_id):
        service.start_collection("test")
    await future
    assert not service.busy


async def test_scheduler_runs_the_first_cycle_after_the_start_delay(
    recorded_reddit: FakeReddit, db: SqliteStore
) -> None:
    settings = settings_for(recorded_reddit, ["askreddit"], collection_start_delay_seconds=0.3)
    svc = CollectionService(settings, db, lambda: build_cycle(settings, db))
    svc.start()
    try:
        job = svc.scheduler.get_job(svc.COLLECT_JOB)
        assert (job.max_instances, job.coalesce) == (1, True)
        assert job.misfire_grace_time >= 60
        for _ in range(100):
            if svc.last_run is not None:
                break
            await asyncio.sleep(0.05)
        assert svc.last_run is not None and svc.last_run.status is RunStatus.SUCCEEDED
        assert svc.last_run.trigger == "scheduled"
    finally:
        await svc.shutdown()


async def test_shutdown_interrupts_a_running_cycle_at_a_checkpoint(
    recorded_reddit: FakeReddit, db: SqliteStore, tmp_path: Path
) -> None:
    recorded_reddit.set_latency(0.3)
    settings = settings_for(recorded_reddit, ["askreddit"], collection_start_delay_seconds=3600)
    svc = CollectionService(settings, db, lambda: build_cycle(settings, db))
    svc.start()
    run_id, _ = svc.start_collection("test")
    await asyncio.sleep(0.4)
    await svc.shutdown()
    run = await db.get_run(run_id)
    assert run is not None and run.status is RunStatus.INTERRUPTED
    assert not svc.busy


async def test_cycle_budget_stops_starting_listings(
    recorded_reddit: FakeReddit, db: SqliteStore
) -> None:
    recorded_reddit.set_latency(0.3)
    settings = settings_for(
        recorded_reddit, ["askreddit", "nosuchsub"], collection_budget_seconds=0.5
    )
    run = await asyncio.to_thread(build_cycle(settings, db).run)
    budget = [e for e in run.errors if e.error == "BudgetExceeded"]
    assert budget and all("cycle budget of" in e.message for e in budget)
    assert {e.subreddit for e in budget} == {"nosuchsub"} or len(budget) >= 3
    assert run.status is RunStatus.PARTIAL
    assert run.finished_at is not None and run.finished_at - run.started_at < 5
    # a listing started before the deadline still finished and was stored
    assert run.subreddits["askreddit"].fetched >= 100
