"""Secrets never appear in logs, errors, health output or OpenAPI; CORS is an allow-list."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from fakereddit import FakeReddit
from reddit_sentiment.api.app import create_app
from reddit_sentiment.settings import load_settings
from reddit_sentiment.store.sqlite import SqliteStore

REDDIT_SECRET = "reddit-secret-Zq81x"
ADMIN_KEY = "admin-key-Pw93k"


async def test_secrets_stay_out_of_logs_and_responses(
    recordings_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # stricter than production: every library's debug lines
    with FakeReddit.from_recordings(recordings_dir).start() as fake:
        settings = load_settings(
            reddit_client_id="client-id",
            reddit_client_secret=REDDIT_SECRET,
            reddit_url=fake.url,
            reddit_oauth_url=fake.url,
            subreddits="askreddit,nosuchsub",
            admin_api_key=ADMIN_KEY,
            collection_start_delay_seconds=3600,
        )
        app = create_app(settings, store=SqliteStore(tmp_path / "sec.db"))
        bodies: list[str] = []
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t/api/v1") as c:
                started = await c.post("/collections", headers={"X-API-Key": ADMIN_KEY})
                assert started.status_code == 202
                await app.state.service._active
                for path in (
                    "/health",
                    "/health/ready",
                    "/openapi.json",
                    "/collections",
                    "/dashboard/summary",
                ):
                    bodies.append((await c.get(path)).text)
                bodies.append((await c.post("/collections", headers={"X-API-Key": "nope"})).text)
                # a 422 does not echo the offending input back
                echoed = (await c.get("/posts", params={"limit": "zz-marker-zz"})).text
                assert echoed.count("zz-marker-zz") == 0 and "limit" in echoed
    text = "\n".join(bodies) + "\n".join(r.getMessage() for r in caplog.records)
    text += "\n".join(str(r.args) for r in caplog.records)
    assert "askreddit" in text and "NotFound" in text  # the logs and runs did say things
    for secret in (REDDIT_SECRET, ADMIN_KEY):
        assert secret not in text


@pytest.mark.parametrize(("origins", "allowed"), [("", False), ("https://dash.example.org", True)])
async def test_cors_is_off_by_default_and_allow_listed(
    tmp_path: Path, origins: str, allowed: bool
) -> None:
    app = create_app(load_settings(cors_origins=origins), store=SqliteStore(tmp_path / "c.db"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            r = await c.options(
                "/api/v1/dashboard/summary",
                headers={
                    "Origin": "https://dash.example.org",
                    "Access-Control-Request-Method": "GET",
                },
            )
            evil = await c.get("/api/v1/health", headers={"Origin": "https://evil.example"})
    assert (r.headers.get("access-control-allow-origin") == "https://dash.example.org") is allowed
    assert "access-control-allow-origin" not in evil.headers
