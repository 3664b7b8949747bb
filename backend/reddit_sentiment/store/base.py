"""The storage protocol: what the collector writes and the API reads.

Writes are synchronous: they run in the collector's executor thread, never on the event loop.
Reads are async: API handlers await them, and each implementation keeps them off the loop
(SQLite in a small reader thread pool, Cosmos DB with its async client).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple, Protocol, TypeVar, runtime_checkable

from ..models import (
    PURGED_STATES,
    Alert,
    AlertRule,
    CollectionRun,
    Delivery,
    DeliveryStatus,
    Item,
    ItemState,
    Kind,
    Label,
    ListingError,
    RunKind,
    RunStatus,
    UpsertResult,
)

HOUR = 3600
DAY = 86400
# Trending's term counts are also kept per 6-hour block (a day's four), so a window edge
# inside a day reads a few hours and blocks, not up to 12 hours (`shared_pieces`).
BLOCK = 6 * HOUR


class StoreUnavailable(RuntimeError):
    """The store cannot be reached or written; the caller reports it, nothing crashes."""


class StoreThrottled(StoreUnavailable):
    """The store refused for now (request rate too large); worth asking again after
    `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RejectedByStore(ValueError):
    """The store refused what was written (a constraint, a value it cannot hold) while itself
    working: the writer skips the offending items instead of giving up."""


class InvalidCursor(ValueError):
    """A paging cursor that this store did not hand out."""


class Sort(StrEnum):
    NEW = "new"
    SCORE = "score"
    COMPOUND = "compound"


class Bucket(StrEnum):
    HOUR = "hour"
    DAY = "day"


class Aggregate(NamedTuple):
    """Pre-aggregated counts for one subreddit (and one time bucket, when asked per bucket).

    Immutable: a bucket is its figures, and a store builds one straight from a row."""

    subreddit: str
    bucket_start: float | None
    posts: int = 0
    comments: int = 0
    sum_compound: float = 0.0
    positive: int = 0
    neutral: int = 0
    negative: int = 0

    @property
    def count(self) -> int:  # type: ignore[override]  # shadows tuple.count(), never called
        return self.posts + self.comments

    def plus(self, other: Aggregate) -> Aggregate:
        """These figures and `other`'s, under this one's subreddit and bucket."""
        return Aggregate(
            self.subreddit,
            self.bucket_start,
            self.posts + other.posts,
            self.comments + other.comments,
            self.sum_compound + other.sum_compound,
            self.positive + other.positive,
            self.neutral + other.neutral,
            self.negative + other.negative,
        )


class SeriesText(NamedTuple):
    """One subreddit's sentiment series, as the dashboard writes it: its buckets'
    `SentimentBucket` JSON objects, oldest first, joined by commas (the inside of an array)."""

    subreddit: str
    buckets: str


@dataclass(slots=True)
class KeywordAggregate:
    """Mentions of one tracked keyword (in one time bucket, when asked per bucket)."""

    keyword: str
    bucket_start: float | None
    count: int = 0
    sum_compound: float = 0.0
    positive: int = 0
    neutral: int = 0
    negative: int = 0
    last_hour: float | None = None


# Trending's reads: a span of whole hours [start, end), end None for no end (the current
# window takes in items stamped in the future too).
Span = tuple[int, int | None]


class LinkFigures(NamedTuple):
    """One post of a window and its stored comments in its subreddit (`deltas.LINK_FIGURES`)."""

    subreddit: str
    link_id: str
    post_compound: float
    engagement: int
    comments: int
    sum_compound: float


class ShownPost(NamedTuple):
    """What a trending result shows of a post, and what says whether it can be shown
    (`posts_by_id`): not the post's text or lifecycle."""

    id: str
    kind: Kind
    subreddit: str
    title: str | None
    permalink: str
    score: int
    num_comments: int | None
    compound: float
    label: Label
    state: ItemState

    @property
    def purged(self) -> bool:
        return self.state in PURGED_STATES

    @classmethod
    def of(cls, item: Item) -> ShownPost:
        return cls(item.id, item.kind, item.subreddit, item.title, item.permalink, item.score,
                   item.num_comments, item.compound, item.label, item.state)  # fmt: skip


# A piece of several spans read at once: (width, start, end, uses): the term rows of that
# width (HOUR, BLOCK or DAY) starting in [start, end) (end None: no end), counting `sign`
# times towards each (span index, sign) of `uses`.
SharedPiece = tuple[int, int, int | None, tuple[tuple[int, int], ...]]
# A signed range of one width: (width, start, end, sign).
_Cover = list[tuple[int, int, int, int]]


def shared_pieces(
    spans: Sequence[Span], latest: int | None = None, blocks_from: int = 0
) -> list[SharedPiece]:
    """Several spans as pieces that each read their rows once, for all the spans using them
    (trending's windows share their edges: a window starts where its previous one ends, and
    every current window runs on to the latest hour). The spans are cut at each other's
    edges; whole days are day rows; in a day cut by edges each part is read as its blocks
    and hours (a part of a block as its hours or as the block less its other hours), or the
    costliest part as the day row less the rest of the day, whichever reads fewer rows;
    neighbouring rows with the same uses are read as one piece. `latest`: the last hour any
    row has, so rows after it cost nothing (an open span starting today); `blocks_from`: the
    first block whose rows are whole (earlier ones are read as hours)."""
    if not spans:
        return []
    have = None if latest is None else latest + HOUR

    def rows(start: int) -> int:  # what one row starting there costs: none after `latest`
        return 0 if have is not None and start >= have else 1

    def cover(a: int, b: int) -> _Cover:
        """[a, b) inside one day at the fewest rows, block by block."""
        pieces: _Cover = []
        for block in range((a // BLOCK) * BLOCK, b, BLOCK):
            lo, hi = max(a, block), min(b, block + BLOCK)
            inside = [(HOUR, lo, hi, 1)]
            if block >= blocks_from:
                less = [(HOUR, block, lo, -1), (HOUR, hi, block + BLOCK, -1)]
                whole = [(BLOCK, block, block + BLOCK, 1), *(p for p in less if p[1] < p[2])]
                if cost(whole) < cost(inside):
                    inside = whole
            pieces += inside
        return pieces

    def cost(pieces: _Cover) -> int:
        return sum(rows(at) for width, a, b, _ in pieces for at in range(a, b, width))

    edges = sorted({start for start, _ in spans} | {e for _, e in spans if e is not None})
    ends: list[int | None] = [*edges[1:]]
    if any(end is None for _, end in spans):
        ends.append(None)
    units: dict[tuple[int, int], dict[int, int]] = {}  # (width, start) -> span -> sign
    open_pieces: list[SharedPiece] = []  # day rows from a day on, with no end
    cut: dict[int, list[tuple[int, int, tuple[tuple[int, int], ...]]]] = {}  # day -> parts

    def add(pieces: _Cover, uses: tuple[tuple[int, int], ...]) -> None:
        for width, a, b, sign in pieces:
            for at in range(a, b, width):
                counts = units.setdefault((width, at), {})
                for index, use in uses:
                    counts[index] = counts.get(index, 0) + sign * use

    for a, b in zip(edges, ends, strict=False):
        uses = tuple(
            (index, 1)
            for index, (start, end) in enumerate(spans)
            if start <= a and (end is None or (b is not None and b <= end))
        )
        if not uses:
            continue
        day = (a // DAY) * DAY
        if a > day or (b is not None and b < day + DAY):  # a part of its first day
            part_end = day + DAY if b is None else min(b, day + DAY)
            cut.setdefault(day, []).append((a, part_end, uses))
            a = part_end
        if b is None:
            open_pieces.append((DAY, a, None, uses))
            continue
        last = (b // DAY) * DAY
        if last > a:
            add([(DAY, a, last, 1)], uses)
        if b > max(a, last):  # a part of its last day
            cut.setdefault(last, []).append((last, b, uses))
    for day, parts in cut.items():
        parts.sort()
        gaps: list[tuple[int, int]] = []
        at = day
        for a, b, _ in [*parts, (day + DAY, day + DAY, ())]:
            if a > at:
                gaps.append((at, a))
            at = b
        covers = [cover(a, b) for a, b, _ in parts]
        as_parts = sum(map(cost, covers))
        rest = sum(cost(cover(a, b)) for a, b in gaps)
        derived = max(range(len(parts)), key=lambda n: cost(covers[n]))
        if rows(day) + as_parts - cost(covers[derived]) + rest >= as_parts:
            for (_, _, uses), pieces in zip(parts, covers, strict=True):
                add(pieces, uses)
            continue
        less = tuple((index, -sign) for index, sign in parts[derived][2])
        add([(DAY, day, day + DAY, 1)], parts[derived][2])
        for a, b in gaps:
            add(cover(a, b), less)
        for n, ((_, _, uses), pieces) in enumerate(zip(parts, covers, strict=True)):
            if n != derived:
                add(pieces, uses + less)
    merged: list[SharedPiece] = []
    for (width, start), counts in sorted(units.items()):
        uses = tuple((index, sign) for index, sign in sorted(counts.items()) if sign)
        if not uses or not rows(start):
            continue  # counts towards no span, or rows not written yet
        if merged:
            last_width, first, end, last_uses = merged[-1]
            if last_width == width and end == start and last_uses == uses:
                merged[-1] = (width, first, start + width, uses)
                continue
        merged.append((width, start, start + width, uses))
    merged += [piece for piece in open_pieces if rows(piece[1])]
    return merged


@dataclass(slots=True, frozen=True)
class Lease:
    name: str
    owner: str
    expires_at: float


@dataclass(slots=True, frozen=True)
class ItemQuery:
    kind: Kind = Kind.POST
    subreddit: str | None = None
    label: Label | None = None
    link_id: str | None = None
    state: ItemState | None = None
    # Creation time window: since inclusive, until exclusive; None is open.
    since: float | None = None
    until: float | None = None
    sort: Sort = Sort.NEW
    descending: bool = True
    limit: int = 25
    cursor: str | None = None


@dataclass(slots=True, frozen=True)
class ItemPage:
    items: list[Item]
    next_cursor: str | None


@dataclass(slots=True, frozen=True)
class AlertPage:
    alerts: list[Alert]
    next_cursor: str | None


@dataclass(slots=True, frozen=True)
class RunPage:
    runs: list[CollectionRun]
    next_cursor: str | None


def bucket_seconds(bucket: Bucket | None) -> int | None:
    """Width of a time bucket; None means one bucket for all time."""
    return {None: None, Bucket.HOUR: HOUR, Bucket.DAY: DAY}[bucket]


def hour_of(created_utc: float) -> int:
    return int(created_utc // HOUR) * HOUR


def ceil_day(epoch: float) -> int:
    return int(-(-epoch // DAY)) * DAY


Range = tuple[float | None, float | None]  # start (inclusive), stop (exclusive); None: open


def day_ranges(since: float | None, until: float | None) -> tuple[Range | None, list[Range]]:
    """Split the window the hour buckets use (`hour >= hour_of(since)`, `hour < until`) for
    day buckets: the range of days it holds whole (a store reads them from its per-day
    aggregates), and the hour ranges of the days it cuts at either end, oldest first (summed
    from the hourly ones)."""
    low = None if since is None else hour_of(since)
    first = None if low is None else ceil_day(low)
    end = None if until is None else ceil_day(until - (DAY - HOUR))
    if first is not None and end is not None and end <= first:
        return None, [(low, until)]  # no whole day: every hour from the hourly aggregates
    cut: list[Range] = []
    if low is not None and first is not None and low < first:
        cut.append((low, first))
    if until is not None and end is not None and end < until:
        cut.append((end, until))
    return (first, end), cut


def interrupted(run: CollectionRun, started_before: float | None) -> CollectionRun:
    """`run`, left running, as it is recorded once its owner is known to be gone
    (`started_before` None) or it ran past the budget and its grace (stalled)."""
    run.status = RunStatus.INTERRUPTED
    run.finished_at = time.time()
    if started_before is None:
        reason = "the process running it stopped before it ended"
        run.errors.append(ListingError("*", "cycle", "Interrupted", reason))
    else:
        reason = "still running after the collection budget and its grace period"
        run.errors.append(ListingError("*", "cycle", "Stalled", reason))
    return run


def rule_doc(rule: AlertRule) -> dict[str, Any]:
    """A rule as stored (SQLite's JSON column, a Cosmos document's fields)."""
    return {
        "id": rule.id, "name": rule.name, "metric": rule.metric, "window": rule.window,
        "condition": dict(rule.condition), "notify": list(rule.notify),
        "subreddit": rule.subreddit, "keyword": rule.keyword, "min_items": rule.min_items,
        "min_authors": rule.min_authors, "cooldown": rule.cooldown,
        "created_at": rule.created_at, "source": rule.source,
    }  # fmt: skip


def rule_of(doc: dict[str, Any]) -> AlertRule:
    return AlertRule(**{name: doc[name] for name in _RULE_FIELDS if name in doc})


_RULE_FIELDS = tuple(AlertRule.__dataclass_fields__)


def alert_doc(alert: Alert) -> dict[str, Any]:
    """An alert as stored: its fields, the deliveries as plain objects."""
    doc = {name: getattr(alert, name) for name in _ALERT_FIELDS}
    doc["deliveries"] = [
        {name: getattr(d, name) for name in _DELIVERY_FIELDS} for d in alert.deliveries
    ]
    return doc


def alert_of(doc: dict[str, Any]) -> Alert:
    fields = {name: doc[name] for name in _ALERT_FIELDS if name in doc}
    fields["deliveries"] = [
        Delivery(**{**{n: d[n] for n in _DELIVERY_FIELDS}, "status": DeliveryStatus(d["status"])})
        for d in doc.get("deliveries", [])
    ]
    return Alert(**fields)


_ALERT_FIELDS = tuple(Alert.__dataclass_fields__)
_DELIVERY_FIELDS = tuple(Delivery.__dataclass_fields__)


def sort_value(item: Item, sort: Sort) -> float:
    if sort is Sort.SCORE:
        return float(item.score)
    if sort is Sort.COMPOUND:
        return item.compound
    return item.created_utc


def item_page(read: list[Item], query: ItemQuery) -> ItemPage:
    """A page from `query.limit + 1` items read in order: the first `limit`, and a cursor
    after the last of them when there was one more."""
    items = read[: query.limit]
    if len(read) <= query.limit:
        return ItemPage(items=items, next_cursor=None)
    last = items[-1]
    return ItemPage(items=items, next_cursor=encode_cursor(sort_value(last, query.sort), last.id))


class Dated(Protocol):
    """A run or an alert: listed newest first by its time field, then by id."""

    @property
    def id(self) -> str: ...


_Row = TypeVar("_Row")
_Dated = TypeVar("_Dated", bound=Dated)


def newest_first_page(
    read: Sequence[_Row], limit: int, field: str, convert: Callable[[_Row], _Dated]
) -> tuple[list[_Dated], str | None]:
    """A page of runs or alerts from `limit + 1` rows read newest first by (`field`, id): the
    first `limit`, converted, and a cursor after the last of them when there was one more."""
    page = [convert(row) for row in read[:limit]]
    if len(read) <= limit or not page:
        return page, None
    last = page[-1]
    return page, encode_cursor(getattr(last, field), last.id)


def encode_cursor(value: float, item_id: str) -> str:
    raw = json.dumps([value, item_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value, item_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(item_id, str) or not isinstance(value, int | float):
            raise TypeError
        number = float(value)  # OverflowError for an integer no float holds
        if not math.isfinite(number):
            raise ValueError
        return number, item_id
    except (ValueError, TypeError, OverflowError, binascii.Error) as error:
        raise InvalidCursor("cursor is not one this API returned") from error


@runtime_checkable
class Store(Protocol):
    """Both backends implement exactly this; one contract test suite runs against each."""

    name: str

    # -- lifecycle ---------------------------------------------------------------------
    def open(self) -> None:
        """Create schema/containers if missing. Called once, off the event loop."""

    async def aclose(self) -> None:
        """Release connections and thread pools."""

    # -- write path (collector thread) -----------------------------------------------
    def upsert_items(self, items: Sequence[Item]) -> UpsertResult:
        """Insert or update by Reddit fullname and keep the aggregates in step."""

    def known_scores(self, items: Sequence[Item]) -> dict[str, Item]:
        """The stored versions of those of `items` that are stored, by fullname, wherever
        they are stored: the cycle keeps their subreddit and creation time (never changed by
        Reddit, so a response that says otherwise is not believed) and reuses their scores
        when the text they were computed from has not changed."""

    def due_items(
        self,
        *,
        stage: int,
        created_after: float | None,
        created_until: float,
        subreddit: str | None = None,
        limit: int = 100,
    ) -> list[Item]:
        """Items at reconcile stage `stage` created in (created_after, created_until],
        oldest first (an indexed query): what the reconcile pass re-fetches next."""

    def checkpoint(self) -> None:
        """Leave no old copy of purged text where the backend keeps its bytes (SQLite: the
        WAL written into the file and truncated; Cosmos DB keeps none itself). `upsert_items`
        does this after a purge; the reconcile pass again after rewriting trending."""

    def save_run(self, run: CollectionRun) -> None:
        """Insert or replace a collection run record."""

    def interrupt_running_runs(self, started_before: float | None = None) -> int:
        """Mark runs left `running` (by a dead process, or stalled: those started before
        `started_before`) as `interrupted`, with the reason in their errors; return how many."""

    def delete_older_than(self, cutoff_utc: float, imported_cutoff_utc: float | None = None) -> int:
        """Retention: delete collected items created before the cutoff's hour and imported
        ones before `imported_cutoff_utc`'s (None: keep them), each taken off its aggregates
        (a bucket keeps the figures of the items it still holds; empty ones go); return how
        many items were deleted."""

    def acquire_lease(self, name: str, owner: str, ttl_seconds: float) -> bool:
        """Take the named lease if free or expired, or renew it if `owner` holds it.

        Atomic across processes (a conditional write); True when `owner` holds it afterwards.
        """

    def release_lease(self, name: str, owner: str) -> None:
        """Give the lease up if `owner` holds it, so another process can take over at once."""

    # -- read path (API) ---------------------------------------------------------------
    async def ping(self) -> None:
        """Raise StoreUnavailable when the store cannot answer."""

    async def aggregates(
        self,
        *,
        subreddit: str | None = None,
        since: float | None = None,
        until: float | None = None,
        bucket: Bucket | None = None,
    ) -> list[Aggregate]:
        """Per subreddit totals (bucket None) or per subreddit x bucket, ordered by both."""

    async def hour_extent(self, *, subreddit: str | None = None) -> tuple[float, float] | None:
        """The first and the last hour (bucket starts) that hold items, all subreddits or
        one, from the hourly aggregates (never a scan of items); None when none do. The
        dashboard opens on the newest data with it when its default window is empty."""

    async def sentiment_series(
        self,
        *,
        subreddit: str | None = None,
        since: float | None = None,
        until: float | None = None,
        bucket: Bucket = Bucket.HOUR,
    ) -> list[SeriesText]:
        """The non-empty buckets `aggregates` returns for the same arguments, rendered by
        `rendered.bucket_json`, per subreddit in subreddit order (a dashboard's series)."""

    async def list_items(self, query: ItemQuery) -> ItemPage: ...

    async def get_item(self, item_id: str, subreddit: str | None = None) -> Item | None:
        """One stored item by fullname; with `subreddit` (its partition in Cosmos DB, where
        that makes it a point read), only if it is stored in that subreddit."""

    async def state_counts(self, subreddit: str | None = None) -> dict[str, int]:
        """How many stored items are `deleted` and `removed` (only states with any)."""

    async def list_runs(
        self, limit: int, cursor: str | None = None, kind: RunKind | None = None
    ) -> RunPage:
        """Newest first; only runs of `kind` when given."""

    async def get_run(self, run_id: str) -> CollectionRun | None: ...

    async def lease_holder(self, name: str) -> Lease | None:
        """The current, unexpired holder of the lease, if any."""

    async def keyword_aggregates(
        self,
        *,
        keyword: str | None = None,
        subreddit: str | None = None,
        since: float | None = None,
        until: float | None = None,
        bucket: Bucket | None = None,
    ) -> list[KeywordAggregate]:
        """Per keyword totals with `last_hour` (bucket None), or per keyword x bucket;
        ordered by keyword, then bucket. Served from aggregates kept up to date on write."""

    # -- batch reads (off the event loop: trending job, CLI export) ----------------------
    def iter_items(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        subreddit: str | None = None,
        kind: Kind | None = None,
    ) -> Iterator[Item]:
        """Items by creation time, oldest first, streamed in pages (never all in memory)."""

    def save_trending(self, key: str, payload: dict[str, Any]) -> None:
        """Store the trending job's result under `key` (window and subreddit)."""

    def trending_terms(self, spans: Sequence[Span]) -> dict[tuple[str, str], list[int]]:
        """Per (subreddit, term): the items mentioning the term in each span (from the
        term aggregates kept on write, read as `shared_pieces`; only pairs counted in some
        span)."""

    def trending_subreddits(self, spans: Sequence[Span]) -> dict[str, list[tuple[int, float]]]:
        """Per subreddit: (items, summed compound) in each span (from the hourly aggregates)."""

    def trending_links(
        self, since: int, limit: int, min_comments: int, subreddits: Sequence[str] | None = None
    ) -> list[LinkFigures]:
        """Posts created from hour `since` on, with their stored comments: per subreddit (of
        `subreddits`, or every one) the top `limit` by engagement and the top `limit` with at
        least `min_comments` comments by |comments' mean compound - post's compound| (from
        the link aggregates)."""

    def posts_by_id(self, ids: Sequence[str]) -> dict[str, ShownPost]:
        """What trending shows of the stored items among `ids`, by fullname (a bounded read:
        its top posts)."""

    async def get_trending(self, key: str) -> dict[str, Any] | None: ...

    # -- verification (CLI verify/repair, the scheduled verify; off the event loop) --------
    def snapshot(self) -> AbstractContextManager[None]:
        """Reads by this thread inside it see one state of the store where the backend can
        (SQLite: one read transaction); where it cannot (Cosmos DB), nothing."""

    def kept_aggregates(self) -> dict[str, float | None]:
        """The aggregate kinds (names in `deltas.KINDS`) this store keeps, each with the first
        bucket start it holds exact (None: every bucket): `store/verify.py` compares those."""

    def terms_from(self) -> int:
        """The first hour whose items' terms the term aggregates count now (`deltas.terms_from`
        of the store's clock): those kinds' `kept_aggregates` start is never before it."""

    def aggregate_rows(self, kind: str, since: float | None = None) -> Iterator[tuple[Any, ...]]:
        """Every stored row of a kept kind as `Deltas` hands them out, (*key, *figures),
        streamed; with `since`, only buckets that start at or after it."""

    def imported_rows(self, kind: str) -> Iterator[tuple[Any, ...]] | None:
        """The rows of a kept kind that count imported items alone, for a store that keeps
        those apart and exact for all time while its other rows are exact only from a
        `kept_aggregates` start (Cosmos DB: imported history's documents); None for a kind
        whose rows count both origins together (Cosmos DB's links, one document per post),
        compared only from its start. A store that keeps every row exact (start None) is not
        asked."""

    def rebuild_aggregates(self) -> int:
        """Make every kept aggregate (from its `kept_aggregates` start on) equal a
        recomputation from the items, streamed; return how many rows were rewritten. The
        caller holds the collector lease (the `repair` command)."""

    # -- alerts (rules written by the API off the loop, alerts by the collector thread) --
    async def distinct_authors(
        self,
        *,
        subreddit: str | None = None,
        keyword: str | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> int:
        """Distinct named authors of the items in the hours `aggregates` reads for the same
        window (of those mentioning `keyword`, when given), from the author aggregates."""

    def save_alert_rule(self, rule: AlertRule) -> None:
        """Insert or replace a rule by id."""

    def delete_alert_rule(self, rule_id: str) -> bool:
        """Delete a rule; False when there was none."""

    async def list_alert_rules(self) -> list[AlertRule]:
        """Every rule, by id."""

    async def get_alert_rule(self, rule_id: str) -> AlertRule | None: ...

    def save_alert(self, alert: Alert) -> None:
        """Insert or replace a fired alert by id (its deliveries move on after it fired)."""

    async def list_alerts(
        self, limit: int, cursor: str | None = None, rule_id: str | None = None
    ) -> AlertPage:
        """Fired alerts newest first (by `fired_at`, then id); only `rule_id`'s when given."""
