"""One collection cycle: collector -> analyzer -> store, run synchronously in the executor thread.

Each listing is stored as soon as it is scored, so an interrupted cycle keeps what it got and
memory stays bounded by one listing. A failing listing is recorded and the cycle goes on; a
failing store ends the cycle as `failed`, because nothing more could be kept.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid

from .analyzer import Analyzer
from .breaker import CircuitBreaker, CircuitOpen
from .collector import ListingFailed, RedditCollector
from .models import CollectionRun, Item, Listing, ListingError, RunStatus, SubredditCounts
from .settings import Settings
from .store.base import Store, StoreUnavailable

log = logging.getLogger(__name__)

LISTINGS: tuple[Listing, ...] = (Listing.NEW, Listing.HOT, Listing.COMMENTS)


def new_run_id() -> str:
    """Sortable by start time, unique across processes."""
    return f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:8]}"


def process_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class CollectionCycle:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        analyzer: Analyzer,
        collector: RedditCollector,
    ) -> None:
        self.settings = settings
        self.store = store
        self.analyzer = analyzer
        self.collector = collector
        self.stop_requested = threading.Event()
        self.breaker = CircuitBreaker(
            settings.circuit_breaker_threshold, settings.circuit_breaker_cooldown_seconds
        )

    def run(self, run_id: str | None = None, trigger: str = "scheduled") -> CollectionRun:
        run = CollectionRun(
            id=run_id or new_run_id(),
            started_at=time.time(),
            trigger=trigger,
            owner=process_owner(),
        )
        log.info(
            "collection %s started (%s) for %s",
            run.id,
            trigger,
            ", ".join(self.settings.subreddits),
        )
        try:
            self.store.save_run(run)
            self._collect(run)
        except StoreUnavailable as error:
            run.errors.append(ListingError("*", "store", type(error).__name__, str(error)))
            run.status = RunStatus.FAILED
            log.error("collection %s failed: store unavailable: %s", run.id, error)
        run.finished_at = time.time()
        if run.status is RunStatus.RUNNING:
            run.status = _final_status(run)
        try:
            self.store.save_run(run)
        except StoreUnavailable as error:
            log.error("collection %s: could not record its result: %s", run.id, error)
        log.info(
            "collection %s %s in %.1fs: %s",
            run.id,
            run.status.value,
            run.finished_at - run.started_at,
            _counts_line(run),
        )
        return run

    def _collect(self, run: CollectionRun) -> None:
        deadline = run.started_at + self.settings.collection_budget_seconds
        self.breaker.allow_trial()
        for subreddit in self.settings.subreddits:
            counts = run.subreddits.setdefault(subreddit, SubredditCounts())
            for listing in LISTINGS:
                if self.stop_requested.is_set():
                    run.status = RunStatus.INTERRUPTED
                    run.errors.append(
                        ListingError(
                            "*", "cycle", "Interrupted", "service shut down during the cycle"
                        )
                    )
                    return
                if time.time() > deadline:
                    counts.failed += 1
                    run.errors.append(
                        ListingError(
                            subreddit,
                            listing.value,
                            "BudgetExceeded",
                            f"cycle budget of {self.settings.collection_budget_seconds:.0f}s "
                            "used up",
                        )
                    )
                    continue
                try:
                    self.breaker.check()
                    items = self.collector.fetch(subreddit, listing)
                    self.breaker.record_success()
                except CircuitOpen as open_circuit:
                    counts.failed += 1
                    run.errors.append(
                        ListingError(subreddit, listing.value, "CircuitOpen", str(open_circuit))
                    )
                    continue
                except ListingFailed as failure:
                    self.breaker.record_failure(failure.error)
                    counts.failed += 1
                    run.errors.append(
                        ListingError(subreddit, listing.value, failure.error_name, str(failure))
                    )
                    items = failure.partial
                self._store(items, counts)
                self.store.save_run(run)  # progress is visible while the cycle runs

    def _store(self, items: list[Item], counts: SubredditCounts) -> None:
        if not items:
            return
        for item in items:
            self.analyzer.score(item)
        result = self.store.upsert_items(items)
        counts.fetched += len(items)
        counts.new += result.new
        counts.updated += result.updated


def _final_status(run: CollectionRun) -> RunStatus:
    if not run.errors:
        return RunStatus.SUCCEEDED
    attempted = len(run.subreddits) * len(LISTINGS)
    failed = sum(c.failed for c in run.subreddits.values())
    fetched = sum(c.fetched for c in run.subreddits.values())
    return RunStatus.FAILED if failed >= attempted and fetched == 0 else RunStatus.PARTIAL


def _counts_line(run: CollectionRun) -> str:
    return (
        "; ".join(
            f"r/{name} fetched={c.fetched} new={c.new} updated={c.updated} failed={c.failed}"
            for name, c in run.subreddits.items()
        )
        or "no subreddits"
    )
