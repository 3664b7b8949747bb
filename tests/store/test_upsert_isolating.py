"""A batch the store refuses for something in it: only the refused items are rejected.

SQLite cannot hold an integer beyond 64 bits, so an item with such a score (a value the
collector's lenient reading would clamp, put here directly) is refused by the real store.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reddit_sentiment.collection.storing import upsert_isolating
from reddit_sentiment.models import Item
from reddit_sentiment.store.base import ItemQuery
from reddit_sentiment.store.sqlite import SqliteStore
from tests.factories import make_item
from tests.invariants import assert_verified


@pytest.mark.parametrize(("size", "bad_at"), [(1, [0]), (7, [3]), (300, [0, 150, 299])])
async def test_only_the_refused_items_are_rejected(
    tmp_path: Path, size: int, bad_at: list[int]
) -> None:
    store = SqliteStore(tmp_path / "isolating.db")
    store.open()
    try:
        items = [make_item(compound=0.5 if n % 2 else -0.5) for n in range(size)]
        for n in bad_at:
            items[n].score = 2**70
        writes = 0
        upsert = store.upsert_items

        def counted(batch: list[Item]) -> object:
            nonlocal writes
            writes += 1
            return upsert(batch)

        store.upsert_items = counted  # type: ignore[method-assign,assignment]
        rejected: list[tuple[str, str]] = []

        result = upsert_isolating(store, items, lambda item, why: rejected.append((item.id, why)))

        bad_ids = {items[n].id for n in bad_at}
        assert {item_id for item_id, _ in rejected} == bad_ids
        assert all(why.startswith("not stored: OverflowError") for _, why in rejected)
        assert result.new == size - len(bad_at)
        assert result.updated == 0
        assert sum(c.new for c in result.by_subreddit.values()) == size - len(bad_at)
        stored: set[str] = set()
        cursor: str | None = None
        while True:
            page = await store.list_items(ItemQuery(limit=100, cursor=cursor))
            stored.update(item.id for item in page.items)
            if (cursor := page.next_cursor) is None:
                break
        assert stored == {item.id for item in items} - bad_ids
        # In halves: a few writes per refused item, not one per item of the batch.
        assert writes <= 1 + 2 * len(bad_at) * max(1, size.bit_length())
        await assert_verified(store)
    finally:
        store.close()
