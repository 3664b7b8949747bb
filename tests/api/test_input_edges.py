"""Every input that passes validation is served without a 5xx: dates at the edges of the
calendar and of time zones, `since` after `until` (a 422 that says so), very long and odd
strings. Explicit regressions first, then properties over the whole calendar."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from reddit_sentiment.api.app import create_app
from reddit_sentiment.api.routes.keywords import KeywordSeries
from reddit_sentiment.api.schemas import ItemOut, Page, SentimentSeries, Summary
from reddit_sentiment.settings import load_settings
from reddit_sentiment.store.base import DAY
from reddit_sentiment.store.sqlite import SqliteStore
from tests.api.strategies import date_time_texts, parse
from tests.factories import BASE_TIME, make_item, make_run

SENTIMENT = "/dashboard/sentiment"
KEYWORD = "/keywords/python/sentiment"
POSTS = "/posts"
SUMMARY = "/dashboard/summary"
# Every operation with `since` and `until` (a test checks).
WINDOWED = [SENTIMENT, KEYWORD, POSTS, SUMMARY]

# The window a series is served for is clamped to what a UTC datetime can hold.
FIRST = datetime.min.replace(tzinfo=UTC)
LAST = datetime.max.replace(microsecond=0, tzinfo=UTC)
ORDER_MESSAGE = "since: `since` must be before `until`"
BAD_CURSOR = "cursor: cursor is not one this API returned"
# Past validation, length changes nothing; httpx refuses URLs over 64 KiB, so this is about
# the longest parameter a test can send (a proxy in front would likely cut it shorter).
LONG = 60_000


class Api:
    """The app over ASGI, for synchronous tests (Hypothesis runs those): one event loop,
    kept for the module, runs each request."""

    def __init__(self, runner: asyncio.Runner, client: httpx.AsyncClient) -> None:
        self._runner, self._client = runner, client

    def get(self, path: str, params: dict[str, str] | None = None) -> httpx.Response:
        return self._runner.run(self._client.get(path, params=params))


async def _serve(app: FastAPI, stack: AsyncExitStack) -> httpx.AsyncClient:
    await stack.enter_async_context(app.router.lifespan_context(app))
    # A 500 is an answer to assert on, not an exception out of the client.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    client = httpx.AsyncClient(transport=transport, base_url="http://test/api/v1")
    return await stack.enter_async_context(client)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One app and store for the module: these tests only read, and Hypothesis runs each
    test many times over."""
    store = SqliteStore(Path(tmp_path_factory.mktemp("edges")) / "edges.db")
    store.open()
    items = [
        make_item(subreddit="python", compound=0.5, created_utc=BASE_TIME),
        make_item(subreddit="rust", compound=-0.5, created_utc=BASE_TIME - 3 * DAY),
    ]
    for item in items:
        item.keywords = ["python"]
    store.upsert_items(items)
    store.save_run(make_run("20240101T000000-aaaa", BASE_TIME))
    store.save_run(make_run("20240101T001500-bbbb", BASE_TIME + 900))
    app = create_app(load_settings(admin_api_key="edge-key", track_keywords="python"), store=store)
    with asyncio.Runner() as runner:
        stack = AsyncExitStack()
        try:
            yield Api(runner, runner.run(_serve(app, stack)))
        finally:
            runner.run(stack.aclose())


def served(text: str) -> datetime:
    """The instant a window bound is served as: the one given, within years 1-9999 UTC."""
    return min(max(parse(text), FIRST), LAST)


# -- explicit regressions ----------------------------------------------------------------


@pytest.mark.parametrize("path", WINDOWED)
@pytest.mark.parametrize(
    ("params", "since", "until"),
    [
        # Once a 500: `year 0 is out of range` / `year 10000 is out of range`, echoing them.
        ({"since": "0001-01-01T00:00:00+14:00"}, "0001-01-01T00:00:00Z", None),
        ({"since": "9999-12-31T23:59:59-14:00"}, "9999-12-31T23:59:59Z", None),
        ({"until": "0001-01-01T00:00:00+14:00"}, "0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"),
        ({"until": "9999-12-31T23:59:59-14:00"}, "9999-12-29T23:59:59Z", "9999-12-31T23:59:59Z"),
        # Once a 500: a float epoch rounds the last microsecond of year 9999 into year 10000.
        ({"until": "9999-12-31T23:59:59.999999Z"}, "9999-12-29T23:59:59Z", "9999-12-31T23:59:59Z"),
        (
            {"since": "0001-01-01T00:00:00+23:59", "until": "9999-12-31T23:59:59.999999-23:59"},
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
        ),
        # Both past the end of the calendar, in order: a valid window with nothing in it.
        (
            {"since": "9999-12-31T23:59:59-13:00", "until": "9999-12-31T23:59:59-14:00"},
            "9999-12-31T23:59:59Z",
            "9999-12-31T23:59:59Z",
        ),
        # Without `since`, the default window never starts after `until`.
        ({"until": "1960-01-01T00:00:00Z"}, "1960-01-01T00:00:00Z", "1960-01-01T00:00:00Z"),
        ({"until": "0001-01-01T00:00:00Z"}, "0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"),
    ],
)
def test_a_window_beyond_the_calendar_is_served_clamped(
    api: Api, path: str, params: dict[str, str], since: str, until: str | None
) -> None:
    r = api.get(path, params=params)
    assert r.status_code == 200, r.text
    if path == SENTIMENT:  # the one that echoes its window, as served (UTC)
        assert (r.json()["since"], r.json()["until"]) == (since, until)


