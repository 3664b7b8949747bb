"""What the API returns: every response model, in one place (pydantic: validated, and
documented in OpenAPI). The domain records they are built from are in models.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from ..models import ItemState, Kind, Label, RunKind, RunStatus

T = TypeVar("T")


# -- runs, items and the dashboard -------------------------------------------------------------


class LabelCounts(BaseModel):
    positive: int = 0
    neutral: int = 0
    negative: int = 0


class RunErrorOut(BaseModel):
    subreddit: str = Field(description="Subreddit the failure belongs to ('*' for the whole run)")
    listing: str = Field(description="Listing that failed: new, hot, comments, store, ...")
    error: str = Field(description="Error class, e.g. NotFound, Forbidden, TooManyRequests")
    message: str


class SubredditCountsOut(BaseModel):
    fetched: int = Field(description="Distinct items read from Reddit in this run")
    new: int
    updated: int
    failed: int = Field(description="Listings that failed")
    rejected: int = Field(0, description="Items skipped as malformed or unstorable")
    checked: int = Field(0, description="reconcile: items re-fetched through /api/info")
    rescored: int = Field(0, description="reconcile: edited texts scored again")
    deleted: int = Field(0, description="reconcile: items found deleted or removed (purged)")
    missing: int = Field(0, description="reconcile: items Reddit no longer serves (purged)")


class RejectedItemOut(BaseModel):
    subreddit: str
    fullname: str = Field(description="Reddit fullname (t3_..., t1_...) or what stood for it")
    reason: str


class RunOut(BaseModel):
    id: str
    kind: RunKind = Field(description="collect: a collection cycle; reconcile; import")
    status: RunStatus
    trigger: str
    started_at: datetime
    finished_at: datetime | None
    duration_seconds: float | None
    subreddits: dict[str, SubredditCountsOut]
    errors: list[RunErrorOut]
    rejections: list[RejectedItemOut] = Field(
        default_factory=list,
        description="Items skipped, with the reason (the first 100 of a run)",
    )


class SubredditSummary(BaseModel):
    subreddit: str
    posts: int
    comments: int
    mean_compound: float | None
    labels: LabelCounts


class Summary(BaseModel):
    posts: int
    comments: int
    labels: LabelCounts
    mean_compound: float | None
    subreddits: list[SubredditSummary]
    last_collection: RunOut | None
    deleted: int = Field(0, description="Items stored as deleted by their authors (purged)")
    removed: int = Field(0, description="Items stored as removed or no longer served (purged)")
    data_since: datetime | None = Field(
        description="Start of the first hour holding items (all time, this subreddit filter)"
    )
    data_until: datetime | None = Field(
        description="End of the last hour holding items (exclusive); null with no items"
    )


class SentimentBucket(BaseModel):
    start: datetime
    count: int
    posts: int
    comments: int
    mean_compound: float | None
    labels: LabelCounts


class SubredditSeries(BaseModel):
    subreddit: str
    buckets: list[SentimentBucket]


class SentimentSeries(BaseModel):
    bucket: str
    since: datetime | None
    until: datetime | None
    series: list[SubredditSeries]


class ItemOut(BaseModel):
    id: str = Field(description="Reddit fullname, t3_... for posts, t1_... for comments")
    kind: Kind
    subreddit: str
    author: str | None
    created_at: datetime
    title: str | None
    body: str
    permalink: str
    score: int
    num_comments: int | None
    parent_id: str | None
    link_id: str | None
    compound: float
    pos: float
    neu: float
    neg: float
    label: Label
    truncated: bool = Field(
        description="True when only the start of the text was scored (ANALYZER_MAX_CHARS, or "
        "the per-text cap on VADER's work)"
    )
    collected_at: datetime
    keywords: list[str] = Field(default_factory=list, description="Tracked keywords mentioned")
    state: ItemState = Field(
        ItemState.LIVE,
        description="live; edited (Reddit says the author edited it); deleted (by its author) "
        "or removed (by moderators, or no longer served): text and author purged",
    )
    state_at: datetime | None = Field(None, description="When it was first seen deleted/removed")
    edited_at: datetime | None = Field(None, description="Reddit's `edited` time")
    upvote_ratio: float | None = Field(None, description="Posts: Reddit's upvote ratio")
    checked_at: datetime | None = Field(
        None, description="When the reconcile pass last re-fetched it (null: never)"
    )


class PostWithComments(BaseModel):
    post: ItemOut
    comments: list[ItemOut]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next page")


# -- keywords ----------------------------------------------------------------------------------


class KeywordSummary(BaseModel):
    keyword: str
    mentions: int
    mean_compound: float | None
    labels: LabelCounts
    last_seen: str | None


class KeywordList(BaseModel):
    keywords: list[KeywordSummary]


class KeywordBucket(BaseModel):
    start: str
    count: int
    mean_compound: float | None
    labels: LabelCounts


class KeywordSeries(BaseModel):
    keyword: str
    bucket: str
    subreddit: str | None
    buckets: list[KeywordBucket]


# -- trending ----------------------------------------------------------------------------------


class Term(BaseModel):
    term: str
    count: int
    previous_count: int
    change: float


class TrendingPost(BaseModel):
    id: str
    subreddit: str
    title: str | None
    permalink: str
    score: int
    num_comments: int
    compound: float
    label: str
    engagement: int | None = None
    post_compound: float | None = None
    comments_mean_compound: float | None = None
    shift: float | None = None
    comments: int | None = None


class MovingSubreddit(BaseModel):
    subreddit: str
    mean_compound: float | None
    previous_mean_compound: float | None
    change: float | None
    count: int


class Trending(BaseModel):
    window: str
    subreddit: str | None
    computed_at: str | None
    items_in_window: int
    items_in_previous_window: int
    terms: list[Term]
    top_posts_by_engagement: list[TrendingPost]
    top_posts_by_sentiment_shift: list[TrendingPost]
    subreddits: list[MovingSubreddit]


# -- collections -------------------------------------------------------------------------------


class Started(BaseModel):
    id: str
    status: RunStatus = RunStatus.RUNNING
    url: str


# -- health ------------------------------------------------------------------------------------


class Liveness(BaseModel):
    status: str = "ok"


class Readiness(BaseModel):
    status: str
    storage: dict[str, Any]
    scheduler: dict[str, Any]
    collection: dict[str, Any]


# -- alerts ------------------------------------------------------------------------------------


class AlertRuleIn(BaseModel):
    """A rule as posted; its fields are checked by `alerts.rules.build_rule` (the same checks
    as ALERT_RULES_FILE), so a bad rule is a 422 whose message names the field."""

    name: str = Field(description="What the alert is called in its title")
    subreddit: str | None = Field(default=None, description="One collected subreddit; none: all")
    keyword: str | None = Field(default=None, description="A tracked keyword (TRACK_KEYWORDS)")
    metric: str = Field(description="mean_compound, mentions or negative_share")
    window: str = Field(description="1h, 6h or 24h, ending at the evaluation")
    condition: dict[str, Any] = Field(
        description='One of {"below": x}, {"above": x}, {"zscore_above": z}, {"zscore_below": z}'
    )
    min_items: Any = Field(default=0, description="Fire only with at least this many items")
    min_authors: Any = Field(default=0, description="... from at least this many authors")
    cooldown: Any = Field(default="6h", description="At most one alert per this long, e.g. 6h")
    notify: Any = Field(description="Apprise URLs (json://, form://, slack://, ntfy://, ...)")


class AlertRuleOut(BaseModel):
    id: str
    name: str
    subreddit: str | None
    keyword: str | None
    metric: str
    window: str
    condition: dict[str, float]
    min_items: int
    min_authors: int
    cooldown: str
    notify: list[str] = Field(description="The targets, masked: their secrets are never shown")
    source: str = Field(description="api, or file (ALERT_RULES_FILE)")
    created_at: datetime


class DeliveryOut(BaseModel):
    target: str = Field(description="The notify URL, masked")
    status: str = Field(description="pending, sent or failed")
    attempts: int
    error: str | None
    updated_at: datetime


class EvidencePost(BaseModel):
    id: str
    title: str
    permalink: str
    score: int


class AlertOut(BaseModel):
    id: str
    rule_id: str
    rule_name: str
    fired_at: datetime
    subreddit: str | None
    keyword: str | None
    metric: str
    window: str
    window_start: datetime
    window_end: datetime
    condition: dict[str, float]
    value: float
    items: float = Field(description="Items in the window (its first hour weighted by its share)")
    authors: int = Field(description="Distinct authors in the window")
    baseline: dict[str, float] | None = Field(
        description="previous (the window before), mean, stdev and windows (the baseline), z"
    )
    title: str
    body: str
    evidence: list[EvidencePost]
    deliveries: list[DeliveryOut]
