"""The embedded default store: one SQLite file in WAL mode.

The collector thread writes through its own connection; API reads run on a small reader
pool with one connection per thread, so a long write never blocks a read (WAL) and no read
ever runs on the event loop. Dashboard reads come from `hourly` and `daily` tables kept up to
date in the same transaction as the item upserts, so their cost does not grow with the item
count. Each hourly and daily row also keeps its bucket rendered as the API writes it, so a
series is read as one string per subreddit (see `rendered`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict
from operator import itemgetter
from pathlib import Path
from typing import Any, TypeVar

from ..models import (
    PURGED_STATES,
    Alert,
    AlertRule,
    CollectionRun,
    Item,
    ItemState,
    Kind,
    Label,
    ListingError,
    RejectedItem,
    RunKind,
    RunStatus,
    SubredditCounts,
    UpsertResult,
)
from .base import (
    BLOCK,
    DAY,
    Aggregate,
    AlertPage,
    Bucket,
    Dated,
    ItemPage,
    ItemQuery,
    KeywordAggregate,
    Lease,
    LinkFigures,
    Range,
    RejectedByStore,
    RunPage,
    SeriesText,
    ShownPost,
    Sort,
    Span,
    StoreUnavailable,
    alert_doc,
    alert_of,
    bucket_seconds,
    day_ranges,
    decode_cursor,
    hour_of,
    interrupted,
    item_page,
    newest_first_page,
    rule_doc,
    rule_of,
    shared_pieces,
)
from .deltas import (
    ALL_ITEMS,
    KINDS,
    TERM_KINDS,
    TERM_WIDTHS,
    Deltas,
    Row,
    Version,
    author_of,
    counted_terms,
    engagement_of,
    terms_from,
)
from .rendered import BUCKET_JSON_VERSION, bucket_json, joined, render_bucket

T = TypeVar("T")
D = TypeVar("D", bound=Dated)  # a run or an alert
log = logging.getLogger(__name__)

# The figures every aggregate table keeps, per subreddit (and hour or day).
_FIGURES = """posts INTEGER NOT NULL DEFAULT 0,
    comments INTEGER NOT NULL DEFAULT 0,
    sum_compound REAL NOT NULL DEFAULT 0,
    positive INTEGER NOT NULL DEFAULT 0,
    neutral INTEGER NOT NULL DEFAULT 0,
    negative INTEGER NOT NULL DEFAULT 0"""
# An hourly or daily row's bucket as `bucket_json` renders its figures, kept with them.
_RENDERED = "rendered TEXT NOT NULL DEFAULT ''"
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    subreddit TEXT NOT NULL,
    author TEXT,
    created_utc REAL NOT NULL,
    title TEXT,
    body TEXT NOT NULL,
    permalink TEXT NOT NULL,
    score INTEGER NOT NULL,
    num_comments INTEGER,
    parent_id TEXT,
    link_id TEXT,
    compound REAL NOT NULL,
    pos REAL NOT NULL,
    neu REAL NOT NULL,
    neg REAL NOT NULL,
    label TEXT NOT NULL,
    truncated INTEGER NOT NULL,
    collected_at REAL NOT NULL,
    keywords TEXT NOT NULL DEFAULT '[]',
    text_hash TEXT NOT NULL DEFAULT '',
    upvote_ratio REAL,
    edited_at REAL,
    state TEXT NOT NULL DEFAULT 'live',
    state_at REAL,
    checked_at REAL,
    reconcile_stage INTEGER NOT NULL DEFAULT 0,
    counted INTEGER NOT NULL DEFAULT 1,
    imported INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS items_new ON items (kind, created_utc, id);
CREATE INDEX IF NOT EXISTS items_sub_new ON items (kind, subreddit, created_utc, id);
CREATE INDEX IF NOT EXISTS items_score ON items (kind, score, id);
CREATE INDEX IF NOT EXISTS items_compound ON items (kind, compound, id);
CREATE INDEX IF NOT EXISTS items_sub_score ON items (kind, subreddit, score, id);
CREATE INDEX IF NOT EXISTS items_sub_compound ON items (kind, subreddit, compound, id);
CREATE INDEX IF NOT EXISTS items_link ON items (link_id, created_utc, id);
CREATE INDEX IF NOT EXISTS items_created ON items (created_utc);

CREATE TABLE IF NOT EXISTS hourly (
    subreddit TEXT NOT NULL,
    hour INTEGER NOT NULL,
    {_FIGURES},
    {_RENDERED},
    PRIMARY KEY (subreddit, hour)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS hourly_hour ON hourly (hour);

-- The hourly rows summed per UTC day, kept on write like them: a month of day buckets reads
-- one row per subreddit and day instead of grouping 24 times as many hourly rows.
CREATE TABLE IF NOT EXISTS daily (
    subreddit TEXT NOT NULL,
    day INTEGER NOT NULL,
    {_FIGURES},
    {_RENDERED},
    PRIMARY KEY (subreddit, day)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS totals (
    subreddit TEXT PRIMARY KEY,
    {_FIGURES}
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    started_at REAL NOT NULL,
    finished_at REAL,
    status TEXT NOT NULL,
    trigger TEXT NOT NULL,
    owner TEXT NOT NULL,
    subreddits TEXT NOT NULL,
    errors TEXT NOT NULL,
    rejections TEXT NOT NULL DEFAULT '[]',
    kind TEXT NOT NULL DEFAULT 'collect'
);
CREATE INDEX IF NOT EXISTS runs_started ON runs (started_at, id);

CREATE TABLE IF NOT EXISTS keyword_hourly (
    keyword TEXT NOT NULL,
    subreddit TEXT NOT NULL,
    hour INTEGER NOT NULL,
    count INTEGER NOT NULL DEFAULT 0,
    sum_compound REAL NOT NULL DEFAULT 0,
    positive INTEGER NOT NULL DEFAULT 0,
    neutral INTEGER NOT NULL DEFAULT 0,
    negative INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (keyword, subreddit, hour)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS keyword_hourly_hour ON keyword_hourly (hour);

-- Items per author (keyword '' = all of a subreddit's items): distinct authors in a window.
CREATE TABLE IF NOT EXISTS author_hourly (
    keyword TEXT NOT NULL,
    subreddit TEXT NOT NULL,
    hour INTEGER NOT NULL,
    author TEXT NOT NULL,
    count INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (keyword, subreddit, hour, author)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS author_hourly_hour ON author_hourly (hour);

CREATE TABLE IF NOT EXISTS alert_rules (
    id TEXT PRIMARY KEY,
    rule TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY,
    rule_id TEXT NOT NULL,
    fired_at REAL NOT NULL,
    alert TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_fired ON alerts (fired_at, id);
CREATE INDEX IF NOT EXISTS alerts_rule_fired ON alerts (rule_id, fired_at, id);

-- Trending's aggregates (store/deltas.py): items mentioning a term per subreddit x hour, the
-- same per 6-hour block and per UTC day (a 14-day read is days and a window's edges are
-- blocks and a few hours, not hours), and per post the post's own figures and its comments'
-- (store/deltas.py LINK_FIGURES).
CREATE TABLE IF NOT EXISTS term_hourly (
    hour INTEGER NOT NULL,
    subreddit TEXT NOT NULL,
    term TEXT NOT NULL,
    count INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (hour, subreddit, term)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS term_block (
    block INTEGER NOT NULL,
    subreddit TEXT NOT NULL,
    term TEXT NOT NULL,
    count INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (block, subreddit, term)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS term_daily (
    day INTEGER NOT NULL,
    subreddit TEXT NOT NULL,
    term TEXT NOT NULL,
    count INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, subreddit, term)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS links (
    subreddit TEXT NOT NULL,
    link_id TEXT NOT NULL,
    posts INTEGER NOT NULL DEFAULT 0,
    post_hour INTEGER NOT NULL DEFAULT 0,
    post_compound REAL NOT NULL DEFAULT 0,
    engagement INTEGER NOT NULL DEFAULT 0,
    comments INTEGER NOT NULL DEFAULT 0,
    sum_compound REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (subreddit, link_id)
) WITHOUT ROWID;
-- A window's top posts per subreddit, read in rank order until enough are in the window: a
-- long window's down the subreddit's ranks, a short window's (a few days) down each day's
-- ranks (a day's top posts are in the window or, the window's first day, all but its first
-- hours are), so a read is bounded by the posts shown, not by the posts of the window.
CREATE INDEX IF NOT EXISTS links_engagement ON links (subreddit, engagement, link_id, post_hour)
    WHERE posts = 1;
CREATE INDEX IF NOT EXISTS links_shift
    ON links (subreddit, abs(sum_compound / comments - post_compound), post_hour, comments)
    WHERE posts = 1;
CREATE INDEX IF NOT EXISTS links_day_engagement
    ON links (subreddit, post_hour / {DAY}, engagement, link_id, post_hour) WHERE posts = 1;
CREATE INDEX IF NOT EXISTS links_day_shift ON links
    (subreddit, post_hour / {DAY}, abs(sum_compound / comments - post_compound), post_hour,
     comments)
    WHERE posts = 1;

CREATE TABLE IF NOT EXISTS trending (
    key TEXT PRIMARY KEY,
    payload TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at REAL NOT NULL
);

-- Versions of what the file keeps in a given form (the rendered buckets' bytes).
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
"""

