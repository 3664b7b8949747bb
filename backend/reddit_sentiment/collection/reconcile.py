"""The reconcile pass: stored items re-fetched as they age, so they say what Reddit says now.

Reddit items keep changing for days after a listing showed them: scores and comment counts
settle, authors edit, moderators remove, users delete. Each item is re-fetched through
`/api/info` (100 fullnames a request, read like a listing page, so through the same
`parse_listing`/`clean_text` path) once it has passed each age in RECONCILE_AFTER, oldest due
first. An item's `reconcile_stage` is how many of those ages it has been re-checked past; the
store finds due items with an indexed query per stage and band of creation times.

A re-fetch updates score, comment count, upvote ratio and `edited`; an edited text is scored
again; a deleted, removed or no longer served item has its text and author purged
(`collector.purge`, `cycle.settle_purged`). Every write goes through `Store.upsert_items`, so
the delta engine moves the aggregates by exactly the change. The scheduled pass runs after each
cycle, in the same thread or process, within RECONCILE_REQUEST_SHARE of the interval's request
budget and never into Reddit's rate-limit reserve; what does not fit waits for the next pass.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from ..models import (
    REDDIT_PAGE_SIZE,
    CollectionRun,
    Item,
    ItemState,
    ListingError,
    RunKind,
    RunStatus,
    SubredditCounts,
    new_run_id,
)
from ..settings import DeletedItems, Settings, reconcile_requests
from ..store.base import Store, StoreUnavailable
from . import trending
from .analyzer import Analyzer, text_of
from .collector import RedditCollector, describe_error, purge
from .keywords import KeywordMatcher

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Due:
    item: Item
    stage: int  # the stage it reaches once re-checked


def stage_for(age: float, ages: list[float]) -> int:
    """How many of `ages` (ascending) an item of this age has passed."""
    return sum(1 for limit in ages if age >= limit)


class ReconcilePass:
    """Built once by the cycle, sharing its PRAW instance, analyzer and store; each `run` is
    one pass."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        analyzer: Analyzer,
        collector: RedditCollector,
        keywords: KeywordMatcher,
        *,
        owner: str,
        stopped: Callable[[], bool] = lambda: False,
    ) -> None:
        self.settings = settings
        self.store = store
        self.analyzer = analyzer
        self.collector = collector
        self.keywords = keywords
        self.owner = owner
        self.stopped = stopped
        # Called after each batch (items checked so far, items due if known): the CLI's bar.
        self.on_batch: Callable[[int], None] | None = None

    # -- choosing what to re-fetch -------------------------------------------------------
    def _due(self, now: float, subreddit: str | None) -> Iterator[list[_Due]]:
        """Batches of up to 100 due items, oldest first: for each target stage k from the
        last, the items created in its band (passed age k, not age k + 1) at a stage below k.
        The store is asked again after each batch is written (their stage moved on)."""
        ages = self.settings.reconcile_after
        for target in range(len(ages), 0, -1):
            until = now - ages[target - 1]
            after = None if target == len(ages) else now - ages[target]
            previous: list[str] = []
            while True:
                streams = [
                    self.store.due_items(
                        stage=stage,
                        created_after=after,
                        created_until=until,
                        subreddit=subreddit,
                        limit=REDDIT_PAGE_SIZE,
                    )
                    for stage in range(target)
                ]
                merged = heapq.merge(*streams, key=lambda i: (i.created_utc, i.id))
                batch = [_Due(i, target) for i in merged][:REDDIT_PAGE_SIZE]
                ids = [d.item.id for d in batch]
                if not batch or ids == previous:  # none, or the last batch did not move on
                    break
                previous = ids
                yield batch

    def _older_than(
        self, now: float, older_than: float, subreddit: str | None
    ) -> Iterator[list[_Due]]:
        """Every item created at least `older_than` ago, oldest first, whatever its stage."""
        ages = self.settings.reconcile_after
        batch: list[_Due] = []
        for item in self.store.iter_items(until=now - older_than, subreddit=subreddit):
            target = max(item.reconcile_stage, stage_for(now - item.created_utc, ages))
            batch.append(_Due(item, target))
            if len(batch) == REDDIT_PAGE_SIZE:
                yield batch
                batch = []
        if batch:
            yield batch

    # -- the pass -----------------------------------------------------------------------
    def run(
        self,
        run_id: str | None = None,
        trigger: str = "scheduled",
        *,
        older_than: float | None = None,
        subreddit: str | None = None,
        max_requests: int | None = -1,
    ) -> CollectionRun:
        """One pass. `max_requests` -1: the configured share of the interval's budget (the
        scheduled pass); None: no cap but Reddit's window (the CLI). `older_than`: re-check
        every item at least that old instead of those due."""
        run = CollectionRun(
            id=run_id or new_run_id(),
            started_at=time.time(),
            trigger=trigger,
            owner=self.owner,
            kind=RunKind.RECONCILE,
        )
        cap = reconcile_requests(self.settings) if max_requests == -1 else max_requests
        purged = 0
        try:
            self.store.save_run(run)
            purged = self._reconcile(run, cap, older_than, subreddit)
        except StoreUnavailable as error:
            run.errors.append(ListingError("*", "store", type(error).__name__, str(error)))
            run.status = RunStatus.FAILED
            log.error("reconcile %s failed: store unavailable: %s", run.id, error)
        except Exception as error:  # a bug or a case nobody foresaw: the run still ends
            run.errors.append(ListingError("*", "reconcile", type(error).__name__, str(error)))
            run.status = RunStatus.FAILED
            log.exception("reconcile %s failed unexpectedly", run.id)
        if purged:
            self._refresh_trending(run)
        run.finished_at = time.time()
        if run.status is RunStatus.RUNNING:
            run.status = _final_status(run)
        try:
            self.store.save_run(run)
        except Exception as error:
            log.error("reconcile %s: could not record its result: %s", run.id, error)
        totals = _totals(run)
        log.info(
            "reconcile %s %s in %.1fs: checked=%d updated=%d rescored=%d deleted=%d missing=%d "
            "failed=%d",
            run.id, run.status.value, run.finished_at - run.started_at, totals.checked,
            totals.updated, totals.rescored, totals.deleted, totals.missing, totals.failed,
        )  # fmt: skip
        return run

    def _reconcile(
        self, run: CollectionRun, cap: int | None, older_than: float | None, sub: str | None
    ) -> int:
        now = time.time()
        deadline = run.started_at + self.settings.collection_budget_seconds
        batches = (
            self._due(now, sub) if older_than is None else self._older_than(now, older_than, sub)
        )
        purged = checked = 0
        scheduled = cap is not None
        for requests, batch in enumerate(batches):
            if self.stopped():
                run.errors.append(ListingError("*", "reconcile", "Interrupted",
                                               "service shut down during the pass"))  # fmt: skip
                run.status = RunStatus.INTERRUPTED
                break
            if cap is not None and requests >= cap:
                log.info("reconcile: request share of %d used up; the rest waits", cap)
                break
            left = self.collector.requests_left()
            if scheduled and left is not None and left < 1:
                log.info("reconcile: Reddit's rate limit window is at its reserve; the rest waits")
                break
            if time.time() > deadline:
                run.errors.append(ListingError("*", "api/info", "BudgetExceeded",
                                               "the collection budget was used up"))  # fmt: skip
                break
            try:
                page = self.collector.info([d.item.id for d in batch], deadline)
            except Exception as error:  # every upstream failure is data for the run record
                message = describe_error(error)
                log.warning("reconcile: /api/info failed: %s", message)
                run.errors.append(ListingError("*", "api/info", type(error).__name__, message))
                for due in batch:
                    self._counts(run, due.item).failed += 1
                break  # Reddit is failing: the rest waits for the next pass
            purged += self._apply(run, batch, page.items, {r.fullname for r in page.rejected})
            checked += len(batch)
            if self.on_batch is not None:
                self.on_batch(checked)
            self.store.save_run(run)  # progress is visible while the pass runs
        return purged

    def _counts(self, run: CollectionRun, item: Item) -> SubredditCounts:
        return run.subreddits.setdefault(item.subreddit, SubredditCounts())

    def _apply(
        self, run: CollectionRun, batch: list[_Due], fetched: list[Item], rejected: set[str]
    ) -> int:
        """Write what Reddit's versions say of one batch; returns how many were purged now."""
        now = time.time()
        got = {item.id: item for item in fetched}
        ready: list[Item] = []
        unscored: list[Item] = []
        purged = 0
        for due in batch:
            stored = due.item
            counts = self._counts(run, stored)
            counts.checked += 1
            fresh = got.get(stored.id)
            if fresh is None and stored.id in rejected:
                counts.failed += 1  # what Reddit sent cannot be read: only the check moves on
                run.reject(stored.subreddit, stored.id, "the re-fetched version is malformed")
                fresh = _copy(stored)
            elif fresh is None:  # not served any more: a removal nobody can see the reason of
                counts.missing += 1
                fresh = _copy(stored)
                if not stored.purged:
                    fresh.state = ItemState.REMOVED
                    fresh.state_at = now
                    purge(fresh)
            fresh.subreddit, fresh.created_utc = stored.subreddit, stored.created_utc
            fresh.collected_at = stored.collected_at
            fresh.checked_at = now
            fresh.reconcile_stage = max(due.stage, stored.reconcile_stage)
            if fresh.purged:
                settle_purged(fresh, stored, self.settings.deleted_items)
                if not stored.purged:
                    purged += 1
                    if fresh.id in got:
                        counts.deleted += 1
                if _changed(stored, fresh):
                    counts.updated += 1
                ready.append(fresh)
                continue
            text = text_of(fresh)
            fresh.text_hash = self.analyzer.text_hash(text)
            fresh.keywords = self.keywords.find(text) if self.keywords else []
            fresh.counted = True
            if fresh.text_hash == stored.text_hash and stored.text_hash:
                fresh.take_scores(stored)
                if _changed(stored, fresh):
                    counts.updated += 1
                ready.append(fresh)
            else:
                counts.updated += 1
                counts.rescored += 1
                unscored.append(fresh)
        if unscored:
            for scored in self.analyzer.submit(unscored):
                ready.extend(scored)
        if ready:
            self.store.upsert_items(ready)
        return purged

    def _refresh_trending(self, run: CollectionRun) -> None:
        """Stored trending results are rebuilt, so a purged title is served by none of them."""
        try:
            trending.refresh(self.store, self.settings.trending_min_count)
            self.store.checkpoint()  # the old results' bytes too
        except Exception as error:
            log.error("reconcile %s: trending refresh after a purge failed: %s", run.id, error)
            run.errors.append(ListingError("*", "trending", type(error).__name__, str(error)))


