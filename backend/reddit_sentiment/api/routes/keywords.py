"""Tracked keywords (TRACK_KEYWORDS): mention counts and sentiment over time."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from ...models import canonical
from ...store.base import Bucket
from ..convert import ts
from ..deps import SettingsDep, StoreDep
from ..params import (
    SinceParam,
    SubredditParam,
    UntilParam,
    normalise_subreddit,
    series_range,
)
from ..schemas import KeywordBucket, KeywordList, KeywordSeries, KeywordSummary, LabelCounts

router = APIRouter(prefix="/keywords", tags=["keywords"])


def _iso(value: float) -> str:
    return ts(value).isoformat().replace("+00:00", "Z")


@router.get("", response_model=KeywordList, summary="Every tracked keyword with its totals")
async def list_keywords(
    store: StoreDep, settings: SettingsDep, subreddit: SubredditParam = None
) -> KeywordList:
    totals = {
        a.keyword: a
        for a in await store.keyword_aggregates(subreddit=normalise_subreddit(subreddit))
    }
    summaries = []
    for keyword in settings.track_keywords or sorted(totals):
        agg = totals.get(keyword)
        summaries.append(
            KeywordSummary(
                keyword=keyword,
                mentions=agg.count if agg else 0,
                mean_compound=round(agg.sum_compound / agg.count, 4) if agg else None,
                labels=LabelCounts(
                    positive=agg.positive, neutral=agg.neutral, negative=agg.negative
                )
                if agg
                else LabelCounts(),
                last_seen=_iso(agg.last_hour) if agg and agg.last_hour is not None else None,
            )
        )
    return KeywordList(keywords=summaries)


@router.get(
    "/{keyword}/sentiment",
    response_model=KeywordSeries,
    summary="Mentions and mean sentiment of one keyword over time",
    responses={404: {"description": "Not a tracked keyword"}},
)
async def keyword_sentiment(
    store: StoreDep,
    settings: SettingsDep,
    keyword: Annotated[str, Path(min_length=1, max_length=64, description="e.g. python or $TSLA")],
    bucket: Annotated[Bucket, Query(description="hour or day")] = Bucket.HOUR,
    subreddit: SubredditParam = None,
    since: SinceParam = None,
    until: UntilParam = None,
) -> KeywordSeries:
    name = canonical(keyword)
    if name not in settings.track_keywords:
        tracked = ", ".join(settings.track_keywords) or "none (set TRACK_KEYWORDS)"
        raise HTTPException(404, f"{name!r} is not a tracked keyword; tracked: {tracked}")
    start, end = series_range(since, until, bucket)
    rows = await store.keyword_aggregates(
        keyword=name,
        subreddit=normalise_subreddit(subreddit),
        since=start,
        until=end,
        bucket=bucket,
    )
    return KeywordSeries(
        keyword=name,
        bucket=bucket.value,
        subreddit=normalise_subreddit(subreddit),
        buckets=[
            KeywordBucket(
                start=_iso(a.bucket_start or 0.0),
                count=a.count,
                mean_compound=round(a.sum_compound / a.count, 4) if a.count else None,
                labels=LabelCounts(positive=a.positive, neutral=a.neutral, negative=a.negative),
            )
            for a in rows
        ],
    )
