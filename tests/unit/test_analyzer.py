"""Scores equal vaderSentiment's own, labels follow the standard thresholds, and scoring one text
takes a bounded time whatever it holds."""

from __future__ import annotations

import json
import math
import time
from importlib import resources

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from reddit_sentiment.collection.analyzer import (
    Analyzer,
    _expand_emoji,
    _word_facts,
    _words_within_budget,
    label_for,
    score_text,
    vader_input,
)
from reddit_sentiment.models import Kind, Label
from tests.factories import make_item

VADER = SentimentIntensityAnalyzer()
ANALYZER = Analyzer(max_chars=200)


@pytest.mark.parametrize(
    ("compound", "label"),
    [
        (0.05, Label.POSITIVE),
        (0.0499, Label.NEUTRAL),
        (-0.0499, Label.NEUTRAL),
        (-0.05, Label.NEGATIVE),
        (1.0, Label.POSITIVE),
        (-1.0, Label.NEGATIVE),
    ],
)
def test_standard_thresholds(compound: float, label: Label) -> None:
    assert label_for(compound) is label


def test_post_is_scored_on_title_and_selftext() -> None:
    item = make_item(body="It crashed and I lost everything. Terrible.")
    item.title = "I love this library"
    ANALYZER.score(item)
    expected = VADER.polarity_scores(
        "I love this library\nIt crashed and I lost everything. Terrible."
    )
    assert (item.compound, item.pos, item.neu, item.neg) == (
        expected["compound"],
        expected["pos"],
        expected["neu"],
        expected["neg"],
    )
    assert item.label is label_for(expected["compound"])
    assert item.truncated is False


def test_comment_is_scored_on_its_body() -> None:
    item = make_item(kind=Kind.COMMENT, body="What a wonderful, helpful answer!")
    ANALYZER.score(item)
    assert item.compound == VADER.polarity_scores("What a wonderful, helpful answer!")["compound"]
    assert item.label is Label.POSITIVE


def test_long_text_is_truncated_and_says_so() -> None:
    body = "great " * 10 + "awful " * 200
    item = ANALYZER.score(make_item(kind=Kind.COMMENT, body=body))
    assert item.truncated is True
    assert item.compound == VADER.polarity_scores(body[:200])["compound"]


@pytest.mark.parametrize(
    "body", ["", "[deleted]", "[removed]", "😀😀😀🔥🔥", "\ud83d broken surrogate", "   "]
)
def test_odd_content_scores_without_error(body: str) -> None:
    item = ANALYZER.score(make_item(kind=Kind.COMMENT, body=body))
    assert -1.0 <= item.compound <= 1.0
    if body.strip() in {"", "[deleted]", "[removed]"}:
        assert (item.compound, item.label) == (0.0, Label.NEUTRAL)


@pytest.mark.slow
def test_a_waiting_caller_steals_a_batch_the_worker_has_not_started() -> None:
    analyzer = Analyzer(mode="process", batch_size=20)
    vader = SentimentIntensityAnalyzer()
    try:
        # enough queued work that the worker cannot have started the last job's batch yet
        busy = analyzer.submit(
            [make_item(body="Great, awful, wonderful and terrible! " * 40) for _ in range(200)]
        )
        last = analyzer.submit([make_item(body=f"I love this, {n} times") for n in range(20)])
        pool = analyzer._worker.get()
        assert not last.done
        assert last.steal_one() is True  # its one batch, scored in this thread
        assert last.done and last.steal_one() is False
        (scored,) = list(last)
        expected = [vader.polarity_scores(f"{i.title}\n{i.body}")["compound"] for i in scored]
        assert [i.compound for i in scored] == expected
        assert sum(len(batch) for batch in busy) == 200  # the worker still scored the rest
        assert analyzer._worker.get() is pool  # a taken-back batch is not a broken worker
    finally:
        analyzer.close()


# -- bounded cost: VADER's time grows with its words (after emoji), not with characters --------
MAX_CHARS = 5000  # ANALYZER_MAX_CHARS' default
# Per text, generous for a busy 2-core machine: the bound is ~20 ms on a quiet one, where 5,000
# emoji once took 10 to 40 s.
SLOW_SECONDS = 0.2
EMOJI = sorted(key for key in VADER.emojis if len(key) == 1)
UNITS = [
    *("good", "x", "but", "never", "not", "so", "least", "no", "kind of", "LOVE", "lol", ":)"),
    *("!!!!", "????", "é" * 13, "a" + "\u0301" * 40, "\u0301", "مرحبا\u200f", "\u200b", "我们"),
    *("https://example.com/" + "a/" * 30, "😀", "😍", "🔥", "❤️", "🇺🇸"),
]


