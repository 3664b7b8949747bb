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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple, Protocol, runtime_checkable

from ..models import (
    CollectionRun,
    Item,
    Kind,
    Label,
    ListingError,
    RunKind,
    RunStatus,
    UpsertResult,
)

HOUR = 3600
DAY = 86400


class StoreUnavailable(RuntimeError):
    """The store cannot be reached or written; the caller reports it, nothing crashes."""


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

    async def get_item(self, item_id: str) -> Item | None: ...

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

    async def get_trending(self, key: str) -> dict[str, Any] | None: ...
