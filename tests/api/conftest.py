from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from reddit_sentiment.api.app import create_app
from reddit_sentiment.models import Kind, RunStatus
from reddit_sentiment.settings import load_settings
from reddit_sentiment.store.base import HOUR
from reddit_sentiment.store.sqlite import SqliteStore
from tests.factories import BASE_TIME, make_item, make_run

ADMIN_KEY = "test-admin-key-123"


@pytest.fixture
def sqlite_store(tmp_path: Path) -> SqliteStore:
    store = SqliteStore(tmp_path / "api.db")
    store.open()
    return store


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"admin_api_key": ADMIN_KEY}


@pytest.fixture
async def client(
    sqlite_store: SqliteStore, settings_overrides: dict[str, object]
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(load_settings(**settings_overrides), store=sqlite_store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test/api/v1") as c:
            yield c


@pytest.fixture
def seeded(sqlite_store: SqliteStore) -> dict[str, str]:
    post = make_item(subreddit="python", compound=0.6, created_utc=BASE_TIME, score=10)
    sad = make_item(subreddit="python", compound=-0.6, created_utc=BASE_TIME + HOUR, score=5)
    rust = make_item(subreddit="rust", compound=0.0, created_utc=BASE_TIME + 2 * HOUR, score=7)
    comment = make_item(
        kind=Kind.COMMENT,
        subreddit="python",
        compound=0.3,
        link_id=post.id,
        created_utc=BASE_TIME + 30,
    )
    sqlite_store.upsert_items([post, sad, rust, comment])
    sqlite_store.save_run(make_run("20240101T000000-aaaa", BASE_TIME))
    sqlite_store.save_run(make_run("20240101T001500-bbbb", BASE_TIME + 900, RunStatus.PARTIAL))
    return {"post": post.id, "sad": sad.id, "rust": rust.id, "comment": comment.id}
