"""Dashboard reads: served from pre-aggregated buckets, never a scan of the items."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from ...models import RunKind
from ...store.base import HOUR, Aggregate, Bucket
from ...store.rendered import iso_utc, mean_compound
from ..convert import json_text, labels_of, run_out, ts
from ..deps import CacheDep, StoreDep
from ..params import (
    LAST_EPOCH,
    SinceParam,
    SubredditParam,
    UntilParam,
    normalise_subreddit,
    series_range,
    time_range,
)
from ..schemas import SentimentSeries, SubredditSummary, Summary

router = APIRouter(prefix="/dashboard", tags=["dashboard"])


@router.get(
    "/summary",
    response_model=Summary,
    summary="Totals, labels and per-subreddit means",
    description="All subreddits, or one (`subreddit`): totals, labels, means and the last "
    "collection run, over all stored items or, with `since`/`until`, the items created in "
    "that window (whole hours, as the time series count them; 422 when since is not before "
    "until). `data_since`/`data_until` are where the stored items lie (under the subreddit "
    "filter, whatever the window): a dashboard can open on them when its window is empty.",
)
async def summary(
    store: StoreDep,
    cache: CacheDep,
    subreddit: SubredditParam = None,
    since: SinceParam = None,
    until: UntilParam = None,
) -> Summary:
    name = normalise_subreddit(subreddit)
    start, end = time_range(since, until)
    # The all-time figures under the key /metrics reads them by: one store read serves both.
    key = ("totals", name) if start is None and end is None else ("totals", name, start, end)
    per_sub = await cache.get(key, lambda: store.aggregates(subreddit=name, since=start, until=end))
    states = await cache.get(("states", name), lambda: store.state_counts(name))
    total = Aggregate(subreddit="*", bucket_start=None)
    for agg in per_sub:
        total = total.plus(agg)
    runs = await cache.get(
        ("runs", 1, RunKind.COLLECT), lambda: store.list_runs(limit=1, kind=RunKind.COLLECT)
    )
    extent = await cache.get(("extent", name), lambda: store.hour_extent(subreddit=name))
    return Summary(
        posts=total.posts,
        comments=total.comments,
        labels=labels_of(total),
        mean_compound=mean_compound(total),
        subreddits=[
            SubredditSummary(
                subreddit=a.subreddit,
                posts=a.posts,
                comments=a.comments,
                mean_compound=mean_compound(a),
                labels=labels_of(a),
            )
            for a in per_sub
        ],
        last_collection=run_out(runs.runs[0]) if runs.runs else None,
        deleted=states.get("deleted", 0),
        removed=states.get("removed", 0),
        data_since=None if extent is None else ts(extent[0]),
        # An item of the last hour of year 9999 ends the data at the calendar's last second.
        data_until=None if extent is None else ts(min(extent[1] + HOUR, LAST_EPOCH)),
    )


@router.get(
    "/sentiment",
    response_model=SentimentSeries,
    summary="Sentiment over time per subreddit",
    description="Buckets by hour or day, by item creation time. Without `since`, the last "
    "48 hours (hour buckets) or 30 days (day buckets) up to `until` (default now). `since` "
    "must be before `until` (422 otherwise). The answer's `since` and `until` are the window "
    "served, in UTC: an instant outside years 1-9999 there (year 1 at +14:00 is year 0 in "
    "UTC) is served as 0001-01-01T00:00:00Z or 9999-12-31T23:59:59Z.",
)
async def sentiment(
    store: StoreDep,
    subreddit: SubredditParam = None,
    since: SinceParam = None,
    until: UntilParam = None,
    bucket: Annotated[Bucket, Query(description="Bucket size")] = Bucket.HOUR,
) -> Response:
    start, end = series_range(since, until, bucket)
    series = await store.sentiment_series(
        subreddit=normalise_subreddit(subreddit), since=start, until=end, bucket=bucket
    )
    # Written straight to JSON, in exactly the bytes pydantic would write for SentimentSeries
    # (a test holds it to that), from bucket texts the store keeps rendered: see `rendered`.
    named = ",".join(
        f'{{"subreddit":{json_text(s.subreddit)},"buckets":[{s.buckets}]}}' for s in series
    )
    until_text = "null" if end is None else f'"{iso_utc(end)}"'
    body = (
        f'{{"bucket":{json_text(bucket.value)},"since":"{iso_utc(start)}",'
        f'"until":{until_text},"series":[{named}]}}'
    )
    return Response(body.encode(), media_type="application/json")
