"""Shapes of stored data the page must read well: many subreddits, data years old."""

from __future__ import annotations

import random
import time

from reddit_sentiment.models import Item, Kind
from reddit_sentiment.store.base import DAY, HOUR
from tests.factories import make_item

# Reddit's names are up to 21 characters; a few of the longest kind test the labels.
_LONG = ["AskHistoriansLongName", "explainlikeimfive_too", "dataisbeautifulindeed"]


def subreddit_names(n: int) -> list[str]:
    return [_LONG[i // 40] if i % 40 == 7 and i // 40 < 3 else f"sub{i:03d}" for i in range(n)]


def many_subreddits(n: int = 150, now: float | None = None) -> list[Item]:
    """`n` subreddits over the last 48 hours, volumes falling off like real ones (a few big,
    a long tail), with hours 10-14 ago empty everywhere (a gap)."""
    rng = random.Random(150)
    end = (now or time.time()) // HOUR * HOUR
    items: list[Item] = []
    for rank, name in enumerate(subreddit_names(n)):
        mood = rng.uniform(-0.4, 0.4)
        for _ in range(max(1, 240 // (rank + 1))):
            hours_ago = rng.choice([h for h in range(47) if not 10 <= h <= 14])
            created = end - hours_ago * HOUR + rng.uniform(0, HOUR - 1)
            compound = max(-1.0, min(1.0, rng.gauss(mood, 0.35)))
            # The long tail is all posts: a click on any of its points lists some.
            kind = Kind.POST if rank >= 20 or rng.random() < 0.4 else Kind.COMMENT
            items.append(make_item(kind=kind, subreddit=name, compound=round(compound, 4),
                                   created_utc=created, score=rng.randint(1, 500)))  # fmt: skip
    return items


TEN_YEARS = 3652 * DAY


def ten_years_old(now: float | None = None) -> list[Item]:
    """Three subreddits over three days that ended ten years ago; the tracked keyword
    `python` in some of them, `rust` in one hour only (a one-bucket series)."""
    rng = random.Random(10)
    end = ((now or time.time()) - TEN_YEARS) // HOUR * HOUR
    items: list[Item] = []
    for name, mood in (("python", 0.3), ("golang", 0.1), ("worldnews", -0.3)):
        for hours_ago in range(72):
            if 30 <= hours_ago <= 36 or rng.random() < 0.2:
                continue  # nights off, and quiet hours
            for _ in range(rng.randint(1, 4)):
                created = end - hours_ago * HOUR + rng.uniform(0, HOUR - 1)
                compound = max(-1.0, min(1.0, rng.gauss(mood, 0.3)))
                item = make_item(kind=Kind.POST, subreddit=name, compound=round(compound, 4),
                                 created_utc=created, score=rng.randint(1, 900))  # fmt: skip
                if name == "python" and rng.random() < 0.5:
                    item.keywords = ["python"]
                items.append(item)
    items.append(make_item(subreddit="golang", compound=0.4, created_utc=end - 20 * HOUR + 60))
    items[-1].keywords = ["rust"]
    return items
