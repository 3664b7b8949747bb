"""VADER scoring with the standard thresholds and a cap on the text analysed.

VADER is pure Python: scoring a listing holds the GIL for as long as it runs, and in the
service process that is time the event loop waits for before it can answer a request. So a
cycle hands its texts to a single-worker process pool (`mode="process"`, the default), created
lazily by the thread that first scores, and only the numbers come back. The worker runs the same
`score_text` on the same vaderSentiment, so the scores are identical to scoring in-process
(`mode="inline"`, and `Analyzer.score` for one item).
"""

from __future__ import annotations

import hashlib
import logging
import re
import string
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING

from ..models import Item, Label
from ..settings import AnalyzerMode
from ..terms import text_of
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
# Part of every text fingerprint (`Analyzer.text_hash`): change it whenever the same text
# could score differently (the cost cap, vaderSentiment's version), and stored items are
# scored again the next time a listing shows them.
SCORING_VERSION = "vader-3.3.2/work-cap-1"
# Texts per message to the worker: a short stretch of VADER (measured:
# specs/measurements.md#scoring-batch-size), so storing one batch overlaps scoring the next and
# a shutdown waits for at most one batch.
BATCH_SIZE = 250

# (compound, pos, neu, neg, truncated): what crosses the process boundary for one text.
Scores = tuple[float, float, float, float, bool]


# One definition, shared with the settings.
__all__ = ["Analyzer", "AnalyzerMode", "text_of"]


def label_for(compound: float) -> Label:
    if compound >= POSITIVE_THRESHOLD:
        return Label.POSITIVE
    if compound <= NEGATIVE_THRESHOLD:
        return Label.NEGATIVE
    return Label.NEUTRAL


# -- what VADER's time grows with ---------------------------------------------------------------
# Read from vaderSentiment 3.3.2's `polarity_scores` (the timings behind the constants below,
# and examples: specs/measurements.md#vader-cost-model):
# * each emoji character is replaced by its description ("😀" -> "grinning face"): up to 6
#   words for one character, so characters say little about the words VADER scores;
# * each lexicon word with a word outside the lexicon among the three before it makes up to
#   four lower-cased copies of the whole word list (`_negation_check` for each such word,
#   `_special_idioms_check` once): time grows with (such words) x (all words), which is what
#   makes a flood of emoji (words in and out of the lexicon by turns) take seconds;
# * with "but" among the words, `_but_check` finds each word's score with `list.index`, a scan
#   from the first score to the first equal one: up to words^2 / 2 scores passed;
# * the rest is linear in the characters, the words and the lexicon words.
# So `score_text` prices the words VADER will see in units of one word copied (`_vader_work`):
# the copies are the cost that can explode, and stating every other step as a multiple of one
# copy (the constants below: ratios of measured timings) keeps the estimate a count of work,
# not a time on one machine. It cuts the text before the word that would take it over
# `WORK_BUDGET`, which bounds the VADER time of any one text; the budget is sized so ordinary
# posts fit well within it and only floods and a share of dense, emphatic texts are cut.
WORK_BUDGET = 400_000
_COPY_OVERHEAD = 80  # units: the fixed cost of one copy of the word list
_WORD_PASS = 15  # units: VADER's own pass over a word outside the lexicon
_LEXICON_WORD_PASS = 50  # and over a lexicon word
_SCAN_STEP = 1 / 4  # units: one score passed by `_but_check`'s `list.index`
_CHARS_PER_UNIT_ASCII = 100  # ASCII characters lower-cased in the time of one word copied
_NON_ASCII_WORD = 1.5  # units: copying a word with any other character in it
_CHARS_PER_UNIT = 12  # and lower-casing 12 of those characters
# The most copies any sequence of words can make, per word: a word outside the lexicon takes part
# in at most 4 copies (by the next three words), a lexicon word makes at most 4, so there are at
# most 4 x min(outside, inside) <= 2 x words copies.
_COPIES_PER_WORD = 2
_emoji_tables: dict[int, tuple[Mapping[str, str], dict[int, str], re.Pattern[str], bool]] = {}


