"""The evaluation maths against a recomputation from items, and the rules it follows with
little history."""

from __future__ import annotations

import asyncio
import math
import statistics
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reddit_sentiment.alerts.evaluation import HourFigures, evaluate, measure, weight
from reddit_sentiment.alerts.service import Alerting
from reddit_sentiment.models import AlertRule, Item, Label
from reddit_sentiment.settings import load_settings
from reddit_sentiment.store.base import HOUR, hour_of
from tests.conftest import STORE_KINDS, open_store
from tests.factories import BASE_TIME, make_item

NOW0 = hour_of(BASE_TIME + 40 * 86400)


def figures(items: list[tuple[float, float]]) -> dict[int, HourFigures]:
    """(created_utc, compound) pairs -> hour buckets, as the store keeps them."""
    hours: dict[int, HourFigures] = {}
    for created, compound in items:
        h = hour_of(created)
        old = hours.get(h, HourFigures(0, 0.0, 0))
        hours[h] = HourFigures(
            old.count + 1, old.sum_compound + compound, old.negative + (compound <= -0.05)
        )
    return hours


def item_share(created: float, start: float, end: float, now: float) -> float:
    """An item's share in [start, end], recomputed from its bucket: the part of the bucket
    (the current one: only up to now) inside the window."""
    h = hour_of(created)
    top = min(h + HOUR, now) if h == hour_of(now) else h + HOUR
    if top <= h:
        return 0.0
    return max(0.0, min(top, end) - max(h, start)) / (top - h)


def make_rule(**changes: Any) -> AlertRule:
    fields: dict[str, Any] = {
        "id": "r", "name": "r", "metric": "mean_compound", "window": "1h",
        "condition": {"below": 0.0}, "notify": ["json://localhost"],
    }  # fmt: skip
    fields.update(changes)
    return AlertRule(**fields)


moments = st.floats(min_value=0, max_value=HOUR - 1e-3)
data = st.lists(
    st.tuples(st.floats(min_value=0, max_value=30 * 6 * HOUR), st.floats(-1, 1)), max_size=60
)


@settings(max_examples=60, deadline=None)
@given(data, moments, st.sampled_from([1, 6, 24]))
def test_a_window_is_its_items_weighted_by_their_buckets_share(
    raw: list[tuple[float, float]], into: float, hours: int
) -> None:
    now = NOW0 + into
    items = [(now - age, compound) for age, compound in raw]
    buckets = figures(items)
    start = now - hours * HOUR
    got = measure(buckets, start, now, now)
    want_items = sum(item_share(t, start, now, now) for t, _ in items)
    want_sum = sum(item_share(t, start, now, now) * c for t, c in items)
    assert math.isclose(got.items, want_items, abs_tol=1e-6)
    assert math.isclose(got.sum_compound, want_sum, abs_tol=1e-6)
    # Back-to-back windows share their cut buckets: together they are the whole span.
    windows = 25
    parts = sum(
        measure(buckets, now - (k + 1) * hours * HOUR, now - k * hours * HOUR, now).items
        for k in range(windows)
    )
    span = measure(buckets, now - windows * hours * HOUR, now, now).items
    assert math.isclose(parts, span, abs_tol=1e-6)


def test_on_the_hour_a_window_is_its_whole_hours() -> None:
    now = float(NOW0)
    items = [(now - 10, -0.5), (now - HOUR + 1, -0.7), (now - HOUR - 1, 0.9), (now, 0.9)]
    got = measure(figures(items), now - HOUR, now, now)
    assert got.items == 2 and math.isclose(got.sum_compound, -1.2)
    assert weight(hour_of(now - HOUR), now - HOUR, now, now) == 1.0
    # At a quarter past, the hour before counts for the three quarters inside the window.
    assert weight(hour_of(now - HOUR), now + 900 - HOUR, now + 900, now + 900) == 0.75


def history(values: list[float], now: float) -> dict[int, HourFigures]:
    """One item per past 1h window (on the hour) with these compounds, newest first."""
    return figures([(now - (k + 1) * HOUR - 1800, v) for k, v in enumerate(values)])


def test_zscore_against_the_previous_windows() -> None:
    now = float(NOW0)
    past = [0.5 + 0.01 * (k % 5) for k in range(24)]
    buckets = history(past, now)
    buckets.update(figures([(now - 600, -0.4)]))
    rule = make_rule(condition={"zscore_below": -3.0})
    outcome = evaluate(rule, buckets, authors=1, now=now, baseline_windows=24)
    mean, spread = statistics.fmean(past), statistics.pstdev(past)
    assert outcome.baseline["windows"] == 24
    assert math.isclose(outcome.baseline["mean"], mean)
    assert outcome.z is not None and math.isclose(outcome.z, (-0.4 - mean) / spread)
    assert outcome.fires
    assert outcome.baseline["previous"] == past[0]


