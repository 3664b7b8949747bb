"""Importing dump files: lines -> items -> scores -> the store, as one run of kind `import`.

Each line goes through the collector's own `item_from_data` (so `clean_text` and every rule
for odd fields), the filters, then the cycle's steps: fingerprint and keywords, stored scores
reused for a text already scored (a re-run, or items the collector saw), VADER on the rest in
the scoring worker, and `Store.upsert_items` by fullname (the delta engine moves the
aggregates). A batch of lines is scored while older ones are stored, as in a cycle, so memory
holds a few batches whatever the file's size, and both cores work.

Nothing in a file stops an import: a line that is not JSON, not a submission or comment, or
not a keepable item is counted and recorded (the run keeps the first ones with their file and
line number). A file that cannot be read ends as an error of the run, and the next file is
read. A stop request (SIGINT in the CLI) ends the run `interrupted` after storing what was
scored; running the same import again stores nothing twice (upserts by fullname) and scores
nothing twice (the fingerprints match).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..models import (
    COLLECTOR_LEASE,
    CollectionRun,
    Item,
    Kind,
    ListingError,
    RunKind,
    RunStatus,
    SubredditCounts,
    new_run_id,
    process_owner,
)
from ..settings import Settings
from ..store.base import Store, StoreUnavailable
from .analyzer import Analyzer, ScoringJob
from .collector import ItemRejected, item_from_data
from .cycle import SCORING_AHEAD, StopFlag, unforeseen
from .dumps import DumpReader, DumpRecord, DumpUnreadable
from .keywords import KeywordMatcher
from .storing import split_scored, upsert_isolating

log = logging.getLogger(__name__)

# How often the lease is renewed while importing, and how often progress is reported.
LEASE_RENEW_SECONDS = 20.0
PROGRESS_SECONDS = 0.25
SAVE_SECONDS = 2.0  # and how often the run record is saved with its counts so far
# Where a line that is not an item is counted in the run (it has no subreddit).
NO_SUBREDDIT = "*"


@dataclass(frozen=True, slots=True)
class ImportFilter:
    """Which items of a dump to keep: subreddits (lower case), creation time in
    [since, until), one kind; None keeps all."""

    subreddits: frozenset[str] | None = None
    since: float | None = None
    until: float | None = None
    kind: Kind | None = None

    def keeps(self, item: Item) -> bool:
        if self.kind is not None and item.kind is not self.kind:
            return False
        if self.subreddits is not None and item.subreddit not in self.subreddits:
            return False
        if self.since is not None and item.created_utc < self.since:
            return False
        return self.until is None or item.created_utc < self.until


@dataclass(slots=True)
class ImportProgress:
    """What the progress bar shows; also the import's summary at the end."""

    total_bytes: int = 0
    bytes_read: int = 0  # of files done, plus the current file's
    lines: int = 0
    stored: int = 0  # new + updated
    new: int = 0
    updated: int = 0
    skipped: int = 0  # by the filters
    repeats: int = 0  # a thing read again before its first copy was stored: stored once, the last
    rejected: int = 0
    file: str = ""
    started: float = field(default_factory=time.monotonic)

    @property
    def items_per_second(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.stored / elapsed if elapsed > 0 else 0.0


class LeaseLost(Exception):
    """Another process took the collector lease while this import held it."""


class DumpImporter:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        analyzer: Analyzer | None = None,
        *,
        keep: ImportFilter | None = None,
        owner: str | None = None,
        stop: StopFlag | None = None,
        lease_owner: str | None = None,
        batch_size: int | None = None,
        on_progress: Callable[[ImportProgress], None] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        # An import is a batch job someone started: its scoring worker runs at the priority
        # of the command (run it under `nice` beside a service), not in the idle class a
        # service's worker uses, which a busy machine would starve.
        self.analyzer = analyzer or Analyzer(
            settings.analyzer_max_chars, mode=settings.analyzer_mode, background=False
        )
        self.keep = keep or ImportFilter()
        self.owner = owner or process_owner()
        self.stop_requested: StopFlag = stop if stop is not None else threading.Event()
        # The holder of the collector lease to renew while importing (None: --no-lease).
        self.lease_owner = lease_owner
        self.batch_size = batch_size or settings.import_batch_size
        self.on_progress = on_progress
        self.keywords = KeywordMatcher(settings.track_keywords)
        self.progress = ImportProgress()
        self._lease_renewed = time.monotonic()
        self._reported = 0.0
        self._saved = time.monotonic()
        # Where the items being scored go (subreddit, creation time), by fullname: a copy read
        # meanwhile goes to the same place (Cosmos finds an item in its own partition only),
        # as one read after it was stored does (`known_scores`). At most a write's worth and the
        # batches at the scorer.
        self._in_flight: dict[str, tuple[str, float]] = {}
        self._unstored: list[Item] = []  # scored, waiting for a write of IMPORT_WRITE_ITEMS
        # Batches handed to the scorer before the oldest is stored: a cycle's few, plus a
        # write's worth, so the scorer has work for as long as a write takes.
        self._scoring_ahead = SCORING_AHEAD + -(-settings.import_write_items // self.batch_size)

    # -- the run -------------------------------------------------------------------------
    def run(self, paths: Sequence[Path], run_id: str | None = None) -> CollectionRun:
        run = CollectionRun(
            id=run_id or new_run_id(),
            started_at=time.time(),
            trigger="cli",
            owner=self.owner,
            kind=RunKind.IMPORT,
        )
        self.progress = ImportProgress(total_bytes=_sizes(paths))
        log.info("import %s started: %s", run.id, ", ".join(str(p) for p in paths))
        try:
            self.store.save_run(run)
            self._import(run, paths)
        except StoreUnavailable as error:
            run.errors.append(ListingError("*", "store", type(error).__name__, str(error)))
            run.status = RunStatus.FAILED
            log.error("import %s failed: store unavailable: %s", run.id, error)
        except LeaseLost as error:
            run.errors.append(ListingError("*", "lease", "LeaseLost", str(error)))
            run.status = RunStatus.INTERRUPTED
        except KeyboardInterrupt:  # a second Ctrl-C: still a finalised run
            run.errors.append(ListingError("*", "import", "Interrupted", "interrupted"))
            run.status = RunStatus.INTERRUPTED
        except Exception as error:  # a bug or a case nobody foresaw: the run still ends
            run.errors.append(unforeseen(error))
            run.status = RunStatus.FAILED
            log.exception("import %s failed unexpectedly", run.id)
        run.finished_at = time.time()
        if run.status is RunStatus.RUNNING:
            run.status = _final_status(run, len(paths))
        try:
            self.store.save_run(run)
        except Exception as error:
            log.error("import %s: could not record its result: %s", run.id, error)
        self._report(force=True)
        return run

    def _import(self, run: CollectionRun, paths: Sequence[Path]) -> None:
        pending: deque[ScoringJob] = deque()
        done_bytes = 0
        try:
            for path in paths:
                self.progress.file = path.name
                try:
                    with DumpReader(path) as reader:
                        self._file(run, path, reader, pending, done_bytes)
                        done_bytes += reader.size
                except DumpUnreadable as error:
                    run.errors.append(ListingError("*", path.name, "DumpUnreadable", str(error)))
                    log.warning("import %s: %s", run.id, error)
                    done_bytes += _sizes([path])
                # A file's items are stored before the next file is read (and what was read
                # before a stop is stored too): a later file's copy of an item is its update.
                while pending:
                    self._store_scored(pending.popleft(), run)
                self._flush(run)
                self.progress.bytes_read = done_bytes
                if self.stop_requested.is_set():
                    break
        except BaseException:
            for job in pending:
                job.cancel()
            raise
        if self.stop_requested.is_set():
            run.status = RunStatus.INTERRUPTED
            where = f"at {self.progress.file} line {self.progress.lines}"
            run.errors.append(
                ListingError("*", "import", "Interrupted", f"stopped {where}; run it again")
            )

    def _file(
        self,
        run: CollectionRun,
        path: Path,
        reader: DumpReader,
        pending: deque[ScoringJob],
        done_bytes: int,
    ) -> None:
        batch: list[Item] = []
        now = time.time()
        try:
            self._records(run, path, reader, pending, done_bytes, batch, now)
        except DumpUnreadable:
            if batch:  # what was read before the damage is kept
                self._batch(run, batch, pending)
            raise

    def _records(
        self,
        run: CollectionRun,
        path: Path,
        reader: DumpReader,
        pending: deque[ScoringJob],
        done_bytes: int,
        batch: list[Item],
        now: float,
    ) -> None:
        for record in reader.records():
            self.progress.lines += 1
            item = self._item(run, path, record, now)
            if item is not None:
                batch.append(item)
            if len(batch) >= self.batch_size:
                self._batch(run, batch[:], pending)
                batch.clear()
                now = time.time()
                self.progress.bytes_read = done_bytes + reader.bytes_read
                self._report()
                self._renew_lease()
                self._save_progress(run)
                if self.stop_requested.is_set():
                    return
            elif self.stop_requested.is_set():
                break
        if batch:
            self._batch(run, batch[:], pending)
            batch.clear()

    def _item(self, run: CollectionRun, path: Path, record: DumpRecord, now: float) -> Item | None:
        """The item of a line, or None (counted as rejected or skipped)."""
        if record.data is None or record.thing_kind is None:
            self._reject(run, path, record.line, record.error or "not an item")
            return None
        try:
            item = item_from_data(record.data, record.thing_kind, "", now)
        except ItemRejected as rejected:
            self._reject(run, path, record.line, f"{rejected.fullname}: {rejected.reason}")
            return None
        if not item.subreddit:
            self._reject(run, path, record.line, f"{item.id}: no valid subreddit")
            return None
        if not self.keep.keeps(item):
            self.progress.skipped += 1
            return None
        item.imported = True
        return item

    def _reject(self, run: CollectionRun, path: Path, line: int, reason: str) -> None:
        self.progress.rejected += 1
        run.reject(NO_SUBREDDIT, f"{path.name}:{line}", reason)

    # -- the cycle's steps, a batch at a time ---------------------------------------------
    def _batch(self, run: CollectionRun, items: list[Item], pending: deque[ScoringJob]) -> None:
        unique = list({item.id: item for item in items}.values())
        self.progress.repeats += len(items) - len(unique)
        unscored = self._unscored(unique, run)
        if unscored:
            pending.append(self.analyzer.submit(unscored))
        while len(pending) > self._scoring_ahead:
            oldest = pending.popleft()
            while not oldest.done and any(job.steal_one() for job in reversed(pending)):
                pass
            self._store_scored(oldest, run)

    def _unscored(self, items: list[Item], run: CollectionRun) -> list[Item]:
        """Store at once the items stored before with the same text (keeping their scores,
        subreddit and creation time); return the rest, to score."""
        ready, to_score = split_scored(
            items,
            self.store,
            self.analyzer,
            self.keywords,
            self.settings.deleted_items,
            placed=self._in_flight,  # a line read again before its first copy is stored
        )
        self._stage(ready, run)
        for item in to_score:
            self._in_flight[item.id] = (item.subreddit, item.created_utc)
        return to_score

    def _store_scored(self, job: ScoringJob, run: CollectionRun) -> None:
        for scored in job:
            self._stage(scored, run)

    def _stage(self, items: Sequence[Item], run: CollectionRun) -> None:
        """Queue scored items for the store; store them once there are IMPORT_WRITE_ITEMS."""
        self._unstored.extend(items)
        if len(self._unstored) >= self.settings.import_write_items:
            self._flush(run)

    def _flush(self, run: CollectionRun) -> None:
        """Store the queued items (the store groups them by partition), counted per
        subreddit."""
        queued, self._unstored = self._unstored, []
        items = list({item.id: item for item in queued}.values())  # the last copy read
        self.progress.repeats += len(queued) - len(items)
        if not items:
            return
        for item in items:
            run.subreddits.setdefault(item.subreddit, SubredditCounts()).fetched += 1
            self._in_flight.pop(item.id, None)
        result = upsert_isolating(self.store, items, lambda one, why: self._refused(run, one, why))
        result.add_to(run.subreddits)
        self.progress.new += result.new
        self.progress.updated += result.updated
        self.progress.stored += result.new + result.updated

    def _refused(self, run: CollectionRun, item: Item, reason: str) -> None:
        run.reject(item.subreddit, item.id, reason)
        self.progress.rejected += 1

    # -- housekeeping ----------------------------------------------------------------------
    def _renew_lease(self) -> None:
        if self.lease_owner is None:
            return
        now = time.monotonic()
        if now - self._lease_renewed < LEASE_RENEW_SECONDS:
            return
        self._lease_renewed = now
        if not self.store.acquire_lease(
            COLLECTOR_LEASE, self.lease_owner, lease_ttl(self.settings)
        ):
            raise LeaseLost("another process took the collector lease during the import")

    def _save_progress(self, run: CollectionRun) -> None:
        """The run record as it stands, now and then: /collections shows an import under way."""
        now = time.monotonic()
        if now - self._saved >= SAVE_SECONDS:
            self._saved = now
            self.store.save_run(run)

    def _report(self, force: bool = False) -> None:
        if self.on_progress is None:
            return
        now = time.monotonic()
        if force or now - self._reported >= PROGRESS_SECONDS:
            self._reported = now
            self.on_progress(self.progress)

    def close(self) -> None:
        self.analyzer.close()


def lease_ttl(settings: Settings) -> float:
    """How long the import's hold on the collector lease lasts unless renewed: long enough
    for a slow batch, short enough that a killed import frees it soon."""
    return max(settings.lease_ttl_seconds, 3 * LEASE_RENEW_SECONDS)


def _sizes(paths: Iterable[Path]) -> int:
    total = 0
    for path in paths:
        try:
            total += path.stat().st_size
        except OSError:
            continue
    return total


def _final_status(run: CollectionRun, files: int) -> RunStatus:
    if not run.errors:
        return RunStatus.SUCCEEDED
    unreadable = sum(1 for e in run.errors if e.error == "DumpUnreadable")
    stored = sum(c.new + c.updated for c in run.subreddits.values())
    return RunStatus.FAILED if unreadable >= files and stored == 0 else RunStatus.PARTIAL
