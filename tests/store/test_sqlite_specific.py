"""SQLite-only: per-subreddit totals are derived once for a database that predates them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from reddit_sentiment.store.sqlite import SqliteStore
from tests.factories import make_item


async def test_totals_are_rebuilt_from_hourly_when_missing(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "old.db")
    store.open()
    store.upsert_items([make_item(compound=0.5), make_item(subreddit="rust", compound=-0.5)])
    before = [(a.subreddit, a.posts, a.positive, a.negative) for a in await store.aggregates()]
    await store.aclose()
    conn = sqlite3.connect(tmp_path / "old.db")
    conn.execute("DELETE FROM totals")  # as a database written before the totals table
    conn.commit()
    conn.close()

    reopened = SqliteStore(tmp_path / "old.db")
    reopened.open()
    after = [(a.subreddit, a.posts, a.positive, a.negative) for a in await reopened.aggregates()]
    await reopened.aclose()
    assert after == before == [("python", 1, 1, 0), ("rust", 1, 0, 1)]
