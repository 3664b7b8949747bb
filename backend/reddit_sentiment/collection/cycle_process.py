"""The whole collection cycle in a child process (`COLLECTOR_MODE=process`, the default).

Everything a cycle does in Python (reading Reddit's JSON, VADER, building store rows, the
trending pass) holds a GIL. In the service process that is the event loop's GIL, and a health
probe waits for it: even with fetching and scoring already in child processes, the store
writes and the trending pass alone raised health p99 well above idle (measured:
specs/measurements.md#cycle-process). So the collector thread
only hands each cycle to this single-worker child and waits (without the GIL) for its run
record. The child opens its own store from the settings (SQLite's WAL and Cosmos both take a
second writer) and runs the same `CollectionCycle` as inline mode; its scoring runs in the
analyzer's own worker process, so fetching and storing overlap scoring.

The children run in the idle scheduling class (workers.py); if the cycle process dies
mid-cycle the service records the run as failed and the next cycle starts a new one. There is
no third busy process (fetching apart from storing): on two cores it bought little throughput
and cost health p99 (measured: specs/measurements.md#cycle-process).
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import CancelledError, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from ..models import (
    CollectionRun,
    RateLimits,
    RunKind,
    RunStatus,
    failed_run,
    new_run_id,
    process_owner,
)
from ..settings import Settings
from ..store.base import Store, StoreUnavailable
from .cycle import CollectionCycle, build_cycle
from .workers import LazyWorker

log = logging.getLogger(__name__)

_cycle: CollectionCycle | None = None


def _init(settings: Settings, stop: Any, owner: str) -> None:
    from ..logging_setup import configure_logging
    from ..store import create_store

    configure_logging(settings.log_level)
    store = create_store(settings)  # opened by the first task: failing there fails a run
    global _cycle
    _cycle = build_cycle(settings, store, stop=stop, owner=owner)


_store_open = False


def _child() -> CollectionCycle:
    """The cycle, its store opened (retried by every task until it opens)."""
    global _store_open
    assert _cycle is not None, "cycle process not initialised"
    if not _store_open:
        _cycle.store.open()
        _store_open = True
    return _cycle


def _run(run_id: str, trigger: str, started_at: float) -> CollectionRun:
    try:
        cycle = _child()
    except StoreUnavailable as error:
        log.error("collection %s failed: store unavailable: %s", run_id, error)
        return failed_run(
            run_id, trigger, started_at, cycle_owner(), "store", type(error).__name__, str(error)
        )
    return cycle.run(run_id, trigger, started_at)


def _reconcile(
    run_id: str, trigger: str, older_than: float | None, subreddit: str | None
) -> CollectionRun:
    try:
        cycle = _child()
    except StoreUnavailable as error:
        log.error("reconcile %s failed: store unavailable: %s", run_id, error)
        run = failed_run(
            run_id, trigger, time.time(), cycle_owner(), "store", type(error).__name__, str(error)
        )
        run.kind = RunKind.RECONCILE
        return run
    return cycle.reconcile(run_id, trigger, older_than=older_than, subreddit=subreddit)


def _rate_limits() -> RateLimits:
    return _child().rate_limits()


def _refresh_trending() -> None:
    _child().refresh_trending()


def _warm_up() -> None:
    _child().warm_up()


def cycle_owner() -> str:
    assert _cycle is not None, "cycle process not initialised"
    return _cycle.owner


def _close() -> None:
    if _cycle is not None:
        _cycle.close()
        if _store_open:
            asyncio.run(_cycle.store.aclose())


class SharedStopFlag:
    """The service's stop request, which the child reads at each checkpoint: one shared byte.

    Not a multiprocessing Event: an exit handler unlinks an Event's named semaphores, and
    uvicorn ends the process by re-raising the SIGTERM it caught, which skips exit handlers, so
    Python's resource tracker warned of 5 leaked semaphores at every stop."""

    def __init__(self) -> None:
        self._flag = multiprocessing.get_context("spawn").RawValue(ctypes.c_bool, False)

    def set(self) -> None:
        self._flag.value = True

    def is_set(self) -> bool:
        return bool(self._flag.value)


