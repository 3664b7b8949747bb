"""What is trending: rising terms, top posts and moving subreddits, per window.

Read from aggregates the store keeps on every write through the delta engine (terms per
subreddit x hour and day, the hourly figures, per post x hour its engagement and comments), so
a refresh reads hours x terms and a few top posts, never the items of the windows; `compute`
is the same result recomputed from items (the invariant the tests and `verify` hold it to).
Computed off the event loop (in the collector thread, after each cycle and on a schedule) and
stored; the API serves the stored result, so a request costs one small read.

Windows are whole hours: "24h" is the current hour (so far, and anything stamped later) and
the 24 hours before it; the previous window is the 24 hours before that. A post's comments
are all its stored comments in its subreddit: on Reddit a comment is never older than its
post, and a current window has no end, so for a post in the window that is its comments in
the window (the aggregates keep per post totals, not per hour, so a refresh reads top posts
down an index instead of every commented post-hour of seven days).
"""

from __future__ import annotations

import heapq
import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any, Literal

from ..models import Item, Kind
from ..store.base import LinkFigures, ShownPost, Span, Store, hour_of
from ..store.deltas import engagement_of
from ..terms import terms_for

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


def spans_at(now: float) -> dict[str, tuple[Span, Span]]:
    """Per window: its current span (from the start of the hour `now` is in, back the
    window's length, with no end) and the previous span of the same length before it."""
    current_hour = hour_of(now)
    spans: dict[str, tuple[Span, Span]] = {}
    for name, seconds in WINDOWS.items():
        start = current_hour - seconds
        spans[name] = ((start, None), (start - seconds, start))
    return spans


# A post to show: a stored item (recomputed from the items) or what the store read of it.
_Post = Item | ShownPost


@dataclass(slots=True)
class _Side:
    items: int = 0
    sum_compound: float = 0.0
    terms: Counter[str] = field(default_factory=Counter)


@dataclass(slots=True)
class _Window:
    current: _Side = field(default_factory=_Side)
    previous: _Side = field(default_factory=_Side)
    # (post, engagement) and (post, summed compound of its comments, comments) in the window
    posts: list[tuple[_Post, int]] = field(default_factory=list)
    commented: list[tuple[_Post, float, int]] = field(default_factory=list)
    by_subreddit: dict[str, tuple[_Side, _Side]] = field(default_factory=dict)


def compute(items: Iterable[Item], now: float, min_count: int = 3) -> dict[str, dict[str, Any]]:
    """All windows x (all subreddits and each one), recomputed from items in one pass; keyed
    'window|subreddit'. The reference `refresh`'s aggregates must equal."""
    spans = spans_at(now)
    acc: dict[tuple[str, str], _Window] = {}
    posts: dict[tuple[str, str], dict[tuple[str, str], Item]] = {}
    comments: dict[tuple[str, str], list[float]] = {}
    for item in items:
        if not item.counted:
            continue  # what the aggregates leave out (DELETED_ITEMS=drop)
        if item.kind is Kind.COMMENT and item.link_id:
            sums = comments.setdefault((item.subreddit, item.link_id), [0.0, 0])
            sums[0] += item.compound
            sums[1] += 1
        hour = hour_of(item.created_utc)
        words: tuple[str, ...] | None = None
        for name, ((start, _), (before, _)) in spans.items():
            if hour < before:
                continue
            current = hour >= start
            if words is None:
                words = terms_for(item.kind.value, item.title, item.body)
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
                if current and item.kind is Kind.POST and not item.purged:  # a title to show
                    posts.setdefault((name, key), {})[(item.subreddit, item.id)] = item
    for at, window in acc.items():
        found = posts.get(at, {})
        window.posts = [(post, _engagement(post)) for post in found.values()]
        window.commented = [
            (post, comments[link][0], int(comments[link][1]))
            for link, post in found.items()
            if link in comments
        ]
    return _results(acc, now, min_count)


def refresh(store: Store, min_count: int = 3, now: float | None = None) -> int:
    """Recompute every window from the store's aggregates and store the results; returns
    how many results were written."""
    now = time.time() if now is None else now
    started = time.perf_counter()
    results = from_aggregates(store, now, min_count)
    for key, payload in results.items():
        store.save_trending(key, payload)
    log.info("trending: %d results in %.2fs", len(results), time.perf_counter() - started)
    return len(results)


