"""Reddit's data lifecycle (issue 17): the reconcile pass re-fetches stored items through
`/api/info` as they age and stores what Reddit's latest versions say. Real PRAW against the
fake Reddit (whose items change between rounds through `FakeReddit.revise`), both stores, the
aggregates checked against the items after every pass."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests

from fakereddit import FakeReddit, Fault
from reddit_sentiment.api.app import create_app
from reddit_sentiment.collection import CollectionService
from reddit_sentiment.collection.collector import (
    RATE_LIMIT_RESERVE,
    RateLimitReserve,
    RedditCollector,
)
from reddit_sentiment.collection.cycle import CollectionCycle, build_cycle
from reddit_sentiment.models import ItemState, Label, RunKind, RunStatus
from reddit_sentiment.settings import load_settings
from reddit_sentiment.store.base import Store
from reddit_sentiment.store.sqlite import SqliteStore
from tests.integration.conftest import settings_for
from tests.invariants import assert_aggregates_match_items

HOUR = 3600
# Texts nobody else writes, to look for wherever a purged item could still show.
DELETED_TITLE = "Zanzibar quokka manifesto deleted title"
DELETED_TEXT = "Quokkas are wonderful and I love them dearly"
REMOVED_BODY = "Xylophone marmalade removed comment body, happy and great"
DELETED_AUTHOR = "quokka_author_77"
EDITED_TEXT = "Actually this is terrible, awful and I hate it"


def lifecycle_data(posts: int = 6, hours_apart: int = 10) -> dict[str, Any]:
    """Posts (each with one comment) aged 1 h, 1 + hours_apart h, ...: the first is not due,
    the others pass 6 h, and those past 48 h are due for the second stage."""
    submissions = []
    for n in range(posts):
        age = HOUR * (1 + n * hours_apart)
        submissions.append(
            {
                "id": f"lc{n}",
                "title": f"Lovely helpful post number {n}",
                "selftext": "I really like this, it is great",
                "author": f"author{n}",
                "age_seconds": age,
                "score": 10 + n,
                "comments": [
                    {
                        "id": f"lcc{n}",
                        "parent": None,
                        "author": f"commenter{n}",
                        "body": "Nice, thank you, very happy with it",
                        "age_seconds": age - 60,
                        "score": 3,
                    }
                ],
            }
        )
    submissions[2].update(title=DELETED_TITLE, selftext=DELETED_TEXT, author=DELETED_AUTHOR)
    submissions[3]["comments"][0]["body"] = REMOVED_BODY
    return {
        "subreddits": [
            {
                "name": "python",
                "title": "Python",
                "description": "",
                "subscribers": 1,
                "submissions": submissions,
            }
        ]
    }


@contextmanager
def cycle_on(
    data: dict[str, Any], store: Store, **extra: object
) -> Iterator[tuple[FakeReddit, CollectionCycle]]:
    with FakeReddit.from_dataset(data).start() as fake:
        settings = settings_for(fake, ["python"], analyzer_mode="inline", **extra)
        cycle = build_cycle(settings, store)
        try:
            yield fake, cycle
        finally:
            cycle.close()


@asynccontextmanager
async def api(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    settings = load_settings()
    app = create_app(settings, store=store)
    # The lifespan would close the store at its end; the test goes on using it.
    app.state.store, app.state.service = store, CollectionService(settings, store, None)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def every_api_answer(client: httpx.AsyncClient, ids: list[str]) -> str:
    """The text of what the API and the page serve about the stored items."""
    answers = [
        await client.get("/"),
        await client.get("/api/v1/posts", params={"limit": 100}),
        await client.get("/api/v1/dashboard/summary"),
    ]
    for post in ids:
        answers.append(await client.get(f"/api/v1/posts/{post}"))
    for window in ("1h", "6h", "24h", "7d"):
        answers.append(await client.get("/api/v1/trending", params={"window": window}))
    assert all(a.status_code == 200 for a in answers), [a.status_code for a in answers]
    return "\n".join(a.text for a in answers)


async def test_a_pass_brings_items_to_what_reddit_says_now(store: Store) -> None:
    with cycle_on(lifecycle_data(), store, reconcile_request_share=1.0) as (fake, cycle):
        collected = await asyncio.to_thread(cycle.run)
        assert collected.status is RunStatus.SUCCEEDED, collected.errors
        await asyncio.to_thread(cycle.refresh_trending)
        before = {i.id: i for i in await assert_aggregates_match_items(store)}
        assert len(before) == 12
        async with api(store) as client:
            assert DELETED_TITLE in await every_api_answer(client, ["t3_lc2"])

        fake.revise("t3_lc1", score=250, upvote_ratio=0.61, text=EDITED_TEXT)
        fake.revise("t3_lc2", state="deleted")
        fake.revise("t1_lcc3", state="removed")
        fake.revise("t3_lc4", state="gone")
        fake.revise("t3_lc0", score=999)  # 1 h old: not due, so not re-fetched
        fake.clear_requests()
        run = await asyncio.to_thread(cycle.reconcile)

        # Due: lc1..lc5 and their comments (10), in two requests (the 48 h band first).
        assert fake.request_count(r"/api/info") == 2
        assert run.kind is RunKind.RECONCILE and run.status is RunStatus.SUCCEEDED, run.errors
        counts = run.subreddits["python"]
        assert (counts.checked, counts.updated, counts.rescored) == (10, 4, 1)
        assert (counts.deleted, counts.missing, counts.failed) == (2, 1, 0)
        items = {i.id: i for i in await assert_aggregates_match_items(store)}

        edited = items["t3_lc1"]
        assert (edited.score, edited.upvote_ratio, edited.body) == (250, 0.61, EDITED_TEXT)
        assert edited.state is ItemState.EDITED and edited.edited_at is not None
        assert edited.compound < 0 < before["t3_lc1"].compound
        assert edited.label is Label.NEGATIVE
        for fullname, state in (
            ("t3_lc2", ItemState.DELETED),
            ("t1_lcc3", ItemState.REMOVED),
            ("t3_lc4", ItemState.REMOVED),  # gone from /api/info
        ):
            purged = items[fullname]
            assert purged.state is state, fullname
            assert (purged.author, purged.body) == (None, ""), fullname
            assert purged.title in ("", None) and purged.state_at is not None
            assert purged.compound == before[fullname].compound  # keep-scores
            assert purged.counted
        assert items["t3_lc2"].permalink == "/r/python/comments/lc2/"
        assert items["t3_lc0"].score == 10 and items["t3_lc0"].checked_at is None
        assert all(items[f"t3_lc{n}"].reconcile_stage == 1 for n in (1, 2, 3, 4))
        assert items["t3_lc5"].reconcile_stage == 2  # 51 h old: past both ages at once

        # Nothing is due again until the next age: a second pass makes no request.
        fake.clear_requests()
        again = await asyncio.to_thread(cycle.reconcile)
        assert fake.request_count(r"/api/info") == 0 and again.subreddits == {}

        async with api(store) as client:
            served = await every_api_answer(client, [f"t3_lc{n}" for n in range(6)])
            for text in (DELETED_TITLE, DELETED_TEXT, REMOVED_BODY, DELETED_AUTHOR):
                assert text not in served
            post = (await client.get("/api/v1/posts/t3_lc2")).json()["post"]
            assert post["state"] == "deleted" and post["checked_at"] is not None
            edited_out = (await client.get("/api/v1/posts/lc1")).json()["post"]
            assert edited_out["state"] == "edited" and edited_out["upvote_ratio"] == 0.61
            deleted = await client.get("/api/v1/posts", params={"state": "deleted"})
            assert [p["id"] for p in deleted.json()["items"]] == ["t3_lc2"]
            removed = await client.get("/api/v1/posts", params={"state": "removed"})
            assert [p["id"] for p in removed.json()["items"]] == ["t3_lc4"]
            summary = (await client.get("/api/v1/dashboard/summary")).json()
            assert (summary["deleted"], summary["removed"]) == (1, 2)
            assert (await client.get("/api/v1/posts", params={"state": "gone"})).status_code == 422
            runs = await client.get("/api/v1/collections", params={"kind": "reconcile"})
            latest = runs.json()["items"][1]  # the newest is the pass that found nothing
            assert latest["id"] == run.id and latest["subreddits"]["python"]["checked"] == 10


@pytest.mark.slow
async def test_a_failing_api_info_fails_the_pass_and_the_items_wait(store: Store) -> None:
    with cycle_on(lifecycle_data(), store, reconcile_request_share=1.0) as (fake, cycle):
        await asyncio.to_thread(cycle.run)
        fake.add_fault(Fault(path_pattern=r"/api/info", kind="status", status=503))
        failed = await asyncio.to_thread(cycle.reconcile)
        assert failed.status is RunStatus.FAILED and failed.finished_at is not None
        ((error, listing),) = {(e.error, e.listing) for e in failed.errors}
        assert (error, listing) == ("ServerError", "api/info")
        assert failed.subreddits["python"].failed == 2  # the first batch, then it stopped
        items = await assert_aggregates_match_items(store)
        assert all(i.checked_at is None and i.reconcile_stage == 0 for i in items)

        fake.clear_faults()  # Reddit is back: the next pass finds them still due
        again = await asyncio.to_thread(cycle.reconcile)
        assert again.status is RunStatus.SUCCEEDED and again.subreddits["python"].checked == 10


async def test_drop_takes_purged_items_out_of_the_aggregates(store: Store) -> None:
    data = lifecycle_data()
    with cycle_on(data, store, deleted_items="drop", reconcile_request_share=1.0) as (fake, c):
        await asyncio.to_thread(c.run)
        totals = (await store.aggregates())[0]
        fake.revise("t3_lc2", state="deleted")
        fake.revise("t1_lcc3", state="removed")
        run = await asyncio.to_thread(c.reconcile)
        assert run.subreddits["python"].deleted == 2
        items = {i.id: i for i in await assert_aggregates_match_items(store)}
        assert not items["t3_lc2"].counted and not items["t1_lcc3"].counted
        after = (await store.aggregates())[0]
        assert (after.posts, after.comments) == (totals.posts - 1, totals.comments - 1)


async def test_a_listing_that_shows_a_deleted_item_stores_it_purged(store: Store) -> None:
    with cycle_on(lifecycle_data(), store) as (fake, cycle):
        await asyncio.to_thread(cycle.run)
        fake.revise("t3_lc2", state="deleted")
        fake.revise("t1_lcc3", state="removed")
        rerun = await asyncio.to_thread(cycle.run)
        assert rerun.status is RunStatus.SUCCEEDED, rerun.errors
        items = {i.id: i for i in await assert_aggregates_match_items(store)}
        assert items["t3_lc2"].state is ItemState.DELETED and items["t3_lc2"].title == ""
        assert items["t1_lcc3"].state is ItemState.REMOVED and items["t1_lcc3"].body == ""
        assert items["t3_lc2"].author is None and items["t3_lc2"].counted  # keep-scores


async def test_an_item_first_seen_deleted_is_stored_purged_as_neutral(store: Store) -> None:
    with FakeReddit.from_dataset(lifecycle_data()).start() as fake:
        fake.revise("t3_lc2", state="deleted")
        settings = settings_for(fake, ["python"], analyzer_mode="inline")
        cycle = build_cycle(settings, store)
        try:
            await asyncio.to_thread(cycle.run)
        finally:
            cycle.close()
    items = {i.id: i for i in await assert_aggregates_match_items(store)}
    first_seen = items["t3_lc2"]
    assert first_seen.state is ItemState.DELETED and first_seen.counted  # keep-scores
    assert (first_seen.compound, first_seen.label) == (0.0, Label.NEUTRAL)
    assert (first_seen.title, first_seen.body, first_seen.author) == ("", "", None)


async def test_the_request_share_caps_a_pass_and_the_rest_waits(store: Store) -> None:
    # 8 requests a minute over a 60 s interval, a quarter of it: 2 requests a pass.
    data = lifecycle_data(posts=130, hours_apart=0)  # 260 items, all 1 h old
    with cycle_on(
        data,
        store,
        reconcile_after="30m",
        reddit_requests_per_minute=8,
        collection_interval_seconds=60,
        collection_limit=200,
    ) as (fake, cycle):
        await asyncio.to_thread(cycle.run)
        stored = await assert_aggregates_match_items(store)
        assert len(stored) == 260
        fake.clear_requests()
        first = await asyncio.to_thread(cycle.reconcile)
        assert fake.request_count(r"/api/info") == 2
        assert first.subreddits["python"].checked == 200
        checked = [i for i in await assert_aggregates_match_items(store) if i.checked_at]
        oldest = sorted(stored, key=lambda i: (i.created_utc, i.id))[:200]
        assert {i.id for i in checked} == {i.id for i in oldest}  # oldest due first
        second = await asyncio.to_thread(cycle.reconcile)
        assert fake.request_count(r"/api/info") == 3
        assert second.subreddits["python"].checked == 60


def test_rate_limit_headers_are_kept_and_a_pass_stops_at_the_reserve(tmp_path: Path) -> None:
    db = SqliteStore(tmp_path / "limits.db")
    db.open()
    with cycle_on(lifecycle_data(), db, reconcile_request_share=1.0) as (fake, cycle):
        cycle.run()
        limits = cycle.rate_limits()
        served = fake.request_count("")  # every request, the token too
        assert limits.used == served and limits.remaining == fake.ratelimit_budget - served
        assert limits.reset_at is not None and time.time() < limits.reset_at <= time.time() + 600

        # Reddit says only the reserve is left, for 90 s more: the scheduled pass waits.
        window = requests.Response()
        window.headers.update({"x-ratelimit-remaining": f"{RATE_LIMIT_RESERVE}.0",
                               "x-ratelimit-used": "995", "x-ratelimit-reset": "90"})  # fmt: skip
        cycle.collector._record_limits(window)
        fake.clear_requests()
        run = cycle.reconcile()
        assert fake.request_count(r"/api/info") == 0 and run.subreddits == {}
        assert run.status is RunStatus.SUCCEEDED

        # The CLI's pass (no share cap) waits out the window instead, then goes on.
        waited: list[float] = []
        cycle.collector.sleep = waited.append
        cli_run = cycle.reconcile(max_requests=None)
        assert len(waited) == 1 and 85 < waited[0] <= 90
        assert fake.request_count(r"/api/info") == 2 and cli_run.subreddits["python"].checked == 10
    db.close()


def test_waiting_for_the_window_never_runs_past_the_deadline() -> None:
    collector = RedditCollector(load_settings())
    window = requests.Response()
    window.headers.update({"x-ratelimit-remaining": "2", "x-ratelimit-used": "998",
                           "x-ratelimit-reset": "300"})  # fmt: skip
    collector._record_limits(window)
    assert collector.requests_left() == 0
    with pytest.raises(RateLimitReserve, match="resets in"):
        collector.wait_for_window(deadline=time.time() + 10)


@pytest.mark.processes
async def test_the_service_reconciles_after_each_cycle_in_the_cycle_process(
    tmp_path: Path,
) -> None:
    with FakeReddit.from_dataset(lifecycle_data()).start() as fake:
        settings = settings_for(
            fake,
            ["python"],
            collection_start_delay_seconds=3600,
            sqlite_path=str(tmp_path / "service.db"),
            collector_warm_up=False,
            reconcile_request_share=1.0,
        )
        fake.revise("t3_lc2", state="deleted")  # first seen deleted: stored purged
        app = create_app(settings)  # its own store: the cycle runs in the cycle process
        async with app.router.lifespan_context(app):
            service: CollectionService = app.state.service
            fake.revise("t3_lc1", score=77)
            _, future = service.start_collection("test")
            run = await asyncio.wait_for(future, 120)
            assert run.kind is RunKind.COLLECT and run.status is RunStatus.SUCCEEDED
            reconciled = service.last_reconcile
            assert reconciled is not None and reconciled.kind is RunKind.RECONCILE
            assert reconciled.subreddits["python"].checked == 10
            assert fake.request_count(r"/api/info") == 1 + 1  # two bands, one request each
            limits = service.rate_limits
            assert limits.used == fake.request_count("") and limits.remaining is not None

            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                metrics = (await client.get("/metrics")).text
                assert f"reddit_sentiment_reddit_ratelimit_used {float(limits.used)}" in metrics
                assert "reddit_sentiment_reddit_ratelimit_remaining " in metrics
                ready = (await client.get("/api/v1/health/ready")).json()["collection"]
                assert ready["reddit_rate_limit"]["used"] == limits.used
                assert ready["last_reconcile"]["id"] == reconciled.id
                runs = await client.get("/api/v1/collections", params={"kind": "reconcile"})
                assert [r["id"] for r in runs.json()["items"]] == [reconciled.id]
                post = (await client.get("/api/v1/posts/t3_lc2")).json()["post"]
                assert post["state"] == "deleted" and post["title"] == ""