@pytest.mark.parametrize("bucket", ["hour", "day"])
def test_a_window_past_both_ends_of_the_calendar_serves_everything(api: Api, bucket: str) -> None:
    """Clamping loses nothing: the store holds no instant outside years 1-9999 UTC."""
    window = {
        "since": "0001-01-01T00:00:00+14:00",
        "until": "9999-12-31T23:59:59-14:00",
        "bucket": bucket,
    }
    series = api.get(SENTIMENT, params=window).json()["series"]
    assert {s["subreddit"]: len(s["buckets"]) for s in series} == {"python": 1, "rust": 1}
    keyword = api.get(KEYWORD, params=window).json()
    assert sum(b["count"] for b in keyword["buckets"]) == 2


@pytest.mark.parametrize("path", WINDOWED)
@pytest.mark.parametrize(
    ("since", "until"),
    [
        ("2024-01-02T00:00:00Z", "2024-01-01T00:00:00Z"),
        ("2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z"),
        # The same instant written in two zones is no window either.
        ("2024-01-01T01:00:00+01:00", "2024-01-01T00:00:00Z"),
        # Ordered by the instants given, before clamping: both are past year 9999 in UTC,
        # and `since` (13:59:59 there) is after `until` (12:59:59).
        ("9999-12-31T23:59:59-14:00", "9999-12-31T23:59:59-13:00"),
        ("0001-01-01T00:00:00+13:00", "0001-01-01T00:00:00+14:00"),
        ("2024-01-01T00:00:00.000001", "2024-01-01"),  # naive: UTC
    ],
)
def test_since_not_before_until_is_a_422_that_says_so(
    api: Api, path: str, since: str, until: str
) -> None:
    r = api.get(path, params={"since": since, "until": until})
    assert r.status_code == 422, r.text
    assert r.json()["message"] == ORDER_MESSAGE
    assert r.json()["detail"][0]["loc"] == ["query", "since"]


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize("path", ["/posts", "/collections"])
@pytest.mark.parametrize(
    "cursor",
    [
        _cursor('[1%s,"t3_1"]' % ("0" * 330)),  # once a 500: an integer too large for a float
        _cursor("[" * 380),  # nested deep
        "\x00",
        "é" * 200,
        "A" * 512,
    ],
)
def test_a_cursor_the_api_did_not_return_is_a_422(api: Api, path: str, cursor: str) -> None:
    r = api.get(path, params={"cursor": cursor})
    assert r.status_code == 422, r.text
    assert r.json()["message"] == BAD_CURSOR


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        (f"/keywords/{'k' * LONG}/sentiment", {}, "keyword"),
        ("/posts", {"cursor": "A" * LONG}, "cursor"),
        ("/collections", {"cursor": "A" * LONG}, "cursor"),
        ("/dashboard/summary", {"subreddit": "p" * LONG}, "subreddit"),
        ("/trending", {"window": "1" * LONG}, "window"),
        (SENTIMENT, {"since": "2024-01-01T00:00:00" + "0" * LONG}, "since"),
        (SENTIMENT, {"until": "2024-01-01T00:00:00Z" + "Z" * LONG}, "until"),
        (KEYWORD, {"since": "9" * LONG}, "since"),
        (f"/posts/t3_{'a' * LONG}", {}, "post_id"),
        (f"/collections/{'a' * LONG}", {}, "run_id"),
        ("/posts", {"limit": "9" * LONG}, "limit"),
    ],
)
def test_very_long_strings_are_a_422_naming_the_parameter(
    api: Api, path: str, params: dict[str, str], parameter: str
) -> None:
    r = api.get(path, params=params)
    assert r.status_code == 422, r.text[:500]
    assert r.json()["message"].startswith(f"{parameter}: ")