# The lifecycle's columns (issue 17), after the first 21.
_LIFECYCLE_COLUMNS = (
    "upvote_ratio, edited_at, state, state_at, checked_at, reconcile_stage, counted"
)
_ITEM_COLUMNS = (
    "id, kind, subreddit, author, created_utc, title, body, permalink, score, num_comments, "
    "parent_id, link_id, compound, pos, neu, neg, label, truncated, collected_at, keywords, "
    f"text_hash, imported, {_LIFECYCLE_COLUMNS}"
)
_UPSERT_ITEM = f"""
INSERT INTO items ({_ITEM_COLUMNS}) VALUES ({", ".join("?" * 29)})
ON CONFLICT(id) DO UPDATE SET
    author=excluded.author, title=excluded.title, body=excluded.body,
    permalink=excluded.permalink,
    score=excluded.score, num_comments=excluded.num_comments,
    compound=excluded.compound, pos=excluded.pos, neu=excluded.neu, neg=excluded.neg,
    label=excluded.label, truncated=excluded.truncated, collected_at=excluded.collected_at,
    keywords=excluded.keywords, text_hash=excluded.text_hash,
    upvote_ratio=excluded.upvote_ratio, edited_at=excluded.edited_at, state=excluded.state,
    state_at=excluded.state_at, checked_at=excluded.checked_at,
    reconcile_stage=excluded.reconcile_stage, counted=excluded.counted,
    imported=max(imported, excluded.imported)
"""
# What an upsert of a known item may change (collected_at aside), in _item_params' terms.
_MUTABLE_COLUMNS = (
    "author, title, body, permalink, score, num_comments, compound, pos, neu, neg, label, "
    f"truncated, keywords, text_hash, imported, {_LIFECYCLE_COLUMNS}"
)


def _mutable(params: tuple[Any, ...]) -> tuple[Any, ...]:
    """The _MUTABLE_COLUMNS of a row of _item_params, in that order."""
    return (params[3], *params[5:7], *params[7:10], *params[12:18], *params[19:])


_ADD_KEYWORD_HOURLY = """
INSERT INTO keyword_hourly
    (keyword, subreddit, hour, count, sum_compound, positive, neutral, negative)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(keyword, subreddit, hour) DO UPDATE SET
    count=count+excluded.count, sum_compound=sum_compound+excluded.sum_compound,
    positive=positive+excluded.positive, neutral=neutral+excluded.neutral,
    negative=negative+excluded.negative
"""
_ADD_AUTHOR_HOURLY = """
INSERT INTO author_hourly (keyword, subreddit, hour, author, count) VALUES (?, ?, ?, ?, ?)
ON CONFLICT(keyword, subreddit, hour, author) DO UPDATE SET count=count+excluded.count
"""
_ADD_TERM_HOURLY = """
INSERT INTO term_hourly (subreddit, hour, term, count) VALUES (?, ?, ?, ?)
ON CONFLICT(hour, subreddit, term) DO UPDATE SET count=count+excluded.count
"""
_ADD_TERM_BLOCK = """
INSERT INTO term_block (subreddit, block, term, count) VALUES (?, ?, ?, ?)
ON CONFLICT(block, subreddit, term) DO UPDATE SET count=count+excluded.count
"""
_ADD_TERM_DAILY = """
INSERT INTO term_daily (subreddit, day, term, count) VALUES (?, ?, ?, ?)
ON CONFLICT(day, subreddit, term) DO UPDATE SET count=count+excluded.count
"""
# The block rows of a file whose hour and day rows came before them (a one-off upgrade).
_DERIVE_TERM_BLOCKS = f"""
INSERT INTO term_block (subreddit, block, term, count)
SELECT subreddit, (hour / {BLOCK}) * {BLOCK}, term, SUM(count) FROM term_hourly
GROUP BY 1, 2, 3 HAVING SUM(count) != 0
"""
_ADD_LINKS = """
INSERT INTO links
    (subreddit, link_id, posts, post_hour, post_compound, engagement, comments, sum_compound)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(subreddit, link_id) DO UPDATE SET
    posts=posts+excluded.posts, post_hour=post_hour+excluded.post_hour,
    post_compound=post_compound+excluded.post_compound,
    engagement=engagement+excluded.engagement, comments=comments+excluded.comments,
    sum_compound=sum_compound+excluded.sum_compound
"""
_LINK_FIELDS = "subreddit, link_id, post_compound, engagement, comments, sum_compound"
# A subreddit's posts of a window by engagement and by |comments' mean - post| (unrounded:
# trending re-ranks the few rows), each read down its index until `limit` are in the window.
# Parameters: ?1 subreddit, ?2 the window's first hour, ?3 limit, ?4 min comments; a day's
# read (`_by_days`) also ?5 on: the days, as `post_hour / DAY` (the per-day indexes' term).
_BY_ENGAGEMENT = "ORDER BY engagement DESC, link_id DESC LIMIT ?3"
_BY_SHIFT = "ORDER BY abs(sum_compound / comments - post_compound) DESC LIMIT ?3"
_TOP_ENGAGED = f"""
SELECT {_LINK_FIELDS} FROM links INDEXED BY links_engagement
WHERE subreddit = ?1 AND posts = 1 AND post_hour >= ?2 {_BY_ENGAGEMENT}
"""
_TOP_SHIFTED = f"""
SELECT {_LINK_FIELDS} FROM links INDEXED BY links_shift
WHERE subreddit = ?1 AND posts = 1 AND post_hour >= ?2 AND comments >= ?4 {_BY_SHIFT}
"""
_DAY_ENGAGED = f"""
SELECT {_LINK_FIELDS} FROM links INDEXED BY links_day_engagement
WHERE subreddit = ?1 AND posts = 1 AND post_hour / {DAY} = ?{{day}} AND post_hour >= ?2
{_BY_ENGAGEMENT}
"""
_DAY_SHIFTED = f"""
SELECT {_LINK_FIELDS} FROM links INDEXED BY links_day_shift
WHERE subreddit = ?1 AND posts = 1 AND post_hour / {DAY} = ?{{day}} AND post_hour >= ?2
AND comments >= ?4 {_BY_SHIFT}
"""
# A window spanning at most this many days is read day by day: each day's ranks give its
# top `limit` (a whole day within a few steps; the window's first day, cut by its start, in
# at most ~24x that); a longer one down the subreddit's ranks, where it is most of them.
_DAYS_READ_BY_DAY = 3


def _by_days(day_query: str, order: str, days: int) -> str:
    """The top rows of `days` days (parameters ?5 on), each day read down its own index."""
    if days == 1:
        return day_query.format(day=5)
    parts = " UNION ALL ".join(
        f"SELECT * FROM ({day_query.format(day=5 + n)})" for n in range(days)
    )
    return f"SELECT * FROM ({parts}) {order}"


_REBUILD_TOTALS = """
INSERT INTO totals (subreddit, posts, comments, sum_compound, positive, neutral, negative)
SELECT subreddit, SUM(posts), SUM(comments), SUM(sum_compound), SUM(positive), SUM(neutral),
       SUM(negative)
FROM hourly GROUP BY subreddit
"""


