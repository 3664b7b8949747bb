"""Shared fixtures. Recorded Reddit responses are read from ../shared at test time."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from reddit_sentiment.settings import Settings
from reddit_sentiment.store.base import DAY, Store
from reddit_sentiment.store.sqlite import SqliteStore
from tests.cosmos.fixture import cosmos_server, cosmos_test_store
from tests.factories import BASE_TIME

__all__ = ["cosmos_server"]  # a session fixture: node + @vercel/cosmosdb-server

# A developer's own .env must not change what the tests see.
Settings.model_config["env_file"] = None

REPO = Path(__file__).resolve().parents[1]
RECORDINGS = REPO.parent / "shared" / "reddit-recordings"


@pytest.fixture(scope="session")
def recordings_dir() -> Path:
    if not (RECORDINGS / "SubredditListings__test_hot.json").is_file():
        pytest.fail(
            f"recorded Reddit responses not found at {RECORDINGS} (../shared beside the repo)"
        )
    return RECORDINGS


# Cosmos reads a day from its daily documents only while retention keeps all of that day's
# hours, by the store's clock. The tests' items sit around BASE_TIME (2023), so the Cosmos
# store's clock runs at real speed from a week after it: days are read as in production.
_CLOCK_SHIFT = time.time() - (BASE_TIME + 7 * DAY)


def cosmos_clock() -> float:
    return time.time() - _CLOCK_SHIFT


def open_store(kind: str, tmp_path: Path) -> Store:
    if kind == "sqlite":
        store: Store = SqliteStore(tmp_path / "store.db")
    elif kind == "cosmos":  # needs the cosmos_server fixture; fresh containers per call
        store = cosmos_test_store(clock=cosmos_clock)
    else:  # pragma: no cover - other backends register here
        raise ValueError(kind)
    store.open()
    return store


STORE_KINDS = ["sqlite", "cosmos"]


@pytest.fixture(params=STORE_KINDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "cosmos":
        request.getfixturevalue("cosmos_server")
    s = open_store(request.param, tmp_path)
    try:
        yield s
    finally:
        await s.aclose()
