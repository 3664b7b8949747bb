"""Tracked keywords and trending through the API after a real cycle over the sample data."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from fakereddit import FakeReddit
from reddit_sentiment.api.app import create_app
from reddit_sentiment.store.sqlite import SqliteStore
from tests.integration.conftest import settings_for
from tests.invariants import assert_verified

KEY = {"X-API-Key": "kw-key"}


def sample_texts(fake: FakeReddit) -> list[tuple[str, str, float]]:
    """(subreddit, text, created_utc) of every sample item, read from the fake's own data."""
    texts = []
    for sub in fake.subreddit_names():
        for post in fake.expected_items(sub, "submissions"):
            texts.append((sub, f"{post['title']}\n{post['selftext']}", post["created_utc"]))
        for comment in fake.expected_items(sub, "comments"):
            texts.append((sub, comment["body"], comment["created_utc"]))
    return texts


@pytest.fixture
async def client(sample_reddit: FakeReddit, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = settings_for(
        sample_reddit,
        sorted(sample_reddit.subreddit_names()),
        track_keywords="Pandas,rust,$TSLA",
        collection_start_delay_seconds=3600,
        admin_api_key=KEY["X-API-Key"],
    )
    store = SqliteStore(tmp_path / "kw.db")
    app = create_app(settings, store=store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t/api/v1") as c:
            assert (await c.post("/collections", headers=KEY)).status_code == 202
            await app.state.service._active
            yield c
        await assert_verified(store)


@pytest.mark.slow
async def test_keyword_counts_match_the_texts(
    client: httpx.AsyncClient, sample_reddit: FakeReddit
) -> None:
    texts = sample_texts(sample_reddit)
    expected = {
        word: sum(1 for _, t, _ in texts if re.search(rf"\b{word}\b", t, re.IGNORECASE))
        for word in ("pandas", "rust")
    }
    assert expected["pandas"] > 0
    body = (await client.get("/keywords")).json()
    by_name = {k["keyword"]: k for k in body["keywords"]}
    assert list(by_name) == ["pandas", "rust", "$TSLA"]
    assert by_name["pandas"]["mentions"] == expected["pandas"]
    assert by_name["rust"]["mentions"] == expected["rust"]
    assert by_name["$TSLA"] == {
        "keyword": "$TSLA",
        "mentions": 0,
        "mean_compound": None,
        "labels": {"positive": 0, "neutral": 0, "negative": 0},
        "last_seen": None,
    }
    series = (await client.get("/keywords/PANDAS/sentiment", params={"bucket": "day"})).json()
    assert series["keyword"] == "pandas"
    assert sum(b["count"] for b in series["buckets"]) == expected["pandas"]
    ticker = await client.get("/keywords/%24tsla/sentiment")
    assert ticker.status_code == 200 and ticker.json()["buckets"] == []
    missing = await client.get("/keywords/bitcoin/sentiment")
    assert missing.status_code == 404 and "tracked" in missing.json()["detail"]
    posts = (await client.get("/posts", params={"limit": 100})).json()["items"]
    assert sum("pandas" in p["keywords"] for p in posts) > 0


async def test_trending_is_served_from_the_stored_result(
    client: httpx.AsyncClient, sample_reddit: FakeReddit
) -> None:
    texts = sample_texts(sample_reddit)
    body = (await client.get("/trending", params={"window": "7d"})).json()
    assert body["computed_at"] is not None and body["window"] == "7d"
    assert body["items_in_window"] == len(texts)
    assert {s["subreddit"] for s in body["subreddits"]} == set(sample_reddit.subreddit_names())
    assert all(t["count"] >= 3 for t in body["terms"])
    engagement = [p["engagement"] for p in body["top_posts_by_engagement"]]
    assert engagement == sorted(engagement, reverse=True) and engagement
    one = (await client.get("/trending", params={"window": "7d", "subreddit": "python"})).json()
    assert one["subreddit"] == "python"
    assert one["items_in_window"] == sum(1 for s, _, _ in texts if s == "python")
    assert (await client.get("/trending", params={"window": "2w"})).status_code == 422
    quiet = (await client.get("/trending", params={"subreddit": "nosuchsub"})).json()
    assert quiet["computed_at"] is None and quiet["terms"] == []
