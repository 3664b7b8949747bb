"""The term aggregates count what trending can reach, and nothing older.

Trending reads at most two of its longest windows back, summing whole days from the first
one's day, so a store counts an item's terms only when it was created on or after
`terms_from` of the store's clock (store/deltas.py): an import of old history writes no term
rows, and retention drops the rows an hour leaves behind once the clock has passed it.

Property, on both stores: for any items created from 40 days before the clock's start to a
day after it, written in batches (new items and later versions of earlier ones) while the
clock moves forward by any steps, then a retention run that deletes no item,
- `verify` finds no drift (the term kinds compared from `terms_from` on);
- trending from the aggregates equals trending recomputed from the items, at the clock's time
  and up to a day before it;
- no term row starts before `terms_from`.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reddit_sentiment.collection import trending
from reddit_sentiment.collection.analyzer import label_for
from reddit_sentiment.models import Item, Kind
from reddit_sentiment.store.base import DAY, HOUR, Store
from reddit_sentiment.store.deltas import TERM_KINDS, terms_from
from reddit_sentiment.store.sqlite import SqliteStore
from reddit_sentiment.store.verify import verify
from reddit_sentiment.terms import terms_for
from tests.cosmos.fixture import cosmos_test_store
from tests.factories import BASE_TIME

START = BASE_TIME + 40 * DAY  # the clock's first reading
WORDS = ["rocket", "launch", "python", "rust", "bug", "release", "crash", "docs"]
texts = st.lists(st.sampled_from(WORDS), min_size=1, max_size=4).map(" ".join)
compounds = st.integers(-8, 8).map(lambda n: n / 8)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def _thing(n: int, post: bool, created: float, link: str | None) -> Item:
    item_id = f"t3_{n:x}" if post else f"t1_{n:x}"
    return Item(
        id=item_id, kind=Kind.POST if post else Kind.COMMENT, subreddit="python",
        author="someone", created_utc=created, title="launch day" if post else None,
        body="", permalink=f"/r/python/comments/{n:x}/", score=1,
        num_comments=2 if post else None, parent_id=link, link_id=link,
    )  # fmt: skip


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[tuple[float, list[Item]]], float]:
    """Batches, each with the clock step taken before it, and how long before the clock's
    last reading trending is asked."""
    things: list[Item] = []
    for n in range(draw(st.integers(1, 12))):
        post = not things or draw(st.booleans())
        link = (
            None if post else draw(st.sampled_from([t.id for t in things if t.kind is Kind.POST]))
        )
        created = START - draw(st.floats(-DAY, 40 * DAY))
        things.append(_thing(n, post, created, link))
    batches = []
    for _ in range(draw(st.integers(1, 4))):
        chosen = draw(st.lists(st.sampled_from(things), min_size=1, unique_by=lambda t: t.id))
        versions = []
        for thing in chosen:
            compound = draw(compounds)
            versions.append(replace(thing, body=draw(texts), compound=compound,
                                    label=label_for(compound)))  # fmt: skip
        batches.append((draw(st.floats(0, 12 * DAY)), versions))
    return batches, draw(st.floats(0, DAY))


def _open(kind: str, tmp: Path, clock: Clock) -> Store:
    store: Store = (
        SqliteStore(tmp / "store.db", clock=clock)
        if kind == "sqlite"
        else cosmos_test_store(clock=clock)
    )
    store.open()
    return store


def _run(kind: str, batches: list[tuple[float, list[Item]]], before: float) -> None:
    clock = Clock()
    with tempfile.TemporaryDirectory() as tmp:
        store = _open(kind, Path(tmp), clock)
        try:
            for step, versions in batches:
                clock.now += step
                store.upsert_items([replace(item) for item in versions])
            store.delete_older_than(START - 400 * DAY)  # no item is that old: only the reach
            report = verify(store)
            assert report.ok, [d.describe() for d in report.drifts]
            since = terms_from(clock.now)
            for name in TERM_KINDS:
                starts = [row[1] for row in store.aggregate_rows(name)]
                assert all(start >= since for start in starts), (name, min(starts), since)
            now = clock.now - before
            expected = trending.compute(store.iter_items(), now)
            assert trending.from_aggregates(store, now) == expected
        finally:
            store.close()  # type: ignore[attr-defined]


@pytest.mark.slow
@given(histories())
@settings(max_examples=40, deadline=None)
def test_sqlite_counts_terms_within_trendings_reach(
    case: tuple[list[tuple[float, list[Item]]], float],
) -> None:
    _run("sqlite", *case)


@pytest.mark.cosmos
@given(case=histories())
@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_cosmos_counts_terms_within_trendings_reach(
    cosmos_server: object, case: tuple[list[tuple[float, list[Item]]], float]
) -> None:
    _run("cosmos", *case)


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("cosmos", marks=pytest.mark.cosmos)])
def test_old_history_counts_no_terms_and_recent_items_do(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if kind == "cosmos":
        request.getfixturevalue("cosmos_server")
    clock = Clock()
    store = _open(kind, tmp_path, clock)
    try:
        since = terms_from(START)
        old = replace(_thing(1, True, since - 1, None), body="rocket crash", imported=True)
        edge = replace(_thing(2, True, since, None), body="docs release")
        recent = replace(_thing(3, True, START - DAY, None), body="rocket launch")
        assert store.upsert_items([old, edge, recent]).new == 3
        assert sum(row[2] + row[3] for row in store.aggregate_rows("hourly")) == 3

        def counted(*items: Item) -> list[str]:
            return sorted(t for i in items for t in terms_for(Kind.POST, i.title, i.body))

        def stored() -> list[str]:
            return sorted(row[2] for row in store.aggregate_rows("term_hourly"))

        assert stored() == counted(edge, recent) and "crash" not in stored()
        # A week on, the edge's rows are out of reach and go at retention, the recent post's
        # stay; a month on, those go too.
        clock.now += 7 * DAY
        store.delete_older_than(START - 400 * DAY)
        assert stored() == counted(recent)
        assert verify(store).ok
        clock.now += 30 * DAY
        store.delete_older_than(START - 400 * DAY)
        assert stored() == [] and not [r for k in TERM_KINDS for r in store.aggregate_rows(k)]
        assert sum(row[2] + row[3] for row in store.aggregate_rows("hourly")) == 3
        assert verify(store).ok
    finally:
        store.close()  # type: ignore[attr-defined]


def test_the_reach_covers_every_window_trending_reads() -> None:
    """Every piece a refresh reads (two of the longest window back, from that day's start)
    starts at or after `terms_from` of a writer's clock up to a day ahead of the refresh."""
    longest = max(trending.WINDOWS, key=lambda name: trending.WINDOWS[name])
    for offset in range(0, int(2 * DAY), int(HOUR) // 2):
        clock = START + offset
        for now in (clock - DAY, clock - HOUR, clock):
            _, (first, _) = trending.spans_at(now)[longest]
            assert (int(first) // int(DAY)) * int(DAY) >= terms_from(clock), (offset, now)
