"""Trending terms, posts and subreddits, served from the trending job's stored result."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from ...collection import Window, empty_result, trending_key
from ..deps import StoreDep
from ..params import SubredditParam, normalise_subreddit

router = APIRouter(prefix="/trending", tags=["trending"])


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


@router.get(
    "",
    response_model=Trending,
    summary="What is trending now, against the previous window",
    description="Terms whose mention rate rose most (stop words removed, at least "
    "TRENDING_MIN_COUNT mentions), top posts by engagement (score + comments) and by sentiment "
    "shift (comments' mean compound minus the post's), and subreddits whose mean compound "
    "moved most. Recomputed after every cycle and every TRENDING_INTERVAL_SECONDS; "
    "`computed_at` is null before the first computation.",
)
async def get_trending(
    store: StoreDep,
    window: Annotated[Window, Query(description="1h, 6h, 24h or 7d")] = "24h",
    subreddit: SubredditParam = None,
) -> dict[str, Any]:
    sub = normalise_subreddit(subreddit)
    name = str(window)
    stored = await store.get_trending(trending_key(name, sub))
    return stored if stored is not None else empty_result(name, sub)