def _add_figures(table: str, *key: str) -> str:
    """Upsert that adds signed figures to a row of an aggregate table, keyed by subreddit
    (and hour or day). A row with a time key also gets its bucket rendered from its new
    figures, in the same statement (through `render_bucket`)."""
    columns = ("subreddit", *key)
    figures = ("posts", "comments", "sum_compound", "positive", "neutral", "negative")
    names = [*columns, *figures]
    values = [f"?{number}" for number in range(1, len(names) + 1)]
    sets = [f"{name}={name}+excluded.{name}" for name in figures]
    if key:  # SET expressions see the row before the update: the new figures are the sums
        sets.append(
            f"rendered=bucket_json({', '.join(key)}, "
            f"{', '.join(f'{name}+excluded.{name}' for name in figures)})"
        )
        names.append("rendered")
        values.append(f"bucket_json({', '.join(values[1:])})")  # all but the subreddit
    return (
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(values)}) "
        f"ON CONFLICT({', '.join(columns)}) DO UPDATE SET {', '.join(sets)}"
    )


_ADD_TOTALS = _add_figures("totals")
_ADD_HOURLY = _add_figures("hourly", "hour")
_ADD_DAILY = _add_figures("daily", "day")
_REBUILD_DAILY = f"""
INSERT INTO daily (subreddit, day, posts, comments, sum_compound, positive, neutral, negative)
SELECT subreddit, (hour / {DAY}) * {DAY}, SUM(posts), SUM(comments), SUM(sum_compound),
       SUM(positive), SUM(neutral), SUM(negative)
FROM hourly GROUP BY 1, 2
"""


def _render(table: str, key: str, where: str) -> str:
    """Statement that renders the `rendered` text of the rows `where` selects from their
    figures, through the `bucket_json` function each connection defines (`render_bucket`)."""
    return (
        f"UPDATE {table} SET rendered = bucket_json({key}, posts, comments, sum_compound, "
        f"positive, neutral, negative) WHERE {where}"
    )


# A (subreddit, hour or day, term, count) row in its table's key order: time first.
_BY_TIME_FIRST = itemgetter(1, 0, 2)


def _apply_trending(conn: sqlite3.Connection, deltas: Deltas) -> None:
    """Trending's aggregate rows (terms per hour, block and day, links) from the engine, each
    in its table's key order: consecutive upserts land on the same pages."""
    conn.executemany(_ADD_TERM_HOURLY, sorted(deltas.term_rows(), key=_BY_TIME_FIRST))
    conn.executemany(_ADD_TERM_BLOCK, sorted(deltas.term_block_rows(), key=_BY_TIME_FIRST))
    conn.executemany(_ADD_TERM_DAILY, sorted(deltas.term_daily_rows(), key=_BY_TIME_FIRST))
    conn.executemany(_ADD_LINKS, sorted(deltas.link_rows()))


def _derive_trending(conn: sqlite3.Connection, terms_since: int) -> None:
    """Trending's aggregates for a file written before them: every stored item counted once
    through the delta engine, in pages (a one-off upgrade)."""
    after: tuple[float, str] = (float("-inf"), "")
    while True:  # in creation order: a page moves a few hours' rows
        rows = conn.execute(
            f"SELECT id, kind, subreddit, created_utc, {_MUTABLE_COLUMNS}, link_id "
            "FROM items WHERE (created_utc, id) > (?, ?) ORDER BY created_utc, id LIMIT 5000",
            after,
        ).fetchall()
        if not rows:
            return
        deltas = Deltas()
        for row in rows:
            deltas.add(_version(row, terms_since), +1)
        _apply_trending(conn, deltas)
        after = (rows[-1]["created_utc"], rows[-1]["id"])


def _upgrade(conn: sqlite3.Connection, terms_since: int) -> None:
    """Derive, once, what a file written by an older version lacks."""
    if "text_hash" not in {row[1] for row in conn.execute("PRAGMA table_info(items)")}:
        conn.execute("ALTER TABLE items ADD COLUMN text_hash TEXT NOT NULL DEFAULT ''")
    if "imported" not in {row[1] for row in conn.execute("PRAGMA table_info(items)")}:
        conn.execute("ALTER TABLE items ADD COLUMN imported INTEGER NOT NULL DEFAULT 0")
    if "rejections" not in {row[1] for row in conn.execute("PRAGMA table_info(runs)")}:
        conn.execute("ALTER TABLE runs ADD COLUMN rejections TEXT NOT NULL DEFAULT '[]'")
    if "kind" not in {row[1] for row in conn.execute("PRAGMA table_info(runs)")}:
        conn.execute("ALTER TABLE runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'collect'")
    conn.execute("CREATE INDEX IF NOT EXISTS runs_kind_started ON runs (kind, started_at, id)")
    # A short window's top posts are read down the per-day indexes now, not by hour.
    conn.execute("DROP INDEX IF EXISTS links_hour")
    items = {row[1] for row in conn.execute("PRAGMA table_info(items)")}
    for column, declared in (
        ("upvote_ratio", "REAL"),
        ("edited_at", "REAL"),
        ("state", "TEXT NOT NULL DEFAULT 'live'"),
        ("state_at", "REAL"),
        ("checked_at", "REAL"),
        ("reconcile_stage", "INTEGER NOT NULL DEFAULT 0"),
        ("counted", "INTEGER NOT NULL DEFAULT 1"),
    ):
        if column not in items:
            conn.execute(f"ALTER TABLE items ADD COLUMN {column} {declared}")
    # The reconcile pass's "due" query: one stage, a band of creation times, oldest first.
    conn.execute("CREATE INDEX IF NOT EXISTS items_due ON items (reconcile_stage, created_utc, id)")
    conn.execute("CREATE INDEX IF NOT EXISTS items_state ON items (state)")
    # Retention finds each origin's old items by this (imported history may be most of them).
    conn.execute("CREATE INDEX IF NOT EXISTS items_origin_created ON items (imported, created_utc)")
    for table in ("hourly", "daily"):
        if "rendered" not in {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {_RENDERED}")
    # Author counts came after the items: derive them once from a file that has items.
    if (
        conn.execute("SELECT 1 FROM author_hourly LIMIT 1").fetchone() is None
        and conn.execute("SELECT 1 FROM items LIMIT 1").fetchone() is not None
    ):
        deltas = Deltas()
        for row in conn.execute(
            f"SELECT id, kind, subreddit, created_utc, {_MUTABLE_COLUMNS}, link_id FROM items"
        ):
            deltas.add(_version(row, terms_since), +1)
        conn.executemany(_ADD_AUTHOR_HOURLY, deltas.author_rows())
    # Per-subreddit totals came after the hourly table: derive them once if missing.
    if conn.execute("SELECT 1 FROM totals LIMIT 1").fetchone() is None:
        conn.execute(_REBUILD_TOTALS)
    # So did the daily table.
    daily_derived = conn.execute("SELECT 1 FROM daily LIMIT 1").fetchone() is None
    if daily_derived:
        conn.execute(_REBUILD_DAILY)
    # Rendered buckets: all of them for a file whose texts are missing (no version recorded)
    # or were written in another version's bytes; else only the days just derived.
    kept = conn.execute("SELECT value FROM meta WHERE key = 'bucket_json'").fetchone()
    if kept is None or kept[0] != BUCKET_JSON_VERSION:
        conn.execute(_render("hourly", "hour", "1"))
        conn.execute(_render("daily", "day", "1"))
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('bucket_json', ?)",
            (BUCKET_JSON_VERSION,),
        )
    elif daily_derived:
        conn.execute(_render("daily", "day", "1"))
    if conn.execute("SELECT 1 FROM meta WHERE key = 'trending_aggregates'").fetchone() is None:
        _derive_trending(conn, terms_since)  # blocks included
        conn.execute("INSERT INTO meta (key, value) VALUES ('trending_aggregates', 1)")
    elif conn.execute("SELECT 1 FROM meta WHERE key = 'term_blocks'").fetchone() is None:
        conn.execute(_DERIVE_TERM_BLOCKS)
    conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('term_blocks', 1)")


