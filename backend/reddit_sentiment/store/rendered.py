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
    return _mean(agg.sum_compound, agg.count)


def _mean(sum_compound: float, count: int) -> float | None:
    return round(sum_compound / count, 4) if count else None


def bucket_json(agg: Aggregate) -> str:
    """One bucket of a sentiment series, in exactly the bytes pydantic writes for
    `SentimentBucket` (a test holds it to that)."""
    return render_bucket(
        agg.bucket_start or 0.0,
        agg.posts,
        agg.comments,
        agg.sum_compound,
        agg.positive,
        agg.neutral,
        agg.negative,
    )


def render_bucket(
    start: float,
    posts: int,
    comments: int,
    sum_compound: float,
    positive: int,
    neutral: int,
    negative: int,
) -> str:
    """`bucket_json` from plain figures, as SQLite passes a row's columns to it (SQL function
    `bucket_json`): only integers, one float (repr is JSON's spelling of it) and a cached
    timestamp string."""
    count = posts + comments
    mean = _mean(sum_compound, count)
    return (
        f'{{"start":"{iso_utc(start)}","count":{count},"posts":{posts},"comments":{comments},'
        f'"mean_compound":{"null" if mean is None else repr(mean)},'
        f'"labels":{{"positive":{positive},"neutral":{neutral},"negative":{negative}}}}}'
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
