"""Shared query parameters, validated once, documented in OpenAPI."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Query
from fastapi.exceptions import RequestValidationError
from pydantic import BeforeValidator

from ..store.base import DAY, Bucket, InvalidCursor

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


@contextmanager
def cursor_checked() -> Iterator[None]:
    """A cursor the store cannot read (InvalidCursor) is a 422 naming `cursor`."""
    try:
        yield
    except InvalidCursor as error:
        raise unprocessable("cursor", "cursor is not one this API returned") from error


UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The first and last whole seconds a UTC datetime can hold (0001-01-01T00:00:00Z and
# 9999-12-31T23:59:59Z), as epochs. A valid ISO 8601 date-time can lie outside them (year 1
# at +14:00 is still year 0 in UTC); its epoch is clamped in, so every epoch handed on can
# be turned back into a datetime (the echoed window, bucket starts), and the store, which
# holds nothing that old or new, answers the same. Whole seconds: a float cannot hold the
# last microsecond of year 9999, and rounds it up into year 10000.
FIRST_EPOCH = float((datetime.min.replace(tzinfo=UTC) - UNIX_EPOCH) // timedelta(seconds=1))
LAST_EPOCH = float((datetime.max.replace(tzinfo=UTC) - UNIX_EPOCH) // timedelta(seconds=1))


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _epoch(value: datetime) -> float:
    """Seconds since the Unix epoch, clamped to [FIRST_EPOCH, LAST_EPOCH]. The difference of
    two aware datetimes is a timedelta, which holds any span of the calendar, so this never
    overflows, whatever the offset."""
    seconds = (_aware(value) - UNIX_EPOCH).total_seconds()
    return min(max(seconds, FIRST_EPOCH), LAST_EPOCH)


def time_range(since: datetime | None, until: datetime | None) -> tuple[float | None, float | None]:
    """Naive datetimes are UTC, as Reddit's timestamps are. `since` must come before `until`,
    compared as the instants given (exactly, and before clamping: two instants past the end
    of the calendar are a valid, empty window, not an error)."""
    if since is not None and until is not None and _aware(since) >= _aware(until):
        raise unprocessable("since", "`since` must be before `until`")
    return (None if since is None else _epoch(since)), (None if until is None else _epoch(until))


DEFAULT_WINDOW = {Bucket.HOUR: 2 * DAY, Bucket.DAY: 30 * DAY}


def series_range(
    since: datetime | None, until: datetime | None, bucket: Bucket
) -> tuple[float, float | None]:
    """A time series' window: without `since`, the last 48 hours (hour buckets) or 30 days
    (day buckets) up to `until` (default now)."""
    start, end = time_range(since, until)
    if start is None:
        # Never before the Unix epoch (nothing on Reddit is older), nor after `until`: an
        # `until` before 1970 is an empty window, not one that ends before it starts.
        stop = time.time() if end is None else end
        start = min(max(0.0, stop - DEFAULT_WINDOW[bucket]), stop)
    return start, end


def normalise_subreddit(name: str | None) -> str | None:
    return None if name is None else name.lower()
