"""The one delta engine: how upserting items moves the pre-aggregates, for every backend.

Every store keeps, next to its items, counters per subreddit x hour (``hourly``), per
subreddit x UTC day (``daily``, the hours summed), per subreddit (``totals``) and per
keyword x subreddit x hour (``keyword_hourly``), the items of each author per subreddit x
hour and per keyword x subreddit x hour (``author_hourly``: what distinct authors in a time
window are counted from; keyword "" for all of a subreddit's items), and for trending per
subreddit x hour x term (``term_hourly``, summed per 6-hour block in ``term_block`` and per
day in ``term_daily``) and per subreddit x post (``links``). An upsert moves them by exactly
the change from an item's stored version to its new one: nothing for a new version the
aggregates count the same, else -1 for the old version (when there was one) and +1 for the
new. That bookkeeping is written here once; a
backend reads the stored versions, builds a `Version` of each, and only applies the rows this
module hands back (SQL upserts, document patches).

Rows are plain tuples ``(*key, *figures)``, the figures in `FIGURES` / `KEYWORD_FIGURES`
order (author rows: ``(keyword, subreddit, hour, author, count)``); only rows that move
something are handed out (a day or subreddit is the sum of its changed hours, so it may
still come out zero when they cancel).

`KINDS` names every kind of aggregate row the engine hands out, with its key and figure names;
`Deltas.rows(kind)` hands out a kind's rows. `store/verify.py` recomputes every kind from the
items through this engine, so a new kind (a dict on `Deltas` and its rows method) is verified
and repaired once it is listed in `KINDS` and `_ROWS` (tests/store/test_deltas.py checks that
no dict of `Deltas` is left out).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from ..models import Item, Kind
from ..terms import terms_for
from .base import BLOCK, DAY, HOUR, hour_of

FIGURES = ("posts", "comments", "sum_compound", "positive", "neutral", "negative")
KEYWORD_FIGURES = ("count", "sum_compound", "positive", "neutral", "negative")
# Per post (link) x subreddit, for trending's top posts: the post's own version counts posts,
# its creation hour (so `post_hour` is the hour while posts = 1), its compound and engagement
# (score + num_comments); each comment of it in the subreddit counts comments and compound.
LINK_FIGURES = ("posts", "post_hour", "post_compound", "engagement", "comments", "sum_compound")
LABELS = ("positive", "neutral", "negative")
# The keyword of an author row that counts all of a subreddit's items, whatever they mention.
ALL_ITEMS = ""
# The kinds that count terms, and how far back they count them. Trending reads at most two of
# its longest windows back from the current hour, summing whole days from the start of the
# first one's day (collection/trending.py `WINDOWS`, store/base.py `shared_pieces`); an item
# created before that never counts in trending, so its terms are not counted at all: an import
# of years of history writes no term rows (specs/measurements.md#import-throughput), and
# retention drops the rows an hour leaves behind once it is out of reach.
# Each term kind's width: a row counts the items of [start, start + width).
TERM_WIDTHS = {"term_hourly": HOUR, "term_block": BLOCK, "term_daily": DAY}
TERM_KINDS = tuple(TERM_WIDTHS)
TERMS_KEPT_SECONDS = 16 * DAY

Row = tuple[Any, ...]
K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class AggregateKind:
    """One kind of aggregate row: the table (SQLite) or container (Cosmos) it is kept in, its
    key fields and its figures, in the order of the engine's rows."""

    name: str
    key: tuple[str, ...]
    figures: tuple[str, ...]
    # For a kind whose key holds no time: the figure that dates a row when it is not zero
    # (links: `post_hour` while the post is counted); a row it does not date is undated.
    dated_by: str | None = None

    @property
    def time(self) -> str | None:
        """The key field that holds a bucket's start (hour, 6-hour block or day); None:
        all-time rows."""
        return next((name for name in self.key if name in ("hour", "block", "day")), None)

    def start(self, row: Row) -> float | None:
        """When a row's bucket starts (its key's time, else its dating figure); None for an
        all-time or undated row."""
        if self.time is not None:
            return float(row[self.key.index(self.time)])
        if self.dated_by is not None:
            return float(row[len(self.key) + self.figures.index(self.dated_by)]) or None
        return None


