"""`store/verify.py` on both stores, beside a writer: a batch another process writes while
verify reads is never reported as drift (SQLite reads one snapshot; Cosmos DB has none, so
what differed is looked at again and a difference seen once only is not reported)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from reddit_sentiment.models import Item
from reddit_sentiment.store.base import Store
from reddit_sentiment.store.cosmos import CosmosStore
from reddit_sentiment.store.sqlite import SqliteStore
from reddit_sentiment.store.verify import verify
from tests.conftest import store_clock
from tests.factories import make_item


def _second_writer(store: Store, request: pytest.FixtureRequest) -> Store:
    """Another process's store on the same data."""
    if isinstance(store, SqliteStore):
        other: Store = SqliteStore(store.path, clock=store_clock)
    else:
        assert isinstance(store, CosmosStore)
        server = request.getfixturevalue("cosmos_server")
        other = server.store(container_prefix=store.container_prefix, clock=store_clock)
    other.open()
    return other


async def test_a_batch_written_while_verify_reads_is_not_drift(
    store: Store, request: pytest.FixtureRequest
) -> None:
    store.upsert_items([make_item(compound=0.4)])
    writer = _second_writer(store, request)
    items = store.iter_items
    wrote: list[int] = []

    def iter_items(**kwargs: Any) -> Iterator[Item]:
        yield from items(**kwargs)
        if not wrote:  # after the items are read, before the aggregates are
            wrote.append(writer.upsert_items([make_item(compound=-0.4)]).new)

    store.iter_items = iter_items  # type: ignore[method-assign]
    try:
        report = await asyncio.to_thread(verify, store)
    finally:
        await writer.aclose()
    assert wrote == [1]
    assert report.ok, [d.describe() for d in report.drifts]
    if store.name == "sqlite":  # one snapshot: the write is not seen at all
        assert (report.items, report.unconfirmed) == (1, 0)
    else:  # seen half on the first look, whole on the second
        assert report.items == 2 and report.unconfirmed >= 1


async def test_drift_seen_twice_is_reported(store: Store) -> None:
    store.upsert_items([make_item(compound=0.4)])
    report = await asyncio.to_thread(verify, store)
    assert report.ok and report.rows["hourly"] == 1
    # The item is re-scored behind the store's back: its aggregates stay as they were.
    if isinstance(store, SqliteStore):
        with store._transaction() as conn:
            conn.execute("UPDATE items SET compound = 0.0, label = 'neutral'")
    else:
        assert isinstance(store, CosmosStore)
        container = store._sync("items")
        doc = next(
            iter(container.query_items("SELECT * FROM c", enable_cross_partition_query=True))
        )
        doc.update(compound=0.0, label="neutral")
        container.upsert_item(doc)
    report = await asyncio.to_thread(verify, store)
    assert not report.ok and report.unconfirmed == 0
    hourly = [d for d in report.drifts if d.kind == "hourly"]
    assert len(hourly) == 1
    assert hourly[0].stored is not None and hourly[0].expected is not None
    # positive=1 stored, neutral=1 expected; the sum 0.4 against 0.0
    assert hourly[0].stored[2:] == pytest.approx((0.4, 1, 0, 0))
    assert hourly[0].expected[2:] == pytest.approx((0.0, 0, 1, 0))
    await asyncio.to_thread(store.rebuild_aggregates)  # the fixture's verify passes after