def test_a_long_but_valid_date_time_is_served(api: Api) -> None:
    """ISO 8601 puts no limit on a fraction's digits; past the microsecond they are dropped."""
    r = api.get(SENTIMENT, params={"until": "2024-01-01T00:00:00." + "9" * LONG})
    assert r.status_code == 200, r.text
    assert r.json()["until"] == "2024-01-01T00:00:00.999999Z"


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/keywords/%00/sentiment", {}, 404),
        ("/keywords/py%00thon/sentiment", {}, 404),
        ("/keywords/%F0%9F%90%8D/sentiment", {}, 404),  # an emoji
        ("/keywords/%E2%80%8Bpython/sentiment", {}, 404),  # a zero-width space
        ("/keywords/PYTHON/sentiment", {}, 200),  # keywords are case-insensitive
        ("/keywords/%20python%20/sentiment", {}, 200),  # and trimmed
        ("/keywords/%20/sentiment", {}, 404),
        ("/posts/%00", {}, 422),
        ("/collections/%C3%A9", {}, 422),
        ("/posts", {"subreddit": "py\x00thon"}, 422),
        ("/posts", {"order": "desc\x00"}, 422),
        (SENTIMENT, {"since": "2024-01-01T00:00:00Z\x00"}, 422),
        (
            SENTIMENT,
            {"since": "\uff12\uff10\uff12\uff14-01-01T00:00:00Z"},
            422,
        ),  # full-width digits
        (SENTIMENT, {"until": "2024-01-01T00:00:00+24:00"}, 422),  # no such offset
    ],
)
def test_odd_characters_are_answered_not_crashed_on(
    api: Api, path: str, params: dict[str, str], status: int
) -> None:
    r = api.get(path, params=params)
    assert r.status_code == status, r.text


def test_every_windowed_operation_is_covered(api: Api) -> None:
    """The property below runs on WINDOWED; it must be every operation taking since/until."""
    schema = api.get("/openapi.json").json()
    windowed = {
        path.removeprefix("/api/v1").replace("{keyword}", "python")
        for path, operations in schema["paths"].items()
        for operation in operations.values()
        if {"since", "until"} <= {p["name"] for p in operation.get("parameters", [])}
    }
    assert windowed == set(WINDOWED)


# -- properties --------------------------------------------------------------------------


@pytest.mark.parametrize("path", WINDOWED)
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    since=st.none() | date_time_texts,
    until=st.none() | date_time_texts,
    bucket=st.sampled_from(["hour", "day"]),
)
@example(since="0001-01-01T00:00:00+14:00", until=None, bucket="hour")
@example(since="9999-12-31T23:59:59-14:00", until=None, bucket="hour")
@example(since=None, until="0001-01-01T00:00:00+14:00", bucket="day")
@example(since=None, until="9999-12-31T23:59:59.999999Z", bucket="hour")
@example(since="0001-01-01T00:00:00+14:00", until="9999-12-31T23:59:59-14:00", bucket="day")
def test_any_window_is_served_unless_since_is_not_before_until(
    api: Api, path: str, since: str | None, until: str | None, bucket: str
) -> None:
    """For any ISO 8601 `since` and `until` (each optional) over the whole calendar at any
    offset: the answer is a 422 exactly when both are given and `since` is not before
    `until` (as instants), and a 200 that parses otherwise. Never a 5xx. The window served
    is the one asked for, clamped to years 1-9999 UTC, and never ends before it starts."""
    params = {"bucket": bucket}
    params |= {} if since is None else {"since": since}
    params |= {} if until is None else {"until": until}
    r = api.get(path, params=params)

    if since is not None and until is not None and parse(since) >= parse(until):
        assert (r.status_code, r.json()["message"]) == (422, ORDER_MESSAGE), r.text
        return
    assert r.status_code == 200, r.text
    if path == KEYWORD:
        KeywordSeries.model_validate_json(r.content)
        return
    if path == POSTS:
        Page[ItemOut].model_validate_json(r.content)
        return
    if path == SUMMARY:
        Summary.model_validate_json(r.content)
        return
    series = SentimentSeries.model_validate_json(r.content)
    start, end = series.since, series.until
    assert start is not None
    assert (end is None) == (until is None)
    # A float epoch keeps microseconds near our era only (about 15 us of slack at year 9999).
    slack = datetime.resolution * 64
    if since is not None:
        assert abs(start - served(since)) <= slack
    if until is not None and end is not None:
        assert abs(end - served(until)) <= slack
        assert start <= end


@settings(max_examples=50, deadline=None)
@given(
    path=st.sampled_from(["/dashboard/summary", "/posts", "/collections", "/trending", KEYWORD]),
    name=st.sampled_from(["subreddit", "cursor", "since", "until", "window", "limit", "order"]),
    value=st.text(max_size=300) | st.text(alphabet="\x00 9aZ-:T.+", max_size=40),
)
def test_any_query_string_is_answered_below_500(api: Api, path: str, name: str, value: str) -> None:
    """Any text in any query parameter gets an answer, never a 5xx: validation or a 404 for
    a few; unknown parameters are ignored."""
    r = api.get(path, params={name: value})
    assert r.status_code in (200, 404, 422), r.text
