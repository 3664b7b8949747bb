"""The scheduled verify: it runs in the collector thread (never on the event loop), and
/metrics says when it last ran and how many aggregate rows of each kind it found drifted."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx

from reddit_sentiment.api.app import create_app
from reddit_sentiment.models import Item
from reddit_sentiment.settings import load_settings
from reddit_sentiment.store.sqlite import SqliteStore
from tests.api.test_metrics import scrape, value


async def test_scheduled_verify_runs_in_the_collector_thread_and_reports_drift(
    sqlite_store: SqliteStore, seeded: dict[str, str]
) -> None:
    threads: list[str] = []
    iter_items = sqlite_store.iter_items

    def recording(**kwargs: Any) -> Iterator[Item]:
        threads.append(threading.current_thread().name)
        return iter_items(**kwargs)

    sqlite_store.iter_items = recording  # type: ignore[method-assign]
    app = create_app(load_settings(), store=sqlite_store)
    async with app.router.lifespan_context(app):
        service = app.state.service
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test/api/v1") as c:
            before = await scrape(c)
            assert not any(name.endswith("verify_drift_rows") for name, _ in before)

            service.is_leader = True  # the lease holder verifies
            started = time.time()
            report = await service.run_verify()
            assert report is not None and report.ok and report.items == 4
            assert threads and all(name.startswith("collector") for name in threads)
            samples = await scrape(c)
            assert value(samples, "verify_drift_rows", kind="hourly") == 0
            assert value(samples, "verify_drift_rows", kind="keyword_hourly") == 0
            ran = value(samples, "verify_last_run_time_seconds")
            assert started <= ran <= time.time()

            with sqlite3.connect(sqlite_store.path) as conn:
                conn.execute("UPDATE totals SET negative = negative + 1 WHERE subreddit = 'rust'")
            report = await service.run_verify()
            assert report is not None and not report.ok
            samples = await scrape(c)
            assert value(samples, "verify_drift_rows", kind="totals") == 1
            assert value(samples, "verify_drift_rows", kind="hourly") == 0
            with sqlite3.connect(sqlite_store.path) as conn:  # leave it as the items say
                conn.execute("UPDATE totals SET negative = negative - 1 WHERE subreddit = 'rust'")


def test_verify_interval_defaults_off_on_cosmos_and_daily_on_sqlite() -> None:
    assert load_settings().verify_interval == 86400
    assert load_settings(verify_interval_seconds=0).verify_interval == 0
    cosmos = load_settings(
        storage_backend="cosmos", cosmos_endpoint="https://x.example:8081/", cosmos_key="k"
    )
    assert cosmos.verify_interval == 0
    assert cosmos.model_copy(update={"verify_interval_seconds": 3600}).verify_interval == 3600
