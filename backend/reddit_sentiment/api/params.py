"""Shared query parameters, validated once, documented in OpenAPI."""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Annotated

from fastapi import Query
from fastapi.exceptions import RequestValidationError
from pydantic import BeforeValidator

from ..store.base import DAY, Bucket

SUBREDDIT_PATTERN = r"^[A-Za-z0-9_]{2,21}$"
MAX_CURSOR_LENGTH = 512

SubredditParam = Annotated[
    str | None,
    Query(pattern=SUBREDDIT_PATTERN, description="Subreddit name without r/, 2-21 of [A-Za-z0-9_]"),
]
CursorParam = Annotated[
    str | None,
    Query(max_length=MAX_CURSOR_LENGTH, description="`next_cursor` from the previous page"),
]


_ISO_DATE = re.compile(r"\s*\d{4}-\d{2}-\d{2}")


def _iso_only(value: object) -> object:
    """Pydantic would read "0.5" or "-4e-284" as a Unix time; the API documents ISO 8601
    date-times only, so anything that does not start with a date is refused."""
    if isinstance(value, str) and not _ISO_DATE.match(value):
        raise ValueError("expected an ISO 8601 date-time such as 2024-05-01T12:00:00Z")
    return value


IsoDatetime = Annotated[datetime, BeforeValidator(_iso_only)]
SinceParam = Annotated[IsoDatetime | None, Query(description="ISO 8601 start (inclusive)")]
UntilParam = Annotated[IsoDatetime | None, Query(description="ISO 8601 end (exclusive)")]


def unprocessable(parameter: str, message: str) -> RequestValidationError:
    """A semantic error in a query parameter, shaped like FastAPI's own 422 (as documented)."""
    return RequestValidationError(
        [{"loc": ("query", parameter), "msg": message, "type": "value_error"}]
    )


def time_range(since: datetime | None, until: datetime | None) -> tuple[float | None, float | None]:
    """Naive datetimes are UTC, as Reddit's timestamps are."""
    start = None if since is None else _epoch(since)
    end = None if until is None else _epoch(until)
    if start is not None and end is not None and start >= end:
        raise unprocessable("since", "`since` must be before `until`")
    return start, end


DEFAULT_WINDOW = {Bucket.HOUR: 2 * DAY, Bucket.DAY: 30 * DAY}


def series_range(
    since: datetime | None, until: datetime | None, bucket: Bucket
) -> tuple[float, float | None]:
    """A time series' window: without `since`, the last 48 hours (hour buckets) or 30 days
    (day buckets) up to `until` (default now)."""
    start, end = time_range(since, until)
    if start is None:
        # Never before the Unix epoch: nothing on Reddit is older, and year 0 is no datetime.
        start = max(0.0, (time.time() if end is None else end) - DEFAULT_WINDOW[bucket])
    return start, end


def _epoch(value: datetime) -> float:
    if value.tzinfo is None:
        from datetime import UTC

        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def normalise_subreddit(name: str | None) -> str | None:
    return None if name is None else name.lower()