# What trending shows of a post (`ShownPost`), in its order: not the whole row.
_SHOWN_COLUMNS = (
    "id, kind, subreddit, title, permalink, score, num_comments, compound, label, state"
)
_SORT_COLUMN = {Sort.NEW: "created_utc", Sort.SCORE: "score", Sort.COMPOUND: "compound"}
_CHUNK = 400  # below SQLite's bound-parameter limit
WRITER_CACHE_KIB = 64 * 1024  # page cache of a connection that writes (SQLite's default: 2 MiB)


# A stored enum value to its member: a dict look-up, not an Enum call per field and row.
_KINDS = {kind.value: kind for kind in Kind}
_LABELS = {label.value: label for label in Label}
_STATES = {state.value: state for state in ItemState}


def _by_ids(cursor: sqlite3.Cursor, columns: str, ids: Sequence[str]) -> Iterator[Any]:
    """`columns` of the stored items among `ids` (each asked once), _CHUNK ids a query."""
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), _CHUNK):
        chunk = unique[start : start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        yield from cursor.execute(f"SELECT {columns} FROM items WHERE id IN ({marks})", chunk)


def _row_to_item(row: sqlite3.Row) -> Item:
    # By position, in _ITEM_COLUMNS' order: a Row looks a name up by comparing it with each
    # column's in turn, which across 29 columns cost more than building the Item (trending
    # reads a thousand posts a refresh).
    (
        id_, kind, subreddit, author, created_utc, title, body, permalink, score, num_comments,
        parent_id, link_id, compound, pos, neu, neg, label, truncated, collected_at, keywords,
        text_hash, imported, upvote_ratio, edited_at, state, state_at, checked_at,
        reconcile_stage, counted,
    ) = row  # fmt: skip
    return Item(
        id=id_,
        kind=_KINDS[kind],
        subreddit=subreddit,
        author=author,
        created_utc=created_utc,
        title=title,
        body=body,
        permalink=permalink,
        score=score,
        num_comments=num_comments,
        parent_id=parent_id,
        link_id=link_id,
        compound=compound,
        pos=pos,
        neu=neu,
        neg=neg,
        label=_LABELS[label],
        truncated=bool(truncated),
        collected_at=collected_at,
        keywords=[] if keywords == "[]" else json.loads(keywords),
        text_hash=text_hash,
        upvote_ratio=upvote_ratio,
        edited_at=edited_at,
        state=_STATES[state],
        state_at=state_at,
        checked_at=checked_at,
        reconcile_stage=reconcile_stage,
        counted=bool(counted),
        imported=bool(imported),
    )


def _item_params(item: Item) -> tuple[Any, ...]:
    return (
        item.id,
        item.kind.value,
        item.subreddit,
        item.author,
        item.created_utc,
        item.title,
        item.body,
        item.permalink,
        item.score,
        item.num_comments,
        item.parent_id,
        item.link_id,
        item.compound,
        item.pos,
        item.neu,
        item.neg,
        item.label.value,
        int(item.truncated),
        item.collected_at,
        json.dumps(item.keywords) if item.keywords else "[]",
        item.text_hash,
        int(item.imported),
        item.upvote_ratio,
        item.edited_at,
        item.state.value,
        item.state_at,
        item.checked_at,
        item.reconcile_stage,
        int(item.counted),
    )


def _version(row: sqlite3.Row, terms_since: int) -> Version:
    """What the aggregates count of a stored item row (id, kind, subreddit, created_utc,
    the _MUTABLE_COLUMNS and link_id), its terms counted from `terms_since` on."""
    return Version(
        row["subreddit"],
        row["created_utc"],
        row["kind"],
        row["compound"],
        row["label"],
        tuple(json.loads(row["keywords"])),
        author_of(row["author"]),
        bool(row["counted"]),
        counted_terms(row["kind"], row["title"], row["body"], row["created_utc"], terms_since),
        row["id"],
        row["link_id"],
        engagement_of(row["kind"], row["score"], row["num_comments"]),
    )


def _apply(conn: sqlite3.Connection, deltas: Deltas) -> None:
    """Add the engine's rows to the aggregate tables (in the caller's transaction)."""
    conn.executemany(_ADD_HOURLY, sorted(deltas.hourly_rows()))
    conn.executemany(_ADD_DAILY, sorted(deltas.daily_rows()))
    conn.executemany(_ADD_TOTALS, deltas.total_rows())
    conn.executemany(_ADD_KEYWORD_HOURLY, deltas.keyword_rows())
    authors = deltas.author_rows()
    conn.executemany(_ADD_AUTHOR_HOURLY, authors)
    # An author row counted down to nothing goes: a purged item's author name must not stay.
    conn.executemany(
        "DELETE FROM author_hourly WHERE keyword = ? AND subreddit = ? AND hour = ? "
        "AND author = ? AND count <= 0",
        [row[:4] for row in authors if row[4] < 0],
    )
    _apply_trending(conn, deltas)


def _row_to_run(row: sqlite3.Row) -> CollectionRun:
    return CollectionRun(
        id=row["id"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        status=RunStatus(row["status"]),
        trigger=row["trigger"],
        owner=row["owner"],
        subreddits={k: SubredditCounts(**v) for k, v in json.loads(row["subreddits"]).items()},
        errors=[ListingError(**e) for e in json.loads(row["errors"])],
        rejections=[RejectedItem(**r) for r in json.loads(row["rejections"])],
        kind=RunKind(row["kind"]),
    )


class SqliteStore:
    name = "sqlite"

    def __init__(
        self,
        path: Path | str,
        read_workers: int = 4,
        busy_timeout_seconds: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self._clock = clock  # what "now" is for the term aggregates' reach (`terms_from`)
        self.busy_timeout_seconds = busy_timeout_seconds
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._read_workers = read_workers
        self._generation = 0
        self._closed = False
        self._readers = self._new_reader_pool()

    def _new_reader_pool(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=self._read_workers, thread_name_prefix="sqlite-read")

    # -- connections -------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if getattr(self._local, "generation", None) != self._generation:
            conn = None  # opened before the last close(): a closed connection
        if conn is None:
            try:
                conn = sqlite3.connect(
                    self.path,
                    timeout=self.busy_timeout_seconds,
                    isolation_level=None,
                    check_same_thread=False,
                )
                conn.row_factory = sqlite3.Row
                conn.create_function("bucket_json", 7, render_bucket, deterministic=True)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                # Freed bytes are zeroed: a purged text (issue 17) leaves no copy in the file.
                conn.execute("PRAGMA secure_delete=ON")
                conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_seconds * 1000)}")
            except sqlite3.Error as error:
                raise StoreUnavailable(
                    f"cannot open SQLite database {self.path}: {error}"
                ) from error
            self._local.conn = conn
            self._local.generation = self._generation
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._connect()
        try:
            if getattr(self._local, "writer", None) != self._generation:
                # A writing connection keeps more pages than SQLite's default 2 MiB: an
                # upsert walks a dozen indexes and aggregate tables at random keys.
                conn.execute(f"PRAGMA cache_size=-{WRITER_CACHE_KIB}")
                self._local.writer = self._generation
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except (sqlite3.IntegrityError, sqlite3.DataError) as error:
            raise RejectedByStore(f"SQLite refused the write: {error}") from error
        except sqlite3.Error as error:
            raise StoreUnavailable(f"SQLite write failed: {error}") from error

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            try:
                return fn(self._connect())
            except sqlite3.Error as error:
                raise StoreUnavailable(f"SQLite read failed: {error}") from error

        return await asyncio.get_running_loop().run_in_executor(self._readers, run)

    # -- lifecycle ---------------------------------------------------------------------
    def open(self) -> None:
        if self._closed:  # an app restarted with the same store (tests, schemathesis)
            self._readers = self._new_reader_pool()
            self._closed = False
        if self.path.parent and not self.path.parent.exists():
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                reason = error.strerror or str(error)
                raise StoreUnavailable(f"cannot create {self.path.parent}: {reason}") from error
        conn = self._connect()
        try:
            columns = {row[1] for row in conn.execute("PRAGMA table_info(items)")}
            if columns and "keywords" not in columns:  # a database from before keywords
                conn.execute("ALTER TABLE items ADD COLUMN keywords TEXT NOT NULL DEFAULT '[]'")
            conn.executescript(_SCHEMA)
        except sqlite3.Error as error:
            raise StoreUnavailable(f"cannot create schema in {self.path}: {error}") from error
        with self._transaction() as conn:  # one process at a time brings an old file up to date
            _upgrade(conn, self.terms_from())

    def close(self) -> None:
        self._readers.shutdown(wait=True)
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
            self._generation += 1
            self._closed = True

    async def aclose(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.close)

    # -- write path --------------------------------------------------------------------
    def upsert_items(self, items: Sequence[Item]) -> UpsertResult:
        # One transaction for the whole batch: a page it dirties is written once however
        # many of its items touch it (specs/measurements.md#import-write-batches).
        result = UpsertResult()
        unique = list({item.id: item for item in items}.values())
        purged = False
        with self._transaction() as conn:
            columns = f"id, kind, subreddit, created_utc, {_MUTABLE_COLUMNS}, link_id"
            old: dict[str, sqlite3.Row] = {
                row["id"]: row
                for row in _by_ids(conn.cursor(), columns, [item.id for item in unique])
            }
            deltas = Deltas()
            since = self.terms_from()
            rows: list[tuple[Any, ...]] = []
            seen_again: list[tuple[float, str]] = []
            for item in unique:
                before = old.get(item.id)
                if before is not None:  # kept as first stored, as the upsert keeps them
                    item.subreddit, item.created_utc = before["subreddit"], before["created_utc"]
                    item.imported = item.imported or bool(before["imported"])
                row = _item_params(item)
                result.count(item.subreddit, new=before is None)
                if before is not None and tuple(before)[4:-1] == _mutable(row):
                    # Nothing Reddit or the analyzer can change did: only record that it was
                    # seen (an unchanged row rewrites no index).
                    seen_again.append((item.collected_at, item.id))
                    continue
                rows.append(row)
                if item.purged and (before is None or before["state"] not in PURGED_STATES):
                    purged = True
                deltas.add_upsert(
                    None if before is None else _version(before, since), Version.of(item, since)
                )
            rows.sort(key=itemgetter(0))  # by id, the primary key's order
            conn.executemany(_UPSERT_ITEM, rows)
            conn.executemany("UPDATE items SET collected_at = ? WHERE id = ?", seen_again)
            _apply(conn, deltas)
        if purged:
            self.checkpoint()
        return result

    def checkpoint(self) -> None:
        """Write the WAL into the file and truncate it: the old versions of a purged text
        in the WAL's frames go with it (the file's own copy was zeroed by secure_delete)."""
        try:
            self._connect().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.Error as error:  # a reader mid-read: the next purge checkpoints again
            log.warning("SQLite checkpoint after a purge failed: %s", error)

    def due_items(
        self,
        *,
        stage: int,
        created_after: float | None,
        created_until: float,
        subreddit: str | None = None,
        limit: int = 100,
    ) -> list[Item]:
        where = ["reconcile_stage = ?", "created_utc <= ?"]
        params: list[Any] = [stage, created_until]
        if created_after is not None:
            where.append("created_utc > ?")
            params.append(created_after)
        if subreddit is not None:
            where.append("subreddit = ?")
            params.append(subreddit)
        sql = (
            f"SELECT {_ITEM_COLUMNS} FROM items WHERE {' AND '.join(where)} "
            "ORDER BY created_utc, id LIMIT ?"
        )
        try:
            rows = self._connect().execute(sql, [*params, limit]).fetchall()
        except sqlite3.Error as error:
            raise StoreUnavailable(f"SQLite read failed: {error}") from error
        return [_row_to_item(row) for row in rows]

    def known_scores(self, items: Sequence[Item]) -> dict[str, Item]:
        return self._items_by_id([item.id for item in items])  # any item, by fullname

    def save_run(self, run: CollectionRun) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO runs (id, started_at, finished_at, status, trigger, owner, "
                "subreddits, errors, rejections, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run.id,
                    run.started_at,
                    run.finished_at,
                    run.status.value,
                    run.trigger,
                    run.owner,
                    json.dumps({k: asdict(v) for k, v in run.subreddits.items()}),
                    json.dumps([asdict(e) for e in run.errors]),
                    json.dumps([asdict(r) for r in run.rejections]),
                    run.kind.value,
                ),
            )

    def interrupt_running_runs(self, started_before: float | None = None) -> int:
        cutoff = math.inf if started_before is None else started_before
        with self._transaction() as conn:
            rows = conn.execute(
                "SELECT * FROM runs WHERE status = ? AND started_at < ?",
                (RunStatus.RUNNING.value, cutoff),
            ).fetchall()
            for row in rows:
                run = _row_to_run(row)
                interrupted(run, started_before)
                conn.execute(
                    "UPDATE runs SET status = ?, finished_at = ?, errors = ? WHERE id = ?",
                    (
                        run.status.value,
                        run.finished_at,
                        json.dumps([asdict(e) for e in run.errors]),
                        run.id,
                    ),
                )
            return len(rows)

    def delete_older_than(self, cutoff_utc: float, imported_cutoff_utc: float | None = None) -> int:
        # Whole hours only, like Cosmos's TTL. Each deleted item is taken off its buckets by
        # the delta engine, so an hour that also holds kept (imported) items keeps exactly
        # their figures; buckets left empty before the cutoffs go.
        cutoffs = [(0, hour_of(cutoff_utc))]
        since = self.terms_from()
        if imported_cutoff_utc is not None:
            cutoffs.append((1, hour_of(imported_cutoff_utc)))
        deleted = 0
        for imported, cutoff in cutoffs:
            while True:
                with self._transaction() as conn:
                    rows = conn.execute(
                        f"SELECT id, kind, subreddit, created_utc, {_MUTABLE_COLUMNS}, link_id "
                        "FROM items WHERE imported = ? AND created_utc < ? LIMIT 5000",
                        (imported, cutoff),
                    ).fetchall()
                    deltas = Deltas()
                    for row in rows:
                        deltas.add(_version(row, since), -1)
                    conn.executemany(
                        "DELETE FROM items WHERE id = ?", [(row["id"],) for row in rows]
                    )
                    _apply(conn, deltas)
                deleted += len(rows)
                if len(rows) < 5000:
                    break
        bound = max(cutoff for _, cutoff in cutoffs)
        with self._transaction() as conn:
            conn.execute(
                "DELETE FROM hourly WHERE hour < ? AND posts = 0 AND comments = 0", (bound,)
            )
            conn.execute("DELETE FROM daily WHERE day < ? AND posts = 0 AND comments = 0", (bound,))
            conn.execute("DELETE FROM keyword_hourly WHERE hour < ? AND count = 0", (bound,))
            conn.execute("DELETE FROM author_hourly WHERE hour < ? AND count <= 0", (bound,))
            for table, column in _TERM_TABLES.values():
                conn.execute(f"DELETE FROM {table} WHERE {column} < ? AND count = 0", (bound,))
                # What trending can no longer reach, whatever retention keeps (TERM_KINDS).
                conn.execute(f"DELETE FROM {table} WHERE {column} < ?", (since,))
            conn.execute("DELETE FROM links WHERE posts = 0 AND comments = 0")
        return deleted

    def acquire_lease(self, name: str, owner: str, ttl_seconds: float) -> bool:
        now = time.time()
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO leases (name, owner, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET owner=excluded.owner, "
                "expires_at=excluded.expires_at "
                "WHERE leases.owner = excluded.owner OR leases.expires_at <= ?",
                (name, owner, now + ttl_seconds, now),
            )
            row = conn.execute("SELECT owner FROM leases WHERE name = ?", (name,)).fetchone()
            return bool(row is not None and row["owner"] == owner)

    def release_lease(self, name: str, owner: str) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner))

    # -- read path ---------------------------------------------------------------------
    async def ping(self) -> None:
        await self._read(lambda conn: conn.execute("SELECT 1 FROM runs LIMIT 1").fetchall())

    async def aggregates(
        self,
        *,
        subreddit: str | None = None,
        since: float | None = None,
        until: float | None = None,
        bucket: Bucket | None = None,
    ) -> list[Aggregate]:
        if bucket is None and since is None and until is None:
            return await self._totals(subreddit)
        if bucket is Bucket.DAY:
            sql, params = _day_series(subreddit, since, until)
        elif bucket is Bucket.HOUR:
            where, params, _ = _bucket_query({"subreddit": subreddit}, since, until, bucket)
            # One stored row per (subreddit, hour) already: read them in primary-key order,
            # with no grouping or sort (about half the time of the grouped query).
            sql = (
                "SELECT subreddit, CAST(hour AS REAL), posts, comments, sum_compound, positive, "
                f"neutral, negative FROM hourly{where} AND posts + comments > 0"
                " ORDER BY subreddit, hour"
            )
        else:
            where, params, key = _bucket_query({"subreddit": subreddit}, since, until, bucket)
            sql = (
                f"SELECT subreddit, CAST({key} AS REAL) AS bucket, SUM(posts) AS posts, "
                "SUM(comments) AS comments, SUM(sum_compound) AS sum_compound, "
                "SUM(positive) AS positive, SUM(neutral) AS neutral, SUM(negative) AS negative "
                f"FROM hourly{where} GROUP BY subreddit, bucket"
                " HAVING SUM(posts) + SUM(comments) > 0 ORDER BY subreddit, bucket"
            )

        def query(conn: sqlite3.Connection) -> list[Aggregate]:
            # Rows in Aggregate's field order become Aggregates as they are: a month of days
            # or two days of hours over many subreddits is ~1000 rows, and named access or
            # per-field conversion doubled their cost.
            cursor = conn.cursor()
            cursor.row_factory = None
            return list(map(Aggregate._make, cursor.execute(sql, params)))

        return await self._read(query)

    async def hour_extent(self, *, subreddit: str | None = None) -> tuple[float, float] | None:
        # Two ordered index probes (hourly_hour, or the key for one subreddit), each stopping
        # at its first non-empty row; MIN and MAX in one SELECT would read every row.
        where = "posts + comments > 0" + ("" if subreddit is None else " AND subreddit = ?")
        params = () if subreddit is None else (subreddit, subreddit)
        sql = (
            f"SELECT (SELECT hour FROM hourly WHERE {where} ORDER BY hour LIMIT 1), "
            f"(SELECT hour FROM hourly WHERE {where} ORDER BY hour DESC LIMIT 1)"
        )

        def query(conn: sqlite3.Connection) -> tuple[float, float] | None:
            first, last = conn.execute(sql, params).fetchone()
            return None if first is None else (float(first), float(last))

        return await self._read(query)

    async def sentiment_series(
        self,
        *,
        subreddit: str | None = None,
        since: float | None = None,
        until: float | None = None,
        bucket: Bucket = Bucket.HOUR,
    ) -> list[SeriesText]:
        if bucket is Bucket.HOUR:
            table, column = "hourly", "hour"
            whole: Range | None = (None if since is None else hour_of(since), until)
            cut: list[Range] = []
        else:
            table, column = "daily", "day"
            whole, cut = day_ranges(since, until)

        def query(conn: sqlite3.Connection) -> list[SeriesText]:
            # (subreddit, start, text): the whole hours or days as one text per subreddit,
            # the days cut at either end of a window rendered from their summed hours.
            pieces: list[tuple[str, float, str]] = []
            if whole is not None:
                where, params = _where({"t.subreddit": subreddit}, f"r.{column}", *whole)
                # A nested loop in key order, totals outside (CROSS JOIN keeps it there): the
                # texts reach group_concat oldest first with no sort, one string per
                # subreddit. The contract tests hold this to `aggregates`.
                rows = conn.execute(
                    f"SELECT t.subreddit, group_concat(r.rendered, ',') FROM totals t "
                    f"CROSS JOIN {table} r ON r.subreddit = t.subreddit "
                    f"WHERE {where} AND r.posts + r.comments > 0 "
                    "GROUP BY t.subreddit ORDER BY t.subreddit",
                    params,
                )
                first = -math.inf if whole[0] is None else whole[0]
                pieces.extend((name, first, text) for name, text in rows)
            for hours in cut:
                where, params = _where({"subreddit": subreddit}, "hour", *hours)
                cursor = conn.cursor()
                cursor.row_factory = None
                days = cursor.execute(_CUT_DAYS.format(where=where), params)
                for agg in map(Aggregate._make, days):
                    pieces.append((agg.subreddit, agg.bucket_start or 0.0, bucket_json(agg)))
            if cut:
                pieces.sort(key=lambda piece: piece[:2])
            return joined((name, text) for name, _, text in pieces)

        return await self._read(query)

    async def list_items(self, query: ItemQuery) -> ItemPage:
        column = _SORT_COLUMN[query.sort]
        where: list[str] = ["kind = ?"]
        params: list[str | float] = [query.kind.value]
        for name, value in (
            ("subreddit", query.subreddit),
            ("label", query.label),
            ("link_id", query.link_id),
            ("state", query.state),
        ):
            if value is not None:
                where.append(f"{name} = ?")
                params.append(str(value))
        if query.since is not None:
            where.append("created_utc >= ?")
            params.append(query.since)
        if query.until is not None:
            where.append("created_utc < ?")
            params.append(query.until)
        if query.cursor:
            after, last_id = decode_cursor(query.cursor)
            op = "<" if query.descending else ">"
            where.append(f"({column}, id) {op} (?, ?)")
            params.extend([after, last_id])
        direction = "DESC" if query.descending else "ASC"
        sql = (
            f"SELECT {_ITEM_COLUMNS} FROM items WHERE {' AND '.join(where)} "
            f"ORDER BY {column} {direction}, id {direction} LIMIT ?"
        )
        params.append(query.limit + 1)

        def run(conn: sqlite3.Connection) -> list[Item]:
            return [_row_to_item(r) for r in conn.execute(sql, params)]

        return item_page(await self._read(run), query)

    async def state_counts(self, subreddit: str | None = None) -> dict[str, int]:
        where, params = ("AND subreddit = ?", [subreddit]) if subreddit else ("", [])
        sql = (
            "SELECT state, COUNT(*) FROM items WHERE state IN ('deleted', 'removed') "
            f"{where} GROUP BY state"
        )

        def run(conn: sqlite3.Connection) -> dict[str, int]:
            return {state: count for state, count in conn.execute(sql, params)}

        return await self._read(run)

    async def get_item(self, item_id: str, subreddit: str | None = None) -> Item | None:
        where, params = _where({"subreddit": subreddit}, "created_utc", None, None)

        def run(conn: sqlite3.Connection) -> Item | None:
            row = conn.execute(
                f"SELECT {_ITEM_COLUMNS} FROM items WHERE id = ? AND {where}", (item_id, *params)
            )
            found = row.fetchone()
            return None if found is None else _row_to_item(found)

        return await self._read(run)

    async def list_runs(
        self, limit: int, cursor: str | None = None, kind: RunKind | None = None
    ) -> RunPage:
        of_kind = {"kind": None if kind is None else kind.value}
        runs, next_cursor = await self._newest_first(
            "SELECT * FROM runs", "started_at", of_kind, limit, cursor, _row_to_run
        )
        return RunPage(runs=runs, next_cursor=next_cursor)

    async def _newest_first(
        self,
        select: str,
        field: str,
        equal: dict[str, str | None],
        limit: int,
        cursor: str | None,
        convert: Callable[[sqlite3.Row], D],
    ) -> tuple[list[D], str | None]:
        """A page of runs or alerts newest first by (`field`, id) after `cursor`, of the rows
        whose columns in `equal` hold the value given (a None value: any)."""
        where = [f"{column} = ?" for column, value in equal.items() if value is not None]
        params: list[str | float] = [value for value in equal.values() if value is not None]
        if cursor:
            value, last_id = decode_cursor(cursor)
            where.append(f"({field}, id) < (?, ?)")
            params.extend([value, last_id])
        condition = f"WHERE {' AND '.join(where)}" if where else ""
        sql = f"{select} {condition} ORDER BY {field} DESC, id DESC LIMIT ?"

        def run(conn: sqlite3.Connection) -> tuple[list[D], str | None]:
            read = conn.execute(sql, [*params, limit + 1]).fetchall()
            return newest_first_page(read, limit, field, convert)

        return await self._read(run)

    async def lease_holder(self, name: str) -> Lease | None:
        def run(conn: sqlite3.Connection) -> Lease | None:
            row = conn.execute(
                "SELECT name, owner, expires_at FROM leases WHERE name = ? AND expires_at > ?",
                (name, time.time()),
            ).fetchone()
            return None if row is None else Lease(row["name"], row["owner"], row["expires_at"])

        return await self._read(run)

    async def keyword_aggregates(
        self,
        *,
        keyword: str | None = None,
        subreddit: str | None = None,
        since: float | None = None,
        until: float | None = None,
        bucket: Bucket | None = None,
    ) -> list[KeywordAggregate]:
        filters = {"keyword": keyword, "subreddit": subreddit}
        where, params, key = _bucket_query(filters, since, until, bucket)
        sql = (
            f"SELECT keyword, {key} AS bucket, SUM(count) AS count, "
            "SUM(sum_compound) AS sum_compound, SUM(positive) AS positive, "
            "SUM(neutral) AS neutral, SUM(negative) AS negative, "
            "MAX(CASE WHEN count > 0 THEN hour END) AS last_hour "
            f"FROM keyword_hourly{where}"
            " GROUP BY keyword, bucket HAVING SUM(count) > 0 ORDER BY keyword, bucket"
        )

        def query(conn: sqlite3.Connection) -> list[KeywordAggregate]:
            return [
                KeywordAggregate(
                    keyword=r["keyword"],
                    bucket_start=None if r["bucket"] is None else float(r["bucket"]),
                    count=r["count"],
                    sum_compound=r["sum_compound"],
                    positive=r["positive"],
                    neutral=r["neutral"],
                    negative=r["negative"],
                    last_hour=float(r["last_hour"]),
                )
                for r in conn.execute(sql, params)
            ]

        return await self._read(query)

    async def _totals(self, subreddit: str | None) -> list[Aggregate]:
        """All-time per-subreddit figures, kept on write: one row per subreddit, O(1) in items."""
        where, params = ("WHERE subreddit = ?", [subreddit]) if subreddit else ("", [])

        def query(conn: sqlite3.Connection) -> list[Aggregate]:
            sql = (
                "SELECT subreddit, NULL, posts, comments, sum_compound, positive, neutral, "
                f"negative FROM totals {where}{' AND' if where else ' WHERE'} "
                "posts + comments > 0 ORDER BY subreddit"
            )
            cursor = conn.cursor()
            cursor.row_factory = None
            return list(map(Aggregate._make, cursor.execute(sql, params)))

        return await self._read(query)

    def iter_items(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        subreddit: str | None = None,
        kind: Kind | None = None,
    ) -> Iterator[Item]:
        where: list[str] = []
        params: list[str | float] = []
        for name, value in (("subreddit", subreddit), ("kind", kind.value if kind else None)):
            if value is not None:
                where.append(f"{name} = ?")
                params.append(value)
        if until is not None:
            where.append("created_utc < ?")
            params.append(until)
        conn = self._connect()
        after: tuple[float, str] = (since if since is not None else float("-inf"), "")
        while True:  # keyset pages: bounded memory, no long-lived read transaction
            clause = " AND ".join([*where, "(created_utc, id) > (?, ?)"])
            try:
                rows = conn.execute(
                    f"SELECT {_ITEM_COLUMNS} FROM items WHERE {clause} "
                    "ORDER BY created_utc, id LIMIT 1000",
                    [*params, after[0], after[1]],
                ).fetchall()
            except sqlite3.Error as error:
                raise StoreUnavailable(f"SQLite read failed: {error}") from error
            if not rows:
                return
            for row in rows:
                yield _row_to_item(row)
            after = (rows[-1]["created_utc"], rows[-1]["id"])

    def trending_terms(self, spans: Sequence[Span]) -> dict[tuple[str, str], list[int]]:
        # Every piece of every span in one statement, each piece read once for all the spans
        # using it and summed on its own (small sorts; an hour's rows come in key order, so
        # need none): Python adds the pieces up per span.
        conn = self._connect()
        try:
            latest = conn.execute("SELECT MAX(hour) FROM term_hourly").fetchone()[0]
        except sqlite3.Error as error:
            raise StoreUnavailable(f"SQLite read failed: {error}") from error
        pieces = shared_pieces(spans, latest)
        parts: list[str] = []
        params: list[int] = []
        for index, (width, start, end, _) in enumerate(pieces):
            table, column = _TERM_TABLES[width]
            parts.append(
                f"SELECT subreddit, term, {index}, SUM(count) FROM {table} "
                f"WHERE {column} >= ? AND {column} < ? GROUP BY subreddit, term"
            )
            params += [start, _END if end is None else end]
        counts: dict[tuple[str, str], list[int]] = {}
        if not parts:
            return counts
        try:
            rows = conn.execute(" UNION ALL ".join(parts), params).fetchall()
        except sqlite3.Error as error:
            raise StoreUnavailable(f"SQLite read failed: {error}") from error
        for subreddit, term, piece, count in rows:
            if not count:
                continue
            row = counts.get((subreddit, term))
            if row is None:
                row = counts[(subreddit, term)] = [0] * len(spans)
            for span, sign in pieces[piece][3]:
                row[span] += sign * count
        return {pair: row for pair, row in counts.items() if any(row)}

    def trending_subreddits(self, spans: Sequence[Span]) -> dict[str, list[tuple[int, float]]]:
        found: dict[str, list[tuple[int, float]]] = {}
        conn = self._connect()
        try:
            for index, (start, end) in enumerate(spans):
                for subreddit, items, total in conn.execute(
                    "SELECT subreddit, SUM(posts + comments), SUM(sum_compound) FROM hourly "
                    "WHERE hour >= ? AND hour < ? GROUP BY subreddit",
                    (start, _END if end is None else end),
                ):
                    if items:
                        row = found.setdefault(subreddit, [(0, 0.0)] * len(spans))
                        row[index] = (items, total)
        except sqlite3.Error as error:
            raise StoreUnavailable(f"SQLite read failed: {error}") from error
        return found

    def trending_links(
        self, since: int, limit: int, min_comments: int, subreddits: Sequence[str] | None = None
    ) -> list[LinkFigures]:
        cursor = self._connect().cursor()
        cursor.row_factory = None  # plain tuples: made LinkFigures at once
        found: dict[tuple[str, str], LinkFigures] = {}
        try:
            if subreddits is None:
                subreddits = [row[0] for row in cursor.execute("SELECT subreddit FROM totals")]
            # Every counted post is in its hour's row: no post is later than the last one.
            latest = cursor.execute("SELECT MAX(hour) FROM hourly").fetchone()[0] or since
            first, last = since // DAY, max(since, latest) // DAY
            days = [*range(first, last + 1)] if last - first < _DAYS_READ_BY_DAY else []
            if days:
                queries = [
                    (_by_days(_DAY_ENGAGED, _BY_ENGAGEMENT, len(days)), 4 + len(days)),
                    (_by_days(_DAY_SHIFTED, _BY_SHIFT, len(days)), 4 + len(days)),
                ]
            else:  # (an item stamped far ahead makes every window long: still exact)
                queries = [(_TOP_ENGAGED, 3), (_TOP_SHIFTED, 4)]
            for subreddit in subreddits:
                params = (subreddit, since, limit, min_comments, *days)
                for sql, used in queries:  # ?1..?used
                    for link in map(LinkFigures._make, cursor.execute(sql, params[:used])):
                        found[(link.subreddit, link.link_id)] = link
        except sqlite3.Error as error:
            raise StoreUnavailable(f"SQLite read failed: {error}") from error
        return list(found.values())

    def _items_by_id(self, ids: Sequence[str]) -> dict[str, Item]:
        cursor = self._connect().cursor()
        try:
            return {row["id"]: _row_to_item(row) for row in _by_ids(cursor, _ITEM_COLUMNS, ids)}
        except sqlite3.Error as error:
            raise StoreUnavailable(f"SQLite read failed: {error}") from error

    def posts_by_id(self, ids: Sequence[str]) -> dict[str, ShownPost]:
        cursor = self._connect().cursor()
        cursor.row_factory = None
        found: dict[str, ShownPost] = {}
        try:
            for row in _by_ids(cursor, _SHOWN_COLUMNS, ids):  # in _SHOWN_COLUMNS' order
                id_, kind, subreddit, title, link, score, comments, compound, label, state = row
                found[id_] = ShownPost(
                    id_, _KINDS[kind], subreddit, title, link, score, comments, compound,
                    _LABELS[label], _STATES[state],
                )  # fmt: skip
        except sqlite3.Error as error:
            raise StoreUnavailable(f"SQLite read failed: {error}") from error
        return found

    def save_trending(self, key: str, payload: dict[str, Any]) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO trending (key, payload) VALUES (?, ?)",
                (key, json.dumps(payload)),
            )

    async def get_trending(self, key: str) -> dict[str, Any] | None:
        def run(conn: sqlite3.Connection) -> dict[str, Any] | None:
            row = conn.execute("SELECT payload FROM trending WHERE key = ?", (key,)).fetchone()
            return None if row is None else dict(json.loads(row["payload"]))

        return await self._read(run)

    async def distinct_authors(
        self,
        *,
        subreddit: str | None = None,
        keyword: str | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> int:
        filters = {"keyword": keyword or ALL_ITEMS, "subreddit": subreddit}
        where, params, _ = _bucket_query(filters, since, until, None)
        sql = f"SELECT COUNT(DISTINCT author) FROM author_hourly{where} AND count > 0"

        def run(conn: sqlite3.Connection) -> int:
            return int(conn.execute(sql, params).fetchone()[0])

        return await self._read(run)

    def save_alert_rule(self, rule: AlertRule) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO alert_rules (id, rule) VALUES (?, ?)",
                (rule.id, json.dumps(rule_doc(rule))),
            )

    def delete_alert_rule(self, rule_id: str) -> bool:
        with self._transaction() as conn:
            return conn.execute("DELETE FROM alert_rules WHERE id = ?", (rule_id,)).rowcount > 0

    async def list_alert_rules(self) -> list[AlertRule]:
        def run(conn: sqlite3.Connection) -> list[AlertRule]:
            rows = conn.execute("SELECT rule FROM alert_rules ORDER BY id")
            return [rule_of(json.loads(row["rule"])) for row in rows]

        return await self._read(run)

    async def get_alert_rule(self, rule_id: str) -> AlertRule | None:
        def run(conn: sqlite3.Connection) -> AlertRule | None:
            row = conn.execute("SELECT rule FROM alert_rules WHERE id = ?", (rule_id,)).fetchone()
            return None if row is None else rule_of(json.loads(row["rule"]))

        return await self._read(run)

    def save_alert(self, alert: Alert) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO alerts (id, rule_id, fired_at, alert) VALUES (?, ?, ?, ?)",
                (alert.id, alert.rule_id, alert.fired_at, json.dumps(alert_doc(alert))),
            )

    async def list_alerts(
        self, limit: int, cursor: str | None = None, rule_id: str | None = None
    ) -> AlertPage:
        alerts, next_cursor = await self._newest_first(
            "SELECT alert FROM alerts",
            "fired_at",
            {"rule_id": rule_id},
            limit,
            cursor,
            lambda row: alert_of(json.loads(row["alert"])),
        )
        return AlertPage(alerts=alerts, next_cursor=next_cursor)

    async def get_run(self, run_id: str) -> CollectionRun | None:
        def run(conn: sqlite3.Connection) -> CollectionRun | None:
            found = conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
            return None if found is None else _row_to_run(found)

        return await self._read(run)

    # -- verification --------------------------------------------------------------------
    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """One read transaction on this thread's connection: WAL serves every read inside it
        from one state, whatever another process commits meanwhile."""
        conn = self._connect()
        try:
            conn.execute("BEGIN")
        except sqlite3.Error as error:
            raise StoreUnavailable(f"SQLite read failed: {error}") from error
        try:
            yield
        finally:
            conn.execute("ROLLBACK")

    def kept_aggregates(self) -> dict[str, float | None]:
        """Every kind has its table, and every row is kept exact (retention deletes items and
        their aggregates in one transaction); the term kinds from `terms_from` on."""
        conn = self._connect()
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        since = float(self.terms_from())
        return {name: since if name in TERM_KINDS else None for name in KINDS if name in tables}

    def terms_from(self) -> int:
        return terms_from(self._clock())

    def aggregate_rows(self, kind: str, since: float | None = None) -> Iterator[Row]:
        spec = KINDS[kind]
        columns = ", ".join(f'"{name}"' for name in (*spec.key, *spec.figures))
        where, params = "", []
        if since is not None and spec.time is not None:
            where, params = f' WHERE "{spec.time}" >= ?', [since]
        cursor = self._connect().cursor()
        cursor.row_factory = None
        try:
            yield from cursor.execute(f"SELECT {columns} FROM {kind}{where}", params)
        except sqlite3.Error as error:
            raise StoreUnavailable(f"SQLite read failed: {error}") from error

    def imported_rows(self, kind: str) -> None:
        """None: a row counts both origins, and is exact from its `kept_aggregates` start."""
        return None

    def rebuild_aggregates(self) -> int:
        """In one write transaction: empty every aggregate table, and add each item back
        through the delta engine (the upsert's own path), rendered buckets included."""
        kinds = list(self.kept_aggregates())
        with self._transaction() as conn:
            deltas = Deltas()
            cursor = conn.execute(
                f"SELECT id, kind, subreddit, created_utc, {_MUTABLE_COLUMNS}, link_id FROM items"
            )
            since = self.terms_from()
            for row in cursor:
                deltas.add(_version(row, since), +1)
            for kind in kinds:
                conn.execute(f"DELETE FROM {kind}")
            _apply(conn, deltas)
            return sum(len(deltas.rows(kind)) for kind in kinds)