class ProcessCycle:
    """Runs cycles in the child; `store` is the service's, for recording a child's death."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.stop_requested = SharedStopFlag()
        self.owner = process_owner()
        self._worker = LazyWorker(_init, settings, self.stop_requested, self.owner)

    def _pool(self) -> ProcessPoolExecutor:
        pool = self._worker.get()
        if pool is None:
            raise RuntimeError("the cycle process was closed")
        return pool

    def run(self, run_id: str | None = None, trigger: str = "scheduled") -> CollectionRun:
        run_id = run_id or new_run_id()
        started = time.time()
        pool = self._pool()
        # The cycle checks its budget between pages, so it ends within the budget and one
        # page; a child still busy after the grace period too is stuck, and is stopped.
        limit = self.settings.collection_budget_seconds + self.settings.collection_grace_seconds
        try:
            return pool.submit(_run, run_id, trigger, started).result(timeout=limit)
        except (BrokenProcessPool, CancelledError) as error:
            self._worker.drop(pool)
            return self._record_end(run_id, trigger, started, repr(error), died=True)
        except TimeoutError:
            self._worker.kill(pool)
            return self._record_end(run_id, trigger, started, f"no result after {limit:.0f}s")

    def reconcile(
        self,
        run_id: str | None = None,
        trigger: str = "scheduled",
        *,
        older_than: float | None = None,
        subreddit: str | None = None,
    ) -> CollectionRun:
        """The reconcile pass in the child, under the same limits as a cycle."""
        run_id = run_id or new_run_id()
        started = time.time()
        pool = self._pool()
        limit = self.settings.collection_budget_seconds + self.settings.collection_grace_seconds
        task = pool.submit(_reconcile, run_id, trigger, older_than, subreddit)
        try:
            return task.result(timeout=limit)
        except (BrokenProcessPool, CancelledError) as error:
            self._worker.drop(pool)
            return self._record_end(run_id, trigger, started, repr(error), died=True,
                                    kind=RunKind.RECONCILE)  # fmt: skip
        except TimeoutError:
            self._worker.kill(pool)
            return self._record_end(run_id, trigger, started, f"no result after {limit:.0f}s",
                                    kind=RunKind.RECONCILE)  # fmt: skip

    def rate_limits(self) -> RateLimits:
        """The child's PRAW's last rate-limit headers (none before its first request)."""
        pool = self._worker.get()
        if pool is None:
            return RateLimits()
        try:
            return pool.submit(_rate_limits).result(timeout=30)
        except Exception as error:  # a dead or busy child: nothing known
            log.debug("rate limits not read from the cycle process: %r", error)
            return RateLimits()

    def _record_end(
        self,
        run_id: str,
        trigger: str,
        started: float,
        cause: str,
        died: bool = False,
        kind: RunKind = RunKind.COLLECT,
    ) -> CollectionRun:
        """Record a run whose cycle process died (failed) or was stopped for hanging
        (interrupted); what it stored is kept, the counts it had are lost with it."""
        if died:
            log.error("collection %s: the cycle process died (%s)", run_id, cause)
            error, message = "CycleProcessDied", "the cycle process exited"
        else:
            log.error("collection %s: the cycle process hung (%s); stopped it", run_id, cause)
            error, message = "Stalled", f"the cycle process hung ({cause}) and was stopped"
        run = failed_run(run_id, trigger, started, self.owner, "cycle", error, message)
        run.kind = kind
        if not died:
            run.status = RunStatus.INTERRUPTED
        try:
            # What the child stored is kept; the counts it had are lost with it.
            self.store.save_run(run)
        except Exception as store_error:
            log.error("collection %s: could not record its failure: %s", run_id, store_error)
        return run

    @property
    def pid(self) -> int | None:
        """The cycle process's pid, once started (diagnostics and tests)."""
        return self._worker.pid

    def refresh_trending(self) -> None:
        self._in_child(_refresh_trending)

    def warm_up(self) -> None:
        """Start the cycle process, open its store and load PRAW and the scorer in it."""
        self._in_child(_warm_up)

    def _in_child(self, task: Callable[[], None]) -> None:
        """Run `task` in the child; a dead child is dropped (the next task starts another)."""
        pool = self._pool()
        try:
            pool.submit(task).result()
        except (BrokenProcessPool, CancelledError):
            self._worker.drop(pool)
            raise

    def close(self) -> None:
        """Close the child's cycle and store, then stop it. Idempotent."""
        self._worker.close(_close)
