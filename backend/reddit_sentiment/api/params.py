"""Shared query parameters, validated once, documented in OpenAPI."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Query
from fastapi.exceptions import RequestValidationError
from pydantic import BeforeValidator

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


def _iso_only(value: object) -> object:
    """Pydantic would read "0.5" as a Unix time; the API documents ISO 8601 date-times only."""
    if isinstance(value, str) and value.strip().lstrip("+-").replace(".", "", 1).isdigit():
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


def _epoch(value: datetime) -> float:
    if value.tzinfo is None:
        from datetime import UTC

        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def normalise_subreddit(name: str | None) -> str | None:
    return None if name is None else name.lower()
