"""SQLite-only: aggregate tables added later are derived once for a database that predates
them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from reddit_sentiment.store.base import DAY, HOUR, Aggregate, Bucket
from reddit_sentiment.store.sqlite import SqliteStore
from tests.factories import BASE_TIME, make_item


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


async def test_day_table_is_derived_from_hourly_when_missing(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "old.db")
    store.open()
    store.upsert_items(
        [
            make_item(created_utc=BASE_TIME, compound=0.5),
            make_item(created_utc=BASE_TIME + DAY, compound=-0.5),
            make_item(created_utc=BASE_TIME + DAY + HOUR, subreddit="rust"),
        ]
    )
    before = _day_counts(await store.aggregates(bucket=Bucket.DAY))
    await store.aclose()
    conn = sqlite3.connect(tmp_path / "old.db")
    conn.execute("DROP TABLE daily")  # as a database written before the daily table
    conn.commit()
    conn.close()

    reopened = SqliteStore(tmp_path / "old.db")
    reopened.open()
    after = _day_counts(await reopened.aggregates(bucket=Bucket.DAY))
    await reopened.aclose()
    day0 = (BASE_TIME // DAY) * DAY
    assert after == before
    assert sorted(after) == sorted(
        [
            ("python", day0, 1),
            ("python", day0 + DAY, 1),
            ("rust", (BASE_TIME + DAY + HOUR) // DAY * DAY, 1),
        ]
    )


def _day_counts(aggs: list[Aggregate]) -> list[tuple[str, float | None, int]]:
    return [(a.subreddit, a.bucket_start, a.count) for a in aggs]
