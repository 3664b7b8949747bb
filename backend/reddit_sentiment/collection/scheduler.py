"""APScheduler on the event loop; the blocking cycle in one single-worker thread executor.

The scheduler only awaits `loop.run_in_executor(executor, cycle.run)`: the cycle runs in the
one `collector` thread, which hands PRAW's fetching and VADER's scoring to single-worker child
processes and writes the store itself, so the event loop stays free for health and dashboard
requests.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from ..alerts import Alerting
from ..models import (
    COLLECTOR_LEASE,
    CollectionRun,
    RateLimits,
    RunKind,
    RunStatus,
    failed_run,
    new_run_id,
    process_owner,
)
from ..settings import Role, Settings, WorkerMode, rate_budget
from ..store.base import Store
from ..store.verify import Report, verify
from .workers import lower_thread_priority

if TYPE_CHECKING:
    from .cycle import Cycle

log = logging.getLogger(__name__)

# Seconds one store read of the alert evaluation may take on the event loop.
ALERT_READ_TIMEOUT = 60.0


def cycle_factory(settings: Settings, store: Store, own_store: bool) -> Callable[[], Cycle] | None:
    """What the service's collector thread runs each cycle with, built there on first use; None
    when this process does not collect (ROLE=api, or collection not configured)."""
    if settings.role is Role.API:
        log.info("ROLE=api: this process serves the API and does not collect")
        return None
    reason = settings.collection_not_configured_reason()
    if reason:
        log.warning("%s; the API is served, nothing will be collected", reason)
        return None

    budget = rate_budget(settings)
    if not budget["fits"]:
        log.warning("Reddit rate budget exceeded: %s", budget["message"])
    else:
        log.info("Reddit rate budget: %s", budget["message"])

    def build() -> Cycle:
        # Imported here, in the collector thread: with cycles in their own process the
        # service never loads PRAW or VADER, and starts that much sooner.
        from .cycle import build_cycle
        from .cycle_process import ProcessCycle

        # The cycle process opens its own store from the settings, so a store handed to
        # create_app (tests, embedding) is written by a cycle in the collector thread.
        if settings.collector_mode is WorkerMode.PROCESS and own_store:
            return ProcessCycle(settings, store)
        return build_cycle(settings, store)

    return build


class CollectionAlreadyRunning(RuntimeError):
    pass


class CollectionService:
    """Owns the scheduler and the executor; the lifespan starts and stops it."""

    COLLECT_JOB = "collect"
    RETENTION_JOB = "retention"
    VERIFY_JOB = "verify"
    LEASE_JOB = "lease"
    TRENDING_JOB = "trending"
    LEASE_NAME = COLLECTOR_LEASE

    def __init__(
        self,
        settings: Settings,
        store: Store,
        cycle_factory: Callable[[], Cycle] | None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="collector", initializer=lower_thread_priority
        )
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self._cycle_factory = cycle_factory
        self._cycle: Cycle | None = None
        self._active: asyncio.Future[CollectionRun] | None = None
        self.active_run_id: str | None = None
        self.last_run: CollectionRun | None = None
        self.last_reconcile: CollectionRun | None = None
        # Reddit's X-Ratelimit-* headers of the last response, read after each cycle.
        self.rate_limits = RateLimits()
        self.store_error: str | None = None
        self.owner = process_owner()
        self.is_leader = False
        self.warm = False  # the cycle's processes, PRAW and VADER are loaded
        self._warming: asyncio.Future[None] | None = None
        self._recording: asyncio.Future[None] | None = None  # a crashed run's record
        self.last_verify: Report | None = None  # this process's newest scheduled verify
        # Rules are evaluated where cycles end: only a collecting process fires alerts.
        self.alerting = Alerting(settings, store) if cycle_factory is not None else None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def collection_enabled(self) -> bool:
        return self._cycle_factory is not None

    @property
    def running(self) -> bool:
        return bool(self.scheduler.running)

    @property
    def busy(self) -> bool:
        return self._active is not None and not self._active.done()

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        now = datetime.now(UTC)
        if self.collection_enabled:
            first = now + timedelta(seconds=self.settings.collection_start_delay_seconds)
            self.scheduler.add_job(
                self._scheduled_collect,
                IntervalTrigger(
                    seconds=self.settings.collection_interval_seconds, start_date=first
                ),
                # Explicit: with a zero delay the interval trigger would skip to start + interval.
                next_run_time=first,
                id=self.COLLECT_JOB,
                max_instances=1,
                coalesce=True,
                # A run that is late because the previous cycle overran still runs once.
                misfire_grace_time=max(60, self.settings.collection_interval_seconds // 2),
            )
        if self.collection_enabled:
            self.scheduler.add_job(
                self.renew_lease,
                IntervalTrigger(seconds=max(1.0, self.settings.lease_ttl_seconds / 3)),
                next_run_time=now,
                id=self.LEASE_JOB,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
            )
        if self.collection_enabled:
            self.scheduler.add_job(
                self.run_trending,
                IntervalTrigger(seconds=self.settings.trending_interval_seconds),
                id=self.TRENDING_JOB,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
            )
        self.scheduler.add_job(
            self.run_retention,
            IntervalTrigger(
                seconds=self.settings.retention_interval_seconds,
                start_date=now + timedelta(seconds=60),
            ),
            id=self.RETENTION_JOB,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=3600,
        )
        if self.collection_enabled and self.settings.verify_interval:
            self.scheduler.add_job(
                self.run_verify,
                IntervalTrigger(
                    seconds=self.settings.verify_interval,
                    start_date=now + timedelta(seconds=120),
                ),
                id=self.VERIFY_JOB,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
            )
        self.scheduler.start()

    def next_collection_at(self) -> datetime | None:
        job = self.scheduler.get_job(self.COLLECT_JOB) if self.running else None
        return job.next_run_time if job else None

    def _ensure_cycle(self) -> Cycle:
        # Built in the executor thread, so the PRAW instance is born in the thread that uses it.
        if self._cycle is None:
            assert self._cycle_factory is not None
            self._cycle = self._cycle_factory()
        return self._cycle

    def _run_sync(self, run_id: str, trigger: str) -> CollectionRun:
        cycle = self._ensure_cycle()
        run = cycle.run(run_id, trigger)
        # The reconcile pass follows each cycle in the same thread (and process), so the two
        # never share Reddit's budget at once; it takes only its share of the interval's.
        if self.settings.reconcile_after and self.settings.reconcile_request_share > 0:
            try:
                # After a failed cycle (Reddit or the store down) the pass would fail too.
                if run.status is not RunStatus.FAILED and not cycle.stop_requested.is_set():
                    self.last_reconcile = cycle.reconcile(trigger=trigger)
            except Exception as error:  # recorded by the pass; this is the machinery failing
                log.error("reconcile pass failed: %r", error)
        self._refresh_trending()
        self.evaluate_alerts()
        try:
            self.rate_limits = cycle.rate_limits()
        except Exception as error:
            log.debug("rate limits not read: %r", error)
        return run

    def evaluate_alerts(self) -> None:
        """The alert rules on the aggregates just written: called in the collector thread at
        the end of every cycle (and of any other pass that writes items). The store's reads
        are awaited on the event loop; deliveries go to their own worker. Never raises."""
        loop = self._loop
        if self.alerting is None or loop is None or loop.is_closed():
            return

        def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
            return asyncio.run_coroutine_threadsafe(coroutine, loop).result(ALERT_READ_TIMEOUT)

        try:
            self.alerting.resume_pending(run)  # the first time: what a stopped process left
            self.alerting.after_cycle(run)
        except Exception as error:  # after_cycle catches its own; this is the last guard
            log.error("alert evaluation failed: %s", error)

    def _refresh_trending(self) -> None:
        try:
            self._ensure_cycle().refresh_trending()
        except Exception as error:  # a failed refresh keeps serving the previous result
            log.error("trending refresh failed: %s", error)

    async def run_trending(self) -> None:
        """Scheduled refresh (windows slide even without new items); the collector's job."""
        if self.is_leader and not self.busy:
            await asyncio.get_running_loop().run_in_executor(self.executor, self._refresh_trending)

    def start_collection(
        self, trigger: str = "manual"
    ) -> tuple[str, asyncio.Future[CollectionRun]]:
        """Hand a cycle to the executor now; raise when one is running already."""
        if not self.collection_enabled:
            raise RuntimeError("collection is not configured")
        if self.busy:
            raise CollectionAlreadyRunning(self.active_run_id or "")
        run_id = new_run_id()
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self.executor, self._run_sync, run_id, trigger)
        self._active = future
        self.active_run_id = run_id
        future.add_done_callback(partial(self._finished, run_id, trigger, time.time()))
        return run_id, future

    def _finished(
        self, run_id: str, trigger: str, started: float, future: asyncio.Future[CollectionRun]
    ) -> None:
        self.active_run_id = None
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:
            # The cycle records every failure it can see; this one escaped it (a bug, or the
            # machinery around it failing), so the run is ended here, in the store too.
            log.error("collection %s crashed: %r", run_id, error, exc_info=error)
            run = failed_run(
                run_id, trigger, started, self.owner, "cycle", type(error).__name__, str(error)
            )
            self._recording = asyncio.get_running_loop().run_in_executor(None, self._record, run)
        else:
            run = future.result()
        self.last_run = run
        store_errors = [e.message for e in run.errors if e.listing == "store"]
        # Readiness reports a store the collector cannot write until a cycle writes again.
        self.store_error = store_errors[0] if store_errors else None

    def _record(self, run: CollectionRun) -> None:
        try:
            self.store.save_run(run)
        except Exception as error:
            log.error("collection %s: could not record its failure: %s", run.id, error)

    async def end_stalled_runs(self) -> int:
        """Mark runs still `running` past the budget and its grace period `interrupted`:
        whatever runs them (a hung process, one that died without a successor) will not end
        them. The lease holder does this at every renewal."""
        grace = self.settings.collection_budget_seconds + self.settings.collection_grace_seconds
        ended = await asyncio.to_thread(self.store.interrupt_running_runs, time.time() - grace)
        if ended:
            log.warning("%d stalled run(s) marked interrupted", ended)
        return ended

    async def renew_lease(self) -> bool:
        """Take or keep the collector lease; only its holder runs cycles.

        With several processes (uvicorn --workers, replicas) each has a scheduler; the lease in
        the shared store makes exactly one of them collect, and another takes over within one
        lease period when the holder dies. Runs off the loop (store write) but not in the
        collector thread, which may be busy with a cycle.
        """
        ttl = self.settings.lease_ttl_seconds
        try:
            held = await asyncio.to_thread(
                self.store.acquire_lease, self.LEASE_NAME, self.owner, ttl
            )
            if held and not self.is_leader:
                await self._become_leader(ttl)
            if held:
                await self.end_stalled_runs()
        except Exception as error:
            log.warning("could not renew the collector lease: %s", error)
            self.store_error = str(error)
            held = False
        else:
            self.store_error = None  # the lease write went through: the store takes writes
        if self.is_leader and not held:
            log.warning("%s lost the collector lease", self.owner)
        self.is_leader = held
        return held

    async def _become_leader(self, ttl: float) -> None:
        log.info("%s holds the collector lease (ttl %.0fs)", self.owner, ttl)
        # Whoever held the lease before us is gone: its running cycle will never finish.
        # (When we are mid-cycle ourselves, we only re-took our own lease after a store hiccup.)
        interrupted = 0 if self.busy else await asyncio.to_thread(self.store.interrupt_running_runs)
        if interrupted:
            log.warning(
                "%d run(s) left running by a previous collector marked interrupted", interrupted
            )
        self.is_leader = True
        if self.settings.collector_warm_up and not self.warm and self._warming is None:
            # During the start delay, in the collector thread (a cycle queues behind it).
            self._warming = asyncio.get_running_loop().run_in_executor(self.executor, self._warm_up)
        await self._catch_up(force=interrupted > 0)

    def _warm_up(self) -> None:
        started = time.perf_counter()
        try:
            self._ensure_cycle().warm_up()
        except Exception as error:  # the first cycle loads what is missing, or reports it
            log.warning("could not warm up the collector: %s", error)
            return
        self.warm = True
        log.info("collector warmed up in %.1fs", time.perf_counter() - started)

    async def _catch_up(self, force: bool) -> None:
        """A new leader collects soon when the last cycle is older than one interval (or was
        interrupted), instead of waiting out its own schedule."""
        job = self.scheduler.get_job(self.COLLECT_JOB)
        if job is None or job.next_run_time is None:
            return
        page = await self.store.list_runs(limit=1, kind=RunKind.COLLECT)
        last = page.runs[0] if page.runs else None
        stale = last is None or time.time() - last.started_at >= (
            self.settings.collection_interval_seconds
        )
        soon = datetime.now(UTC) + timedelta(seconds=self.settings.collection_start_delay_seconds)
        if (force or stale) and job.next_run_time > soon:
            log.info("catching up: next collection moved to %s", soon.isoformat())
            job.modify(next_run_time=soon)

    async def _scheduled_collect(self) -> None:
        if not await self.renew_lease():
            log.debug("not collecting: another process holds the collector lease")
            return
        try:
            _, future = self.start_collection("scheduled")
        except CollectionAlreadyRunning:
            log.info("scheduled collection skipped: run %s still going", self.active_run_id)
            return
        # A crash is logged by _finished; the scheduler must keep running either way.
        try:
            # Shielded: stopping the scheduler cancels this job, and that must not cancel the
            # collection, which the service's shutdown stops at a checkpoint and waits for.
            await asyncio.shield(future)
        except asyncio.CancelledError:
            log.debug("scheduler stopped while collection %s ran", self.active_run_id)
        except Exception:
            pass

    async def run_verify(self) -> Report | None:
        """Scheduled verify of the aggregates (VERIFY_INTERVAL_SECONDS), by the lease holder
        in the collector thread: never beside a cycle's writes, never on the event loop."""
        if not self.is_leader:
            return None
        loop = asyncio.get_running_loop()
        try:
            report = await loop.run_in_executor(self.executor, verify, self.store)
        except Exception as error:
            log.error("scheduled verify failed: %s", error)
            return None
        self.last_verify = report
        for drift in report.drifts[:20]:
            log.error("aggregate drift: %s", drift.describe())
        if report.drifts:
            log.error("verify: %d aggregate rows differ from the items; run "
                      "`python -m reddit_sentiment repair`", len(report.drifts))  # fmt: skip
        else:
            log.info("verify: %d items, no aggregate drift (%.1fs)", report.items, report.seconds)
        return report

    async def run_retention(self) -> int:
        now = time.time()
        cutoff = now - self.settings.retention_days * 86400
        days = self.settings.import_retention_days
        imported_cutoff = None if days is None else now - days * 86400
        loop = asyncio.get_running_loop()
        try:
            # Same single worker as collection: SQLite has one writer anyway, and a cleanup
            # never races a cycle that is writing the same rows.
            deleted = await loop.run_in_executor(
                self.executor, self.store.delete_older_than, cutoff, imported_cutoff
            )
        except Exception as error:
            log.error("retention cleanup failed: %s", error)
            return 0
        if deleted:
            log.info(
                "retention: deleted %d items older than %d days",
                deleted,
                self.settings.retention_days,
            )
        return deleted

    async def shutdown(self) -> None:
        """Stop scheduling, let a running cycle end (bounded), then free the thread."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self.busy and self._active is not None:
            timeout = self.settings.collection_shutdown_timeout_seconds
            log.info("waiting up to %.0fs for collection %s to finish", timeout, self.active_run_id)
            if self._cycle is not None:
                self._cycle.stop_requested.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._active), timeout)
            except (TimeoutError, Exception):
                log.warning("collection %s did not finish in time", self.active_run_id)
        self.executor.shutdown(wait=False, cancel_futures=True)
        if self._warming is not None and not self._warming.done():
            # Let it finish building the cycle, so the close below reaches its processes.
            # (Still queued, the executor's shutdown has cancelled it instead.)
            try:
                await asyncio.wait_for(asyncio.shield(self._warming), 60)
            except asyncio.CancelledError:
                if not self._warming.cancelled():
                    raise
            except Exception as error:
                log.warning("the collector's warm-up did not finish: %r", error)
        if self.alerting is not None:
            self.alerting.close()
        if self._cycle is not None:  # stop the fetch and scoring worker processes
            await asyncio.to_thread(self._cycle.close)
        if self.is_leader:
            try:
                await asyncio.to_thread(self.store.release_lease, self.LEASE_NAME, self.owner)
            except Exception as error:
                log.warning("could not release the collector lease: %s", error)
            self.is_leader = False
