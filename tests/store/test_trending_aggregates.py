"""Trending from the aggregates kept on write equals trending recomputed from the items.

Property: for any items (any subreddits, times across and beyond both windows, comments of
posts in or out of the window or of no stored post) and any later versions of them (new
text, scores, sentiment), `trending.from_aggregates(store)` == `trending.compute(items)`, on
both stores, before and after retention. Compounds are multiples of 1/8 so sums are exact
whatever order a store adds them in.
"""

from __future__ import annotations

import sqlite3
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reddit_sentiment.collection import trending
from reddit_sentiment.collection.analyzer import label_for
from reddit_sentiment.models import PURGED_STATES, Item, ItemState, Kind
from reddit_sentiment.store.base import (
    BLOCK,
    DAY,
    HOUR,
    LinkFigures,
    Span,
    Store,
    shared_pieces,
)
from reddit_sentiment.store.verify import verify
from tests.conftest import open_store
from tests.factories import BASE_TIME

NOW = BASE_TIME + 20 * DAY
WORDS = ["rocket", "launch", "python", "rust", "bug", "release", "the", "crash", "docs"]
SUBS = ["python", "rust", "golang"]

texts = st.lists(st.sampled_from(WORDS), max_size=5).map(" ".join)
compounds = st.integers(-8, 8).map(lambda n: n / 8)
ages = st.one_of(
    st.floats(-2 * HOUR, 15 * DAY),  # in, between and just past the windows
    st.floats(-2 * HOUR, 3 * HOUR),  # around the 1h window's edges
)


@st.composite
def item_sets(draw: st.DrawFn) -> tuple[list[Item], list[Item], float]:
    count = draw(st.integers(1, 40))
    posts: list[str] = []
    items: list[Item] = []
    for n in range(count):
        is_post = not posts or draw(st.booleans())
        sub = draw(st.sampled_from(SUBS))
        compound = draw(compounds)
        link = None if is_post else draw(st.sampled_from([*posts, "t3_gone"]))
        item_id = f"t3_{n:x}" if is_post else f"t1_{n:x}"
        if is_post:
            posts.append(item_id)
        items.append(
            Item(
                id=item_id,
                kind=Kind.POST if is_post else Kind.COMMENT,
                subreddit=sub,
                author="someone",
                created_utc=NOW - draw(ages),
                title=draw(texts) if is_post else None,
                body=draw(texts),
                permalink=f"/r/{sub}/comments/{n:x}/",
                score=draw(st.integers(-5, 50)),
                num_comments=draw(st.integers(0, 30)) if is_post else None,
                parent_id=link,
                link_id=link,
                compound=compound,
                label=label_for(compound),
            )
        )
    updates = []
    for item in draw(st.lists(st.sampled_from(items), max_size=10, unique_by=lambda i: i.id)):
        compound = draw(compounds)
        updates.append(
            replace(
                item,
                body=draw(texts),
                score=draw(st.integers(-5, 50)),
                compound=compound,
                label=label_for(compound),
                # deleted or removed on Reddit since: no title to show, the next post shown
                state=draw(st.sampled_from([ItemState.LIVE, ItemState.EDITED, *PURGED_STATES])),
            )
        )
    return items, updates, NOW - draw(st.floats(0, 2 * HOUR))


def _check(store: Store, now: float, first_read: int) -> None:
    stored = list(store.iter_items(since=now - 30 * DAY))
    expected = trending.compute(stored, now)
    got = trending.from_aggregates(store, now, first_read=first_read)
    assert got.keys() == expected.keys()
    for key in expected:
        assert got[key] == expected[key], key


