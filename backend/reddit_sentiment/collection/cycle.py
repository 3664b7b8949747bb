"""One collection cycle: collector -> analyzer -> store, run synchronously in the executor thread.

A listing is handled a page at a time, as a pipeline: page k is handed to the analyzer's worker
process, then page k - 3 is stored and page k + 1 fetched while pages k - 2 .. k are scored (and
while it waits, the cycle scores a page the worker has not started itself). So an
interrupted cycle keeps what it got, memory stays bounded by a few pages, and scoring overlaps
the rest instead of adding to it. A failing listing is recorded and the cycle goes on; a
failing store ends the cycle as `failed`, because nothing more could be kept.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

from ..models import (
    CollectionRun,
    Item,
    Kind,
    Listing,
    ListingError,
    RateLimits,
    RunStatus,
    SubredditCounts,
    new_run_id,
    process_owner,
)
from ..settings import Settings
from ..store.base import Store, StoreUnavailable
from . import trending
from .analyzer import Analyzer, ScoringJob
from .breaker import CircuitBreaker, CircuitOpen
from .collector import ListingFailed, ListingPage, RateLimitReserve, RedditCollector
from .keywords import KeywordMatcher
from .reconcile import ReconcilePass
from .storing import message_of, split_scored, upsert_isolating

log = logging.getLogger(__name__)

LISTINGS: tuple[Listing, ...] = tuple(Listing)
# Pages handed to the scorer before the oldest is stored. With one, the scorer idled whenever
# a fetch or a store ran long; with two or more it never waits, and more than two gained
# nothing (measured: specs/measurements.md#scoring-ahead). While the oldest is not scored yet,
# the cycle scores the newest page the scorer has not started (ScoringJob.steal_one): fetching
# and storing leave the cycle's core half idle (measured:
# specs/measurements.md#cycle-scores-while-waiting).
SCORING_AHEAD = 3


class StopFlag(Protocol):
    def set(self) -> None: ...

    def is_set(self) -> bool: ...


class Cycle(Protocol):
    """What the service runs in its collector thread: here, or in the cycle process."""

    @property
    def stop_requested(self) -> StopFlag: ...

    def run(self, run_id: str | None = None, trigger: str = "scheduled") -> CollectionRun: ...

    def reconcile(
        self,
        run_id: str | None = None,
        trigger: str = "scheduled",
        *,
        older_than: float | None = None,
        subreddit: str | None = None,
    ) -> CollectionRun: ...

    def rate_limits(self) -> RateLimits: ...

    def refresh_trending(self) -> None: ...

    def warm_up(self) -> None: ...

    def close(self) -> None: ...


class CollectionCycle:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        analyzer: Analyzer,
        collector: RedditCollector,
        *,
        stop: StopFlag | None = None,
        owner: str | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.analyzer = analyzer
        self.collector = collector
        # The service's stop request (shared with the cycle process when it runs there).
        self.stop_requested: StopFlag = stop if stop is not None else threading.Event()
        # Who the run record names: the service process (the lease holder), also when the
        # cycle itself runs in its child process.
        self.owner = owner or process_owner()
        self.keywords = KeywordMatcher(settings.track_keywords)
        self._tree_requests = 0
        # Called after each listing is stored (subreddit, listing, items): the CLI's progress bar.
        self.on_listing: Callable[[str, Listing, int], None] | None = None
        # The reconcile pass with this cycle's PRAW instance, analyzer, keywords and stop flag;
        # the Cycle's `reconcile` is its `run` (the scheduled pass after each cycle).
        self.reconciler = ReconcilePass(
            settings, store, analyzer, collector, self.keywords,
            owner=self.owner, stopped=self.stop_requested.is_set,
        )  # fmt: skip
        self.reconcile = self.reconciler.run
        self.breaker = CircuitBreaker(
            settings.circuit_breaker_threshold, settings.circuit_breaker_cooldown_seconds
        )
        # Fullnames stored by the running cycle: an item that `new` and `hot` both list, or
        # that Reddit repeats across pages, is fetched, counted and stored once per run.
        self._seen: set[str] = set()
        self._deadline = 0.0

    def run(
        self,
        run_id: str | None = None,
        trigger: str = "scheduled",
        started_at: float | None = None,
    ) -> CollectionRun:
        run = CollectionRun(
            id=run_id or new_run_id(),
            started_at=started_at or time.time(),
            trigger=trigger,
            owner=self.owner,
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
        except Exception as error:  # a bug or a case nobody foresaw: the run still ends
            run.errors.append(unforeseen(error))
            run.status = RunStatus.FAILED
            log.exception("collection %s failed unexpectedly", run.id)
        finally:
            self._seen.clear()
        run.finished_at = time.time()
        if run.status is RunStatus.RUNNING:
            run.status = _final_status(run)
        try:
            self.store.save_run(run)
        except Exception as error:
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
        deadline = self._deadline = run.started_at + self.settings.collection_budget_seconds
        self.breaker.allow_trial()
        self._tree_requests = 0
        for subreddit in self.settings.subreddits:
            counts = run.subreddits.setdefault(subreddit, SubredditCounts())
            hottest: list[str] = []
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
                    self._over_budget(run, subreddit, listing.value, counts)
                    continue
                try:
                    self.breaker.check()
                except CircuitOpen as open_circuit:
                    counts.failed += 1
                    run.errors.append(
                        ListingError(subreddit, listing.value, "CircuitOpen", str(open_circuit))
                    )
                    continue
                stored, posts = self._listing(run, subreddit, listing, counts)
                if self.on_listing is not None:
                    self.on_listing(subreddit, listing, stored)
                if listing is Listing.HOT:
                    hottest = posts
                self.store.save_run(run)  # progress is visible while the cycle runs
            if self.settings.comment_tree_posts and hottest:
                self._comment_trees(run, subreddit, counts, hottest)
                self.store.save_run(run)

    def _over_budget(
        self, run: CollectionRun, subreddit: str, listing: str, counts: SubredditCounts
    ) -> None:
        counts.failed += 1
        budget = self.settings.collection_budget_seconds
        message = f"cycle budget of {budget:.0f}s used up"
        run.errors.append(ListingError(subreddit, listing, "BudgetExceeded", message))

    def _listing(
        self, run: CollectionRun, subreddit: str, listing: Listing, counts: SubredditCounts
    ) -> tuple[int, list[str]]:
        """Fetch, score and store one listing, page by page (SCORING_AHEAD pages scoring while
        older ones are stored); returns how many items were stored and the ids of its posts,
        in listing order. The budget is checked between pages: a listing that runs past it
        keeps what it stored and is recorded as cut short."""
        pending: deque[ScoringJob] = deque()
        stored_before = counts.new + counts.updated
        posts: list[str] = []
        try:
            for page in self.collector.pages(subreddit, listing, deadline=self._deadline):
                posts.extend(i.id for i in page.items if i.kind is Kind.POST)
                fresh = self._fresh(run, subreddit, page)
                unscored = self._unscored(fresh, run, subreddit, counts)
                if unscored:
                    pending.append(self.analyzer.submit(unscored))  # scoring starts now
                if len(pending) > SCORING_AHEAD:
                    oldest = pending.popleft()
                    # Rather than wait for the scorer, score a page it has not started.
                    while not oldest.done and any(job.steal_one() for job in reversed(pending)):
                        pass
                    self._store_scored(oldest, run, subreddit, counts)
                if time.time() > self._deadline:
                    self._over_budget(run, subreddit, listing.value, counts)
                    break
            else:
                self.breaker.record_success()
        except ListingFailed as failure:  # the pages before it are kept
            self.breaker.record_failure(failure.error)
            counts.failed += 1
            run.errors.append(
                ListingError(subreddit, listing.value, failure.error_name, str(failure))
            )
        except BaseException:
            for job in pending:
                job.cancel()
            raise
        while pending:
            self._store_scored(pending.popleft(), run, subreddit, counts)
        return counts.new + counts.updated - stored_before, posts

    def _fresh(self, run: CollectionRun, subreddit: str, page: ListingPage) -> list[Item]:
        """The page's items this run has not stored yet; its rejected things are recorded."""
        for rejected in page.rejected:
            run.reject(subreddit, rejected.fullname, rejected.reason)
        fresh = [item for item in page.items if item.id not in self._seen]
        self._seen.update(item.id for item in fresh)
        return fresh

    def _comment_trees(
        self, run: CollectionRun, subreddit: str, counts: SubredditCounts, hottest: list[str]
    ) -> None:
        """Whole comment trees of the N hottest posts, within the cycle's request budget."""
        budget = self.settings.comment_tree_request_budget
        for post_id in hottest[: self.settings.comment_tree_posts]:
            remaining = budget - self._tree_requests
            if remaining < 1 or self.stop_requested.is_set():
                # The configured bound, not a failure: the next cycle reads the trees again.
                log.info("comment trees: request budget of %d used up at r/%s", budget, subreddit)
                return
            if time.time() > self._deadline:
                self._over_budget(run, subreddit, "tree", counts)
                return
            more = min(self.settings.comment_tree_more_limit, remaining - 1)
            self._tree_requests += 1 + more  # at most: one tree page + `more` morechildren
            try:
                self.breaker.check()
                self.collector.wait_for_window(self._deadline)  # PRAW's models: not via _get
                tree = self.collector.fetch_comment_tree(post_id, subreddit, more)
                self.breaker.record_success()
            except CircuitOpen as open_circuit:
                run.errors.append(ListingError(subreddit, "tree", "CircuitOpen", str(open_circuit)))
                return
            except RateLimitReserve as reserve:
                run.errors.append(ListingError(subreddit, "tree", "RateLimitReserve", str(reserve)))
                return
            except ListingFailed as failure:
                self.breaker.record_failure(failure.error)
                counts.failed += 1
                run.errors.append(
                    ListingError(subreddit, f"tree:{post_id}", failure.error_name, str(failure))
                )
                tree = ListingPage(failure.partial, None)
            unscored = self._unscored(self._fresh(run, subreddit, tree), run, subreddit, counts)
            if unscored:
                self._store_scored(self.analyzer.submit(unscored), run, subreddit, counts)

    def _unscored(
        self, items: list[Item], run: CollectionRun, subreddit: str, counts: SubredditCounts
    ) -> list[Item]:
        """Store at once the items whose text was scored before (with the stored scores) and
        return the rest, to be scored."""
        if not items:
            return items
        ready, to_score = split_scored(
            items, self.store, self.analyzer, self.keywords, self.settings.deleted_items
        )
        if ready:
            self._store_batch(ready, run, subreddit, counts)
        return to_score

    def _store_scored(
        self, job: ScoringJob, run: CollectionRun, subreddit: str, counts: SubredditCounts
    ) -> None:
        # Scored in the analyzer's worker process, a batch at a time: this thread stores one
        # batch while the next is scored, and holds no GIL while it waits.
        for scored in job:
            self._store_batch(scored, run, subreddit, counts)

    def _store_batch(
        self, items: Sequence[Item], run: CollectionRun, subreddit: str, counts: SubredditCounts
    ) -> None:
        """Store scored items and count them."""
        counts.fetched += len(items)
        result = upsert_isolating(
            self.store, items, lambda item, reason: run.reject(subreddit, item.id, reason)
        )
        counts.new += result.new
        counts.updated += result.updated

    def rate_limits(self) -> RateLimits:
        """Reddit's rate-limit headers of the last response this cycle's PRAW received."""
        return self.collector.limits

    def refresh_trending(self) -> None:
        trending.refresh(self.store, self.settings.trending_min_count)

    def warm_up(self) -> None:
        """Load what a cycle needs (PRAW, the scoring worker and VADER's lexicon) ahead of the
        first one, which then starts at full speed. Makes no request to Reddit."""
        _ = self.collector.reddit
        self.analyzer.warm_up()

    def close(self) -> None:
        """Stop the scoring process (the service's shutdown, the CLI's end)."""
        self.analyzer.close()


def build_cycle(
    settings: Settings,
    store: Store,
    *,
    stop: StopFlag | None = None,
    owner: str | None = None,
) -> CollectionCycle:
    """The one place a cycle is put together from the settings: the collector thread, the
    cycle process, the CLI and the tests all call this."""
    return CollectionCycle(
        settings,
        store,
        Analyzer(settings.analyzer_max_chars, mode=settings.analyzer_mode),
        RedditCollector(settings),
        stop=stop,
        owner=owner,
    )


def unforeseen(error: BaseException) -> ListingError:
    """The run record's entry for an exception no part of the cycle expected."""
    return ListingError("*", "cycle", type(error).__name__, message_of(error))


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
