from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from reddit_sentiment.api.app import create_app
from reddit_sentiment.settings import load_settings
from reddit_sentiment.store.sqlite import SqliteStore

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
