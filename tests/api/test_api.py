"""Every endpoint: answers, filters, paging, validation errors and the admin key."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from reddit_sentiment.api.schemas import SentimentSeries
from reddit_sentiment.models import Label
from reddit_sentiment.store.base import HOUR
from reddit_sentiment.store.sqlite import SqliteStore
from tests.api.conftest import ADMIN_KEY
from tests.factories import BASE_TIME, make_item


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_health_is_ok(client: httpx.AsyncClient) -> None:
    r = await client.get("/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


async def test_ready_says_collection_is_not_configured(client: httpx.AsyncClient) -> None:
    r = await client.get("/health/ready")
    assert r.status_code == 200
    body = r.json()
    assert body["storage"] == {"backend": "sqlite", "reachable": True}
    assert body["scheduler"]["running"] is True
    assert body["collection"]["configured"] is False
    assert "REDDIT_CLIENT_ID" in body["collection"]["reason"]


async def test_summary_totals_labels_and_last_run(
    client: httpx.AsyncClient, seeded: dict[str, str]
) -> None:
    body = (await client.get("/dashboard/summary")).json()
    assert (body["posts"], body["comments"]) == (3, 1)
    assert body["labels"] == {"positive": 2, "neutral": 1, "negative": 1}
    subs = {s["subreddit"]: s for s in body["subreddits"]}
    assert (subs["python"]["posts"], subs["python"]["comments"]) == (2, 1)
    assert subs["python"]["mean_compound"] == pytest.approx(0.1)
    assert subs["rust"]["mean_compound"] == 0.0
    assert body["last_collection"]["id"] == "20240101T001500-bbbb"
    assert body["last_collection"]["status"] == "partial"


async def test_summary_of_one_subreddit(client: httpx.AsyncClient, seeded: dict[str, str]) -> None:
    body = (await client.get("/dashboard/summary", params={"subreddit": "Python"})).json()
    assert (body["posts"], body["comments"]) == (2, 1)
    assert [s["subreddit"] for s in body["subreddits"]] == ["python"]
    assert (await client.get("/dashboard/summary", params={"subreddit": "x"})).status_code == 422


async def test_summary_of_an_empty_store(client: httpx.AsyncClient) -> None:
    body = (await client.get("/dashboard/summary")).json()
    assert (body["posts"], body["comments"], body["subreddits"]) == (0, 0, [])
    assert body["labels"] == {"positive": 0, "neutral": 0, "negative": 0}
    assert body["last_collection"] is None and body["mean_compound"] is None
    assert body["data_since"] is None and body["data_until"] is None


async def test_summary_says_where_the_data_lies_and_counts_a_window(
    client: httpx.AsyncClient, seeded: dict[str, str]
) -> None:
    hour = int(BASE_TIME // HOUR) * HOUR
    body = (await client.get("/dashboard/summary")).json()
    assert body["data_since"] == iso(hour)
    assert body["data_until"] == iso(hour + 3 * HOUR)  # rust's post, two hours later
    python = (await client.get("/dashboard/summary", params={"subreddit": "python"})).json()
    assert python["data_until"] == iso(hour + 2 * HOUR)
    # The window counts the items created in it; where the data lies does not change.
    window = {"since": iso(hour + HOUR), "until": iso(hour + 3 * HOUR)}
    body = (await client.get("/dashboard/summary", params=window)).json()
    assert (body["posts"], body["comments"]) == (2, 0)
    assert body["labels"] == {"positive": 0, "neutral": 1, "negative": 1}
    assert body["data_since"] == iso(hour)
    empty = {"since": iso(hour + 10 * HOUR)}
    body = (await client.get("/dashboard/summary", params=empty)).json()
    assert (body["posts"], body["subreddits"], body["data_since"]) == (0, [], iso(hour))
    backwards = {"since": iso(hour + HOUR), "until": iso(hour)}
    assert (await client.get("/dashboard/summary", params=backwards)).status_code == 422


async def test_summary_of_data_at_the_end_of_the_calendar(
    client: httpx.AsyncClient, sqlite_store: SqliteStore
) -> None:
    last = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()
    sqlite_store.upsert_items([make_item(created_utc=last), make_item(created_utc=0.0)])
    body = (await client.get("/dashboard/summary")).json()
    assert (body["data_since"], body["data_until"]) == (iso(0), "9999-12-31T23:59:59Z")


async def test_sentiment_series_by_hour_and_filter(
    client: httpx.AsyncClient, seeded: dict[str, str]
) -> None:
    r = await client.get(
        "/dashboard/sentiment",
        params={"since": "2023-11-14T00:00:00Z", "until": "2023-11-16T00:00:00Z"},
    )
    assert r.status_code == 200
    series = {s["subreddit"]: s["buckets"] for s in r.json()["series"]}
    assert [b["count"] for b in series["python"]] == [2, 1]
    assert series["python"][0]["start"] == "2023-11-14T22:00:00Z"
    assert series["python"][0]["labels"] == {"positive": 2, "neutral": 0, "negative": 0}
    assert series["python"][1]["mean_compound"] == -0.6
    only = await client.get(
        "/dashboard/sentiment",
        params={"subreddit": "Rust", "bucket": "day", "since": "2023-11-01T00:00:00"},
    )
    assert [s["subreddit"] for s in only.json()["series"]] == ["rust"]
    assert only.json()["series"][0]["buckets"][0]["start"] == "2023-11-15T00:00:00Z"


@pytest.mark.parametrize(
    "params",
    [
        {"since": "2023-11-14T00:00:00Z", "until": "2023-11-16T00:00:00Z"},
        {"bucket": "day", "since": "2023-11-01T00:00:00.250Z"},  # fractional seconds
        {"subreddit": "Python", "since": "2023-11-14T21:30:00+02:00"},  # another zone, open end
    ],
)
async def test_sentiment_series_is_exactly_what_its_model_writes(
    client: httpx.AsyncClient, seeded: dict[str, str], params: dict[str, str]
) -> None:
    r = await client.get("/dashboard/sentiment", params=params)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.json()["series"]  # something to compare
    model = SentimentSeries.model_validate_json(r.content)  # the documented schema
    assert model.model_dump_json().encode() == r.content  # and byte for byte its own JSON


async def test_a_repeated_series_shows_every_change_since_the_last_one(
    client: httpx.AsyncClient, sqlite_store: SqliteStore, seeded: dict[str, str]
) -> None:
    """Buckets are kept rendered: a write renders again every hour and day it changed."""
    params = {"since": "2023-11-14T00:00:00Z", "until": "2023-11-16T00:00:00Z"}

    def python_buckets(body: dict[str, Any]) -> list[tuple[int, int, float]]:
        (python,) = (s for s in body["series"] if s["subreddit"] == "python")
        return [
            (b["count"], b["labels"]["positive"], b["mean_compound"]) for b in python["buckets"]
        ]

    async def hours_and_days() -> tuple[list[tuple[int, int, float]], ...]:
        hours = await client.get("/dashboard/sentiment", params=params)
        days = await client.get("/dashboard/sentiment", params={**params, "bucket": "day"})
        return python_buckets(hours.json()), python_buckets(days.json())

    assert await hours_and_days() == ([(2, 2, 0.45), (1, 0, -0.6)], [(3, 2, 0.1)])
    added = make_item(subreddit="python", compound=0.9, created_utc=BASE_TIME + 60)
    sqlite_store.upsert_items([added])
    assert await hours_and_days() == ([(3, 3, 0.6), (1, 0, -0.6)], [(4, 3, 0.3)])
    added.compound, added.label = -0.9, Label.NEGATIVE  # rescored: its bucket changes again
    sqlite_store.upsert_items([added])
    assert await hours_and_days() == ([(3, 2, 0.0), (1, 0, -0.6)], [(4, 2, -0.15)])


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"bucket": "week"}, "bucket"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2024-01-02T00:00:00Z", "until": "2024-01-01T00:00:00Z"}, "before"),
        ({"subreddit": "r/python; DROP TABLE items"}, "subreddit"),
        # Numbers pydantic would take for Unix times; the API documents ISO 8601 only.
        ({"until": "1700000000"}, "ISO 8601"),
        ({"until": "-4.4820740415465936e-284"}, "ISO 8601"),
        ({"since": "1e9"}, "ISO 8601"),
    ],
)
async def test_sentiment_validation(
    client: httpx.AsyncClient, params: dict[str, str], fragment: str
) -> None:
    r = await client.get("/dashboard/sentiment", params=params)
    assert r.status_code == 422
    assert fragment in str(r.json())


async def test_a_series_ending_at_the_epoch_is_not_a_series_ending_now(
    client: httpx.AsyncClient, seeded: dict[str, str]
) -> None:
    r = await client.get("/dashboard/sentiment", params={"until": "1970-01-01T00:00:00Z"})
    assert r.status_code == 200
    assert r.json() == {
        "bucket": "hour",
        "since": "1970-01-01T00:00:00Z",
        "until": "1970-01-01T00:00:00Z",
        "series": [],
    }


async def test_posts_filters_sort_and_paging(
    client: httpx.AsyncClient, seeded: dict[str, str]
) -> None:
    r = await client.get("/posts")
    assert [p["id"] for p in r.json()["items"]] == [seeded["rust"], seeded["sad"], seeded["post"]]
    by_score = await client.get("/posts", params={"sort": "score", "limit": 2})
    body = by_score.json()
    assert [p["id"] for p in body["items"]] == [seeded["post"], seeded["rust"]]
    rest = await client.get(
        "/posts", params={"sort": "score", "limit": 2, "cursor": body["next_cursor"]}
    )
    assert [p["id"] for p in rest.json()["items"]] == [seeded["sad"]]
    assert rest.json()["next_cursor"] is None
    negative = await client.get("/posts", params={"label": "negative", "subreddit": "python"})
    assert [p["id"] for p in negative.json()["items"]] == [seeded["sad"]]
    assert negative.json()["items"][0]["label"] == "negative"


async def test_posts_in_a_creation_time_window(
    client: httpx.AsyncClient, seeded: dict[str, str]
) -> None:
    # seeded: post at BASE_TIME (2023-11-14T22:13:20Z), sad one hour later, rust two hours later
    window = {"since": "2023-11-14T22:30:00Z", "until": "2023-11-15T00:13:20Z"}
    r = await client.get("/posts", params=window)
    assert [p["id"] for p in r.json()["items"]] == [seeded["sad"]]
    later = await client.get("/posts", params={"since": "2023-11-14T23:13:20+00:00"})
    assert [p["id"] for p in later.json()["items"]] == [seeded["rust"], seeded["sad"]]
    backwards = await client.get(
        "/posts", params={"since": window["until"], "until": window["since"]}
    )
    assert backwards.status_code == 422 and "since" in backwards.text
    assert (await client.get("/posts", params={"until": "yesterday"})).status_code == 422


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"sort": "random"}, "sort"),
        ({"label": "happy"}, "label"),
        ({"order": "sideways"}, "order"),
        ({"cursor": "garbage"}, "cursor"),
        ({"cursor": "A" * 5000}, "cursor"),
        ({"subreddit": "' OR 1=1 --"}, "subreddit"),
    ],
)
async def test_posts_validation(
    client: httpx.AsyncClient, params: dict[str, object], fragment: str
) -> None:
    r = await client.get("/posts", params=params)
    assert r.status_code == 422, r.text
    assert fragment in r.text


async def test_post_with_comments(client: httpx.AsyncClient, seeded: dict[str, str]) -> None:
    short_id = seeded["post"].removeprefix("t3_")
    for ref in (seeded["post"], short_id):
        r = await client.get(f"/posts/{ref}")
        assert r.status_code == 200
        assert r.json()["post"]["id"] == seeded["post"]
        assert [c["id"] for c in r.json()["comments"]] == [seeded["comment"]]
    assert (await client.get("/posts/t3_zzzzzz")).status_code == 404
    assert (await client.get("/posts/..%2F..%2Fetc")).status_code in (404, 422)
    assert (await client.get("/posts/t1_abc")).status_code == 422
    # With its subreddit (any case, as Reddit spells it): the same post; another's: 404.
    r = await client.get(f"/posts/{short_id}", params={"subreddit": "Python"})
    assert r.status_code == 200 and r.json()["post"]["id"] == seeded["post"]
    assert [c["id"] for c in r.json()["comments"]] == [seeded["comment"]]
    r = await client.get(f"/posts/{short_id}", params={"subreddit": "rust"})
    assert r.status_code == 404 and r.json()["detail"].endswith("is not stored in r/rust")
    r = await client.get(f"/posts/{short_id}", params={"subreddit": "r/python"})
    assert r.status_code == 422 and "subreddit" in r.text


async def test_collections_history_newest_first(
    client: httpx.AsyncClient, seeded: dict[str, str]
) -> None:
    r = await client.get("/collections", params={"limit": 1})
    body = r.json()
    assert [run["id"] for run in body["items"]] == ["20240101T001500-bbbb"]
    run = body["items"][0]
    assert run["status"] == "partial"
    assert run["subreddits"]["python"] == {
        "fetched": 3,
        "new": 2,
        "updated": 1,
        "failed": 0,
        "rejected": 0,
        # A reconcile pass's counts, zero for a collection run.
        "checked": 0,
        "rescored": 0,
        "deleted": 0,
        "missing": 0,
    }
    assert run["duration_seconds"] == 5.0
    older = await client.get("/collections", params={"limit": 1, "cursor": body["next_cursor"]})
    assert [run["id"] for run in older.json()["items"]] == ["20240101T000000-aaaa"]
    assert (await client.get("/collections/20240101T000000-aaaa")).json()["status"] == "succeeded"
    assert (await client.get("/collections/nope")).status_code == 404
    assert (await client.get("/collections", params={"limit": 1000})).status_code == 422
    assert run["kind"] == "collect"
    collects = await client.get("/collections", params={"kind": "collect"})
    assert len(collects.json()["items"]) == 2
    assert (await client.get("/collections", params={"kind": "import"})).json()["items"] == []
    assert (await client.get("/collections", params={"kind": "backup"})).status_code == 422


async def test_manual_collection_requires_the_key(client: httpx.AsyncClient) -> None:
    assert (await client.post("/collections")).status_code == 401
    wrong = await client.post("/collections", headers={"X-API-Key": "wrong"})
    assert wrong.status_code == 401
    assert "X-API-Key" in wrong.json()["detail"]
    ok_key = await client.post("/collections", headers={"X-API-Key": ADMIN_KEY})
    assert ok_key.status_code == 503  # right key, but this process has no Reddit credentials
    assert "not configured" in ok_key.json()["detail"]


@pytest.mark.parametrize("settings_overrides", [{}])
async def test_admin_is_disabled_without_a_key(client: httpx.AsyncClient) -> None:
    r = await client.post("/collections", headers={"X-API-Key": ""})
    assert r.status_code == 403
    assert "ADMIN_API_KEY" in r.json()["detail"]


async def test_openapi_documents_every_endpoint(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert set(paths) >= {
        "/api/v1/health",
        "/api/v1/health/ready",
        "/api/v1/dashboard/summary",
        "/api/v1/dashboard/sentiment",
        "/api/v1/posts",
        "/api/v1/posts/{post_id}",
        "/api/v1/collections",
        "/api/v1/collections/{run_id}",
    }