def settle_purged(item: Item, before: Item | None, deleted_items: DeletedItems) -> Item:
    """A deleted or removed `item` (text and author already purged) as it is stored: with
    the sentiment its stored version had, counted by the aggregates only under
    DELETED_ITEMS=keep-scores and only if that version was counted. First seen purged, it has
    no text to score: neutral, counted under keep-scores as before purging existed (VADER
    found "[deleted]" neutral). The time it was first seen so is kept."""
    if before is None:
        item.counted = deleted_items is DeletedItems.KEEP_SCORES
        return item
    item.take_scores(before)
    item.keywords, item.text_hash = list(before.keywords), before.text_hash
    item.counted = before.counted and deleted_items is DeletedItems.KEEP_SCORES
    if before.purged and before.state_at is not None:
        item.state_at = before.state_at
    return item


def _copy(item: Item) -> Item:
    return replace(item, keywords=list(item.keywords))


# What a re-fetch can change that is worth counting as an update.
_WATCHED = ("score", "num_comments", "upvote_ratio", "edited_at", "state", "title", "body",
            "author")  # fmt: skip


def _changed(before: Item, after: Item) -> bool:
    return any(getattr(before, name) != getattr(after, name) for name in _WATCHED)


def _totals(run: CollectionRun) -> SubredditCounts:
    total = SubredditCounts()
    for counts in run.subreddits.values():
        for name in ("checked", "updated", "rescored", "deleted", "missing", "failed"):
            setattr(total, name, getattr(total, name) + getattr(counts, name))
    return total


def _final_status(run: CollectionRun) -> RunStatus:
    if not run.errors:
        return RunStatus.SUCCEEDED
    totals = _totals(run)
    # Nothing re-fetched (Reddit failed at once), or nothing that was re-fetched could be read.
    nothing_read = totals.checked == 0 or totals.checked == totals.failed
    return RunStatus.FAILED if nothing_read else RunStatus.PARTIAL