def _emoji_table(emojis: Mapping[str, str]) -> tuple[dict[int, str], re.Pattern[str], bool]:
    """VADER's emoji for `str.translate`: each character (VADER looks at one at a time) to a
    space and its description. VADER adds that space only where there is none, which makes the
    same words. Also a pattern for the characters that may be emoji, found at C speed in any
    script (those outside the BMP taken as a range), and whether none of them is ASCII."""
    cached = _emoji_tables.get(id(emojis))
    if cached is None or cached[0] is not emojis:
        chars = sorted(key for key in emojis if len(key) == 1)
        table = {ord(char): " " + emojis[char] for char in chars}
        bmp = "".join(re.escape(char) for char in chars if ord(char) <= 0xFFFF)
        candidates = re.compile(f"[{bmp}\U00010000-\U0010ffff]")
        cached = emojis, table, candidates, not any(char.isascii() for char in chars)
        _emoji_tables[id(emojis)] = cached
    return cached[1:]


def _expand_emoji(emojis: Mapping[str, str], text: str) -> str:
    """`text` with VADER's words: each emoji replaced by a space and its description."""
    table, candidates, ascii_free = _emoji_table(emojis)
    if (ascii_free and text.isascii()) or candidates.search(text) is None:
        return text
    return text.translate(table)


def _source_index(emojis: Mapping[str, str], text: str, cut: int) -> int:
    """The index in `text` of what is at `cut` in `_expand_emoji(text)`; for a cut inside an
    emoji's description, the index of that emoji."""
    table, candidates, _ = _emoji_table(emojis)
    shift = 0  # how much longer the expansion is than `text`, up to here
    for found in candidates.finditer(text):
        index = found.start()
        words = table.get(ord(found.group()))
        if words is None:
            continue
        if index + shift >= cut:
            break
        if index + shift + len(words) > cut:
            return index
        shift += len(words) - 1
    return cut - shift


def _vader_work(copies: int, weight: float, passes: float, scan: float, but: bool) -> float:
    """VADER's time, in units of one word copied, for words of total `weight` that make
    `copies` copies of the word list, cost `passes` in its own loop over them, and would have
    `_but_check` pass `scan` scores if "but" is one of them."""
    return copies * (weight + _COPY_OVERHEAD) + passes + (_SCAN_STEP * scan if but else 0.0)


def _most_work(words: int, size: int) -> float:
    """The most work `words` words of `size` characters in all can be: each word at its
    heaviest, making as many copies as any sequence of words can, and "but" among them."""
    weight = _NON_ASCII_WORD * words + size / _CHARS_PER_UNIT
    passes = _LEXICON_WORD_PASS * words
    return _vader_work(_COPIES_PER_WORD * words, weight, passes, words * (words + 1) / 2, True)


def _word_facts(lexicon: Mapping[str, float], token: str) -> tuple[bool, float, bool]:
    """Of one of VADER's words: is it a lexicon word (after VADER's punctuation stripping), its
    weight in a copy, and is it "but"."""
    stripped = token.strip(string.punctuation)
    word = (token if len(stripped) <= 2 else stripped).lower()
    if token.isascii():
        weight = 1 + len(token) / _CHARS_PER_UNIT_ASCII
    else:
        weight = _NON_ASCII_WORD + len(token) / _CHARS_PER_UNIT
    return word in lexicon, weight, word == "but"


def _words_within_budget(
    facts: Mapping[str, tuple[bool, float, bool]], words: list[str]
) -> int | None:
    """How many of VADER's words fit in `WORK_BUDGET`; None for all of them.

    Replays VADER's word loop without its work: how many copies of the word list each lexicon
    word makes, and how far `_but_check` scans for each score (a lexicon word's: up to the word
    itself; the zero of any other word: up to the first such word).
    """
    copies = others = 0
    weight = passes = scan = 0.0
    first_other = -1
    but = False
    # whether each of the previous three words is a lexicon word (no word there: no copy)
    known1 = known2 = known3 = True
    for count, token in enumerate(words):
        in_lexicon, token_weight, is_but = facts[token]
        if in_lexicon:
            copies += (not known1) + (not known2) + 2 * (not known3)
            passes += _LEXICON_WORD_PASS
            scan += count + 1
        else:
            passes += _WORD_PASS
            others += 1
            if first_other < 0:
                first_other = count
        known1, known2, known3 = in_lexicon, known1, known2
        weight += token_weight
        but = but or is_but
        work = _vader_work(copies, weight, passes, scan + others * (first_other + 1), but)
        if work > WORK_BUDGET:
            return count
    return None