KINDS: dict[str, AggregateKind] = {
    kind.name: kind
    for kind in (
        AggregateKind("hourly", ("subreddit", "hour"), FIGURES),
        AggregateKind("daily", ("subreddit", "day"), FIGURES),
        AggregateKind("totals", ("subreddit",), FIGURES),
        AggregateKind("keyword_hourly", ("keyword", "subreddit", "hour"), KEYWORD_FIGURES),
        AggregateKind("author_hourly", ("keyword", "subreddit", "hour", "author"), ("count",)),
        AggregateKind("term_hourly", ("subreddit", "hour", "term"), ("count",)),
        AggregateKind("term_block", ("subreddit", "block", "term"), ("count",)),
        AggregateKind("term_daily", ("subreddit", "day", "term"), ("count",)),
        AggregateKind("links", ("subreddit", "link_id"), LINK_FIGURES, "post_hour"),
    )
}
# Each kind's rows method on Deltas.
_ROWS = {
    "hourly": "hourly_rows",
    "daily": "daily_rows",
    "totals": "total_rows",
    "keyword_hourly": "keyword_rows",
    "author_hourly": "author_rows",
    "term_hourly": "term_rows",
    "term_block": "term_block_rows",
    "term_daily": "term_daily_rows",
    "links": "link_rows",
}


@dataclass(frozen=True)
class Version:
    """What the aggregates count of one version of an item: a backend builds it from its
    stored row or document (`before`) and from the item being written (`Version.of`)."""

    subreddit: str
    created_utc: float
    kind: str
    compound: float
    label: str
    keywords: tuple[str, ...]
    # None for a deleted author: counted in every figure but the authors.
    author: str | None = None
    # False: the aggregates do not count this version at all (a purged item under
    # DELETED_ITEMS=drop, or one first seen purged). A stored row without the field counts.
    counted: bool = True
    # For trending (`term_hourly`, `links`): the item's terms (`terms.terms_for` of its
    # text), its fullname, its post's fullname (comments) and score + num_comments (posts).
    terms: tuple[str, ...] = ()
    fullname: str = ""
    link_id: str | None = None
    engagement: int = 0

    @classmethod
    def of(cls, item: Item, terms_since: int) -> Version:
        """`terms_since`: the writer's `terms_from` (an older item counts no terms)."""
        return cls(
            item.subreddit,
            item.created_utc,
            item.kind,  # a StrEnum: its member is the str itself (no `.value` lookup per item)
            item.compound,
            item.label,
            tuple(item.keywords),
            author_of(item.author),
            item.counted,
            counted_terms(item.kind, item.title, item.body, item.created_utc, terms_since),
            item.id,
            item.link_id,
            engagement_of(item.kind, item.score, item.num_comments),
        )

    def counts_as(self, other: Version) -> bool:
        """Whether the aggregates count both versions the same: an upsert of one over the
        other changes no aggregate (same bucket, same figures)."""
        if not (self.counted or other.counted):
            return True
        return self.counted == other.counted and (
            self.subreddit,
            hour_of(self.created_utc),
            self.compound,
            self.label,
            self.keywords,
            self.author,
            self.terms,
            self.link_id,
            self.engagement,
        ) == (
            other.subreddit,
            hour_of(other.created_utc),
            other.compound,
            other.label,
            other.keywords,
            other.author,
            other.terms,
            other.link_id,
            other.engagement,
        )


