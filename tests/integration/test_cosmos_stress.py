"""Cycles and dashboard reads on one Cosmos DB store at the same time, many times over.

Issue 16 saw one second cycle in three end with ``RuntimeError('OrderedDict mutated during
iteration')`` on the Cosmos test server: state shared between threads or clients. Here the
cycle runs in the service's collector thread (COLLECTOR_MODE=inline: the same store object,
its write pool and sync client) while API reads go through the async client on the event loop,
and every run must succeed, every read answer 200, and the aggregates equal a recomputation
from the items at the end. Bounded: a fixed number of cycles on the small sample data set.
"""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from fakereddit import FakeReddit
from reddit_sentiment.api.app import create_app
from tests.cosmos.fixture import CosmosServer
from tests.integration.conftest import settings_for
from tests.invariants import assert_aggregates_match_items

KEY = {"X-API-Key": "stress-key"}
CYCLES = 6
READS = (
    "/dashboard/summary",
    "/dashboard/sentiment?bucket=hour",
    "/dashboard/sentiment?bucket=day&since=2010-01-01T00:00:00Z",
    "/posts?limit=50&sort=score",
    "/posts?limit=50&sort=new&kind=comment",
    "/collections?limit=5",
    "/keywords",
    "/health/ready",
)


@pytest.mark.slow
async def test_cycles_and_reads_at_once_on_cosmos(
    sample_reddit: FakeReddit, cosmos_server: CosmosServer
) -> None:
    settings = settings_for(
        sample_reddit,
        sorted(sample_reddit.subreddit_names()),
        storage_backend="cosmos",
        cosmos_endpoint=cosmos_server.endpoint,
        cosmos_key=cosmos_server.key,
        cosmos_database=cosmos_server.database,
        cosmos_container_prefix=f"stress-{uuid.uuid4().hex[:8]}-",
        collection_start_delay_seconds=3600,
        collector_mode="inline",  # the cycle shares this process's store with the reads
        analyzer_mode="inline",
        track_keywords="python,rust",
        admin_api_key=KEY["X-API-Key"],
    )
    app = create_app(settings)
    statuses: list[str] = []
    failures: list[str] = []
    reads = 0
    async with app.router.lifespan_context(app):
        service = app.state.service
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t/api/v1") as c:

            async def read_until(done: asyncio.Event) -> None:
                nonlocal reads
                while not done.is_set():
                    for path in READS:
                        r = await c.get(path)
                        reads += 1
                        if r.status_code != 200:
                            failures.append(f"{path}: {r.status_code} {r.text[:200]}")

            for _ in range(CYCLES):
                started = await c.post("/collections", headers=KEY)
                assert started.status_code == 202, started.text
                done = asyncio.Event()
                readers = [asyncio.create_task(read_until(done)) for _ in range(3)]
                await asyncio.wait_for(asyncio.shield(service._active), 120)
                done.set()
                await asyncio.gather(*readers)
                run = service.last_run
                assert run is not None
                statuses.append(run.status.value)
                if run.errors:
                    failures += [f"run {run.id}: {e.listing}: {e.message}" for e in run.errors]
            store = app.state.store
            await assert_aggregates_match_items(store)
    assert failures == []
    assert statuses == ["succeeded"] * CYCLES
    assert reads >= CYCLES * len(READS)  # the reads did overlap the cycles
