"""What is trending: rising terms, top posts and moving subreddits, per window.

Computed off the event loop (in the collector thread, after each cycle and on a schedule) in
one streamed pass over the items of the last two windows, and stored; the API serves the
stored result, so a request costs one small read.
"""

from __future__ import annotations

import heapq
import logging
import re
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from ..models import Item, Kind
from ..store.base import Store
from .analyzer import text_of

log = logging.getLogger(__name__)

# The windows, as the API's `window` parameter names them (a Literal, so OpenAPI lists them),
# and their lengths: mypy holds every key to the Literal, a unit test holds them equal.
Window = Literal["1h", "6h", "24h", "7d"]
WINDOWS: dict[Window, int] = {"1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400}
ALL = "*"


def trending_key(window: str, subreddit: str | None) -> str:
    """The key a result is stored under: one per window and subreddit (or all of them)."""
    return f"{window}|{subreddit or ALL}"


TOP_TERMS = 20
TOP_POSTS = 10
MIN_SHIFT_COMMENTS = 3

_APOSTROPHES = "'\u2019-"
_WORD = re.compile(rf"[a-z][a-z0-9{_APOSTROPHES}]{{2,}}")
_STOP_TEXT = """
    about above after again against all also although always among and another any anyone
    anything are aren't around because been before being below between both but can can't
    cannot could couldn't did didn't does doesn't doing don't down during each either else
    enough even ever every few for from further get gets getting got had hadn't has hasn't
    have haven't having here hers herself him himself his how however i'd i'll i'm i've into
    isn't it's its itself just know let's like made make many may maybe might more most much
    must my myself need never not now off once one only other our ours ourselves out over own
    really same see she she's should shouldn't since some something still such than that that's
    the their theirs them themselves then there there's these they they'd they'll they're
    they've thing things think this those though through too under until very want was wasn't
    way we'd we'll we're we've well were weren't what what's when where which while who who's
    whom why will with within without won't would wouldn't yes yet you you'd you'll you're
    you've your yours yourself yourselves
    two three four five six seven eight nine ten first second last new old lot lots
    give gave going gone good bad great better best say said says tell told thank thanks
    nobody everyone everybody someone somebody people person guy guys time times year years
    day days today yesterday tomorrow week weeks actually literally probably pretty sure
    deleted removed https http www com amp gt lt nbsp edit
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())


def terms_of(text: str) -> set[str]:
    """Distinct content words: a term counts once per item (a mention, not a repetition)."""
    words = set()
    for word in _WORD.findall(text.lower()):
        word = word.strip(_APOSTROPHES)
        if word.endswith(("'s", "\u2019s")):  # possessive: "rocket's" is "rocket"
            word = word[:-2]
        if len(word) >= 3:
            words.add(word)
    return words - STOP_WORDS


@dataclass(slots=True)
class _Side:
    items: int = 0
    sum_compound: float = 0.0
    terms: Counter[str] = field(default_factory=Counter)


@dataclass(slots=True)
class _Window:
    current: _Side = field(default_factory=_Side)
    previous: _Side = field(default_factory=_Side)
    posts: dict[str, Item] = field(default_factory=dict)
    comments: dict[str, list[float]] = field(default_factory=dict)  # link_id -> [sum, n]
    by_subreddit: dict[str, tuple[_Side, _Side]] = field(default_factory=dict)


def compute(items: Iterable[Item], now: float, min_count: int = 3) -> dict[str, dict[str, Any]]:
    """All windows x (all subreddits and each one) in one pass; keyed 'window|subreddit'."""
    acc: dict[tuple[str, str], _Window] = {}
    for item in items:
        age = now - item.created_utc
        if age < 0:
            age = 0.0
        words: set[str] | None = None
        for name, seconds in WINDOWS.items():
            if age >= 2 * seconds:
                continue
            current = age < seconds
            if words is None:
                words = terms_of(text_of(item))
            for key in (ALL, item.subreddit):
                window = acc.setdefault((name, key), _Window())
                side = window.current if current else window.previous
                side.items += 1
                side.sum_compound += item.compound
                side.terms.update(words)
                if key == ALL:
                    pair = window.by_subreddit.setdefault(item.subreddit, (_Side(), _Side()))
                    sub_side = pair[0] if current else pair[1]
                    sub_side.items += 1
                    sub_side.sum_compound += item.compound
                if current:
                    if item.kind is Kind.POST and not item.purged:  # no title to show
                        window.posts[item.id] = item
                    elif item.link_id:
                        acc_c = window.comments.setdefault(item.link_id, [0.0, 0.0])
                        acc_c[0] += item.compound
                        acc_c[1] += 1
    computed_at = datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z")
    keys = {ALL} | {key for _, key in acc}
    # Every window for every key seen, so a window that went quiet replaces its stale result.
    return {
        trending_key(name, key): _result(
            name, key, acc.get((name, key), _Window()), computed_at, min_count
        )
        for name in WINDOWS
        for key in keys
    }


def _mean(side: _Side) -> float | None:
    return round(side.sum_compound / side.items, 4) if side.items else None


def _post(item: Item) -> dict[str, Any]:
    return {
        "id": item.id,
        "subreddit": item.subreddit,
        "title": item.title,
        "permalink": item.permalink,
        "score": item.score,
        "num_comments": item.num_comments or 0,
        "compound": item.compound,
        "label": item.label.value,
    }


def _result(name: str, key: str, w: _Window, computed_at: str, min_count: int) -> dict[str, Any]:
    n_now, n_before = w.current.items, w.previous.items
    ranked: list[tuple[float, int, str, int]] = []
    for term, count in w.current.terms.items():
        if count < min_count:
            continue
        before = w.previous.terms.get(term, 0)
        # Rate change with add-one smoothing: a term new in this window does not divide by 0.
        change = ((count + 1) / (n_now + 1)) / ((before + 1) / (n_before + 1))
        ranked.append((round(change, 3), count, term, before))
    ranked.sort(key=lambda t: (-t[0], -t[1], t[2]))
    terms = [
        {"term": term, "count": count, "previous_count": before, "change": change}
        for change, count, term, before in ranked[:TOP_TERMS]
    ]

    engaged = heapq.nlargest(
        TOP_POSTS, w.posts.values(), key=lambda p: (p.score + (p.num_comments or 0), p.id)
    )
    shifted: list[tuple[float, Item, float, int]] = []
    for post_id, (total, n) in w.comments.items():
        post = w.posts.get(post_id)
        if post is not None and n >= MIN_SHIFT_COMMENTS:
            mean = total / n
            shifted.append((round(mean - post.compound, 4), post, round(mean, 4), int(n)))
    shifted.sort(key=lambda s: (-abs(s[0]), s[1].id))
    shifts = [
        {
            **_post(post),
            "post_compound": post.compound,
            "comments_mean_compound": mean,
            "shift": shift,
            "comments": n,
        }
        for shift, post, mean, n in shifted[:TOP_POSTS]
    ]

    moving: list[tuple[bool, float, str, dict[str, Any]]] = []
    for subreddit, (now_side, before_side) in w.by_subreddit.items():
        m_now, m_before = _mean(now_side), _mean(before_side)
        delta = None if m_now is None or m_before is None else round(m_now - m_before, 4)
        row = {
            "subreddit": subreddit,
            "mean_compound": m_now,
            "previous_mean_compound": m_before,
            "change": delta,
            "count": now_side.items,
        }
        moving.append((delta is None, -abs(delta or 0.0), subreddit, row))
    moving.sort(key=lambda m: m[:3])

    return {
        "window": name,
        "subreddit": None if key == ALL else key,
        "computed_at": computed_at,
        "items_in_window": n_now,
        "items_in_previous_window": n_before,
        "terms": terms,
        "top_posts_by_engagement": [
            {**_post(p), "engagement": p.score + (p.num_comments or 0)} for p in engaged
        ],
        "top_posts_by_sentiment_shift": shifts,
        "subreddits": [row for *_, row in moving],
    }


def refresh(store: Store, min_count: int = 3, now: float | None = None) -> int:
    """Recompute and store every window; returns how many results were written."""
    now = time.time() if now is None else now
    started = time.perf_counter()
    since = now - 2 * max(WINDOWS.values())
    results = compute(store.iter_items(since=since), now, min_count)
    for key, payload in results.items():
        store.save_trending(key, payload)
    log.info("trending: %d results in %.2fs", len(results), time.perf_counter() - started)
    return len(results)


def empty(window: str, subreddit: str | None) -> dict[str, Any]:
    """What the API answers before the first computation (or for a quiet subreddit)."""
    return {
        "window": window,
        "subreddit": subreddit,
        "computed_at": None,
        "items_in_window": 0,
        "items_in_previous_window": 0,
        "terms": [],
        "top_posts_by_engagement": [],
        "top_posts_by_sentiment_shift": [],
        "subreddits": [],
    }
