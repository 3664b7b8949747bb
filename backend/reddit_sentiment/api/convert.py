"""Domain records -> API models."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import lru_cache

from pydantic import TypeAdapter

from ..models import (
    CollectionRun,
    Item,
    ItemOut,
    LabelCounts,
    RunErrorOut,
    RunOut,
    SubredditCountsOut,
)
from ..store.base import Aggregate


def ts(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


_DATETIME = TypeAdapter(datetime)


@lru_cache(maxsize=4096)
def iso_utc(value: float) -> str:
    """An epoch as pydantic writes a UTC datetime ("2025-01-01T00:00:00Z"); cached, because
    a series repeats the same bucket starts for every subreddit."""
    text: str = _DATETIME.dump_python(ts(value), mode="json")
    return text


def json_text(value: object) -> str:
    """Compact JSON, as pydantic's model_dump_json writes it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def item_out(item: Item) -> ItemOut:
    return ItemOut(
        id=item.id,
        kind=item.kind,
        subreddit=item.subreddit,
        author=item.author,
        created_at=ts(item.created_utc),
        title=item.title,
        body=item.body,
        permalink=item.permalink,
        score=item.score,
        num_comments=item.num_comments,
        parent_id=item.parent_id,
        link_id=item.link_id,
        compound=item.compound,
        pos=item.pos,
        neu=item.neu,
        neg=item.neg,
        label=item.label,
        truncated=item.truncated,
        collected_at=ts(item.collected_at),
        keywords=item.keywords,
    )


def run_out(run: CollectionRun) -> RunOut:
    finished = run.finished_at
    return RunOut(
        id=run.id,
        status=run.status,
        trigger=run.trigger,
        started_at=ts(run.started_at),
        finished_at=None if finished is None else ts(finished),
        duration_seconds=None if finished is None else round(finished - run.started_at, 3),
        subreddits={
            name: SubredditCountsOut(
                fetched=c.fetched, new=c.new, updated=c.updated, failed=c.failed
            )
            for name, c in run.subreddits.items()
        },
        errors=[
            RunErrorOut(subreddit=e.subreddit, listing=e.listing, error=e.error, message=e.message)
            for e in run.errors
        ],
    )


def labels_of(agg: Aggregate) -> LabelCounts:
    return LabelCounts(positive=agg.positive, neutral=agg.neutral, negative=agg.negative)


def mean_compound(agg: Aggregate) -> float | None:
    return round(agg.sum_compound / agg.count, 4) if agg.count else None


# Rendered buckets, keyed by the bucket itself (subreddit, start and every figure), so a text
# can never be stale. A dashboard polls the same windows over and over and only the newest
# hours change between polls, so most of an answer's buckets were rendered before; rendering
# was most of a series' cost, and it grows with the number of buckets. Emptied when full.
_RENDERED: dict[Aggregate, str] = {}
RENDERED_MAX = 50_000


def bucket_json(agg: Aggregate) -> str:
    """One bucket of a sentiment series, in exactly the bytes pydantic writes for
    `SentimentBucket` (a test holds it to that): only integers, one float (repr is JSON's
    spelling of it) and a cached timestamp string."""
    text = _RENDERED.get(agg)
    if text is None:
        if len(_RENDERED) >= RENDERED_MAX:
            _RENDERED.clear()
        mean = mean_compound(agg)
        text = _RENDERED[agg] = (
            f'{{"start":"{iso_utc(agg.bucket_start or 0.0)}","count":{agg.count},'
            f'"posts":{agg.posts},"comments":{agg.comments},'
            f'"mean_compound":{"null" if mean is None else repr(mean)},'
            f'"labels":{{"positive":{agg.positive},"neutral":{agg.neutral},'
            f'"negative":{agg.negative}}}}}'
        )
    return text
