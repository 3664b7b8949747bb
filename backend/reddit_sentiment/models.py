"""Domain records shared along the data path: Reddit -> collector -> analyzer -> store -> API.

Plain dataclasses and enums, cheap to build by the thousand; what the API returns is in
api/schemas.py (pydantic, validated and documented in OpenAPI).
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from enum import StrEnum


class Kind(StrEnum):
    POST = "post"
    COMMENT = "comment"


class Label(StrEnum):
    POSITIVE = "positive"
    NEUTRAL = "neutral"
    NEGATIVE = "negative"


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


class RunKind(StrEnum):
    """What a run record records: a collection cycle, a reconcile pass, a dump import."""

    COLLECT = "collect"
    RECONCILE = "reconcile"
    IMPORT = "import"


class ItemState(StrEnum):
    """Where an item stands on Reddit, as last seen: deleted and removed items have had their
    text and author purged (issue 17)."""

    LIVE = "live"
    EDITED = "edited"
    DELETED = "deleted"  # by its author: "[deleted]" author and text
    REMOVED = "removed"  # by moderators, Reddit's admins or spam filters; or no longer served


PURGED_STATES = frozenset({ItemState.DELETED, ItemState.REMOVED})


class Listing(StrEnum):
    """The Reddit listings one cycle reads per subreddit, in the order it reads them."""

    NEW = "new"
    HOT = "hot"
    COMMENTS = "comments"


# Reddit serves at most 100 things per listing page, whatever `limit` asks for.
REDDIT_PAGE_SIZE = 100
# The store lease whose holder collects (the service's scheduler and the CLI alike).
COLLECTOR_LEASE = "collector"


def canonical(keyword: str) -> str:
    """How a tracked keyword is stored and looked up: tickers upper-case, words lower-case."""
    keyword = " ".join(keyword.split())
    return keyword.upper() if keyword.startswith("$") else keyword.lower()


@dataclass(slots=True)
class Item:
    """One submission (t3_) or comment (t1_), keyed by its Reddit fullname."""

    id: str
    kind: Kind
    subreddit: str
    author: str | None
    created_utc: float
    title: str | None
    body: str
    permalink: str
    score: int
    num_comments: int | None = None
    parent_id: str | None = None
    link_id: str | None = None
    # Filled by the analyzer
    compound: float = 0.0
    pos: float = 0.0
    neu: float = 0.0
    neg: float = 0.0
    label: Label = Label.NEUTRAL
    truncated: bool = False
    collected_at: float = 0.0
    keywords: list[str] = field(default_factory=list)
    # What the scores were computed from (analyzer.scored_text_hash); "" when not known.
    text_hash: str = ""
    # The lifecycle (issue 17): what Reddit said of the item when last read.
    upvote_ratio: float | None = None
    edited_at: float | None = None  # Reddit's `edited` time; None: never edited
    state: ItemState = ItemState.LIVE
    state_at: float | None = None  # when it was first seen deleted or removed
    checked_at: float | None = None  # the last reconcile re-fetch
    reconcile_stage: int = 0  # how many RECONCILE_AFTER ages it has been re-checked past
    # Whether the aggregates count it: False for a purged item under DELETED_ITEMS=drop.
    counted: bool = True

    @property
    def purged(self) -> bool:
        return self.state in PURGED_STATES

    # Loaded from a dump file (`import`), at some time: kept by IMPORT_RETENTION_DAYS instead
    # of RETENTION_DAYS. Once set it stays set, also when the collector sees the item again.
    imported: bool = False

    def take_scores(self, other: Item) -> None:
        """The sentiment `other` was scored with (a stored version of the same text, or of
        the text before it was purged)."""
        self.compound, self.pos, self.neu, self.neg = (
            other.compound,
            other.pos,
            other.neu,
            other.neg,
        )
        self.label, self.truncated = other.label, other.truncated


@dataclass(slots=True)
class ListingError:
    subreddit: str
    listing: str
    error: str
    message: str


@dataclass(slots=True)
class SubredditCounts:
    fetched: int = 0
    new: int = 0
    updated: int = 0
    failed: int = 0
    rejected: int = 0
    # A reconcile pass's (issue 17): items re-fetched, re-scored after an edit, found deleted
    # or removed, and no longer served by Reddit at all.
    checked: int = 0
    rescored: int = 0
    deleted: int = 0
    missing: int = 0


@dataclass(slots=True)
class RejectedItem:
    """An item a cycle could not keep, and why (the rest of its page was stored)."""

    subreddit: str
    fullname: str
    reason: str


# A run record keeps the first rejections in full; `rejected` in its counts stays exact.
MAX_REJECTIONS_KEPT = 100


@dataclass(slots=True, frozen=True)
class RateLimits:
    """Reddit's `X-Ratelimit-*` headers of the last response (PRAW's `reddit.auth.limits`)."""

    remaining: float | None = None
    used: int | None = None
    reset_at: float | None = None  # epoch seconds when the window resets
    seen_at: float | None = None


@dataclass(slots=True)
class UpsertResult:
    """What an upsert did: items new to the store and items it had, in all and per subreddit
    (one batch of an import holds many)."""

    new: int = 0
    updated: int = 0
    by_subreddit: dict[str, SubredditCounts] = field(default_factory=dict)

    def count(self, subreddit: str, *, new: bool) -> None:
        counts = self.by_subreddit.setdefault(subreddit, SubredditCounts())
        if new:
            self.new += 1
            counts.new += 1
        else:
            self.updated += 1
            counts.updated += 1

    def merge(self, other: UpsertResult) -> None:
        self.new += other.new
        self.updated += other.updated
        other.add_to(self.by_subreddit)

    def add_to(self, counts: dict[str, SubredditCounts]) -> None:
        """Add the per-subreddit new and updated counts to `counts` (a run's, or a result's)."""
        for subreddit, mine in self.by_subreddit.items():
            theirs = counts.setdefault(subreddit, SubredditCounts())
            theirs.new += mine.new
            theirs.updated += mine.updated


def new_run_id() -> str:
    """Sortable by start time, unique across processes."""
    return f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:8]}"


def process_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(slots=True)
class CollectionRun:
    id: str
    started_at: float
    trigger: str = "scheduled"
    status: RunStatus = RunStatus.RUNNING
    finished_at: float | None = None
    subreddits: dict[str, SubredditCounts] = field(default_factory=dict)
    errors: list[ListingError] = field(default_factory=list)
    owner: str = ""
    rejections: list[RejectedItem] = field(default_factory=list)
    kind: RunKind = RunKind.COLLECT

    def reject(self, subreddit: str, fullname: str, reason: str) -> None:
        """Count an item the cycle could not keep, and keep its reason while there is room."""
        self.subreddits.setdefault(subreddit, SubredditCounts()).rejected += 1
        if len(self.rejections) < MAX_REJECTIONS_KEPT:
            self.rejections.append(RejectedItem(subreddit, fullname, reason))


def failed_run(
    run_id: str,
    trigger: str,
    started_at: float,
    owner: str,
    listing: str,
    error: str,
    message: str,
) -> CollectionRun:
    """A run that ended before its cycle could record one."""
    return CollectionRun(
        id=run_id,
        started_at=started_at,
        trigger=trigger,
        owner=owner,
        finished_at=time.time(),
        status=RunStatus.FAILED,
        errors=[ListingError("*", listing, error, message)],
    )


class DeliveryStatus(StrEnum):
    """Where one alert's notification to one target stands."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


