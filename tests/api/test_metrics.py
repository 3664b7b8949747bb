"""GET /metrics: what the store holds and how collection goes, in Prometheus' text format."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from reddit_sentiment.api.app import create_app
from reddit_sentiment.models import RunStatus
from reddit_sentiment.settings import load_settings
from reddit_sentiment.store.base import Aggregate, StoreUnavailable
from reddit_sentiment.store.sqlite import SqliteStore
from tests.factories import BASE_TIME, make_item, make_run

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(client: httpx.AsyncClient) -> Samples:
    r = await client.get("http://test/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(r.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(f"reddit_sentiment_{name}", tuple(sorted(labels.items())))]


async def test_metrics_say_what_the_store_holds(
    client: httpx.AsyncClient, seeded: dict[str, str]
) -> None:
    samples = await scrape(client)
    assert value(samples, "storage_up") == 1
    assert value(samples, "items", subreddit="python", kind="post") == 2
    assert value(samples, "items", subreddit="python", kind="comment") == 1
    assert value(samples, "items", subreddit="rust", kind="post") == 1
    assert value(samples, "items_by_label", subreddit="python", label="positive") == 2
    assert value(samples, "items_by_label", subreddit="python", label="negative") == 1
    assert value(samples, "items_by_label", subreddit="rust", label="neutral") == 1
    assert value(samples, "mean_compound", subreddit="python") == pytest.approx(0.1)
    # The seeded runs: a succeeded one, then a partial one 15 minutes later (the newest).
    assert value(samples, "last_run_status", status="partial") == 1
    assert value(samples, "last_run_status", status="succeeded") == 0
    assert value(samples, "last_run_start_time_seconds") == BASE_TIME + 900
    assert value(samples, "last_run_end_time_seconds") == BASE_TIME + 905
    assert value(samples, "last_run_items", subreddit="python", outcome="new") == 2
    assert value(samples, "last_run_errors") == 0
    assert value(samples, "run_end_time_seconds", status="succeeded") == BASE_TIME + 5
    assert value(samples, "run_end_time_seconds", status="partial") == BASE_TIME + 905
    assert ("reddit_sentiment_run_end_time_seconds", (("status", "failed"),)) not in samples
    # This process: collection is not configured in the API tests.
    assert value(samples, "collector_enabled") == 0
    assert value(samples, "collector_leader") == 0
    assert value(samples, "collector_running") == 0


async def test_a_running_run_has_no_end_and_an_empty_store_no_items(
    client: httpx.AsyncClient, sqlite_store: SqliteStore
) -> None:
    samples = await scrape(client)
    assert value(samples, "storage_up") == 1
    assert not any(name.endswith(("_items", "_last_run_status")) for name, _ in samples)
    sqlite_store.save_run(make_run("20240101T000000-aaaa", BASE_TIME, RunStatus.RUNNING))
    samples = await scrape(client)
    assert value(samples, "last_run_status", status="running") == 1
    assert value(samples, "last_run_start_time_seconds") == BASE_TIME
    assert ("reddit_sentiment_last_run_end_time_seconds", ()) not in samples


class UnreachableStore(SqliteStore):
    """Storage down: what a Cosmos outage or a lost volume looks like to a read."""

    async def aggregates(self, **_: Any) -> list[Aggregate]:
        raise StoreUnavailable("SQLite read failed: disk I/O error")


async def test_an_unreachable_store_is_a_metric_not_a_failed_scrape(tmp_path: Path) -> None:
    store = UnreachableStore(tmp_path / "down.db")
    store.open()
    app = create_app(load_settings(), store=store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            samples = await scrape(client)
    assert value(samples, "storage_up") == 0
    assert not any(name.endswith("_items") for name, _ in samples)
    assert value(samples, "collector_running") == 0  # this process's figures are still there


async def test_an_openmetrics_scraper_gets_openmetrics(
    client: httpx.AsyncClient, seeded: dict[str, str]
) -> None:
    r = await client.get(
        "http://test/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/openmetrics-text")
    assert r.text.endswith("# EOF\n")
    assert 'reddit_sentiment_items{kind="post",subreddit="python"} 2.0' in r.text


async def test_a_collector_only_process_serves_metrics_too(sqlite_store: SqliteStore) -> None:
    app = create_app(load_settings(role="collector"), store=sqlite_store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            samples = await scrape(client)
            dashboard = await client.get("/api/v1/dashboard/summary")
    assert value(samples, "storage_up") == 1
    assert dashboard.status_code == 404  # a collector serves health and metrics alone


# -- HTTP figures, bounded series, the short cache ------------------------------------


def any_value(samples: Samples, name: str, **labels: str) -> float:
    """A sample of any prefix (the HTTP and process metrics are not the app's own)."""
    wanted = set(labels.items())
    found = [v for (n, ls), v in samples.items() if n == name and wanted <= set(ls)]
    assert found, f"no {name} with {labels}"
    return sum(found)


async def test_requests_are_counted_and_timed_per_route_template(
    client: httpx.AsyncClient, seeded: dict[str, str]
) -> None:
    for post in (seeded["post"], seeded["rust"], "t3_nothere"):
        await client.get(f"/posts/{post}")
    await client.get("/dashboard/summary")
    await client.get("/no/such/path")
    samples = await scrape(client)
    template = "/api/v1/posts/{post_id}"
    assert any_value(samples, "http_requests_total", handler=template, status="2xx") == 2
    assert any_value(samples, "http_requests_total", handler=template, status="4xx") == 1
    assert any_value(samples, "http_requests_total", handler="/api/v1/dashboard/summary") == 1
    assert any_value(samples, "http_request_duration_seconds_count", handler=template) == 3
    assert any_value(samples, "http_request_duration_seconds_bucket", handler=template,
                     le="+Inf") == 3  # fmt: skip
    # Untemplated paths share one series; /metrics itself is not counted.
    handlers = {dict(ls).get("handler") for n, ls in samples if n == "http_requests_total"}
    assert handlers == {template, "/api/v1/dashboard/summary", "none"}
    assert any_value(samples, "process_resident_memory_bytes") > 0
    assert any_value(samples, "python_gc_collections_total") >= 0


async def test_per_subreddit_series_are_the_top_n_and_the_rest(sqlite_store: SqliteStore) -> None:
    sizes = {"aa": 5, "bb": 4, "cc": 3, "dd": 2, "ee": 1}
    sqlite_store.upsert_items([
        make_item(subreddit=name, compound=0.5 if i % 2 else -0.5)
        for name, n in sizes.items() for i in range(n)
    ])  # fmt: skip
    app = create_app(load_settings(metrics_top_subreddits=2), store=sqlite_store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            samples = await scrape(client)
    subreddits = {dict(ls)["subreddit"] for n, ls in samples
                  if n == "reddit_sentiment_items"}  # fmt: skip
    assert subreddits == {"aa", "bb", "_other"}
    assert value(samples, "items", subreddit="aa", kind="post") == 5
    assert value(samples, "items", subreddit="_other", kind="post") == 3 + 2 + 1
    negative = value(samples, "items_by_label", subreddit="_other", label="negative")
    assert negative == 2 + 1 + 1  # cc: 2 of 3, dd: 1 of 2, ee: 1 of 1
    assert value(samples, "mean_compound", subreddit="_other") == pytest.approx(-1 / 6)


class CountingStore(SqliteStore):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.aggregate_reads = 0

    async def aggregates(self, **kwargs: Any) -> list[Aggregate]:
        self.aggregate_reads += 1
        return await super().aggregates(**kwargs)


async def test_summary_and_scrapes_share_a_short_cache(tmp_path: Path) -> None:
    store = CountingStore(tmp_path / "c.db")
    store.open()
    store.upsert_items([make_item()])
    app = create_app(load_settings(store_cache_seconds=0.5), store=store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            first = await scrape(client)
            store.upsert_items([make_item()])
            again = await scrape(client)
            summary = (await client.get("/api/v1/dashboard/summary")).json()
            assert store.aggregate_reads == 1  # one read served all three
            assert value(first, "items", subreddit="python", kind="post") == 1
            assert value(again, "items", subreddit="python", kind="post") == 1  # cached
            assert summary["posts"] == 1
            await asyncio.sleep(0.6)
            later = await scrape(client)
            assert value(later, "items", subreddit="python", kind="post") == 2
            assert store.aggregate_reads == 2
