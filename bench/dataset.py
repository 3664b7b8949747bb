"""Deterministic stored data sets for the dashboard-at-scale figure.

Items are written through the store's own `upsert_items`, so the hourly aggregates are exactly
what the collector would have produced, and every derived table the store keeps is filled
(the secondary indexes on items are dropped for the load and re-created by `store.open()`). The
database file is cached by size, seed and generator version (a 1M-item file takes a minute to
build once, then is reused), and checked against the item count before it is used.

The data is anchored at a fixed instant (not "now"), so two runs on two days see the same
bytes: 20 subreddits of skewed size over the 30 days before `ANCHOR`, one post for four
comments, comments attached to an earlier post of the same subreddit.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from reddit_sentiment.collection.analyzer import label_for
from reddit_sentiment.models import Item, Kind
from reddit_sentiment.store import sqlite as sqlite_store
from reddit_sentiment.store.base import HOUR, Bucket
from reddit_sentiment.store.sqlite import SqliteStore

from .target import REPO

GENERATOR_VERSION = 1
ANCHOR = 1_735_689_600.0  # 2025-01-01T00:00:00Z
SPAN_SECONDS = 30 * 86400
SUBREDDITS = [f"topic{i:02d}" for i in range(20)]
CACHE_DIR = REPO / "results" / "bench-cache"
BATCH = 5000

_WORDS = [
    *("great", "awful", "release", "bug", "feature", "love", "hate", "slow", "fast", "docs"),
    *("api", "python", "rust", "model", "data", "update", "broken", "fixed", "thanks"),
    *("terrible", "amazing", "question", "answer", "build", "deploy", "test", "crash"),
    *("memory", "speed", "team", "community", "issue", "helpful", "confusing", "clean"),
    *("messy", "simple"),
]


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words)).capitalize() + "."


def _id36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = []
    while number:
        number, rem = divmod(number, 36)
        out.append(digits[rem])
    return "".join(reversed(out)) or "0"


def generate(count: int, seed: int) -> Iterator[Item]:
    """`count` items, the same ones for the same (count, seed)."""
    rng = random.Random(seed)
    weights = [1.0 / (rank + 1) ** 0.8 for rank in range(len(SUBREDDITS))]
    posts: dict[str, list[tuple[str, float]]] = {name: [] for name in SUBREDDITS}
    for n in range(count):
        sub = rng.choices(SUBREDDITS, weights)[0]
        created = float(math.floor(ANCHOR - rng.random() * SPAN_SECONDS))
        roll = rng.random()
        compound = 0.0 if roll < 0.25 else round(rng.uniform(-1.0, 1.0), 4)
        pos = round(max(compound, 0.0) * 0.6, 3)
        neg = round(max(-compound, 0.0) * 0.6, 3)
        is_post = n % 5 == 0 or not posts[sub]
        body = _text(rng, rng.randint(6, 30))
        uid = _id36(36**5 + n)
        if is_post:
            item_id, title, link_id = f"t3_{uid}", _text(rng, 8), None
            posts[sub].append((item_id, created))
            permalink = f"/r/{sub}/comments/{uid}/"
        else:
            link_id, post_created = rng.choice(posts[sub][-200:])
            created = max(created, post_created + 1)
            item_id, title = f"t1_{uid}", None
            permalink = f"/r/{sub}/comments/{link_id[3:]}/_/{uid}/"
        yield Item(
            id=item_id,
            kind=Kind.POST if is_post else Kind.COMMENT,
            subreddit=sub,
            author=f"user_{rng.randrange(50_000)}",
            created_utc=created,
            title=title,
            body=body,
            permalink=permalink,
            score=int(rng.paretovariate(1.2)) - 1,
            num_comments=rng.randrange(200) if is_post else None,
            parent_id=link_id,
            link_id=link_id,
            compound=compound,
            pos=pos,
            neu=round(1.0 - pos - neg, 3),
            neg=neg,
            label=label_for(compound),
            collected_at=created + 60.0,
        )


def schema_tag() -> str:
    """Changes with the store's schema, so a cached file never lacks a new table or column."""
    schema = str(getattr(sqlite_store, "_SCHEMA", ""))
    return hashlib.sha256(schema.encode()).hexdigest()[:8]


