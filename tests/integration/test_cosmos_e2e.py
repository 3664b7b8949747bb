"""End to end on Cosmos DB: real PRAW against the recorded Reddit, a full cycle into the
Cosmos-protocol server (STORAGE_BACKEND=cosmos through the settings), read back via the API."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from fakereddit import FakeReddit
from reddit_sentiment.api.app import create_app
from reddit_sentiment.store.verify import verify
from tests.cosmos.fixture import CosmosServer
from tests.integration.conftest import settings_for

KEY = {"X-API-Key": "cosmos-e2e-key"}


async def test_cycle_into_cosmos_read_back_through_the_api(
    recorded_reddit: FakeReddit, cosmos_server: CosmosServer
) -> None:
    settings = settings_for(
        recorded_reddit,
        ["askreddit"],
        storage_backend="cosmos",
        cosmos_endpoint=cosmos_server.endpoint,
        cosmos_key=cosmos_server.key,
        cosmos_database=cosmos_server.database,
        cosmos_container_prefix=f"e2e-{uuid.uuid4().hex[:8]}-",
        collection_start_delay_seconds=3600,
        admin_api_key=KEY["X-API-Key"],
        # The recorded items are from 2012-2015: kept (and verified) only with a long retention.
        retention_days=20000,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        assert app.state.store.name == "cosmos"
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t/api/v1") as c:
            for _ in range(2):  # the second cycle must not duplicate anything
                started = await c.post("/collections", headers=KEY)
                assert started.status_code == 202, started.text
                await app.state.service._active
            ready = (await c.get("/health/ready")).json()
            assert ready["storage"] == {"backend": "cosmos", "reachable": True}
            summary = (await c.get("/dashboard/summary")).json()
            # A reconcile pass follows each cycle (the recordings have no /api/info for it).
            runs = (await c.get("/collections", params={"kind": "collect"})).json()["items"]
            posts = (await c.get("/posts", params={"limit": 100, "sort": "score"})).json()
            first = posts["items"][0]
            detail = (await c.get(f"/posts/{first['id']}")).json()
            window = {"bucket": "day", "since": "2010-01-01T00:00:00Z"}
            series = (await c.get("/dashboard/sentiment", params=window)).json()
        report = await asyncio.to_thread(verify, app.state.store)
    assert report.ok, [d.describe() for d in report.drifts]
    assert (report.items, report.rows["hourly"] > 0, report.rows["daily"] > 0) == (294, True, True)

    assert (summary["posts"], summary["comments"]) == (194, 100)
    assert sum(summary["labels"].values()) == 294
    assert [r["status"] for r in runs] == ["succeeded", "succeeded"]
    assert runs[0]["subreddits"]["askreddit"] == {  # each distinct item once per run
        "fetched": 294,
        "new": 0,
        "updated": 294,
        "failed": 0,
        "rejected": 0,
        "checked": 0,
        "rescored": 0,
        "deleted": 0,
        "missing": 0,
    }
    scores = [p["score"] for p in posts["items"]]
    assert scores == sorted(scores, reverse=True) and posts["next_cursor"] is not None
    assert detail["post"]["id"] == first["id"]
    assert sum(b["count"] for s in series["series"] for b in s["buckets"]) == 294