def _affordable_length(vader: SentimentIntensityAnalyzer, text: str) -> int | None:
    """How much of `text` VADER can score within `WORK_BUDGET`; None for all of it."""
    expanded = _expand_emoji(vader.emojis, text)
    size = len(expanded)
    # Cheap bounds first: at most one word in two characters, then the words counted, then
    # each distinct word looked at once (floods repeat a few); only then word by word.
    if _most_work((size + 1) // 2, size) <= WORK_BUDGET:
        return None
    words = expanded.split()
    total = len(words)
    if _most_work(total, size) <= WORK_BUDGET:
        return None
    facts = {}
    inside = 0
    weight = 0.0
    but = False
    for token, count in Counter(words).items():
        facts[token] = _word_facts(vader.lexicon, token)
        in_lexicon, token_weight, is_but = facts[token]
        inside += count if in_lexicon else 0
        weight += count * token_weight
        but = but or is_but
    passes = _LEXICON_WORD_PASS * inside + _WORD_PASS * (total - inside)
    copies = 4 * min(inside, total - inside)
    if _vader_work(copies, weight, passes, total * (total + 1) / 2, but) <= WORK_BUDGET:
        return None
    fit = _words_within_budget(facts, words)
    if fit is None:
        return None
    # Where the first word left out starts, in the expansion, then in `text`.
    cut = size - len(expanded.split(maxsplit=fit)[fit])
    return _source_index(vader.emojis, text, cut)


def vader_input(vader: SentimentIntensityAnalyzer, text: str, max_chars: int) -> tuple[str, bool]:
    """What `score_text` hands to VADER, and whether that is less than the whole text: at most
    `max_chars` characters, then at most `WORK_BUDGET` of VADER's work (whole words, seen
    after emoji are expanded; an emoji is kept with all its words or not at all)."""
    # A known vaderSentiment issue makes some long, emoji-heavy texts take tens of seconds;
    # the characters are capped first, then the work (see `WORK_BUDGET`).
    truncated = len(text) > max_chars
    if truncated:
        text = text[:max_chars]
    # Lone surrogates from badly encoded input would crash str methods downstream.
    text = text.encode("utf-8", "replace").decode("utf-8")
    affordable = _affordable_length(vader, text)
    if affordable is not None:
        text, truncated = text[:affordable], True
    return text, truncated


def score_text(vader: SentimentIntensityAnalyzer, text: str, max_chars: int) -> Scores:
    """The one scoring function, in-process and in the worker alike: VADER's scores of
    `vader_input(text)`, identical to `polarity_scores(text)` unless `truncated`."""
    text, truncated = vader_input(vader, text, max_chars)
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
    """Scores items; built once, because loading VADER's lexicon is slow to repeat
    (measured: specs/measurements.md#vader-lexicon-load).

    `close()` stops the worker process; the service calls it on shutdown.
    """

    def __init__(
        self,
        max_chars: int = 5000,
        mode: AnalyzerMode | str = AnalyzerMode.PROCESS,
        batch_size: int = BATCH_SIZE,
        *,
        background: bool = True,
    ) -> None:
        self.max_chars = max_chars
        self.mode = AnalyzerMode(mode)
        self.batch_size = batch_size
        self._vader: SentimentIntensityAnalyzer | None = None
        # background: the worker in the idle scheduling class (beside a service's event loop)
        self._worker = LazyWorker(_init_worker, background=background)

    # -- in-process ----------------------------------------------------------------------
    @property
    def vader(self) -> SentimentIntensityAnalyzer:
        if self._vader is None:
            self._vader = _new_vader()
        return self._vader

    def score_text(self, text: str) -> tuple[dict[str, float], bool]:
        compound, pos, neu, neg, truncated = score_text(self.vader, text, self.max_chars)
        return {"compound": compound, "pos": pos, "neu": neu, "neg": neg}, truncated

    def text_hash(self, text: str) -> str:
        """A fingerprint of what scoring `text` depends on: the text and how it is scored.
        Equal fingerprints mean equal scores, so a text seen again is not scored again."""
        key = f"{SCORING_VERSION}:{self.max_chars}:".encode() + text.encode("utf-8", "replace")
        return hashlib.blake2b(key, digest_size=12).hexdigest()

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
