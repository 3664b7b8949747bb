"""COMMENT_TREE_POSTS: whole comment trees of the hottest posts, through real PRAW's
replace_more against the fake Reddit's /comments and /api/morechildren, within a budget."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from fakereddit import FakeReddit
from reddit_sentiment.collection.cycle import build_cycle
from reddit_sentiment.models import Kind, RunStatus
from reddit_sentiment.store.base import ItemQuery
from reddit_sentiment.store.sqlite import SqliteStore
from tests.integration.conftest import settings_for


@pytest.fixture
def big_threads() -> Iterator[FakeReddit]:
    fake = FakeReddit.generated(subreddits=1, posts=6, comments=240, seed=11)
    fake.comment_page_limit = 15  # trees larger than this answer with `more` objects
    fake.morechildren_limit = 20
    with fake.start():
        yield fake


def hottest(fake: FakeReddit, n: int) -> list[str]:
    return [p["name"] for p in fake.expected_items("sub0", "submissions", sort="hot")[:n]]


async def comments_of(db: SqliteStore, post: str) -> set[str]:
    page = await db.list_items(ItemQuery(kind=Kind.COMMENT, link_id=post, limit=1000))
    return {i.id for i in page.items}


async def test_whole_trees_of_the_hottest_posts(big_threads: FakeReddit, db: SqliteStore) -> None:
    settings = settings_for(
        big_threads,
        ["sub0"],
        comment_tree_posts=2,
        collection_limit=5,
        comment_tree_more_limit=100,
        comment_tree_request_budget=200,
    )
    run = await asyncio.to_thread(build_cycle(settings, db).run)
    assert run.status is RunStatus.SUCCEEDED, run.errors
    every = big_threads.expected_items("sub0", "comments")
    for post in hottest(big_threads, 2):
        expected = {c["name"] for c in every if c["link_id"] == post}
        assert len(expected) > 15  # big enough to need morechildren
        assert await comments_of(db, post) == expected
    assert big_threads.request_count(r"^/api/morechildren") >= 2


async def test_request_budget_bounds_the_trees(big_threads: FakeReddit, db: SqliteStore) -> None:
    settings = settings_for(
        big_threads,
        ["sub0"],
        comment_tree_posts=3,
        collection_limit=5,
        comment_tree_more_limit=100,
        comment_tree_request_budget=3,
    )
    run = await asyncio.to_thread(build_cycle(settings, db).run)
    assert run.status is RunStatus.SUCCEEDED, run.errors
    trees = big_threads.request_count(r"^/comments/")
    more = big_threads.request_count(r"^/api/morechildren")
    assert trees + more <= 3 and trees >= 1
    first = hottest(big_threads, 1)[0]
    assert len(await comments_of(db, first)) >= 15  # the first tree's first page at least