_END = 2**62  # a span without an end
# Each width of trending's term rows: its table and time column (store/deltas.py TERM_WIDTHS).
_TERM_TABLES = {TERM_WIDTHS[kind]: (kind, KINDS[kind].time) for kind in TERM_KINDS}


def _bucket_query(
    filters: dict[str, str | None], since: float | None, until: float | None, bucket: Bucket | None
) -> tuple[str, list[str | float], str]:
    """WHERE clause, parameters and bucket expression shared by the hourly aggregate reads."""
    where, params = _where(filters, "hour", None if since is None else hour_of(since), until)
    size = bucket_seconds(bucket)
    key = "NULL" if size is None else f"(hour / {size}) * {size}"
    return f" WHERE {where}", params, key


_WHOLE_DAYS = (
    "SELECT subreddit, CAST(day AS REAL), posts, comments, sum_compound, positive, neutral, "
    "negative FROM daily WHERE {where} AND posts + comments > 0"
)
_CUT_DAYS = (
    f"SELECT subreddit, CAST((hour / {DAY}) * {DAY} AS REAL), SUM(posts), SUM(comments), "
    "SUM(sum_compound), SUM(positive), SUM(neutral), SUM(negative) FROM hourly "
    "WHERE {where} GROUP BY 1, 2 HAVING SUM(posts) + SUM(comments) > 0"
)


