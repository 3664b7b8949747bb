"""Trending terms, posts and subreddits, served from the trending job's stored result."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from ...collection import Window, empty_result, trending_key
from ..deps import StoreDep
from ..params import SubredditParam, normalise_subreddit
from ..schemas import Trending

router = APIRouter(prefix="/trending", tags=["trending"])


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
