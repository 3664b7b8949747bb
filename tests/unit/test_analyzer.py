"""Scores equal vaderSentiment's own, labels follow the standard thresholds."""

from __future__ import annotations

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from reddit_sentiment.analyzer import Analyzer, label_for
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