@dataclass(slots=True)
class AlertRule:
    """A watch on one metric of one scope (a subreddit, a tracked keyword, both or neither:
    everything), validated by `alerts.rules` before it is stored. `notify` holds Apprise URLs
    in full (they carry secrets): only the store and the delivery worker see them."""

    id: str
    name: str
    metric: str
    window: str
    condition: dict[str, float]
    notify: list[str]
    subreddit: str | None = None
    keyword: str | None = None
    min_items: int = 0
    min_authors: int = 0
    cooldown: str = "6h"
    created_at: float = 0.0
    source: str = "api"  # "api", or "file" for rules loaded from ALERT_RULES_FILE


@dataclass(slots=True)
class Delivery:
    """One target's delivery of one alert; `target` is the masked URL, `index` its place in
    the rule's `notify` list (what the worker sends to)."""

    index: int
    target: str
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    error: str | None = None
    updated_at: float = 0.0


@dataclass(slots=True)
class Alert:
    """A rule that fired: what it saw, against which baseline, the evidence, the deliveries."""

    id: str
    rule_id: str
    rule_name: str
    fired_at: float
    metric: str
    window: str
    window_start: float
    window_end: float
    condition: dict[str, float]
    value: float
    items: float
    authors: int
    title: str
    body: str
    subreddit: str | None = None
    keyword: str | None = None
    baseline: dict[str, float] | None = None
    evidence: list[dict[str, object]] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
