"""VADER scoring with the standard thresholds and a cap on the text analysed.

VADER is pure Python: scoring a listing holds the GIL for as long as it runs, and in the
service process that is time the event loop waits for before it can answer a request. So a
cycle hands its texts to a single-worker process pool (`mode="process"`, the default), created
lazily by the thread that first scores, and only the numbers come back. The worker runs the same
`score_text` on the same vaderSentiment, so the scores are identical to scoring in-process
(`mode="inline"`, and `Analyzer.score` for one item).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING

from .models import Item, Kind, Label
from .settings import AnalyzerMode
from .workers import LazyWorker, give_way

if TYPE_CHECKING:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

log = logging.getLogger(__name__)


def _new_vader() -> SentimentIntensityAnalyzer:
    # Imported on first use: the service process never scores when cycles run in their own.
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


POSITIVE_THRESHOLD = 0.05
NEGATIVE_THRESHOLD = -0.05
# Reddit's placeholders for removed text carry no sentiment of the author.
_PLACEHOLDERS = frozenset({"[deleted]", "[removed]"})
# Texts per message to the worker: ~40 ms of VADER, so storing one batch overlaps scoring the
# next and a shutdown waits for at most one batch.
BATCH_SIZE = 250

# (compound, pos, neu, neg, truncated): what crosses the process boundary for one text.
Scores = tuple[float, float, float, float, bool]


# One definition, shared with the settings.
__all__ = ["Analyzer", "AnalyzerMode"]


def label_for(compound: float) -> Label:
    if compound >= POSITIVE_THRESHOLD:
        return Label.POSITIVE
    if compound <= NEGATIVE_THRESHOLD:
        return Label.NEGATIVE
    return Label.NEUTRAL


def text_of(item: Item) -> str:
    """Submissions are scored on title + selftext, comments on their body."""
    body = "" if item.body.strip() in _PLACEHOLDERS else item.body
    if item.kind is Kind.POST:
        return f"{item.title or ''}\n{body}".strip()
    return body.strip()


def score_text(vader: SentimentIntensityAnalyzer, text: str, max_chars: int) -> Scores:
    """The one scoring function, in-process and in the worker alike."""
    # A known vaderSentiment issue makes some long, emoji-heavy texts take tens of
    # seconds, so only the first max_chars are analysed and the item says so.
    truncated = len(text) > max_chars
    if truncated:
        text = text[:max_chars]
    # Lone surrogates from badly encoded input would crash str methods downstream.
    text = text.encode("utf-8", "replace").decode("utf-8")
    scores = vader.polarity_scores(text)
    give_way()
    return scores["compound"], scores["pos"], scores["neu"], scores["neg"], truncated


def apply_scores(item: Item, scores: Scores) -> Item:
    item.compound, item.pos, item.neu, item.neg, item.truncated = scores
    item.label = label_for(item.compound)
    return item


# -- the worker process ----------------------------------------------------------------------
_worker_vader: SentimentIntensityAnalyzer | None = None


def _init_worker() -> None:
    global _worker_vader
    _worker_vader = _new_vader()


def _score_batch(texts: list[str], max_chars: int) -> list[Scores]:
    vader = _worker_vader
    assert vader is not None, "worker not initialised"
    return [score_text(vader, text, max_chars) for text in texts]


class Analyzer:
    """Scores items; built once (VADER's lexicon takes ~100 ms to load).

    `close()` stops the worker process; the service calls it on shutdown.
    """

    def __init__(
        self,
        max_chars: int = 5000,
        mode: AnalyzerMode | str = AnalyzerMode.PROCESS,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.max_chars = max_chars
        self.mode = AnalyzerMode(mode)
        self.batch_size = batch_size
        self._vader: SentimentIntensityAnalyzer | None = None
        self._worker = LazyWorker(_init_worker)

    # -- in-process ----------------------------------------------------------------------
    @property
    def vader(self) -> SentimentIntensityAnalyzer:
        if self._vader is None:
            self._vader = _new_vader()
        return self._vader

    def score_text(self, text: str) -> tuple[dict[str, float], bool]:
        compound, pos, neu, neg, truncated = score_text(self.vader, text, self.max_chars)
        return {"compound": compound, "pos": pos, "neu": neu, "neg": neg}, truncated

    def score(self, item: Item) -> Item:
        """Score one item in this thread."""
        return apply_scores(item, score_text(self.vader, text_of(item), self.max_chars))

    # -- batches -------------------------------------------------------------------------
    def submit(self, items: Sequence[Item]) -> ScoringJob:
        """Start scoring `items` now; iterate the job for the scored batches, in order."""
        return ScoringJob(self, items)

    # -- the pool ------------------------------------------------------------------------
    def _pool_failed(self, pool: ProcessPoolExecutor, error: BaseException) -> None:
        if self._worker.drop(pool) and not self._worker.closed:
            log.warning("scoring worker failed (%r); scoring in-process until restarted", error)

    def warm_up(self, timeout: float = 60.0) -> None:
        """Load VADER here (for batches taken back from the worker) and, in process mode,
        start the worker and wait until it has loaded its own."""
        _ = self.vader
        if self.mode is AnalyzerMode.PROCESS:
            self._worker.warm_up(timeout)

    def close(self) -> None:
        """Stop the worker process (waits for the batch it is scoring). Idempotent."""
        self._worker.close()


class ScoringJob:
    """The scoring of one list of items, under way from the moment it is created.

    In process mode every batch is queued to the worker at once, so the caller can fetch or
    store something else meanwhile (store batch n while the worker scores batch n + 1), and
    waits for results without holding the GIL. If the worker dies or the analyzer is closed
    meanwhile, the rest is scored in-process: a cycle never loses items to the machinery.
    """

    def __init__(self, analyzer: Analyzer, items: Sequence[Item]) -> None:
        self.analyzer = analyzer
        size = analyzer.batch_size
        self.batches = [items[i : i + size] for i in range(0, len(items), size)]
        self.futures: list[Future[list[Scores]]] = []
        self._stolen: dict[int, list[Scores]] = {}
        self._pool = analyzer._worker.get() if analyzer.mode is AnalyzerMode.PROCESS else None
        if self._pool is None:
            return
        try:
            for batch in self.batches:
                texts = [text_of(item) for item in batch]
                self.futures.append(self._pool.submit(_score_batch, texts, analyzer.max_chars))
        except (BrokenProcessPool, RuntimeError) as error:  # RuntimeError: pool shut down
            analyzer._pool_failed(self._pool, error)

    def __len__(self) -> int:
        return sum(len(batch) for batch in self.batches)

    @property
    def done(self) -> bool:
        """Every batch is scored (or was taken back); iterating will not wait."""
        return all(f.done() or i in self._stolen for i, f in enumerate(self.futures))

    def steal_one(self) -> bool:
        """Score here the newest batch the worker has not started; False if there is none.

        A caller that would otherwise wait for an older job spends the wait scoring instead,
        so both cores score when fetching and storing leave one free.
        """
        for index in reversed(range(len(self.futures))):
            if index in self._stolen:
                continue
            if not self.futures[index].cancel():  # running or done: so are all before it
                return False
            vader, max_chars = self.analyzer.vader, self.analyzer.max_chars
            self._stolen[index] = [
                score_text(vader, text_of(item), max_chars) for item in self.batches[index]
            ]
            return True
        return False

    def __iter__(self) -> Iterator[Sequence[Item]]:
        analyzer = self.analyzer
        try:
            for index, batch in enumerate(self.batches):
                scores: list[Scores] | None = self._stolen.get(index)
                if scores is None and index < len(self.futures):
                    try:
                        scores = self.futures[index].result()
                    except (BrokenProcessPool, CancelledError) as error:
                        assert self._pool is not None
                        analyzer._pool_failed(self._pool, error)
                if scores is None:
                    yield [analyzer.score(item) for item in batch]
                else:
                    yield [apply_scores(item, s) for item, s in zip(batch, scores, strict=True)]
        finally:
            self.cancel()

    def cancel(self) -> None:
        """Drop the batches not scored yet (e.g. the caller gave up on this listing)."""
        for future in self.futures:
            future.cancel()
