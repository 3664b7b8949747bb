"""Sentiment buckets rendered as the API writes them, so a store can keep them ready.

A dashboard series is JSON made of these texts. SQLite keeps each bucket's text in its
aggregate row, written with the figures, and reads a series as one string per subreddit: a
Python object per bucket was what made a long series slow, and it grew with the answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache

from pydantic import TypeAdapter

from .base import Aggregate, SeriesText

# Bump when `bucket_json` writes other bytes: a store re-renders the texts it keeps.
BUCKET_JSON_VERSION = 1

_DATETIME = TypeAdapter(datetime)


@lru_cache(maxsize=4096)
def iso_utc(value: float) -> str:
    """An epoch as pydantic writes a UTC datetime ("2025-01-01T00:00:00Z"); cached, because
    a series repeats the same bucket starts for every subreddit."""
    text: str = _DATETIME.dump_python(datetime.fromtimestamp(value, UTC), mode="json")
    return text


def mean_compound(agg: Aggregate) -> float | None:
    return round(agg.sum_compound / agg.count, 4) if agg.count else None


def bucket_json(agg: Aggregate) -> str:
    """One bucket of a sentiment series, in exactly the bytes pydantic writes for
    `SentimentBucket` (a test holds it to that): only integers, one float (repr is JSON's
    spelling of it) and a cached timestamp string."""
    mean = mean_compound(agg)
    return (
        f'{{"start":"{iso_utc(agg.bucket_start or 0.0)}","count":{agg.count},'
        f'"posts":{agg.posts},"comments":{agg.comments},'
        f'"mean_compound":{"null" if mean is None else repr(mean)},'
        f'"labels":{{"positive":{agg.positive},"neutral":{agg.neutral},'
        f'"negative":{agg.negative}}}}}'
    )


def series_texts(buckets: Iterable[Aggregate]) -> list[SeriesText]:
    """Buckets ordered by subreddit and start, rendered and joined per subreddit."""
    return joined((agg.subreddit, bucket_json(agg)) for agg in buckets)


def joined(texts: Iterable[tuple[str, str]]) -> list[SeriesText]:
    """(subreddit, rendered buckets) in series order -> one SeriesText per subreddit."""
    series: dict[str, list[str]] = {}
    for subreddit, text in texts:
        series.setdefault(subreddit, []).append(text)
    return [SeriesText(name, ",".join(parts)) for name, parts in series.items()]