def from_aggregates(
    store: Store, now: float, min_count: int = 3, first_read: int = TOP_POSTS
) -> dict[str, dict[str, Any]]:
    """What `compute` returns for the stored items, from the aggregates: hours x terms, the
    hourly figures, and per subreddit a few top posts of each window (`first_read` of each
    ranking at first, more of a subreddit whose read ones cannot all be shown)."""
    spans = spans_at(now)
    flat = [span for pair in spans.values() for span in pair]
    terms = store.trending_terms(flat)
    subreddits = store.trending_subreddits(flat)
    acc: dict[tuple[str, str], _Window] = {}

    def window(name: str, key: str) -> _Window:
        found = acc.get((name, key))
        if found is None:
            found = acc[(name, key)] = _Window()
        return found

    for index, name in enumerate(spans):
        now_at, before_at = 2 * index, 2 * index + 1
        for subreddit, figures in subreddits.items():
            pair = (_Side(*figures[now_at]), _Side(*figures[before_at]))
            if not (pair[0].items or pair[1].items):
                continue
            window(name, ALL).by_subreddit[subreddit] = pair
            for key in (ALL, subreddit):
                w = window(name, key)
                for side, figure in ((w.current, pair[0]), (w.previous, pair[1])):
                    side.items += figure.items
                    side.sum_compound += figure.sum_compound
        # The sides each pair adds to: all subreddits' and its own (made on first use, as
        # `compute` makes a window only for what it counts).
        sides: dict[str, tuple[Counter[str], Counter[str]]] = {}
        for (subreddit, term), counts in terms.items():
            current, previous = counts[now_at], counts[before_at]
            if not (current or previous):
                continue
            for key in (ALL, subreddit):
                found = sides.get(key)
                if found is None:
                    w = window(name, key)
                    found = sides[key] = (w.current.terms, w.previous.terms)
                if current:
                    found[0][term] += current
                if previous:
                    found[1][term] += previous
    starts = {name: current[0] for name, (current, _) in spans.items()}
    for (name, key), (engaged, shifted) in _shown(store, starts, first_read).items():
        w = window(name, key)
        w.posts = [(post, link.engagement) for link, post in engaged]
        w.commented = [(post, link.sum_compound, link.comments) for link, post in shifted]
    return _results(acc, now, min_count)


_Ranked = list[tuple[LinkFigures, ShownPost]]
_BY_ENGAGEMENT = attrgetter("engagement", "link_id")


def _shift(link: LinkFigures) -> float:
    return round(link.sum_compound / link.comments - link.post_compound, 4)


def _by_shift(link: LinkFigures) -> tuple[float, str]:
    return -abs(_shift(link)), link.link_id


def _showable(link: LinkFigures, post: ShownPost | None) -> bool:
    """Whether `post` (the item stored under the link's id) is the post the aggregates
    counted (not deleted since by retention, same kind and subreddit) with a title to show
    (not deleted or removed on Reddit)."""
    return (
        post is not None
        and post.kind is Kind.POST
        and post.subreddit == link.subreddit
        and not post.purged
    )


@dataclass(slots=True)
class _Read:
    """What was read of one subreddit's posts in one window: its top `limit` by each ranking
    (`trending_links`), each ranking known to be all of them when it came out shorter."""

    limit: int
    engaged: list[LinkFigures]
    shifted: list[LinkFigures]
    all_engaged: bool
    all_shifted: bool


def _read(links: list[LinkFigures], limit: int) -> dict[str, _Read]:
    """`trending_links`' rows per subreddit, as its two rankings. The rows are the union of
    both top lists: sorted by a ranking, the first `limit` are that ranking's top (every one
    of them is in the union) and the rest are not known to be next."""
    per_subreddit: dict[str, list[LinkFigures]] = {}
    for link in links:
        per_subreddit.setdefault(link.subreddit, []).append(link)
    reads: dict[str, _Read] = {}
    for subreddit, rows in per_subreddit.items():
        engaged = sorted(rows, key=_BY_ENGAGEMENT, reverse=True)
        shifted = sorted([k for k in rows if k.comments >= MIN_SHIFT_COMMENTS], key=_by_shift)
        reads[subreddit] = _Read(
            limit, engaged[:limit], shifted[:limit], len(engaged) < limit, len(shifted) < limit
        )
    return reads


