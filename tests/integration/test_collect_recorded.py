"""Real PRAW against the fake Reddit replaying PRAW's own recorded askreddit responses."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from fakereddit import FakeReddit
from reddit_sentiment.collection.cycle import build_cycle
from reddit_sentiment.models import Kind, RunStatus
from reddit_sentiment.store.base import ItemQuery
from reddit_sentiment.store.sqlite import SqliteStore
from tests.integration.conftest import settings_for


def recorded_children(recordings: Path, cassette: str) -> list[dict[str, object]]:
    data = json.loads((recordings / cassette).read_text())
    body = json.loads(data["interactions"][1]["body"])
    return [child["data"] for child in body["data"]["children"]]


async def stored_ids(store: SqliteStore, kind: Kind) -> list[str]:
    page = await store.list_items(ItemQuery(kind=kind, limit=1000))
    assert page.next_cursor is None
    return [i.id for i in page.items]


async def test_cycle_stores_exactly_the_recorded_items_once(
    recorded_reddit: FakeReddit, db: SqliteStore, recordings_dir: Path
) -> None:
    hot = recorded_children(recordings_dir, "SubredditListings__test_hot.json")
    new = recorded_children(recordings_dir, "SubredditListings__test_new.json")
    comments = recorded_children(recordings_dir, "SubredditListings__test_comments.json")
    # PRAW yields at most `limit` (100) per listing; the recorded hot page has 102 children.
    expected_posts = {str(p["name"]) for p in hot[:100]} | {str(p["name"]) for p in new[:100]}
    expected_comments = {str(c["name"]) for c in comments}
    assert len(expected_comments) == 100

    cycle = build_cycle(settings_for(recorded_reddit, ["askreddit"]), db)
    run = await asyncio.to_thread(cycle.run, None, "test")
    assert run.status is RunStatus.SUCCEEDED, run.errors
    counts = run.subreddits["askreddit"]
    # A post that both hot and new list is fetched, counted and stored once per run.
    assert counts.fetched == counts.new == len(expected_posts) + 100
    assert (counts.updated, counts.rejected) == (0, 0)
    assert set(await stored_ids(db, Kind.POST)) == expected_posts
    assert set(await stored_ids(db, Kind.COMMENT)) == expected_comments
    assert recorded_reddit.unplayed() == [] or all(
        "top" in i.path or "/comments/2gmzqe" in i.path for i in recorded_reddit.unplayed()
    )

    again = await asyncio.to_thread(cycle.run, None, "test")
    assert again.status is RunStatus.SUCCEEDED
    assert again.subreddits["askreddit"].new == 0
    assert again.subreddits["askreddit"].updated == len(expected_posts) + 100
    assert sorted(await stored_ids(db, Kind.POST)) == sorted(expected_posts)
    (agg,) = await db.aggregates()
    assert (agg.posts, agg.comments) == (len(expected_posts), 100)


async def test_more_than_one_page_collects_the_whole_recording(
    recorded_reddit: FakeReddit, db: SqliteStore, recordings_dir: Path
) -> None:
    hot = recorded_children(recordings_dir, "SubredditListings__test_hot.json")
    new = recorded_children(recordings_dir, "SubredditListings__test_new.json")
    settings = settings_for(recorded_reddit, ["askreddit"], collection_limit=500)
    run = await asyncio.to_thread(build_cycle(settings, db).run)
    assert run.status is RunStatus.SUCCEEDED
    expected = {str(p["name"]) for p in hot} | {str(p["name"]) for p in new}
    assert set(await stored_ids(db, Kind.POST)) == expected


async def test_scores_equal_vader_on_the_same_text(
    recorded_reddit: FakeReddit, db: SqliteStore, recordings_dir: Path
) -> None:
    await asyncio.to_thread(build_cycle(settings_for(recorded_reddit, ["askreddit"]), db).run)
    vader = SentimentIntensityAnalyzer()
    for post in recorded_children(recordings_dir, "SubredditListings__test_new.json")[:20]:
        stored = await db.get_item(str(post["name"]))
        assert stored is not None
        text = f"{post['title']}\n{post['selftext']}".strip()
        scores = vader.polarity_scores(text)
        assert (stored.compound, stored.pos, stored.neu, stored.neg) == (
            scores["compound"],
            scores["pos"],
            scores["neu"],
            scores["neg"],
        )
        assert stored.score == post["score"] and stored.num_comments == post["num_comments"]
        assert stored.author == post["author"] and stored.created_utc == post["created_utc"]
    for comment in recorded_children(recordings_dir, "SubredditListings__test_comments.json")[:20]:
        stored = await db.get_item(str(comment["name"]))
        assert stored is not None and stored.kind is Kind.COMMENT
        assert stored.compound == vader.polarity_scores(str(comment["body"]))["compound"]
        assert stored.link_id == comment["link_id"] and stored.parent_id == comment["parent_id"]
        assert stored.permalink.startswith("/r/askreddit/comments/")


@pytest.mark.parametrize("limit", [1, 37])
async def test_collection_limit_bounds_each_listing(
    recorded_reddit: FakeReddit, db: SqliteStore, limit: int
) -> None:
    cycle = build_cycle(settings_for(recorded_reddit, ["askreddit"], collection_limit=limit), db)
    run = await asyncio.to_thread(cycle.run)
    counts = run.subreddits["askreddit"]
    stored = len(await stored_ids(db, Kind.POST)) + len(await stored_ids(db, Kind.COMMENT))
    # Each listing stops at `limit`; a post both hot and new list counts once.
    assert 2 * limit <= counts.fetched == counts.new == stored <= 3 * limit
