"""Hypothesis strategies for the date-times the API takes, shared by the property tests and
the schemathesis run (its `date-time` format).

Every ISO 8601 date-time pydantic accepts is valid input: any day of years 1-9999, at any UTC
offset up to ±23:59 (real zones span -12:00 to +14:00). The ends of the calendar are drawn
often, because that is where an instant stops being a datetime in UTC: year 1 at +14:00 is
still year 0 there, and year 9999 at -14:00 already year 10000.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo

from hypothesis import strategies as st
from pydantic import TypeAdapter

MAX_OFFSET = timedelta(hours=23, minutes=59)

offsets: st.SearchStrategy[tzinfo] = st.one_of(
    st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-14))]),
    st.sampled_from([timezone(MAX_OFFSET), timezone(-MAX_OFFSET)]),
    st.integers(-MAX_OFFSET // timedelta(minutes=1), MAX_OFFSET // timedelta(minutes=1)).map(
        lambda minutes: timezone(timedelta(minutes=minutes))
    ),
)

# Local times at the ends of the calendar, and a day in, and the Unix epoch.
EDGE_TIMES = [
    datetime.min,
    datetime.min + timedelta(hours=10),
    datetime(1, 1, 2),
    datetime(1970, 1, 1),
    datetime(9999, 12, 30, 23, 59, 59, 999999),
    datetime.max - timedelta(hours=10),
    datetime.max.replace(microsecond=0),
    datetime.max,
]

aware_datetimes: st.SearchStrategy[datetime] = st.one_of(
    st.builds(lambda local, zone: local.replace(tzinfo=zone), st.sampled_from(EDGE_TIMES), offsets),
    st.datetimes(timezones=offsets),
)


def iso(value: datetime, zulu: bool = True) -> str:
    """ISO 8601 as clients write it: UTC as `Z` (or `+00:00` when `zulu` is false)."""
    text = value.isoformat()
    return text[: -len("+00:00")] + "Z" if zulu and text.endswith("+00:00") else text


# RFC 3339 date-times (an offset is required), the `date-time` format of the OpenAPI schema.
rfc3339_texts: st.SearchStrategy[str] = st.builds(iso, aware_datetimes, st.booleans())

# Also valid for the API, though not RFC 3339: no offset (read as UTC) and a bare date.
naive_texts: st.SearchStrategy[str] = st.one_of(
    st.sampled_from(EDGE_TIMES).map(datetime.isoformat),
    st.datetimes().map(datetime.isoformat),
    st.dates().map(str),
)
date_time_texts: st.SearchStrategy[str] = st.one_of(rfc3339_texts, naive_texts)


_DATETIME = TypeAdapter(datetime)


def parse(text: str) -> datetime:
    """An API date-time parameter as the instant it names, read as the API reads it (by
    pydantic; naive ones are UTC)."""
    value = _DATETIME.validate_python(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