def terms_from(now: float) -> int:
    """The first hour (a UTC midnight) whose items' terms the aggregates count, at `now`: the
    term rows from it on are exact, and trending never reads before it."""
    return (int(now) // DAY) * DAY - TERMS_KEPT_SECONDS


def counted_terms(
    kind: str, title: str | None, body: str, created_utc: float, since: int
) -> tuple[str, ...]:
    """The terms an item created at `created_utc` counts (none before `since`)."""
    return terms_for(kind, title, body) if created_utc >= since else ()


# Engagement is kept within +-2**50: Cosmos DB adds it up in doubles (exact to 2**53), and a
# patch adds a change (new - old) to what is stored, so each term must stay well inside that.
MAX_ENGAGEMENT = 2**50


def engagement_of(kind: str, score: int, num_comments: int | None) -> int:
    """What trending ranks posts by (comments: 0, they are not ranked); any real score and
    comment count is far inside the bounds."""
    if kind != Kind.POST:
        return 0
    return max(-MAX_ENGAGEMENT, min(MAX_ENGAGEMENT, score + (num_comments or 0)))


class Deltas:
    """Signed changes to aggregate rows: ``hourly`` by (subreddit, hour) and
    ``keyword_hourly`` by (keyword, subreddit, hour), ``author_hourly`` by (keyword or `ALL_ITEMS`,
    subreddit, hour, author); days and totals are their hours summed
    (`daily_rows`, `total_rows`)."""

    def __init__(self) -> None:
        self.hourly: dict[tuple[str, int], list[float]] = {}
        self.keyword_hourly: dict[tuple[str, str, int], list[float]] = {}
        self.author_hourly: dict[tuple[str, str, int, str], int] = {}
        self.term_hourly: dict[tuple[str, int, str], list[float]] = {}
        self.links: dict[tuple[str, str], list[float]] = {}

    def add(self, version: Version, sign: int) -> None:
        """Count one version of an item in (+1) or out (-1)."""
        if not version.counted:
            return
        hour = hour_of(version.created_utc)
        label = LABELS.index(version.label)
        row = self.hourly.setdefault((version.subreddit, hour), [0, 0, 0.0, 0, 0, 0])
        row[0 if version.kind == Kind.POST else 1] += sign
        row[2] += sign * version.compound
        row[3 + label] += sign
        for keyword in version.keywords:
            row = self.keyword_hourly.setdefault(
                (keyword, version.subreddit, hour), [0, 0.0, 0, 0, 0]
            )
            row[0] += sign
            row[1] += sign * version.compound
            row[2 + label] += sign
        if version.author is not None:
            for scope in (ALL_ITEMS, *version.keywords):
                key = (scope, version.subreddit, hour, version.author)
                self.author_hourly[key] = self.author_hourly.get(key, 0) + sign
        self._add_trending(version, hour, sign)

    def _add_trending(self, version: Version, hour: int, sign: int) -> None:
        for term in version.terms:
            self.term_hourly.setdefault((version.subreddit, hour, term), [0])[0] += sign
        if version.kind == Kind.POST:
            link = self.links.setdefault((version.subreddit, version.fullname), _no_link())
            link[0] += sign
            link[1] += sign * hour
            link[2] += sign * version.compound
            link[3] += sign * version.engagement
        elif version.link_id:
            link = self.links.setdefault((version.subreddit, version.link_id), _no_link())
            link[4] += sign
            link[5] += sign * version.compound

    def add_upsert(self, before: Version | None, after: Version) -> bool:
        """Add the change of writing `after` over `before` (None: a new item). Returns
        whether the aggregates move at all."""
        if before is not None and before.counts_as(after):
            return False
        if before is not None:
            self.add(before, -1)
        self.add(after, +1)
        return True

    def merge(self, other: Deltas, sign: int = 1) -> None:
        """Add `other`'s changes (sign -1: take them off)."""
        _merge(self.hourly, other.hourly, sign)
        _merge(self.keyword_hourly, other.keyword_hourly, sign)
        for key, count in other.author_hourly.items():
            self.author_hourly[key] = self.author_hourly.get(key, 0) + sign * count
        _merge(self.term_hourly, other.term_hourly, sign)
        _merge(self.links, other.links, sign)

    def nonzero(self) -> bool:
        """Whether any aggregate row moves."""
        return bool(
            self.hourly_rows()
            or self.keyword_rows()
            or self.author_rows()
            or self.term_rows()
            or self.link_rows()
        )

    def hourly_rows(self) -> list[Row]:
        """(subreddit, hour, *FIGURES) for every hour that changes."""
        return [(s, h, *v) for (s, h), v in self.hourly.items() if any(v)]

    def daily_rows(self) -> list[Row]:
        """(subreddit, day, *FIGURES): the changed hours summed per subreddit and UTC day."""
        return _summed(self.hourly_rows(), lambda subreddit, hour: (subreddit, (hour // DAY) * DAY))

    def total_rows(self) -> list[Row]:
        """(subreddit, *FIGURES): the changed hours summed per subreddit."""
        return _summed(self.hourly_rows(), lambda subreddit, hour: (subreddit,))

    def keyword_rows(self) -> list[Row]:
        """(keyword, subreddit, hour, *KEYWORD_FIGURES) for every keyword hour that changes."""
        return [(k, s, h, *v) for (k, s, h), v in self.keyword_hourly.items() if any(v)]

    def rows(self, kind: str) -> list[Row]:
        """The rows of one of `KINDS` that change."""
        rows: list[Row] = getattr(self, _ROWS[kind])()
        return rows

    def author_rows(self) -> list[Row]:
        """(keyword or `ALL_ITEMS`, subreddit, hour, author, count) for every author row that
        changes."""
        return [(*key, count) for key, count in self.author_hourly.items() if count]

    def term_rows(self) -> list[Row]:
        """(subreddit, hour, term, count) for every term hour that changes."""
        return [(s, h, t, int(v[0])) for (s, h, t), v in self.term_hourly.items() if v[0]]

    def term_block_rows(self) -> list[Row]:
        """(subreddit, block, term, count): the changed term hours summed per 6-hour block."""
        return self._term_sums(TERM_WIDTHS["term_block"])

    def term_daily_rows(self) -> list[Row]:
        """(subreddit, day, term, count): the changed term hours summed per UTC day."""
        return self._term_sums(TERM_WIDTHS["term_daily"])

    def _term_sums(self, width: int) -> list[Row]:
        sums: dict[tuple[str, int, str], int] = {}
        for subreddit, hour, term, count in self.term_rows():
            key = (subreddit, (hour // width) * width, term)
            sums[key] = sums.get(key, 0) + count
        return [(*key, count) for key, count in sums.items() if count]

    def link_rows(self) -> list[Row]:
        """(subreddit, link_id, *LINK_FIGURES) for every link that changes."""
        return [(s, k, *v) for (s, k), v in self.links.items() if any(v)]


def author_of(name: str | None) -> str | None:
    """The author an item is counted under: None when Reddit no longer names one."""
    return None if not name or name == "[deleted]" else name


def item_change(before: Version | None, after: Version) -> Deltas | None:
    """The change one upsert makes, on its own (to merge, or take back); None when the
    aggregates do not move."""
    deltas = Deltas()
    return deltas if deltas.add_upsert(before, after) else None


def _no_link() -> list[float]:
    return [0, 0, 0.0, 0, 0, 0.0]


def _merge(mine: dict[K, list[float]], theirs: dict[K, list[float]], sign: int) -> None:
    for key, values in theirs.items():
        row = mine.setdefault(key, [value * 0 for value in values])
        for index, value in enumerate(values):
            row[index] += sign * value


def _summed(hourly_rows: Iterable[Row], key: Callable[[str, int], Row]) -> list[Row]:
    sums: dict[Row, list[float]] = {}
    for subreddit, hour, *figures in hourly_rows:
        row = sums.setdefault(key(subreddit, hour), [0, 0, 0.0, 0, 0, 0])
        for index, value in enumerate(figures):
            row[index] += value
    return [(*group, *figures) for group, figures in sums.items()]
