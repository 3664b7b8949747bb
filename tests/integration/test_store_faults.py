"""The store goes away during a cycle: the cycle fails cleanly and says so, readiness turns
503 with the reason, health stays 200, and the next cycle after it returns catches up."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from fakereddit import FakeReddit
from reddit_sentiment.api.app import create_app
from reddit_sentiment.store.sqlite import SqliteStore
from tests.integration.conftest import settings_for
from tests.invariants import assert_verified

KEY = {"X-API-Key": "store-fault-key"}


@pytest.fixture
async def app_client(
    sample_reddit: FakeReddit, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, SqliteStore]]:
    settings = settings_for(
        sample_reddit,
        sorted(sample_reddit.subreddit_names()),
        collection_start_delay_seconds=3600,
        admin_api_key=KEY["X-API-Key"],
    )
    store = SqliteStore(tmp_path / "faulty.db", busy_timeout_seconds=0.2)
    app = create_app(settings, store=store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t/api/v1") as client:
            yield client, store
        await assert_verified(store)  # failed and retried cycles leave no aggregate drift


async def start_cycle(client: httpx.AsyncClient) -> None:
    r = await client.post("/collections", headers=KEY)
    assert r.status_code == 202, r.text


async def wait_idle(client: httpx.AsyncClient) -> None:
    for _ in range(300):
        ready = (await client.get("/health/ready")).json()
        if not ready["collection"]["running"]:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("cycle did not finish")


@pytest.mark.slow
async def test_locked_database_fails_the_cycle_then_catches_up(
    app_client: tuple[httpx.AsyncClient, SqliteStore], sample_reddit: FakeReddit
) -> None:
    client, store = app_client
    sample_reddit.set_latency(0.2)
    await start_cycle(client)
    await asyncio.sleep(0.3)  # the cycle is fetching its first listing
    blocker = sqlite3.connect(store.path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # another writer holds the database
    try:
        await wait_idle(client)
        ready = await client.get("/health/ready")
        assert ready.status_code == 503
        body = ready.json()
        assert "storage not writable" in body["status"] and "locked" in body["status"]
        assert body["collection"]["last_run"]["status"] == "failed"
        assert (await client.get("/health")).status_code == 200
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()

    sample_reddit.set_latency(0)
    await start_cycle(client)
    await wait_idle(client)
    assert (await client.get("/health/ready")).status_code == 200
    summary = (await client.get("/dashboard/summary")).json()
    expected_posts = sum(
        len(sample_reddit.expected_items(sub, "submissions"))
        for sub in sample_reddit.subreddit_names()
    )
    assert summary["posts"] == expected_posts
    assert summary["last_collection"]["status"] in {"succeeded", "partial"}
