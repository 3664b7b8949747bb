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
