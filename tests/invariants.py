"""Invariants any test can check after writing to a store: what the store serves from its
pre-aggregates equals a recomputation from the items it holds.

    await assert_aggregates_match_items(store)

First the store's own `verify` (store/verify.py: every aggregate row of every kind the delta
engine keeps, recomputed from the items) must find no drift; then, independently of the delta
engine, the figures the dashboard and keyword pages are served from: `aggregates` per hour,
per day and in total, and `keyword_aggregates` per hour and in total, recomputed here from the
items read with `iter_items` (the export's and trending job's path).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from reddit_sentiment.models import Item, Kind, Label
from reddit_sentiment.store.base import DAY, HOUR, Bucket, Store
from reddit_sentiment.store.verify import verify

# Sums of a few hundred compounds in [-1, 1], added in another order: far below this.
SUM_TOLERANCE = 1e-9


@dataclass
class Figures:
    """What one bucket should hold: counts by kind and label, and the sum of compounds."""

    posts: int = 0
    comments: int = 0
    sum_compound: float = 0.0
    labels: dict[Label, int] = field(default_factory=lambda: dict.fromkeys(Label, 0))
    last_hour: float | None = None

    def add(self, item: Item) -> None:
        if item.kind is Kind.POST:
            self.posts += 1
        else:
            self.comments += 1
        self.sum_compound += item.compound
        self.labels[item.label] += 1
        hour = float(int(item.created_utc // HOUR) * HOUR)
        self.last_hour = hour if self.last_hour is None else max(self.last_hour, hour)

    @property
    def count(self) -> int:
        return self.posts + self.comments


def _start(created_utc: float, width: int | None) -> float | None:
    return None if width is None else float(int(created_utc // width) * width)


def recompute(items: Iterable[Item], width: int | None) -> dict[tuple[str, float | None], Figures]:
    """Per (subreddit, bucket start) figures of `items`; `width` None: one bucket per subreddit."""
    out: dict[tuple[str, float | None], Figures] = {}
    for item in items:
        if item.counted:  # a purged item under DELETED_ITEMS=drop counts nowhere
            out.setdefault((item.subreddit, _start(item.created_utc, width)), Figures()).add(item)
    return out


def recompute_keywords(
    items: Iterable[Item], width: int | None
) -> dict[tuple[str, float | None], Figures]:
    """Per (keyword, bucket start) figures of the items that mention each tracked keyword."""
    out: dict[tuple[str, float | None], Figures] = {}
    for item in items:
        if not item.counted:
            continue
        for keyword in set(item.keywords):
            out.setdefault((keyword, _start(item.created_utc, width)), Figures()).add(item)
    return out


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=SUM_TOLERANCE, abs_tol=SUM_TOLERANCE)


async def assert_aggregates_match_items(store: Store) -> list[Item]:
    """Assert the store's aggregates (hourly, daily, totals; keywords hourly and totals) equal
    a recomputation from its items; returns the items read (oldest first)."""
    await assert_verified(store)
    items = await asyncio.to_thread(lambda: list(store.iter_items()))
    assert len({i.id for i in items}) == len(items), "iter_items served an item twice"

    for bucket, width in ((Bucket.HOUR, HOUR), (Bucket.DAY, DAY), (None, None)):
        expected = recompute(items, width)
        served = {
            (a.subreddit, a.bucket_start): a
            for a in await store.aggregates(bucket=bucket)
            if a.count  # a bucket emptied by deletes or moves is no bucket
        }
        what = f"aggregates(bucket={bucket})"
        assert set(served) == set(expected), f"{what}: buckets differ from the items'"
        for key, want in expected.items():
            got = served[key]
            assert (got.posts, got.comments) == (want.posts, want.comments), (what, key)
            assert (got.positive, got.neutral, got.negative) == (
                want.labels[Label.POSITIVE],
                want.labels[Label.NEUTRAL],
                want.labels[Label.NEGATIVE],
            ), (what, key)
            assert _close(got.sum_compound, want.sum_compound), (
                what,
                key,
                got.sum_compound,
                want.sum_compound,
            )

    for bucket, width in ((Bucket.HOUR, HOUR), (None, None)):
        expected = recompute_keywords(items, width)
        served_keywords = {
            (k.keyword, k.bucket_start): k
            for k in await store.keyword_aggregates(bucket=bucket)
            if k.count
        }
        what = f"keyword_aggregates(bucket={bucket})"
        assert set(served_keywords) == set(expected), f"{what}: buckets differ from the items'"
        for key, want in expected.items():
            kw = served_keywords[key]
            assert kw.count == want.count, (what, key)
            assert (kw.positive, kw.neutral, kw.negative) == (
                want.labels[Label.POSITIVE],
                want.labels[Label.NEUTRAL],
                want.labels[Label.NEGATIVE],
            ), (what, key)
            assert _close(kw.sum_compound, want.sum_compound), (what, key)
            if bucket is None:
                assert kw.last_hour == want.last_hour, (what, key)

    await _assert_authors_match(store, [i for i in items if i.counted])
    return items


async def assert_verified(store: Store) -> None:
    """The store's `verify` finds every aggregate row equal to its recomputation."""
    report = await asyncio.to_thread(verify, store)
    assert report.ok, "verify found drift:\n" + "\n".join(d.describe() for d in report.drifts)


async def _assert_authors_match(store: Store, items: list[Item]) -> None:
    """Distinct authors per subreddit and per keyword (all time, and in the newest item's
    hour) equal those of the items; deleted authors are not counted."""
    if not items:
        return
    newest = max(i.created_utc for i in items)
    hour = float(int(newest // HOUR) * HOUR)
    scopes: set[tuple[str | None, str | None]] = {(None, None)}
    scopes |= {(i.subreddit, None) for i in items}
    scopes |= {(None, k) for i in items for k in i.keywords}
    for subreddit, keyword in sorted(scopes, key=str):
        for since in (None, hour):
            want = {
                i.author
                for i in items
                if i.author not in (None, "", "[deleted]")
                and (subreddit is None or i.subreddit == subreddit)
                and (keyword is None or keyword in i.keywords)
                and (since is None or i.created_utc >= since)
            }
            got = await store.distinct_authors(subreddit=subreddit, keyword=keyword, since=since)
            assert got == len(want), ("distinct_authors", subreddit, keyword, since)
