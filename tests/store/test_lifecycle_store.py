"""The stores' side of Reddit's data lifecycle (issue 17), on both backends: the lifecycle
fields round-trip, the reconcile pass's "due" query, the state filter and counts, and an
item the aggregates do not count (`counted` False) moving them through the delta engine."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

from reddit_sentiment.models import ItemState, Kind
from reddit_sentiment.store.base import ItemQuery, Store
from reddit_sentiment.store.sqlite import SqliteStore
from tests.factories import BASE_TIME, make_item
from tests.invariants import assert_aggregates_match_items

HOUR = 3600


async def test_lifecycle_fields_round_trip(store: Store) -> None:
    item = replace(
        make_item(compound=0.5),
        upvote_ratio=0.83,
        edited_at=BASE_TIME + 100,
        state=ItemState.EDITED,
        checked_at=BASE_TIME + 7 * HOUR,
        reconcile_stage=1,
    )
    purged = replace(
        make_item(compound=-0.4),
        title="",
        body="",
        author=None,
        state=ItemState.REMOVED,
        state_at=BASE_TIME + 9 * HOUR,
        counted=False,
    )
    store.upsert_items([item, purged])
    got = await store.get_item(item.id)
    assert got is not None
    assert (got.upvote_ratio, got.edited_at, got.state) == (0.83, BASE_TIME + 100, ItemState.EDITED)
    assert (got.checked_at, got.reconcile_stage, got.counted) == (BASE_TIME + 7 * HOUR, 1, True)
    gone = await store.get_item(purged.id)
    assert gone is not None and (gone.state, gone.counted) == (ItemState.REMOVED, False)
    assert gone.state_at == BASE_TIME + 9 * HOUR
    totals = await store.aggregates()
    assert sum(a.posts for a in totals) == 1  # the one counted
    await assert_aggregates_match_items(store)


async def test_due_items_are_one_stage_in_a_band_oldest_first(store: Store) -> None:
    items = [
        replace(make_item(subreddit=sub, created_utc=BASE_TIME + n * HOUR), reconcile_stage=stage)
        for n, (sub, stage) in enumerate(
            [("python", 0), ("rust", 0), ("python", 1), ("python", 0), ("rust", 2), ("python", 0)]
        )
    ]
    store.upsert_items(items)
    due = store.due_items(stage=0, created_after=None, created_until=BASE_TIME + 4 * HOUR)
    assert [i.id for i in due] == [items[0].id, items[1].id, items[3].id]
    band = store.due_items(
        stage=0, created_after=BASE_TIME, created_until=BASE_TIME + 5 * HOUR, limit=1
    )
    assert [i.id for i in band] == [items[1].id]  # after is exclusive, until inclusive
    one_sub = store.due_items(
        stage=0, created_after=None, created_until=BASE_TIME + 9 * HOUR, subreddit="python"
    )
    assert [i.id for i in one_sub] == [items[0].id, items[3].id, items[5].id]
    last = store.due_items(stage=2, created_after=None, created_until=BASE_TIME + 9 * HOUR)
    assert [i.id for i in last] == [items[4].id]

    # Re-checked past the first age, they are due no more at stage 0.
    store.upsert_items([replace(i, reconcile_stage=1) for i in due])
    again = store.due_items(stage=0, created_after=None, created_until=BASE_TIME + 9 * HOUR)
    assert [i.id for i in again] == [items[5].id]


async def test_posts_filter_by_state_and_the_states_are_counted(store: Store) -> None:
    live = make_item(subreddit="python")
    deleted = replace(make_item(subreddit="python"), state=ItemState.DELETED, body="")
    removed = replace(make_item(subreddit="rust"), state=ItemState.REMOVED, body="")
    comment = replace(
        make_item(kind=Kind.COMMENT, subreddit="rust", link_id="t3_x"), state=ItemState.REMOVED
    )
    store.upsert_items([live, deleted, removed, comment])
    page = await store.list_items(ItemQuery(state=ItemState.DELETED))
    assert [i.id for i in page.items] == [deleted.id]
    page = await store.list_items(ItemQuery(state=ItemState.LIVE, subreddit="python"))
    assert [i.id for i in page.items] == [live.id]
    assert await store.state_counts() == {"deleted": 1, "removed": 2}
    assert await store.state_counts("rust") == {"removed": 2}
    assert await store.state_counts("nosuch") == {}


async def test_an_item_that_stops_counting_leaves_the_aggregates(store: Store) -> None:
    item = make_item(compound=0.7)
    store.upsert_items([item])
    store.upsert_items([replace(item, state=ItemState.DELETED, body="", counted=False)])
    assert await store.aggregates() == []
    await assert_aggregates_match_items(store)
    store.upsert_items([replace(item, counted=True)])  # counted again: back in
    assert [a.posts for a in await store.aggregates()] == [1]
    await assert_aggregates_match_items(store)


async def test_an_old_sqlite_file_gains_the_lifecycle_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = SqliteStore(path)
    old.open()
    old.upsert_items([make_item(compound=0.2)])
    old.close()
    conn = sqlite3.connect(path)
    conn.executescript(
        "DROP INDEX items_due; DROP INDEX items_state; "
        + "".join(
            f"ALTER TABLE items DROP COLUMN {c};"
            for c in (
                "upvote_ratio",
                "edited_at",
                "state",
                "state_at",
                "checked_at",
                "reconcile_stage",
                "counted",
            )
        )
    )
    conn.close()
    store = SqliteStore(path)
    store.open()
    try:
        (item,) = list(store.iter_items())
        assert (item.state, item.reconcile_stage, item.counted) == (ItemState.LIVE, 0, True)
        due = store.due_items(stage=0, created_after=None, created_until=BASE_TIME + HOUR)
        assert [i.id for i in due] == [item.id]
        await assert_aggregates_match_items(store)
    finally:
        store.close()