def vader_words(text: str) -> list[str]:
    """The words VADER scores (before it strips their punctuation): vaderSentiment 3.3.2's own
    emoji loop from `polarity_scores`, then `split()`."""
    out, prev_space = "", True
    for char in text:
        if char in VADER.emojis:
            out += ("" if prev_space else " ") + VADER.emojis[char]
            prev_space = False
        else:
            out += char
            prev_space = char == " "
    return out.split()


def flood(parts: list[tuple[str, str, int]]) -> str:
    return "".join((unit + separator) * count for unit, separator, count in parts)


FLOODS = st.lists(
    st.tuples(
        st.sampled_from(UNITS) | st.sampled_from(EMOJI) | st.text(max_size=8),
        st.sampled_from(["", " ", "\n", " x "]),
        st.integers(0, 20_000),
    ),
    min_size=1,
    max_size=4,
).map(flood)
ANY_TEXT = st.text(st.characters(exclude_categories=()))  # lone surrogates included


@pytest.mark.slow
@pytest.mark.serial  # a wall-clock bound per text: run alone, not beside a parallel neighbour
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(FLOODS | ANY_TEXT)
@example("😀" * 5000)  # 10 s before the work was bounded
@example("😍" * 5000)  # 38 s
@example("x good " * 1000)  # 0.8 s: each "good" copied the whole word list three times
@example("but " + "x good " * 800)  # 0.5 s, "but" scanning the scores for each word
@example("never good " * 500)
@example("a" + "\u0301" * 10_000)
@example("!" * 10_000 + "?" * 10_000)
@example("\ud83d" * 6000)
def test_scoring_time_is_bounded_and_says_when_the_text_was_cut(text: str) -> None:
    start = time.perf_counter()
    scores = score_text(VADER, text, MAX_CHARS)
    elapsed = time.perf_counter() - start
    assert elapsed < SLOW_SECONDS, f"{elapsed * 1000:.0f} ms"
    compound, pos, neu, neg, truncated = scores
    assert all(math.isfinite(x) for x in (compound, pos, neu, neg))
    assert -1.0 <= compound <= 1.0 and all(0.0 <= x <= 1.0 for x in (pos, neu, neg))
    # What VADER was given: a prefix of the text, shorter exactly when the item says so.
    seen, cut = vader_input(VADER, text, MAX_CHARS)
    whole = text.encode("utf-8", "replace").decode("utf-8")  # a lone surrogate becomes "?"
    assert whole.startswith(seen)
    assert cut is truncated is (seen != whole)
    assert scores[:4] == values(VADER.polarity_scores(seen))
    if truncated and len(text) <= MAX_CHARS:
        assert len(vader_words(whole)) > 200  # only a text of many words is cut for its work
    # VADER sees the first words of the first MAX_CHARS characters (an emoji with all of its
    # words or none), as many as fit in the budget.
    words = vader_words(seen)
    assert words == vader_words(whole[:MAX_CHARS])[: len(words)]
    facts = {word: _word_facts(VADER.lexicon, word) for word in words}
    assert _words_within_budget(facts, words) is None


@settings(max_examples=200, deadline=None)
@given(
    st.text(max_size=400)
    | st.lists(st.sampled_from(UNITS) | st.sampled_from(EMOJI), max_size=28).map(" ".join)
    | st.lists(st.sampled_from(UNITS) | st.sampled_from(EMOJI), max_size=28).map("".join)
)
def test_a_text_under_the_caps_scores_exactly_as_vader_does(text: str) -> None:
    assume(len(vader_words(text)) <= 200)
    assert score_text(VADER, text, MAX_CHARS) == (*values(VADER.polarity_scores(text)), False)


@given(st.lists(st.sampled_from(UNITS) | st.sampled_from(EMOJI) | st.text(max_size=3)).map("".join))
def test_emoji_are_expanded_as_vader_expands_them(text: str) -> None:
    assert _expand_emoji(VADER.emojis, text).split() == vader_words(text)


def test_a_long_ordinary_comment_is_not_cut() -> None:
    data = json.loads((resources.files("fakereddit") / "sample_data.json").read_text())
    (post,) = [p for p in data["subreddits"][0]["submissions"] if p["id"] == "py08"]  # long post
    text = ((post["selftext"] + "\n\n") * 5)[:MAX_CHARS]  # ~860 words
    assert score_text(VADER, text, MAX_CHARS) == (*values(VADER.polarity_scores(text)), False)


def test_an_emoji_flood_is_cut_before_a_whole_emoji() -> None:
    seen, truncated = vader_input(VADER, "😀" * 5000, MAX_CHARS)
    assert truncated and 100 < len(seen) < 5000 and set(seen) == {"😀"}


def values(scores: dict[str, float]) -> tuple[float, float, float, float]:
    return scores["compound"], scores["pos"], scores["neu"], scores["neg"]