def cache_path(count: int, seed: int, cache_dir: Path = CACHE_DIR) -> Path:
    return cache_dir / f"items-{count}-seed{seed}-v{GENERATOR_VERSION}-{schema_tag()}.db"


def build(path: Path, count: int, seed: int) -> None:
    """Write the data set through `SqliteStore.upsert_items`, in big batches."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    store = open_at_anchor(path)
    # A bulk load: without the secondary indexes on items the upserts are ~8x faster; the
    # store's own `open()` re-creates them afterwards from its schema (same DDL).
    conn = sqlite3.connect(path)
    try:
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'items' "
            "AND sql IS NOT NULL"
        ).fetchall():
            conn.execute(f'DROP INDEX "{name}"')
    finally:
        conn.close()
    try:
        # In creation order, as a collector would write them: a batch then touches a few hours'
        # aggregate rows (trending's terms: ~15 per item) instead of rows all over the month.
        items = sorted(generate(count, seed), key=lambda item: (item.created_utc, item.id))
        for start in range(0, len(items), BATCH):
            store.upsert_items(items[start : start + BATCH])
        del items
        store.open()
        conn = sqlite3.connect(path)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("ANALYZE")
        finally:
            conn.close()
    finally:
        store.close()


def open_at_anchor(path: Path) -> SqliteStore:
    """The data set's store, opened with its clock at ANCHOR: the data set's "now", from
    which the store counts terms (store/deltas.py `terms_from`)."""
    store = SqliteStore(path, clock=lambda: ANCHOR)
    store.open()
    return store


def stored_count(path: Path) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        count: int = conn.execute("SELECT COUNT(*) FROM items").fetchone()[0]
        return count
    finally:
        conn.close()


def ensure(count: int, seed: int = 1, cache_dir: Path = CACHE_DIR) -> tuple[Path, float]:
    """The cached data set (built if missing or incomplete) and the seconds spent building."""
    path = cache_path(count, seed, cache_dir)
    if path.exists():
        try:
            if stored_count(path) == count:
                return path, 0.0
        except sqlite3.Error:
            pass
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f"items-{count}-seed{seed}-*"):  # older generator or schema
        stale.unlink()
    start = time.perf_counter()
    partial = path.with_suffix(".building")
    build(partial, count, seed)
    for suffix in ("-wal", "-shm"):
        Path(f"{partial}{suffix}").unlink(missing_ok=True)
    partial.replace(path)
    return path, time.perf_counter() - start


def check_aggregates(path: Path) -> dict[str, int]:
    """The store's own aggregate reads must add up to the stored items, hour by hour."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        expected = {
            (sub, int(hour)): (posts, comments)
            for sub, hour, posts, comments in conn.execute(
                "SELECT subreddit, CAST(created_utc AS INTEGER) / ? * ? AS hour, "
                "SUM(kind = 'post'), SUM(kind = 'comment') FROM items GROUP BY subreddit, hour",
                (HOUR, HOUR),
            )
        }
    finally:
        conn.close()

    async def read() -> dict[tuple[str, int], tuple[int, int]]:
        store = SqliteStore(path)
        try:
            rows = await store.aggregates(bucket=Bucket.HOUR)
        finally:
            await store.aclose()
        return {(a.subreddit, int(a.bucket_start or 0)): (a.posts, a.comments) for a in rows}

    got = asyncio.run(read())
    if got != expected:
        missing = len(set(expected.items()) ^ set(got.items()))
        raise AssertionError(f"hourly aggregates differ from the items in {missing} buckets")
    return {"buckets": len(got), "items": sum(p + c for p, c in got.values())}