def _shown(
    store: Store, starts: dict[str, int], first_read: int
) -> dict[tuple[str, str], tuple[_Ranked, _Ranked]]:
    """Per window and key, the posts `_result` ranks by engagement and by sentiment shift,
    ranked as `_result` ranks them. Each subreddit's top `first_read` of each ranking are
    read first, then only the posts that may be shown (a post that cannot be shown gives way
    to the next in a further round), and a subreddit whose read posts hold fewer than
    TOP_POSTS that can be shown is read again, twice as deep: a refresh reads about the
    posts it shows, and what it shows is each ranking's true top (the all-subreddits one
    is the subreddits' read tops merged: a post below a subreddit's read top ranks below
    TOP_POSTS of that subreddit's own that can be shown)."""
    reads = {
        name: _read(store.trending_links(start, first_read, MIN_SHIFT_COMMENTS), first_read)
        for name, start in starts.items()
    }
    stored: dict[str, ShownPost | None] = {}  # link_id -> the post stored under it, None: none

    def rankings() -> dict[tuple[str, str], tuple[list[LinkFigures], list[LinkFigures]]]:
        ranked: dict[tuple[str, str], tuple[list[LinkFigures], list[LinkFigures]]] = {}
        for name, by_subreddit in reads.items():
            for subreddit, read in by_subreddit.items():
                ranked[(name, subreddit)] = (read.engaged, read.shifted)
            engaged = [k for read in by_subreddit.values() for k in read.engaged]
            shifted = [k for read in by_subreddit.values() for k in read.shifted]
            engaged.sort(key=_BY_ENGAGEMENT, reverse=True)
            shifted.sort(key=_by_shift)
            ranked[(name, ALL)] = (engaged, shifted)
        return ranked

    def unread_at_top(ranking: list[LinkFigures], unread: set[str]) -> None:
        """Adds the ids not read yet among the first TOP_POSTS that may be showable."""
        taken = 0
        for link in ranking:
            if link.link_id not in stored:
                unread.add(link.link_id)
            elif not _showable(link, stored[link.link_id]):
                continue
            taken += 1
            if taken == TOP_POSTS:
                return

    def short(ranking: list[LinkFigures], whole: bool) -> bool:
        """Whether a subreddit's ranking, read to its `limit`, shows fewer than it may."""
        shown = sum(_showable(k, stored.get(k.link_id)) for k in ranking)
        return not whole and shown < TOP_POSTS

    ranked = rankings()
    while True:
        unread: set[str] = set()
        for pair in ranked.values():
            for ranking in pair:
                unread_at_top(ranking, unread)
        if unread:
            found = store.posts_by_id(sorted(unread))
            for link_id in unread:
                stored[link_id] = found.get(link_id)
            continue
        deeper = False
        for name, by_subreddit in reads.items():
            again: dict[int, list[str]] = {}  # the next limit -> the subreddits read to it
            for subreddit, read in by_subreddit.items():
                if short(read.engaged, read.all_engaged) or short(read.shifted, read.all_shifted):
                    again.setdefault(2 * read.limit, []).append(subreddit)
            for limit, subreddits in again.items():
                links = store.trending_links(starts[name], limit, MIN_SHIFT_COMMENTS, subreddits)
                fresh = _read(links, limit)
                for subreddit in subreddits:  # none left (deleted meanwhile): none to show
                    by_subreddit[subreddit] = fresh.get(subreddit) or _Read(
                        limit, [], [], True, True
                    )
                deeper = True
        if not deeper:
            break
        ranked = rankings()
    shown: dict[tuple[str, str], tuple[_Ranked, _Ranked]] = {}
    for at, rankings_of in ranked.items():
        tops: list[_Ranked] = []
        for ranking in rankings_of:
            top: _Ranked = []
            for link in ranking:
                post = stored.get(link.link_id)
                if post is not None and _showable(link, post):
                    top.append((link, post))
                    if len(top) == TOP_POSTS:
                        break
            tops.append(top)
        shown[at] = (tops[0], tops[1])
    return shown


def _engagement(post: Item) -> int:
    return engagement_of(post.kind, post.score, post.num_comments)


def _results(
    acc: dict[tuple[str, str], _Window], now: float, min_count: int
) -> dict[str, dict[str, Any]]:
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


def _post(item: _Post) -> dict[str, Any]:
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

    engaged = heapq.nlargest(TOP_POSTS, w.posts, key=lambda p: (p[1], p[0].id))
    shifted: list[tuple[float, _Post, float, int]] = []
    for post, total, n in w.commented:
        if n >= MIN_SHIFT_COMMENTS:
            mean = total / n
            shifted.append((round(mean - post.compound, 4), post, round(mean, 4), n))
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
            {**_post(p), "engagement": engagement} for p, engagement in engaged
        ],
        "top_posts_by_sentiment_shift": shifts,
        "subreddits": [row for *_, row in moving],
    }


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