def _run(kind: str, items: list[Item], updates: list[Item], now: float, first_read: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(kind, Path(tmp))
        try:
            store.upsert_items(items)
            store.upsert_items(updates)
            _check(store, now, first_read)
            store.delete_older_than(now - 3 * DAY - 5 * HOUR)  # inside the 7d windows
            _check(store, now, first_read)
        finally:
            store.close()  # type: ignore[attr-defined]


# How deep a refresh first reads each subreddit's rankings: below TOP_POSTS a subreddit with
# more posts is read again deeper, and a post that cannot be shown is passed over, in rounds.
first_reads = st.sampled_from([1, 2, 3, trending.TOP_POSTS])


@pytest.mark.slow
@given(item_sets(), first_reads)
@settings(max_examples=60, deadline=None)
def test_sqlite_trending_from_aggregates_equals_recomputation(
    case: tuple[list[Item], list[Item], float], first_read: int
) -> None:
    _run("sqlite", *case, first_read)


@pytest.mark.cosmos
@given(case=item_sets(), first_read=first_reads)
@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_cosmos_trending_from_aggregates_equals_recomputation(
    cosmos_server: object, case: tuple[list[Item], list[Item], float], first_read: int
) -> None:
    _run("cosmos", *case, first_read)


def _links_run(kind: str, items: list[Item], updates: list[Item], now: float, limit: int) -> None:
    """Each window's candidates are, per subreddit, its top `limit` posts of the window by
    engagement and by |comments' mean - post| as the link rows (which `verify` holds equal
    to the items) rank them: a short window's read day by day, a long one's down the ranks,
    a small `limit` so that either cuts."""
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(kind, Path(tmp))
        try:
            store.upsert_items(items)
            store.upsert_items(updates)
            # (subreddit, link_id, posts, post_hour, *the figures trending_links returns)
            rows = {
                LinkFigures(row[0], row[1], *row[4:]): row[3]
                for row in store.aggregate_rows("links")
                if row[2] == 1  # a counted post
            }
            for (since, _), _previous in trending.spans_at(now).values():
                got = store.trending_links(since, limit, trending.MIN_SHIFT_COMMENTS)
                assert len({(k.subreddit, k.link_id) for k in got}) == len(got)
                for sub in SUBS:
                    shown = {k for k in got if k.subreddit == sub}
                    window = [k for k, hour in rows.items() if k.subreddit == sub and hour >= since]
                    assert shown <= set(window)
                    engaged = sorted(window, key=lambda k: (k.engagement, k.link_id))[-limit:]
                    assert set(engaged) <= shown
                    commented = [k for k in window if k.comments >= trending.MIN_SHIFT_COMMENTS]

                    def shift(k: LinkFigures) -> float:
                        return abs(k.sum_compound / k.comments - k.post_compound)

                    top = sorted(map(shift, commented), reverse=True)[:limit]
                    picked = [k for k in shown if k.comments >= trending.MIN_SHIFT_COMMENTS]
                    assert sorted(map(shift, picked), reverse=True)[: len(top)] == top
                    assert len(shown) <= 2 * limit
                    # read alone (a further round's read): the same rows
                    alone = store.trending_links(since, limit, trending.MIN_SHIFT_COMMENTS, [sub])
                    assert sorted(alone) == sorted(shown)
        finally:
            store.close()  # type: ignore[attr-defined]


@pytest.mark.slow
@given(item_sets(), st.integers(1, 3))
@settings(max_examples=40, deadline=None)
def test_sqlite_trending_links_are_each_subreddits_top_posts(
    case: tuple[list[Item], list[Item], float], limit: int
) -> None:
    _links_run("sqlite", *case, limit)


@pytest.mark.cosmos
@given(case=item_sets(), limit=st.integers(1, 3))
@settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_cosmos_trending_links_are_each_subreddits_top_posts(
    cosmos_server: object, case: tuple[list[Item], list[Item], float], limit: int
) -> None:
    _links_run("cosmos", *case, limit)


@given(
    st.lists(
        st.tuples(st.integers(0, 30 * 24), st.one_of(st.none(), st.integers(0, 20 * 24))),
        min_size=1,
        max_size=8,
    ),
    st.one_of(st.none(), st.integers(0, 60 * 24)),
    st.integers(0, 40 * 4),
)
def test_shared_pieces_cover_exactly_each_span(
    hours: list[tuple[int, int | None]], latest_hour: int | None, first_block: int
) -> None:
    """Read once for several spans, every hour that can hold rows still counts once towards
    each span holding it and not at all towards the others; a piece is whole rows of its
    width (hours, blocks from `blocks_from` on, days), and no row is read twice."""
    origin = 1_699_920_000  # a UTC midnight
    spans: list[Span] = [
        (origin + start * HOUR, None if length is None else origin + (start + length) * HOUR)
        for start, length in hours
    ]
    latest = None if latest_hour is None else origin + latest_hour * HOUR
    blocks_from = origin + first_block * BLOCK
    horizon = origin + 60 * DAY
    covered: dict[tuple[int, int], int] = {}
    pieces = shared_pieces(spans, latest, blocks_from)
    rows = [
        (width, at)
        for width, first, end, _ in pieces
        for at in range(first, horizon if end is None else end, width)
    ]
    assert len(set(rows)) == len(rows)
    for width, first, end, uses in pieces:
        assert width in (HOUR, BLOCK, DAY)
        assert first % width == 0 and (end is None or end % width == 0)
        assert width != BLOCK or first >= blocks_from
        assert end is not None or width == DAY, "only day rows run on without an end"
        for hour in range(first, horizon if end is None else end, HOUR):
            for index, sign in uses:
                covered[(index, hour)] = covered.get((index, hour), 0) + sign
    last = horizon if latest is None else latest + HOUR
    for index, (start, end) in enumerate(spans):
        stop = horizon if end is None else end
        for hour in range(origin - DAY, min(horizon, last), HOUR):
            expected = 1 if start <= hour < stop else 0
            assert covered.get((index, hour), 0) == expected, (index, hour)


def test_trendings_windows_read_few_rows_at_a_mid_day_edge() -> None:
    """At the bench's mid-day `now` (every window edge at 12:00 or inside the current day),
    trending's 8 spans read whole days, blocks and at most a few hours: no edge is read as
    its 12 hours."""
    now = 1_735_689_600 - 11.5 * HOUR  # bench/dataset.py ANCHOR - 11.5 hours
    spans = [span for pair in trending.spans_at(now).values() for span in pair]
    pieces = shared_pieces(spans)
    rows = {HOUR: 0, BLOCK: 0, DAY: 0}
    for width, start, end, _ in pieces:
        rows[width] += 1 if end is None else (end - start) // width
    assert rows[HOUR] <= 4 and rows[BLOCK] <= 12, rows
    assert shared_pieces(spans, blocks_from=2**40) != pieces  # hours where blocks are not whole


def test_a_file_from_before_the_trending_aggregates_gets_them_derived(tmp_path: Path) -> None:
    store = open_store("sqlite", tmp_path)
    now = NOW - 1800
    comment = Item(
        id="t1_c", kind=Kind.COMMENT, subreddit="rust", author=None, created_utc=now - 60,
        title=None, body="rocket docs", permalink="/r/rust/comments/p/_/c/", score=1,
        link_id="t3_p", compound=-0.5, label=label_for(-0.5),
    )  # fmt: skip
    post = replace(comment, id="t3_p", kind=Kind.POST, title="rocket", link_id=None,
                   num_comments=4, compound=0.25, label=label_for(0.25))  # fmt: skip
    store.upsert_items([post, comment, replace(comment, id="t1_d"), replace(comment, id="t1_e")])
    expected = trending.from_aggregates(store, now)
    conn = sqlite3.connect(tmp_path / "store.db")
    with conn:
        for table in ("term_hourly", "term_block", "term_daily", "links"):
            conn.execute(f"DELETE FROM {table}")
        conn.execute("DELETE FROM meta WHERE key IN ('trending_aggregates', 'term_blocks')")
    conn.close()
    assert trending.from_aggregates(store, now)["24h|*"]["terms"] == []
    store.open()  # what a new version does with an old file
    assert trending.from_aggregates(store, now) == expected
    assert expected["24h|rust"]["top_posts_by_sentiment_shift"][0]["comments"] == 3
    store.close()  # type: ignore[attr-defined]


def test_a_file_from_before_the_term_blocks_gets_them_derived(tmp_path: Path) -> None:
    """A file with hour and day term rows but no block rows (written before blocks): opening
    it derives the blocks from the hours once, so trending at a mid-day `now` (which reads
    blocks at its edges) equals the recomputation, and verify finds no drift."""
    store = open_store("sqlite", tmp_path)
    now = NOW - 11.5 * HOUR
    items = [
        Item(
            id=f"t3_{n}",
            kind=Kind.POST,
            subreddit=SUBS[n % 3],
            author="someone",
            created_utc=now - n * 5113.0,
            title=WORDS[n % len(WORDS)],
            body=WORDS[n % 4],
            permalink=f"/r/x/comments/{n}/",
            score=n,
            num_comments=0,
            compound=0.0,
            label=label_for(0.0),
        )
        for n in range(200)  # every 85 minutes over 12 days
    ]
    store.upsert_items(items)
    conn = sqlite3.connect(tmp_path / "store.db")
    with conn:
        blocks = conn.execute("SELECT COUNT(*) FROM term_block").fetchone()[0]
        conn.execute("DELETE FROM term_block")
        conn.execute("DELETE FROM meta WHERE key = 'term_blocks'")
    assert blocks > 40
    store.open()  # what a new version does with the file
    assert conn.execute("SELECT COUNT(*) FROM term_block").fetchone()[0] == blocks
    store.open()  # once only: the rows are not added again
    assert conn.execute("SELECT COUNT(*) FROM term_block").fetchone()[0] == blocks
    conn.close()
    assert verify(store).ok
    assert trending.from_aggregates(store, now) == trending.compute(store.iter_items(), now)
    store.close()  # type: ignore[attr-defined]


async def test_a_subreddit_whose_top_posts_were_removed_shows_its_next_ones(store: Store) -> None:
    """Regression for the candidates' depth: the 15 most engaged posts of r/python's day were
    removed on Reddit (kept and counted under DELETED_ITEMS=keep, but with no title to show),
    so its top 10 by engagement are its next 10, read in further, deeper rounds; the
    all-subreddits ranking, where r/rust's posts rank between them, shows the same."""
    now = NOW

    def post(n: int, sub: str, score: int, state: ItemState = ItemState.LIVE) -> Item:
        return Item(id=f"t3_{sub}{n}", kind=Kind.POST, subreddit=sub, author="someone",
                    created_utc=now - HOUR - n, title=f"rocket {n}", body="",
                    permalink=f"/r/{sub}/comments/{n}/", score=score, num_comments=0,
                    compound=0.0, label=label_for(0.0), state=state)  # fmt: skip

    removed = [post(n, "python", 1000 - n, ItemState.REMOVED) for n in range(15)]
    live = [post(n, "python", 500 - 2 * n) for n in range(15, 40)]  # 470, 468, ...
    rust = [post(n, "rust", 463 - 10 * n) for n in range(3)]  # 463, 453, 443: among them
    store.upsert_items([*removed, *live, *rust])
    got = trending.from_aggregates(store, now)
    expected = trending.compute(list(store.iter_items()), now)
    assert got == expected
    top = [p["id"] for p in got[trending.trending_key("24h", "python")]["top_posts_by_engagement"]]
    assert top == [f"t3_python{n}" for n in range(15, 25)]
    everyone = got[trending.trending_key("24h", None)]["top_posts_by_engagement"]
    assert [p["id"] for p in everyone] == [
        *("t3_python15", "t3_python16", "t3_python17", "t3_python18", "t3_rust0"),
        *("t3_python19", "t3_python20", "t3_python21", "t3_python22", "t3_python23"),
    ]
