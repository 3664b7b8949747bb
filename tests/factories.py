"""Small builders for test data: items with known sentiment, runs with known counts."""

from __future__ import annotations

import itertools

from reddit_sentiment.collection.analyzer import label_for
from reddit_sentiment.models import (
    Alert,
    CollectionRun,
    Delivery,
    DeliveryStatus,
    Item,
    Kind,
    RunStatus,
    SubredditCounts,
)

_ids = itertools.count(1)

BASE_TIME = 1_700_000_000.0  # 2023-11-14T22:13:20Z, a fixed point so buckets are predictable


def make_item(
    *,
    kind: Kind = Kind.POST,
    subreddit: str = "python",
    compound: float = 0.0,
    created_utc: float = BASE_TIME,
    score: int = 1,
    link_id: str | None = None,
    item_id: str | None = None,
    body: str = "text",
) -> Item:
    n = next(_ids)
    prefix = "t3" if kind is Kind.POST else "t1"
    return Item(
        id=item_id or f"{prefix}_{n:x}",
        kind=kind,
        subreddit=subreddit,
        author=f"user{n}",
        created_utc=created_utc,
        title=f"title {n}" if kind is Kind.POST else None,
        body=body,
        permalink=f"/r/{subreddit}/comments/{n:x}/",
        score=score,
        num_comments=0 if kind is Kind.POST else None,
        parent_id=link_id,
        link_id=link_id,
        compound=compound,
        pos=max(compound, 0.0),
        neu=1 - abs(compound),
        neg=max(-compound, 0.0),
        label=label_for(compound),
        collected_at=created_utc + 60,
    )


def make_run(
    run_id: str, started_at: float, status: RunStatus = RunStatus.SUCCEEDED
) -> CollectionRun:
    return CollectionRun(
        id=run_id,
        started_at=started_at,
        finished_at=None if status is RunStatus.RUNNING else started_at + 5,
        status=status,
        subreddits={"python": SubredditCounts(fetched=3, new=2, updated=1, failed=0)},
    )


def make_alert(alert_id: str, fired_at: float, rule_id: str = "r1") -> Alert:
    return Alert(
        id=alert_id, rule_id=rule_id, rule_name="r", fired_at=fired_at, metric="mentions",
        window="1h", window_start=fired_at - 3600, window_end=fired_at,
        condition={"above": 1.0}, value=3.0, items=3.0, authors=2, title="t", body="b",
        evidence=[{"id": "t3_x", "title": "x", "permalink": "https://r/x", "score": 1}],
        deliveries=[Delivery(0, "json://host", DeliveryStatus.SENT, 1, None, fired_at)],
    )  # fmt: skip