def _where(
    filters: dict[str, str | None], column: str, start: float | None, stop: float | None
) -> tuple[str, list[str | float]]:
    """Conditions `name = value` for the filters given a value, and a half-open range of
    `column` (None: open), with their parameters."""
    where = ["1"]
    params: list[str | float] = []
    for name, value in filters.items():
        if value is not None:
            where.append(f"{name} = ?")
            params.append(value)
    for op, bound in ((">=", start), ("<", stop)):
        if bound is not None:
            where.append(f"{column} {op} ?")
            params.append(bound)
    return " AND ".join(where), params


def _day_series(
    subreddit: str | None, since: float | None, until: float | None
) -> tuple[str, list[str | float]]:
    """Day buckets over the window the hour buckets use: see `day_ranges`."""
    whole, cut = day_ranges(since, until)
    selects: list[str] = []
    params: list[str | float] = []
    for sql, column, (start, stop) in [
        *([] if whole is None else [(_WHOLE_DAYS, "day", whole)]),
        *((_CUT_DAYS, "hour", hours) for hours in cut),
    ]:
        where, values = _where({"subreddit": subreddit}, column, start, stop)
        selects.append(sql.format(where=where))
        params.extend(values)
    return " UNION ALL ".join(selects) + " ORDER BY 1, 2", params
