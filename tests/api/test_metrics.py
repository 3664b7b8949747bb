"""GET /metrics: what the store holds and how collection goes, in Prometheus' text format."""

from __future__ import annotations

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
from tests.factories import BASE_TIME, make_run

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
