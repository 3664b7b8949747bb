"""Domain records -> API models."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from ..models import CollectionRun, Item
from ..store.base import Aggregate
from .schemas import ItemOut, LabelCounts, RejectedItemOut, RunErrorOut, RunOut, SubredditCountsOut


def ts(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


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
        state=item.state,
        state_at=_ts_or_none(item.state_at),
        edited_at=_ts_or_none(item.edited_at),
        upvote_ratio=item.upvote_ratio,
        checked_at=_ts_or_none(item.checked_at),
    )


def _ts_or_none(value: float | None) -> datetime | None:
    return None if value is None else ts(value)


def run_out(run: CollectionRun) -> RunOut:
    finished = run.finished_at
    return RunOut(
        id=run.id,
        kind=run.kind,
        status=run.status,
        trigger=run.trigger,
        started_at=ts(run.started_at),
        finished_at=None if finished is None else ts(finished),
        duration_seconds=None if finished is None else round(finished - run.started_at, 3),
        subreddits={
            name: SubredditCountsOut(
                fetched=c.fetched,
                new=c.new,
                updated=c.updated,
                failed=c.failed,
                rejected=c.rejected,
                checked=c.checked,
                rescored=c.rescored,
                deleted=c.deleted,
                missing=c.missing,
            )
            for name, c in run.subreddits.items()
        },
        errors=[
            RunErrorOut(subreddit=e.subreddit, listing=e.listing, error=e.error, message=e.message)
            for e in run.errors
        ],
        rejections=[
            RejectedItemOut(subreddit=r.subreddit, fullname=r.fullname, reason=r.reason)
            for r in run.rejections
        ],
    )


def labels_of(agg: Aggregate) -> LabelCounts:
    return LabelCounts(positive=agg.positive, neutral=agg.neutral, negative=agg.negative)
