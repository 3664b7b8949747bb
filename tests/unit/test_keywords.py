"""Ticker and word matching, including the well-known false positives."""

from __future__ import annotations

import pytest

from reddit_sentiment.keywords import KeywordMatcher, canonical

MATCHER = KeywordMatcher(["$TSLA", "$ON", "$GO", "python", "machine learning"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Bought $TSLA today", ["$TSLA"]),
        ("bought $tsla and TSLA", ["$TSLA"]),
        ("TSLA to the moon", ["$TSLA"]),
        ("tsla is lower case, no match", []),
        ("TSLAX is another fund", []),
        ("Turn it ON and GO", ["$ON", "$GO"]),  # upper-case whole words count
        ("turn it on and go home, can you", []),  # the everyday words do not
        ("$on counts with the dollar", ["$ON"]),
        ("I love Python!", ["python"]),
        ("pythonic is another word", []),
        ("Machine   Learning at scale", ["machine learning"]),
        ("", []),
    ],
)
def test_matches(text: str, expected: list[str]) -> None:
    assert MATCHER.find(text) == expected


def test_canonical_forms() -> None:
    assert canonical("$tsla") == "$TSLA"
    assert canonical(" Machine  Learning ") == "machine learning"
    assert not KeywordMatcher([" ", ""])
