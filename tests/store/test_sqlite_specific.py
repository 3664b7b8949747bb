"""SQLite-only: aggregate tables and columns added later are derived once for a database
that predates them."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from reddit_sentiment.models import Item
from reddit_sentiment.store.base import DAY, HOUR, Bucket
from reddit_sentiment.store.sqlite import SqliteStore
from tests.factories import BASE_TIME, make_item

T = TypeVar("T")


async def _before_and_after(
    path: Path, items: list[Item], undo: str, read: Callable[[SqliteStore], Awaitable[T]]
) -> tuple[T, T]:
    """`read` on a store holding `items`, and again after `undo` made the file look like one
    written before a table existed and the store reopened it."""
    store = SqliteStore(path)
    store.open()
    store.upsert_items(items)
    before = await read(store)
    await store.aclose()
    conn = sqlite3.connect(path)
    conn.executescript(undo)
    conn.close()
    reopened = SqliteStore(path)
    reopened.open()
    try:
        return before, await read(reopened)
    finally:
        await reopened.aclose()


async def test_totals_are_rebuilt_from_hourly_when_missing(tmp_path: Path) -> None:
    async def totals(store: SqliteStore) -> list[tuple[str, int, int, int]]:
        return [(a.subreddit, a.posts, a.positive, a.negative) for a in await store.aggregates()]

    before, after = await _before_and_after(
        tmp_path / "old.db",
        [make_item(compound=0.5), make_item(subreddit="rust", compound=-0.5)],
        "DELETE FROM totals",
        totals,
    )
    assert after == before == [("python", 1, 1, 0), ("rust", 1, 0, 1)]


async def test_day_table_is_derived_from_hourly_when_missing(tmp_path: Path) -> None:
    async def days(store: SqliteStore) -> list[tuple[str, float | None, int]]:
        return [
            (a.subreddit, a.bucket_start, a.count)
            for a in await store.aggregates(bucket=Bucket.DAY)
        ]

    before, after = await _before_and_after(
        tmp_path / "old.db",
        [
            make_item(created_utc=BASE_TIME, compound=0.5),
            make_item(created_utc=BASE_TIME + DAY, compound=-0.5),
            make_item(created_utc=BASE_TIME + DAY + HOUR, subreddit="rust"),
        ],
        "DROP TABLE daily",
        days,
    )
    day0 = (BASE_TIME // DAY) * DAY
    assert after == before
    assert sorted(after) == sorted(
        [
            ("python", day0, 1),
            ("python", day0 + DAY, 1),
            ("rust", (BASE_TIME + DAY + HOUR) // DAY * DAY, 1),
        ]
    )


async def _series(store: SqliteStore) -> list[tuple[str, str]]:
    return [
        (s.subreddit, s.buckets)
        for bucket in Bucket
        for s in await store.sentiment_series(bucket=bucket, since=BASE_TIME - DAY)
    ]


_THREE_ITEMS = [
    make_item(created_utc=BASE_TIME, compound=0.5),
    make_item(created_utc=BASE_TIME + HOUR, compound=-0.25),
    make_item(created_utc=BASE_TIME + DAY, subreddit="rust", compound=0.75),
]


@pytest.mark.parametrize(
    "undo",
    [
        # A file from before the rendered buckets.
        "ALTER TABLE hourly DROP COLUMN rendered; ALTER TABLE daily DROP COLUMN rendered;"
        "DROP TABLE meta",
        # Buckets rendered in the bytes of another version.
        "UPDATE hourly SET rendered = 'old'; UPDATE daily SET rendered = 'old';"
        "UPDATE meta SET value = value - 1",
        # A file from before the daily table: its days are derived, then rendered.
        "DROP TABLE daily",
    ],
)
async def test_rendered_buckets_are_derived_when_missing_or_stale(
    tmp_path: Path, undo: str
) -> None:
    before, after = await _before_and_after(tmp_path / "old.db", _THREE_ITEMS, undo, _series)
    assert after == before
    assert [name for name, _ in after] == ["python", "rust", "python", "rust"]
    assert all(text.startswith('{"start":"2023-11-') for _, text in after)
