"""Ticker and word matching, including the well-known false positives, and keywords in scripts
written without spaces."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from reddit_sentiment.collection.keywords import KeywordMatcher
from reddit_sentiment.models import canonical

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


# -- scripts written without spaces between words: substrings ---------------------------------
@pytest.mark.parametrize(
    ("keyword", "text", "found"),
    [
        ("比特币", "我今天买了比特币很开心", True),
        ("ビットコイン", "昨日ビットコインを買いました", True),
        ("บิตคอยน์", "วันนี้ฉันซื้อบิตคอยน์แล้ว", True),
        ("Tesla特斯拉", "我买了Tesla特斯拉的股票", True),
        ("Tesla特斯拉", "TESLA特斯拉", True),  # any case, like every other word
        ("Tesla特斯拉", "我买了Tesla的股票", False),
        ("比特币 ETF", "比特币  ETF获批了", True),  # a space in the keyword: any whitespace
        ("比特币", "以太坊涨了", False),
        ("비트", "오늘 비트코인 샀다", False),  # Korean writes spaces: whole words
        ("비트코인", "오늘 비트코인 샀다", True),
    ],
)
def test_unspaced_scripts_match_inside_words(keyword: str, text: str, found: bool) -> None:
    assert KeywordMatcher([keyword]).find(text) == ([keyword] if found else [])


CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF) | st.characters(
    min_codepoint=0x3041, max_codepoint=0x30FF
)
LATIN = st.characters(min_codepoint=ord("a"), max_codepoint=ord("z")) | st.characters(
    min_codepoint=ord("A"), max_codepoint=ord("Z")
)


@given(st.text(CJK, min_size=1, max_size=6), st.text(CJK), st.text(CJK))
def test_a_cjk_keyword_is_found_inside_any_cjk_text(keyword: str, before: str, after: str) -> None:
    assert KeywordMatcher([keyword]).find(before + keyword + after) == [keyword]


@given(st.text(LATIN, min_size=1, max_size=8), st.text(LATIN), st.text(LATIN))
def test_a_latin_keyword_inside_a_longer_word_is_not_found(
    keyword: str, before: str, after: str
) -> None:
    assume(before or after)
    assert KeywordMatcher([keyword]).find(before + keyword + after) == []
    assert KeywordMatcher([keyword]).find(f"{before} {keyword}, {after}") == [keyword]


@given(st.text(LATIN, min_size=1, max_size=5), st.text(CJK, max_size=3))
def test_ticker_rules_are_unchanged_in_cjk_text(symbol: str, neighbour: str) -> None:
    ticker = "$" + symbol.upper()
    matcher = KeywordMatcher([ticker])
    assert matcher.find(f"{neighbour} ${symbol.lower()} {neighbour}") == [ticker]
    assert matcher.find(f"{neighbour} {symbol.upper()} {neighbour}") == [ticker]
    assert matcher.find(f"{neighbour} {symbol.lower()} {neighbour}") == []
    assert matcher.find(f"x{symbol.upper()} {neighbour}") == []
