"""SC-001/SC-006: while a cycle runs against a slowed Reddit, health keeps answering and the
event loop never runs a callback slower than SLOW_CALLBACK seconds.

Marked serial: these bounds are the property under test, so they run alone (`make test`'s
serial phase) rather than beside a parallel neighbour that would take the core."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import httpx
import pytest

from fakereddit import FakeReddit, Fault
from reddit_sentiment.api.app import create_app
from reddit_sentiment.store.sqlite import SqliteStore
from tests.integration.conftest import settings_for

SLOW_CALLBACK = 0.1  # seconds; a blocking PRAW call or a VADER batch on the loop would be >> this
HEALTH_BOUND = 0.5  # functional bound, not a benchmark (see `make bench` for the numbers)

pytestmark = pytest.mark.serial


class _SlowCallbacks(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "took" in message and "seconds" in message:
            self.messages.append(message)


@pytest.mark.slow
async def test_health_answers_while_a_cycle_runs(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    slow = _SlowCallbacks()
    logging.getLogger("asyncio").addHandler(slow)

    with FakeReddit.generated(subreddits=2, posts=150, comments=300, seed=7).start() as fake:
        fake.set_latency(0.05)
        subs = sorted(fake.subreddit_names())
        settings = settings_for(
            fake,
            subs,
            collection_limit=300,
            collection_start_delay_seconds=0,
            sqlite_path=str(tmp_path / "nb.db"),
        )
        app = create_app(settings)  # its own store: the cycle runs in the cycle process
        try:
            async with app.router.lifespan_context(app):
                # Watched from here: start-up (its one GC pass) ends before a server serves.
                loop.set_debug(True)
                loop.slow_callback_duration = SLOW_CALLBACK
                service = app.state.service
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                    for _ in range(200):
                        if service.busy:
                            break
                        await asyncio.sleep(0.02)
                    assert service.busy, "the first cycle did not start"
                    latencies: list[float] = []
                    while service.busy:
                        start = time.perf_counter()
                        r = await client.get("/api/v1/health")
                        latencies.append(time.perf_counter() - start)
                        assert r.status_code == 200 and r.json() == {"status": "ok"}
                        summary = await client.get("/api/v1/dashboard/summary")
                        assert summary.status_code == 200
                        await asyncio.sleep(0.01)
                    assert len(latencies) >= 10, "the cycle ended before we could measure"
                    assert max(latencies) < HEALTH_BOUND, max(latencies)
                    last = service.last_run
                    assert last is not None and last.status.value == "succeeded"
                    assert sum(c.fetched for c in last.subreddits.values()) > 0
        finally:
            logging.getLogger("asyncio").removeHandler(slow)
            loop.set_debug(False)
    assert slow.messages == []


@pytest.mark.parametrize("subs", [1])
def test_generated_fake_has_subreddits(subs: int) -> None:
    fake = FakeReddit.generated(subreddits=subs, posts=3, comments=3)
    assert len(fake.subreddit_names()) == subs


async def test_health_stays_fast_while_reddit_fails(recordings_dir: Path, tmp_path: Path) -> None:
    """Slow answers, 5xx with prawcore's retry sleeps and 429 waits all happen in the
    collector thread; the loop keeps answering."""
    with FakeReddit.from_recordings(recordings_dir).start() as fake:
        fake.add_fault(Fault(path_pattern=r"^/r/askreddit/new", kind="slow", delay=1.0))
        fake.add_fault(Fault(path_pattern=r"^/r/askreddit/hot", kind="status", status=503))
        fake.add_fault(
            Fault(
                path_pattern=r"^/r/askreddit/comments", kind="status", status=429, retry_after=0.3
            )
        )
        settings = settings_for(
            fake,
            ["askreddit"],
            reddit_timeout_seconds=0.5,
            reddit_max_retry_after_seconds=0.3,
            circuit_breaker_threshold=10,
        )
        app = create_app(settings, store=SqliteStore(tmp_path / "faults.db"))
        async with app.router.lifespan_context(app):
            service = app.state.service
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                for _ in range(200):
                    if service.busy:
                        break
                    await asyncio.sleep(0.02)
                latencies: list[float] = []
                while service.busy:
                    start = time.perf_counter()
                    assert (await client.get("/api/v1/health")).status_code == 200
                    latencies.append(time.perf_counter() - start)
                    await asyncio.sleep(0.02)
            last = service.last_run
    assert last is not None and last.status.value == "failed"
    assert {e.listing for e in last.errors} == {"new", "hot", "comments"}
    assert len(latencies) >= 20 and max(latencies) < HEALTH_BOUND, max(latencies)
