"""Single-worker child processes for the cycle's CPU-bound work (the cycle itself, scoring).

Parsing Reddit's JSON, building store rows and running VADER are pure Python: done in the
service process they hold the GIL, and the event loop waits for it before it can answer a
health probe. A child process has its own GIL. Children are spawned (the service has threads
whose locks a fork would copy mid-use), run in the idle scheduling class so a probe never
waits for a core behind them, ignore Ctrl-C (the service decides when to stop) and exit by
themselves when orphaned.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

log = logging.getLogger(__name__)

# Nice values (Linux keeps them per thread). The event loop stays at the service's own;
# the collector thread below it; the worker processes lowest: on a contended core a health
# probe never waits behind collection, which only needs the cycles nobody else wants.
# Two busy processes at nice 0 raise health p99 markedly, at nice 19 not at all
# (measured: specs/measurements.md#worker-niceness).
COLLECTOR_THREAD_NICENESS = 10
WORKER_NICENESS = 19


def run_in_background() -> None:
    """Move the calling thread to the idle scheduling class (threads it starts inherit it).

    Nice 19 only shrinks a thread's share: a woken probe may still wait out the worker's time
    slice. A SCHED_IDLE thread is preempted as soon as any normal thread wakes on its core,
    which brings health p99 during a cycle closer to idle than nice 19 alone (measured:
    specs/measurements.md#idle-scheduling-class). Falls back to nice 19.
    """
    lower_thread_priority(WORKER_NICENESS)
    with contextlib.suppress(OSError, AttributeError):  # not Linux, or not allowed
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))


GIVE_WAY_EVERY_SECONDS = 0.0005
# When a worker next yields; None outside worker processes (their initializer sets it), so the
# service's own threads never do.
_give_way_at: float | None = None


def give_way() -> None:
    """Between short steps of a worker's CPU-bound loops: hand the core back to the kernel's
    scheduler every `GIVE_WAY_EVERY_SECONDS`; a no-op outside worker processes.

    A woken service thread should take a core from an idle-class worker at once, but on a
    kernel without forced preemption (as on the VM this was measured on) a kernel trace showed
    it waiting for the next scheduler tick behind a worker running Python: those waits were
    most of health p99 during a cycle. A `sched_yield()` lets it run there and then, and costs
    next to nothing when nothing else is waiting: p99 during a cycle fell and throughput did
    not (measured: specs/measurements.md#give-way).
    """
    global _give_way_at
    if _give_way_at is None:
        return
    now = time.perf_counter()
    if now >= _give_way_at:
        _give_way_at = now + GIVE_WAY_EVERY_SECONDS
        os.sched_yield()


def lower_thread_priority(niceness: int = COLLECTOR_THREAD_NICENESS) -> None:
    """Raise the calling thread's nice value (threads it starts inherit it)."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux, or not allowed
        current = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), max(current, niceness))


class LazyWorker:
    """One spawned single-worker pool: started on first use, replaced after it breaks,
    stopped for good by `close()`. Thread-safe."""

    def __init__(
        self, initializer: Callable[..., None], *initargs: Any, background: bool = True
    ) -> None:
        self._initializer = initializer
        self._initargs = initargs
        # False: a batch job's worker (`import`), at the priority of the process that starts it
        self.background = background
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self.closed = False

    def get(self) -> ProcessPoolExecutor | None:
        """The running pool (spawning it if needed); None once closed."""
        with self._lock:
            if self.closed:
                return None
            if self._pool is None:
                pool = ProcessPoolExecutor(
                    max_workers=1,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_init,
                    initargs=(os.getpid(), self.background, self._initializer, *self._initargs),
                )
                if self.background:
                    _start_in_background(pool)
                self._pool = pool
            return self._pool

    def warm_up(self, timeout: float) -> None:
        """Start the worker (if needed) and wait until its initializer has run."""
        pool = self.get()
        if pool is not None:
            pool.submit(_started).result(timeout)

    def drop(self, pool: ProcessPoolExecutor) -> bool:
        """Forget a broken pool, so the next `get()` spawns a new one. False when `pool` was
        dropped or replaced already."""
        with self._lock:
            current = self._pool is pool
            if current:
                self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)
        return current

    def kill(self, pool: ProcessPoolExecutor) -> None:
        """Stop a worker that no longer answers (SIGKILL), then forget its pool."""
        processes = getattr(pool, "_processes", None) or {}
        for process in list(processes.values()):
            process.kill()
        self.drop(pool)

    def close(self, last: Callable[[], object] | None = None, timeout: float = 30.0) -> None:
        """Run `last` in the worker (if it is running), then stop it. Idempotent."""
        with self._lock:
            self.closed = True
            pool, self._pool = self._pool, None
        if pool is None:
            return
        if last is not None:
            try:
                pool.submit(last).result(timeout=timeout)
            except Exception as error:
                log.warning("worker did not finish %s cleanly: %r", last.__name__, error)
        pool.shutdown(wait=True, cancel_futures=True)

    @property
    def pid(self) -> int | None:
        """The worker's pid once started (diagnostics and tests)."""
        processes = getattr(self._pool, "_processes", None) or {}
        return next(iter(processes), None)


def _start_in_background(pool: ProcessPoolExecutor) -> None:
    """Start the pool's worker from a thread in the idle class.

    A process inherits the scheduling class of the thread that forks it, so the worker's
    interpreter start-up and imports (about half a second of CPU, before `_init` runs) never
    take a core from a probe either. The pool's helper threads in this process, started by the
    same first submit, inherit the class too: they only pass tasks and results along.
    """

    def start() -> None:
        run_in_background()
        with contextlib.suppress(Exception):  # the caller's own submit reports a broken pool
            pool.submit(_started)

    thread = threading.Thread(target=start, name="worker-start", daemon=True)
    thread.start()
    thread.join()


def _started() -> None:
    """The no-op task that makes a pool start its worker."""


def _init(parent: int, background: bool, initializer: Callable[..., None], *initargs: Any) -> None:
    # The service, not the worker, decides when it stops. A signal sent to the service's whole
    # process group (Ctrl-C, `timeout`, a supervisor stopping the group) would otherwise kill
    # the worker mid-write before the service could stop the cycle at a checkpoint; in a group
    # of its own it never gets one (and it leaves by itself once the service is gone, below).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)
    # A process outside the terminal's foreground group may still log to that terminal.
    signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    if background:
        run_in_background()
        global _give_way_at
        _give_way_at = 0.0
    # A worker holds both ends of its task pipe, so a parent killed with SIGKILL would leave
    # it waiting forever: it exits by itself once it has been re-parented. The parent's pid
    # comes from the parent: one killed while this interpreter was still starting is gone
    # already, and `os.getppid()` here would name the process that adopted the worker.
    threading.Thread(
        target=_exit_with_parent, args=(parent,), name="parent-watch", daemon=True
    ).start()
    initializer(*initargs)


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(0)
