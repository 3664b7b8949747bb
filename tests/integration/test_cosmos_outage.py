"""Cosmos DB goes away during a cycle: the cycle fails cleanly and says so, readiness is 503
with the reason, health stays 200, and a manual trigger answers 503 (not a crash)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest

from fakereddit import FakeReddit
from reddit_sentiment.api.app import create_app
from tests.cosmos.fixture import start_server
from tests.integration.conftest import settings_for

KEY = {"X-API-Key": "outage-key"}


@pytest.mark.cosmos  # starts its own Cosmos test server (Node.js)
async def test_cosmos_outage_mid_cycle(sample_reddit: FakeReddit, tmp_path: Path) -> None:
    server = start_server(tmp_path / "cosmos.log")  # its own server: this test stops it
    try:
        settings = settings_for(
            sample_reddit,
            sorted(sample_reddit.subreddit_names()),
            storage_backend="cosmos",
            cosmos_endpoint=server.endpoint,
            cosmos_key=server.key,
            cosmos_database=server.database,
            cosmos_container_prefix=f"outage-{uuid.uuid4().hex[:6]}-",
            collection_start_delay_seconds=3600,
            admin_api_key=KEY["X-API-Key"],
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            service = app.state.service
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t/api/v1") as c:
                sample_reddit.set_latency(0.3)
                assert (await c.post("/collections", headers=KEY)).status_code == 202
                await asyncio.sleep(0.5)
                server.stop()  # the store goes away in the middle of the cycle
                await asyncio.wait_for(asyncio.shield(service._active), 60)
                run = service.last_run
                assert run is not None and run.status.value == "failed"
                assert any(e.listing == "store" for e in run.errors)
                assert (await c.get("/health")).status_code == 200
                ready = await c.get("/health/ready")
                assert ready.status_code == 503
                assert ready.json()["storage"]["reachable"] is False
                again = await c.post("/collections", headers=KEY)
                assert again.status_code == 503 and "storage unavailable" in again.json()["detail"]
    finally:
        server.stop()
