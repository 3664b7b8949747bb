"""Tracked keywords: which of TRACK_KEYWORDS an item mentions.

A `$TICKER` entry matches `$tsla` in any case, or `TSLA` only as an upper-case whole word, so
the everyday words that are also tickers ("ON", "CAN", "GO", "ALL") do not count when written
in lower or mixed case. An entry with a character of a script written without spaces between
words (Chinese, Japanese, Thai, Lao, Khmer, Burmese) matches anywhere in the text, in any case:
there a word runs into the next with nothing to mark where it starts ("我今天买了比特币很开心").
Any other entry matches as a whole word or phrase in any case.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable


class KeywordMatcher:
    def __init__(self, keywords: Iterable[str]) -> None:
        self.keywords: list[str] = []
        self._patterns: list[tuple[str, re.Pattern[str]]] = []
        for raw in keywords:
            keyword = raw.strip()
            if not keyword or keyword in self.keywords:
                continue
            self.keywords.append(keyword)
            self._patterns.append((keyword, _pattern(keyword)))

    def __bool__(self) -> bool:
        return bool(self._patterns)

    def find(self, text: str) -> list[str]:
        """The tracked keywords the text mentions, in configuration order."""
        return [keyword for keyword, pattern in self._patterns if pattern.search(text)]


# Scripts written without spaces between words, by the start of their characters' Unicode names:
# Han ideographs (every block, the extensions and compatibility ideographs included), Hiragana,
# Katakana (full and half width), Thai, Lao, Khmer and Myanmar. Names rather than code point
# ranges: one prefix covers every block of a script, today's and those Unicode adds later (as
# far as the running Python's `unicodedata` knows them). Not Hangul: Korean puts spaces between
# words, so its keywords keep whole-word matching.
_UNSPACED_SCRIPTS = (
    "CJK UNIFIED IDEOGRAPH",
    "CJK COMPATIBILITY IDEOGRAPH",
    "HIRAGANA",
    "KATAKANA",
    "HALFWIDTH KATAKANA",
    "THAI",
    "LAO",
    "KHMER",
    "MYANMAR",
)


def _unspaced(keyword: str) -> bool:
    """The keyword has a character of a script written without spaces between words."""
    return any(unicodedata.name(char, "").startswith(_UNSPACED_SCRIPTS) for char in keyword)


def _pattern(keyword: str) -> re.Pattern[str]:
    if keyword.startswith("$") and len(keyword) > 1:
        symbol = re.escape(keyword[1:])
        # "$tsla" in any case, or "TSLA" upper-case as a whole word (not "$TSLA" twice).
        return re.compile(rf"(?i:\${symbol}\b)|(?<![\w$]){symbol.upper()}(?!\w)")
    words = r"\s+".join(re.escape(part) for part in keyword.split())
    if _unspaced(keyword):
        # No word boundary to look for: "比特币" in "我今天买了比特币很开心", and "Tesla特斯拉"
        # after "了" (a word character to `\w`, as every ideograph is).
        return re.compile(words, re.IGNORECASE)
    return re.compile(rf"(?<!\w){words}(?!\w)", re.IGNORECASE)


def canonical(keyword: str) -> str:
    """How a keyword is stored and looked up: tickers upper-case, words lower-case."""
    keyword = " ".join(keyword.split())
    return keyword.upper() if keyword.startswith("$") else keyword.lower()
