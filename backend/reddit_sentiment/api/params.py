"""Shared query parameters, validated once, documented in OpenAPI."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import HTTPException, Query

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
SinceParam = Annotated[datetime | None, Query(description="ISO 8601 start (inclusive)")]
UntilParam = Annotated[datetime | None, Query(description="ISO 8601 end (exclusive)")]


def unprocessable(message: str) -> HTTPException:
    return HTTPException(422, message)


def time_range(since: datetime | None, until: datetime | None) -> tuple[float | None, float | None]:
    """Naive datetimes are UTC, as Reddit's timestamps are."""
    start = None if since is None else _epoch(since)
    end = None if until is None else _epoch(until)
    if start is not None and end is not None and start >= end:
        raise unprocessable("`since` must be before `until`")
    return start, end


def _epoch(value: datetime) -> float:
    if value.tzinfo is None:
        from datetime import UTC

        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def normalise_subreddit(name: str | None) -> str | None:
    return None if name is None else name.lower()