def test_a_zscore_rule_with_too_little_history_does_not_fire() -> None:
    now = float(NOW0)
    buckets = history([0.5 + 0.01 * (k % 5) for k in range(23)], now)
    buckets.update(figures([(now - 600, -0.9)]))
    outcome = evaluate(make_rule(condition={"zscore_below": -1.0}), buckets, 1, now, 24)
    assert not outcome.fires and "too little history: 23 of 24" in outcome.reason
    # The same drop against a threshold needs no history.
    assert evaluate(make_rule(condition={"below": 0.0}), buckets, 1, now, 24).fires


def test_a_flat_baseline_has_no_zscore() -> None:
    now = float(NOW0)
    buckets = history([0.5] * 24, now)
    buckets.update(figures([(now - 600, -0.9)]))
    outcome = evaluate(make_rule(condition={"zscore_below": -1.0}), buckets, 1, now, 24)
    assert not outcome.fires and "no spread" in outcome.reason


def test_min_items_and_min_authors_hold_a_rule_back() -> None:
    now = float(NOW0)
    buckets = figures([(now - 60 * n, -0.8) for n in range(1, 5)])
    assert evaluate(make_rule(min_items=4, min_authors=2), buckets, 2, now, 24).fires
    few = evaluate(make_rule(min_items=5), buckets, 2, now, 24)
    assert not few.fires and "min_items" in few.reason
    lonely = evaluate(make_rule(min_authors=3), buckets, 2, now, 24)
    assert not lonely.fires and "min_authors" in lonely.reason
    share = evaluate(make_rule(metric="negative_share", condition={"above": 0.9}), buckets, 2,
                     now, 24)  # fmt: skip
    assert share.value == 1.0 and share.fires
    mentions = evaluate(make_rule(metric="mentions", condition={"above": 3.5}), buckets, 2,
                        now, 24)  # fmt: skip
    assert mentions.value == 4 and mentions.fires


@pytest.mark.parametrize("kind", STORE_KINDS)
async def test_the_evaluator_reads_what_a_recomputation_from_the_items_gives(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if kind == "cosmos":
        request.getfixturevalue("cosmos_server")
    store = open_store(kind, tmp_path)
    try:
        now = NOW0 + 1234.5
        items: list[Item] = []
        for n in range(40):
            for sub in ("python", "rust"):
                item = make_item(subreddit=sub, compound=((n * 37) % 200 - 100) / 100,
                                 created_utc=now - n * 1700 - 5, score=n)  # fmt: skip
                item.author = f"author{n % 7}"
                item.keywords = ["rust"] if n % 3 == 0 else []
                items.append(item)
        store.upsert_items(items)
        alerting = Alerting(load_settings(), store)
        loop = asyncio.get_running_loop()

        def run(coroutine: Any) -> Any:
            return asyncio.run_coroutine_threadsafe(coroutine, loop).result(30)

        for rule in (
            make_rule(subreddit="python", window="6h"),
            make_rule(window="24h", metric="negative_share", condition={"above": 0.1}),
            make_rule(
                keyword="rust",
                subreddit="rust",
                window="6h",
                metric="mentions",
                condition={"above": 1},
            ),
        ):
            got = await asyncio.to_thread(alerting.check, rule, run, now)
            chosen = [
                i for i in items
                if (rule.subreddit is None or i.subreddit == rule.subreddit)
                and (rule.keyword is None or rule.keyword in i.keywords)
            ]  # fmt: skip
            buckets = figures([(i.created_utc, i.compound) for i in chosen])
            negatives = {h: f for h, f in buckets.items()}
            for h in negatives:  # the store counts VADER's labels, the test's items agree
                negatives[h] = HourFigures(
                    negatives[h].count, negatives[h].sum_compound,
                    sum(1 for i in chosen if hour_of(i.created_utc) == h
                        and i.label is Label.NEGATIVE),
                )  # fmt: skip
            start = now - {"1h": 1, "6h": 6, "24h": 24}[rule.window] * HOUR
            authors = {i.author for i in chosen if i.created_utc >= hour_of(start)}
            want = evaluate(rule, negatives, len(authors), now, 24)
            assert got.authors == len(authors)
            assert got.value is not None and want.value is not None
            assert math.isclose(got.value, want.value, abs_tol=1e-9), rule
            assert math.isclose(got.items, want.items, abs_tol=1e-9)
            assert got.fires == want.fires
        top = await asyncio.to_thread(alerting.top_posts, got, run)
        assert [i.score for i in top] == sorted((i.score for i in top), reverse=True)
        assert all("rust" in i.keywords for i in top) and len(top) == 3
    finally:
        await store.aclose()
