"""What the API returns: every response model, in one place (pydantic: validated, and
documented in OpenAPI). The domain records they are built from are in models.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from ..models import Kind, Label, RunKind, RunStatus

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
